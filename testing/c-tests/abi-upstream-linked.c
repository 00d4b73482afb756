/* abi-upstream-linked: linked against Debian's libxengnttab.so.1 (not ours)
 * with eager binding (-z now), built with Debian's header.  Run with
 * LD_LIBRARY_PATH pointing at our library, the dynamic linker must resolve
 * every versioned reference (VERS_1.0, VERS_1.1, VERS_1.2) or the program
 * does not start at all.  It then calls each of the 20 functions once. */
#define _GNU_SOURCE
#include "common.h"

#include <unistd.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define RW (PROT_READ | PROT_WRITE)

int main(void)
{
    xengnttab_handle *g;
    xengntshr_handle *s;
    uint32_t refs[2], nref, dom[1] = { 0 }, fd = 0;
    unsigned char *sh, *shn, *m1, *m2, *m3, *m4;
    xengnttab_grant_copy_segment_t seg;
    unsigned char buf[16];
    int rc, e;

    t_init();
    g = open_gnttab_or_exit();                                   /* 1 */
    s = open_gntshr_or_exit();                                   /* 2 */
    obs("gnttab_fd", "%s", xengnttab_fd(g) >= 0 ? "valid" : "bad");   /* 3 */
    obs("gntshr_fd", "%s", xengntshr_fd(s) >= 0 ? "valid" : "bad");   /* 4 */
    check(xengnttab_fd(g) >= 0 && xengntshr_fd(s) >= 0, "fds");
    rc = xengnttab_set_max_grants(g, 8);                         /* 5 */
    obs("set_max_grants", "%d", rc);
    check(rc == 0, "set_max_grants");

    sh = xengntshr_share_pages(s, 0, 2, refs, 1);                /* 6 */
    obs("share_pages", "%s", ptr_str(sh, errno));
    shn = xengntshr_share_page_notify(s, 0, &nref, 1, 0, NO_NOTIFY); /* 7 */
    obs("share_page_notify", "%s", ptr_str(shn, errno));
    if (!check(sh && shn, "share"))
        return t_finish();
    memset(sh, 0x11, PAGE);
    memset(shn, 0x22, PAGE);

    m1 = xengnttab_map_grant_ref(g, 0, refs[0], RW);             /* 8 */
    obs("map_grant_ref", "%s", ptr_str(m1, errno));
    m2 = xengnttab_map_grant_refs(g, 1, dom, &refs[1], RW);      /* 9 */
    obs("map_grant_refs", "%s", ptr_str(m2, errno));
    m3 = xengnttab_map_domain_grant_refs(g, 2, 0, refs, PROT_READ); /* 10 */
    obs("map_domain_grant_refs", "%s", ptr_str(m3, errno));
    m4 = xengnttab_map_grant_ref_notify(g, 0, nref, RW, 1, NO_NOTIFY); /* 11 */
    obs("map_grant_ref_notify", "%s", ptr_str(m4, errno));
    check(m1 && m2 && m3 && m4, "maps");
    check(m1 && m1[0] == 0x11 && m4 && m4[5] == 0x22, "mapped data");

    memset(&seg, 0, sizeof seg);
    seg.source.foreign.ref = refs[0];
    seg.dest.virt = buf;
    seg.len = sizeof buf;
    seg.flags = GNTCOPY_source_gref;
    rc = xengnttab_grant_copy(g, 1, &seg);                       /* 12 */
    obs("grant_copy", "%s %s", rc_str(rc, errno), gntst_name(seg.status));
    check(rc == 0 && seg.status == 0 && buf[3] == 0x11, "grant_copy");

    rc = 0;
    rc |= m1 ? xengnttab_unmap(g, m1, 1) : 0;                    /* 13 */
    rc |= m2 ? xengnttab_unmap(g, m2, 1) : 0;
    rc |= m3 ? xengnttab_unmap(g, m3, 2) : 0;
    rc |= m4 ? xengnttab_unmap(g, m4, 1) : 0;
    obs("unmap", "%d", rc);
    check(rc == 0, "unmap");
    obs("notify_cleared", "%s", shn[1] == 0 ? "yes" : "no");
    check(shn[1] == 0, "notify byte");

    errno = 0;
    rc = xengnttab_dmabuf_exp_from_refs(g, 0, 0, 1, refs, &fd);  /* 14 */
    e = errno;
    obs("dmabuf_exp_from_refs", "%s", rc_str(rc, e));
#if defined(__aarch64__)
    /* arm64: auto-translated, dom0 exports (testing/c-tests/dmabuf.c) */
    check(rc == 0, "export in an arm64 dom0");
    if (rc == 0)
        close((int)fd);
#else
    check(rc == -1 && e == EINVAL, "export refused in PV dom0");
#endif
    rc = xengnttab_dmabuf_exp_wait_released(g, 9999, 0);         /* 15 */
    obs("dmabuf_exp_wait_released", "%d", rc);
    check(rc == 0, "wait_released unknown fd");
    errno = 0;
    rc = xengnttab_dmabuf_imp_to_refs(g, 0, 9999, 1, refs);      /* 16 */
    e = errno;
    obs("dmabuf_imp_to_refs", "%s", rc_str(rc, e));
    check(rc == -1 && e == EBADF, "imp_to_refs bad fd");
    errno = 0;
    rc = xengnttab_dmabuf_imp_release(g, 9999);                  /* 17 */
    e = errno;
    obs("dmabuf_imp_release", "%s", rc_str(rc, e));
    check(rc == -1 && e == ENOENT, "imp_release unknown fd");

    rc = xengntshr_unshare(s, sh, 2) | xengntshr_unshare(s, shn, 1); /* 18 */
    obs("unshare", "%d", rc);
    check(rc == 0, "unshare");
    rc = xengnttab_close(g);                                     /* 19 */
    obs("gnttab_close", "%d", rc);
    check(rc == 0, "gnttab_close");
    rc = xengntshr_close(s);                                     /* 20 */
    obs("gntshr_close", "%d", rc);
    check(rc == 0, "gntshr_close");
    return t_finish();
}
