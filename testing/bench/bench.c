/*
 * Grant-table benchmark. Linked once, run against upstream's library and
 * ours by LD_LIBRARY_PATH (testing/bench/run-in-dom0.sh alternates them). Each
 * invocation runs one workload for N operations and prints
 *     <workload> <operations> <nanoseconds> [<bytes copied per op>]
 * All grants are domid 0 to domid 0 (the rig's dom0 grants to itself),
 * except that map1 and map256 map another domain's grants when given
 *     bench map1|map256 OPS DOMID REF...
 * (at least as many refs as the workload maps; `make bench-xdomain`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "../support/drm-uapi.h"
#include <xengnttab.h>

#define PROG "bench"
#include "common.h"

static uint64_t loop_ns; /* time of the measured loop only, set up excluded */
static xengnttab_handle *xgt;
static xengntshr_handle *xgs;

/* Share `n` pages to ourselves; refs out. */
static void *share(int n, uint32_t *refs)
{
    void *p = xengntshr_share_pages(xgs, 0, n, refs, 1);
    if (!p)
        die("share %d pages", n);
    return p;
}

static void map_unmap(long ops, uint32_t count, uint32_t peer, const uint32_t *peer_refs)
{
    uint32_t *refs = calloc(count, sizeof(*refs));
    void *shared = NULL;
    long i;
    if (peer_refs)
        memcpy(refs, peer_refs, count * sizeof(*refs));
    else
        shared = share((int)count, refs);
    uint64_t t = now_ns();
    for (i = 0; i < ops; i++) {
        void *m = count == 1 ? xengnttab_map_grant_ref(xgt, peer, refs[0], PROT_READ | PROT_WRITE)
                             : xengnttab_map_domain_grant_refs(xgt, count, peer, refs, PROT_READ | PROT_WRITE);
        if (!m)
            die("map %u", count);
        if (xengnttab_unmap(xgt, m, count))
            die("unmap");
    }
    loop_ns = now_ns() - t;
    if (shared)
        xengntshr_unshare(xgs, shared, count);
    free(refs);
}

/* `segs` segments of one page each between a local buffer and granted pages. */
static void copy(long ops, int segs, int to_grant)
{
    uint32_t *refs = calloc(segs, sizeof(*refs));
    void *shared = share(segs, refs);
    char *local = aligned_alloc(PAGE, (size_t)segs * PAGE);
    xengnttab_grant_copy_segment_t *s = calloc(segs, sizeof(*s));
    long i;
    int j;
    uint64_t t;
    memset(local, 0x5a, (size_t)segs * PAGE);
    t = now_ns();
    for (i = 0; i < ops; i++) {
        for (j = 0; j < segs; j++) {
            xengnttab_grant_copy_segment_t *g = &s[j];
            memset(g, 0, sizeof(*g));
            g->len = PAGE;
            if (to_grant) {
                g->flags = GNTCOPY_dest_gref;
                g->source.virt = local + (size_t)j * PAGE;
                g->dest.foreign.ref = refs[j];
                g->dest.foreign.domid = 0;
            } else {
                g->flags = GNTCOPY_source_gref;
                g->source.foreign.ref = refs[j];
                g->source.foreign.domid = 0;
                g->dest.virt = local + (size_t)j * PAGE;
            }
        }
        if (xengnttab_grant_copy(xgt, (uint32_t)segs, s))
            die("grant copy");
        for (j = 0; j < segs; j++)
            if (s[j].status != GNTST_okay)
                die("segment %d status %d", j, s[j].status);
    }
    loop_ns = now_ns() - t;
    xengntshr_unshare(xgs, shared, (uint32_t)segs);
    free(s);
    free(local);
    free(refs);
}

static void share_unshare(long ops, int n)
{
    uint32_t refs[64];
    long i;
    uint64_t t = now_ns();
    for (i = 0; i < ops; i++) {
        void *p = share(n, refs);
        if (xengntshr_unshare(xgs, p, (uint32_t)n))
            die("unshare");
    }
    loop_ns = now_ns() - t;
}

/* A vgem dumb buffer of `bytes`, as a PRIME fd; its mapping in *map. */
static int vgem_buffer(size_t bytes, uint32_t width, void **map)
{
    struct t_drm_mode_create_dumb create;
    struct t_drm_mode_map_dumb mapreq;
    struct t_drm_prime_handle prime;
    int card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    if (card < 0)
        die("open /dev/dri/card0");
    memset(&create, 0, sizeof(create));
    create.width = width;
    create.height = (uint32_t)(bytes / 4 / width);
    create.bpp = 32;
    if (ioctl(card, T_DRM_IOCTL_MODE_CREATE_DUMB, &create))
        die("CREATE_DUMB");
    if (create.size != bytes)
        die("dumb buffer size %llu", (unsigned long long)create.size);
    memset(&mapreq, 0, sizeof(mapreq));
    mapreq.handle = create.handle;
    if (ioctl(card, T_DRM_IOCTL_MODE_MAP_DUMB, &mapreq))
        die("MAP_DUMB");
    *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, card, (off_t)mapreq.offset);
    if (*map == MAP_FAILED)
        die("mmap dumb");
    memset(&prime, 0, sizeof(prime));
    prime.handle = create.handle;
    prime.flags = O_CLOEXEC | O_RDWR;
    if (ioctl(card, T_DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime))
        die("PRIME_HANDLE_TO_FD");
    return prime.fd;
}

static void dmabuf_import(long ops)
{
    size_t bytes = 2u << 20;
    uint32_t count = (uint32_t)(bytes / PAGE);
    uint32_t *refs = calloc(count, sizeof(*refs));
    void *map;
    int fd = vgem_buffer(bytes, 1024, &map);
    long i;
    uint64_t t = now_ns();
    for (i = 0; i < ops; i++) {
        if (xengnttab_dmabuf_imp_to_refs(xgt, 0, (uint32_t)fd, count, refs))
            die("imp_to_refs");
        if (xengnttab_dmabuf_imp_release(xgt, (uint32_t)fd))
            die("imp_release");
    }
    loop_ns = now_ns() - t;
    munmap(map, bytes);
    close(fd);
    free(refs);
}

/*
 * The display use case: deliver 1920x1080x32bpp frames to a peer domain.
 * "copy": every frame is grant-copied into pages the peer granted.
 * "dmabuf": the frame buffer is imported once as a dma-buf and granted; the
 * peer maps it once; delivering a frame is the producer writing its pixels
 * and the consumer seeing them, with no copy by anyone.
 */
static void frames(long ops, int zero_copy)
{
    const uint32_t w = 1920, h = 1080;
    size_t bytes = (size_t)w * h * 4;
    uint32_t pages = (uint32_t)((bytes + PAGE - 1) / PAGE);
    long i;
    if (!zero_copy) {
        /* The consumer's granted frame store: pages of ours, shared to us
         * in chunks (one gntalloc request is limited). */
        uint32_t *refs = calloc(pages, sizeof(*refs));
        char *frame = aligned_alloc(PAGE, (size_t)pages * PAGE);
        xengnttab_grant_copy_segment_t *s = calloc(pages, sizeof(*s));
        void *stores[16];
        uint32_t sizes[16], done = 0, j;
        int nstores = 0;
        uint64_t t;
        while (done < pages) {
            sizes[nstores] = pages - done > 512 ? 512 : pages - done;
            stores[nstores] = share((int)sizes[nstores], refs + done);
            done += sizes[nstores++];
        }
        memset(frame, 0xff, bytes); /* fault the pages in: steady state is timed */
        t = now_ns();
        for (i = 0; i < ops; i++) {
            memset(frame, (int)i, bytes); /* the producer draws */
            for (j = 0; j < pages; j++) {
                memset(&s[j], 0, sizeof(s[j]));
                s[j].flags = GNTCOPY_dest_gref;
                s[j].len = PAGE;
                s[j].source.virt = frame + (size_t)j * PAGE;
                s[j].dest.foreign.ref = refs[j];
            }
            if (xengnttab_grant_copy(xgt, pages, s))
                die("frame copy");
        }
        loop_ns = now_ns() - t;
        printf("# bytes copied per frame: %zu\n", (size_t)pages * PAGE);
        while (nstores--)
            xengntshr_unshare(xgs, stores[nstores], sizes[nstores]);
        free(s);
        free(frame);
        free(refs);
    } else {
        void *fb;
        uint32_t *refs = calloc(pages, sizeof(*refs));
        int fd = vgem_buffer((size_t)pages * PAGE, 1024, &fb);
        volatile uint32_t *peer;
        if (xengnttab_dmabuf_imp_to_refs(xgt, 0, (uint32_t)fd, pages, refs))
            die("frame imp_to_refs");
        peer = xengnttab_map_domain_grant_refs(xgt, pages, 0, refs, PROT_READ);
        uint64_t t;
        if (!peer)
            die("peer map");
        memset(fb, 0xff, bytes); /* fault the pages in: steady state is timed */
        t = now_ns();
        for (i = 0; i < ops; i++) {
            memset(fb, (int)i, bytes); /* the producer draws in place */
            if (peer[(bytes / 4) - 1] != (uint32_t)(0x01010101u * (uint8_t)i))
                die("peer does not see frame %ld", i);
        }
        loop_ns = now_ns() - t;
        printf("# bytes copied per frame: 0\n");
        xengnttab_unmap(xgt, (void *)peer, pages);
        xengnttab_dmabuf_imp_release(xgt, (uint32_t)fd);
        close(fd);
        free(refs);
    }
}

int main(int argc, char **argv)
{
    const char *w;
    long ops;
    uint32_t peer = 0, *peer_refs = NULL;
    if (argc < 3 || argc == 4) {
        fprintf(stderr, "usage: bench WORKLOAD OPS [DOMID REF...]\n");
        return 2;
    }
    w = argv[1];
    ops = atol(argv[2]);
    if (argc > 4) {
        uint32_t need = !strcmp(w, "map1") ? 1 : !strcmp(w, "map256") ? 256 : 0;
        if (!need || (uint32_t)(argc - 4) < need)
            die("%s takes no peer grants, or needs %u refs", w, need);
        peer = (uint32_t)atoi(argv[3]);
        if (!(peer_refs = calloc(need, sizeof(*peer_refs))))
            die("calloc");
        for (uint32_t i = 0; i < need; i++)
            peer_refs[i] = (uint32_t)strtoul(argv[4 + i], NULL, 10);
    }
    xgt = xengnttab_open(NULL, 0);
    xgs = xengntshr_open(NULL, 0);
    if (!xgt || !xgs)
        die("open");
    if (!strcmp(w, "map1"))
        map_unmap(ops, 1, peer, peer_refs);
    else if (!strcmp(w, "map256"))
        map_unmap(ops, 256, peer, peer_refs);
    else if (!strcmp(w, "copy64-to-grant"))
        copy(ops, 64, 1);
    else if (!strcmp(w, "copy64-from-grant"))
        copy(ops, 64, 0);
    else if (!strcmp(w, "share16"))
        share_unshare(ops, 16);
    else if (!strcmp(w, "dmabuf-import-2M"))
        dmabuf_import(ops);
    else if (!strcmp(w, "frames-copy"))
        frames(ops, 0);
    else if (!strcmp(w, "frames-dmabuf"))
        frames(ops, 1);
    else
        die("unknown workload %s", w);
    printf("%s %ld %llu\n", w, ops, (unsigned long long)loop_ns);
    xengnttab_close(xgt);
    xengntshr_close(xgs);
    return 0;
}
