//! The safe Rust API on a real hypervisor. These need /dev/xen, so they are
//! `#[ignore]`d on a plain host; `make xen-test` builds them and runs them
//! with `--include-ignored` inside the QEMU-booted dom0 (domain 0 grants to
//! itself). `standin.rs` runs the same cases on the kernel stand-in.

mod cases;

macro_rules! on_xen {
    ($($name:ident),+ $(,)?) => {$(
        #[test]
        #[ignore = "needs /dev/xen: run by `make xen-test` in dom0"]
        fn $name() {
            cases::$name()
        }
    )+};
}

on_xen!(
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
