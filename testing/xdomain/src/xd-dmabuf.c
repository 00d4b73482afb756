/* xd-dmabuf ROLE PEER DIR: dma-buf across domains.
 *   importer: a 16-page vgem buffer (pattern 40) imported to refs for PEER
 *             (xengnttab_dmabuf_imp_to_refs); after the peer mapped them, the
 *             DRM buffer must show the peer's writes; imp_release 0.
 *   mapper:   maps the 16 refs in one batch, checks pattern 40, writes pattern
 *             41 into the first 256 bytes of pages 0 and 15.
 *   sharer:   shares 8 pages (pattern 50) with PEER for the exporter.
 *   exporter: xengnttab_dmabuf_exp_from_refs on the sharer's refs; with
 *             argument "einval" it must fail EINVAL (stock gntdev in an
 *             auto-translated domain); otherwise the dma-buf's bytes, read by
 *             the kernel test module (/dev/xd-dmabuf-reader), must be pattern
 *             50, exp_wait_released must time out (ETIMEDOUT) while the fd is
 *             open and return 0 once closed, also when another thread closes
 *             it during the wait. */
#define _GNU_SOURCE
#include "../../support/common.h"
#include "../../support/drm-uapi.h"
#include "xs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define NP 16
#define NE 8
#define RW (PROT_READ | PROT_WRITE)

struct xd_read { int32_t fd; uint32_t len; uint64_t buf; };
#define XD_READ_DMABUF _IOW('X', 1, struct xd_read)

static void importer(int peer)
{
    xengnttab_handle *gt = open_gnttab_or_exit();
    struct t_drm_mode_create_dumb c = { .height = NP, .width = 1024, .bpp = 32 };
    struct t_drm_mode_map_dumb m = { 0 };
    struct t_drm_prime_handle p = { 0 };
    uint32_t refs[NP];
    unsigned char *map;
    char buf[NP * 12];
    int card = open("/dev/dri/card0", O_RDWR | O_CLOEXEC), rc, n = 0;

    if (!check(card >= 0, "open /dev/dri/card0 (vgem)"))
        return;
    if (!check(!ioctl(card, T_DRM_IOCTL_MODE_CREATE_DUMB, &c) && c.size == NP * PAGE, "vgem dumb buffer"))
        return;
    m.handle = p.handle = c.handle;
    p.flags = O_RDWR | O_CLOEXEC;
    if (!check(!ioctl(card, T_DRM_IOCTL_MODE_MAP_DUMB, &m), "map dumb"))
        return;
    map = mmap(NULL, c.size, RW, MAP_SHARED, card, (off_t)m.offset);
    if (!check(map != MAP_FAILED, "mmap dumb") ||
        !check(!ioctl(card, T_DRM_IOCTL_PRIME_HANDLE_TO_FD, &p), "prime handle to fd"))
        return;
    fill_pattern(map, c.size, 40);
    rc = xengnttab_dmabuf_imp_to_refs(gt, peer, p.fd, NP, refs);
    obs("imp_to_refs", "%s", rc_str(rc, errno));
    if (!check(rc == 0, "imp_to_refs"))
        return;
    for (int i = 0; i < NP; i++)
        n += snprintf(buf + n, sizeof buf - n, "%u ", refs[i]);
    xs_put("refs", "%s", buf);
    free(xs_wait("mapped", 60));
    int ok = check_pattern(map, 256, 41) && check_pattern(map + 15 * PAGE, 256, 41);
    obs("drm_buffer.shows_peer_writes", "%s", ok ? "yes" : "no");
    check(ok, "peer's writes in the DRM buffer");
    obs("imp_release", "%s", rc_str(xengnttab_dmabuf_imp_release(gt, p.fd), errno));
    xs_put("done", "1");
    close(p.fd);
    xengnttab_close(gt);
}

static void mapper(int peer)
{
    xengnttab_handle *gt = open_gnttab_or_exit();
    uint32_t refs[NP], doms[NP];
    char *v = xs_wait("refs", 60);
    unsigned char *m;
    int ok;

    check(parse_u32s(v, refs, NP) == NP, "16 refs published");
    free(v);
    for (int i = 0; i < NP; i++)
        doms[i] = peer;
    m = xengnttab_map_grant_refs(gt, NP, doms, refs, RW);
    obs("map_grant_refs", "%s", ptr_str(m, errno));
    if (!check(m != NULL, "map the imported buffer's refs"))
        return;
    ok = check_pattern(m, NP * PAGE, 40);
    obs("mapping.shows_drm_bytes", "%s", ok ? "yes" : "no");
    check(ok, "DRM buffer's bytes through the grant mapping");
    fill_pattern(m, 256, 41);
    fill_pattern(m + 15 * PAGE, 256, 41);
    obs("unmap", "%s", rc_str(xengnttab_unmap(gt, m, NP), errno));
    xs_put("mapped", "1");
    free(xs_wait("done", 60));
    xengnttab_close(gt);
}

static void sharer(int peer)
{
    xengntshr_handle *gs = open_gntshr_or_exit();
    uint32_t refs[NE];
    char buf[NE * 12];
    int n = 0;
    unsigned char *p = xengntshr_share_pages(gs, peer, NE, refs, 1);

    obs("share", "%s", ptr_str(p, errno));
    if (!check(p != NULL, "share"))
        return;
    fill_pattern(p, NE * PAGE, 50);
    for (int i = 0; i < NE; i++)
        n += snprintf(buf + n, sizeof buf - n, "%u ", refs[i]);
    xs_put("refs", "%s", buf);
    free(xs_wait("done", 90));
    obs("unshare", "%s", rc_str(xengntshr_unshare(gs, p, NE), errno));
    xengntshr_close(gs);
}

static int closer_fd;
static void *closer(void *arg)
{
    (void)arg;
    usleep(300000);
    close(closer_fd);
    return NULL;
}

static void exporter(int peer, int expect_einval)
{
    xengnttab_handle *gt = open_gnttab_or_exit();
    uint32_t refs[NE], fd = 0;
    char *v = xs_wait("refs", 60);
    int rc, e;

    check(parse_u32s(v, refs, NE) == NE, "8 refs published");
    free(v);
    errno = 0;
    rc = xengnttab_dmabuf_exp_from_refs(gt, peer, 0, NE, refs, &fd);
    e = errno;
    obs("exp_from_refs", "%s", rc_str(rc, e));
    if (expect_einval) {
        check(rc == -1 && e == EINVAL, "stock gntdev: export must fail EINVAL");
        goto out;
    }
    if (!check(rc == 0, "exp_from_refs"))
        goto out;

    unsigned char *buf = calloc(NE, PAGE);
    int dev = open("/dev/xd-dmabuf-reader", O_RDWR | O_CLOEXEC);
    struct xd_read r = { .fd = (int32_t)fd, .len = NE * PAGE, .buf = (uintptr_t)buf };
    long got = dev >= 0 ? ioctl(dev, XD_READ_DMABUF, &r) : -1;
    obs("reader.bytes", "%ld%s", got, got < 0 ? errname(errno) : "");
    int ok = got == NE * PAGE && check_pattern(buf, NE * PAGE, 50);
    obs("dmabuf.holds_granted_pages", "%s", ok ? "yes" : "no");
    check(ok, "the exported dma-buf's bytes are the granted pages");

    errno = 0;
    rc = xengnttab_dmabuf_exp_wait_released(gt, fd, 200);
    obs("wait_released.while_open", "%s", rc_str(rc, errno));
    check(rc == -1 && errno == ETIMEDOUT, "wait while open must time out");
    close(fd);
    errno = 0;
    rc = xengnttab_dmabuf_exp_wait_released(gt, fd, 5000);
    obs("wait_released.after_close", "%s", rc_str(rc, errno));
    check(rc == 0, "wait after close");

    /* Released by another thread during the wait. */
    rc = xengnttab_dmabuf_exp_from_refs(gt, peer, 0, NE, refs, &fd);
    obs("exp_from_refs.again", "%s", rc_str(rc, errno));
    if (check(rc == 0, "second export")) {
        pthread_t t;
        closer_fd = (int)fd;
        pthread_create(&t, NULL, closer, NULL);
        errno = 0;
        rc = xengnttab_dmabuf_exp_wait_released(gt, fd, 10000);
        obs("wait_released.closed_by_other_thread", "%s", rc_str(rc, errno));
        check(rc == 0, "wait while another thread closes");
        pthread_join(t, NULL);
    }
    free(buf);
    if (dev >= 0)
        close(dev);
out:
    xs_put("done", "1");
    xengnttab_close(gt);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: xd-dmabuf importer|mapper|sharer|exporter PEER DIR [einval]\n");
        return 2;
    }
    int peer = atoi(argv[2]);
    t_init();
    xs_init_or_exit(argv[3]);
    if (!strcmp(argv[1], "importer"))
        importer(peer);
    else if (!strcmp(argv[1], "mapper"))
        mapper(peer);
    else if (!strcmp(argv[1], "sharer"))
        sharer(peer);
    else if (!strcmp(argv[1], "exporter"))
        exporter(peer, argc > 4 && !strcmp(argv[4], "einval"));
    else
        return 2;
    return t_finish();
}
