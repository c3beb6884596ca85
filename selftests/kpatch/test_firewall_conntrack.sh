#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Redirects behind the usual stateful host firewall (docs/PROTOCOL.md 3.7):
# the client's input chain is
#     ct state established,related accept; ct state invalid drop; policy drop
# - with net.netfilter.nf_conntrack_tcp_crab 0 (the default), a redirecting
#   SYN-ACK is conntrack INVALID: dropped, no connection is redirected;
# - with 1, it is the reply of a new conntrack client -> server: every
#   connection through the round-robin LB is redirected, nothing is INVALID,
#   and the conntrack table holds the connection with the server;
# - a rule that drops traffic from server 1, in the input chain before the
#   ct rules or at prerouting, stops its redirects: the client never sees
#   its SYN-ACKs (no TCP refusal counted for them), its SYN retransmissions
#   reach the other servers, and no connection ends on server 1.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8212
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3
crab_topo_setup 3
kp_client "$NS_CLI"
for i in 1 2 3; do kp_sysctls "${NS_SRV[i]}" 0 1; done
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"
ip netns exec "$NS_CLI" nft -f - <<-NFT || crab_fail "cannot install the firewall"
table inet fw {
	counter invalid { }
	counter from_s1 { }
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid counter name "invalid" drop
		iif lo accept
	}
}
NFT
kp_helper cli "$NS_CLI" serve
ctr() { ip netns exec "$NS_CLI" nft list counter inet fw "$1" | sed -n 's/.*packets \([0-9]*\) .*/\1/p'; }

# ---- conntrack does not follow: INVALID, dropped ------------------------------
r0=$(kp_mib "$NS_CLI" TCPCrabRedirected) i0=$(ctr invalid)
out=$(kp_conns cli 2 3)
i1=$(ctr invalid)
[ "${out%% *}" = ok=0 ] && [ "$(kp_mib "$NS_CLI" TCPCrabRedirected)" = "$r0" ] && [ "$i1" -gt "$i0" ]
log_test $? "nf_conntrack_tcp_crab 0: redirecting SYN-ACKs INVALID ($i0 -> $i1), dropped: $out"

# ---- conntrack follows ----------------------------------------------------------------
ip netns exec "$NS_CLI" sysctl -qw net.netfilter.nf_conntrack_tcp_crab=1
N=9
r0=$(kp_mib "$NS_CLI" TCPCrabRedirected) i0=$(ctr invalid)
out=$(kp_conns cli $N 10)
r1=$(kp_mib "$NS_CLI" TCPCrabRedirected)
[ "$out" = "ok=$N failed=0 peers=${IP_SRV[1]}:3,${IP_SRV[2]}:3,${IP_SRV[3]}:3" ] &&
	[ $((r1 - r0)) = $N ] && [ "$(ctr invalid)" = "$i0" ]
log_test $? "nf_conntrack_tcp_crab 1: $N connections redirected through the firewall, none INVALID: $out"

# The client's conntrack table holds connections with the servers.
n=$(ip netns exec "$NS_CLI" cat /proc/net/nf_conntrack 2>/dev/null |
	grep -c "dst=${IP_SRV[1]} sport=[0-9]* dport=$PORT src=${IP_SRV[1]}")
[ "$n" -ge 1 ]
log_test $? "conntrack entries client -> ${IP_SRV[1]}:$PORT with ${IP_SRV[1]} as the replier: $n"

# ---- a rule that drops server 1 stops its redirects ------------------------------------
dropped() { # where: "input" or "prerouting"
	local where=$1 rej0 rej1 r0 r1 p0 p1
	if [ "$where" = input ]; then
		ip netns exec "$NS_CLI" nft insert rule inet fw input ip saddr "${IP_SRV[1]}" counter name from_s1 drop
	else
		ip netns exec "$NS_CLI" nft add chain inet fw pre '{ type filter hook prerouting priority raw; }'
		ip netns exec "$NS_CLI" nft add rule inet fw pre ip saddr "${IP_SRV[1]}" counter name from_s1 drop
	fi
	p0=$(ctr from_s1)
	# Refusals a SYN-ACK from server 1 would be counted under had it
	# reached TCP. (Not TCPCrabRejectNotSynSent: the servers of the
	# connections that failed above retransmit their SYN-ACKs for a minute,
	# and those now reach closed sockets.)
	rej0=$(kp_mibs "$NS_CLI" TCPCrabRejectNotAllowed TCPCrabRejectRpFilter TCPCrabRejectMartian)
	r0=$(kp_mib "$NS_CLI" TCPCrabRedirected)
	out=$(kp_conns cli 4 10)
	r1=$(kp_mib "$NS_CLI" TCPCrabRedirected)
	p1=$(ctr from_s1)
	rej1=$(kp_mibs "$NS_CLI" TCPCrabRejectNotAllowed TCPCrabRejectRpFilter TCPCrabRejectMartian)
	crab_log "$where: $out; dropped from server 1: $p0 -> $p1; refusals $rej1"
	case $out in ok=4\ failed=0\ peers=*) ;; *) return 1 ;; esac
	case ",${out#*peers=}" in *",${IP_SRV[1]}:"*) return 1 ;; esac
	[ $((r1 - r0)) = 4 ] && [ "$p1" -gt "$p0" ] && [ "$rej1" = "$rej0" ]
}
dropped input
log_test $? "ip saddr ${IP_SRV[1]} drop in the input chain: no redirect to it, 4 connections on the others"
ip netns exec "$NS_CLI" nft flush chain inet fw input
ip netns exec "$NS_CLI" nft add rule inet fw input ct state established,related accept
ip netns exec "$NS_CLI" nft add rule inet fw input ct state invalid counter name invalid drop
dropped prerouting
log_test $? "ip saddr ${IP_SRV[1]} drop at prerouting: no redirect to it, 4 connections on the others"

crab_exit
