#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The eBPF client accepts a redirect only from a plausible S
# (docs/PROTOCOL.md 3.4): unicast, not an address of this host, not
# loopback, multicast, broadcast, unspecified; on a strict reverse path;
# with a valid TCP checksum. The allow list is "any", so only these checks
# can refuse. Client sockets are held in SYN-SENT to $VIP:9999 (the LB drops
# port 9999); a host on the segment (one scapy process) sends SYN-ACKs with
# the right ack (the ISN read from a capture) naming $VIP, from 127.0.0.1,
# 0.0.0.0, 255.255.255.255, 224.0.0.1, the client's own address, another
# address of the client, a source whose route is via another interface, the
# segment's broadcast, and from a server's address with a broken checksum.
# None may move its socket (still SYN-SENT to the VIP, no flow, redirected
# unchanged); each is counted by its reason. The reverse path is checked by
# the kernel on the input-path probe while the client does not forward
# (rp_filter 1), by bpf_fib_lookup() once it does. Real redirects still work.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool tcpdump
crab_require_python_module scapy
ep_setup --announce "$VIP/32" --allow any
# A second interface of the client: another local address, and the route
# to 198.51.100.0/24 (so packets from there arriving on eth0 fail a
# strict reverse-path check).
# (a veth pair: the host kernel may lack the dummy device)
ip -n "$NS_CLI" link add crabd0 type veth peer name crabd1 || crab_fail "veth crabd0"
ip -n "$NS_CLI" addr add 10.77.0.1/24 dev crabd0
ip -n "$NS_CLI" link set crabd0 up
ip -n "$NS_CLI" link set crabd1 up
ip -n "$NS_CLI" route add 198.51.100.0/24 dev crabd0
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
ep_spoofer_start
ep_helper_start hold "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
pcap=$EP_TMP/syn.pcap
crab_capture_start "$NS_CLI" "$pcap" "tcp dst port 9999 and tcp[13] & 18 == 2"
if ep_probe_expected; then
	ep_probe_attached
	log_test $? "the client's input-path probe is attached (netfilter link pinned)"
fi

# forge SRC COUNTER DESC [EXTRA_JSON]: a held socket, its SYN captured, a
# SYN-ACK forged from SRC with the right ack; counter COUNTER must count it
# and the socket must stay where it was.
forge() {
	local src=$1 counter=$2 desc=$3 extra=$4 lport seq before red out rc=0
	before=$(ep_stat "$counter")
	red=$(ep_stat redirected)
	lport=$(ep_helper hold "connect $VIP 9999")
	seq=$(ep_syn_seq "$pcap" "$lport") || { log_test 1 "$desc (no SYN captured)"; return; }
	out=$(ep_helper spoof "$(ep_synack_json "$src" "$lport" $((seq + 1)) "$extra")")
	[ "$out" = sent ] || { crab_log "spoofer: $out"; rc=1; }
	ep_wait_stat "$counter" $((before + 1)) || { crab_log "$counter did not move"; rc=1; }
	ip netns exec "$NS_CLI" ss -Htn state syn-sent "sport = :$lport" "dst $VIP:9999" | grep -q . ||
		{ crab_log "socket $lport left SYN-SENT to $VIP: $(ip netns exec "$NS_CLI" ss -Htn "sport = :$lport")"; rc=1; }
	crab_log "$src: $counter $before -> $(ep_stat "$counter"), redirected $red -> $(ep_stat redirected), flows $(ep_stat maps.flows)"
	[ "$(ep_stat redirected)" = "$red" ] && [ "$(ep_stat maps.flows)" = 0 ] || rc=1
	ep_helper hold "close $lport" >/dev/null
	log_test $rc "$desc"
}

forge 127.0.0.1 rejected_martian "SYN-ACK from 127.0.0.1: refused (martian)"
forge 0.0.0.0 rejected_martian "SYN-ACK from 0.0.0.0: refused (martian)"
forge 255.255.255.255 rejected_martian "SYN-ACK from 255.255.255.255: refused (martian)"
forge 224.0.0.1 rejected_martian "SYN-ACK from 224.0.0.1: refused (martian)"
forge "$IP_CLI" rejected_local "SYN-ACK from the client's own address: refused (local)"
forge "${IP_SRV[3]}" rejected_csum "SYN-ACK with a broken TCP checksum: refused (checksum)" \
	'"badsum": true'
# The client does not forward: bpf_fib_lookup() cannot check the reverse
# path, the kernel's source checks on the probe from S do.
if ep_probe_expected; then
	d0=$(ep_stat rpf_deferred)
	forge 198.51.100.7 rejected_probe \
		"SYN-ACK from a source routed via another interface, forwarding off: refused (probe, rp_filter)"
	forge 10.77.0.1 rejected_probe \
		"SYN-ACK from another address of the client, forwarding off: refused (probe)"
	[ "$(ep_stat rpf_deferred)" -ge $((d0 + 2)) ]
	log_test $? "the reverse-path checks were left to the kernel ($(($(ep_stat rpf_deferred) - d0)) deferred)"
else
	log_test $ksft_skip "forwarding off (probe): kernel $(uname -r) has no BPF netfilter programs (Linux 6.4)"
fi

# Forwarding on: bpf_fib_lookup() answers.
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.conf.all.forwarding=1
forge 198.51.100.7 rejected_rpf \
	"SYN-ACK from a source routed via another interface, forwarding on: refused (reverse path)"
forge 10.77.0.1 rejected_rpf \
	"SYN-ACK from another address of the client, forwarding on: refused (local route)"
forge "$CRAB_SUBNET.255" rejected_rpf "SYN-ACK from the segment's broadcast address: refused (broadcast route)"
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.conf.all.forwarding=0

red=$(ep_stat redirected)
out=$(ep_in_cg "$CG_CLI" "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" \
	--port "$EP_PORT" --count 9 --timeout 5 --json)
crab_log "real connections: $out"
[ "$(crab_json "$out" "j['ok']")" = 9 ] && [ "$(ep_stat redirected)" = $((red + 9)) ]
log_test $? "real redirects from the servers are still accepted (9 of 9)"

crab_exit
