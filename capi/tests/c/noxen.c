/*
 * An upstream-style client that runs without Xen: it checks the error paths
 * and reports which library the dynamic loader picked. Kept C89-clean (and
 * valid C++) because the header tests compile it with -ansi and as C++.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xengnttab.h>

static const char *ename(int e)
{
    switch (e) {
    case 0: return "0";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    default: return "other";
    }
}

static void ptr_case(const char *name, void *p)
{
    int e = errno;
    printf("%s: %s %s\n", name, p ? "non-NULL" : "NULL", p ? "-" : ename(e));
}

static void int_case(const char *name, int rc)
{
    int e = errno;
    printf("%s: %d %s\n", name, rc, rc ? ename(e) : "-");
}

int main(int argc, char **argv)
{
    Dl_info info;
    xengnttab_handle *xgt;
    xengntshr_handle *xgs;
    xengnttab_grant_copy_segment_t seg;
    uint32_t refs[2] = { 1, 2 };
    uint32_t domids[2] = { 0, 0 };
    uint32_t fd = 0;
    int bad_args = argc > 1 && strcmp(argv[1], "bad-args") == 0;

    if (dladdr((void *)xengnttab_open, &info) && info.dli_fname)
        printf("# library: %s\n", info.dli_fname);

    errno = 0;
    xgt = xengnttab_open(NULL, 0);
    ptr_case("xengnttab_open", xgt);
    errno = 0;
    xgs = xengntshr_open(NULL, 0);
    ptr_case("xengntshr_open", xgs);
    int_case("xengnttab_close(NULL)", xengnttab_close(NULL));
    int_case("xengntshr_close(NULL)", xengntshr_close(NULL));

    if (!bad_args)
        return 0;

    /* Upstream crashes on these; ours must return an error. */
    memset(&seg, 0, sizeof(seg));
    seg.flags = GNTCOPY_dest_gref;
    errno = 0; int_case("xengnttab_fd(NULL)", xengnttab_fd(NULL));
    errno = 0; int_case("xengntshr_fd(NULL)", xengntshr_fd(NULL));
    errno = 0; int_case("set_max_grants(NULL)", xengnttab_set_max_grants(NULL, 1));
    errno = 0; ptr_case("map_grant_ref(NULL)", xengnttab_map_grant_ref(NULL, 0, 1, PROT_READ));
    errno = 0; ptr_case("map_grant_refs(NULL)", xengnttab_map_grant_refs(NULL, 2, domids, refs, PROT_READ));
    errno = 0; ptr_case("map_domain_grant_refs(NULL)", xengnttab_map_domain_grant_refs(NULL, 2, 0, refs, PROT_READ));
    errno = 0; ptr_case("map_grant_ref_notify(NULL)", xengnttab_map_grant_ref_notify(NULL, 0, 1, PROT_READ, 0, (evtchn_port_t)-1));
    errno = 0; int_case("unmap(NULL)", xengnttab_unmap(NULL, (void *)0x1000, 1));
    errno = 0; int_case("grant_copy(NULL)", xengnttab_grant_copy(NULL, 1, &seg));
    errno = 0; int_case("grant_copy(NULL,0,NULL)", xengnttab_grant_copy(NULL, 0, NULL));
    errno = 0; int_case("dmabuf_exp_from_refs(NULL)", xengnttab_dmabuf_exp_from_refs(NULL, 0, GNTDEV_DMA_FLAG_WC, 2, refs, &fd));
    errno = 0; int_case("dmabuf_exp_wait_released(NULL)", xengnttab_dmabuf_exp_wait_released(NULL, 3, 10));
    errno = 0; int_case("dmabuf_imp_to_refs(NULL)", xengnttab_dmabuf_imp_to_refs(NULL, 0, 3, 2, refs));
    errno = 0; int_case("dmabuf_imp_release(NULL)", xengnttab_dmabuf_imp_release(NULL, 3));
    errno = 0; ptr_case("share_pages(NULL)", xengntshr_share_pages(NULL, 0, 1, refs, 1));
    errno = 0; ptr_case("share_page_notify(NULL)", xengntshr_share_page_notify(NULL, 0, refs, 1, 0, (evtchn_port_t)-1));
    errno = 0; int_case("unshare(NULL)", xengntshr_unshare(NULL, (void *)0x1000, 1));
    return 0;
}
