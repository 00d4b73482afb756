//! The safe Rust API on a real hypervisor. These need /dev/xen, so they are
//! `#[ignore]`d on a plain host; `make xen-test` builds them and runs them
//! with `--include-ignored` inside the QEMU-booted dom0 (domid 0 grants to
//! itself).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;

use nix::errno::Errno;
use xengnttab::gnttab::{Access, CopySegment, GntDev, GrantAddr};
use xengnttab::gntshr::GntShr;
use xengnttab::{Error, Op, UnmapNotify};

const PAGE: usize = 4096;

/// Counts this thread's heap allocations, to show the map/unmap hot path
/// does none.
struct CountingAlloc;
thread_local!(static ALLOCATIONS: Cell<u64> = const { Cell::new(0) });
// SAFETY: forwards to the system allocator; the counter is a thread-local Cell.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn maps_of(device: &str) -> usize {
    fs::read_to_string("/proc/self/maps").unwrap().lines().filter(|l| l.ends_with(device)).count()
}

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn shared_pages_are_visible_through_a_grant_mapping_both_ways() {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(0, 3, true).unwrap();
    assert_eq!(pages.refs().len(), 3);
    pages.write(PAGE + 10, b"from the sharer").unwrap();

    let map = dev.map_domain_grant_refs(0, pages.refs(), Access::ReadWrite).unwrap();
    assert_eq!(map.len(), 3 * PAGE);
    let mut buf = [0u8; 15];
    map.read(PAGE + 10, &mut buf).unwrap();
    assert_eq!(&buf, b"from the sharer");
    map.write(2 * PAGE, b"from the mapper").unwrap();
    pages.read(2 * PAGE, &mut buf).unwrap();
    assert_eq!(&buf, b"from the mapper");

    // Reads past the end are refused, not performed.
    assert!(matches!(map.read(3 * PAGE - 1, &mut buf), Err(Error::InvalidArgument(_))));
}

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn dropping_mappings_and_shares_releases_them() {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let (tab0, shr0) = (maps_of("/dev/xen/gntdev"), maps_of("/dev/xen/gntalloc"));
    {
        let pages = shr.share_pages(0, 2, true).unwrap();
        let refs: Vec<(u32, u32)> = pages.refs().iter().map(|&r| (0, r)).collect();
        let _map = dev.map_grant_refs(&refs, Access::ReadOnly).unwrap();
        assert_eq!(maps_of("/dev/xen/gntdev"), tab0 + 1);
        assert_eq!(maps_of("/dev/xen/gntalloc"), shr0 + 1);
    }
    assert_eq!(maps_of("/dev/xen/gntdev"), tab0);
    assert_eq!(maps_of("/dev/xen/gntalloc"), shr0);
}

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn a_read_only_share_refuses_a_writable_map_with_a_typed_error() {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(0, 1, false).unwrap();
    let err = dev.map_grant_ref(0, pages.refs()[0], Access::ReadWrite).expect_err("must fail");
    assert_eq!(err, Error::Os { op: Op::Mmap, errno: Errno::EINVAL });
    assert!(dev.map_grant_ref(0, pages.refs()[0], Access::ReadOnly).is_ok());
}

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn grant_copy_moves_bytes_and_reports_per_segment_status() {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(0, 1, true).unwrap();
    let gref = pages.refs()[0];
    let src = b"copied through the hypervisor";
    let mut segs = [CopySegment::to_grant(src, GrantAddr { domid: 0, gref, offset: 100 }).unwrap()];
    dev.grant_copy(&mut segs).unwrap();
    assert_eq!(segs[0].status(), 0);
    let mut seen = [0u8; 29];
    pages.read(100, &mut seen).unwrap();
    assert_eq!(&seen, src);

    let mut back = [0u8; 29];
    let mut bad = [0u8; 8];
    let mut segs = [
        CopySegment::from_grant(GrantAddr { domid: 0, gref, offset: 100 }, &mut back).unwrap(),
        CopySegment::from_grant(GrantAddr { domid: 0, gref: 0xfff_fff0, offset: 0 }, &mut bad).unwrap(),
    ];
    dev.grant_copy(&mut segs).unwrap();
    assert_eq!(segs[0].status(), 0);
    assert_ne!(segs[1].status(), 0, "a ref never granted must fail its segment");
    assert_eq!(&back, src);
    // The zero-segment probe QEMU relies on.
    dev.grant_copy(&mut []).unwrap();
}

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn unmap_notification_clears_the_byte_when_the_mapping_drops() {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(0, 1, true).unwrap();
    pages.write(64, &[0xaa]).unwrap();
    let notify = UnmapNotify { clear_byte: Some(64), event_port: None };
    let map = dev.map_grant_ref_notify(0, pages.refs()[0], Access::ReadWrite, notify).unwrap();
    let mut b = [0u8];
    pages.read(64, &mut b).unwrap();
    assert_eq!(b[0], 0xaa);
    drop(map);
    pages.read(64, &mut b).unwrap();
    assert_eq!(b[0], 0, "the byte is cleared when the mapper unmaps");
    // An offset outside the page is refused up front.
    let far = UnmapNotify { clear_byte: Some(PAGE as u32), event_port: None };
    assert!(matches!(dev.map_grant_ref_notify(0, pages.refs()[0], Access::ReadWrite, far), Err(Error::InvalidArgument(_))));
}

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn kernel_refusals_come_back_as_errors_with_errno() {
    let dev = GntDev::open().unwrap();
    let err = dev.map_grant_ref(0, 0xfff_fff0, Access::ReadOnly).expect_err("never granted");
    assert_eq!(err.errno(), Errno::EINVAL);
    assert!(dev.map_domain_grant_refs(0, &[], Access::ReadOnly).is_err());
    dev.set_max_grants(16).unwrap(); // ENOTTY from pv-ops kernels is success
    // PV dom0: the kernel refuses dma-buf export.
    let shr = GntShr::open().unwrap();
    let pages = shr.share_pages(0, 1, true).unwrap();
    let err = dev.dmabuf_export(0, 0, pages.refs()).err().expect("PV refuses export");
    assert_eq!(err, Error::Os { op: Op::DmabufExpFromRefs, errno: Errno::EINVAL });
    // Waiting on a buffer that does not exist counts as released.
    dev.dmabuf_wait_released(999, 0).unwrap();
}

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn many_threads_share_one_handle() {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(0, 4, true).unwrap();
    let refs = pages.refs().to_vec();
    let before = maps_of("/dev/xen/gntdev");
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let (dev, refs) = (&dev, &refs);
            s.spawn(move || {
                for i in 0..200u32 {
                    let map = dev.map_grant_ref(0, refs[t as usize], Access::ReadWrite).unwrap();
                    map.write(0, &[t, i as u8]).unwrap();
                    let mut b = [0u8; 2];
                    map.read(0, &mut b).unwrap();
                    assert_eq!(b, [t, i as u8]);
                    map.unmap().unwrap();
                }
            });
        }
    });
    assert_eq!(maps_of("/dev/xen/gntdev"), before);
}

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn map_and_unmap_of_small_counts_do_not_allocate() {
    use xengnttab::capi::gnttab::{xengnttab_map_domain_grant_refs, xengnttab_map_grant_ref, xengnttab_unmap};
    use xengnttab::capi::handle::{xengnttab_close, xengnttab_open};
    let shr = GntShr::open().unwrap();
    let pages = shr.share_pages(0, 32, true).unwrap();
    let mut refs = pages.refs().to_vec();
    let dev = GntDev::open().unwrap();
    // SAFETY: a NULL logger is allowed; the handle is closed below.
    let h = unsafe { xengnttab_open(std::ptr::null_mut(), 0) };
    assert!(!h.is_null());
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let before = allocations();
    for _ in 0..50 {
        // Through the C ABI, as a C backend does.
        // SAFETY: live handle; refs holds 32 entries.
        unsafe {
            let one = xengnttab_map_grant_ref(h, 0, refs[0], rw);
            let many = xengnttab_map_domain_grant_refs(h, 32, 0, refs.as_mut_ptr(), rw);
            assert!(!one.is_null() && !many.is_null());
            assert_eq!(xengnttab_unmap(h, one, 1), 0);
            assert_eq!(xengnttab_unmap(h, many, 32), 0);
        }
        // Through the safe API.
        let m = dev.map_domain_grant_refs(0, &refs, Access::ReadWrite).unwrap();
        m.unmap().unwrap();
    }
    assert_eq!(allocations() - before, 0, "heap allocations on the map/unmap path");
    // The counter works: a large map (over 62 refs) uses the heap.
    let big = shr.share_pages(0, 100, true).unwrap();
    let before = allocations();
    drop(dev.map_domain_grant_refs(0, big.refs(), Access::ReadOnly).unwrap());
    assert!(allocations() > before);
    // SAFETY: live handle, not used again.
    assert_eq!(unsafe { xengnttab_close(h) }, 0);
}
