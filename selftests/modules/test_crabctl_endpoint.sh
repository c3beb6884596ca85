#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# crabctl client|server drive the endpoint modules of the namespace they run
# in: show (text and JSON), set enabled/announce/allow, stats; a bad value is
# an error naming it (exit 2) and changes nothing.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

crab_require_root
crab_check_tool ip python3
crab_require_built "$CRABCTL" crabctl
ep_load_module crab_server
ep_load_module crab_client
A=crab-epc-$CRAB_SFX B=crab-epd-$CRAB_SFX
crab_ns_add "$A"
crab_ns_add "$B"
ctl() { local ns=$1; shift; ip netns exec "$ns" "$CRABCTL" "$@"; }

out=$(ctl "$A" -j client show)
echo "# $out"
[ "$(crab_json "$out" 'j["enabled"], j["announce"], j["allow"]')" = "(False, [], [])" ] &&
	[ "$(ctl "$A" -j server show | crab_json "$(cat)" 'j["enabled"]')" = False ]
log_test $? "client/server show --json: defaults (off, lists empty)"

rc=0
ctl "$A" client set announce "198.18.100.0/24,10.0.0.0/8" || rc=1
ctl "$A" client set allow 198.18.0.0/24 || rc=1
ctl "$A" client set enabled on || rc=1
ctl "$A" server set enabled on || rc=1
out=$(ctl "$A" -j client show)
[ "$(crab_json "$out" 'j["enabled"], j["announce"], j["allow"]')" = "(True, ['198.18.100.0/24', '10.0.0.0/8'], ['198.18.0.0/24'])" ] || rc=1
[ "$(ctl "$A" -j server show | python3 -c 'import json,sys; print(json.load(sys.stdin)["enabled"])')" = True ] || rc=1
[ "$(ip netns exec "$A" cat /proc/sys/net/crab/client_allow_cidrs)" = 198.18.0.0/24 ] || rc=1
log_test $rc "client/server set: values reach the namespace's sysctls"

# IPv6 prefixes in the same lists; "all" is both families.
rc=0
ctl "$A" client set announce "198.18.100.0/24,fd00:c4ab:100::/64" || rc=1
out=$(ctl "$A" -j client show)
[ "$(crab_json "$out" 'j["announce"]')" = "['198.18.100.0/24', 'fd00:c4ab:100::/64']" ] || rc=1
ctl "$A" client show | grep -q "announce to: 198.18.100.0/24,fd00:c4ab:100::/64$" || rc=1
ctl "$B" client set allow all || rc=1
[ "$(ip netns exec "$B" cat /proc/sys/net/crab/client_allow_cidrs)" = "0.0.0.0/0,::/0" ] || rc=1
ctl "$B" client set allow none || rc=1
err=$(ctl "$A" client set announce "198.18.100.0/24,fd00:c4ab:100::1/64" 2>&1)
code=$?
echo "# exit $code: $err"
[ $code = 2 ] && [[ $err == *fd00:c4ab:100::1/64* ]] || rc=1
[ "$(ctl "$A" -j client show | crab_json "$(cat)" 'j["announce"][1]')" = fd00:c4ab:100::/64 ] || rc=1
log_test $rc "IPv6 prefixes: set, shown (text and JSON); host bits refused, nothing applied"

rc=0
err=$(ctl "$A" client set allow "198.18.0.0/24,10.0.0.300/8" 2>&1)
code=$?
echo "# exit $code: $err"
[ $code = 2 ] && [[ $err == *10.0.0.300* ]] || rc=1
ctl "$A" client set enabled maybe 2>/dev/null && rc=1
[ "$(ip netns exec "$A" cat /proc/sys/net/crab/client_allow_cidrs)" = 198.18.0.0/24 ] || rc=1
log_test $rc "bad values: error naming the value, exit 2, nothing applied"

out=$(ctl "$B" -j client show)
[ "$(crab_json "$out" 'j["enabled"], j["allow"]')" = "(False, [])" ]
log_test $? "another namespace keeps its own settings"

rc=0
out=$(ctl "$A" -j client stats)
[ "$(crab_json "$out" '"redirected" in j and "rej_bad_ack" in j and "syn_announced" in j')" = True ] || rc=1
out=$(ctl "$A" -j server stats)
[ "$(crab_json "$out" '"synack_echoed" in j and "synack_no_room" in j')" = True ] || rc=1
ctl "$A" client stats | grep -q '^redirected 0$' || rc=1
log_test $rc "stats: every counter, text and JSON"

crab_exit
