/*
 * LD_PRELOAD stand-in for /dev/xen/gntdev, /dev/xen/gntalloc and a vgem
 * /dev/dri/card0, so that bench.c's map, share and dma-buf import loops run
 * on a machine without Xen and
 * `valgrind --tool=callgrind` can count the instructions each library spends
 * outside the kernel (testing/bench/host/count.sh). It answers only what those loops
 * need: MAP_GRANT_REF hands out offsets, GET_OFFSET_FOR_VADDR answers, the
 * other ioctls succeed, ALLOC_GREF and DMABUF_IMP_TO_REFS return refs, the
 * card makes a dumb buffer of the size asked and a "dma-buf" descriptor, and
 * mmap of any of them gives anonymous memory. Not a model of the kernel: never a test.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

static int gntdev = -1, gntalloc = -1, card = -1;
static uint64_t next_offset;

/* ioctl numbers' low byte (gntdev.h, gntalloc.h) */
enum { GNTDEV_MAP_GRANT_REF = 0, GNTDEV_GET_OFFSET_FOR_VADDR = 2, GNTALLOC_ALLOC_GREF = 5,
       GNTDEV_DMABUF_IMP_TO_REFS = 0xb };
/* drm.h */
enum { DRM_PRIME_HANDLE_TO_FD = 0x2d, DRM_MODE_CREATE_DUMB = 0xb2 };

/* the real libc function, looked up once */
#define REAL(name) ({ static __typeof__(&name) real_; if (!real_) real_ = (__typeof__(&name))dlsym(RTLD_NEXT, #name); real_; })

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = va_arg(ap, int);
    va_end(ap);
    if (!strcmp(path, "/dev/xen/gntdev"))
        return gntdev = REAL(open)("/dev/null", O_RDWR);
    if (!strcmp(path, "/dev/xen/gntalloc"))
        return gntalloc = REAL(open)("/dev/null", O_RDWR);
    if (!strcmp(path, "/dev/dri/card0"))
        return card = REAL(open)("/dev/null", O_RDWR);
    return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = va_arg(ap, int);
    va_end(ap);
    return open(path, flags, mode);
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (fd != gntdev && fd != gntalloc && fd != card)
        return REAL(ioctl)(fd, request, arg);
    unsigned nr = request & 0xff;
    if (fd == gntdev && nr == GNTDEV_MAP_GRANT_REF) {
        /* struct ioctl_gntdev_map_grant_ref { u32 count, pad; u64 index; ... } */
        uint32_t count = ((uint32_t *)arg)[0];
        ((uint64_t *)arg)[1] = next_offset;
        next_offset += (uint64_t)count << 12;
    } else if (fd == gntdev && nr == GNTDEV_GET_OFFSET_FOR_VADDR) {
        /* { u64 vaddr; u64 offset; u32 count; u32 pad; }: one page at offset 0
         * (upstream then unmaps offset 0, which this stand-in accepts) */
        ((uint64_t *)arg)[1] = 0;
        ((uint32_t *)arg)[4] = 1;
    } else if (fd == gntalloc && nr == GNTALLOC_ALLOC_GREF) {
        /* { u16 domid; u16 flags; u32 count; u64 index; u32 gref_ids[]; } */
        uint32_t count = ((uint32_t *)arg)[1];
        ((uint64_t *)arg)[1] = 0;
        for (uint32_t i = 0; i < count; i++)
            ((uint32_t *)arg)[4 + i] = 8 + i;
    } else if (fd == gntdev && nr == GNTDEV_DMABUF_IMP_TO_REFS) {
        /* { u32 fd; u32 count; u32 domid; u32 reserved; u32 refs[]; } */
        uint32_t count = ((uint32_t *)arg)[1];
        for (uint32_t i = 0; i < count; i++)
            ((uint32_t *)arg)[4 + i] = 8 + i;
    } else if (fd == card && nr == DRM_MODE_CREATE_DUMB) {
        /* { u32 height, width, bpp, flags, handle, pitch; u64 size; } */
        uint32_t *c = arg;
        c[4] = 1;
        c[5] = c[1] * c[2] / 8;
        ((uint64_t *)arg)[3] = (uint64_t)c[0] * c[5];
    } else if (fd == card && nr == DRM_PRIME_HANDLE_TO_FD) {
        /* { u32 handle, flags; s32 fd; } */
        ((int32_t *)arg)[2] = REAL(open)("/dev/null", O_RDWR);
    }
    return 0;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
    if (fd == gntdev || fd == gntalloc || fd == card)
        return REAL(mmap)(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return REAL(mmap)(addr, len, prot, flags, fd, offset);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
    return mmap(addr, len, prot, flags, fd, offset);
}
