#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# crabctl drives the patched kernel's endpoints (crabctl client|server
# --impl auto|kernel): with no module loaded, `auto` picks the kernel; a new
# namespace shows both ends disabled and empty lists (none); `set enabled`
# writes net.ipv4.tcp_crab_client|server of the namespace it runs in and no
# other; `set announce|allow` write net.ipv4.tcp_crab_announce|allow
# (`none` empties a list, `all` is 0.0.0.0/0, a bad list is refused before
# the kernel sees it and changes nothing); `stats` reads the TcpExt
# TCPCrab* counters, which follow redirected connections through a
# stateless nft LB; asking for the module exits 4.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8203
N=12
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3
crab_require_built "$CRABCTL" crabctl
crab_topo_setup 3
ctl() { local ns=$1; shift; ip netns exec "$ns" "$CRABCTL" "$@"; }

j=$(ctl "$NS_CLI" -j client show)
echo "# $j"
[ "$j" = '{"role":"client","impl":"kernel","enabled":false,"announce":[],"allow":[],"kind":42,"exid":50347}' ]
log_test $? "client show: impl kernel, disabled, empty announce and allow lists, kind 42"

ctl "$NS_CLI" client set enabled on &&
	for i in 1 2 3; do ctl "${NS_SRV[i]}" server --impl kernel set enabled on || exit 1; done
rc=$?
v=$(ip netns exec "$NS_CLI" sysctl -n net.ipv4.tcp_crab_client net.ipv4.tcp_crab_server | tr '\n' ' ')
v+=$(ip netns exec "${NS_SRV[1]}" sysctl -n net.ipv4.tcp_crab_client net.ipv4.tcp_crab_server | tr '\n' ' ')
v+=$(ip netns exec "$NS_LB" sysctl -n net.ipv4.tcp_crab_client net.ipv4.tcp_crab_server | tr '\n' ' ')
[ $rc = 0 ] && [ "$v" = "1 0 0 1 0 0 " ]
log_test $? "set enabled on: only the sysctl of the role, only in its namespace ($v)"

ctl "$NS_CLI" client set announce "$VIP/32" &&
	ctl "$NS_CLI" client set allow "$CRAB_SUBNET.0/24,192.0.2.1" &&
	[ "$(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_announce)" = "$VIP/32" ] &&
	[ "$(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_allow)" = "$CRAB_SUBNET.0/24,192.0.2.1/32" ]
log_test $? "set announce, set allow: net.ipv4.tcp_crab_announce and tcp_crab_allow written"

before=$(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_allow)
ctl "$NS_CLI" client set allow "10.0.0.0/8,300.1.1.1" 2>&1 | sed 's/^/# /'
rc=${PIPESTATUS[0]}
[ "$rc" != 0 ] && [ "$(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_allow)" = "$before" ]
log_test $? "set allow with a bad entry: refused (exit $rc), the list is unchanged"

crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"
kp_helper cli "$NS_CLI" serve
c0=$(ctl "$NS_CLI" -j client stats)
out=$(kp_conns cli $N 10)
c1=$(ctl "$NS_CLI" -j client stats)
echoed=0
for i in 1 2 3; do
	s=$(ctl "${NS_SRV[i]}" -j server stats)
	echoed=$((echoed + $(kp_get "$s" TCPCrabEchoed)))
done
red=$(($(kp_get "$c1" TCPCrabRedirected) - $(kp_get "$c0" TCPCrabRedirected)))
echo "# client stats: $c1"
echo "# $out, redirected $red, servers echoed $echoed"
case $out in "ok=$N failed=0 "*) true ;; *) false ;; esac && [ "$red" = $N ] && [ "$echoed" -ge $N ] &&
	[ -z "$(kp_get "$c1" TCPCrabEchoed)" ] && [ -n "$(kp_get "$c1" TCPCrabRejectNotAllowed)" ] &&
	[ -z "$(kp_get "$s" TCPCrabRedirected)" ] && [ -n "$(kp_get "$s" TCPCrabBadOption)" ]
log_test $? "stats: TcpExt counters follow $N redirected connections (each role its own counters)"

ctl "$NS_CLI" client set allow none && ctl "$NS_CLI" client set announce all &&
	[ -z "$(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_allow)" ] &&
	[ "$(ip netns exec "$NS_CLI" cat /proc/sys/net/ipv4/tcp_crab_announce)" = "0.0.0.0/0" ]
log_test $? "set allow none empties the list, set announce all is 0.0.0.0/0"

ctl "$NS_CLI" client set enabled off &&
	[ "$(ctl "$NS_CLI" client show | head -n1)" = "client (kernel patch): disabled" ]
log_test $? "set enabled off; show prints the kernel implementation"

ctl "$NS_CLI" client --impl module show 2>&1 | sed 's/^/# /'
[ "${PIPESTATUS[0]}" = 4 ]
log_test $? "--impl module without the module exits 4"

crab_exit
