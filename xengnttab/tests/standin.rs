//! The safe API on the kernel stand-in (testing/standin): first the cases
//! the real hypervisor runs too (`cases`, also run by `xen.rs` in dom0),
//! then every error path, which only the stand-in can produce on demand.
//! Each test runs in a child process with the stand-in preloaded.

mod cases;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use xengnttab::gnttab::{CopySegment, DmaFlags, GntDev, GrantAddr, Grants, Prot, ReadOnly, ReadWrite, Released};
use xengnttab::gntshr::GntShr;
use xengnttab::{DomId, Error, Op, UnmapNotify, MAX_COUNT};
use xengnttab_standin as standin;

const DOM0: DomId = DomId::SELF_GRANT;
const PAGE: usize = 4096;

macro_rules! on_standin {
    ($($name:ident),+ $(,)?) => {$(
        #[test]
        fn $name() {
            if standin::preloaded(stringify!($name)) {
                cases::$name()
            }
        }
    )+};
}

cases::every_case!(on_standin);

/// A test body run with the stand-in (in a child process); `$env` are the
/// stand-in's settings.
macro_rules! standin_test {
    ($name:ident $(, $env:expr)?; $body:block) => {
        #[test]
        fn $name() {
            let env: &[(&str, &str)] = &[$($env)?];
            if standin::preloaded_with(stringify!($name), env) $body
        }
    };
}

fn os(op: Op, errno: i32) -> Error {
    Error::Os { op, errno }
}

/// The stand-in's kernel state, to show nothing was left behind.
fn kernel() -> (i32, i32, i32, i32) {
    let s = standin::stats();
    (s.maps, s.vmas, s.grants, s.gntalloc_pages)
}

standin_test!(open_failures_say_which_device_and_what_to_check; {
    standin::fail("open", libc::ENOENT, 0, 1);
    let e = GntDev::open().unwrap_err();
    assert_eq!(e, os(Op::OpenGntdev, libc::ENOENT));
    assert!(e.to_string().contains("xen-gntdev module is not loaded"), "{e}");
    standin::fail("open", libc::EACCES, 0, 1);
    assert_eq!(GntShr::open().unwrap_err(), os(Op::OpenGntalloc, libc::EACCES));
    assert!(GntDev::open().is_ok() && GntShr::open().is_ok());
});

standin_test!(set_max_grants_takes_enotty_as_success_and_reports_the_rest; {
    let dev = GntDev::open().unwrap();
    dev.set_max_grants(16).unwrap();
    standin::fail("SET_MAX_GRANTS", libc::EIO, 0, 1);
    assert_eq!(dev.set_max_grants(16), Err(os(Op::SetMaxGrants, libc::EIO)));
});

standin_test!(bad_map_requests_are_refused_before_the_kernel; {
    let dev = GntDev::open().unwrap();
    let before = kernel();
    assert!(matches!(dev.map(Grants::OfDomain(DOM0, &[]), ReadOnly), Err(Error::InvalidArgument(_))));
    let too_many = vec![0u32; MAX_COUNT + 1];
    assert!(matches!(dev.map(Grants::OfDomain(DOM0, &too_many), ReadOnly), Err(Error::InvalidArgument(_))));
    let domids = [DOM0; 2];
    assert!(matches!(dev.map(Grants::PerRef { domids: &domids, refs: &[8] }, ReadOnly), Err(Error::InvalidArgument(_))));
    let far = UnmapNotify::default().clear_byte(PAGE as u32);
    assert!(matches!(dev.map_notify(Grants::One(DOM0, 8), ReadWrite, far), Err(Error::InvalidArgument(_))));
    assert_eq!(standin::stats().injected, 0);
    assert_eq!(kernel(), before);
});

standin_test!(every_step_of_a_map_that_fails_is_undone; {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 2, true).unwrap();
    let before = kernel();
    standin::fail("MAP_GRANT_REF", libc::ENOMEM, 0, 1);
    assert_eq!(dev.map_domain_grant_refs(DOM0, pages.refs(), ReadWrite).unwrap_err(), os(Op::MapGrantRef, libc::ENOMEM));
    assert_eq!(kernel(), before);
    standin::fail("mmap", libc::ENOMEM, 0, 1);
    assert_eq!(dev.map_domain_grant_refs(DOM0, pages.refs(), ReadWrite).unwrap_err(), os(Op::Mmap, libc::ENOMEM));
    assert_eq!(kernel(), before, "the kernel's map is dropped after a failed mmap");
    standin::fail("SET_UNMAP_NOTIFY", libc::EIO, 0, 1);
    let notify = UnmapNotify::default().event(5);
    assert_eq!(dev.map_notify(Grants::One(DOM0, pages.refs()[0]), ReadWrite, notify).unwrap_err(), os(Op::SetUnmapNotify, libc::EIO));
    assert_eq!(kernel(), before, "mapping and kernel map gone after a refused notification");
    // The kernel refuses to clear a byte of a read-only mapping.
    let clear = UnmapNotify::default().clear_byte(0);
    assert_eq!(dev.map_notify(Grants::One(DOM0, pages.refs()[0]), ReadOnly, clear).unwrap_err(), os(Op::SetUnmapNotify, libc::EINVAL));
    assert_eq!(kernel(), before);
    // And after all that, mapping works.
    let m = dev.map_domain_grant_refs(DOM0, pages.refs(), ReadWrite).unwrap();
    m.write(PAGE, b"ok").unwrap();
});

standin_test!(a_paged_out_grant_is_retried_a_while_then_given_up; {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    standin::fail("mmap", libc::EAGAIN, 0, 3);
    let m = dev.map_grant_ref(DOM0, pages.refs()[0], ReadOnly).unwrap();
    drop(m);
    let before = kernel();
    standin::fail("mmap", libc::EAGAIN, 0, 0);
    let t = std::time::Instant::now();
    assert_eq!(dev.map_grant_ref(DOM0, pages.refs()[0], ReadOnly).unwrap_err(), os(Op::Mmap, libc::EAGAIN));
    assert!(t.elapsed() < std::time::Duration::from_secs(10), "bounded retries (upstream loops forever)");
    standin::clear_faults();
    assert_eq!(kernel(), before);
});

standin_test!(a_refused_unmap_keeps_the_mapping_usable; {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    let m = dev.map_grant_ref(DOM0, pages.refs()[0], ReadWrite).unwrap();
    standin::fail("UNMAP_GRANT_REF", libc::EIO, 0, 1);
    let (m, e) = m.unmap().unwrap_err();
    assert_eq!(e, os(Op::UnmapGrantRef, libc::EIO));
    m.write(0, b"still mapped").unwrap();
    let mut b = [0u8; 12];
    pages.read(0, &mut b).unwrap();
    assert_eq!(&b, b"still mapped");
    m.unmap().unwrap();
});

standin_test!(detached_mappings_are_checked_before_anything_is_unmapped; {
    let shr = GntShr::open().unwrap();
    let (dev, other) = (GntDev::open().unwrap(), GntDev::open().unwrap());
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    let m = dev.map_detached(Grants::One(DOM0, pages.refs()[0]), Prot::READ_WRITE, UnmapNotify::default()).unwrap();
    let (m, e) = other.unmap_detached(m).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "another handle's mapping: {e:?}");
    standin::fail("GET_OFFSET_FOR_VADDR", libc::EIO, 0, 1);
    let (m, e) = dev.unmap_detached(m).unwrap_err();
    assert_eq!(e, os(Op::GetOffsetForVaddr, libc::EIO));
    let before = kernel().0;
    dev.unmap_detached(m).unwrap();
    assert_eq!(kernel().0, before - 1);
});

standin_test!(grant_copy_failures_are_typed; {
    let dev = GntDev::open().unwrap();
    standin::fail("GRANT_COPY", libc::ENOMEM, 0, 1);
    assert_eq!(dev.grant_copy(&mut []), Err(os(Op::GrantCopy, libc::ENOMEM)));
    // A grant side past its page: the kernel refuses the whole request.
    let mut buf = [0u8; 16];
    let mut segs = [CopySegment::from_grant(GrantAddr { domid: DOM0, gref: 8, offset: 4090 }, &mut buf).unwrap()];
    assert_eq!(dev.grant_copy(&mut segs), Err(os(Op::GrantCopy, libc::EINVAL)));
});

standin_test!(dma_buf_export_is_refused_in_a_pv_domain; {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 1, true).unwrap();
    let e = dev.dmabuf_export(DOM0, DmaFlags::NONE, pages.refs()).unwrap_err();
    assert_eq!(e, os(Op::DmabufExpFromRefs, libc::EINVAL));
    assert!(e.to_string().contains("PV domains"), "{e}");
    assert!(matches!(dev.dmabuf_export(DOM0, DmaFlags::NONE, &[]), Err(Error::InvalidArgument(_))));
});

standin_test!(dma_buf_export_and_release_in_an_autotranslated_domain, ("XGT_STANDIN_AUTOTRANSLATED", "1"); {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_pages(DOM0, 2, true).unwrap();
    let buf = dev.dmabuf_export(DOM0, DmaFlags::WC, pages.refs()).unwrap();
    let number = buf.fd().as_raw_fd() as u32;
    assert_eq!(dev.dmabuf_wait_released(number, 20), Err(os(Op::DmabufExpWaitReleased, libc::ETIMEDOUT)));
    // An importer holds the buffer a while after we let go of it.
    let importer = buf.fd().try_clone_to_owned().unwrap();
    let later = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(importer);
    });
    assert_eq!(buf.release(5000), Ok(Released::Released));
    later.join().unwrap();
    // Nobody else holds this one: it is gone the moment we close it.
    let buf = dev.dmabuf_export(DOM0, DmaFlags::NONE, pages.refs()).unwrap();
    assert_eq!(buf.release(0), Ok(Released::AlreadyGone));
    assert_eq!(kernel(), (0, 1, 2, 2), "the grants stay shared, no longer exported");
});

fn memfd(pages: usize) -> OwnedFd {
    // SAFETY: plain system calls on a descriptor we own.
    unsafe {
        let fd = libc::memfd_create(c"test-dmabuf".as_ptr(), libc::MFD_CLOEXEC);
        assert!(fd >= 0);
        assert_eq!(libc::ftruncate(fd, (pages * PAGE) as libc::off_t), 0);
        OwnedFd::from_raw_fd(fd)
    }
}

standin_test!(dma_buf_import_grants_the_buffer_and_release_ends_it; {
    let dev = GntDev::open().unwrap();
    let fd = memfd(3);
    let before = kernel().2;
    let mut wrong = [0u32; 2];
    assert_eq!(dev.dmabuf_import_into(DOM0, fd.as_raw_fd() as u32, &mut wrong), Err(os(Op::DmabufImpToRefs, libc::EINVAL)));
    assert_eq!(wrong, [0, 0], "refs written only on success");
    let imported = dev.dmabuf_import(DOM0, std::os::fd::AsFd::as_fd(&fd), 3).unwrap();
    assert_eq!(kernel().2, before + 3);
    {
        let map = dev.map_domain_grant_refs(DOM0, imported.refs(), ReadWrite).unwrap();
        map.write(2 * PAGE, b"into the buffer").unwrap();
    }
    let mut seen = [0u8; 15];
    // SAFETY: reading our own memfd.
    assert_eq!(unsafe { libc::pread(fd.as_raw_fd(), seen.as_mut_ptr().cast(), 15, 2 * PAGE as libc::off_t) }, 15);
    assert_eq!(&seen, b"into the buffer");
    drop(imported);
    assert_eq!(kernel().2, before, "dropping the import ends its grants");
    assert_eq!(dev.dmabuf_release(fd.as_raw_fd() as u32), Err(os(Op::DmabufImpRelease, libc::ENOENT)));
});

standin_test!(every_step_of_a_share_that_fails_is_undone_and_refs_untouched; {
    let shr = GntShr::open().unwrap();
    let before = kernel();
    let mut refs = [7u32; 2];
    standin::fail("mmap", libc::ENOMEM, 0, 1);
    let e = shr.share_detached(DOM0, &mut refs, true, UnmapNotify::default()).unwrap_err();
    assert_eq!(e, os(Op::Mmap, libc::ENOMEM));
    assert_eq!(refs, [7, 7]);
    standin::fail("GNTALLOC_SET_UNMAP_NOTIFY", libc::EIO, 0, 1);
    let e = shr.share_detached(DOM0, &mut refs[..1], true, UnmapNotify::default().clear_byte(3)).unwrap_err();
    assert_eq!(e, os(Op::SetUnmapNotify, libc::EIO));
    assert_eq!(refs, [7, 7], "upstream hands out refs it is about to free here");
    assert_eq!(kernel(), before, "pages deallocated, nothing mapped");
    assert!(matches!(shr.share_pages(DOM0, 0, true), Err(Error::InvalidArgument(_))));
    assert!(matches!(shr.share_pages(DOM0, MAX_COUNT + 1, true), Err(Error::InvalidArgument(_))));
});

standin_test!(gntallocs_limit_is_named_in_the_error, ("XGT_STANDIN_GNTALLOC_LIMIT", "4"); {
    let shr = GntShr::open().unwrap();
    let _held = shr.share_pages(DOM0, 3, true).unwrap();
    let e = shr.share_pages(DOM0, 2, true).unwrap_err();
    assert_eq!(e, os(Op::AllocGref, libc::ENOSPC));
    assert!(e.to_string().contains("/sys/module/xen_gntalloc/parameters/limit"), "{e}");
});

standin_test!(a_share_whose_address_was_reused_is_not_unmapped; {
    let shr = GntShr::open().unwrap();
    let mut refs = [0u32; 1];
    let s = shr.share_detached(DOM0, &mut refs, true, UnmapNotify::default()).unwrap();
    let occupant = cases::occupy(s.addr());
    let (_s, e) = shr.unshare_detached(s).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    // SAFETY: still the test's own mapping.
    assert_eq!(unsafe { occupant.read() }, 0x5a);
});

standin_test!(unmap_notifications_fire_for_both_sides; {
    let shr = GntShr::open().unwrap();
    let dev = GntDev::open().unwrap();
    let pages = shr.share_page_notify(DOM0, true, UnmapNotify::default().event(3)).unwrap();
    let m = dev.map_notify(Grants::One(DOM0, pages.refs()[0]), ReadWrite, UnmapNotify::default().event(4)).unwrap();
    let events = standin::stats().events;
    drop(m);
    assert_eq!(standin::stats().events, events + 1, "the mapper's event when its mapping goes");
    drop(pages);
    assert_eq!(standin::stats().events, events + 2, "the sharer's event when the page goes");
    assert_eq!(kernel(), (0, 0, 0, 0));
});
