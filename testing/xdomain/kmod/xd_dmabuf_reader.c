// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only misc device /dev/xd-dmabuf-reader: XD_READ_DMABUF takes a dma-buf
 * fd and copies its first len bytes to user space through the importer API
 * (dma_buf_get, dma_buf_attach, dma_buf_map_attachment, kmap of each page).
 * gntdev's exported dma-bufs have no mmap or vmap, so this is how a test sees
 * their bytes (testing/xdomain/README.md).
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/uaccess.h>
#include <linux/version.h>

/* Since 6.2 mapping an attachment needs the reservation lock: the _unlocked
 * variants take it (Debian 13's 6.12); Debian 12's 6.1 has only the others. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define xd_map dma_buf_map_attachment_unlocked
#define xd_unmap dma_buf_unmap_attachment_unlocked
#else
#define xd_map dma_buf_map_attachment
#define xd_unmap dma_buf_unmap_attachment
#endif

struct xd_read {
	__s32 fd;
	__u32 len;
	__u64 buf;
};
#define XD_READ_DMABUF _IOW('X', 1, struct xd_read)

static struct miscdevice xd_misc;

static long xd_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct xd_read r;
	struct dma_buf *db;
	struct dma_buf_attachment *at;
	struct sg_table *sgt;
	struct sg_page_iter it;
	size_t done = 0;
	long ret = 0;

	if (cmd != XD_READ_DMABUF)
		return -ENOTTY;
	if (copy_from_user(&r, (void __user *)arg, sizeof(r)))
		return -EFAULT;
	db = dma_buf_get(r.fd);
	if (IS_ERR(db))
		return PTR_ERR(db);
	at = dma_buf_attach(db, xd_misc.this_device);
	if (IS_ERR(at)) {
		ret = PTR_ERR(at);
		goto put;
	}
	sgt = xd_map(at, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto detach;
	}
	for_each_sgtable_page(sgt, &it, 0) {
		size_t n = min_t(size_t, PAGE_SIZE, r.len - done);
		void *p;
		unsigned long left;

		if (!n)
			break;
		p = kmap_local_page(sg_page_iter_page(&it));
		left = copy_to_user((void __user *)(r.buf + done), p, n);
		kunmap_local(p);
		if (left) {
			ret = -EFAULT;
			break;
		}
		done += n;
	}
	if (!ret)
		ret = done;
	xd_unmap(at, sgt, DMA_BIDIRECTIONAL);
detach:
	dma_buf_detach(db, at);
put:
	dma_buf_put(db);
	return ret;
}

static const struct file_operations xd_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = xd_ioctl,
};

static struct miscdevice xd_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "xd-dmabuf-reader",
	.fops = &xd_fops,
};

static int __init xd_init(void)
{
	int ret = misc_register(&xd_misc);

	if (ret)
		return ret;
	/* The exporter dma-maps for this device: give it a mask. */
	dma_coerce_mask_and_coherent(xd_misc.this_device, DMA_BIT_MASK(64));
	return 0;
}

static void __exit xd_exit(void)
{
	misc_deregister(&xd_misc);
}

module_init(xd_init);
module_exit(xd_exit);
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
MODULE_DESCRIPTION("xengnttab-rs test: read a dma-buf's pages from the kernel");
