#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <regex.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int t_failed;
int t_checks;
static int ours;

void t_init(void)
{
    const char *lib = getenv("RIG_LIB");
    setvbuf(stdout, NULL, _IOLBF, 0);
    ours = lib && !strcmp(lib, "ours");
    printf("# RIG_LIB=%s\n", lib ? lib : "(unset)");
}

int t_ours(void) { return ours; }

int t_finish(void)
{
    printf("# %d checks, %d failed\n", t_checks, t_failed);
    fflush(stdout);
    return t_failed ? 1 : 0;
}

int t_finish_released(xengnttab_handle *gt, xengntshr_handle *gs, int fds0)
{
    obs("end.xen_maps", "%d", count_maps("/dev/xen/"));
    check(count_maps("/dev/xen/") == 0, "leftover /dev/xen mappings");
    if (gt)
        check(xengnttab_close(gt) == 0, "close gnttab");
    if (gs)
        check(xengntshr_close(gs) == 0, "close gntshr");
    obs("end.fds", "%s", count_fds() == fds0 ? "same" : "changed");
    check(count_fds() == fds0, "fds leaked");
    return t_finish();
}

void obs(const char *key, const char *fmt, ...)
{
    va_list ap;
    printf("%s: ", key);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void note(const char *fmt, ...)
{
    va_list ap;
    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

int check(int cond, const char *fmt, ...)
{
    va_list ap;
    t_checks++;
    if (cond)
        return 1;
    t_failed++;
    fputs("# FAIL: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return 0;
}

const char *errname(int e)
{
    static char buf[4][16];
    static int n;
    switch (e) {
    case 0: return "0";
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(ENODEV)
    E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ENOSPC) E(ERANGE) E(ENOSYS)
    E(EOVERFLOW) E(EOPNOTSUPP) E(ETIMEDOUT)
    E(EDOM) E(ENOEXEC) E(ECHILD) E(EROFS)
#undef E
    }
    n = (n + 1) % 4;
    snprintf(buf[n], sizeof buf[n], "E#%d", e);
    return buf[n];
}

const char *gntst_name(int st)
{
    static const char *names[] = {
        "GNTST_okay", "GNTST_general_error", "GNTST_bad_domain",
        "GNTST_bad_gntref", "GNTST_bad_handle", "GNTST_bad_virt_addr",
        "GNTST_bad_dev_addr", "GNTST_no_device_space",
        "GNTST_permission_denied", "GNTST_bad_page", "GNTST_bad_copy_arg",
        "GNTST_address_too_big", "GNTST_eagain", "GNTST_no_space",
    };
    static char buf[24];
    if (st <= 0 && st > -(int)(sizeof names / sizeof names[0]))
        return names[-st];
    snprintf(buf, sizeof buf, "GNTST_%d", st);
    return buf;
}

static char *rot(void)
{
    static char buf[8][48];
    static int n;
    n = (n + 1) % 8;
    return buf[n];
}

const char *rc_str(int rc, int err)
{
    char *b = rot();
    if (rc == 0)
        return "0";
    if (rc == -1)
        snprintf(b, 48, "-1 %s", errname(err));
    else
        snprintf(b, 48, "%d %s", rc, errname(err));
    return b;
}

const char *ptr_str(const void *p, int err)
{
    char *b = rot();
    if (p == MAP_FAILED)
        snprintf(b, 48, "MAP_FAILED %s", errname(err));
    else if (p)
        return "ok";
    else
        snprintf(b, 48, "NULL %s", errname(err));
    return b;
}

int count_maps(const char *needle)
{
    char line[512];
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

int count_fds(void)
{
    int n = 0;
    struct dirent *d;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    while ((d = readdir(dir)))
        if (d->d_name[0] != '.')
            n++;
    closedir(dir);
    return n - 1; /* the directory's own fd */
}

long read_long(const char *path)
{
    long v = -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

const char *run_isolated(case_fn fn, void *arg, unsigned timeout_s)
{
    static char result[256];
    char *shared;
    pid_t pid;
    int status;

    shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        snprintf(result, sizeof result, "harness-error mmap");
        return result;
    }
    shared[0] = 0;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        munmap(shared, PAGE);
        snprintf(result, sizeof result, "harness-error fork");
        return result;
    }
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm(timeout_s);
        fn(arg, shared, 200);
        shared[199] = 0;
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    shared[199] = 0;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        /* Whatever the child recorded before dying comes first. */
        snprintf(result, sizeof result, "%s%s%s", shared, shared[0] ? " " : "",
                 sig == SIGALRM ? "timeout" :
                 sig == SIGSEGV ? "crashed SIGSEGV" : sig == SIGBUS ? "crashed SIGBUS" :
                 sig == SIGABRT ? "crashed SIGABRT" : sig == SIGILL ? "crashed SIGILL" :
                 sig == SIGFPE ? "crashed SIGFPE" : "crashed signal");
    } else if (WEXITSTATUS(status) != 0) {
        snprintf(result, sizeof result, "exit %d", WEXITSTATUS(status));
    } else {
        snprintf(result, sizeof result, "%s", shared[0] ? shared : "no-outcome");
    }
    munmap(shared, PAGE);
    return result;
}

xengnttab_handle *open_gnttab_or_exit(void)
{
    xengnttab_handle *h = xengnttab_open(NULL, 0);
    if (!h) {
        obs("open.errno", "%s", errname(errno));
        note("cannot open /dev/xen/gntdev: not running in a Xen domain?");
        exit(1);
    }
    return h;
}

xengntshr_handle *open_gntshr_or_exit(void)
{
    xengntshr_handle *h = xengntshr_open(NULL, 0);
    if (!h) {
        obs("open.errno", "%s", errname(errno));
        note("cannot open /dev/xen/gntalloc: not running in a Xen domain?");
        exit(1);
    }
    return h;
}

void fill_pattern(void *p, size_t len, unsigned seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < len; i++)
        c[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 12) * 17u) ^ (seed >> 3));
}

int check_pattern(const void *p, size_t len, unsigned seed)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < len; i++)
        if (c[i] != (unsigned char)((i * 131u + seed * 7u + (i >> 12) * 17u) ^ (seed >> 3)))
            return 0;
    return 1;
}

int full_match(const char *re, const char *s)
{
    regex_t r;
    regmatch_t m;
    char anchored[256];
    int ok;
    snprintf(anchored, sizeof anchored, "^(%s)$", re);
    if (regcomp(&r, anchored, REG_EXTENDED))
        return 0;
    ok = regexec(&r, s, 1, &m, 0) == 0;
    regfree(&r);
    return ok;
}

void run_cases(const struct bcase *cases, size_t n, unsigned timeout_s)
{
    for (size_t i = 0; i < n; i++) {
        const struct bcase *c = &cases[i];
        const char *r = run_isolated(c->fn, NULL, timeout_s);
        obs(c->key, "%s", r);
        if (c->both)
            check(full_match(c->both, r), "%s: want /%s/", c->key, c->both);
        if (c->ours && t_ours())
            check(full_match(c->ours, r), "%s: ours must give /%s/", c->key, c->ours);
        if (!c->both && !c->ours)
            check(0, "%s: case without expectation", c->key);
    }
}

xengnttab_handle *cg;
xengntshr_handle *cs;

int child_open(char *out, size_t outlen)
{
    cg = xengnttab_open(NULL, 0);
    cs = xengntshr_open(NULL, 0);
    if (!cg || !cs) {
        OUT("open %s", errname(errno));
        return -1;
    }
    return 0;
}

int child_share_map(int n, uint32_t *refs, unsigned char **s, unsigned char **m, char *out, size_t outlen)
{
    if (child_open(out, outlen))
        return -1;
    *s = xengntshr_share_pages(cs, 0, n, refs, 1);
    if (!*s) {
        OUT("share %s", errname(errno));
        return -1;
    }
    fill_pattern(*s, (size_t)n * PAGE, 5);
    if (m) {
        *m = xengnttab_map_domain_grant_refs(cg, n, 0, refs, PROT_READ | PROT_WRITE);
        if (!*m) {
            OUT("map %s", errname(errno));
            return -1;
        }
    }
    return 0;
}
