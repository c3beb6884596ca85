#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# crabctl drives the patched kernel's endpoints (crabctl client|server
# --impl auto|kernel): with no module loaded, `auto` picks the kernel;
# `set enabled` writes net.ipv4.tcp_crab_client|server of the namespace it
# runs in and no other; `stats` reads the TcpExt TCPCrab* counters, which
# follow 30 redirected connections through a stateless nft LB; asking for
# the module, or for a setting the series lacks (the announce list),
# exits 4 and changes nothing; the allow-list of patch 0006 is set and read.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8203
N=30
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3
crab_require_built "$CRABCTL" crabctl
crab_topo_setup 3
ctl() { local ns=$1; shift; ip netns exec "$ns" "$CRABCTL" "$@"; }

j=$(ctl "$NS_CLI" -j client show)
echo "# $j"
[ "$(crab_json "$j" 'j["impl"]')" = kernel ] && [ "$(crab_json "$j" 'j["enabled"]')" = False ]
log_test $? "client show: impl kernel, disabled by default"

ctl "$NS_CLI" client set enabled on &&
	for i in 1 2 3; do ctl "${NS_SRV[i]}" server --impl kernel set enabled on || exit 1; done
rc=$?
[ $rc = 0 ] &&
	[ "$(ip netns exec "$NS_CLI" sysctl -n net.ipv4.tcp_crab_client)" = 1 ] &&
	[ "$(ip netns exec "$NS_CLI" sysctl -n net.ipv4.tcp_crab_server)" = 0 ] &&
	[ "$(ip netns exec "${NS_SRV[1]}" sysctl -n net.ipv4.tcp_crab_server)" = 1 ] &&
	[ "$(ip netns exec "${NS_SRV[1]}" sysctl -n net.ipv4.tcp_crab_client)" = 0 ] &&
	[ "$(ip netns exec "$NS_LB" sysctl -n net.ipv4.tcp_crab_client)" = 0 ]
log_test $? "set enabled on: only the sysctl of the role, only in its namespace"

crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"
c0=$(ctl "$NS_CLI" -j client stats)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port $PORT --count $N --json)
c1=$(ctl "$NS_CLI" -j client stats)
echoed=0
for i in 1 2 3; do
	echoed=$((echoed + $(crab_json "$(ctl "${NS_SRV[i]}" -j server stats)" 'j["TCPCrabEchoed"]')))
done
red=$(($(crab_json "$c1" 'j["TCPCrabRedirected"]') - $(crab_json "$c0" 'j["TCPCrabRedirected"]')))
echo "# client stats: $c1"
echo "# $N connections: ok $(crab_json "$out" 'j["ok"]'), redirected $red, servers echoed $echoed"
[ "$(crab_json "$out" 'j["ok"]')" = $N ] && [ "$red" = $N ] && [ "$echoed" -ge $N ] &&
	[ "$(crab_json "$c1" '"TCPCrabEchoed" in j')" = False ]
log_test $? "stats: TcpExt counters follow $N redirected connections (client: no server counters)"

ctl "$NS_CLI" client set enabled off &&
	[ "$(ctl "$NS_CLI" client show | head -n1)" = "client (kernel patch): disabled" ]
log_test $? "set enabled off; show prints the kernel implementation"

ctl "$NS_CLI" client --impl module show 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 4 ]
log_test $? "--impl module without the module exits 4"

# The allow list (patch 0006, net.ipv4.tcp_crab_allow): set and shown; the
# announce list is a module setting the series lacks: refused.
if [ -e /proc/sys/net/ipv4/tcp_crab_allow ]; then
	ctl "$NS_CLI" client set allow 198.18.0.0/24 &&
		ip netns exec "$NS_CLI" sysctl -n net.ipv4.tcp_crab_allow | grep -q '198.18.0.0/24' &&
		[ "$(crab_json "$(ctl "$NS_CLI" -j client show)" 'j["allow"]')" = "['198.18.0.0/24']" ] &&
		[ "$(crab_json "$(ctl "$NS_CLI" -j client stats)" '"tcp_crab_allow_rejected" in j')" = True ]
	log_test $? "set allow writes net.ipv4.tcp_crab_allow, show and stats read it back"
	ctl "$NS_CLI" client set allow all
fi
before=$(ctl "$NS_CLI" -j client show)
ctl "$NS_CLI" client set announce 198.18.100.0/24 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 4 ] && [ "$(ctl "$NS_CLI" -j client show)" = "$before" ]
log_test $? "set announce (not in the series) exits 4, nothing changed"

crab_exit
