/* xd-notify sharer|mapper PEER DIR [unmap|hang]: unmap notification across domains.
 *
 * The sharer shares one page (bytes 0xff) and an unbound event channel with
 * PEER. The mapper binds the channel, maps the page with
 * xengnttab_map_grant_ref_notify (clear byte 100, send the event), writes byte
 * 50, and then either unmaps ("unmap") or waits to be killed ("hang"; the test
 * script kills it once the sharer has written "checked"). The sharer must see
 * byte 50 written, byte 100 still set while mapped, then the event and byte
 * 100 cleared, bytes 99 and 101 untouched. */
#define _GNU_SOURCE
#include "../../support/common.h"
#include "xs.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenevtchn.h>

static int wait_event(xenevtchn_handle *ev, evtchn_port_t want, int timeout_ms)
{
    struct pollfd p = { .fd = xenevtchn_fd(ev), .events = POLLIN };
    if (poll(&p, 1, timeout_ms) != 1)
        return 0;
    xenevtchn_port_or_error_t port = xenevtchn_pending(ev);
    if (port < 0)
        return 0;
    xenevtchn_unmask(ev, port);
    return (evtchn_port_t)port == want;
}

static void sharer(int peer)
{
    xengntshr_handle *gs = open_gntshr_or_exit();
    xenevtchn_handle *ev = xenevtchn_open(NULL, 0);
    uint32_t ref;
    unsigned char *s;
    int port;

    if (!check(ev != NULL, "xenevtchn_open"))
        return;
    port = xenevtchn_bind_unbound_port(ev, peer);
    if (!check(port >= 0, "bind_unbound_port"))
        return;
    s = xengntshr_share_pages(gs, peer, 1, &ref, 1);
    obs("share", "%s", ptr_str(s, errno));
    if (!check(s != NULL, "share"))
        return;
    memset(s, 0xff, PAGE);
    xs_put("ref", "%u", ref);
    xs_put("port", "%d", port);

    free(xs_wait("mapped", 60));
    obs("sharer.sees_mapper_write", "%s", s[50] == 0x5a ? "yes" : "no");
    check(s[50] == 0x5a, "mapper's write at byte 50");
    obs("while_mapped.byte100", "0x%02x", s[100]);
    check(s[100] == 0xff, "notify byte cleared too early");
    xs_put("checked", "1");

    int got = wait_event(ev, port, 30000);
    obs("notify.event", "%s", got ? "received" : "none");
    check(got, "no event within 30 s");
    obs("notify.byte100", "0x%02x", s[100]);
    check(s[100] == 0, "notify byte not cleared");
    check(s[99] == 0xff && s[101] == 0xff, "bytes next to the notify byte changed");
    xengntshr_unshare(gs, s, 1);
    xenevtchn_close(ev);
    xengntshr_close(gs);
}

static void mapper(int peer, int hang)
{
    xengnttab_handle *gt = open_gnttab_or_exit();
    xenevtchn_handle *ev = xenevtchn_open(NULL, 0);
    char *v;
    uint32_t ref;
    int rport, lport;
    unsigned char *m;

    if (!check(ev != NULL, "xenevtchn_open"))
        return;
    v = xs_wait("ref", 60);
    ref = strtoul(v, NULL, 10);
    free(v);
    v = xs_wait("port", 60);
    rport = atoi(v);
    free(v);
    lport = xenevtchn_bind_interdomain(ev, peer, rport);
    if (!check(lport >= 0, "bind_interdomain"))
        return;
    m = xengnttab_map_grant_ref_notify(gt, peer, ref, PROT_READ | PROT_WRITE, 100, lport);
    obs("map_notify", "%s", ptr_str(m, errno));
    if (!check(m != NULL, "map_grant_ref_notify"))
        return;
    m[50] = 0x5a;
    xs_put("mapped", "1");
    free(xs_wait("checked", 60));
    if (hang) {
        obs("mapper", "waiting to be killed");
        fflush(stdout);
        for (;;)
            pause();
    }
    obs("unmap", "%s", rc_str(xengnttab_unmap(gt, m, 1), errno));
    xengnttab_close(gt);
    xenevtchn_close(ev);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "sharer") && strcmp(argv[1], "mapper"))) {
        fprintf(stderr, "usage: xd-notify sharer|mapper PEER DIR [unmap|hang]\n");
        return 2;
    }
    t_init();
    xs_init_or_exit(argv[3]);
    if (!strcmp(argv[1], "sharer"))
        sharer(atoi(argv[2]));
    else
        mapper(atoi(argv[2]), argc > 4 && !strcmp(argv[4], "hang"));
    return t_finish();
}
