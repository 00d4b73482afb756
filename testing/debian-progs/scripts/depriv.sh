#!/bin/sh
# Debian's depriv-fd-checker, class gntdev: it opens a gnttab handle, checks an
# unrestricted grant copy succeeds, then dup2()s the given fd over the handle's
# fd (xengnttab_fd) and tries again. Its exit status is 0 either way: the
# verdict is on stdout, and is checked here.
#  - /dev/null: the copy must be blocked ("pass"): the library does every ioctl
#    through the fd xengnttab_fd returned.
#  - /dev/xen/gntalloc: an fd of the wrong Xen device: blocked too (ENOTTY).
#  - a fresh /dev/xen/gntdev: Linux cannot restrict gntdev, so the copy
#    "unexpectedly succeeded" (fail): the library keeps working on an fd
#    swapped behind its back.
. /tests/bin/dp-common.sh

run_case() {  # NAME EXPECTED-VERDICT-LINE (fd 7 is already redirected)
    depriv-fd-checker gntdev 7 "$1" > "$W/$1.out"
    rc=$?
    check "$1.rc" "$rc" 0
    i=0; while read -r line; do i=$((i + 1)); obs "$1.line$i" "$line"; done < "$W/$1.out"
    check "$1.lines" "$i" 2
    check "$1.verdict" "$(sed -n 2p "$W/$1.out")" "$2"
}
run_case devnull "gntdev pass 7 xengnttab_grant_copy (blocked) devnull" 7</dev/null
run_case gntalloc "gntdev pass 7 xengnttab_grant_copy (blocked) gntalloc" 7<>/dev/xen/gntalloc
run_case gntdev "gntdev fail 7 xengnttab_grant_copy okay (unexpectedly succeeded) gntdev" 7<>/dev/xen/gntdev
finish
