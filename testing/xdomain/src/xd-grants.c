/* xd-grants sharer|mapper PEER DIR: grants across two domains.
 *
 * The sharer shares 4 writable pages and 1 read-only page with PEER, each
 * filled with a pattern, and publishes the refs in DIR. The mapper maps page 0
 * alone, pages 1-3 in one batch and the read-only page read-only (writable
 * must fail), checks the patterns, writes into the second half of each
 * writable page, grant-copies from page 0 and into page 2 (and into the
 * read-only page, which must fail). Then the sharer checks all of it, writes
 * into page 0, and the mapper must see that write through its mapping. */
#define _GNU_SOURCE
#include "../../support/common.h"
#include "xs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define H (PAGE / 2)
#define RW (PROT_READ | PROT_WRITE)

static void sharer(int peer)
{
    xengntshr_handle *gs = open_gntshr_or_exit();
    uint32_t refs[4], roref;
    unsigned char *p, *ro;

    p = xengntshr_share_pages(gs, peer, 4, refs, 1);
    obs("share.writable", "%s", ptr_str(p, errno));
    ro = xengntshr_share_pages(gs, peer, 1, &roref, 0);
    obs("share.readonly", "%s", ptr_str(ro, errno));
    if (!check(p && ro, "share pages"))
        return;
    for (int i = 0; i < 4; i++)
        fill_pattern(p + i * PAGE, PAGE, 10 + i);
    fill_pattern(ro, PAGE, 14);
    xs_put("refs", "%u %u %u %u", refs[0], refs[1], refs[2], refs[3]);
    xs_put("roref", "%u", roref);

    free(xs_wait("mapped", 60));
    for (int i = 0; i < 4; i++) {
        int ok = check_pattern(p + i * PAGE + H, H, 100 + i);
        obs("sharer.sees_mapper_write", "page %d %s", i, ok ? "yes" : "no");
        check(ok, "mapper's write to page %d", i);
    }
    int ok = check_pattern(p + 2 * PAGE + 1024, 512, 200);
    obs("sharer.sees_copy_to_page2", "%s", ok ? "yes" : "no");
    check(ok, "grant copy into page 2");
    ok = check_pattern(ro, PAGE, 14);
    obs("sharer.readonly_page_intact", "%s", ok ? "yes" : "no");
    check(ok, "read-only page unchanged");

    fill_pattern(p, 100, 300);
    xs_put("sharer-wrote", "1");
    free(xs_wait("done", 60));
    obs("unshare.writable", "%s", rc_str(xengntshr_unshare(gs, p, 4), errno));
    obs("unshare.readonly", "%s", rc_str(xengntshr_unshare(gs, ro, 1), errno));
    xengntshr_close(gs);
}

static void mapper(int peer)
{
    xengnttab_handle *gt = open_gnttab_or_exit();
    uint32_t refs[4], roref, doms[3] = { peer, peer, peer };
    unsigned char *m0, *m13, *mro, *bad, buf[PAGE];
    char *v;
    int ok;

    v = xs_wait("refs", 60);
    check(parse_u32s(v, refs, 4) == 4, "4 refs published");
    free(v);
    v = xs_wait("roref", 60);
    roref = strtoul(v, NULL, 10);
    free(v);

    m0 = xengnttab_map_grant_ref(gt, peer, refs[0], RW);
    obs("map.single", "%s", ptr_str(m0, errno));
    m13 = xengnttab_map_grant_refs(gt, 3, doms, refs + 1, RW);
    obs("map.batch3", "%s", ptr_str(m13, errno));
    mro = xengnttab_map_grant_ref(gt, peer, roref, PROT_READ);
    obs("map.readonly", "%s", ptr_str(mro, errno));
    errno = 0;
    bad = xengnttab_map_grant_ref(gt, peer, roref, RW);
    obs("map.readonly_as_writable", "%s", ptr_str(bad, errno));
    check(!bad, "a read-only grant mapped writable");
    if (!check(m0 && m13 && mro, "mappings"))
        return;

    ok = check_pattern(m0, H, 10);
    for (int i = 0; i < 3; i++)
        ok &= check_pattern(m13 + i * PAGE, H, 11 + i);
    obs("mapper.sees_sharer_bytes", "%s", ok ? "yes" : "no");
    check(ok, "sharer's patterns through the mappings");
    ok = check_pattern(mro, PAGE, 14);
    obs("mapper.sees_readonly_bytes", "%s", ok ? "yes" : "no");
    check(ok, "read-only page pattern");
    fill_pattern(m0 + H, H, 100);
    for (int i = 0; i < 3; i++)
        fill_pattern(m13 + i * PAGE + H, H, 101 + i);

    /* Grant copy: page 0 -> local buffer, local buffer -> page 2, -> read-only page. */
    xengnttab_grant_copy_segment_t seg[3];
    memset(seg, 0, sizeof seg);
    memset(buf, 0, sizeof buf);
    seg[0].flags = GNTCOPY_source_gref;
    seg[0].source.foreign.ref = refs[0];
    seg[0].source.foreign.domid = peer;
    seg[0].source.foreign.offset = 0;
    seg[0].dest.virt = buf;
    seg[0].len = H;
    fill_pattern(buf + H, 512, 200);
    seg[1].flags = GNTCOPY_dest_gref;
    seg[1].source.virt = buf + H;
    seg[1].dest.foreign.ref = refs[2];
    seg[1].dest.foreign.domid = peer;
    seg[1].dest.foreign.offset = 1024;
    seg[1].len = 512;
    seg[2] = seg[1];
    seg[2].dest.foreign.ref = roref;
    int rc = xengnttab_grant_copy(gt, 3, seg);
    obs("copy.ret", "%s", rc_str(rc, errno));
    obs("copy.from_page0", "%s", gntst_name(seg[0].status));
    obs("copy.to_page2", "%s", gntst_name(seg[1].status));
    obs("copy.to_readonly", "%s", gntst_name(seg[2].status));
    check(rc == 0 && seg[0].status == GNTST_okay && seg[1].status == GNTST_okay,
          "grant copy from and to the peer's pages");
    check(seg[2].status != GNTST_okay, "grant copy into a read-only grant");
    ok = check_pattern(buf, H, 10);
    obs("copy.bytes_from_page0", "%s", ok ? "match" : "differ");
    check(ok, "bytes copied from page 0");

    xs_put("mapped", "1");
    free(xs_wait("sharer-wrote", 60));
    ok = check_pattern(m0, 100, 300);
    obs("mapper.sees_sharer_later_write", "%s", ok ? "yes" : "no");
    check(ok, "sharer's write after mapping");
    obs("unmap.single", "%s", rc_str(xengnttab_unmap(gt, m0, 1), errno));
    obs("unmap.batch3", "%s", rc_str(xengnttab_unmap(gt, m13, 3), errno));
    obs("unmap.readonly", "%s", rc_str(xengnttab_unmap(gt, mro, 1), errno));
    xs_put("done", "1");
    xengnttab_close(gt);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "sharer") && strcmp(argv[1], "mapper"))) {
        fprintf(stderr, "usage: xd-grants sharer|mapper PEER DIR\n");
        return 2;
    }
    t_init();
    xs_init_or_exit(argv[3]);
    if (!strcmp(argv[1], "sharer"))
        sharer(atoi(argv[2]));
    else
        mapper(atoi(argv[2]));
    return t_finish();
}
