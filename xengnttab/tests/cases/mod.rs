//! The cases both the real hypervisor (`xen.rs`) and the kernel stand-in
//! (`standin.rs`) run, word for word: domain 0 grants pages to itself and
//! maps them. The stand-in agrees with the real drivers on every one.
#![allow(dead_code)] // each test binary runs the cases it lists

use std::fs;

use xengnttab::gnttab::{CopySegment, DmaFlags, GntDev, GrantAddr, Grants, ReadOnly, ReadWrite, Released};
use xengnttab::gntshr::GntShr;
use xengnttab::{DomId, Error, Op, UnmapNotify};

const PAGE: usize = 4096;
const DOM0: DomId = DomId::SELF_GRANT;

#[global_allocator]
static COUNTING: xengnttab_standin::CountingAlloc = xengnttab_standin::CountingAlloc;
use xengnttab_standin::allocations;

/// Calls `$m!` with the name of every case: the one list that `xen.rs` and
/// `standin.rs` both run.
macro_rules! every_case {
    ($m:ident) => {
        $m!(
            shared_pages_are_visible_through_a_grant_mapping_both_ways,
            dropping_mappings_and_shares_releases_them,
            a_read_only_share_refuses_a_writable_map_with_a_typed_error,
            grant_copy_moves_bytes_and_reports_per_segment_status,
            unmap_notification_clears_the_byte_when_the_mapping_drops,
            kernel_refusals_come_back_as_errors_with_errno,
            many_threads_share_one_handle,
            a_detached_mapping_whose_address_was_reused_is_refused_and_the_occupant_kept,
            a_fork_child_cannot_touch_the_parents_mappings,
            map_and_unmap_of_small_counts_do_not_allocate,
        );
    };
}
pub(crate) use every_case;

/// Unmap the page at `at` behind the library's back and put an anonymous
/// page holding 0x5a there instead: what a caller's bug leaves.
pub fn occupy(at: *mut u8) -> *mut u8 {
    // SAFETY: the caller owns the page at `at` and gives it up; MAP_FIXED
    // replaces only that page.
    unsafe {
        assert_eq!(libc::munmap(at.cast(), PAGE), 0);
        let p = libc::mmap(at.cast(), PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED, -1, 0);
        assert_eq!(p, at.cast());
        p.cast::<u8>().write(0x5a);
        p.cast()
    }
}

/// Every test holds this while it runs: the tests look at which mappings
/// exist, and mappings made by a test running alongside (the harness runs
/// tests on parallel threads) would land in the gaps they watch.
fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a mapping of `device` starts at `addr` in this process.
fn mapped_at(addr: *const u8, device: &str) -> bool {
    let start = format!("{:x}-", addr as usize);
    fs::read_to_string("/proc/self/maps").unwrap().lines().any(|l| l.starts_with(&start) && l.contains(device))
}

pub fn shared_pages_are_visible_through_a_grant_mapping_both_ways() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 3, true).unwrap();
    assert_eq!(pages.refs().len(), 3);
    pages.write(PAGE + 10, b"from the sharer").unwrap();

    let map = dev.map_domain_grant_refs(DOM0, pages.refs(), ReadWrite).unwrap();
    assert_eq!(map.len(), 3 * PAGE);
    let mut buf = [0u8; 15];
    map.read(PAGE + 10, &mut buf).unwrap();
    assert_eq!(&buf, b"from the sharer");
    map.write(2 * PAGE, b"from the mapper").unwrap();
    pages.read(2 * PAGE, &mut buf).unwrap();
    assert_eq!(&buf, b"from the mapper");
    map.store_u32(8, 0x1234_5678).unwrap();
    assert_eq!(pages.load_u32(8).unwrap(), 0x1234_5678);

    // Reads past the end are refused, not performed.
    assert!(matches!(map.read(3 * PAGE - 1, &mut buf), Err(Error::InvalidArgument(_))));
}

pub fn dropping_mappings_and_shares_releases_them() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 2, true).unwrap();
    let domids = [DOM0; 2];
    let map = dev.map(Grants::PerRef { domids: &domids, refs: pages.refs() }, ReadOnly).unwrap();
    let (share_at, map_at) = (pages.as_ptr().cast_const(), map.as_ptr());
    assert!(mapped_at(map_at, "/dev/xen/gntdev"));
    assert!(mapped_at(share_at, "/dev/xen/gntalloc"));
    drop(map);
    drop(pages);
    assert!(!mapped_at(map_at, "/dev/xen/gntdev"));
    assert!(!mapped_at(share_at, "/dev/xen/gntalloc"));
}

pub fn a_read_only_share_refuses_a_writable_map_with_a_typed_error() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, false).unwrap();
    let err = dev.map_grant_ref(DOM0, pages.refs()[0], ReadWrite).expect_err("must fail");
    assert_eq!(err, Error::Os { op: Op::Mmap, errno: libc::EINVAL });
    assert!(dev.map_grant_ref(DOM0, pages.refs()[0], ReadOnly).is_ok());
}

pub fn grant_copy_moves_bytes_and_reports_per_segment_status() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    let gref = pages.refs()[0];
    let src = b"copied through the hypervisor";
    let mut segs = [CopySegment::to_grant(src, GrantAddr { domid: DOM0, gref, offset: 100 }).unwrap()];
    dev.grant_copy(&mut segs).unwrap();
    assert_eq!(segs[0].status(), 0);
    let mut seen = [0u8; 29];
    pages.read(100, &mut seen).unwrap();
    assert_eq!(&seen, src);

    let mut back = [0u8; 29];
    let mut bad = [0u8; 8];
    let mut segs = [
        CopySegment::from_grant(GrantAddr { domid: DOM0, gref, offset: 100 }, &mut back).unwrap(),
        CopySegment::from_grant(GrantAddr { domid: DOM0, gref: 0xfff_fff0, offset: 0 }, &mut bad).unwrap(),
    ];
    dev.grant_copy(&mut segs).unwrap();
    assert_eq!(segs[0].status(), 0);
    assert_ne!(segs[1].status(), 0, "a ref never granted must fail its segment");
    assert_eq!(&back, src);
    // The zero-segment probe QEMU relies on.
    dev.grant_copy(&mut []).unwrap();
}

pub fn unmap_notification_clears_the_byte_when_the_mapping_drops() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    pages.write(64, &[0xaa]).unwrap();
    let notify = UnmapNotify::default().clear_byte(64);
    let map = dev.map_notify(Grants::One(DOM0, pages.refs()[0]), ReadWrite, notify).unwrap();
    let mut b = [0u8];
    pages.read(64, &mut b).unwrap();
    assert_eq!(b[0], 0xaa);
    drop(map);
    pages.read(64, &mut b).unwrap();
    assert_eq!(b[0], 0, "the byte is cleared when the mapper unmaps");
    // An offset outside the mapping is refused up front.
    let far = UnmapNotify::default().clear_byte(PAGE as u32);
    assert!(matches!(dev.map_notify(Grants::One(DOM0, pages.refs()[0]), ReadWrite, far), Err(Error::InvalidArgument(_))));
}

pub fn kernel_refusals_come_back_as_errors_with_errno() {
    let _alone = exclusive();
    let dev = GntDev::open().unwrap();
    let err = dev.map_grant_ref(DOM0, 0xfff_fff0, ReadOnly).expect_err("never granted");
    assert_eq!(err.raw_os_error(), libc::EINVAL);
    assert!(dev.map_domain_grant_refs(DOM0, &[], ReadOnly).is_err());
    dev.set_max_grants(16).unwrap(); // ENOTTY from pv-ops kernels is success
    let shr = GntShr::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    if cfg!(target_arch = "aarch64") {
        // arm64: every domain is auto-translated, and gntdev exports there.
        // While it is held the kernel says ETIMEDOUT, not an error of ours.
        let buf = dev.dmabuf_export(DOM0, DmaFlags::NONE, pages.refs()).expect("an arm64 dom0 exports");
        let number = std::os::fd::AsRawFd::as_raw_fd(&buf.fd()) as u32;
        assert_eq!(dev.dmabuf_wait_released(number, 20), Err(Error::Os { op: Op::DmabufExpWaitReleased, errno: libc::ETIMEDOUT }));
        // Closing the only user releases it at once: gone before the wait, or during it.
        assert!(matches!(buf.release(5000), Ok(Released::Released | Released::AlreadyGone)));
    } else {
        // x86 PV dom0: the kernel refuses dma-buf export.
        let err = dev.dmabuf_export(DOM0, DmaFlags::NONE, pages.refs()).expect_err("PV refuses export");
        assert_eq!(err, Error::Os { op: Op::DmabufExpFromRefs, errno: libc::EINVAL });
    }
    // Waiting on a buffer that does not exist: the kernel says it is gone.
    assert_eq!(dev.dmabuf_wait_released(999, 0), Ok(Released::AlreadyGone));
}

pub fn many_threads_share_one_handle() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 4, true).unwrap();
    let refs = pages.refs().to_vec();
    let seen = std::sync::Mutex::new(std::collections::BTreeSet::new());
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let (dev, refs, seen) = (&dev, &refs, &seen);
            s.spawn(move || {
                for i in 0..200u32 {
                    let map = dev.map_grant_ref(DOM0, refs[t as usize], ReadWrite).unwrap();
                    map.write(0, &[t, i as u8]).unwrap();
                    let mut b = [0u8; 2];
                    map.read(0, &mut b).unwrap();
                    assert_eq!(b, [t, i as u8]);
                    seen.lock().unwrap().insert(map.as_ptr() as usize);
                    map.unmap().unwrap();
                }
            });
        }
    });
    let seen = seen.into_inner().unwrap();
    assert!(seen.iter().all(|&a| !mapped_at(a as *const u8, "/dev/xen/gntdev")), "a mapping outlived its unmap");
}

pub fn a_detached_mapping_whose_address_was_reused_is_refused_and_the_occupant_kept() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    let m = dev.map_detached(Grants::One(DOM0, pages.refs()[0]), xengnttab::gnttab::Prot::READ_WRITE, UnmapNotify::default()).unwrap();
    let at = m.addr();
    // The caller unmaps it behind the library's back and something else
    // takes the address.
    let occupant = occupy(at);
    let (m, err) = dev.unmap_detached(m).expect_err("the address holds something else now");
    assert_eq!(err, Error::Os { op: Op::GetOffsetForVaddr, errno: libc::EINVAL });
    // SAFETY: the occupant is still mapped (that is the point).
    assert_eq!(unsafe { occupant.read() }, 0x5a);
    dev.forget_detached(m);
    // SAFETY: unmapping the test's own occupant.
    assert_eq!(unsafe { libc::munmap(occupant.cast(), PAGE) }, 0);
}

pub fn a_fork_child_cannot_touch_the_parents_mappings() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    let map = dev.map_grant_ref(DOM0, pages.refs()[0], ReadWrite).unwrap();
    // SAFETY: the child makes only system calls and leaves with _exit.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        let refused = matches!(dev.map_grant_ref(DOM0, pages.refs()[0], ReadOnly), Err(Error::ForeignProcess));
        // The child's drop of its copy of `map` must not unmap the parent's.
        std::mem::forget(pages);
        drop(map);
        // SAFETY: leaving the child without running the parent's destructors.
        unsafe { libc::_exit(if refused { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child: {status:#x}");
    // The parent's mapping and kernel record are intact: unmap succeeds.
    map.write(0, b"still here").unwrap();
    map.unmap().unwrap();
}

pub fn map_and_unmap_of_small_counts_do_not_allocate() {
    let _alone = exclusive();
    let shr = GntShr::open().unwrap();
    let pages = shr.share_pages(DOM0, 32, true).unwrap();
    let refs = pages.refs().to_vec();
    let dev = GntDev::open().unwrap();
    let before = allocations();
    for _ in 0..50 {
        let one = dev.map_grant_ref(DOM0, refs[0], ReadWrite).unwrap();
        let m = dev.map_domain_grant_refs(DOM0, &refs, ReadWrite).unwrap();
        one.unmap().unwrap();
        m.unmap().unwrap();
    }
    assert_eq!(allocations() - before, 0, "heap allocations on the map/unmap path");
    // The counter works: a large map (over 62 refs) uses the heap.
    let big = shr.share_pages(DOM0, 100, true).unwrap();
    let before = allocations();
    drop(dev.map_domain_grant_refs(DOM0, big.refs(), ReadOnly).unwrap());
    assert!(allocations() > before);
}
