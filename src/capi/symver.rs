//! Bind each export to upstream's version node (the nodes themselves are
//! defined by the version script build.rs passes to the linker).

macro_rules! symver {
    ($($node:literal: $($sym:ident),+;)+) => {
        std::arch::global_asm!($($(concat!(".symver ", stringify!($sym), ", ", stringify!($sym), "@@", $node),)+)+);
    };
}

symver! {
    "VERS_1.0": xengnttab_open, xengnttab_close, xengnttab_set_max_grants,
        xengnttab_map_grant_ref, xengnttab_map_grant_refs, xengnttab_map_domain_grant_refs,
        xengnttab_map_grant_ref_notify, xengnttab_unmap,
        xengntshr_open, xengntshr_close, xengntshr_share_pages, xengntshr_share_page_notify,
        xengntshr_unshare;
    "VERS_1.1": xengnttab_grant_copy;
    "VERS_1.2": xengnttab_fd, xengntshr_fd, xengnttab_dmabuf_exp_from_refs,
        xengnttab_dmabuf_exp_wait_released, xengnttab_dmabuf_imp_to_refs,
        xengnttab_dmabuf_imp_release;
}
