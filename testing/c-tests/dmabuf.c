/* dmabuf: the four dma-buf calls.
 *
 * Import: a vgem dumb buffer (DRM_IOCTL_MODE_CREATE_DUMB, MAP_DUMB, mmap,
 * PRIME_HANDLE_TO_FD) filled with a pattern is imported to grant refs for
 * domid 0; mapping the refs shows the buffer's bytes; writes through the
 * grant mapping appear in the DRM buffer; grant copy reads it too;
 * imp_release ends the grants (mapping afterwards fails); releasing twice,
 * releasing an fd never imported, wrong counts, count 0, a bad fd and a
 * non-dma-buf fd fail cleanly (refs untouched); closing the gnttab handle
 * releases its imports.
 * Export, on x86: refused by a PV dom0's kernel (EINVAL, same log line as
 * upstream). On arm64, where every domain is auto-translated and gntdev adds
 * no GNTMAP_device_map, dom0 exports its own grants: the importer (the test
 * module /dev/xd-dmabuf-reader, testing/rig/fetch.sh) reads the granted pages, and a
 * later write to them (zero copy); exp_wait_released times out while any
 * user holds the buffer (a dup of the fd after the first is closed) and
 * returns 0 once the last one is gone, after which the same refs export
 * again and the pages unshare. Everywhere: count 0 fails EINVAL;
 * exp_wait_released on an unknown fd is 0. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "drm-uapi.h" /* DRM uapi subset; no libdrm needed */

#define NPAGES 4
#define RW (PROT_READ | PROT_WRITE)
#define SENTINEL 0xdeadbeefu

static xengnttab_handle *gt;
static int card = -1;

struct dumb {
    uint32_t handle;
    int fd;          /* dma-buf fd */
    unsigned char *map;
    size_t size;
};

static int make_dumb(struct dumb *d)
{
    struct t_drm_mode_create_dumb c = { .height = NPAGES, .width = 1024, .bpp = 32 };
    struct t_drm_mode_map_dumb m = { 0 };
    struct t_drm_prime_handle p = { 0 };

    if (ioctl(card, T_DRM_IOCTL_MODE_CREATE_DUMB, &c)) {
        obs("drm.create_dumb", "%s", errname(errno));
        return -1;
    }
    d->handle = c.handle;
    d->size = c.size;
    m.handle = c.handle;
    if (ioctl(card, T_DRM_IOCTL_MODE_MAP_DUMB, &m)) {
        obs("drm.map_dumb", "%s", errname(errno));
        return -1;
    }
    d->map = mmap(NULL, d->size, RW, MAP_SHARED, card, (off_t)m.offset);
    if (d->map == MAP_FAILED) {
        obs("drm.mmap", "%s", errname(errno));
        return -1;
    }
    p.handle = c.handle;
    p.flags = O_RDWR | O_CLOEXEC;
    if (ioctl(card, T_DRM_IOCTL_PRIME_HANDLE_TO_FD, &p)) {
        obs("drm.prime_handle_to_fd", "%s", errname(errno));
        return -1;
    }
    d->fd = p.fd;
    return 0;
}

static void free_dumb(struct dumb *d)
{
    struct t_drm_mode_destroy_dumb x = { .handle = d->handle };
    munmap(d->map, d->size);
    close(d->fd);
    ioctl(card, T_DRM_IOCTL_MODE_DESTROY_DUMB, &x);
}

static int refs_untouched(const uint32_t *refs, int n)
{
    for (int i = 0; i < n; i++)
        if (refs[i] != SENTINEL)
            return 0;
    return 1;
}

static void import(void)
{
    struct dumb d;
    uint32_t refs[NPAGES + 1];
    unsigned char *m;
    int rc, e, ok, nullfd;

    if (make_dumb(&d))
        return (void)check(0, "vgem dumb buffer");
    obs("drm.size_pages", "%zu", d.size / PAGE);
    check(d.size == NPAGES * PAGE, "dumb buffer size");
    fill_pattern(d.map, d.size, 61);

    /* Failure cases first: refs must stay untouched. */
    for (int i = 0; i <= NPAGES; i++)
        refs[i] = SENTINEL;
    errno = 0;
    rc = xengnttab_dmabuf_imp_to_refs(gt, 0, d.fd, NPAGES - 1, refs);
    e = errno;
    obs("imp.count_too_small", "%s", rc_str(rc, e));
    check(rc == -1 && e == EINVAL, "count smaller than the buffer must fail EINVAL");
    errno = 0;
    rc = xengnttab_dmabuf_imp_to_refs(gt, 0, d.fd, NPAGES + 1, refs);
    e = errno;
    obs("imp.count_too_large", "%s", rc_str(rc, e));
    check(rc == -1 && e == EINVAL, "count larger than the buffer must fail EINVAL");
    errno = 0;
    rc = xengnttab_dmabuf_imp_to_refs(gt, 0, d.fd, 0, refs);
    e = errno;
    obs("imp.count_0", "%s", rc_str(rc, e));
    check(rc == -1 && e == EINVAL, "count 0 must fail EINVAL");
    errno = 0;
    rc = xengnttab_dmabuf_imp_to_refs(gt, 0, 9999, NPAGES, refs);
    e = errno;
    obs("imp.bad_fd", "%s", rc_str(rc, e));
    check(rc == -1 && e == EBADF, "a closed fd must fail EBADF");
    nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    errno = 0;
    rc = xengnttab_dmabuf_imp_to_refs(gt, 0, nullfd, NPAGES, refs);
    e = errno;
    obs("imp.not_a_dmabuf", "%s", rc_str(rc, e));
    check(rc == -1 && e == EINVAL, "a non-dma-buf fd must fail EINVAL");
    obs("imp.refs_untouched_on_failure", "%s", refs_untouched(refs, NPAGES + 1) ? "yes" : "no");
    check(refs_untouched(refs, NPAGES + 1), "refs written by a failed import");
    errno = 0;
    rc = xengnttab_dmabuf_imp_release(gt, nullfd);
    e = errno;
    obs("imp.release_never_imported", "%s", rc_str(rc, e));
    check(rc == -1 && e == ENOENT, "releasing an fd never imported must fail ENOENT");
    close(nullfd);

    /* The real import. */
    rc = xengnttab_dmabuf_imp_to_refs(gt, 0, d.fd, NPAGES, refs);
    e = errno;
    obs("imp.ret", "%s", rc_str(rc, e));
    if (!check(rc == 0, "import of a vgem dma-buf")) {
        free_dumb(&d);
        return;
    }
    ok = refs[NPAGES] == SENTINEL;
    for (int i = 0; i < NPAGES; i++)
        for (int j = 0; j < i; j++)
            ok &= refs[i] != refs[j];
    obs("imp.refs_distinct_exact_count", "%s", ok ? "yes" : "no");
    check(ok, "import refs duplicate, or written past count");

    m = xengnttab_map_domain_grant_refs(gt, NPAGES, 0, refs, RW);
    e = errno;
    obs("imp.map", "%s", ptr_str(m, e));
    if (check(m != NULL, "map imported refs")) {
        obs("imp.map.sees_buffer", "%s", check_pattern(m, NPAGES * PAGE, 61) ? "yes" : "no");
        check(check_pattern(m, NPAGES * PAGE, 61), "grant mapping does not show the buffer");
        fill_pattern(m, NPAGES * PAGE, 62);
        obs("imp.map.write_reaches_buffer", "%s",
            check_pattern(d.map, NPAGES * PAGE, 62) ? "yes" : "no");
        check(check_pattern(d.map, NPAGES * PAGE, 62), "write through grant mapping not in buffer");
        check(xengnttab_unmap(gt, m, NPAGES) == 0, "unmap");
    }
    {
        xengnttab_grant_copy_segment_t seg;
        unsigned char buf[256];
        memset(&seg, 0, sizeof seg);
        seg.source.foreign.ref = refs[2];
        seg.source.foreign.offset = 100;
        seg.dest.virt = buf;
        seg.len = sizeof buf;
        seg.flags = GNTCOPY_source_gref;
        rc = xengnttab_grant_copy(gt, 1, &seg);
        obs("imp.copy", "%s %s", rc_str(rc, errno), gntst_name(seg.status));
        check(rc == 0 && seg.status == GNTST_okay && !memcmp(buf, d.map + 2 * PAGE + 100, sizeof buf),
              "grant copy from an imported ref");
    }

    rc = xengnttab_dmabuf_imp_release(gt, d.fd);
    e = errno;
    obs("imp.release", "%s", rc_str(rc, e));
    check(rc == 0, "imp_release");
    errno = 0;
    m = xengnttab_map_domain_grant_refs(gt, 1, 0, refs, PROT_READ);
    e = errno;
    obs("imp.map_after_release", "%s", ptr_str(m, e));
    check(m == NULL && e != 0, "refs still mappable after imp_release");
    if (m)
        xengnttab_unmap(gt, m, 1);
    errno = 0;
    rc = xengnttab_dmabuf_imp_release(gt, d.fd);
    e = errno;
    obs("imp.release_twice", "%s", rc_str(rc, e));
    check(rc == -1 && e == ENOENT, "second imp_release must fail ENOENT");

    /* Closing the handle releases what it imported. */
    {
        xengnttab_handle *g2 = open_gnttab_or_exit();
        uint32_t r2[NPAGES];
        rc = xengnttab_dmabuf_imp_to_refs(g2, 0, d.fd, NPAGES, r2);
        e = errno;
        obs("imp.second_handle", "%s", rc_str(rc, e));
        check(rc == 0, "import through a second handle");
        check(xengnttab_close(g2) == 0, "close second handle");
        errno = 0;
        m = rc == 0 ? xengnttab_map_domain_grant_refs(gt, NPAGES, 0, r2, PROT_READ) : NULL;
        e = errno;
        obs("imp.map_after_handle_close", "%s", ptr_str(m, e));
        check(rc != 0 || (m == NULL && e != 0), "imports survive closing their handle");
        if (m)
            xengnttab_unmap(gt, m, NPAGES);
    }
    free_dumb(&d);
}

#if defined(__aarch64__)
/* The test module's request (testing/xdomain/kmod/xd_dmabuf_reader.c). */
struct xd_read { int32_t fd; uint32_t len; uint64_t buf; };
#define XD_READ_DMABUF _IOW('X', 1, struct xd_read)
#define NEXP 4

/* The dma-buf's bytes as an importer sees them: pattern SEED in all pages? */
static const char *importer_sees(int fd, int seed)
{
    static unsigned char buf[NEXP * PAGE];
    int dev = open("/dev/xd-dmabuf-reader", O_RDWR | O_CLOEXEC);
    struct xd_read r = { .fd = fd, .len = sizeof buf, .buf = (uintptr_t)buf };
    long got;

    if (dev < 0)
        return "no /dev/xd-dmabuf-reader";
    memset(buf, 0, sizeof buf);
    got = ioctl(dev, XD_READ_DMABUF, &r);
    close(dev);
    if (got != (long)sizeof buf)
        return got < 0 ? errname(errno) : "short read";
    return check_pattern(buf, sizeof buf, seed) ? "granted pages" : "other bytes";
}

static void wait_released(int fd, int ms, const char *key, int want_errno)
{
    int rc, e;

    errno = 0;
    rc = xengnttab_dmabuf_exp_wait_released(gt, fd, ms);
    e = errno;
    obs(key, "%s", rc_str(rc, e));
    check(want_errno ? rc == -1 && e == want_errno : rc == 0, "%s", key);
}

/* arm64 dom0: export works; what it must do. */
static void export_shared(xengntshr_handle *gs)
{
    uint32_t refs[NEXP], fd = SENTINEL;
    unsigned char *p = xengntshr_share_pages(gs, 0, NEXP, refs, 1);
    const char *seen;
    int rc, e, dup_fd;

    if (!check(p != NULL, "share for export: %s", errname(errno)))
        return;
    fill_pattern(p, NEXP * PAGE, 71);
    errno = 0;
    rc = xengnttab_dmabuf_exp_from_refs(gt, 0, 0, NEXP, refs, &fd);
    e = errno;
    obs("exp.arm64_dom0", "%s", rc_str(rc, e));
    if (!check(rc == 0 && fd != SENTINEL, "export in an arm64 dom0"))
        goto out;
    seen = importer_sees(fd, 71);
    obs("exp.importer_sees", "%s", seen);
    check(!strcmp(seen, "granted pages"), "the importer reads the granted pages");
    /* Zero copy: the dma-buf is the granted pages themselves. */
    fill_pattern(p, NEXP * PAGE, 72);
    seen = importer_sees(fd, 72);
    obs("exp.importer_sees_later_write", "%s", seen);
    check(!strcmp(seen, "granted pages"), "a later write through the share reaches the importer");

    wait_released(fd, 200, "exp.wait_released_while_held", ETIMEDOUT);
    /* A second user: the buffer lives until the last one goes. */
    dup_fd = dup(fd);
    close(fd);
    wait_released(fd, 200, "exp.wait_released_while_a_dup_holds_it", ETIMEDOUT);
    seen = importer_sees(dup_fd, 72);
    obs("exp.importer_sees_through_the_dup", "%s", seen);
    check(!strcmp(seen, "granted pages"), "the dup still reads the pages");
    close(dup_fd);
    wait_released(fd, 5000, "exp.wait_released_after_last_close", 0);
    /* Released: the grants are unmapped, the same refs export again, and the
     * pages unshare. */
    rc = xengnttab_dmabuf_exp_from_refs(gt, 0, GNTDEV_DMA_FLAG_WC, NEXP, refs, &fd);
    e = errno;
    obs("exp.again_wc", "%s", rc_str(rc, e));
    if (check(rc == 0, "export again (write-combining)")) {
        seen = importer_sees(fd, 72);
        obs("exp.again_importer_sees", "%s", seen);
        check(!strcmp(seen, "granted pages"), "the second export reads the pages");
        close(fd);
        wait_released(fd, 5000, "exp.again_wait_released_after_close", 0);
    }
out:
    check(xengntshr_unshare(gs, p, NEXP) == 0, "unshare after export");
}
#endif

static void export(void)
{
    xengntshr_handle *gs = open_gntshr_or_exit();
    uint32_t ref, fd = SENTINEL;
    void *s;
    int rc, e;

    s = xengntshr_share_pages(gs, 0, 1, &ref, 1);
    if (!check(s != NULL, "share for export: %s", errname(errno)))
        return;
#if defined(__aarch64__)
    export_shared(gs);
#else
    errno = 0;
    rc = xengnttab_dmabuf_exp_from_refs(gt, 0, 0, 1, &ref, &fd);
    e = errno;
    obs("exp.pv_dom0", "%s", rc_str(rc, e));
    check(rc == -1 && e == EINVAL, "export in a PV dom0 must fail EINVAL");
    obs("exp.fd_untouched", "%s", fd == SENTINEL ? "yes" : "no");
    check(fd == SENTINEL, "fd written by a failed export");
    errno = 0;
    rc = xengnttab_dmabuf_exp_from_refs(gt, 0, GNTDEV_DMA_FLAG_WC, 1, &ref, &fd);
    e = errno;
    obs("exp.pv_dom0_wc", "%s", rc_str(rc, e));
    check(rc == -1 && e == EINVAL, "export (WC) in a PV dom0 must fail EINVAL");
#endif
    errno = 0;
    rc = xengnttab_dmabuf_exp_from_refs(gt, 0, 0, 0, &ref, &fd);
    e = errno;
    obs("exp.count_0", "%s", rc_str(rc, e));
    check(rc == -1 && e == EINVAL, "export count 0 must fail EINVAL");

    errno = 12345;
    rc = xengnttab_dmabuf_exp_wait_released(gt, 9999, 10);
    e = errno;
    obs("exp.wait_released_unknown", "%d errno=%s", rc, errname(e));
    check(rc == 0 && e == 0, "wait_released on an unknown fd must return 0 with errno 0");
    errno = 12345;
    rc = xengnttab_dmabuf_exp_wait_released(gt, 9999, 0);
    e = errno;
    obs("exp.wait_released_unknown_0ms", "%d errno=%s", rc, errname(e));
    check(rc == 0 && e == 0, "wait_released(0 ms) on an unknown fd must return 0");

    check(xengntshr_unshare(gs, s, 1) == 0, "unshare");
    check(xengntshr_close(gs) == 0, "close gntshr");
}

int main(void)
{
    int fds0;

    t_init();
    fds0 = count_fds();
    gt = open_gnttab_or_exit();

    export();
    card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    obs("vgem.open", "%s", card >= 0 ? "ok" : errname(errno));
    if (check(card >= 0, "vgem /dev/dri/card0 missing (rig loads drm, drm_shmem_helper, vgem)")) {
        import();
        close(card);
    }

    return t_finish_released(gt, NULL, fds0);
}
