/* xd-hold PAGES DIR: share PAGES writable pages with dom0, publish their refs
 * in DIR/refs ("r0 r1 ..."), keep them shared until DIR/done appears (at
 * most an hour), then unshare. The guest side of `make bench-xdomain`: dom0
 * maps these grants over and over. */
#define _GNU_SOURCE
#include "../../support/common.h"
#include "xs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAGES 256

int main(int argc, char **argv)
{
    int pages = argc == 3 ? atoi(argv[1]) : 0;
    uint32_t refs[MAX_PAGES];
    char list[MAX_PAGES * 11 + 1] = "";
    size_t len = 0;

    if (pages < 1 || pages > MAX_PAGES) {
        fprintf(stderr, "usage: xd-hold PAGES(1-%d) DIR\n", MAX_PAGES);
        return 2;
    }
    t_init();
    xs_init_or_exit(argv[2]);
    xengntshr_handle *gs = open_gntshr_or_exit();
    void *p = xengntshr_share_pages(gs, 0, pages, refs, 1);
    if (!check(p != NULL, "share %d pages (errno %s)", pages, errname(errno)))
        return t_finish();
    for (int i = 0; i < pages; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%u", i ? " " : "", refs[i]);
    xs_put("refs", "%s", list);
    free(xs_wait("done", 3600));
    check(xengntshr_unshare(gs, p, pages) == 0, "unshare");
    xengntshr_close(gs);
    return t_finish();
}
