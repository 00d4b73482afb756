//! Every struct size, field offset and ioctl number of the kernel ABI layer,
//! checked against the kernel's own headers (linux-libc-dev's
//! /usr/include/xen/gntdev.h and gntalloc.h), compiled here with the C compiler.

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

use super::{gntalloc::*, gntdev::*};

fn require_file(p: &str, package: &str) {
    assert!(Path::new(p).exists(), "{p} missing: install Debian package {package} (.ci/run does)");
}

/// Run a command that must succeed; returns stdout.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is the tool installed? .ci/run installs it)"));
    assert!(out.status.success(), "{cmd:?} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// (name, C expression, Rust value)
fn facts() -> Vec<(&'static str, &'static str, u64)> {
    macro_rules! f {
        ($name:literal, $c:literal, $v:expr) => {
            ($name, $c, $v as u64)
        };
    }
    vec![
        f!("MAP_GRANT_REF", "IOCTL_GNTDEV_MAP_GRANT_REF", IOCTL_GNTDEV_MAP_GRANT_REF),
        f!("UNMAP_GRANT_REF", "IOCTL_GNTDEV_UNMAP_GRANT_REF", IOCTL_GNTDEV_UNMAP_GRANT_REF),
        f!("GET_OFFSET", "IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR", IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR),
        f!("SET_MAX_GRANTS", "IOCTL_GNTDEV_SET_MAX_GRANTS", IOCTL_GNTDEV_SET_MAX_GRANTS),
        f!("GNTDEV_NOTIFY", "IOCTL_GNTDEV_SET_UNMAP_NOTIFY", IOCTL_GNTDEV_SET_UNMAP_NOTIFY),
        f!("GRANT_COPY", "IOCTL_GNTDEV_GRANT_COPY", IOCTL_GNTDEV_GRANT_COPY),
        f!("EXP_FROM_REFS", "IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS", IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS),
        f!("EXP_WAIT", "IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED", IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED),
        f!("IMP_TO_REFS", "IOCTL_GNTDEV_DMABUF_IMP_TO_REFS", IOCTL_GNTDEV_DMABUF_IMP_TO_REFS),
        f!("IMP_RELEASE", "IOCTL_GNTDEV_DMABUF_IMP_RELEASE", IOCTL_GNTDEV_DMABUF_IMP_RELEASE),
        f!("ALLOC_GREF", "IOCTL_GNTALLOC_ALLOC_GREF", IOCTL_GNTALLOC_ALLOC_GREF),
        f!("DEALLOC_GREF", "IOCTL_GNTALLOC_DEALLOC_GREF", IOCTL_GNTALLOC_DEALLOC_GREF),
        f!("GNTALLOC_NOTIFY", "IOCTL_GNTALLOC_SET_UNMAP_NOTIFY", IOCTL_GNTALLOC_SET_UNMAP_NOTIFY),
        f!("NOTIFY_CLEAR", "UNMAP_NOTIFY_CLEAR_BYTE", UNMAP_NOTIFY_CLEAR_BYTE),
        f!("NOTIFY_EVENT", "UNMAP_NOTIFY_SEND_EVENT", UNMAP_NOTIFY_SEND_EVENT),
        f!("FLAG_WRITABLE", "GNTALLOC_FLAG_WRITABLE", GNTALLOC_FLAG_WRITABLE),
        f!("DMA_WC", "GNTDEV_DMA_FLAG_WC", GNTDEV_DMA_FLAG_WC),
        f!("DMA_COHERENT", "GNTDEV_DMA_FLAG_COHERENT", GNTDEV_DMA_FLAG_COHERENT),
        // struct ioctl_gntdev_grant_ref
        f!("grant_ref", "sizeof(struct ioctl_gntdev_grant_ref)", size_of::<GrantRef>()),
        f!("grant_ref.ref", "offsetof(struct ioctl_gntdev_grant_ref, ref)", offset_of!(GrantRef, r#ref)),
        // struct ioctl_gntdev_map_grant_ref
        f!("map", "sizeof(struct ioctl_gntdev_map_grant_ref)", size_of::<MapGrantRef>()),
        f!("map.count", "offsetof(struct ioctl_gntdev_map_grant_ref, count)", offset_of!(MapGrantRef, count)),
        f!("map.index", "offsetof(struct ioctl_gntdev_map_grant_ref, index)", offset_of!(MapGrantRef, index)),
        f!("map.refs", "offsetof(struct ioctl_gntdev_map_grant_ref, refs)", offset_of!(MapGrantRef, refs)),
        f!("unmap", "sizeof(struct ioctl_gntdev_unmap_grant_ref)", size_of::<UnmapGrantRef>()),
        f!("unmap.index", "offsetof(struct ioctl_gntdev_unmap_grant_ref, index)", offset_of!(UnmapGrantRef, index)),
        f!("unmap.count", "offsetof(struct ioctl_gntdev_unmap_grant_ref, count)", offset_of!(UnmapGrantRef, count)),
        f!("getoff", "sizeof(struct ioctl_gntdev_get_offset_for_vaddr)", size_of::<GetOffsetForVaddr>()),
        f!("getoff.offset", "offsetof(struct ioctl_gntdev_get_offset_for_vaddr, offset)", offset_of!(GetOffsetForVaddr, offset)),
        f!("getoff.count", "offsetof(struct ioctl_gntdev_get_offset_for_vaddr, count)", offset_of!(GetOffsetForVaddr, count)),
        f!("setmax", "sizeof(struct ioctl_gntdev_set_max_grants)", size_of::<SetMaxGrants>()),
        f!("notify", "sizeof(struct ioctl_gntdev_unmap_notify)", size_of::<UnmapNotify>()),
        f!("notify.action", "offsetof(struct ioctl_gntdev_unmap_notify, action)", offset_of!(UnmapNotify, action)),
        f!("notify.port", "offsetof(struct ioctl_gntdev_unmap_notify, event_channel_port)", offset_of!(UnmapNotify, event_channel_port)),
        f!("seg", "sizeof(struct gntdev_grant_copy_segment)", size_of::<GrantCopySegment>()),
        f!("seg.dest", "offsetof(struct gntdev_grant_copy_segment, dest)", offset_of!(GrantCopySegment, dest)),
        f!("seg.len", "offsetof(struct gntdev_grant_copy_segment, len)", offset_of!(GrantCopySegment, len)),
        f!("seg.flags", "offsetof(struct gntdev_grant_copy_segment, flags)", offset_of!(GrantCopySegment, flags)),
        f!("seg.status", "offsetof(struct gntdev_grant_copy_segment, status)", offset_of!(GrantCopySegment, status)),
        f!("seg.foreign.offset", "offsetof(struct gntdev_grant_copy_segment, source.foreign.offset)", 4),
        f!("seg.foreign.domid", "offsetof(struct gntdev_grant_copy_segment, source.foreign.domid)", 6),
        f!("copy", "sizeof(struct ioctl_gntdev_grant_copy)", size_of::<GrantCopy>()),
        f!("copy.segments", "offsetof(struct ioctl_gntdev_grant_copy, segments)", offset_of!(GrantCopy, segments)),
        f!("exp", "sizeof(struct ioctl_gntdev_dmabuf_exp_from_refs)", size_of::<DmabufExpFromRefs>()),
        f!("exp.count", "offsetof(struct ioctl_gntdev_dmabuf_exp_from_refs, count)", offset_of!(DmabufExpFromRefs, count)),
        f!("exp.fd", "offsetof(struct ioctl_gntdev_dmabuf_exp_from_refs, fd)", offset_of!(DmabufExpFromRefs, fd)),
        f!("exp.domid", "offsetof(struct ioctl_gntdev_dmabuf_exp_from_refs, domid)", offset_of!(DmabufExpFromRefs, domid)),
        f!("exp.refs", "offsetof(struct ioctl_gntdev_dmabuf_exp_from_refs, refs)", offset_of!(DmabufExpFromRefs, refs)),
        f!("wait", "sizeof(struct ioctl_gntdev_dmabuf_exp_wait_released)", size_of::<DmabufExpWaitReleased>()),
        f!("wait.ms", "offsetof(struct ioctl_gntdev_dmabuf_exp_wait_released, wait_to_ms)", offset_of!(DmabufExpWaitReleased, wait_to_ms)),
        f!("imp", "sizeof(struct ioctl_gntdev_dmabuf_imp_to_refs)", size_of::<DmabufImpToRefs>()),
        f!("imp.count", "offsetof(struct ioctl_gntdev_dmabuf_imp_to_refs, count)", offset_of!(DmabufImpToRefs, count)),
        f!("imp.domid", "offsetof(struct ioctl_gntdev_dmabuf_imp_to_refs, domid)", offset_of!(DmabufImpToRefs, domid)),
        f!("imp.reserved", "offsetof(struct ioctl_gntdev_dmabuf_imp_to_refs, reserved)", offset_of!(DmabufImpToRefs, reserved)),
        f!("imp.refs", "offsetof(struct ioctl_gntdev_dmabuf_imp_to_refs, refs)", offset_of!(DmabufImpToRefs, refs)),
        f!("rel", "sizeof(struct ioctl_gntdev_dmabuf_imp_release)", size_of::<DmabufImpRelease>()),
        f!("alloc", "sizeof(struct ioctl_gntalloc_alloc_gref)", size_of::<AllocGref>()),
        f!("alloc.flags", "offsetof(struct ioctl_gntalloc_alloc_gref, flags)", offset_of!(AllocGref, flags)),
        f!("alloc.count", "offsetof(struct ioctl_gntalloc_alloc_gref, count)", offset_of!(AllocGref, count)),
        f!("alloc.index", "offsetof(struct ioctl_gntalloc_alloc_gref, index)", offset_of!(AllocGref, index)),
        f!("alloc.gref_ids", "offsetof(struct ioctl_gntalloc_alloc_gref, gref_ids)", offset_of!(AllocGref, gref_ids)),
        f!("dealloc", "sizeof(struct ioctl_gntalloc_dealloc_gref)", size_of::<DeallocGref>()),
        f!("dealloc.count", "offsetof(struct ioctl_gntalloc_dealloc_gref, count)", offset_of!(DeallocGref, count)),
        f!("gntalloc_notify", "sizeof(struct ioctl_gntalloc_unmap_notify)", size_of::<UnmapNotify>()),
    ]
}

#[test]
fn structs_and_ioctl_numbers_match_the_kernel_headers() {
    require_file("/usr/include/xen/gntdev.h", "linux-libc-dev");
    require_file("/usr/include/xen/gntalloc.h", "linux-libc-dev");
    let dir = std::env::temp_dir().join(format!("xengnttab-abi-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut src = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <stdint.h>\n\
         #include <linux/ioctl.h>\n\
         /* the uapi header expects the kernel's own typedefs */\n\
         typedef uint32_t grant_ref_t;\ntypedef uint16_t domid_t;\n#include <xen/gntdev.h>\n#include <xen/gntalloc.h>\n\
         int main(void) {\n",
    );
    let facts = facts();
    for (name, expr, _) in &facts {
        src += &format!("    printf(\"%s %llu\\n\", \"{name}\", (unsigned long long)({expr}));\n");
    }
    src += "    return 0;\n}\n";
    std::fs::write(dir.join("abi.c"), src).unwrap();
    run_ok(Command::new("cc").arg("-o").arg(dir.join("abi")).arg(dir.join("abi.c")));
    let out = run_ok(&mut Command::new(dir.join("abi")));
    let c: HashMap<&str, u64> = out
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    let mut wrong = Vec::new();
    for (name, expr, rust) in &facts {
        if c[name] != *rust {
            wrong.push(format!("{expr}: kernel {:#x}, ours {rust:#x}", c[name]));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "kernel ABI mismatches:\n{}", wrong.join("\n"));
}
