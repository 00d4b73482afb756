#define _GNU_SOURCE
#include "xs.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

static struct xs_handle *xs;
static const char *xdir;

void xs_init_or_exit(const char *dir)
{
    xs = xs_open(0);
    if (!xs) {
        printf("xenstore.open: failed\n");
        exit(1);
    }
    xdir = dir;
}

void xs_put(const char *key, const char *fmt, ...)
{
    char path[256], *val;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&val, fmt, ap) < 0)
        exit(1);
    va_end(ap);
    snprintf(path, sizeof path, "%s/%s", xdir, key);
    if (!xs_write(xs, XBT_NULL, path, val, strlen(val))) {
        printf("xenstore.write %s: failed\n", key);
        exit(1);
    }
    free(val);
}

/*
 * Sleeps on a xenstore watch rather than polling: all domains share the one
 * emulated CPU, so a poll loop's round trips through xenstored are taken from
 * the tests. The watch fires once when set, then on every write to the key.
 */
char *xs_wait(const char *key, unsigned timeout_s)
{
    char path[256];
    unsigned int len, n;
    struct timespec t0, t;
    snprintf(path, sizeof path, "%s/%s", xdir, key);
    if (!xs_watch(xs, path, "xs_wait")) {
        printf("xenstore.watch %s: failed\n", key);
        exit(1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *v = xs_read(xs, XBT_NULL, path, &len);
        if (v) {
            xs_unwatch(xs, path, "xs_wait");
            return v;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left_ms = (long)timeout_s * 1000 - ((t.tv_sec - t0.tv_sec) * 1000 +
                                                 (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left_ms <= 0) {
            printf("xenstore.wait %s: timed out after %us\n", key, timeout_s);
            exit(1);
        }
        struct pollfd p = { .fd = xs_fileno(xs), .events = POLLIN };
        if (poll(&p, 1, (int)left_ms) > 0)
            free(xs_read_watch(xs, &n));
    }
}

int parse_u32s(const char *s, uint32_t *out, int max)
{
    int n = 0;
    char *end;
    while (n < max) {
        unsigned long v = strtoul(s, &end, 10);
        if (end == s)
            break;
        out[n++] = (uint32_t)v;
        s = end;
    }
    return n;
}

int self_domid(void)
{
    unsigned int len;
    char *v = xs_read(xs, XBT_NULL, "domid", &len);
    int id = v ? atoi(v) : -1;
    free(v);
    return id;
}
