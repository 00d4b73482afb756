/*
 * dp-draw: runs in a guest with drm_xen_front loaded. Finds a connected
 * connector of the Xen para-virtual display, makes two XRGB8888 dumb buffers,
 * shows frame 0 with SETCRTC, then frames 1..N-1 with PAGE_FLIP, waiting for
 * each flip-complete event on the DRM fd. Frame n is the pattern
 * dt_pixel(x, y, n) below (testing/display-test/check-frames.py computes the same).
 *
 *   dp-draw [--card /dev/dri/card0] [--connector INDEX] [--frames N]
 *           [--static]   draw both buffers once (frames 0 and 1), then flip
 *                        between them: for the benchmark, no drawing per frame
 *           [--hold S]   keep the last frame on screen S seconds before
 *                        exiting, after writing "@@DP-DRAW holding frame N" to
 *                        /dev/console (dom0 then takes a screendump)
 *
 * stdout: "key: value" lines. Exit status 0 only if every frame was shown.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "drm-kms.h"

static uint32_t dt_pixel(uint32_t x, uint32_t y, uint32_t n)
{
    uint32_t r = (x + 3 * n) & 0xff, g = (y + 5 * n) & 0xff;
    uint32_t b = ((x >> 3) ^ (y >> 3) ^ (n * 37)) & 0xff;
    return (r << 16) | (g << 8) | b;   /* XRGB8888, X = 0 */
}

static void die(const char *what)
{
    printf("error: %s: %s\n", what, strerror(errno));
    fprintf(stderr, "dp-draw: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do r = ioctl(fd, req, arg); while (r < 0 && (errno == EINTR || errno == EAGAIN));
    return r;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

struct buf { uint32_t handle, pitch, fb; uint64_t size; uint32_t *px; };

static void draw(struct buf *b, uint32_t w, uint32_t h, uint32_t n)
{
    for (uint32_t y = 0; y < h; y++) {
        uint32_t *row = (uint32_t *)((char *)b->px + (size_t)y * b->pitch);
        for (uint32_t x = 0; x < w; x++) row[x] = dt_pixel(x, y, n);
    }
}

int main(int argc, char **argv)
{
    const char *card = "/dev/dri/card0";
    int want_conn = 0, frames = 8, is_static = 0, hold = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--card") && i + 1 < argc) card = argv[++i];
        else if (!strcmp(argv[i], "--connector") && i + 1 < argc) want_conn = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc) frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--static")) is_static = 1;
        else if (!strcmp(argv[i], "--hold") && i + 1 < argc) hold = atoi(argv[++i]);
        else { fprintf(stderr, "usage: dp-draw [--card DEV] [--connector I] [--frames N] [--static] [--hold S]\n"); return 2; }
    }
    if (frames < 1) frames = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);   /* keep what was printed if we crash */
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++) {   /* the card appears once the frontend connected */
        fd = open(card, O_RDWR | O_CLOEXEC);
        if (fd < 0) usleep(100000);
    }
    if (fd < 0) die(card);

    struct k_mode_card_res res = {0};
    if (xioctl(fd, K_IOCTL_MODE_GETRESOURCES, &res)) die("GETRESOURCES");
    uint32_t crtcs[16], conns[16], encs[16];
    if (res.count_crtcs > 16 || res.count_connectors > 16 || res.count_encoders > 16) { errno = E2BIG; die("resources"); }
    struct k_mode_card_res r2 = { .crtc_id_ptr = (uintptr_t)crtcs, .connector_id_ptr = (uintptr_t)conns,
        .encoder_id_ptr = (uintptr_t)encs, .count_crtcs = res.count_crtcs,
        .count_connectors = res.count_connectors, .count_encoders = res.count_encoders };
    if (xioctl(fd, K_IOCTL_MODE_GETRESOURCES, &r2)) die("GETRESOURCES (ids)");
    printf("card.connectors: %u\ncard.crtcs: %u\n", r2.count_connectors, r2.count_crtcs);
    if (want_conn < 0 || (uint32_t)want_conn >= r2.count_connectors) { errno = ENODEV; die("no such connector"); }

    struct k_mode_modeinfo modes[8];
    uint32_t conn_encs[8];
    struct k_mode_get_connector c = { .connector_id = conns[want_conn] };
    if (xioctl(fd, K_IOCTL_MODE_GETCONNECTOR, &c)) die("GETCONNECTOR");
    if (c.count_modes == 0) { errno = ENOENT; die("connector has no mode"); }
    if (c.count_modes > 8) c.count_modes = 8;
    if (c.count_encoders > 8) c.count_encoders = 8;
    c.modes_ptr = (uintptr_t)modes; c.encoders_ptr = (uintptr_t)conn_encs;
    c.count_props = 0; c.props_ptr = c.prop_values_ptr = 0;
    if (xioctl(fd, K_IOCTL_MODE_GETCONNECTOR, &c)) die("GETCONNECTOR (modes)");
    printf("connector.connected: %s\n", c.connection == K_MODE_CONNECTED ? "yes" : "no");
    struct k_mode_modeinfo mode = modes[0];
    uint32_t w = mode.hdisplay, h = mode.vdisplay;
    printf("mode: %ux%u\n", w, h);

    /* The CRTC: the encoder's current one, else the first it may drive. */
    uint32_t crtc = 0;
    uint32_t enc_id = c.encoder_id ? c.encoder_id : (c.count_encoders ? conn_encs[0] : 0);
    if (enc_id) {
        struct k_mode_get_encoder e = { .encoder_id = enc_id };
        if (xioctl(fd, K_IOCTL_MODE_GETENCODER, &e)) die("GETENCODER");
        crtc = e.crtc_id;
        for (uint32_t i = 0; !crtc && i < r2.count_crtcs; i++)
            if (e.possible_crtcs & (1u << i)) crtc = crtcs[i];
    }
    if (!crtc && r2.count_crtcs > (uint32_t)want_conn) crtc = crtcs[want_conn];
    if (!crtc) { errno = ENODEV; die("no CRTC"); }

    struct buf b[2];
    for (int i = 0; i < 2; i++) {
        struct k_mode_create_dumb cd = { .height = h, .width = w, .bpp = 32 };
        if (xioctl(fd, K_IOCTL_MODE_CREATE_DUMB, &cd)) die("CREATE_DUMB");
        b[i].handle = cd.handle; b[i].pitch = cd.pitch; b[i].size = cd.size;
        struct k_mode_fb_cmd fb = { .width = w, .height = h, .pitch = cd.pitch, .bpp = 32, .depth = 24, .handle = cd.handle };
        if (xioctl(fd, K_IOCTL_MODE_ADDFB, &fb)) die("ADDFB");
        b[i].fb = fb.fb_id;
        struct k_mode_map_dumb md = { .handle = cd.handle };
        if (xioctl(fd, K_IOCTL_MODE_MAP_DUMB, &md)) die("MAP_DUMB");
        b[i].px = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, md.offset);
        if (b[i].px == MAP_FAILED) die("mmap dumb buffer");
    }
    printf("buffer.pitch: %u\n", b[0].pitch);

    draw(&b[0], w, h, 0);
    if (is_static && frames > 1) draw(&b[1], w, h, 1);
    struct k_mode_crtc sc = { .set_connectors_ptr = (uintptr_t)&conns[want_conn], .count_connectors = 1,
        .crtc_id = crtc, .fb_id = b[0].fb, .mode_valid = 1, .mode = mode };
    double t0 = now();
    if (xioctl(fd, K_IOCTL_MODE_SETCRTC, &sc)) die("SETCRTC");
    double t1 = now();
    printf("setcrtc: ok\n");

    int shown = 1;
    double draw_s = 0, lat_sum = 0, lat_max = 0;
    for (int n = 1; n < frames; n++) {
        struct buf *nb = &b[n % 2];
        if (!is_static) { double d0 = now(); draw(nb, w, h, n); draw_s += now() - d0; }
        struct k_mode_crtc_page_flip pf = { .crtc_id = crtc, .fb_id = nb->fb, .flags = K_MODE_PAGE_FLIP_EVENT, .user_data = n };
        double f0 = now();
        if (xioctl(fd, K_IOCTL_MODE_PAGE_FLIP, &pf)) die("PAGE_FLIP");
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int got = 0;
        while (!got) {
            int pr = poll(&p, 1, 5000);
            if (pr == 0) { printf("error: no flip event for frame %d within 5 s\n", n); fprintf(stderr, "dp-draw: flip %d timed out\n", n); return 1; }
            if (pr < 0) { if (errno == EINTR) continue; die("poll"); }
            char ev[1024];
            ssize_t len = read(fd, ev, sizeof ev);
            if (len < 0) { if (errno == EINTR || errno == EAGAIN) continue; die("read event"); }
            for (ssize_t o = 0; o + (ssize_t)sizeof(struct k_event) <= len; ) {
                struct k_event *e = (struct k_event *)(ev + o);
                if (e->length < sizeof *e) break;
                if (e->type == K_EVENT_FLIP_COMPLETE) {
                    struct k_event_vblank *v = (struct k_event_vblank *)e;
                    if (v->user_data != (uint64_t)n) { printf("error: flip event for %llu, expected %d\n", (unsigned long long)v->user_data, n); return 1; }
                    got = 1;
                }
                o += e->length;
            }
        }
        double lat = now() - f0;   /* flip request to flip-complete event */
        lat_sum += lat;
        if (lat > lat_max) lat_max = lat;
        shown++;
    }
    double t2 = now();
    printf("frames.shown: %d\n", shown);
    printf("# setcrtc %.1f ms, %d flips in %.3f s (%.1f flips/s), drawing %.3f s\n",
           (t1 - t0) * 1e3, frames - 1, t2 - t1, frames > 1 ? (frames - 1) / (t2 - t1) : 0.0, draw_s);
    if (frames > 1)
        printf("# bench: mode %ux%u flips %d seconds %.4f draw_seconds %.4f lat_avg_ms %.2f lat_max_ms %.2f\n",
               w, h, frames - 1, t2 - t1, draw_s, lat_sum * 1e3 / (frames - 1), lat_max * 1e3);
    if (hold > 0) {
        /* the console (hvc0) is logged in dom0 by xenconsoled */
        FILE *con = fopen("/dev/console", "w");
        if (con) { fprintf(con, "@@DP-DRAW holding frame %d\n", frames - 1); fclose(con); }
        printf("held.frame: %d\n", frames - 1);
        sleep((unsigned)hold);
    }
    /* Closing the fd takes the frame off the screen and releases the rest. */
    return shown == frames ? 0 : 1;
}
