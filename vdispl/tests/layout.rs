//! Every offset, size and constant the protocol code uses, checked against
//! the C headers: Xen's `xen/io/displif.h` and `xen/io/xs_wire.h`
//! (libxen-dev) and the kernel's `xen/evtchn.h` (linux-libc-dev), compiled
//! here with the C compiler. A missing header or compiler fails the test
//! (it names the package): nothing is skipped.

use std::collections::HashMap;
use std::process::Command;

use vdispl::evtchn::*;
use vdispl::protocol::{self, off};
use vdispl::xenstore;

fn require(path: &str, package: &str) {
    assert!(std::path::Path::new(path).exists(), "{path} is missing: install the Debian package {package}");
}

/// (C expression, Rust value)
fn facts() -> Vec<(&'static str, u64)> {
    macro_rules! f {
        ($c:literal, $v:expr) => {
            ($c, $v as u64)
        };
    }
    vec![
        f!("sizeof(struct xendispl_req)", protocol::PACKET_SIZE),
        f!("sizeof(struct xendispl_resp)", protocol::PACKET_SIZE),
        f!("sizeof(struct xendispl_evt)", protocol::PACKET_SIZE),
        f!("offsetof(struct xendispl_req, id)", off::REQ_ID),
        f!("offsetof(struct xendispl_req, operation)", off::REQ_OPERATION),
        f!("offsetof(struct xendispl_req, op)", off::REQ_OP),
        f!("offsetof(struct xendispl_req, op.dbuf_create.dbuf_cookie)", off::DBUF_CREATE_COOKIE),
        f!("offsetof(struct xendispl_req, op.dbuf_create.width)", off::DBUF_CREATE_WIDTH),
        f!("offsetof(struct xendispl_req, op.dbuf_create.height)", off::DBUF_CREATE_HEIGHT),
        f!("offsetof(struct xendispl_req, op.dbuf_create.bpp)", off::DBUF_CREATE_BPP),
        f!("offsetof(struct xendispl_req, op.dbuf_create.buffer_sz)", off::DBUF_CREATE_BUFFER_SZ),
        f!("offsetof(struct xendispl_req, op.dbuf_create.flags)", off::DBUF_CREATE_FLAGS),
        f!("offsetof(struct xendispl_req, op.dbuf_create.gref_directory)", off::DBUF_CREATE_GREF_DIRECTORY),
        f!("offsetof(struct xendispl_req, op.dbuf_create.data_ofs)", off::DBUF_CREATE_DATA_OFS),
        f!("offsetof(struct xendispl_req, op.dbuf_destroy.dbuf_cookie)", off::DBUF_DESTROY_COOKIE),
        f!("offsetof(struct xendispl_req, op.fb_attach.dbuf_cookie)", off::FB_ATTACH_DBUF_COOKIE),
        f!("offsetof(struct xendispl_req, op.fb_attach.fb_cookie)", off::FB_ATTACH_FB_COOKIE),
        f!("offsetof(struct xendispl_req, op.fb_attach.width)", off::FB_ATTACH_WIDTH),
        f!("offsetof(struct xendispl_req, op.fb_attach.height)", off::FB_ATTACH_HEIGHT),
        f!("offsetof(struct xendispl_req, op.fb_attach.pixel_format)", off::FB_ATTACH_PIXEL_FORMAT),
        f!("offsetof(struct xendispl_req, op.fb_detach.fb_cookie)", off::FB_DETACH_COOKIE),
        f!("offsetof(struct xendispl_req, op.set_config.fb_cookie)", off::SET_CONFIG_FB_COOKIE),
        f!("offsetof(struct xendispl_req, op.set_config.x)", off::SET_CONFIG_X),
        f!("offsetof(struct xendispl_req, op.set_config.y)", off::SET_CONFIG_Y),
        f!("offsetof(struct xendispl_req, op.set_config.width)", off::SET_CONFIG_WIDTH),
        f!("offsetof(struct xendispl_req, op.set_config.height)", off::SET_CONFIG_HEIGHT),
        f!("offsetof(struct xendispl_req, op.set_config.bpp)", off::SET_CONFIG_BPP),
        f!("offsetof(struct xendispl_req, op.pg_flip.fb_cookie)", off::PG_FLIP_COOKIE),
        f!("offsetof(struct xendispl_req, op.get_edid.buffer_sz)", off::GET_EDID_BUFFER_SZ),
        f!("offsetof(struct xendispl_req, op.get_edid.gref_directory)", off::GET_EDID_GREF_DIRECTORY),
        f!("offsetof(struct xendispl_resp, id)", off::RESP_ID),
        f!("offsetof(struct xendispl_resp, operation)", off::RESP_OPERATION),
        f!("offsetof(struct xendispl_resp, status)", off::RESP_STATUS),
        f!("offsetof(struct xendispl_resp, op.get_edid.edid_sz)", off::RESP_EDID_SZ),
        f!("offsetof(struct xendispl_evt, id)", off::EVT_ID),
        f!("offsetof(struct xendispl_evt, type)", off::EVT_TYPE),
        f!("offsetof(struct xendispl_evt, op.pg_flip.fb_cookie)", off::EVT_PG_FLIP_COOKIE),
        f!("offsetof(struct xendispl_event_page, in_cons)", off::EVPAGE_IN_CONS),
        f!("offsetof(struct xendispl_event_page, in_prod)", off::EVPAGE_IN_PROD),
        f!("XENDISPL_IN_RING_OFFS", off::EVPAGE_RING),
        f!("XENDISPL_IN_RING_LEN", protocol::EVT_RING_LEN),
        f!("XENDISPL_EVENT_PAGE_SIZE", protocol::XEN_PAGE_SIZE),
        f!("offsetof(struct xen_displif_sring, req_prod)", off::SRING_REQ_PROD),
        f!("offsetof(struct xen_displif_sring, req_event)", off::SRING_REQ_EVENT),
        f!("offsetof(struct xen_displif_sring, rsp_prod)", off::SRING_RSP_PROD),
        f!("offsetof(struct xen_displif_sring, rsp_event)", off::SRING_RSP_EVENT),
        f!("offsetof(struct xen_displif_sring, ring)", off::SRING_RING),
        f!("sizeof(union xen_displif_sring_entry)", protocol::PACKET_SIZE),
        f!("__CONST_RING_SIZE(xen_displif, 4096)", protocol::REQ_RING_SIZE),
        f!("offsetof(struct xendispl_page_directory, gref_dir_next_page)", off::PGDIR_NEXT),
        f!("offsetof(struct xendispl_page_directory, gref)", off::PGDIR_GREF),
        f!("XENDISPL_OP_DBUF_CREATE", protocol::OP_DBUF_CREATE),
        f!("XENDISPL_OP_DBUF_DESTROY", protocol::OP_DBUF_DESTROY),
        f!("XENDISPL_OP_FB_ATTACH", protocol::OP_FB_ATTACH),
        f!("XENDISPL_OP_FB_DETACH", protocol::OP_FB_DETACH),
        f!("XENDISPL_OP_SET_CONFIG", protocol::OP_SET_CONFIG),
        f!("XENDISPL_OP_PG_FLIP", protocol::OP_PG_FLIP),
        f!("XENDISPL_OP_GET_EDID", protocol::OP_GET_EDID),
        f!("XENDISPL_EVT_PG_FLIP", protocol::EVT_PG_FLIP),
        f!("XENDISPL_DBUF_FLG_REQ_ALLOC", protocol::DBUF_FLG_REQ_ALLOC),
        f!("XENDISPL_PROTOCOL_VERSION_INT", 2),
        f!("XENDISPL_EDID_MAX_SIZE", protocol::EDID_MAX_SIZE),
        // xs_wire.h
        f!("sizeof(struct xsd_sockmsg)", xenstore::HEADER_SIZE),
        f!("XS_DIRECTORY", xenstore::XS_DIRECTORY),
        f!("XS_READ", xenstore::XS_READ),
        f!("XS_WATCH", xenstore::XS_WATCH),
        f!("XS_UNWATCH", xenstore::XS_UNWATCH),
        f!("XS_GET_DOMAIN_PATH", xenstore::XS_GET_DOMAIN_PATH),
        f!("XS_WRITE", xenstore::XS_WRITE),
        f!("XS_MKDIR", xenstore::XS_MKDIR),
        f!("XS_RM", xenstore::XS_RM),
        f!("XS_WATCH_EVENT", xenstore::XS_WATCH_EVENT),
        f!("XS_ERROR", xenstore::XS_ERROR),
        f!("XENSTORE_PAYLOAD_MAX", xenstore::PAYLOAD_MAX),
        // xen/evtchn.h (kernel uapi)
        f!("IOCTL_EVTCHN_BIND_INTERDOMAIN", IOCTL_EVTCHN_BIND_INTERDOMAIN),
        f!("IOCTL_EVTCHN_BIND_UNBOUND_PORT", IOCTL_EVTCHN_BIND_UNBOUND_PORT),
        f!("IOCTL_EVTCHN_UNBIND", IOCTL_EVTCHN_UNBIND),
        f!("IOCTL_EVTCHN_NOTIFY", IOCTL_EVTCHN_NOTIFY),
        f!("IOCTL_EVTCHN_RESET", IOCTL_EVTCHN_RESET),
        f!("sizeof(struct ioctl_evtchn_bind_interdomain)", std::mem::size_of::<BindInterdomain>()),
        f!("offsetof(struct ioctl_evtchn_bind_interdomain, remote_port)", std::mem::offset_of!(BindInterdomain, remote_port)),
        f!("sizeof(struct ioctl_evtchn_bind_unbound_port)", std::mem::size_of::<BindUnboundPort>()),
        f!("sizeof(struct ioctl_evtchn_notify)", std::mem::size_of::<Port>()),
        f!("sizeof(struct ioctl_evtchn_unbind)", std::mem::size_of::<Port>()),
    ]
}

#[test]
fn protocol_layout_matches_the_c_headers() {
    require("/usr/include/xen/io/displif.h", "libxen-dev");
    require("/usr/include/xen/io/xs_wire.h", "libxen-dev");
    require("/usr/include/xen/evtchn.h", "linux-libc-dev");
    let dir = std::env::temp_dir().join(format!("vdispl-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Two translation units: the kernel's uapi evtchn.h and Xen's public
    // headers both live under xen/, so the C program is split.
    let mut xen = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <stdint.h>\n\
         #include <xen/xen.h>\n#include <xen/io/displif.h>\n#include <xen/io/xs_wire.h>\n\
         void xen_facts(void) {\n",
    );
    let mut kern = String::from("#include <stdio.h>\n#include <stddef.h>\n#include <linux/ioctl.h>\n#include <linux/types.h>\n#include <stdint.h>\ntypedef uint16_t domid_t; /* the uapi header expects the kernel typedef */\n#include <xen/evtchn.h>\nvoid xen_facts(void);\nint main(void) {\n    xen_facts();\n");
    for (i, (expr, _)) in facts().iter().enumerate() {
        let line = format!("    printf(\"{i} %llu\\n\", (unsigned long long)({expr}));\n");
        if expr.contains("EVTCHN") || expr.contains("evtchn") {
            kern += &line;
        } else {
            xen += &line;
        }
    }
    xen += "}\n";
    kern += "    return 0;\n}\n";
    std::fs::write(dir.join("xen.c"), xen).unwrap();
    std::fs::write(dir.join("kern.c"), kern).unwrap();
    let out = Command::new("cc").arg("-o").arg(dir.join("layout")).arg(dir.join("xen.c")).arg(dir.join("kern.c")).output().expect("cc (build-essential)");
    assert!(out.status.success(), "cc failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(dir.join("layout")).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let c: HashMap<usize, u64> = text
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.parse().unwrap(), v.parse().unwrap())
        })
        .collect();
    let facts = facts();
    assert_eq!(c.len(), facts.len());
    let wrong: Vec<String> = facts
        .iter()
        .enumerate()
        .filter(|(i, (_, v))| c[i] != *v)
        .map(|(i, (e, v))| format!("{e}: C {}, ours {v}", c[&i]))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "layout mismatches:\n{}", wrong.join("\n"));
}
