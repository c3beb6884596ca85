#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Two valid redirecting SYN-ACKs for one connection (docs/PROTOCOL.md 3.4,
# 3.5): the LB sends every SYN to both servers (nft dup), both echo, their
# SYN-ACKs reach the client back to back - usually while connect() still
# holds the socket, so that both wait on its backlog. The decision and the
# move are one step under the socket lock: the first SYN-ACK moves the
# socket, the second finds it keyed on the first server and is answered
# with a reset, which clears that server's half-open connection. So for N
# connections: N redirected, N refusals counted (TCPCrabRejectNotSynSent),
# N resets sent, no half-open connection left on either server, and the
# established socket never sees the other server's SYN-ACK (no challenge
# ACK, which it would send to its own peer, never to the other server).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8213
N=10
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 ss
crab_topo_setup 2
kp_client "$NS_CLI"
for i in 1 2; do kp_sysctls "${NS_SRV[i]}" 0 1; done
crab_echo_servers $PORT
ip netns exec "$NS_LB" nft -f - <<-NFT || crab_fail "cannot install the duplicating LB"
table ip crablb {
	counter lb { }
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip daddr $VIP tcp dport $PORT counter name "lb" ip daddr set ${IP_SRV[2]} dup to ${IP_SRV[2]} device eth0 ip daddr set ${IP_SRV[1]} notrack
	}
}
NFT
kp_helper cli "$NS_CLI" serve

m0=$(kp_mibs "$NS_CLI" TCPCrabRedirected TCPCrabRejectNotSynSent TCPChallengeACK)
rst0=$(kp_out_rsts "$NS_CLI")
out=$(kp_conns cli $N 10)
m1=$(kp_mibs "$NS_CLI" TCPCrabRedirected TCPCrabRejectNotSynSent TCPChallengeACK)
rst1=$(kp_out_rsts "$NS_CLI")
crab_log "$out; before: $m0; after: $m1; client resets $rst0 -> $rst1"
case $out in "ok=$N failed=0 "*) true ;; *) false ;; esac
log_test $? "$N connections, each SYN sent to both servers: all complete with data echoed ($out)"

val() { local re="$2=([0-9]+)"; [[ $1 =~ $re ]] && echo "${BASH_REMATCH[1]}"; }
red=$(( $(val "$m1" TCPCrabRedirected) - $(val "$m0" TCPCrabRedirected) ))
rej=$(( $(val "$m1" TCPCrabRejectNotSynSent) - $(val "$m0" TCPCrabRejectNotSynSent) ))
[ "$red" = $N ] && [ "$rej" -ge $N ] && [ $((rst1 - rst0)) -ge $N ]
log_test $? "exactly one move per connection ($red), the other SYN-ACK refused ($rej) and reset ($((rst1 - rst0)) resets)"

ch=$(( $(val "$m1" TCPChallengeACK) - $(val "$m0" TCPChallengeACK) ))
[ "$ch" = 0 ]
log_test $? "no established socket got the other server's SYN-ACK (challenge ACKs: $ch)"

# The reset cleared the loser's half-open connection: none left.
ok=0
for i in 1 2; do
	for t in $(seq 30); do
		n=$(ip netns exec "${NS_SRV[i]}" ss -Htn state syn-recv "sport = :$PORT" | wc -l)
		[ "$n" = 0 ] && break
		sleep 0.2
	done
	[ "$n" = 0 ] || { crab_log "server $i: $n half-open connections left"; ok=1; }
done
log_test $ok "no half-open connection left on either server"

crab_exit
