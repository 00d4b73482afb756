/* badinput: bad arguments through the C ABI.
 *
 * NULL handles (every function), NULL arrays, count 0, counts past the
 * kernel limits, refs never granted, wrong or out-of-range domids, unmap /
 * unshare of NULL, unaligned, interior, foreign or other-handle addresses,
 * wrong counts, double unmap/unshare, and handles whose fd was closed
 * behind the library's back.
 *
 * Every case runs in a forked child that opens its own handles, so a crash
 * is recorded ("crashed SIGSEGV") instead of killing the test.  Where
 * upstream is known to crash or to do the wrong thing, the outcome is only
 * observed for upstream (differences.txt lists the key) and asserted for
 * ours (RIG_LIB=ours): no crash, -1/NULL with a meaningful errno, and a
 * validated unmap/unshare address (exactly the start of a mapping made by
 * this handle with the same count, else EINVAL, leaving the mapping
 * intact).  Cases where upstream is right are asserted for both. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
static void *anon_page(void)
{
    void *p = mmap(NULL, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- NULL handles ---- */
static uint32_t ref1 = 1, dom1 = 0;

#define INT_CASE(name, call) \
    static void name(void *a, char *out, size_t outlen) { int rc; (void)a; errno = 0; rc = (call); OUT("%s", rc_str(rc, errno)); }
#define PTR_CASE(name, call) \
    static void name(void *a, char *out, size_t outlen) { void *p; (void)a; errno = 0; p = (call); OUT("%s", ptr_str(p, errno)); }

INT_CASE(null_gnttab_fd, xengnttab_fd(NULL))
INT_CASE(null_gntshr_fd, xengntshr_fd(NULL))
INT_CASE(null_set_max_grants, xengnttab_set_max_grants(NULL, 16))
PTR_CASE(null_map_grant_ref, xengnttab_map_grant_ref(NULL, 0, 1, RW))
PTR_CASE(null_map_grant_refs, xengnttab_map_grant_refs(NULL, 1, &dom1, &ref1, RW))
PTR_CASE(null_map_domain_grant_refs, xengnttab_map_domain_grant_refs(NULL, 1, 0, &ref1, RW))
PTR_CASE(null_map_grant_ref_notify, xengnttab_map_grant_ref_notify(NULL, 0, 1, RW, 0, NO_NOTIFY))
INT_CASE(null_grant_copy, xengnttab_grant_copy(NULL, 0, NULL))
INT_CASE(null_exp_from_refs, xengnttab_dmabuf_exp_from_refs(NULL, 0, 0, 1, &ref1, &ref1))
INT_CASE(null_exp_wait_released, xengnttab_dmabuf_exp_wait_released(NULL, 99, 0))
INT_CASE(null_imp_to_refs, xengnttab_dmabuf_imp_to_refs(NULL, 0, 99, 1, &ref1))
INT_CASE(null_imp_release, xengnttab_dmabuf_imp_release(NULL, 99))
PTR_CASE(null_share_pages, xengntshr_share_pages(NULL, 0, 1, &ref1, 1))
PTR_CASE(null_share_page_notify, xengntshr_share_page_notify(NULL, 0, &ref1, 1, 0, NO_NOTIFY))

static void null_unmap(void *a, char *out, size_t outlen)
{
    void *p = anon_page();
    int rc;
    (void)a;
    errno = 0;
    rc = xengnttab_unmap(NULL, p, 1);
    OUT("%s", rc_str(rc, errno));
}

static void null_unshare(void *a, char *out, size_t outlen)
{
    volatile unsigned char *p = anon_page();
    int rc;
    (void)a;
    p[0] = 1;
    errno = 0;
    rc = xengntshr_unshare(NULL, (void *)p, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" page=%s", p[0] == 1 ? "intact" : "changed"); /* faults if unmapped */
}

/* ---- NULL arrays (valid handle) ---- */
static void nullarr_map_refs_domids(void *a, char *out, size_t outlen)
{
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_grant_refs(cg, 1, NULL, &ref1, RW);
    OUT("%s", ptr_str(p, errno));
}
static void nullarr_map_refs_refs(void *a, char *out, size_t outlen)
{
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_grant_refs(cg, 1, &dom1, NULL, RW);
    OUT("%s", ptr_str(p, errno));
}
static void nullarr_map_domain_refs(void *a, char *out, size_t outlen)
{
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_domain_grant_refs(cg, 1, 0, NULL, RW);
    OUT("%s", ptr_str(p, errno));
}
static void nullarr_share_pages(void *a, char *out, size_t outlen)
{
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengntshr_share_pages(cs, 0, 1, NULL, 1);
    OUT("%s", ptr_str(p, errno));
    APPEND(" gntalloc_maps=%d", count_maps("/dev/xen/gntalloc"));
}
static void nullarr_share_page_notify(void *a, char *out, size_t outlen)
{
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengntshr_share_page_notify(cs, 0, NULL, 1, 0, NO_NOTIFY);
    OUT("%s", ptr_str(p, errno));
    APPEND(" gntalloc_maps=%d", count_maps("/dev/xen/gntalloc"));
}
static void nullarr_exp_from_refs(void *a, char *out, size_t outlen)
{
    uint32_t fd;
    int rc;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    rc = xengnttab_dmabuf_exp_from_refs(cg, 0, 0, 1, NULL, &fd);
    OUT("%s", rc_str(rc, errno));
}

/* ---- counts ---- */
static void count0_map_refs(void *a, char *out, size_t outlen)
{
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_grant_refs(cg, 0, &dom1, &ref1, RW);
    OUT("%s", ptr_str(p, errno));
}
static void count0_map_domain_refs(void *a, char *out, size_t outlen)
{
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_domain_grant_refs(cg, 0, 0, &ref1, RW);
    OUT("%s", ptr_str(p, errno));
}
static void count0_share(void *a, char *out, size_t outlen)
{
    void *p;
    uint32_t r[2];
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengntshr_share_pages(cs, 0, 0, r, 1);
    OUT("%s gntalloc_maps=%d", ptr_str(p, errno), count_maps("/dev/xen/gntalloc"));
}
static void countneg_share(void *a, char *out, size_t outlen)
{
    void *p;
    uint32_t r[2];
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengntshr_share_pages(cs, 0, -1, r, 1);
    OUT("%s", ptr_str(p, errno));
}
static void count_over_gntdev_limit(void *a, char *out, size_t outlen)
{
    enum { N = 65537 };
    uint32_t *refs = calloc(N, 4), *doms = calloc(N, 4);
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_grant_refs(cg, N, doms, refs, RW);
    OUT("%s", ptr_str(p, errno));
    errno = 0;
    p = xengnttab_map_domain_grant_refs(cg, N, 0, refs, RW);
    APPEND(" %s", ptr_str(p, errno));
}
static void unmap_count0(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s, *m;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, &m, out, outlen))
        return;
    errno = 0;
    rc = xengnttab_unmap(cg, m, 0);
    OUT("%s intact=%s", rc_str(rc, errno), check_pattern(m, PAGE, 5) ? "yes" : "no");
}
static void unshare_count0(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, NULL, out, outlen))
        return;
    errno = 0;
    rc = xengntshr_unshare(cs, s, 0);
    OUT("%s intact=%s", rc_str(rc, errno), check_pattern(s, PAGE, 5) ? "yes" : "no");
}

/* ---- refs and domids ---- */
static void bad_ref(void *a, char *out, size_t outlen)
{
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_grant_ref(cg, 0, 0xfffff, RW);
    OUT("%s gntdev_maps=%d", ptr_str(p, errno), count_maps("/dev/xen/gntdev"));
}
static void bad_domid(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s;
    void *p;
    (void)a;
    if (child_share_map(1, refs, &s, NULL, out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_grant_ref(cg, 1, refs[0], RW); /* no domain 1 */
    OUT("%s", ptr_str(p, errno));
    errno = 0;
    p = xengnttab_map_grant_ref(cg, DOMID_INVALID, refs[0], RW);
    APPEND(" %s gntdev_maps=%d", ptr_str(p, errno), count_maps("/dev/xen/gntdev"));
}
/* domid 0x10000: upstream passes it on and the kernel truncates it to 0. */
static void domid_over_16bit_map(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s;
    void *p;
    (void)a;
    if (child_share_map(1, refs, &s, NULL, out, outlen))
        return;
    errno = 0;
    p = xengnttab_map_grant_ref(cg, 0x10000, refs[0], RW);
    OUT("%s", ptr_str(p, errno));
}
static void domid_over_16bit_share(void *a, char *out, size_t outlen)
{
    uint32_t r;
    void *p;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    p = xengntshr_share_pages(cs, 0x10000, 1, &r, 1);
    OUT("%s", ptr_str(p, errno));
}

/* ---- unmap addresses ---- */
static void unmap_null_addr(void *a, char *out, size_t outlen)
{
    int rc;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    rc = xengnttab_unmap(cg, NULL, 1);
    OUT("%s", rc_str(rc, errno));
}
static void unmap_unaligned(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s, *m;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, &m, out, outlen))
        return;
    errno = 0;
    rc = xengnttab_unmap(cg, m + 1, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" intact=%s", check_pattern(m, PAGE, 5) ? "yes" : "no");
    APPEND(" then_unmap=%s", rc_str(xengnttab_unmap(cg, m, 1), errno));
}
static void unmap_interior(void *a, char *out, size_t outlen)
{
    uint32_t refs[2];
    unsigned char *s, *m;
    int rc;
    (void)a;
    if (child_share_map(2, refs, &s, &m, out, outlen))
        return;
    errno = 0;
    rc = xengnttab_unmap(cg, m + PAGE, 2); /* right count, wrong start */
    OUT("%s", rc_str(rc, errno));
    APPEND(" intact=%s", check_pattern(m, 2 * PAGE, 5) ? "yes" : "no");
    APPEND(" then_unmap=%s", rc_str(xengnttab_unmap(cg, m, 2), errno));
}
static void unmap_foreign_anon(void *a, char *out, size_t outlen)
{
    volatile unsigned char *p;
    int rc;
    (void)a;
    if (child_open(out, outlen))
        return;
    p = anon_page();
    p[0] = 7;
    errno = 0;
    rc = xengnttab_unmap(cg, (void *)p, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" page=%s", p[0] == 7 ? "intact" : "changed");
}
static void unmap_gntalloc_addr(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, NULL, out, outlen))
        return;
    errno = 0;
    rc = xengnttab_unmap(cg, s, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" share=%s", check_pattern(s, PAGE, 5) ? "intact" : "changed");
}
static void unmap_twice(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s, *m;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, &m, out, outlen))
        return;
    rc = xengnttab_unmap(cg, m, 1);
    OUT("first=%s", rc_str(rc, errno));
    errno = 0;
    rc = xengnttab_unmap(cg, m, 1);
    APPEND(" second=%s", rc_str(rc, errno));
}
static void unmap_other_handle(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s, *m;
    xengnttab_handle *g2;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, &m, out, outlen))
        return;
    g2 = xengnttab_open(NULL, 0);
    errno = 0;
    rc = xengnttab_unmap(g2, m, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" intact=%s", check_pattern(m, PAGE, 5) ? "yes" : "no");
    APPEND(" then_unmap=%s", rc_str(xengnttab_unmap(cg, m, 1), errno));
}

/* ---- unshare addresses ---- */
static void unshare_null_addr(void *a, char *out, size_t outlen)
{
    int rc;
    (void)a;
    if (child_open(out, outlen))
        return;
    errno = 0;
    rc = xengntshr_unshare(cs, NULL, 1);
    OUT("%s", rc_str(rc, errno));
}
static void unshare_unaligned(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, NULL, out, outlen))
        return;
    errno = 0;
    rc = xengntshr_unshare(cs, s + 1, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" intact=%s", check_pattern(s, PAGE, 5) ? "yes" : "no");
}
static void unshare_foreign_anon(void *a, char *out, size_t outlen)
{
    volatile unsigned char *p;
    int rc;
    (void)a;
    if (child_open(out, outlen))
        return;
    p = anon_page();
    p[0] = 7;
    errno = 0;
    rc = xengntshr_unshare(cs, (void *)p, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" page=%s", p[0] == 7 ? "intact" : "changed"); /* faults if unmapped */
}
static void unshare_gntdev_addr(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s, *m;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, &m, out, outlen))
        return;
    errno = 0;
    rc = xengntshr_unshare(cs, m, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" mapping=%s", check_pattern(m, PAGE, 5) ? "intact" : "changed");
}
static void unshare_wrong_count(void *a, char *out, size_t outlen)
{
    uint32_t refs[2];
    unsigned char *s;
    int rc;
    (void)a;
    if (child_share_map(2, refs, &s, NULL, out, outlen))
        return;
    errno = 0;
    rc = xengntshr_unshare(cs, s, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" intact=%s", check_pattern(s, 2 * PAGE, 5) ? "yes" : "no");
}
static void unshare_interior(void *a, char *out, size_t outlen)
{
    uint32_t refs[2];
    unsigned char *s;
    int rc;
    (void)a;
    if (child_share_map(2, refs, &s, NULL, out, outlen))
        return;
    errno = 0;
    rc = xengntshr_unshare(cs, s + PAGE, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" intact=%s", check_pattern(s, 2 * PAGE, 5) ? "yes" : "no");
}
static void unshare_twice(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, NULL, out, outlen))
        return;
    rc = xengntshr_unshare(cs, s, 1);
    OUT("first=%s", rc_str(rc, errno));
    errno = 0;
    rc = xengntshr_unshare(cs, s, 1);
    APPEND(" second=%s", rc_str(rc, errno));
}
static void unshare_other_handle(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s;
    xengntshr_handle *s2;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, NULL, out, outlen))
        return;
    s2 = xengntshr_open(NULL, 0);
    errno = 0;
    rc = xengntshr_unshare(s2, s, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" intact=%s", check_pattern(s, PAGE, 5) ? "yes" : "no");
}

/* ---- fds closed behind the library's back ---- */
static void closed_gntdev_fd(void *a, char *out, size_t outlen)
{
    xengnttab_grant_copy_segment_t seg;
    void *p;
    int rc;
    (void)a;
    if (child_open(out, outlen))
        return;
    close(xengnttab_fd(cg));
    errno = 0;
    p = xengnttab_map_grant_ref(cg, 0, 1, RW);
    OUT("map=%s", ptr_str(p, errno));
    memset(&seg, 0, sizeof seg);
    errno = 0;
    rc = xengnttab_grant_copy(cg, 0, &seg);
    APPEND(" copy=%s", rc_str(rc, errno));
    errno = 0;
    rc = xengnttab_dmabuf_imp_release(cg, 99);
    APPEND(" imp_release=%s", rc_str(rc, errno));
    errno = 0;
    rc = xengnttab_dmabuf_imp_to_refs(cg, 0, 99, 1, &ref1);
    APPEND(" imp=%s", rc_str(rc, errno));
    errno = 0;
    rc = xengnttab_dmabuf_exp_from_refs(cg, 0, 0, 1, &ref1, &ref1);
    APPEND(" exp=%s", rc_str(rc, errno));
    errno = 0;
    rc = xengnttab_dmabuf_exp_wait_released(cg, 99, 0);
    APPEND(" wait=%s", rc_str(rc, errno));
    errno = 0;
    rc = xengnttab_close(cg);
    APPEND(" close=%s", rc_str(rc, errno));
}
/* A real mapping, then its handle's fd closed behind the library's back. */
static void closed_gntdev_fd_unmap(void *a, char *out, size_t outlen)
{
    uint32_t refs[1];
    unsigned char *s, *m;
    int rc;
    (void)a;
    if (child_share_map(1, refs, &s, &m, out, outlen))
        return;
    close(xengnttab_fd(cg));
    errno = 0;
    rc = xengnttab_unmap(cg, m, 1);
    OUT("%s", rc_str(rc, errno));
    APPEND(" gntdev_maps=%d", count_maps("/dev/xen/gntdev"));
}
static void closed_gntdev_fd_set_max(void *a, char *out, size_t outlen)
{
    int rc;
    (void)a;
    if (child_open(out, outlen))
        return;
    close(xengnttab_fd(cg));
    errno = 0;
    rc = xengnttab_set_max_grants(cg, 16);
    OUT("%s", rc_str(rc, errno));
}
static void closed_gntalloc_fd(void *a, char *out, size_t outlen)
{
    uint32_t r;
    void *p;
    int rc;
    (void)a;
    if (child_open(out, outlen))
        return;
    close(xengntshr_fd(cs));
    errno = 0;
    p = xengntshr_share_pages(cs, 0, 1, &r, 1);
    OUT("share=%s", ptr_str(p, errno));
    errno = 0;
    rc = xengntshr_close(cs);
    APPEND(" close=%s", rc_str(rc, errno));
}

static const struct bcase cases[] = {
    { "null.gnttab_fd", null_gnttab_fd, NULL, "-1 " ERR },
    { "null.gntshr_fd", null_gntshr_fd, NULL, "-1 " ERR },
    { "null.set_max_grants", null_set_max_grants, NULL, "-1 " ERR },
    { "null.map_grant_ref", null_map_grant_ref, NULL, "NULL " ERR },
    { "null.map_grant_refs", null_map_grant_refs, NULL, "NULL " ERR },
    { "null.map_domain_grant_refs", null_map_domain_grant_refs, NULL, "NULL " ERR },
    { "null.map_grant_ref_notify", null_map_grant_ref_notify, NULL, "NULL " ERR },
    { "null.unmap", null_unmap, NULL, "-1 " ERR },
    { "null.grant_copy", null_grant_copy, NULL, "-1 " ERR },
    { "null.dmabuf_exp_from_refs", null_exp_from_refs, NULL, "-1 " ERR },
    { "null.dmabuf_exp_wait_released", null_exp_wait_released, NULL, "-1 " ERR },
    { "null.dmabuf_imp_to_refs", null_imp_to_refs, NULL, "-1 " ERR },
    { "null.dmabuf_imp_release", null_imp_release, NULL, "-1 " ERR },
    { "null.share_pages", null_share_pages, NULL, "NULL " ERR },
    { "null.share_page_notify", null_share_page_notify, NULL, "NULL " ERR },
    { "null.unshare", null_unshare, NULL, "-1 " ERR " page=intact" },

    { "nullarray.map_grant_refs_domids", nullarr_map_refs_domids, NULL, "NULL " ERR },
    { "nullarray.map_grant_refs_refs", nullarr_map_refs_refs, NULL, "NULL " ERR },
    { "nullarray.map_domain_grant_refs", nullarr_map_domain_refs, NULL, "NULL " ERR },
    { "nullarray.share_pages", nullarr_share_pages, NULL, "NULL " ERR " gntalloc_maps=0" },
    { "nullarray.share_page_notify", nullarr_share_page_notify, NULL, "NULL " ERR " gntalloc_maps=0" },
    { "nullarray.dmabuf_exp_from_refs", nullarr_exp_from_refs, NULL, "-1 " ERR },

    { "count0.map_grant_refs", count0_map_refs, "NULL EINVAL", NULL },
    { "count0.map_domain_grant_refs", count0_map_domain_refs, "NULL EINVAL", NULL },
    { "count0.share_pages", count0_share, "NULL EINVAL gntalloc_maps=0", NULL },
    { "count0.unmap", unmap_count0, "-1 EINVAL intact=yes", NULL },
    { "count0.unshare", unshare_count0, "-1 EINVAL intact=yes", NULL },
    { "countneg.share_pages", countneg_share, "NULL " ERR, "NULL (EINVAL|ENOSPC|ENOMEM)" },
    { "count.over_gntdev_limit", count_over_gntdev_limit, "NULL EINVAL NULL EINVAL", NULL },

    { "ref.never_granted", bad_ref, "NULL " ERR " gntdev_maps=0", NULL },
    { "domid.nonexistent", bad_domid, "NULL " ERR " NULL " ERR " gntdev_maps=0", NULL },
    { "domid.over_16bit_map", domid_over_16bit_map, NULL, "(ok|NULL EINVAL)" },
    { "domid.over_16bit_share", domid_over_16bit_share, NULL, "(ok|NULL EINVAL)" },

    { "unmap.null_addr", unmap_null_addr, "-1 EINVAL", NULL },
    { "unmap.unaligned", unmap_unaligned, "-1 EINVAL intact=yes then_unmap=0", NULL },
    { "unmap.interior", unmap_interior, NULL, "-1 EINVAL intact=yes then_unmap=0" },
    { "unmap.foreign_anon", unmap_foreign_anon, "-1 EINVAL page=intact", NULL },
    { "unmap.gntalloc_addr", unmap_gntalloc_addr, "-1 EINVAL share=intact", NULL },
    { "unmap.twice", unmap_twice, "first=0 second=-1 EINVAL", NULL },
    { "unmap.other_handle", unmap_other_handle, NULL, "-1 EINVAL intact=yes then_unmap=0" },

    { "unshare.null_addr", unshare_null_addr, NULL, "-1 EINVAL" },
    { "unshare.unaligned", unshare_unaligned, "-1 EINVAL intact=yes", NULL },
    { "unshare.foreign_anon", unshare_foreign_anon, NULL, "-1 EINVAL page=intact" },
    { "unshare.gntdev_addr", unshare_gntdev_addr, NULL, "-1 EINVAL mapping=intact" },
    { "unshare.wrong_count", unshare_wrong_count, NULL, "-1 EINVAL intact=yes" },
    { "unshare.interior", unshare_interior, NULL, "-1 EINVAL intact=yes" },
    { "unshare.twice", unshare_twice, NULL, "first=0 second=-1 EINVAL" },
    { "unshare.other_handle", unshare_other_handle, NULL, "-1 EINVAL intact=yes" },

    { "closedfd.gntdev", closed_gntdev_fd,
      "map=NULL EBADF copy=-1 EBADF imp_release=-1 EBADF imp=-1 EBADF "
      "exp=-1 EBADF wait=-1 EBADF close=-1 EBADF", NULL },
    { "closedfd.gntdev_unmap", closed_gntdev_fd_unmap, "-1 E[A-Z0-9]+ gntdev_maps=[01]", NULL },
    { "closedfd.gntdev_set_max_grants", closed_gntdev_fd_set_max, "-1 EBADF", NULL },
    { "closedfd.gntalloc", closed_gntalloc_fd, "share=NULL EBADF close=-1 EBADF", NULL },
};

int main(void)
{
    xengnttab_handle *probe;

    t_init();
    /* Fail clearly without Xen, like the other programs. */
    probe = open_gnttab_or_exit();
    xengnttab_close(probe);

    run_cases(cases, sizeof cases / sizeof cases[0], 60);
    obs("end.xen_maps", "%d", count_maps("/dev/xen/"));
    check(count_maps("/dev/xen/") == 0, "leftover /dev/xen mappings in the parent");
    return t_finish();
}
