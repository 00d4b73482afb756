#define _GNU_SOURCE
#include "xs.h"

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

char *xs_wait(const char *key, unsigned timeout_s)
{
    char path[256];
    unsigned int len;
    struct timespec t0, t;
    snprintf(path, sizeof path, "%s/%s", xdir, key);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *v = xs_read(xs, XBT_NULL, path, &len);
        if (v)
            return v;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= (time_t)timeout_s) {
            printf("xenstore.wait %s: timed out after %us\n", key, timeout_s);
            exit(1);
        }
        usleep(20000);
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
