/* copy: xengnttab_grant_copy against domid 0's own grants.
 *
 * local -> grant, grant -> local, grant -> grant, local buffers crossing a
 * page boundary, many segments in one call (more than the kernel's batch
 * of 16), per-segment status for bad refs / bad domids / a read-only grant
 * (printed by GNTST_* name, other segments of the same call still done),
 * whole-call errors (gref offset+len past the page, no direction flag, bad
 * local pointer, NULL segment array), and the (h, 0, NULL) probe. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static xengnttab_handle *gt;
static xengntshr_handle *gs;
static unsigned char *sh;  /* 2 shared pages, writable grants */
static uint32_t refs[2];
static unsigned char *ro;  /* 1 shared page, read-only grant */
static uint32_t ro_ref;
static unsigned char *local; /* 3 local pages */

static void seg_to_ref(xengnttab_grant_copy_segment_t *s, void *virt,
                       uint32_t ref, uint16_t domid, uint16_t off, uint16_t len)
{
    memset(s, 0, sizeof *s);
    s->source.virt = virt;
    s->dest.foreign.ref = ref;
    s->dest.foreign.domid = domid;
    s->dest.foreign.offset = off;
    s->len = len;
    s->flags = GNTCOPY_dest_gref;
    s->status = 99;
}

static void seg_from_ref(xengnttab_grant_copy_segment_t *s, uint32_t ref,
                         uint16_t domid, uint16_t off, void *virt, uint16_t len)
{
    memset(s, 0, sizeof *s);
    s->source.foreign.ref = ref;
    s->source.foreign.domid = domid;
    s->source.foreign.offset = off;
    s->dest.virt = virt;
    s->len = len;
    s->flags = GNTCOPY_source_gref;
    s->status = 99;
}

static int do_copy(const char *key, uint32_t n, xengnttab_grant_copy_segment_t *segs)
{
    int rc, e;
    errno = 0;
    rc = xengnttab_grant_copy(gt, n, segs);
    e = errno;
    obs(key, "%s", rc_str(rc, e));
    errno = e;
    return rc;
}

static void basic_directions(void)
{
    xengnttab_grant_copy_segment_t seg[2];
    int rc;

    /* local -> grant, whole page */
    fill_pattern(local, PAGE, 21);
    memset(sh, 0, PAGE);
    seg_to_ref(&seg[0], local, refs[0], 0, 0, PAGE);
    rc = do_copy("to_ref.ret", 1, seg);
    obs("to_ref.status", "%s", gntst_name(seg[0].status));
    obs("to_ref.data", "%s", check_pattern(sh, PAGE, 21) ? "same" : "differs");
    check(rc == 0 && seg[0].status == GNTST_okay && check_pattern(sh, PAGE, 21),
          "local -> grant copy");

    /* grant -> local, whole page */
    fill_pattern(sh + PAGE, PAGE, 22);
    memset(local, 0, PAGE);
    seg_from_ref(&seg[0], refs[1], 0, 0, local, PAGE);
    rc = do_copy("from_ref.ret", 1, seg);
    obs("from_ref.status", "%s", gntst_name(seg[0].status));
    obs("from_ref.data", "%s", check_pattern(local, PAGE, 22) ? "same" : "differs");
    check(rc == 0 && seg[0].status == GNTST_okay && check_pattern(local, PAGE, 22),
          "grant -> local copy");

    /* grant -> grant */
    memset(&seg[0], 0, sizeof seg[0]);
    seg[0].source.foreign.ref = refs[1];
    seg[0].source.foreign.offset = 0;
    seg[0].dest.foreign.ref = refs[0];
    seg[0].dest.foreign.offset = 2048;
    seg[0].len = 1024;
    seg[0].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
    seg[0].status = 99;
    rc = do_copy("ref_to_ref.ret", 1, seg);
    obs("ref_to_ref.status", "%s", gntst_name(seg[0].status));
    obs("ref_to_ref.data", "%s", !memcmp(sh + 2048, sh + PAGE, 1024) ? "same" : "differs");
    check(rc == 0 && seg[0].status == GNTST_okay && !memcmp(sh + 2048, sh + PAGE, 1024),
          "grant -> grant copy");
}

static void crossing(void)
{
    xengnttab_grant_copy_segment_t seg[1];
    unsigned char *src = local + PAGE - 100; /* 300 bytes across a page boundary */
    int rc;

    fill_pattern(src, 300, 31);
    memset(sh, 0xcc, PAGE);
    seg_to_ref(&seg[0], src, refs[0], 0, 500, 300);
    rc = do_copy("cross_to_ref.ret", 1, seg);
    obs("cross_to_ref.status", "%s", gntst_name(seg[0].status));
    obs("cross_to_ref.data", "%s",
        check_pattern(sh + 500, 300, 31) && sh[499] == 0xcc && sh[800] == 0xcc ? "same" : "differs");
    check(rc == 0 && seg[0].status == GNTST_okay && check_pattern(sh + 500, 300, 31)
          && sh[499] == 0xcc && sh[800] == 0xcc, "copy from a buffer crossing a page");

    fill_pattern(sh + PAGE + 3000, 1000, 32);
    memset(local, 0xcc, 3 * PAGE);
    src = local + 2 * PAGE - 10;
    seg_from_ref(&seg[0], refs[1], 0, 3000, src, 1000);
    rc = do_copy("cross_from_ref.ret", 1, seg);
    obs("cross_from_ref.status", "%s", gntst_name(seg[0].status));
    obs("cross_from_ref.data", "%s",
        check_pattern(src, 1000, 32) && src[-1] == 0xcc && src[1000] == 0xcc ? "same" : "differs");
    check(rc == 0 && seg[0].status == GNTST_okay && check_pattern(src, 1000, 32)
          && src[-1] == 0xcc && src[1000] == 0xcc, "copy into a buffer crossing a page");
}

static void many_segments(void)
{
    enum { N = 40 };
    xengnttab_grant_copy_segment_t seg[N];
    int rc, ok = 1;

    fill_pattern(local, 2 * PAGE, 41);
    memset(sh, 0, 2 * PAGE);
    for (int i = 0; i < N; i++)
        /* 40 x 100 bytes, alternating refs, gaps between segments */
        seg_to_ref(&seg[i], local + i * 150, refs[i & 1], 0, (uint16_t)(i * 100), 100);
    rc = do_copy("many.ret", N, seg);
    for (int i = 0; i < N; i++) {
        ok &= seg[i].status == GNTST_okay;
        ok &= !memcmp(sh + (i & 1) * PAGE + i * 100, local + i * 150, 100);
    }
    obs("many.all_okay", "%s", ok ? "yes" : "no");
    check(rc == 0 && ok, "40-segment copy");
}

static void per_segment_errors(void)
{
    xengnttab_grant_copy_segment_t seg[5];
    int rc;

    memset(sh, 0, PAGE);
    fill_pattern(local, PAGE, 51);
    seg_to_ref(&seg[0], local, refs[0], 0, 0, 64);            /* fine */
    seg_to_ref(&seg[1], local, 0xfffff, 0, 0, 64);             /* ref never granted */
    seg_to_ref(&seg[2], local, refs[0], 1, 0, 64);             /* no domain 1 */
    seg_to_ref(&seg[3], local, ro_ref, 0, 0, 64);              /* read-only grant as dest */
    seg_from_ref(&seg[4], ro_ref, 0, 0, local + 2 * PAGE, 64); /* read-only grant as source */
    fill_pattern(ro, 64, 52);
    rc = do_copy("mixed.ret", 5, seg);
    obs("mixed.status.ok", "%s", gntst_name(seg[0].status));
    obs("mixed.status.bad_ref", "%s", gntst_name(seg[1].status));
    obs("mixed.status.bad_domid", "%s", gntst_name(seg[2].status));
    obs("mixed.status.ro_dest", "%s", gntst_name(seg[3].status));
    obs("mixed.status.ro_source", "%s", gntst_name(seg[4].status));
    check(rc == 0, "mixed call must return 0 with per-segment statuses");
    check(seg[0].status == GNTST_okay && check_pattern(sh, 64, 51), "good segment not done");
    check(seg[1].status == GNTST_bad_gntref, "bad ref status");
    check(seg[2].status != GNTST_okay && seg[2].status < 0, "bad domid status");
    check(seg[3].status != GNTST_okay && seg[3].status < 0, "write to read-only grant status");
    check(seg[4].status == GNTST_okay && check_pattern(local + 2 * PAGE, 64, 52),
          "read from read-only grant");
}

static void whole_call_errors(void)
{
    xengnttab_grant_copy_segment_t seg[1];
    int rc;

    seg_to_ref(&seg[0], local, refs[0], 0, 4000, 200); /* offset+len > 4096 */
    rc = do_copy("err.gref_past_page", 1, seg);
    check(rc == -1 && errno == EINVAL, "gref offset+len past the page must fail EINVAL");

    seg_to_ref(&seg[0], local, refs[0], 0, 0, 64);
    seg[0].flags = 0; /* local -> local */
    rc = do_copy("err.no_flags", 1, seg);
    check(rc == -1 && errno == EINVAL, "segment without gref flags must fail EINVAL");

    seg_from_ref(&seg[0], refs[0], 0, 0, NULL, 64); /* bad local pointer */
    rc = do_copy("err.null_local", 1, seg);
    check(rc == -1 && errno == EFAULT, "NULL local buffer must fail EFAULT");

    /* Upstream hands NULL to the kernel (EFAULT); rejecting it up front
     * (EINVAL) is allowed too (differences.txt). */
    rc = do_copy("err.null_segs", 1, NULL);
    check(rc == -1 && (errno == EFAULT || errno == EINVAL),
          "NULL segment array with count 1 must fail EFAULT or EINVAL");

    rc = do_copy("probe", 0, NULL);
    check(rc == 0, "grant_copy(h, 0, NULL) must return 0");
}

int main(void)
{
    int fds0;

    t_init();
    fds0 = count_fds();
    gt = open_gnttab_or_exit();
    gs = open_gntshr_or_exit();
    sh = xengntshr_share_pages(gs, 0, 2, refs, 1);
    ro = xengntshr_share_pages(gs, 0, 1, &ro_ref, 0);
    local = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    obs("setup", "%s", sh && ro && local != MAP_FAILED ? "ok" : "failed");
    if (!check(sh && ro && local != MAP_FAILED, "setup: %s", errname(errno)))
        return t_finish();

    basic_directions();
    crossing();
    many_segments();
    per_segment_errors();
    whole_call_errors();

    check(xengntshr_unshare(gs, sh, 2) == 0, "unshare");
    check(xengntshr_unshare(gs, ro, 1) == 0, "unshare ro");
    munmap(local, 3 * PAGE);
    return t_finish_released(gt, gs, fds0);
}
