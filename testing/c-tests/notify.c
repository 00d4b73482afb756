/* notify: unmap notifications.
 *
 * Clear-byte: mapper side (map_grant_ref_notify) fires on xengnttab_unmap,
 * observed in the sharer's page; sharer side (share_page_notify) fires on
 * xengntshr_unshare, observed through the mapper's mapping; both fire when
 * the mapping/sharing process is killed with SIGKILL.  Event channel: a port
 * pair bound in this dom0 with libxenevtchn (unbound port for domid 0 plus
 * its interdomain peer); the event arrives on the peer when the mapping or
 * the share goes away, not before.  Failure paths: a read-only map with a
 * clear-byte offset and a port nobody bound both fail and leave nothing
 * mapped. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenevtchn.h>

#define RW (PROT_READ | PROT_WRITE)

static xengnttab_handle *gt;
static xengntshr_handle *gs;
static xenevtchn_handle *ev_local, *ev_peer;
static evtchn_port_t port_local, port_peer; /* notify on local, arrives on peer */

static void mapper_clear_on_unmap(void)
{
    uint32_t ref;
    volatile unsigned char *s, *m;
    int rc, e;

    s = xengntshr_share_pages(gs, 0, 1, &ref, 1);
    if (!check(s != NULL, "share: %s", errname(errno)))
        return;
    memset((void *)s, 0xff, PAGE);
    m = xengnttab_map_grant_ref_notify(gt, 0, ref, RW, 100, NO_NOTIFY);
    e = errno;
    obs("mapper_clear.map", "%s", ptr_str((void *)m, e));
    if (check(m != NULL, "map_grant_ref_notify")) {
        obs("mapper_clear.before_unmap", "0x%02x", s[100]);
        check(s[100] == 0xff, "byte cleared too early");
        rc = xengnttab_unmap(gt, (void *)m, 1);
        e = errno;
        obs("mapper_clear.unmap", "%s", rc_str(rc, e));
        check(rc == 0, "unmap");
        obs("mapper_clear.after_unmap", "0x%02x", s[100]);
        check(s[100] == 0, "notify byte not cleared by unmap");
        obs("mapper_clear.neighbours", "0x%02x 0x%02x", s[99], s[101]);
        check(s[99] == 0xff && s[101] == 0xff, "bytes other than the notify byte changed");
    }
    check(xengntshr_unshare(gs, (void *)s, 1) == 0, "unshare");
}

static void sharer_clear_on_unshare(void)
{
    uint32_t ref;
    volatile unsigned char *s, *m;
    int rc, e;

    s = xengntshr_share_page_notify(gs, 0, &ref, 1, 200, NO_NOTIFY);
    e = errno;
    obs("sharer_clear.share", "%s", ptr_str((void *)s, e));
    if (!check(s != NULL, "share_page_notify"))
        return;
    m = xengnttab_map_grant_ref(gt, 0, ref, RW);
    e = errno;
    obs("sharer_clear.map", "%s", ptr_str((void *)m, e));
    if (!check(m != NULL, "map")) {
        xengntshr_unshare(gs, (void *)s, 1);
        return;
    }
    memset((void *)m, 0xee, PAGE);
    obs("sharer_clear.before_unshare", "0x%02x", s[200]);
    check(s[200] == 0xee, "sharer does not see mapper's write");
    rc = xengntshr_unshare(gs, (void *)s, 1);
    e = errno;
    obs("sharer_clear.unshare", "%s", rc_str(rc, e));
    check(rc == 0, "unshare");
    obs("sharer_clear.after_unshare", "0x%02x", m[200]);
    check(m[200] == 0, "notify byte not cleared by unshare");
    obs("sharer_clear.neighbours", "0x%02x 0x%02x", m[199], m[201]);
    check(m[199] == 0xee && m[201] == 0xee, "other bytes changed");
    rc = xengnttab_unmap(gt, (void *)m, 1);
    check(rc == 0, "unmap after unshare");
}

/* Mapper killed: a child maps with a clear-byte notify and is SIGKILLed. */
static void mapper_killed(void)
{
    uint32_t ref;
    volatile unsigned char *s;
    int pfd[2], status;
    char c = 0;
    pid_t pid;

    s = xengntshr_share_pages(gs, 0, 1, &ref, 1);
    if (!check(s != NULL, "share: %s", errname(errno)))
        return;
    memset((void *)s, 0xff, PAGE);
    if (pipe(pfd))
        return;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        xengnttab_handle *g = xengnttab_open(NULL, 0);
        void *m = g ? xengnttab_map_grant_ref_notify(g, 0, ref, RW, 300, NO_NOTIFY) : NULL;
        c = m ? 'R' : 'F';
        if (write(pfd[1], &c, 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(pfd[1]);
    if (read(pfd[0], &c, 1) != 1)
        c = '?';
    close(pfd[0]);
    obs("mapper_killed.child_mapped", "%s", c == 'R' ? "yes" : "no");
    check(c == 'R', "child could not map with notify");
    obs("mapper_killed.before_kill", "0x%02x", s[300]);
    check(s[300] == 0xff, "byte cleared before the kill");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    obs("mapper_killed.after_kill", "0x%02x", s[300]);
    check(c != 'R' || s[300] == 0, "notify byte not cleared when the mapper was killed");
    check(xengntshr_unshare(gs, (void *)s, 1) == 0, "unshare");
}

/* Sharer killed: a child shares with a clear-byte notify and is SIGKILLed. */
static void sharer_killed(void)
{
    uint32_t ref = 0;
    volatile unsigned char *m;
    int pfd[2], status;
    pid_t pid;

    if (pipe(pfd))
        return;
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        xengntshr_handle *s = xengntshr_open(NULL, 0);
        uint32_t r = 0xffffffff;
        if (s && xengntshr_share_page_notify(s, 0, &r, 1, 400, NO_NOTIFY)) {
            /* page is zeroed: the parent writes to it through its mapping */
        } else
            r = 0xffffffff;
        if (write(pfd[1], &r, sizeof r) != sizeof r)
            _exit(2);
        for (;;)
            pause();
    }
    close(pfd[1]);
    if (read(pfd[0], &ref, sizeof ref) != sizeof ref)
        ref = 0xffffffff;
    close(pfd[0]);
    obs("sharer_killed.child_shared", "%s", ref != 0xffffffff ? "yes" : "no");
    m = ref != 0xffffffff ? xengnttab_map_grant_ref(gt, 0, ref, RW) : NULL;
    obs("sharer_killed.map", "%s", ptr_str((void *)m, errno));
    if (check(m != NULL, "map child's share")) {
        memset((void *)m, 0xdd, PAGE);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        obs("sharer_killed.after_kill", "0x%02x 0x%02x", m[400], m[401]);
        check(m[400] == 0 && m[401] == 0xdd, "notify byte not cleared when the sharer was killed");
        check(xengnttab_unmap(gt, (void *)m, 1) == 0, "unmap");
    } else {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
}

/* Waits up to ms for an event on the peer port; "received", "none" or "other". */
static const char *wait_event(int ms)
{
    struct pollfd p = { .fd = xenevtchn_fd(ev_peer), .events = POLLIN };
    xenevtchn_port_or_error_t port;
    if (poll(&p, 1, ms) <= 0)
        return "none";
    port = xenevtchn_pending(ev_peer);
    if (port < 0)
        return "pending-error";
    xenevtchn_unmask(ev_peer, port);
    return (evtchn_port_t)port == port_peer ? "received" : "other-port";
}

static void drain_events(void)
{
    int n = 0;
    while (strcmp(wait_event(200), "none") && n < 20)
        n++;
    note("drained %d pending event(s)", n);
}

static int setup_evtchn(void)
{
    xenevtchn_port_or_error_t a, b;
    ev_local = xenevtchn_open(NULL, 0);
    ev_peer = xenevtchn_open(NULL, 0);
    if (!ev_local || !ev_peer) {
        obs("evtchn.open", "%s", errname(errno));
        return -1;
    }
    a = xenevtchn_bind_unbound_port(ev_local, 0);
    if (a < 0) {
        obs("evtchn.bind_unbound", "%s", errname(errno));
        return -1;
    }
    b = xenevtchn_bind_interdomain(ev_peer, 0, a);
    if (b < 0) {
        obs("evtchn.bind_interdomain", "%s", errname(errno));
        return -1;
    }
    port_local = a;
    port_peer = b;
    /* Sanity: the pair works at all. */
    /* Binding an interdomain port marks it pending (Xen does so in case the
     * peer sent before the bind), and an unmask re-delivers a pending event:
     * drain everything before the real checks. */
    drain_events();
    xenevtchn_notify(ev_local, port_local);
    {
        const char *r = wait_event(5000);
        obs("evtchn.selftest", "%s", r);
        drain_events();
        return strcmp(r, "received") ? -1 : 0;
    }
}

static void event_on_unmap(void)
{
    uint32_t ref;
    void *s, *m;
    const char *r;
    int rc, e;

    s = xengntshr_share_pages(gs, 0, 1, &ref, 1);
    if (!check(s != NULL, "share: %s", errname(errno)))
        return;
    m = xengnttab_map_grant_ref_notify(gt, 0, ref, RW, NO_NOTIFY, port_local);
    e = errno;
    obs("event_unmap.map", "%s", ptr_str(m, e));
    if (check(m != NULL, "map with event notify")) {
        r = wait_event(0);
        obs("event_unmap.before", "%s", r);
        check(!strcmp(r, "none"), "event before unmap");
        rc = xengnttab_unmap(gt, m, 1);
        check(rc == 0, "unmap");
        r = wait_event(5000);
        obs("event_unmap.after", "%s", r);
        check(!strcmp(r, "received"), "no event on unmap");
        drain_events();
    }
    check(xengntshr_unshare(gs, s, 1) == 0, "unshare");

    /* Both actions at once. */
    s = xengntshr_share_pages(gs, 0, 1, &ref, 1);
    if (!check(s != NULL, "share: %s", errname(errno)))
        return;
    memset(s, 0x77, PAGE);
    m = xengnttab_map_grant_ref_notify(gt, 0, ref, RW, 7, port_local);
    e = errno;
    obs("event_unmap_both.map", "%s", ptr_str(m, e));
    if (check(m != NULL, "map with both notifications")) {
        check(xengnttab_unmap(gt, m, 1) == 0, "unmap");
        r = wait_event(5000);
        obs("event_unmap_both.event", "%s", r);
        check(!strcmp(r, "received"), "no event");
        drain_events();
        obs("event_unmap_both.byte", "0x%02x", ((unsigned char *)s)[7]);
        check(((unsigned char *)s)[7] == 0, "byte not cleared");
    }
    check(xengntshr_unshare(gs, s, 1) == 0, "unshare");
}

static void event_on_unshare(void)
{
    uint32_t ref;
    void *s;
    const char *r;
    int e;

    s = xengntshr_share_page_notify(gs, 0, &ref, 1, NO_NOTIFY, port_local);
    e = errno;
    obs("event_unshare.share", "%s", ptr_str(s, e));
    if (!check(s != NULL, "share_page_notify with port"))
        return;
    r = wait_event(0);
    obs("event_unshare.before", "%s", r);
    check(!strcmp(r, "none"), "event before unshare");
    check(xengntshr_unshare(gs, s, 1) == 0, "unshare");
    r = wait_event(5000);
    obs("event_unshare.after", "%s", r);
    check(!strcmp(r, "received"), "no event on unshare");
    drain_events();
}

static void failures(void)
{
    uint32_t ref, ref2;
    void *s, *m, *s2;
    int e;
    evtchn_port_t unbound = port_peer + 100; /* a port nobody bound */

    s = xengntshr_share_pages(gs, 0, 1, &ref, 1);
    if (!check(s != NULL, "share: %s", errname(errno)))
        return;
    errno = 0;
    m = xengnttab_map_grant_ref_notify(gt, 0, ref, PROT_READ, 10, NO_NOTIFY);
    e = errno;
    obs("fail.readonly_map_with_clear_byte", "%s", ptr_str(m, e));
    check(m == NULL && e == EINVAL, "read-only map with clear-byte must fail EINVAL");
    if (m)
        xengnttab_unmap(gt, m, 1);
    errno = 0;
    m = xengnttab_map_grant_ref_notify(gt, 0, ref, RW, NO_NOTIFY, unbound);
    e = errno;
    obs("fail.map_unbound_port", "%s", ptr_str(m, e));
    check(m == NULL && e == EINVAL, "notify on an unbound port must fail EINVAL");
    if (m)
        xengnttab_unmap(gt, m, 1);
    obs("fail.gntdev_maps", "%d", count_maps("/dev/xen/gntdev"));
    check(count_maps("/dev/xen/gntdev") == 0, "failed notify map left a mapping");
    /* Read-only map without notify still works afterwards. */
    m = xengnttab_map_grant_ref_notify(gt, 0, ref, PROT_READ, NO_NOTIFY, NO_NOTIFY);
    e = errno;
    obs("fail.readonly_map_without_notify", "%s", ptr_str(m, e));
    check(m != NULL, "read-only map without notify");
    if (m)
        check(xengnttab_unmap(gt, m, 1) == 0, "unmap");
    check(xengntshr_unshare(gs, s, 1) == 0, "unshare");

    errno = 0;
    s2 = xengntshr_share_page_notify(gs, 0, &ref2, 1, NO_NOTIFY, unbound);
    e = errno;
    obs("fail.share_unbound_port", "%s", ptr_str(s2, e));
    check(s2 == NULL && e == EINVAL, "share with notify on an unbound port must fail EINVAL");
    if (s2)
        xengntshr_unshare(gs, s2, 1);
    obs("fail.gntalloc_maps", "%d", count_maps("/dev/xen/gntalloc"));
    check(count_maps("/dev/xen/gntalloc") == 0, "failed share left a mapping");
}

int main(void)
{
    int fds0;

    t_init();
    fds0 = count_fds();
    gt = open_gnttab_or_exit();
    gs = open_gntshr_or_exit();

    mapper_clear_on_unmap();
    sharer_clear_on_unshare();
    mapper_killed();
    sharer_killed();
    if (check(setup_evtchn() == 0, "event channel setup")) {
        event_on_unmap();
        event_on_unshare();
        failures();
        xenevtchn_unbind(ev_peer, port_peer);
        xenevtchn_unbind(ev_local, port_local);
    }
    if (ev_local)
        xenevtchn_close(ev_local);
    if (ev_peer)
        xenevtchn_close(ev_peer);

    return t_finish_released(gt, gs, fds0);
}
