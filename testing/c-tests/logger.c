/* logger: messages reach the caller's xentoollog_logger.
 *
 * A logger of our own (vmessage records level, errno, context and text)
 * is passed to xengnttab_open/xengntshr_open; failing calls must deliver
 * exactly one XTL_ERROR message each with context "gnttab"/"gntshr" and the
 * failing errno, nothing must go to stderr, and errno must survive the
 * logging. Also Debian's stdio logger (xtl_createlogger_stdiostream) writing
 * to a file, as most Xen programs use it. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <xentoollog.h>

struct recorder {
    xentoollog_logger vtable;  /* first, as xentoollog requires */
    int count;
    int level, errnoval;
    char context[32], message[256];
};

static void record(xentoollog_logger *l, xentoollog_level level, int errnoval,
                   const char *context, const char *format, va_list al)
{
    struct recorder *r = (struct recorder *)l;
    r->count++;
    r->level = level;
    r->errnoval = errnoval;
    snprintf(r->context, sizeof r->context, "%s", context ? context : "(null)");
    vsnprintf(r->message, sizeof r->message, format, al);
    errno = EBADMSG; /* xtl_log must restore the caller's errno */
}

static void no_progress(xentoollog_logger *l, const char *context, const char *doing_what,
                        int percent, unsigned long done, unsigned long total)
{
    (void)l; (void)context; (void)doing_what; (void)percent; (void)done; (void)total;
}

static void no_destroy(xentoollog_logger *l) { (void)l; }

static void report(const char *what, struct recorder *r, int err)
{
    obs(what, "messages=%d level=%s errnoval=%s context=%s text=%s errno_after=%s",
        r->count, r->level == XTL_ERROR ? "error" : "other", errname(r->errnoval),
        r->context, r->message, errname(err));
    check(r->count == 1 && r->level == XTL_ERROR && r->errnoval == err,
          "%s: expected one XTL_ERROR message carrying errno", what);
    r->count = 0;
}

int main(void)
{
    struct recorder rec = { { record, no_progress, no_destroy }, 0, 0, 0, "", "" };
    xentoollog_logger *l = (xentoollog_logger *)&rec;
    xengnttab_handle *xgt;
    xengntshr_handle *xgs;
    xentoollog_logger_stdiostream *stdio_logger;
    FILE *log;
    char line[256];
    uint32_t ref = 0;
    void *p;
    int e;

    t_init();
    xgt = xengnttab_open(l, 0);
    xgs = xengntshr_open(l, 0);
    check(xgt && xgs, "open with a logger");
    obs("open.messages", "%d", rec.count);

    errno = 0;
    p = xengnttab_map_grant_ref(xgt, 0, 0xfffff0u, PROT_READ);
    e = errno;
    check(!p, "map of a ref never granted must fail");
    report("gnttab.map_bad_ref", &rec, e); /* "mmap failed" */

    errno = 0;
    check(xengnttab_dmabuf_exp_from_refs(xgt, 0, 0, 1, &ref, &ref) == -1, "export in PV fails");
    e = errno;
    report("gnttab.export", &rec, e);

    errno = 0;
    p = xengntshr_share_pages(xgs, 0, (int)read_long("/sys/module/xen_gntalloc/parameters/limit") + 1, &ref, 1);
    e = errno;
    check(!p, "share past gntalloc's limit must fail");
    /* Ours words this message differently (differences.txt); keep the rest. */
    obs("gntshr.share_over_limit", "messages=%d level=%s errnoval=%s context=%s errno_after=%s",
        rec.count, rec.level == XTL_ERROR ? "error" : "other", errname(rec.errnoval), rec.context, errname(e));
    check(rec.count == 1 && rec.errnoval == e, "one gntshr message with errno");
    rec.count = 0;

    xengnttab_close(xgt);
    xengntshr_close(xgs);
    obs("close.messages", "%d", rec.count);

    /* Debian's stdio logger, as xl and the daemons create it. */
    log = tmpfile();
    stdio_logger = xtl_createlogger_stdiostream(log, XTL_DEBUG, 0);
    xgt = xengnttab_open((xentoollog_logger *)stdio_logger, 0);
    check(xgt != NULL, "open with a stdio logger");
    check(!xengnttab_map_grant_ref(xgt, 0, 0xfffff0u, PROT_READ), "bad map fails");
    xengnttab_close(xgt);
    fflush(log);
    rewind(log);
    while (fgets(line, sizeof line, log)) {
        line[strcspn(line, "\n")] = 0;
        obs("stdio_logger.line", "%s", line);
    }
    xtl_logger_destroy((xentoollog_logger *)stdio_logger);
    fclose(log);
    return t_finish();
}
