#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The eBPF client's checks of docs/PROTOCOL.md 3.4 for IPv6, and the option
# of the wrong family (docs/PROTOCOL.md 2). Client sockets are held in
# SYN-SENT to VIP6 (the nft LB drops port 9999); a host on the segment
# ($NS_SPOOF, scapy) forges SYN-ACKs naming VIP6 with the right ack from
# sources that must be refused: link-local, multicast, loopback,
# unspecified, v4-mapped, the client's own address, a server's address
# with a bad checksum, with TCP-AO, or arriving on an
# interface the route back to it does not leave by, and a source outside
# the allow list. None moves the socket (still SYN-SENT to VIP6, no flow,
# nothing redirected), each is counted by reason. Two valid SYN-ACKs at
# once: the first wins, the other is refused and reset. The IPv4 form (length 6)
# in an IPv6 SYN-ACK and the IPv6 form (length 18) in an IPv4 one are
# ignored and counted; so are they in SYNs to the server, which does not
# echo them, while it echoes the right form (a dual-stack listener each
# family's own). Real IPv6 redirects work afterwards.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

P6=8086
D=$(dirname "$0")

ep_unshare "$@"
crab_check_tool tcpdump nft
crab_require_python_module scapy
# Allow lists: the servers only (IPv4 /28, IPv6 ::10/124); the spoofer
# (.50, ::50) is outside them.
ep_setup --announce "$VIP/32,$VIP6/128" --allow "$CRAB_SUBNET.0/28,$EP6_NET::10/124"
ep_v6_setup || crab_fail "IPv6 addresses of the topology"
ep_lb6_setup $P6 || crab_fail "the IPv6 nft LB"
for i in 1 2 3; do
	ep_helper_start "srv$i" "${NS_SRV[i]}" "$CG_SRV" "$D/ep_hold.py"
	[ "$(ep_helper "srv$i" "listen $P6 v6")" = ok ] &&
		[ "$(ep_helper "srv$i" "serve $P6 $EP_TMP/acc6-$i")" = ok ] ||
		crab_fail "IPv6 listener on server $i"
done
ep_helper_start cli "$NS_CLI" "$CG_CLI" "$D/ep_hold.py"
ep_add_host6 SPOOF "$CRAB_SUBNET.50" "$EP6_NET::50"
CLI_MAC=$(ip -n "$NS_CLI" -br link show eth0 | awk '{ print $3 }')
ep_helper_start spoof "$NS_SPOOF" "" "$D/ep_spoof.py"
crab_capture_start "$NS_CLI" "$EP_TMP/syn.pcap" "tcp dst port 9999"

# syn_seq LPORT: the sequence number of the held socket's SYN.
syn_seq() {
	local i s
	for i in $(seq 100); do
		s=$(tcpdump -nn -S -r "$EP_TMP/syn.pcap" "src port $1" 2>/dev/null |
			grep 'Flags \[S\]' | head -n 1 | sed -n 's/.* seq \([0-9]*\),.*/\1/p')
		[ -n "$s" ] && { echo "$s"; return 0; }
		sleep 0.1
	done
	return 1
}

# spoof_case DIALED SRC NAME COUNTER DESC [EXTRA_JSON]: hold a socket to
# DIALED:9999, forge a SYN-ACK to it from SRC naming NAME (its family
# decides the option's length) with the right ack (and EXTRA_JSON), check
# that COUNTER moved by one and nothing else happened.
spoof_case() {
	local dialed=$1 src=$2 name=$3 counter=$4 desc=$5 extra=${6:-} dst=$IP_CLI
	local p seq before red flows flows6 r rc=0
	[[ $dialed == *:* ]] && dst=$IP6_CLI
	before=$(ep_stat "$counter")
	red=$(ep_stat redirected)
	p=$(ep_helper cli "connect $dialed 9999")
	seq=$(syn_seq "$p") || { crab_log "no SYN captured"; log_test 1 "$desc"; return; }
	r=$(ep_helper spoof "$(printf '{"op": "synack", "dst_mac": "%s", "src": "%s", "dst": "%s", "sport": 9999, "dport": %s, "seq": 12345, "ack": %s, "name": "%s"%s}' \
		"$CLI_MAC" "$src" "$dst" "$p" $(((seq + 1) % 4294967296)) "$name" "${extra:+, $extra}")")
	ep_wait_stat "$counter" $((before + 1)) || crab_log "$counter did not move"
	ip netns exec "$NS_CLI" ss -Htn state syn-sent "sport = :$p" | grep -q . || {
		crab_log "the socket to $dialed left SYN-SENT"; rc=1; }
	flows=$(ep_stat maps.flows)
	flows6=$(ep_stat maps.flows6)
	crab_log "$r: $counter $before -> $(ep_stat "$counter"), redirected $red -> $(ep_stat redirected), flows $flows/$flows6"
	[ "$r" = sent ] && [ "$(ep_stat "$counter")" = $((before + 1)) ] &&
		[ "$(ep_stat redirected)" = "$red" ] && [ "$flows" = 0 ] && [ "$flows6" = 0 ] || rc=1
	ep_helper cli "close $p" >/dev/null
	log_test $rc "$desc"
}

S3=${IP6_SRV[3]}
spoof_case "$VIP6" fe80::5 "$VIP6" rejected_martian "IPv6 redirect from a link-local source: refused, counted"
spoof_case "$VIP6" ff02::1 "$VIP6" rejected_martian "IPv6 redirect from a multicast source: refused, counted"
spoof_case "$VIP6" ::1 "$VIP6" rejected_martian "IPv6 redirect from the loopback address: refused, counted"
spoof_case "$VIP6" :: "$VIP6" rejected_martian "IPv6 redirect from the unspecified address: refused, counted"
spoof_case "$VIP6" "::ffff:${IP_SRV[3]}" "$VIP6" rejected_martian \
	"IPv6 redirect from a v4-mapped source (an allowed IPv4 server): refused, counted"
spoof_case "$VIP6" "$IP6_CLI" "$VIP6" rejected_local "IPv6 redirect from the client's own address: refused, counted"
spoof_case "$VIP6" "$EP6_NET::50" "$VIP6" rejected_allow "IPv6 redirect from outside the allow list: refused, counted"
spoof_case "$VIP6" "$S3" "$VIP6" rejected_csum "IPv6 redirect with a bad TCP checksum (allowed source): refused, counted" \
	'"badsum": true'
# (TCP-AO: MSS, MD5's 18 bytes and the 20 of the option do not fit in 40.)
spoof_case "$VIP6" "$S3" "$VIP6" rejected_signed "IPv6 redirect carrying TCP-AO: refused, counted" '"ao": true'
# The route back to S3 leaves by another device: strict reverse path fails.
ip -n "$NS_CLI" link add crabside6 type veth peer name crabside6p &&
	ip -n "$NS_CLI" link set crabside6 up && ip -n "$NS_CLI" link set crabside6p up &&
	ip -n "$NS_CLI" route add "$S3/128" dev crabside6 || crab_fail "a route to $S3 via another device"
spoof_case "$VIP6" "$S3" "$VIP6" rejected_rpf \
	"IPv6 redirect from an allowed server whose route back leaves by another interface: refused, counted"
ip -n "$NS_CLI" route del "$S3/128" dev crabside6

# The first valid IPv6 SYN-ACK wins (docs/PROTOCOL.md 3.5): two from two
# allowed servers at the same instant from two CPUs, 4 times: one moves
# the socket, the other is refused and answered with a reset.
synack6() {
	printf '{"op": "synack", "dst_mac": "%s", "src": "%s", "dst": "%s", "sport": 9999, "dport": %s, "seq": 12345, "ack": %s, "name": "%s"}' \
		"$CLI_MAC" "$1" "$IP6_CLI" "$2" "$3" "$VIP6"
}
# (A loser that finds the socket still in SYN-SENT while TCP takes the
# winner, its snd_una already past the SYN, fails the ack check.)
refused() {
	echo $(($(ep_stat rejected_claimed) + $(ep_stat rejected_not_syn_sent) +
		$(ep_stat rejected_not_announced) + $(ep_stat rejected_bad_ack)))
}
bad=0
for t in 1 2 3 4; do
	red=$(ep_stat redirected)
	ref=$(refused)
	before=$("$CRABCTL" -j ebpf stats)
	p=$(ep_helper cli "connect $VIP6 9999")
	seq=$(syn_seq "$p") || { crab_log "race $t: no SYN"; bad=$((bad + 1)); continue; }
	ack=$(((seq + 1) % 4294967296))
	out=$(ep_helper spoof "{\"op\": \"race\", \"cpus\": [0, 1], \"pkts\": [$(synack6 "${IP6_SRV[2]}" "$p" $ack), $(synack6 "$S3" "$p" $ack)]}")
	ep_wait_stat redirected $((red + 1))
	for i in $(seq 50); do
		rst=$(tcpdump -nn -r "$EP_TMP/syn.pcap" "src port $p and ip6[53] & 4 != 0" 2>/dev/null |
			awk '{ print $5 }' | sort -u | tr '\n' ' ')
		[ -n "$rst" ] && break
		sleep 0.1
	done
	nref=$(($(refused) - ref))
	nred=$(($(ep_stat redirected) - red))
	crab_log "race $t: $out; redirected +$nred, refused +$nref, reset to: $rst"
	if ! [ "$nred" = 1 ] || ! [ "$nref" = 1 ] || ! [ "$(echo $rst | wc -w)" = 1 ]; then
		bad=$((bad + 1))
		# What moved instead: every counter that changed in this race.
		crab_log "race $t: counters changed: $(ep_stats_changed "$before")"
	fi
	ep_helper cli "close $p" >/dev/null
done
log_test $((bad > 0)) "4 races of two valid IPv6 SYN-ACKs: one redirect and one reset each"
for i in $(seq 100); do
	[ "$(ep_stat maps.flows6)" = 0 ] && break
	sleep 0.1
done
# A loser that passed the socket's checks while the winner was being taken
# must not claim the socket once it left SYN-SENT (a flow from it would
# stay, and its packets would reach the connection as if from the VIP).
[ "$(ep_stat maps.flows6)" = 0 ]
log_test $? "the races left no flow behind once their connections closed"

# The option of the other family: a wrong length, ignored and counted.
spoof_case "$VIP6" "$S3" "$VIP" synack_opt_bad_len \
	"IPv6 SYN-ACK with the IPv4 form (length 6): ignored, counted"
spoof_case "$VIP" "${IP_SRV[3]}" "$VIP6" synack_opt_bad_len \
	"IPv4 SYN-ACK with the IPv6 form (length 18): ignored, counted"

# The server: the right form is echoed, the other family's is not (counted).
SRV1_MAC=$(ip -n "${NS_SRV[1]}" -br link show eth0 | awk '{ print $3 }')
syn_opts() {
	ep_helper spoof "$(printf '{"op": "syn", "dst": "%s", "dport": %s, "sport": %s, "name": "%s", "dst_mac": "%s"}' "$@" "$SRV1_MAC")"
}
b0=$(ep_stat syn_opt_bad_len)
e0=$(ep_stat echoed)
ok6=$(syn_opts "${IP6_SRV[1]}" $P6 40001 "$VIP6")
bad6=$(syn_opts "${IP6_SRV[1]}" $P6 40002 "$VIP")
bad4=$(syn_opts "${IP_SRV[1]}" "$EP_PORT" 40003 "$VIP6")
want6=2a12$(python3 -c 'import ipaddress,sys; print(ipaddress.IPv6Address(sys.argv[1]).packed.hex())' "$VIP6")
crab_log "SYN-ACK options: IPv6 form $ok6; IPv4 form in IPv6 $bad6; IPv6 form in IPv4 $bad4"
crab_log "syn_opt_bad_len $b0 -> $(ep_stat syn_opt_bad_len), echoed $e0 -> $(ep_stat echoed)"
[[ $ok6 == *"$want6"* ]] && [ "$(ep_stat echoed)" = $((e0 + 1)) ]
log_test $? "IPv6 SYN with the 18-byte option: the SYN-ACK echoes it"
[ "$bad6" != none ] && [[ $bad6 != *2a06* && $bad6 != *2a12* ]] &&
	[ "$bad4" != none ] && [[ $bad4 != *2a06* && $bad4 != *2a12* ]] &&
	[ "$(ep_stat syn_opt_bad_len)" = $((b0 + 2)) ]
log_test $? "SYNs with the other family's form: no echo, both counted"

# A dual-stack listener: each SYN answered in its own family's form.
[ "$(ep_helper srv1 "listen 8088 dual")" = ok ] || crab_fail "dual-stack listener on server 1"
d6=$(syn_opts "${IP6_SRV[1]}" 8088 40004 "$VIP6")
# (padded: its IPv4 and TCP headers are longer than an IPv6 header and a TCP one)
d4=$(ep_helper spoof "$(printf '{"op": "syn", "dst": "%s", "dport": 8088, "sport": 40005, "name": "%s", "dst_mac": "%s", "pad": 16}' \
	"${IP_SRV[1]}" "$VIP" "$SRV1_MAC")")
want4=2a06$(printf '%02x' ${VIP//./ })
crab_log "dual-stack listener: IPv6 SYN -> $d6; IPv4 SYN -> $d4"
[[ $d6 == *"$want6"* ]] && [[ $d4 == *"$want4"* ]]
log_test $? "a dual-stack listener echoes the IPv6 form to IPv6 SYNs and the IPv4 form to IPv4 SYNs"

red=$(ep_stat redirected)
out=$(ep_helper cli "conns $VIP6 $P6 9 10")
[ "$out" = "ok 9" ] && [ "$(ep_stat redirected)" = $((red + 9)) ]
log_test $? "real IPv6 connections are redirected after the spoofing ($out)"

crab_exit
