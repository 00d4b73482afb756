/*
 * xgt-standin: a stand-in for Linux's /dev/xen/gntdev and /dev/xen/gntalloc,
 * loaded with LD_PRELOAD, so that every error path of a grant-table library
 * can be reached on a machine without Xen, on demand.
 *
 * It models the drivers of a PV dom0 (Linux 6.1, drivers/xen/gntdev.c,
 * gntdev-dmabuf.c, gntalloc.c) as far as a library can observe them:
 *  - per-open-file state (maps, their indexes, gntalloc pages) lives in
 *    shared memory, so a fork child sees the same file as its parent;
 *  - grant mappings are not inherited by a fork child (PV's VM_DONTCOPY);
 *  - MAP_GRANT_REF hands out the first free index; mmap must name a map's
 *    exact index and count, once; UNMAP_GRANT_REF needs the exact index and
 *    count (0 = any); GET_OFFSET_FOR_VADDR answers for the first mapping of
 *    the process that ends above the address (find_vma), EINVAL if that is
 *    not a gntdev one;
 *  - grants: only this domain (0) exists; a page shared to another domain,
 *    or read-only and mapped writable, fails the mmap with EINVAL;
 *  - notifications: a cleared byte when the page goes, an event counted;
 *  - grant copy with per-segment status, EFAULT for bad local buffers;
 *  - dma-buf: export refused (EINVAL, PV) unless XGT_STANDIN_AUTOTRANSLATED=1;
 *    import of a memfd whose size is exactly count pages;
 *  - EFAULT for any bad user pointer handed to an ioctl;
 *  - injectable failures at every call (xgt_standin_fail(), or the
 *    XGT_STANDIN_FAIL environment variable "op:ERRNO[:skip[:times]],...").
 * Every intercepted call runs with signals blocked, as a system call is
 * atomic to signal handlers. The real-Xen suites stay the authority on what
 * the kernel does; this stand-in is checked against them (testing/README.md).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "standin.h"

#define PAGE 4096u
#define MAX_FILES 256
#define MAX_MAPS 8192
#define MAX_GRANTS 65536
#define POOL_PAGES 65536 /* 256 MiB of sparse backing store */
#define MAX_GREFS 65536
#define MAX_EXPORTS 256
#define MAX_IMPORTS 256
#define MAX_VMAS 16384
#define MAX_FAULTS 32
#define REF_CHUNK 64 /* map refs are kept in chunks of this many */
#define REF_CHUNKS 16384
#define FIRST_REF 8 /* refs below are reserved, as in Xen */

/* ---- the kernel ABI (include/uapi/xen/gntdev.h, gntalloc.h; LP64) ---- */
struct grant_ref_pair { uint32_t domid, ref; };
struct map_grant_ref { uint32_t count, pad; uint64_t index; struct grant_ref_pair refs[1]; };
struct unmap_grant_ref { uint64_t index; uint32_t count, pad; };
struct get_offset { uint64_t vaddr, offset; uint32_t count, pad; };
struct unmap_notify { uint64_t index; uint32_t action, port; };
struct copy_seg {
    union { void *virt; struct { uint32_t ref; uint16_t offset, domid; } foreign; } source, dest;
    uint16_t len, flags;
    int16_t status;
};
struct grant_copy { unsigned int count; struct copy_seg *segments; };
struct exp_from_refs { uint32_t flags, count, fd, domid, refs[1]; };
struct exp_wait { uint32_t fd, wait_to_ms; };
struct imp_to_refs { uint32_t fd, count, domid, reserved, refs[1]; };
struct imp_release { uint32_t fd, reserved; };
struct alloc_gref { uint16_t domid, flags; uint32_t count; uint64_t index; uint32_t gref_ids[1]; };
struct dealloc_gref { uint64_t index; uint32_t count; };

#define IOC(nr, type) ((unsigned long)(sizeof(type) << 16 | 'G' << 8 | (nr)))
#define NOTIFY_CLEAR 1u
#define NOTIFY_EVENT 2u
#define GNTCOPY_SRC 1u
#define GNTCOPY_DST 2u
#define GNTST_okay 0
#define GNTST_bad_domain (-2)
#define GNTST_bad_gntref (-3)
#define GNTST_permission_denied (-8)
#define GNTST_bad_copy_arg (-10)

enum kind { GNTDEV = 1, GNTALLOC = 2 };

/* ---- shared state: one per process family ---- */
struct file { int used, kind; ino_t ino; uint64_t next_page; pid_t holders[8]; };
struct gmap {
    int used, file, mmapped, vma_live, removed, readonly;
    uint64_t index; /* pages */
    uint32_t count;
    uint32_t ref_chunk; /* its refs: S->ref_pool[ref_chunk * REF_CHUNK ...] */
    uint32_t notify_action, notify_port;
    uint64_t notify_byte; /* byte offset from the map's start */
};
struct grant {
    int used, readonly, ended, import; /* import: -1 for a pool page */
    uint16_t to;
    uint32_t page, mappers;
    int gref; /* gntalloc record, -1 for imports */
};
struct gref {
    int used, file, deallocd, users, grant;
    uint64_t page_index; /* in the file's index space */
    uint32_t notify_action, notify_port, notify_byte;
};
struct export { int used, file; uint32_t fd; ino_t ino; uint32_t count; int grants[64]; };
struct import { int used, file; uint32_t fd; int dup_fd; pid_t importer; uint32_t count, first_grant; };
struct fault { char op[32]; int err; unsigned skip, times; int used; };
/* A grant mapping of one process (a fork child does not inherit them). */
struct vma { int used, kind, map, gref0; pid_t pid; uintptr_t start, end; };

struct state {
    pthread_mutex_t lock;
    int pool_fd_dev, pool_fd_alloc; /* the same tmpfs file under two names */
    uint8_t page_used[POOL_PAGES];
    struct file files[MAX_FILES];
    struct gmap maps[MAX_MAPS];
    struct grant grants[MAX_GRANTS];
    struct gref grefs[MAX_GREFS];
    struct export exports[MAX_EXPORTS];
    struct import imports[MAX_IMPORTS];
    struct fault faults[MAX_FAULTS];
    struct vma vmas[MAX_VMAS];
    uint8_t chunk_used[REF_CHUNKS];
    struct grant_ref_pair ref_pool[REF_CHUNKS * REF_CHUNK];
    struct xgt_standin_stats stats;
    unsigned gntdev_limit, gntalloc_limit, gntalloc_pages;
    int autotranslated;
};

static struct state *S;



#define REAL(name) ({ static __typeof__(&name) real_; if (!real_) real_ = (__typeof__(&name))dlsym(RTLD_NEXT, #name); real_; })

/* ---- locking: a system call is atomic to signal handlers ---- */
static __thread sigset_t saved_mask;

static void lock(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved_mask);
    if (pthread_mutex_lock(&S->lock) == EOWNERDEAD)
        pthread_mutex_consistent(&S->lock);
}

static void unlock(void)
{
    pthread_mutex_unlock(&S->lock);
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
}

/* Return from an intercepted call with errno set, after unlocking. */
static long fail_unlock(int err)
{
    unlock();
    errno = err;
    return -1;
}

/* ---- injected failures ---- */
static int injected(const char *op)
{
    for (int i = 0; i < MAX_FAULTS; i++) {
        struct fault *f = &S->faults[i];
        if (!f->used || strcmp(f->op, op))
            continue;
        if (f->skip) {
            f->skip--;
            continue;
        }
        int err = f->err;
        if (f->times && --f->times == 0)
            f->used = 0;
        S->stats.injected++;
        return err;
    }
    return 0;
}

int xgt_standin_fail(const char *op, int err, unsigned skip, unsigned times)
{
    int rc = -1;
    lock();
    for (int i = 0; i < MAX_FAULTS; i++)
        if (!S->faults[i].used) {
            struct fault *f = &S->faults[i];
            snprintf(f->op, sizeof f->op, "%s", op);
            f->err = err;
            f->skip = skip;
            f->times = times;
            f->used = 1;
            rc = 0;
            break;
        }
    unlock();
    return rc;
}

void xgt_standin_clear_faults(void)
{
    lock();
    memset(S->faults, 0, sizeof S->faults);
    unlock();
}

static void reap_dead_processes(void);

void xgt_standin_stats(struct xgt_standin_stats *out)
{
    lock();
    reap_dead_processes();
    struct xgt_standin_stats s = S->stats;
    s.maps = s.grants = s.gntalloc_pages = s.vmas = 0;
    for (int i = 0; i < MAX_MAPS; i++)
        s.maps += S->maps[i].used && !S->maps[i].removed;
    for (int i = 0; i < MAX_GRANTS; i++)
        s.grants += S->grants[i].used;
    for (int i = 0; i < MAX_GREFS; i++)
        s.gntalloc_pages += S->grefs[i].used;
    for (int i = 0; i < MAX_VMAS; i++)
        s.vmas += S->vmas[i].used && S->vmas[i].pid == getpid();
    *out = s;
    unlock();
}

static void parse_faults(const char *spec)
{
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char op[32];
        int err = 0;
        unsigned skip = 0, times = 1;
        if (sscanf(item, "%31[^:]:%d:%u:%u", op, &err, &skip, &times) >= 2)
            xgt_standin_fail(op, err, skip, times);
    }
}

/* ---- set-up ---- */
static unsigned env_unsigned(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 0) : dflt;
}

/* The backing store of every granted page: one tmpfs file, opened under a
 * path ending in /dev/xen/gntdev and under one ending in /dev/xen/gntalloc,
 * so that /proc/self/maps names mappings as the real devices do. */
static void make_pool(void)
{
    char dir[] = "/dev/shm/xgt-standin.XXXXXX", a[128], b[128];
    if (!mkdtemp(dir))
        abort();
    snprintf(a, sizeof a, "%s/dev", dir);
    mkdir(a, 0700);
    snprintf(a, sizeof a, "%s/dev/xen", dir);
    mkdir(a, 0700);
    snprintf(a, sizeof a, "%s/dev/xen/gntdev", dir);
    snprintf(b, sizeof b, "%s/dev/xen/gntalloc", dir);
    S->pool_fd_dev = REAL(open)(a, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (S->pool_fd_dev < 0 || link(a, b) != 0)
        abort();
    S->pool_fd_alloc = REAL(open)(b, O_RDWR | O_CLOEXEC);
    if (S->pool_fd_alloc < 0 || ftruncate(S->pool_fd_dev, (off_t)POOL_PAGES * PAGE) != 0)
        abort();
    unlink(a);
    unlink(b);
    snprintf(a, sizeof a, "%s/dev/xen", dir);
    rmdir(a);
    snprintf(a, sizeof a, "%s/dev", dir);
    rmdir(a);
    rmdir(dir);
}

__attribute__((constructor)) static void init(void)
{
    S = REAL(mmap)(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (S == MAP_FAILED)
        abort();
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&S->lock, &a);
    make_pool();
    S->gntdev_limit = env_unsigned("XGT_STANDIN_GNTDEV_LIMIT", 65536);
    S->gntalloc_limit = env_unsigned("XGT_STANDIN_GNTALLOC_LIMIT", 1024);
    S->autotranslated = env_unsigned("XGT_STANDIN_AUTOTRANSLATED", 0) != 0;
    const char *spec = getenv("XGT_STANDIN_FAIL");
    if (spec)
        parse_faults(spec);
}

/* ---- user memory, read and written as the kernel does: EFAULT, no crash ---- */
static int copy_from_user(void *dst, const void *src, size_t len)
{
    struct iovec local = { dst, len }, remote = { (void *)src, len };
    if (!len)
        return 0;
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

static int copy_to_user(void *dst, const void *src, size_t len)
{
    struct iovec local = { (void *)src, len }, remote = { dst, len };
    if (!len)
        return 0;
    return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

/* ---- files ---- */
static int file_of_fd(int fd)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return -1;
    for (int i = 0; i < MAX_FILES; i++)
        if (S->files[i].used && S->files[i].ino == st.st_ino)
            return i;
    return -1;
}

static const char *device_path(int kind)
{
    return kind == GNTDEV ? "/dev/xen/gntdev" : "/dev/xen/gntalloc";
}

/* A new open file of the device: its descriptor is a memfd of its own, so
 * that the file is known by inode through dup, fork and dup2 over it. */
static int open_device(int kind, int flags)
{
    lock();
    int err = injected("open");
    if (err)
        return fail_unlock(err);
    reap_dead_processes();
    int slot = -1;
    for (int i = 0; i < MAX_FILES && slot < 0; i++)
        if (!S->files[i].used)
            slot = i;
    if (slot < 0)
        return fail_unlock(ENFILE);
    int fd = memfd_create(device_path(kind), (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return fail_unlock(EMFILE);
    S->files[slot] = (struct file){ .used = 1, .kind = kind, .ino = st.st_ino, .holders = { getpid() } };
    unlock();
    return fd;
}

/* A process that uses a file holds it (a fork child shares its parent's). */
static void hold(int file)
{
    pid_t me = getpid(), *h = S->files[file].holders;
    for (int i = 0; i < 8; i++)
        if (h[i] == me)
            return;
    for (int i = 0; i < 8; i++)
        if (!h[i] || kill(h[i], 0) != 0) {
            h[i] = me;
            return;
        }
}

static int fd_has_inode(ino_t ino);
static void release_file(int file);

/* After this process closed a descriptor of `file`: if it holds no other,
 * it lets go; when no process holds the file any more, the file is
 * released as gntdev_release / gntalloc_release do. */
static void closed(int file)
{
    pid_t me = getpid(), *h = S->files[file].holders;
    int left = 0;
    if (fd_has_inode(S->files[file].ino))
        return;
    for (int i = 0; i < 8; i++) {
        if (h[i] == me || (h[i] && kill(h[i], 0) != 0))
            h[i] = 0;
        left |= h[i] != 0;
    }
    if (!left)
        release_file(file);
}

/* ---- grants and their pages ---- */
static int alloc_grant(void)
{
    for (int i = FIRST_REF; i < MAX_GRANTS; i++)
        if (!S->grants[i].used) {
            S->grants[i] = (struct grant){ .used = 1, .import = -1, .gref = -1 };
            return i;
        }
    return -1;
}

static int alloc_pool_page(void)
{
    for (int i = 0; i < POOL_PAGES; i++)
        if (!S->page_used[i]) {
            S->page_used[i] = 1;
            return i;
        }
    return -1;
}

/* Give a pool page back, zeroed as the kernel's next allocation will be. */
static void free_pool_page(uint32_t page)
{
    fallocate(S->pool_fd_dev, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)page * PAGE, PAGE);
    S->page_used[page] = 0;
}

/* A grant whose owner has ended it goes once nobody maps it any more. */
static void maybe_free_grant(int g)
{
    struct grant *gr = &S->grants[g];
    if (!gr->used || !gr->ended || gr->mappers)
        return;
    if (gr->import < 0)
        free_pool_page(gr->page);
    gr->used = 0;
}

/* gntalloc's __del_gref: the page's last local user is gone and the file let
 * go of it; notify the peer, end the grant. */
static void maybe_free_gref(int r)
{
    struct gref *g = &S->grefs[r];
    if (!g->used || !g->deallocd || g->users)
        return;
    struct grant *gr = &S->grants[g->grant];
    if (g->notify_action & NOTIFY_CLEAR)
        pwrite(S->pool_fd_dev, "", 1, (off_t)gr->page * PAGE + g->notify_byte);
    if (g->notify_action & NOTIFY_EVENT)
        S->stats.events++;
    if (g->notify_action & NOTIFY_CLEAR)
        S->stats.cleared_bytes++;
    gr->ended = 1;
    maybe_free_grant(g->grant);
    g->used = 0;
    S->gntalloc_pages--; /* gntalloc's gref_size counts pages until freed */
}

/* The backing descriptor and page of a grant, for mmap. */
static void grant_backing(int g, int kind, int *fd, off_t *off)
{
    struct grant *gr = &S->grants[g];
    if (gr->import >= 0) {
        *fd = S->imports[gr->import].dup_fd;
        *off = (off_t)gr->page * PAGE;
    } else {
        *fd = kind == GNTDEV ? S->pool_fd_dev : S->pool_fd_alloc;
        *off = (off_t)gr->page * PAGE;
    }
}

/* ---- mappings: each belongs to one process ---- */
static int vma_containing(uintptr_t a)
{
    pid_t me = getpid();
    for (int i = 0; i < MAX_VMAS; i++)
        if (S->vmas[i].used && S->vmas[i].pid == me && S->vmas[i].start <= a && a < S->vmas[i].end)
            return i;
    return -1;
}

static int new_vma(void)
{
    for (int i = 0; i < MAX_VMAS; i++)
        if (!S->vmas[i].used)
            return i;
    return -1;
}

/* Map `n` granted pages at a fresh address (or `hint`), page by page, as the
 * grants' backing pages; not inherited by a fork child (PV's VM_DONTCOPY). */
static void *map_pages(void *hint, int kind, const int *grant_of, uint32_t n, int prot)
{
    size_t len = (size_t)n * PAGE;
    char *base = REAL(mmap)(hint, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return MAP_FAILED;
    for (uint32_t i = 0; i < n; i++) {
        int fd;
        off_t off;
        grant_backing(grant_of[i], kind, &fd, &off);
        if (REAL(mmap)(base + (size_t)i * PAGE, PAGE, prot, MAP_SHARED | MAP_FIXED, fd, off) == MAP_FAILED) {
            REAL(munmap)(base, len);
            return MAP_FAILED;
        }
    }
    madvise(base, len, MADV_DONTFORK);
    return base;
}

/* ---- gntdev ---- */
static struct grant_ref_pair *refs_of(const struct gmap *m)
{
    return &S->ref_pool[(size_t)m->ref_chunk * REF_CHUNK];
}

/* Room for `count` refs in the shared pool: first fit, in whole chunks. */
static int alloc_ref_chunks(uint32_t count)
{
    uint32_t need = (count + REF_CHUNK - 1) / REF_CHUNK, run = 0;
    for (uint32_t c = 0; c < REF_CHUNKS; c++) {
        run = S->chunk_used[c] ? 0 : run + 1;
        if (run == need) {
            memset(&S->chunk_used[c + 1 - need], 1, need);
            return (int)(c + 1 - need);
        }
    }
    return -1;
}

static void free_ref_chunks(const struct gmap *m)
{
    memset(&S->chunk_used[m->ref_chunk], 0, (m->count + REF_CHUNK - 1) / REF_CHUNK);
}

static int map_of(int file, uint64_t index, uint32_t count)
{
    for (int i = 0; i < MAX_MAPS; i++) {
        struct gmap *m = &S->maps[i];
        if (m->used && !m->removed && m->file == file && m->index == index && (!count || m->count == count))
            return i;
    }
    return -1;
}

/* The first free range of `count` pages in the file's index space. */
static uint64_t free_index(int file, uint32_t count)
{
    uint64_t at = 0;
    for (int moved = 1; moved;) {
        moved = 0;
        for (int i = 0; i < MAX_MAPS; i++) {
            struct gmap *m = &S->maps[i];
            if (m->used && !m->removed && m->file == file && m->index < at + count && at < m->index + m->count) {
                at = m->index + m->count;
                moved = 1;
            }
        }
    }
    return at;
}

/* A map is freed once it is off the file's list and no longer mapped:
 * its grants are released and the notification event sent. */
static void maybe_free_map(int i)
{
    struct gmap *m = &S->maps[i];
    if (!m->used || !m->removed || m->vma_live)
        return;
    if (m->mmapped)
        for (uint32_t k = 0; k < m->count; k++) {
            int g = (int)refs_of(m)[k].ref;
            if (g < MAX_GRANTS && S->grants[g].used && S->grants[g].mappers) {
                S->grants[g].mappers--;
                maybe_free_grant(g);
            }
        }
    if (m->notify_action & NOTIFY_EVENT)
        S->stats.events++;
    free_ref_chunks(m);
    m->used = 0;
}

static long gntdev_map(int file, void *arg)
{
    struct map_grant_ref op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    if (!op.count || op.count > S->gntdev_limit)
        return -EINVAL;
    int slot = -1;
    for (int i = 0; i < MAX_MAPS && slot < 0; i++)
        if (!S->maps[i].used)
            slot = i;
    if (slot < 0)
        return -ENOMEM;
    int chunk = alloc_ref_chunks(op.count);
    if (chunk < 0)
        return -ENOMEM;
    struct gmap m = { .used = 1, .file = file, .count = op.count, .ref_chunk = (uint32_t)chunk };
    if (copy_from_user(refs_of(&m), (char *)arg + offsetof(struct map_grant_ref, refs), (size_t)op.count * 8)) {
        free_ref_chunks(&m);
        return -EFAULT;
    }
    m.index = free_index(file, op.count);
    uint64_t out = m.index * PAGE;
    if (copy_to_user((char *)arg + offsetof(struct map_grant_ref, index), &out, sizeof out)) {
        free_ref_chunks(&m);
        return -EFAULT;
    }
    S->maps[slot] = m;
    return 0;
}

static long gntdev_unmap(int file, void *arg)
{
    struct unmap_grant_ref op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    int m = map_of(file, op.index / PAGE, op.count);
    if (m < 0 || op.index % PAGE)
        return -ENOENT;
    S->maps[m].removed = 1;
    maybe_free_map(m);
    return 0;
}

/* find_vma(): the first mapping of the process that ends above `a`. */
static uintptr_t first_mapping_ending_above(uintptr_t a)
{
    char buf[4096];
    size_t have = 0;
    int fd = REAL(open)("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            unsigned long start, end;
            if (sscanf(line, "%lx-%lx", &start, &end) == 2 && end > a) {
                REAL(close)(fd);
                return start > a ? start : a;
            }
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
    }
    REAL(close)(fd);
    return 0;
}

static long gntdev_get_offset(int file, void *arg)
{
    struct get_offset op;
    (void)file;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    uintptr_t at = first_mapping_ending_above((uintptr_t)op.vaddr);
    int v = at ? vma_containing(at) : -1;
    if (v < 0 || S->vmas[v].kind != GNTDEV)
        return -EINVAL;
    struct gmap *m = &S->maps[S->vmas[v].map];
    op.offset = m->index * PAGE;
    op.count = m->count;
    return copy_to_user(arg, &op, sizeof op);
}

static long gntdev_notify(int file, void *arg)
{
    struct unmap_notify op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    if (op.action & ~(NOTIFY_CLEAR | NOTIFY_EVENT))
        return -EINVAL;
    uint64_t page = op.index / PAGE;
    for (int i = 0; i < MAX_MAPS; i++) {
        struct gmap *m = &S->maps[i];
        if (!m->used || m->removed || m->file != file || page < m->index || page >= m->index + m->count)
            continue;
        if ((op.action & NOTIFY_CLEAR) && m->readonly)
            return -EINVAL;
        if ((op.action & NOTIFY_EVENT) && op.port >= 4096)
            return -EINVAL; /* no such port bound in this domain */
        m->notify_action = op.action;
        m->notify_port = op.port;
        m->notify_byte = op.index - m->index * PAGE;
        return 0;
    }
    return -ENOENT;
}

/* One side of a grant copy: the grant's backing bytes at offset..offset+len. */
static int16_t grant_side_ok(uint32_t ref, uint16_t domid, int writing)
{
    if (domid != 0)
        return GNTST_bad_domain; /* only this domain exists here */
    if (ref >= MAX_GRANTS || !S->grants[ref].used || S->grants[ref].ended || S->grants[ref].to != 0)
        return GNTST_bad_gntref;
    if (writing && S->grants[ref].readonly)
        return GNTST_permission_denied;
    return GNTST_okay;
}

static int grant_rw(uint32_t ref, uint16_t off, void *buf, uint16_t len, int write)
{
    int fd;
    off_t at;
    grant_backing((int)ref, GNTDEV, &fd, &at);
    ssize_t n = write ? pwrite(fd, buf, len, at + off) : pread(fd, buf, len, at + off);
    return n == len ? 0 : -1;
}

static long gntdev_copy(void *arg)
{
    struct grant_copy op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    for (unsigned i = 0; i < op.count; i++) {
        struct copy_seg seg;
        char data[PAGE];
        if (copy_from_user(&seg, op.segments + i, sizeof seg))
            return -EFAULT;
        if (!(seg.flags & (GNTCOPY_SRC | GNTCOPY_DST)))
            return -EINVAL;
        if ((seg.flags & GNTCOPY_SRC) && seg.source.foreign.offset + seg.len > PAGE)
            return -EINVAL;
        if ((seg.flags & GNTCOPY_DST) && seg.dest.foreign.offset + seg.len > PAGE)
            return -EINVAL;
        int16_t st = GNTST_okay;
        if (seg.flags & GNTCOPY_SRC)
            st = grant_side_ok(seg.source.foreign.ref, seg.source.foreign.domid, 0);
        if (st == GNTST_okay && (seg.flags & GNTCOPY_DST))
            st = grant_side_ok(seg.dest.foreign.ref, seg.dest.foreign.domid, 1);
        size_t len = seg.len > PAGE ? PAGE : seg.len; /* a local side may be longer: copied in pieces */
        for (size_t done = 0; st == GNTST_okay && done < seg.len; done += len) {
            size_t n = seg.len - done < len ? seg.len - done : len;
            if (seg.flags & GNTCOPY_SRC)
                grant_rw(seg.source.foreign.ref, seg.source.foreign.offset + done, data, n, 0);
            else if (copy_from_user(data, (char *)seg.source.virt + done, n))
                return -EFAULT;
            if (seg.flags & GNTCOPY_DST)
                grant_rw(seg.dest.foreign.ref, seg.dest.foreign.offset + done, data, n, 1);
            else if (copy_to_user((char *)seg.dest.virt + done, data, n))
                return -EFAULT;
        }
        if (copy_to_user(&op.segments[i].status, &st, sizeof st))
            return -EFAULT;
    }
    return 0;
}

/* ---- dma-buf ---- */
static int fd_has_inode(ino_t ino)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = 0;
    if (!d)
        return 0;
    while (!found && (e = readdir(d))) {
        struct stat st;
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != dirfd(d) && fstat(fd, &st) == 0 && st.st_ino == ino)
            found = 1;
    }
    closedir(d);
    return found;
}

static long dmabuf_export(int file, void *arg)
{
    struct exp_from_refs op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    if (!S->autotranslated)
        return -EINVAL; /* use_ptemod: a PV domain cannot provide a dma-buf */
    if (!op.count || op.count > S->gntdev_limit)
        return -EINVAL;
    if ((op.flags & 3) == 3)
        return -EINVAL;
    int slot = -1;
    for (int i = 0; i < MAX_EXPORTS && slot < 0; i++)
        if (!S->exports[i].used)
            slot = i;
    if (slot < 0 || op.count > 64)
        return -ENOMEM; /* the stand-in's own limit */
    uint32_t refs[64];
    if (copy_from_user(refs, (char *)arg + offsetof(struct exp_from_refs, refs), op.count * 4))
        return -EFAULT;
    for (uint32_t i = 0; i < op.count; i++)
        if (grant_side_ok(refs[i], (uint16_t)op.domid, 0) != GNTST_okay || op.domid > 0xffff)
            return -EINVAL;
    int fd = memfd_create("dmabuf", MFD_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return -EMFILE;
    struct export *x = &S->exports[slot];
    *x = (struct export){ .used = 1, .file = file, .fd = (uint32_t)fd, .ino = st.st_ino, .count = op.count };
    for (uint32_t i = 0; i < op.count; i++) {
        x->grants[i] = (int)refs[i];
        S->grants[refs[i]].mappers++;
    }
    op.fd = (uint32_t)fd;
    if (copy_to_user(arg, &op, offsetof(struct exp_from_refs, refs))) {
        REAL(close)(fd);
        return -EFAULT;
    }
    S->stats.exports++;
    return 0;
}

/* Released means no descriptor of the buffer is left (in this process). */
static void reap_exports(void)
{
    for (int i = 0; i < MAX_EXPORTS; i++) {
        struct export *x = &S->exports[i];
        if (!x->used || fd_has_inode(x->ino))
            continue;
        for (uint32_t k = 0; k < x->count; k++) {
            S->grants[x->grants[k]].mappers--;
            maybe_free_grant(x->grants[k]);
        }
        x->used = 0;
    }
}

static long dmabuf_wait(int file, void *arg)
{
    struct exp_wait op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    for (unsigned waited = 0;; waited += 10) {
        reap_exports();
        int live = 0;
        for (int i = 0; i < MAX_EXPORTS; i++)
            live |= S->exports[i].used && S->exports[i].file == file && S->exports[i].fd == op.fd;
        if (!live)
            return waited ? 0 : -ENOENT;
        if (waited >= op.wait_to_ms)
            return -ETIMEDOUT;
        unlock();
        usleep(10000);
        lock();
    }
}

static long dmabuf_import(int file, void *arg)
{
    struct imp_to_refs op;
    struct stat st;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    if (!op.count || op.count > S->gntdev_limit)
        return -EINVAL;
    if (fstat((int)op.fd, &st) != 0)
        return -EBADF;
    if (!S_ISREG(st.st_mode) || file_of_fd((int)op.fd) >= 0 || (uint64_t)st.st_size != (uint64_t)op.count * PAGE)
        return -EINVAL; /* not a dma-buf of exactly count pages */
    int slot = -1;
    for (int i = 0; i < MAX_IMPORTS && slot < 0; i++)
        if (!S->imports[i].used)
            slot = i;
    if (slot < 0)
        return -ENOMEM;
    int first = -1, n = 0;
    for (int g = FIRST_REF; g < MAX_GRANTS && n < (int)op.count; g++) {
        if (S->grants[g].used) {
            first = -1;
            n = 0;
            continue;
        }
        if (first < 0)
            first = g;
        n++;
    }
    if (n < (int)op.count)
        return -ENOSPC; /* grant table full */
    int dup_fd = fcntl((int)op.fd, F_DUPFD_CLOEXEC, 100);
    if (dup_fd < 0)
        return -EMFILE;
    for (uint32_t i = 0; i < op.count; i++) {
        uint32_t ref = (uint32_t)first + i;
        if (copy_to_user((char *)arg + offsetof(struct imp_to_refs, refs) + 4 * i, &ref, 4)) {
            REAL(close)(dup_fd);
            return -EFAULT;
        }
    }
    for (uint32_t i = 0; i < op.count; i++)
        S->grants[first + i] = (struct grant){ .used = 1, .to = (uint16_t)op.domid, .import = slot, .page = i, .gref = -1 };
    S->imports[slot] = (struct import){ .used = 1, .file = file, .fd = op.fd, .dup_fd = dup_fd, .importer = getpid(),
                                        .count = op.count, .first_grant = (uint32_t)first };
    S->stats.imports++;
    return 0;
}

static long dmabuf_release(int file, void *arg)
{
    struct imp_release op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    for (int i = 0; i < MAX_IMPORTS; i++) {
        struct import *im = &S->imports[i];
        if (!im->used || im->file != file || im->fd != op.fd)
            continue;
        for (uint32_t k = 0; k < im->count; k++) {
            S->grants[im->first_grant + k].ended = 1;
            maybe_free_grant((int)(im->first_grant + k));
        }
        if (im->importer == getpid())
            REAL(close)(im->dup_fd);
        im->used = 0;
        return 0;
    }
    return -ENOENT;
}

/* ---- gntalloc ---- */
static long gntalloc_alloc(int file, void *arg)
{
    struct alloc_gref op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    if (S->gntalloc_pages + op.count > S->gntalloc_limit)
        reap_dead_processes();
    if (op.count > S->gntalloc_limit || S->gntalloc_pages + op.count > S->gntalloc_limit)
        return -ENOSPC;
    uint32_t ids[1024];
    int recs[1024];
    for (uint32_t i = 0; i < op.count; i++) {
        int g = alloc_grant(), p = g < 0 ? -1 : alloc_pool_page(), r = -1;
        for (int k = 0; k < MAX_GREFS && r < 0 && p >= 0; k++)
            if (!S->grefs[k].used)
                r = k;
        if (r < 0) {
            if (g >= 0)
                S->grants[g].used = 0;
            if (p >= 0)
                S->page_used[p] = 0;
            while (i--) { /* undo */
                S->grants[ids[i]].used = 0;
                free_pool_page(S->grants[ids[i]].page);
                S->grefs[recs[i]].used = 0;
            }
            return -ENOMEM;
        }
        S->grants[g].to = op.domid;
        S->grants[g].readonly = !(op.flags & 1);
        S->grants[g].page = (uint32_t)p;
        S->grants[g].gref = r;
        S->grefs[r] = (struct gref){ .used = 1, .file = file, .grant = g, .page_index = S->files[file].next_page + i };
        ids[i] = (uint32_t)g;
        recs[i] = r;
    }
    uint64_t index = S->files[file].next_page * PAGE;
    if (copy_to_user((char *)arg + offsetof(struct alloc_gref, index), &index, sizeof index) ||
        copy_to_user((char *)arg + offsetof(struct alloc_gref, gref_ids), ids, op.count * 4)) {
        S->gntalloc_pages += op.count;
        for (uint32_t i = 0; i < op.count; i++) {
            S->grefs[recs[i]].deallocd = 1;
            maybe_free_gref(recs[i]);
        }
        return -EFAULT;
    }
    S->files[file].next_page += op.count;
    S->gntalloc_pages += op.count;
    return 0;
}

static int gref_at(int file, uint64_t page_index)
{
    for (int i = 0; i < MAX_GREFS; i++)
        if (S->grefs[i].used && !S->grefs[i].deallocd && S->grefs[i].file == file && S->grefs[i].page_index == page_index)
            return i;
    return -1;
}

static long gntalloc_dealloc(int file, void *arg)
{
    struct dealloc_gref op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    int recs[1024];
    if (!op.count || op.count > 1024 || op.index % PAGE)
        return -EINVAL;
    for (uint32_t i = 0; i < op.count; i++)
        if ((recs[i] = gref_at(file, op.index / PAGE + i)) < 0)
            return -EINVAL;
    for (uint32_t i = 0; i < op.count; i++) {
        S->grefs[recs[i]].deallocd = 1;
        maybe_free_gref(recs[i]);
    }
    return 0;
}

static long gntalloc_notify(int file, void *arg)
{
    struct unmap_notify op;
    if (copy_from_user(&op, arg, sizeof op))
        return -EFAULT;
    if (op.action & ~(NOTIFY_CLEAR | NOTIFY_EVENT))
        return -EINVAL;
    int r = gref_at(file, op.index / PAGE);
    if (r < 0)
        return -ENOENT;
    if ((op.action & NOTIFY_EVENT) && op.port >= 4096)
        return -EINVAL;
    S->grefs[r].notify_action = op.action;
    S->grefs[r].notify_port = op.port;
    S->grefs[r].notify_byte = (uint32_t)(op.index % PAGE);
    return 0;
}

/* The last descriptor of a file is gone: its maps leave the list (each
 * mapping keeps its own until munmapped), its imports end, its gntalloc
 * pages are let go (each mapping keeps its pages). */
static void release_file(int file)
{
    for (int i = 0; i < MAX_MAPS; i++)
        if (S->maps[i].used && S->maps[i].file == file && !S->maps[i].removed) {
            S->maps[i].removed = 1;
            maybe_free_map(i);
        }
    for (int i = 0; i < MAX_IMPORTS; i++) {
        struct import *im = &S->imports[i];
        if (!im->used || im->file != file)
            continue;
        for (uint32_t k = 0; k < im->count; k++) {
            S->grants[im->first_grant + k].ended = 1;
            maybe_free_grant((int)(im->first_grant + k));
        }
        if (im->importer == getpid()) /* (a dead importer's descriptors went with it) */
            REAL(close)(im->dup_fd);
        im->used = 0;
    }
    for (int i = 0; i < MAX_GREFS; i++)
        if (S->grefs[i].used && S->grefs[i].file == file && !S->grefs[i].deallocd) {
            S->grefs[i].deallocd = 1;
            maybe_free_gref(i);
        }
    S->files[file].used = 0;
}

/* ---- the intercepted calls ---- */
static const char *ioctl_name(int kind, unsigned long req)
{
    if (kind == GNTDEV)
        switch (req) {
        case IOC(0, struct map_grant_ref): return "MAP_GRANT_REF";
        case IOC(1, struct unmap_grant_ref): return "UNMAP_GRANT_REF";
        case IOC(2, struct get_offset): return "GET_OFFSET_FOR_VADDR";
        case IOC(3, uint32_t): return "SET_MAX_GRANTS";
        case IOC(7, struct unmap_notify): return "SET_UNMAP_NOTIFY";
        case IOC(8, struct grant_copy): return "GRANT_COPY";
        case IOC(9, struct exp_from_refs): return "DMABUF_EXP_FROM_REFS";
        case IOC(10, struct exp_wait): return "DMABUF_EXP_WAIT_RELEASED";
        case IOC(11, struct imp_to_refs): return "DMABUF_IMP_TO_REFS";
        case IOC(12, struct imp_release): return "DMABUF_IMP_RELEASE";
        }
    else
        switch (req) {
        case IOC(5, struct alloc_gref): return "ALLOC_GREF";
        case IOC(6, struct dealloc_gref): return "DEALLOC_GREF";
        case IOC(7, struct unmap_notify): return "GNTALLOC_SET_UNMAP_NOTIFY";
        }
    return NULL;
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    lock();
    int file = file_of_fd(fd);
    if (file < 0) {
        unlock();
        return REAL(ioctl)(fd, req, arg);
    }
    hold(file);
    const char *name = ioctl_name(S->files[file].kind, req);
    if (!name)
        return (int)fail_unlock(ENOTTY);
    int err = injected(name);
    if (err)
        return (int)fail_unlock(err);
    long rc;
    if (!strcmp(name, "MAP_GRANT_REF")) rc = gntdev_map(file, arg);
    else if (!strcmp(name, "UNMAP_GRANT_REF")) rc = gntdev_unmap(file, arg);
    else if (!strcmp(name, "GET_OFFSET_FOR_VADDR")) rc = gntdev_get_offset(file, arg);
    else if (!strcmp(name, "SET_MAX_GRANTS")) rc = -ENOTTY; /* never implemented by pv-ops gntdev */
    else if (!strcmp(name, "SET_UNMAP_NOTIFY")) rc = gntdev_notify(file, arg);
    else if (!strcmp(name, "GRANT_COPY")) rc = gntdev_copy(arg);
    else if (!strcmp(name, "DMABUF_EXP_FROM_REFS")) rc = dmabuf_export(file, arg);
    else if (!strcmp(name, "DMABUF_EXP_WAIT_RELEASED")) rc = dmabuf_wait(file, arg);
    else if (!strcmp(name, "DMABUF_IMP_TO_REFS")) rc = dmabuf_import(file, arg);
    else if (!strcmp(name, "DMABUF_IMP_RELEASE")) rc = dmabuf_release(file, arg);
    else if (!strcmp(name, "ALLOC_GREF")) rc = gntalloc_alloc(file, arg);
    else if (!strcmp(name, "DEALLOC_GREF")) rc = gntalloc_dealloc(file, arg);
    else rc = gntalloc_notify(file, arg);
    if (rc < 0)
        return (int)fail_unlock((int)-rc);
    unlock();
    return 0;
}

static void *mmap_device(int file, void *hint, size_t len, int prot, int flags, off_t offset)
{
    int kind = S->files[file].kind, err = injected("mmap");
    if (err)
        return errno = err, MAP_FAILED;
    if (!(flags & MAP_SHARED) || len % PAGE || offset % PAGE || !len)
        return errno = EINVAL, MAP_FAILED;
    uint32_t n = (uint32_t)(len / PAGE);
    int slot = new_vma(), grants[4096] = { 0 }, *grant_of = grants;
    if (slot < 0)
        return errno = ENOMEM, MAP_FAILED;
    if (n > 4096 && !(grant_of = malloc(n * sizeof *grant_of)))
        return errno = ENOMEM, MAP_FAILED;
    void *p = MAP_FAILED;
    int map = -1, gref0 = -1;
    errno = EINVAL;
    if (kind == GNTDEV) {
        map = map_of(file, (uint64_t)offset / PAGE, n);
        struct gmap *m = map >= 0 ? &S->maps[map] : NULL;
        if (!m || m->mmapped)
            goto out; /* no such map, or mapped before */
        for (uint32_t i = 0; i < n; i++) {
            uint32_t ref = refs_of(m)[i].ref;
            if (refs_of(m)[i].domid != 0 || ref >= MAX_GRANTS || !S->grants[ref].used || S->grants[ref].ended ||
                S->grants[ref].to != 0 || ((prot & PROT_WRITE) && S->grants[ref].readonly))
                goto out; /* a failed map op fails the whole mmap */
            grant_of[i] = (int)ref;
        }
        if ((p = map_pages(hint, GNTDEV, grant_of, n, prot)) == MAP_FAILED)
            goto out;
        m->mmapped = m->vma_live = 1;
        m->readonly = !(prot & PROT_WRITE);
        for (uint32_t i = 0; i < n; i++)
            S->grants[grant_of[i]].mappers++;
    } else {
        for (uint32_t i = 0; i < n; i++) {
            int r = gref_at(file, (uint64_t)offset / PAGE + i);
            if (r < 0) {
                errno = ENOENT;
                goto out;
            }
            grant_of[i] = S->grefs[r].grant;
            if (!i)
                gref0 = r;
        }
        if ((p = map_pages(hint, GNTALLOC, grant_of, n, prot)) == MAP_FAILED)
            goto out;
        for (uint32_t i = 0; i < n; i++)
            S->grefs[S->grants[grant_of[i]].gref].users++;
    }
    S->vmas[slot] = (struct vma){ .used = 1, .kind = kind, .map = map, .gref0 = gref0, .pid = getpid(),
                               .start = (uintptr_t)p, .end = (uintptr_t)p + len };
out:
    if (grant_of != grants)
        free(grant_of);
    return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
    if (!S || fd < 0)
        return REAL(mmap)(addr, len, prot, flags, fd, offset);
    lock();
    int file = file_of_fd(fd);
    if (file < 0) {
        unlock();
        return REAL(mmap)(addr, len, prot, flags, fd, offset);
    }
    hold(file);
    int saved;
    void *p = mmap_device(file, addr, len, prot, flags, offset);
    saved = errno;
    unlock();
    errno = saved;
    return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
    return mmap(addr, len, prot, flags, fd, offset);
}

/* Pages [lo, hi) of stand-in mapping v are going away. */
static void vma_pages_gone(int v, uintptr_t lo, uintptr_t hi)
{
    struct vma *m = &S->vmas[v];
    if (m->kind == GNTDEV) {
        struct gmap *g = &S->maps[m->map];
        uintptr_t byte = m->start + g->notify_byte; /* (the VMA starts at the map's start) */
        if ((g->notify_action & NOTIFY_CLEAR) && lo <= byte && byte < hi) {
            int ref = (int)refs_of(g)[(byte - m->start) / PAGE].ref;
            pwrite(S->pool_fd_dev, "", 1, (off_t)S->grants[ref].page * PAGE + (byte % PAGE));
            S->stats.cleared_bytes++;
            g->notify_action &= ~NOTIFY_CLEAR;
        }
    } else {
        for (uintptr_t a = lo; a < hi; a += PAGE) {
            int r = m->gref0 + 0, k;
            /* the gref of page a: same file, consecutive page indexes */
            uint64_t pi = S->grefs[m->gref0].page_index + (a - m->start) / PAGE;
            for (k = 0, r = -1; k < MAX_GREFS && r < 0; k++)
                if (S->grefs[k].used && S->grefs[k].file == S->grefs[m->gref0].file && S->grefs[k].page_index == pi)
                    r = k;
            if (r >= 0 && S->grefs[r].users && --S->grefs[r].users == 0)
                maybe_free_gref(r);
        }
    }
}

/* Pages [a, b) of mapping i are unmapped. */
static void unmap_range(int i, uintptr_t a, uintptr_t b)
{
    struct vma *v = &S->vmas[i];
    vma_pages_gone(i, a, b);
    if (a == v->start && b == v->end) {
        v->used = 0;
        if (v->kind == GNTDEV) {
            S->maps[v->map].vma_live = 0;
            maybe_free_map(v->map);
        }
    } else if (a == v->start) {
        v->start = b;
    } else if (b == v->end) {
        v->end = a;
    } else {
        int w = new_vma(); /* a hole in the middle: two pieces */
        if (w >= 0) {
            S->vmas[w] = *v;
            S->vmas[w].start = b;
        }
        v->end = a;
    }
}

/* A process that died took its mappings and descriptors with it: do what
 * the kernel does at exit. */
static void reap_dead_processes(void)
{
    for (int i = 0; i < MAX_VMAS; i++)
        if (S->vmas[i].used && kill(S->vmas[i].pid, 0) != 0 && errno == ESRCH)
            unmap_range(i, S->vmas[i].start, S->vmas[i].end);
    for (int f = 0; f < MAX_FILES; f++) {
        if (!S->files[f].used)
            continue;
        int alive = 0;
        for (int k = 0; k < 8; k++)
            alive |= S->files[f].holders[k] && (kill(S->files[f].holders[k], 0) == 0 || errno != ESRCH);
        if (!alive)
            release_file(f);
    }
}

int munmap(void *addr, size_t len)
{
    if (!S)
        return REAL(munmap)(addr, len);
    lock();
    int rc = REAL(munmap)(addr, len), saved = errno;
    if (rc == 0) {
        uintptr_t lo = (uintptr_t)addr, hi = lo + ((len + PAGE - 1) & ~(size_t)(PAGE - 1));
        for (int i = 0; i < MAX_VMAS; i++) {
            struct vma *v = &S->vmas[i];
            if (!v->used || v->pid != getpid() || v->end <= lo || hi <= v->start)
                continue;
            unmap_range(i, v->start > lo ? v->start : lo, v->end < hi ? v->end : hi);
        }
    }
    unlock();
    errno = saved;
    return rc;
}

/* ---- open and readlink: the device names ---- */
static int device_kind(const char *path)
{
    if (path && !strcmp(path, "/dev/xen/gntdev"))
        return GNTDEV;
    if (path && !strcmp(path, "/dev/xen/gntalloc"))
        return GNTALLOC;
    return 0;
}

#define OPEN_LIKE(name, ...)                                                   \
    int name(const char *path, int flags, ...)                                 \
    {                                                                          \
        va_list ap;                                                            \
        va_start(ap, flags);                                                   \
        mode_t mode = va_arg(ap, mode_t);                                      \
        va_end(ap);                                                            \
        int kind = device_kind(path);                                          \
        return kind ? open_device(kind, flags) : REAL(name)(path, flags, mode); \
    }
OPEN_LIKE(open)
OPEN_LIKE(open64)

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_arg(ap, mode_t);
    va_end(ap);
    int kind = device_kind(path);
    return kind ? open_device(kind, flags) : REAL(openat)(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_arg(ap, mode_t);
    va_end(ap);
    return openat(dirfd, path, flags, mode);
}

/* /proc/self/fd/N of a device descriptor names the device, and
 * /proc/self/map_files/A-B of a grant mapping of exactly A-B its device. */
static ssize_t device_link(const char *path, char *buf, size_t size)
{
    const char *name = NULL;
    int fd;
    unsigned long a, b;
    if (!S || !path)
        return -2;
    lock();
    if (sscanf(path, "/proc/self/fd/%d", &fd) == 1) {
        int file = file_of_fd(fd);
        if (file >= 0)
            name = device_path(S->files[file].kind);
    } else if (sscanf(path, "/proc/self/map_files/%lx-%lx", &a, &b) == 2) {
        int v = vma_containing(a);
        if (v >= 0 && S->vmas[v].start == a && S->vmas[v].end == b)
            name = device_path(S->vmas[v].kind);
    }
    unlock();
    if (!name)
        return -2;
    size_t n = strlen(name) < size ? strlen(name) : size;
    memcpy(buf, name, n);
    return (ssize_t)n;
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
    ssize_t n = device_link(path, buf, size);
    return n != -2 ? n : REAL(readlink)(path, buf, size);
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
    ssize_t n = dirfd == AT_FDCWD ? device_link(path, buf, size) : -2;
    return n != -2 ? n : REAL(readlinkat)(dirfd, path, buf, size);
}

int close(int fd)
{
    if (!S)
        return REAL(close)(fd);
    lock();
    int file = file_of_fd(fd);
    int rc = REAL(close)(fd), saved = errno;
    if (rc == 0 && file >= 0)
        closed(file);
    unlock();
    errno = saved;
    return rc;
}

/* The drivers' module parameters, as the sysfs files show them. */
static FILE *module_parameter(const char *path, const char *mode)
{
    static __thread char text[32];
    unsigned v;
    if (!S || !path || strchr(mode, 'w') || strchr(mode, 'a'))
        return NULL;
    if (!strcmp(path, "/sys/module/xen_gntalloc/parameters/limit"))
        v = S->gntalloc_limit;
    else if (!strcmp(path, "/sys/module/xen_gntdev/parameters/limit"))
        v = S->gntdev_limit;
    else
        return NULL;
    snprintf(text, sizeof text, "%u\n", v);
    return fmemopen(text, strlen(text), "r");
}

FILE *fopen(const char *path, const char *mode)
{
    FILE *f = module_parameter(path, mode);
    return f ? f : REAL(fopen)(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
    FILE *f = module_parameter(path, mode);
    return f ? f : REAL(fopen64)(path, mode);
}
