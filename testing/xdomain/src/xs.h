/* Xenstore rendezvous for the cross-domain tests: both sides agree on a
 * directory (e.g. /local/domain/<guest>/data/<test>) and exchange keys there. */
#ifndef XD_XS_H
#define XD_XS_H
#include <stdint.h>

void xs_init_or_exit(const char *dir);        /* connect; remember dir */
void xs_put(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Waits up to timeout_s for dir/key; returns a malloc'd value or exits 1. */
char *xs_wait(const char *key, unsigned timeout_s);
/* Parses "r0 r1 ..." into refs (at most max); returns the count. */
int parse_u32s(const char *s, uint32_t *out, int max);
int self_domid(void);                          /* from xenstore "domid" */
#endif
