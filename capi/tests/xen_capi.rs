//! The C ABI on a real hypervisor, from Rust. These need /dev/xen, so they
//! are `#[ignore]`d on a plain host; `make xen-test` runs them in dom0.


use xengnttab_capi::gnttab::{xengnttab_map_domain_grant_refs, xengnttab_map_grant_ref, xengnttab_unmap};
use xengnttab_capi::gntshr::{xengntshr_share_pages, xengntshr_unshare};
use xengnttab_capi::handle::{recorded, xengnttab_close, xengnttab_open, xengntshr_close, xengntshr_open};

#[global_allocator]
static COUNTING: xengnttab_standin::CountingAlloc = xengnttab_standin::CountingAlloc;
use xengnttab_standin::allocations;

#[test]
#[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
fn map_and_unmap_of_small_counts_do_not_allocate() {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: NULL loggers are allowed; the handles are closed below, and
    // every array holds the counts passed with it.
    unsafe {
        let gs = xengntshr_open(std::ptr::null_mut(), 0);
        let gt = xengnttab_open(std::ptr::null_mut(), 0);
        assert!(!gs.is_null() && !gt.is_null());
        let mut refs = [0u32; 32];
        let share = xengntshr_share_pages(gs, 0, 32, refs.as_mut_ptr(), 1);
        assert!(!share.is_null());
        // Warm the registry up: its first segment is allocated on first use.
        let warm = xengnttab_map_grant_ref(gt, 0, refs[0], rw);
        assert_eq!(xengnttab_unmap(gt, warm, 1), 0);
        let before = allocations();
        for _ in 0..50 {
            let one = xengnttab_map_grant_ref(gt, 0, refs[0], rw);
            let many = xengnttab_map_domain_grant_refs(gt, 32, 0, refs.as_mut_ptr(), rw);
            assert!(!one.is_null() && !many.is_null());
            assert_eq!(xengnttab_unmap(gt, one, 1), 0);
            assert_eq!(xengnttab_unmap(gt, many, 32), 0);
        }
        assert_eq!(allocations() - before, 0, "heap allocations on the map/unmap path");
        assert_eq!(recorded(gt), 0, "registry entries left");
        assert_eq!(xengntshr_unshare(gs, share, 32), 0);
        assert_eq!(recorded(gs), 0);
        assert_eq!(xengnttab_close(gt), 0);
        assert_eq!(xengntshr_close(gs), 0);
    }
}
