#!/bin/sh
# Debian's test-resource: creates a domain per configuration (x86 PV, x86 PVH;
# on arm64 one auto-translated ARM domain),
# maps its grant table frames with xenforeignmemory_map_resource, writes 40
# grant entries and maps them all with one xengnttab_map_grant_refs call
# (per-ref domids), unmaps, destroys the domain. rc 0 and no "Fail:" line.
# The domid it prints ("Created dN") changes from run to run: shown as dN.
# RESOURCE_EXPECT_PVH=run (set by the suite line's argument) also requires the
# PVH half to run (QEMU -cpu qemu64,+svm,+npt); by default it may be skipped.
. /tests/bin/dp-common.sh
want_pvh=${1:-optional}

test-resource > "$W/out.txt"
rc=$?
check rc "$rc" 0
i=0
while IFS= read -r line; do
    i=$((i + 1))
    obs "out.$i" "$(echo "$line" | sed -E 's/^( *Created d)[0-9]+$/\1N/')"
done < "$W/out.txt"
grep -q 'Fail' "$W/out.txt" && fail "test-resource printed a Fail line"
grep -q 'failure' "$W/out.txt" && fail "test-resource printed a failure line"
# On arm64 its one configuration must have run: created, grant table tested.
if [ "$(uname -m)" = aarch64 ]; then
    arm=$(sed -n '/^Test ARM$/,$p' "$W/out.txt")
    echo "$arm" | grep -q '^  Created d' && echo "$arm" | grep -q '^  Test grant table$'
    check arm.ran $? 0
    finish
fi
# The PV half must have run: created, grant table tested.
pv=$(sed -n '/^Test x86 PV$/,/^Test /p' "$W/out.txt")
echo "$pv" | grep -q '^  Created d' && echo "$pv" | grep -q '^  Test grant table$'
check pv.ran $? 0
pvh=$(sed -n '/^Test x86 PVH$/,$p' "$W/out.txt")
if echo "$pvh" | grep -q '^  Test grant table$'; then obs pvh ran
elif echo "$pvh" | grep -q 'Skip'; then obs pvh skipped
else obs pvh unknown; fi
if [ "$want_pvh" = pvh ]; then
    echo "$pvh" | grep -q '^  Test grant table$'; check pvh.ran $? 0
fi
finish
