/* mapshare: share pages from domid 0 to domid 0 with gntshr and map them
 * with gnttab.
 *
 * Single page (map_grant_ref), batch with a per-ref domid array
 * (map_grant_refs), one domid for all (map_domain_grant_refs), a batch
 * larger than one page of ioctl arguments (600 refs), data visible both
 * ways, two mappings of the same grants, read-only shares and mappings
 * (a write through a read-only mapping faults; a read-only share refuses a
 * writable map), all-or-nothing batches (a bad domid or ref fails the whole
 * call and leaves no mapping), ends of grants at unshare, no leftover
 * /proc/self/maps entries or fds, and gntalloc's page budget fully returned
 * (the whole /sys/module/xen_gntalloc/parameters/limit can be shared again). */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define GNTDEV "/dev/xen/gntdev"
#define GNTALLOC "/dev/xen/gntalloc"

static xengnttab_handle *gt;
static xengntshr_handle *gs;

static int aligned(const void *p) { return ((uintptr_t)p & (PAGE - 1)) == 0; }

static void single_page(void)
{
    uint32_t ref = 0;
    unsigned char *s, *m;
    int rc, e;

    s = xengntshr_share_pages(gs, 0, 1, &ref, 1);
    e = errno;
    obs("single.share", "%s", ptr_str(s, e));
    if (!check(s != NULL, "share 1 page"))
        return;
    obs("single.share.aligned", "%s", aligned(s) ? "yes" : "no");
    check(aligned(s), "share address not page aligned");
    obs("single.share.zeroed", "%s", s[0] == 0 && !memcmp(s, s + 1, PAGE - 1) ? "yes" : "no");
    check(s[0] == 0 && !memcmp(s, s + 1, PAGE - 1), "new shared page not zeroed");
    obs("single.gntalloc_maps", "%d", count_maps(GNTALLOC));
    check(count_maps(GNTALLOC) == 1, "one gntalloc mapping expected");
    fill_pattern(s, PAGE, 1);

    m = xengnttab_map_grant_ref(gt, 0, ref, RW);
    e = errno;
    obs("single.map", "%s", ptr_str(m, e));
    if (check(m != NULL, "map_grant_ref of own share")) {
        obs("single.map.aligned", "%s", aligned(m) ? "yes" : "no");
        check(aligned(m), "map address not page aligned");
        obs("single.gntdev_maps", "%d", count_maps(GNTDEV));
        check(count_maps(GNTDEV) == 1, "one gntdev mapping expected");
        obs("single.sharer_to_mapper", "%s", check_pattern(m, PAGE, 1) ? "same" : "differs");
        check(check_pattern(m, PAGE, 1), "mapper does not see sharer's data");
        fill_pattern(m, PAGE, 2);
        obs("single.mapper_to_sharer", "%s", check_pattern(s, PAGE, 2) ? "same" : "differs");
        check(check_pattern(s, PAGE, 2), "sharer does not see mapper's data");
        rc = xengnttab_unmap(gt, m, 1);
        e = errno;
        obs("single.unmap", "%s", rc_str(rc, e));
        check(rc == 0, "unmap");
        obs("single.gntdev_maps_after", "%d", count_maps(GNTDEV));
        check(count_maps(GNTDEV) == 0, "gntdev mapping left after unmap");
        obs("single.sharer_after_unmap", "%s", check_pattern(s, PAGE, 2) ? "same" : "differs");
        check(check_pattern(s, PAGE, 2), "sharer's page changed by unmap");
    }
    rc = xengntshr_unshare(gs, s, 1);
    e = errno;
    obs("single.unshare", "%s", rc_str(rc, e));
    check(rc == 0, "unshare");
    obs("single.gntalloc_maps_after", "%d", count_maps(GNTALLOC));
    check(count_maps(GNTALLOC) == 0, "gntalloc mapping left after unshare");

    /* The grant has ended: mapping it again fails. */
    errno = 0;
    m = xengnttab_map_grant_ref(gt, 0, ref, RW);
    e = errno;
    obs("single.map_after_unshare", "%s", ptr_str(m, e));
    check(m == NULL && e != 0, "a grant ended by unshare is still mappable");
    if (m)
        xengnttab_unmap(gt, m, 1);
}

static void batch(void)
{
    enum { N = 8 };
    uint32_t refs[N], domids[N];
    unsigned char *s, *m1, *m2;
    int ok, e, rc;

    s = xengntshr_share_pages(gs, 0, N, refs, 1);
    e = errno;
    obs("batch.share", "%s", ptr_str(s, e));
    if (!check(s != NULL, "share %d pages", N))
        return;
    ok = 1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++)
            if (refs[i] == refs[j])
                ok = 0;
    obs("batch.refs_distinct", "%s", ok ? "yes" : "no");
    check(ok, "share_pages returned duplicate refs");
    for (int i = 0; i < N; i++)
        fill_pattern(s + i * PAGE, PAGE, 10 + i);

    for (int i = 0; i < N; i++)
        domids[i] = 0;
    m1 = xengnttab_map_grant_refs(gt, N, domids, refs, RW);
    e = errno;
    obs("batch.map_grant_refs", "%s", ptr_str(m1, e));
    m2 = xengnttab_map_domain_grant_refs(gt, N, 0, refs, RW);
    e = errno;
    obs("batch.map_domain_grant_refs", "%s", ptr_str(m2, e));
    check(m1 && m2, "batch maps");
    if (m1 && m2) {
        ok = 1;
        for (int i = 0; i < N; i++)
            ok &= check_pattern(m1 + i * PAGE, PAGE, 10 + i) &&
                  check_pattern(m2 + i * PAGE, PAGE, 10 + i);
        obs("batch.pages_in_order", "%s", ok ? "yes" : "no");
        check(ok, "mapped pages differ from shared pages (order or content)");
        fill_pattern(m1 + 3 * PAGE, PAGE, 99);
        obs("batch.write_visible_in_other_mapping", "%s",
            check_pattern(m2 + 3 * PAGE, PAGE, 99) && check_pattern(s + 3 * PAGE, PAGE, 99)
            ? "yes" : "no");
        check(check_pattern(m2 + 3 * PAGE, PAGE, 99) && check_pattern(s + 3 * PAGE, PAGE, 99),
              "write through one mapping not seen by the other and the sharer");
        obs("batch.gntdev_maps", "%d", count_maps(GNTDEV));
        check(count_maps(GNTDEV) == 2, "two gntdev mappings expected");
    }
    /* Wrong counts are refused and leave the mapping intact. */
    if (m1) {
        errno = 0;
        rc = xengnttab_unmap(gt, m1, N - 1);
        e = errno;
        obs("batch.unmap_wrong_count", "%s", rc_str(rc, e));
        check(rc == -1 && e == EINVAL, "unmap with the wrong count must fail EINVAL");
        obs("batch.mapping_intact", "%s", check_pattern(m1, PAGE, 10) ? "yes" : "no");
        check(check_pattern(m1, PAGE, 10), "mapping damaged by refused unmap");
    }
    if (m1) {
        rc = xengnttab_unmap(gt, m1, N);
        e = errno;
        obs("batch.unmap1", "%s", rc_str(rc, e));
        check(rc == 0, "unmap m1");
    }
    if (m2) {
        rc = xengnttab_unmap(gt, m2, N);
        e = errno;
        obs("batch.unmap2", "%s", rc_str(rc, e));
        check(rc == 0, "unmap m2");
    }
    obs("batch.gntdev_maps_after", "%d", count_maps(GNTDEV));
    check(count_maps(GNTDEV) == 0, "gntdev mappings left");

    /* All or nothing: a bad domid or a bad ref in the middle fails the batch. */
    domids[N / 2] = 1; /* there is no domain 1 */
    errno = 0;
    m1 = xengnttab_map_grant_refs(gt, N, domids, refs, RW);
    e = errno;
    obs("batch.bad_domid_in_array", "%s", ptr_str(m1, e));
    check(m1 == NULL && e != 0, "batch with a bad domid must fail");
    if (m1)
        xengnttab_unmap(gt, m1, N);
    domids[N / 2] = 0;
    {
        uint32_t bad[N];
        memcpy(bad, refs, sizeof bad);
        bad[N - 1] = 0xfffff;
        errno = 0;
        m1 = xengnttab_map_grant_refs(gt, N, domids, bad, RW);
        e = errno;
        obs("batch.bad_ref_in_array", "%s", ptr_str(m1, e));
        check(m1 == NULL && e != 0, "batch with a bad ref must fail");
        if (m1)
            xengnttab_unmap(gt, m1, N);
    }
    obs("batch.gntdev_maps_after_failures", "%d", count_maps(GNTDEV));
    check(count_maps(GNTDEV) == 0, "a failed batch left a mapping");

    rc = xengntshr_unshare(gs, s, N);
    e = errno;
    obs("batch.unshare", "%s", rc_str(rc, e));
    check(rc == 0, "unshare batch");
}

static void large_batch(void)
{
    enum { N = 600 }; /* > 510: the library's ioctl buffer exceeds a page */
    uint32_t *refs = calloc(N, sizeof *refs);
    unsigned char *s, *m;
    int ok, e, rc;

    s = xengntshr_share_pages(gs, 0, N, refs, 1);
    e = errno;
    obs("large.share", "%s", ptr_str(s, e));
    if (!check(s != NULL, "share %d pages", N)) {
        free(refs);
        return;
    }
    for (int i = 0; i < N; i++)
        fill_pattern(s + (size_t)i * PAGE, 64, 1000 + i);
    m = xengnttab_map_domain_grant_refs(gt, N, 0, refs, PROT_READ);
    e = errno;
    obs("large.map_domain_grant_refs", "%s", ptr_str(m, e));
    if (check(m != NULL, "map %d refs", N)) {
        ok = 1;
        for (int i = 0; i < N; i++)
            ok &= check_pattern(m + (size_t)i * PAGE, 64, 1000 + i);
        obs("large.pages_in_order", "%s", ok ? "yes" : "no");
        check(ok, "large batch pages wrong");
        rc = xengnttab_unmap(gt, m, N);
        e = errno;
        obs("large.unmap", "%s", rc_str(rc, e));
        check(rc == 0, "unmap large");
    }
    rc = xengntshr_unshare(gs, s, N);
    e = errno;
    obs("large.unshare", "%s", rc_str(rc, e));
    check(rc == 0, "unshare large");
    free(refs);
}

/* Child: a write through a read-only grant mapping must fault. */
static void ro_write_case(void *arg, char *out, size_t outlen)
{
    int ro_share = *(int *)arg;
    xengnttab_handle *g = xengnttab_open(NULL, 0);
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    uint32_t ref;
    volatile unsigned char *p, *m;
    if (!g || !s) {
        snprintf(out, outlen, "open %s", errname(errno));
        return;
    }
    p = xengntshr_share_pages(s, 0, 1, &ref, !ro_share);
    if (!p) {
        snprintf(out, outlen, "share %s", errname(errno));
        return;
    }
    p[5] = 0x5a;
    m = xengnttab_map_grant_ref(g, 0, ref, PROT_READ);
    if (!m) {
        snprintf(out, outlen, "map %s", errname(errno));
        return;
    }
    if (m[5] != 0x5a) {
        snprintf(out, outlen, "read-mismatch");
        return;
    }
    m[5] = 0xa5; /* must fault: nothing recorded before it */
    snprintf(out, outlen, "write-did-not-fault");
    if (p[5] == 0xa5)
        snprintf(out, outlen, "write-did-not-fault-and-reached-sharer");
}

static void read_only(void)
{
    uint32_t ref;
    unsigned char *s, *m;
    const char *r;
    int e, rc, ro = 1, rw = 0;

    s = xengntshr_share_pages(gs, 0, 1, &ref, 0);
    e = errno;
    obs("ro.share", "%s", ptr_str(s, e));
    if (!check(s != NULL, "read-only share"))
        return;
    /* The sharer's own mapping is always writable. */
    fill_pattern(s, PAGE, 7);
    errno = 0;
    m = xengnttab_map_grant_ref(gt, 0, ref, RW);
    e = errno;
    obs("ro.map_writable", "%s", ptr_str(m, e));
    check(m == NULL && e != 0, "a read-only share must refuse a writable map");
    if (m)
        xengnttab_unmap(gt, m, 1);
    obs("ro.gntdev_maps_after_refusal", "%d", count_maps(GNTDEV));
    check(count_maps(GNTDEV) == 0, "refused writable map left a mapping");

    m = xengnttab_map_grant_ref(gt, 0, ref, PROT_READ);
    e = errno;
    obs("ro.map_readonly", "%s", ptr_str(m, e));
    if (check(m != NULL, "read-only map of a read-only share")) {
        obs("ro.data", "%s", check_pattern(m, PAGE, 7) ? "same" : "differs");
        check(check_pattern(m, PAGE, 7), "read-only mapping data");
        fill_pattern(s, PAGE, 8);
        obs("ro.sharer_update_seen", "%s", check_pattern(m, PAGE, 8) ? "yes" : "no");
        check(check_pattern(m, PAGE, 8), "sharer's later write not seen");
        rc = xengnttab_unmap(gt, m, 1);
        e = errno;
        obs("ro.unmap", "%s", rc_str(rc, e));
        check(rc == 0, "unmap ro");
    }
    rc = xengntshr_unshare(gs, s, 1);
    check(rc == 0, "unshare ro");

    r = run_isolated(ro_write_case, &ro, 60);
    obs("ro.write_ro_share_ro_map", "%s", r);
    check(!strncmp(r, "crashed SIG", 11), "write through read-only mapping did not fault");
    r = run_isolated(ro_write_case, &rw, 60);
    obs("ro.write_rw_share_ro_map", "%s", r);
    check(!strncmp(r, "crashed SIG", 11), "write through read-only mapping did not fault");
}

/* Child: on Linux, mappings and shares outlive their handles (until munmap). */
static void survive_close_case(void *arg, char *out, size_t outlen)
{
    xengnttab_handle *g = xengnttab_open(NULL, 0);
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    uint32_t ref;
    unsigned char *p, *m;
    int rc;
    (void)arg;
    if (!g || !s) {
        snprintf(out, outlen, "open %s", errname(errno));
        return;
    }
    p = xengntshr_share_pages(s, 0, 1, &ref, 1);
    m = p ? xengnttab_map_grant_ref(g, 0, ref, RW) : NULL;
    if (!m) {
        snprintf(out, outlen, "setup %s", errname(errno));
        return;
    }
    fill_pattern(p, PAGE, 77);
    rc = xengnttab_close(g);
    snprintf(out, outlen, "gnttab_close=%d", rc);
    snprintf(out + strlen(out), outlen - strlen(out), " mapping=%s",
             check_pattern(m, PAGE, 77) ? "same" : "differs");
    rc = xengntshr_close(s);
    snprintf(out + strlen(out), outlen - strlen(out), " gntshr_close=%d", rc);
    fill_pattern(p, PAGE, 78);
    snprintf(out + strlen(out), outlen - strlen(out), " share=%s",
             check_pattern(m, PAGE, 78) ? "same" : "differs");
    snprintf(out + strlen(out), outlen - strlen(out), " munmap=%d %d",
             munmap(m, PAGE), munmap(p, PAGE));
    snprintf(out + strlen(out), outlen - strlen(out), " xen_maps=%d",
             count_maps("/dev/xen/"));
}

static void survive_close(void)
{
    const char *r = run_isolated(survive_close_case, NULL, 60);
    obs("close.mappings_survive", "%s", r);
    check(!strcmp(r, "gnttab_close=0 mapping=same gntshr_close=0 share=same munmap=0 0 xen_maps=0"),
          "mappings/shares should outlive their closed handles until munmap");
}

static void budget(void)
{
    long limit = read_long("/sys/module/xen_gntalloc/parameters/limit");
    uint32_t *refs, one;
    unsigned char *s, *s2;
    int e, rc;

    obs("budget.limit_readable", "%s", limit > 0 ? "yes" : "no");
    if (!check(limit > 0 && limit <= 65536, "gntalloc limit unreadable or huge"))
        return;
    note("gntalloc limit %ld pages", limit);
    refs = calloc(limit + 1, sizeof *refs);

    errno = 0;
    s = xengntshr_share_pages(gs, 0, (int)limit + 1, refs, 1);
    e = errno;
    obs("budget.share_limit_plus_1", "%s", ptr_str(s, e));
    check(s == NULL && e == ENOSPC, "sharing limit+1 pages must fail ENOSPC");
    if (s)
        xengntshr_unshare(gs, s, limit + 1);

    for (int round = 0; round < 2; round++) {
        char key[64];
        s = xengntshr_share_pages(gs, 0, (int)limit, refs, 1);
        e = errno;
        snprintf(key, sizeof key, "budget.share_limit.round%d", round);
        obs(key, "%s", ptr_str(s, e));
        if (!check(s != NULL, "sharing the whole gntalloc budget (round %d)", round))
            break;
        errno = 0;
        s2 = xengntshr_share_pages(gs, 0, 1, &one, 1);
        e = errno;
        snprintf(key, sizeof key, "budget.share_one_more.round%d", round);
        obs(key, "%s", ptr_str(s2, e));
        check(s2 == NULL && e == ENOSPC, "budget exhausted: one more page must fail ENOSPC");
        if (s2)
            xengntshr_unshare(gs, s2, 1);
        rc = xengntshr_unshare(gs, s, (uint32_t)limit);
        e = errno;
        snprintf(key, sizeof key, "budget.unshare.round%d", round);
        obs(key, "%s", rc_str(rc, e));
        check(rc == 0, "unshare budget");
    }
    free(refs);
}

int main(void)
{
    int fds0, maps0;

    t_init();
    fds0 = count_fds();
    gt = open_gnttab_or_exit();
    gs = open_gntshr_or_exit();
    maps0 = count_maps("/dev/xen/");
    check(maps0 == 0, "gnt mappings present before any test");

    single_page();
    batch();
    large_batch();
    read_only();
    survive_close();
    /* Everything released so far: the whole budget must be available. */
    budget();

    return t_finish_released(gt, gs, fds0);
}
