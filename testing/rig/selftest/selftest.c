/* Rig self-test: share a page to domid 0 with gntshr, map it back with gnttab,
 * compare bytes both ways. Prints "key: value" observations (rig transcript
 * convention). Flags for checking the rig itself:
 *   --fail-ours     exit 1 when RIG_LIB=ours
 *   --differ-ours   print a different observation when RIG_LIB=ours      */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xengnttab.h>

int main(int argc, char **argv)
{
    const char *lib = getenv("RIG_LIB") ? getenv("RIG_LIB") : "unknown";
    int is_ours = strcmp(lib, "ours") == 0;
    int fail_ours = 0, differ_ours = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fail-ours")) fail_ours = 1;
        if (!strcmp(argv[i], "--differ-ours")) differ_ours = 1;
    }
    printf("# running with %s library\n", lib);

    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    printf("gnttab_open: %s\n", xgt ? "ok" : strerror(errno));
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    printf("gntshr_open: %s\n", xgs ? "ok" : strerror(errno));
    if (!xgt || !xgs)
        return 1;

    uint32_t ref = 0;
    unsigned char *shared = xengntshr_share_pages(xgs, 0, 1, &ref, 1);
    printf("share_pages: %s\n", shared ? "ok" : strerror(errno));
    if (!shared)
        return 1;
    for (int i = 0; i < 4096; i++)
        shared[i] = (unsigned char)(i * 7 + 3);

    unsigned char *mapped = xengnttab_map_grant_ref(xgt, 0, ref,
                                                    PROT_READ | PROT_WRITE);
    printf("map_grant_ref: %s\n", mapped ? "ok" : strerror(errno));
    if (!mapped)
        return 1;
    printf("bytes_equal: %s\n", memcmp(shared, mapped, 4096) ? "no" : "yes");
    mapped[100] = 0xAB;
    printf("write_visible: %s\n", shared[100] == 0xAB ? "yes" : "no");
    printf("flavour: %s\n", differ_ours && is_ours ? "ours-special" : "plain");

    printf("unmap: %d\n", xengnttab_unmap(xgt, mapped, 1));
    printf("unshare: %d\n", xengntshr_unshare(xgs, shared, 1));
    printf("gnttab_close: %d\n", xengnttab_close(xgt));
    printf("gntshr_close: %d\n", xengntshr_close(xgs));
    fprintf(stderr, "selftest done\n");
    return fail_ours && is_ours ? 1 : 0;
}
