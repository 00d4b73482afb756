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

cases::every_case!(on_xen);
