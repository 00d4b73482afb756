/* noxen: behaviour without Xen device nodes.
 *
 * On a host without /dev/xen this runs as is.  Inside a Xen domain it first
 * hides /dev/xen: it enters a private mount namespace and mounts an empty
 * tmpfs over /dev/xen, so the same expectations hold (needs root).
 *
 * Checks: xengnttab_open/xengntshr_open return NULL with errno ENOENT and
 * log nothing (stderr is compared by the rig); xengnttab_close(NULL) and
 * xengntshr_close(NULL) return 0; no fd is leaked by the failed opens. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int hide_dev_xen(void)
{
    struct stat st;
    if (stat("/dev/xen", &st) != 0)
        return 0; /* nothing to hide */
    if (unshare(CLONE_NEWNS) != 0) {
        note("unshare(CLONE_NEWNS): %s", errname(errno));
        return -1;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        note("make / private: %s (continuing)", errname(errno));
    if (mount("none", "/dev/xen", "tmpfs", 0, "size=4k") != 0) {
        note("mount tmpfs on /dev/xen: %s", errname(errno));
        return -1;
    }
    note("/dev/xen hidden behind an empty tmpfs in a private mount namespace");
    return 0;
}

int main(void)
{
    int fds0, e;
    void *h;

    t_init();
    if (!check(hide_dev_xen() == 0, "could not hide /dev/xen"))
        return t_finish();
    fds0 = count_fds();

    errno = 0;
    h = xengnttab_open(NULL, 0);
    e = errno;
    obs("gnttab_open", "%s", ptr_str(h, e));
    check(h == NULL && e == ENOENT, "xengnttab_open without gntdev: want NULL ENOENT");
    if (h)
        xengnttab_close(h);

    errno = 0;
    h = xengntshr_open(NULL, 0);
    e = errno;
    obs("gntshr_open", "%s", ptr_str(h, e));
    check(h == NULL && e == ENOENT, "xengntshr_open without gntalloc: want NULL ENOENT");
    if (h)
        xengntshr_close(h);

    obs("gnttab_close_null", "%d", xengnttab_close(NULL));
    obs("gntshr_close_null", "%d", xengntshr_close(NULL));
    check(xengnttab_close(NULL) == 0, "xengnttab_close(NULL) != 0");
    check(xengntshr_close(NULL) == 0, "xengntshr_close(NULL) != 0");

    /* Repeated failing opens must not leak descriptors or memory-mapped state. */
    for (int i = 0; i < 100; i++) {
        xengnttab_open(NULL, 0);
        xengntshr_open(NULL, 0);
    }
    obs("fds_after_failed_opens", "%s", count_fds() == fds0 ? "same" : "changed");
    check(count_fds() == fds0, "failed opens leaked fds");
    return t_finish();
}
