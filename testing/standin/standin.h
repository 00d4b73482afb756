/* Control interface of the xgt-standin LD_PRELOAD library (standin.c). */
#ifndef XGT_STANDIN_H
#define XGT_STANDIN_H

/* What the stand-in "kernel" holds now. */
struct xgt_standin_stats {
    int maps;            /* gntdev maps on a file's list */
    int vmas;            /* grant mappings in this process */
    int grants;          /* grant table entries in use */
    int gntalloc_pages;  /* gntalloc pages held by files */
    int events;          /* unmap notifications sent as events */
    int cleared_bytes;   /* unmap notifications that cleared a byte */
    int exports, imports; /* dma-bufs made and taken, ever */
    int injected;        /* failures injected so far */
};

/* After `skip` calls of `op` ("open", "mmap", or an ioctl name such as
 * "MAP_GRANT_REF", "GNTALLOC_SET_UNMAP_NOTIFY"), fail `times` of them (0:
 * every one) with `err`. */
int xgt_standin_fail(const char *op, int err, unsigned skip, unsigned times);
void xgt_standin_clear_faults(void);
void xgt_standin_stats(struct xgt_standin_stats *out);

#endif
