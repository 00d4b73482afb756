/*
 * Where the time of a one-grant map + unmap goes, system call by system call.
 * No library: the raw gntdev sequence, in upstream's order (MAP ioctl, mmap,
 * GET_OFFSET_FOR_VADDR ioctl, munmap, UNMAP ioctl) and in ours (MAP ioctl,
 * mmap with the address hint where the last mapping ended, GET_OFFSET_FOR_VADDR
 * ioctl to check the address still holds the map, UNMAP ioctl, munmap, as our
 * library does), alternating cycle by cycle, with a clock read
 * between calls. Prints, per order and per call, the median over `cycles` of
 * the call's time minus the median time of an empty clock-to-clock interval:
 *     step <order> <call> <ns>
 * The grant is dom0's own page (gntalloc), as in bench.c, or another
 * domain's grant REF of DOMID.
 * Usage: steps CYCLES [DOMID REF]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
/* The kernel's uapi header uses Xen's names without defining them. */
typedef uint32_t grant_ref_t;
typedef uint16_t domid_t;
#include <xen/gntalloc.h>
#include <xen/gntdev.h>

#define PROG "steps"
#include "common.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, long n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    return v[n / 2];
}

enum { MAP, MMAP, GET_OFFSET, MUNMAP, UNMAP, NSTEPS };
static const char *const step_name[NSTEPS] = {
    "map-ioctl", "mmap", "get-offset-ioctl", "munmap", "unmap-ioctl",
};

/* One cycle; t[s] gets the duration of step s (0 for a step not taken). */
static void cycle(int gntdev, uint32_t domid, uint32_t ref, int upstream_order, uint64_t t[NSTEPS])
{
    static char *last_end; /* where ours' last mapping ended */
    struct ioctl_gntdev_map_grant_ref map = { .count = 1 };
    struct ioctl_gntdev_unmap_grant_ref unmap = { .count = 1 };
    struct ioctl_gntdev_get_offset_for_vaddr off;
    uint64_t a, b;
    void *p;

    map.refs[0].domid = domid;
    map.refs[0].ref = ref;
    memset(t, 0, NSTEPS * sizeof(*t));
    a = now_ns();
    if (ioctl(gntdev, IOCTL_GNTDEV_MAP_GRANT_REF, &map))
        die("MAP_GRANT_REF");
    b = now_ns(); t[MAP] = b - a; a = b;
    p = mmap(upstream_order || !last_end ? NULL : last_end - PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gntdev, (off_t)map.index);
    if (p == MAP_FAILED)
        die("mmap");
    b = now_ns(); t[MMAP] = b - a; a = b;
    unmap.index = map.index;
    off.vaddr = (uintptr_t)p;
    if (ioctl(gntdev, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &off) || off.offset != map.index)
        die("GET_OFFSET_FOR_VADDR");
    b = now_ns(); t[GET_OFFSET] = b - a; a = b;
    if (upstream_order) {
        if (munmap(p, PAGE))
            die("munmap");
        b = now_ns(); t[MUNMAP] = b - a; a = b;
        if (ioctl(gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap))
            die("UNMAP_GRANT_REF");
        b = now_ns(); t[UNMAP] = b - a;
    } else {
        last_end = (char *)p + PAGE;
        if (ioctl(gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap))
            die("UNMAP_GRANT_REF");
        b = now_ns(); t[UNMAP] = b - a; a = b;
        if (munmap(p, PAGE))
            die("munmap");
        b = now_ns(); t[MUNMAP] = b - a;
    }
}

int main(int argc, char **argv)
{
    long cycles = argc > 1 ? atol(argv[1]) : 0, i;
    int gntdev = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
    int gntalloc = open("/dev/xen/gntalloc", O_RDWR | O_CLOEXEC);
    struct ioctl_gntalloc_alloc_gref share = { .domid = 0, .flags = GNTALLOC_FLAG_WRITABLE, .count = 1 };
    uint64_t *dur[2][NSTEPS], *empty, t[NSTEPS];
    int order, s;

    uint32_t domid = 0, ref;

    if (cycles < 1 || (argc != 2 && argc != 4))
        die("usage: steps CYCLES [DOMID REF]");
    if (gntdev < 0 || gntalloc < 0)
        die("open /dev/xen/gntdev or gntalloc");
    if (argc == 4) {
        domid = (uint32_t)atoi(argv[2]);
        ref = (uint32_t)strtoul(argv[3], NULL, 10);
    } else {
        if (ioctl(gntalloc, IOCTL_GNTALLOC_ALLOC_GREF, &share))
            die("ALLOC_GREF");
        ref = share.gref_ids[0];
    }
    for (order = 0; order < 2; order++)
        for (s = 0; s < NSTEPS; s++)
            if (!(dur[order][s] = calloc((size_t)cycles, sizeof(uint64_t))))
                die("calloc");
    if (!(empty = calloc((size_t)cycles, sizeof(uint64_t))))
        die("calloc");
    for (i = 0; i < cycles; i++) {
        uint64_t a = now_ns();
        empty[i] = now_ns() - a;
        for (order = 0; order < 2; order++) {
            cycle(gntdev, domid, ref, order == 0, t);
            for (s = 0; s < NSTEPS; s++)
                dur[order][s][i] = t[s];
        }
    }
    uint64_t clock_ns = median(empty, cycles);
    printf("step clock-read %llu\n", (unsigned long long)clock_ns);
    for (order = 0; order < 2; order++)
        for (s = 0; s < NSTEPS; s++) {
            uint64_t m = median(dur[order][s], cycles);
            printf("step %s %s %llu\n", order == 0 ? "upstream" : "ours", step_name[s],
                   (unsigned long long)(m > clock_ns ? m - clock_ns : 0));
        }
    return 0;
}
