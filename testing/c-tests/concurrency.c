/* concurrency: 4 threads mapping, copying and unmapping on ONE gnttab handle.
 *
 * The parent shares 16 pages (4 scratch pages, one per thread, and 12
 * pattern pages nobody writes).  Each thread, per iteration: maps one
 * pattern page (map_grant_ref) and checks it, maps three at once
 * (map_domain_grant_refs) and checks them, unmaps both, grant-copies a
 * fresh pattern into its scratch page and back, and checks the round trip.
 * Afterwards: no errors, every iteration done, no gntdev mapping left, no
 * fd leaked.  ITERS (per thread) can be overridden with CONC_ITERS. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define NTHREADS 4
#define NPAGES 16
#define DEFAULT_ITERS 1000

static xengnttab_handle *gt;
static uint32_t refs[NPAGES];
static int iters = DEFAULT_ITERS;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int errors, done;
static char first_error[160];

static void fail(int tid, int it, const char *what, int e)
{
    pthread_mutex_lock(&lock);
    if (!errors++)
        snprintf(first_error, sizeof first_error, "thread %d iteration %d: %s (%s)",
                 tid, it, what, errname(e));
    pthread_mutex_unlock(&lock);
}

/* Pattern pages hold fill_pattern(seed = 100 + index). */
static int page_ok(const unsigned char *p, int idx)
{
    return check_pattern(p, PAGE, 100 + idx);
}

static void *worker(void *arg)
{
    int tid = (int)(intptr_t)arg, n = 0;
    unsigned char out[PAGE], back[PAGE];

    for (int it = 0; it < iters; it++) {
        int k = NTHREADS + (tid * 5 + it) % (NPAGES - NTHREADS);
        int b = NTHREADS + (tid * 3 + it * 7) % (NPAGES - NTHREADS - 2);
        unsigned char *m1, *m3;
        xengnttab_grant_copy_segment_t seg[2];

        m1 = xengnttab_map_grant_ref(gt, 0, refs[k], PROT_READ);
        if (!m1) { fail(tid, it, "map_grant_ref", errno); continue; }
        m3 = xengnttab_map_domain_grant_refs(gt, 3, 0, &refs[b], PROT_READ);
        if (!m3) fail(tid, it, "map_domain_grant_refs", errno);
        if (!page_ok(m1, k)) fail(tid, it, "single map content", 0);
        if (m3 && !(page_ok(m3, b) && page_ok(m3 + PAGE, b + 1) && page_ok(m3 + 2 * PAGE, b + 2)))
            fail(tid, it, "batch map content", 0);
        if (xengnttab_unmap(gt, m1, 1)) fail(tid, it, "unmap single", errno);
        if (m3 && xengnttab_unmap(gt, m3, 3)) fail(tid, it, "unmap batch", errno);

        fill_pattern(out, PAGE, (unsigned)(tid * 100000 + it));
        memset(&seg, 0, sizeof seg);
        seg[0].source.virt = out;
        seg[0].dest.foreign.ref = refs[tid];
        seg[0].len = PAGE;
        seg[0].flags = GNTCOPY_dest_gref;
        seg[1].source.foreign.ref = refs[tid];
        seg[1].dest.virt = back;
        seg[1].len = PAGE;
        seg[1].flags = GNTCOPY_source_gref;
        if (xengnttab_grant_copy(gt, 2, seg)) fail(tid, it, "grant_copy", errno);
        else if (seg[0].status || seg[1].status) fail(tid, it, "grant_copy status", 0);
        else if (memcmp(out, back, PAGE)) fail(tid, it, "grant_copy round trip", 0);
        n++;
    }
    pthread_mutex_lock(&lock);
    done += n;
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(void)
{
    xengntshr_handle *gs;
    unsigned char *s;
    pthread_t th[NTHREADS];
    struct timespec t0, t1;
    int fds0;
    const char *env = getenv("CONC_ITERS");

    t_init();
    if (env && atoi(env) > 0)
        iters = atoi(env);
    fds0 = count_fds();
    gt = open_gnttab_or_exit();
    gs = open_gntshr_or_exit();
    s = xengntshr_share_pages(gs, 0, NPAGES, refs, 1);
    if (!check(s != NULL, "share: %s", errname(errno)))
        return t_finish();
    for (int i = NTHREADS; i < NPAGES; i++)
        fill_pattern(s + i * PAGE, PAGE, 100 + i);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    note("%d threads x %d iterations in %.2f s", NTHREADS, iters,
         (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);

    obs("threads", "%d", NTHREADS);
    obs("iterations_done", "%s", done == NTHREADS * iters ? "all" : "missing");
    check(done == NTHREADS * iters, "%d of %d iterations done", done, NTHREADS * iters);
    obs("errors", "%d", errors);
    if (errors)
        note("first error: %s", first_error);
    check(errors == 0, "errors in threads");
    obs("gntdev_maps_after", "%d", count_maps("/dev/xen/gntdev"));
    check(count_maps("/dev/xen/gntdev") == 0, "gntdev mappings leaked");
    /* The pattern pages were never written through the read-only maps. */
    {
        int ok = 1;
        for (int i = NTHREADS; i < NPAGES; i++)
            ok &= page_ok(s + i * PAGE, i);
        obs("pattern_pages_intact", "%s", ok ? "yes" : "no");
        check(ok, "pattern pages changed");
    }
    check(xengntshr_unshare(gs, s, NPAGES) == 0, "unshare");
    return t_finish_released(gt, gs, fds0);
}
