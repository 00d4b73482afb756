/* Shared helpers for the C test programs (see README.md).
 *
 * Output contract: stdout carries only observation lines "key: value"
 * (deterministic: no addresses, fds, refs or timings) and comment lines
 * starting with '#'.  The library's own log lines go to stderr.  A program
 * exits 0 only if every check() held. */
#ifndef XGT_TEST_COMMON_H
#define XGT_TEST_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <xengnttab.h>

#define PAGE 4096u
#define UNMAP_NOTIFY_CLEAR_BYTE 0x1
#define UNMAP_NOTIFY_SEND_EVENT 0x2
#define NO_NOTIFY ((uint32_t)-1)

extern int t_failed;
extern int t_checks;

void t_init(void);                   /* line-buffer stdout, read RIG_LIB */
int t_ours(void);                    /* RIG_LIB=ours */
int t_finish(void);                  /* prints summary, returns exit status */
/* The common end of a test: nothing of /dev/xen still mapped, the handles
 * (either may be NULL) close with 0, no fd left beyond the fds0 counted at
 * the start; then t_finish(). */
int t_finish_released(xengnttab_handle *gt, xengntshr_handle *gs, int fds0);

void obs(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records a failed assertion (printed as a '#' line) when cond is false. */
int check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *errname(int e);          /* "EINVAL", "0" for 0, "E#123" */
const char *gntst_name(int st);      /* "GNTST_okay", ... */
/* "0" / "-1 EINVAL" style and "ok" / "NULL EINVAL" style result strings
 * (rotating static buffers, valid for a few calls). */
const char *rc_str(int rc, int err);
const char *ptr_str(const void *p, int err);

/* /proc/self/maps lines whose path contains needle; open fds. */
int count_maps(const char *needle);
int count_fds(void);
long read_long(const char *path);    /* -1 if unreadable */

/* Run fn in a forked child (fresh address space copy; the child must open
 * its own handles).  fn writes a short outcome into out.  Returns the
 * outcome; if the child died of a signal, whatever it had written so far
 * followed by "crashed SIGSEGV" etc., or "timeout" if it ran longer than
 * timeout_s seconds.  Write partial outcomes to out as you go. */
typedef void (*case_fn)(void *arg, char *out, size_t outlen);
const char *run_isolated(case_fn fn, void *arg, unsigned timeout_s);

/* A case run isolated (run_isolated) whose outcome is observed as `key`
 * and must fully match the regex `both` (every library) or `ours` (this
 * library; upstream's outcome is only observed, and differences.txt says
 * why it may differ). */
struct bcase {
    const char *key;
    case_fn fn;
    const char *both;
    const char *ours;
};
#define ERR "E[A-Z0-9]+"
int full_match(const char *re, const char *s);
void run_cases(const struct bcase *cases, size_t n, unsigned timeout_s);

/* For case functions (run_isolated): the outcome, written or appended. */
#define OUT(...) snprintf(out, outlen, __VA_ARGS__)
#define APPEND(...) snprintf(out + strlen(out), outlen - strlen(out), __VA_ARGS__)

/* The handles a case opens in its child: both kinds, or "open <E>" in out
 * and -1. */
extern xengnttab_handle *cg;
extern xengntshr_handle *cs;
int child_open(char *out, size_t outlen);
/* child_open, then a share of n pattern-filled pages and, if m is not
 * NULL, their gnttab mapping (read-write); on failure "share <E>" or
 * "map <E>" in out and -1. */
int child_share_map(int n, uint32_t *refs, unsigned char **s, unsigned char **m, char *out, size_t outlen);

/* Open handles or print "<what>.errno: <E>" and exit 1. */
xengnttab_handle *open_gnttab_or_exit(void);
xengntshr_handle *open_gntshr_or_exit(void);

/* Page content helpers: fill/verify a pattern derived from seed. */
void fill_pattern(void *p, size_t len, unsigned seed);
int check_pattern(const void *p, size_t len, unsigned seed);

#endif
