#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# SYN retransmissions over a lossy link land on another backend
# (docs/PROTOCOL.md 3.5). The loss is deterministic (nft numgen): the LB
# loses every fourth SYN it forwards, after its round-robin choice, and the
# client's link loses every third SYN-ACK. A lost SYN or SYN-ACK makes the
# client retransmit its SYN, which the round-robin LB sends to the next
# server; the first valid SYN-ACK wins. The late SYN-ACK retransmitted by a
# server whose first one was lost finds no socket connected to the VIP: it
# is refused (counted) and reset, which clears that server's half-open
# connection. All connections complete with data echoed and are redirected
# once each; none is left half-open on any server.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8216
N=8
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 ss
crab_topo_setup 3
kp_client "$NS_CLI"
for i in 1 2 3; do kp_sysctls "${NS_SRV[i]}" 0 1; done
crab_echo_servers $PORT
kp_nft_lb $PORT || crab_fail "cannot install the nft LB"
ip netns exec "$NS_LB" nft -f - <<-NFT || crab_fail "cannot install the LB's loss"
table ip crabloss {
	counter lost { }
	chain post {
		type filter hook postrouting priority filter; policy accept;
		tcp dport $PORT tcp flags & (syn|ack) == syn numgen inc mod 4 0 counter name "lost" drop
	}
}
NFT
ip netns exec "$NS_CLI" nft -f - <<-NFT || crab_fail "cannot install the client's loss"
table ip crabloss {
	counter lost { }
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		tcp sport $PORT tcp flags & (syn|ack) == syn|ack numgen inc mod 3 0 counter name "lost" drop
	}
}
NFT
lost() { ip netns exec "$1" nft list counter ip crabloss lost | sed -n 's/.*packets \([0-9]*\) .*/\1/p'; }
kp_helper cli "$NS_CLI" serve

m0=$(kp_mibs "$NS_CLI" TCPCrabRedirected TCPCrabRejectNotSynSent TCPSynRetrans)
out=$(kp_conns cli $N 20)
m1=$(kp_mibs "$NS_CLI" TCPCrabRedirected TCPCrabRejectNotSynSent TCPSynRetrans)
crab_log "$out; LB lost $(lost "$NS_LB") SYNs, the client's link $(lost "$NS_CLI") SYN-ACKs; $m0 -> $m1"
case $out in "ok=$N failed=0 "*) true ;; *) false ;; esac
log_test $? "$N connections over the lossy links complete, data echoed ($out)"

val() { local re="$2=([0-9]+)"; [[ $1 =~ $re ]] && echo "${BASH_REMATCH[1]}"; }
red=$(( $(val "$m1" TCPCrabRedirected) - $(val "$m0" TCPCrabRedirected) ))
retr=$(( $(val "$m1" TCPSynRetrans) - $(val "$m0" TCPSynRetrans) ))
[ "$red" = $N ] && [ "$retr" -ge 2 ] && [ "$(lost "$NS_LB")" -ge 1 ] && [ "$(lost "$NS_CLI")" -ge 1 ] &&
	[ "$(kp_nft_lb_packets)" = $((N + retr)) ]
log_test $? "each connection redirected once ($red), $retr SYN retransmissions, each one a new LB decision ($(kp_nft_lb_packets) SYNs at the LB)"

# The servers whose SYN-ACK was lost retransmit it; the client resets it.
ok=1
for t in $(seq 100); do
	n=0
	for i in 1 2 3; do
		n=$((n + $(ip netns exec "${NS_SRV[i]}" ss -Htn state syn-recv "sport = :$PORT" | wc -l)))
	done
	[ "$n" = 0 ] && { ok=0; break; }
	sleep 0.2
done
rej=$(( $(kp_mib "$NS_CLI" TCPCrabRejectNotSynSent) - $(val "$m0" TCPCrabRejectNotSynSent) ))
[ "$ok" = 0 ] && [ "$rej" -ge 1 ]
log_test $? "late SYN-ACKs from the first backend refused ($rej) and reset: no half-open connection left ($n)"

crab_exit
