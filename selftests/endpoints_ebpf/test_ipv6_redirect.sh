#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The eBPF endpoints over IPv6 (docs/PROTOCOL.md 2 and 3), end to end:
# N connections to VIP6 through a stateless IPv6 LB (nft in the LB's
# namespace: notrack, the destination of each SYN rewritten round robin to
# a server, anything else to the service dropped and counted) all complete
# with data echoed, each redirected by the eBPF client, the LB seeing only
# their SYNs, the servers sharing them; the client's SYN is a full Linux
# SYN with the 18-byte option in exactly 40 bytes of options, the server's
# SYN-ACK echoes the 20-byte form, and nft's rewrite leaves the TCP
# checksum right (the client computes full checksums, the servers' capture
# checks them). Then: a dual-stack socket dialing the IPv4 VIP as a
# v4-mapped address is redirected as IPv4; an ICMPv6 packet too big from
# the server about a redirected connection reaches its socket (rewritten
# to be about VIP6); a SYN without room for the option goes without it
# (counted); a SYN-ACK without room for the echo goes without it
# (counted); the RFC 6994 form (kind 254, length 20) works the same; with
# no FIB lookup possible for the reverse path (IPv6 forwarding off on the
# device and on lo) redirects are refused, counted.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

N=${EP_CONNS6:-60}
P6=8086
D=$(dirname "$0")

ep_unshare "$@"
crab_check_tool tcpdump nft ethtool
crab_require_python_module scapy
ep_setup --announce "$VIP/32,$VIP6/128" --allow "$CRAB_SUBNET.0/24,$EP6_NET::10/124"
ep_v6_setup || crab_fail "IPv6 addresses of the topology"
ep_lb6_setup $P6 || crab_fail "the IPv6 nft LB"
# Full checksums from the client: the servers' captures can check them.
ip netns exec "$NS_CLI" ethtool -K eth0 tx off >/dev/null
for i in 1 2 3; do
	ep_helper_start "srv$i" "${NS_SRV[i]}" "$CG_SRV" "$D/ep_hold.py"
	[ "$(ep_helper "srv$i" "listen $P6 v6")" = ok ] &&
		[ "$(ep_helper "srv$i" "serve $P6 $EP_TMP/acc6-$i")" = ok ] ||
		crab_fail "IPv6 listener on server $i"
done
ep_helper_start cli "$NS_CLI" "$CG_CLI" "$D/ep_hold.py"

acc6() {
	local v=0
	[ -e "$EP_TMP/acc6-$1" ] && read -r v <"$EP_TMP/acc6-$1"
	echo "${v:-0}"
}

# 0. crabctl: IPv6 prefixes in the lists; a bad one refuses the whole list.
j=$("$CRABCTL" -j ebpf stats)
"$CRABCTL" ebpf set --allow "$EP6_NET::10/124,fd00::1/64" 2>"$EP_TMP/set.err"
src=$?
crab_log "bad IPv6 prefix: exit $src, $(cat "$EP_TMP/set.err")"
[[ $j == *"\"$VIP6/128\""* && $j == *"\"$EP6_NET::10/124\""* ]] && [ $src = 2 ] &&
	[ "$("$CRABCTL" -j ebpf stats)" = "$j" ]
log_test $? "crabctl: stats show the IPv6 prefixes; a list with a bad one is refused whole"

# 1. N connections through the IPv6 LB.
crab_capture_start "$NS_CLI" "$EP_TMP/cli.pcap" "ip6 and tcp port $P6 and ip6[53] & 2 != 0"
crab_capture_start "${NS_SRV[1]}" "$EP_TMP/srv1.pcap" "ip6 and tcp dst port $P6 and ip6[53] & 18 == 2"
red0=$(ep_stat redirected)
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ep_helper cli "conns $VIP6 $P6 $N 10")
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
red=$(($(ep_stat redirected) - red0))
crab_log "client: $out; redirected +$red; SYN retransmissions $retr"
[ "$out" = "ok $N" ]
log_test $? "$N IPv6 connections to VIP6 through the nft LB succeed, data echoed"
[ "$red" = "$N" ]
log_test $? "every IPv6 connection redirected by the eBPF client ($red)"

syn=$(ep_lb6_count syn) other=$(ep_lb6_count other)
crab_log "LB: $syn SYNs, $other other segments to VIP6:$P6"
[ "$syn" = $((N + retr)) ] && [ "$other" = 0 ]
log_test $? "the IPv6 LB saw only SYNs: $syn = $N + $retr retransmitted, $other others"

a1=$(acc6 1) a2=$(acc6 2) a3=$(acc6 3)
crab_log "accepted per server: $a1 $a2 $a3"
ok=0
[ $((a1 + a2 + a3)) = "$N" ] || ok=1
for a in $a1 $a2 $a3; do
	[ $((a - N / 3)) -le "$retr" ] && [ $((N / 3 - a)) -le "$retr" ] || ok=1
done
log_test $ok "each connection completed on a backend, round robin ($a1 $a2 $a3, N/3 = $((N / 3)))"

for i in $(seq 1 100); do
	[ "$(ep_stat maps.flows6)" = 0 ] && break
	sleep 0.1
done
[ "$(ep_stat maps.flows6)" = 0 ] && [ "$(ep_stat flows_closed)" -ge "$N" ]
log_test $? "the IPv6 flow table is empty again after the connections close"

# 2. A dual-stack socket dialing the IPv4 VIP as ::ffff:VIP: IPv4 on the wire.
red0=$(ep_stat redirected)
lbp0=$(ep_lb_packets)
out=$(ep_helper cli "conns ::ffff:$VIP $EP_PORT 6 10")
red=$(($(ep_stat redirected) - red0))
lbp=$(($(ep_lb_packets) - lbp0))
crab_log "v4-mapped: $out; redirected +$red; IPv4 LB packets +$lbp"
[ "$out" = "ok 6" ] && [ "$red" = 6 ] && [ "$lbp" = 6 ]
log_test $? "v4-mapped connections of an IPv6 socket are redirected as IPv4 (IPv4 LB saw 6 SYNs)"

# 3. ICMPv6 packet too big from S about a redirected connection.
p=$(ep_helper cli "connect $VIP6 $P6")
w=$(ep_helper cli "wait $p 10")
e=$(ep_helper cli "echo $p 100")
srv=0
for i in 1 2 3; do
	ip netns exec "${NS_SRV[i]}" ss -Htn state established "dport = :$p" | grep -q . && srv=$i
done
crab_capture_stop "$EP_TMP/cli.pcap" "$EP_TMP/srv1.pcap"
isn=$(tcpdump -nn -S -r "$EP_TMP/cli.pcap" "src port $p and ip6[53] & 18 == 2" 2>/dev/null |
	head -n1 | sed -n 's/.* seq \([0-9]*\),.*/\1/p')
crab_log "held connection :$p $w, echo $e, on server $srv, ISN $isn"
if [ "$srv" != 0 ] && [ -n "$isn" ]; then
	ep_helper_start ptb "${NS_SRV[srv]}" "" "$D/ep_spoof.py"
	cmac=$(ip -n "$NS_CLI" -br link show eth0 | awk '{ print $3 }')
	i0=$(ep_stat icmp_rewritten)
	r=$(ep_helper ptb "$(printf '{"op": "ptb6", "src": "%s", "dst": "%s", "dst_mac": "%s", "sport": %s, "dport": %s, "seq": %s, "mtu": 1280}' \
		"${IP6_SRV[srv]}" "$IP6_CLI" "$cmac" "$P6" "$p" $(((isn + 101) % 4294967296)))")
	ep_wait_stat icmp_rewritten $((i0 + 1))
	for i in $(seq 50); do
		ip netns exec "$NS_CLI" ss -Htni "sport = :$p" | grep -q 'pmtu:1280' && break
		sleep 0.1
	done
	ip netns exec "$NS_CLI" ss -Htni "sport = :$p" | sed 's/^/# /'
	[ "$r" = sent ] && [ "$(ep_stat icmp_rewritten)" = $((i0 + 1)) ] &&
		ip netns exec "$NS_CLI" ss -Htni "sport = :$p" | grep -q 'pmtu:1280'
	log_test $? "ICMPv6 packet too big from S rewritten to be about VIP6: the socket's path MTU is 1280"
else
	log_test 1 "ICMPv6 packet too big from S rewritten (no held connection)"
fi
ep_helper cli "close $p" >/dev/null

# 4. The SYN and the SYN-ACK on the wire (captures above).
python3 - "$EP_TMP/cli.pcap" "$EP_TMP/srv1.pcap" "$VIP6" "$IP6_CLI" <<'PY'
import socket, sys
from scapy.all import IPv6, TCP, rdpcap
cli, srv, vip6, me = sys.argv[1:5]
want = bytes([42, 18]) + socket.inet_pton(socket.AF_INET6, vip6)
bad = 0
pk = [p for p in rdpcap(cli) if p.haslayer(IPv6) and p.haslayer(TCP)]
syn = [p for p in pk if p[TCP].flags & 0x12 == 0x02 and p[IPv6].dst == vip6][0]
o = bytes(syn[TCP])[20:syn[TCP].dataofs * 4]
kinds = []
i = 0
while i < len(o):
    if o[i] in (0, 1):
        kinds.append(o[i]); i += 1; continue
    kinds.append(o[i]); i += o[i + 1]
print("# client SYN options (%d bytes): %s" % (len(o), o.hex()))
if not (len(o) == 40 and want in o and all(k in kinds for k in (2, 4, 8, 3))):
    print("# not a full SYN with the 18-byte option in 40 bytes"); bad |= 1
sa = [p for p in pk if p[TCP].flags & 0x12 == 0x12 and p[IPv6].src != vip6]
echo = sum(1 for p in sa if want in bytes(p[TCP])[20:p[TCP].dataofs * 4])
print("# SYN-ACKs from the servers: %d, with the echo: %d" % (len(sa), echo))
if not sa or echo != len(sa):
    bad |= 2
s = [p for p in rdpcap(srv) if p.haslayer(TCP)]
good = 0
for p in s:
    c = p[TCP].chksum
    del p[TCP].chksum
    good += IPv6(bytes(p[IPv6]))[TCP].chksum == c
print("# server 1 received %d SYNs, %d with a right TCP checksum" % (len(s), good))
if not s or good != len(s):
    bad |= 4
sys.exit(bad)
PY
rc=$?
[ $((rc & 1)) = 0 ]
log_test $? "the client's IPv6 SYN: MSS, SACK_PERM, timestamps, window scale and the 18-byte option in 40 bytes"
[ $((rc & 2)) = 0 ]
log_test $? "the servers' IPv6 SYN-ACKs echo the option (kind 42, length 18, VIP6)"
[ $((rc & 4)) = 0 ]
log_test $? "the LB's destination rewrite keeps the TCP checksum right (checked at the server)"

# 4b. The RFC 6994 form over IPv6: kind 254, length 20, ExID, VIP6.
"$CRABCTL" ebpf set --kind 254 || crab_fail "crabctl ebpf set --kind 254"
crab_capture_start "$NS_CLI" "$EP_TMP/exp.pcap" "ip6 and tcp port $P6 and ip6[53] & 2 != 0"
red0=$(ep_stat redirected)
out=$(ep_helper cli "conns $VIP6 $P6 3 10")
crab_capture_stop "$EP_TMP/exp.pcap"
"$CRABCTL" ebpf set --kind 42 || crab_fail "crabctl ebpf set --kind 42"
hex=$(tcpdump -nn -x -r "$EP_TMP/exp.pcap" 2>/dev/null | grep -v '^[0-9]' | tr -d ' \t\n' | sed 's/0x[0-9a-f]*://g')
want=fe14c4ab$(python3 -c 'import ipaddress,sys; print(ipaddress.IPv6Address(sys.argv[1]).packed.hex())' "$VIP6")
n=$(grep -o "$want" <<<"$hex" | wc -l)
crab_log "kind 254: $out; redirected +$(($(ep_stat redirected) - red0)); $n SYNs and SYN-ACKs carry $want"
[ "$out" = "ok 3" ] && [ "$(ep_stat redirected)" = $((red0 + 3)) ] && [ "$n" -ge 6 ]
log_test $? "RFC 6994 form over IPv6 (254 20 c4ab VIP6) in SYNs and SYN-ACKs: 3 connections redirected"

# 5. No room in the SYN: a fixture takes 4 bytes of every SYN of a child
# cgroup's sockets, leaving 16 for the 20-byte option. Server 1 dialed
# directly (in the announce list): the SYN goes without the option.
"$CRABCTL" ebpf set --announce "$VIP/32,$VIP6/128,${IP6_SRV[1]}/128" || crab_fail "crabctl ebpf set --announce"
CG_HOG=$CG_CLI/hog
mkdir "$CG_HOG" || crab_fail "cgroup $CG_HOG"
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -DHOG_SYN=4 \
	-c "$D/room_hog.bpf.c" -o "$EP_TMP/syn_hog.o" &&
	bpftool prog load "$EP_TMP/syn_hog.o" /sys/fs/bpf/crabtest_synhog type sockops &&
	bpftool cgroup attach "$CG_HOG" sock_ops pinned /sys/fs/bpf/crabtest_synhog multi ||
	crab_fail "the SYN room_hog fixture"
crab_defer "bpftool cgroup detach $CG_HOG sock_ops pinned /sys/fs/bpf/crabtest_synhog"
ep_helper_start hog "$NS_CLI" "$CG_HOG" "$D/ep_hold.py"
crab_capture_start "$NS_CLI" "$EP_TMP/hog.pcap" "ip6 and tcp dst port $P6 and ip6[53] & 18 == 2"
n0=$(ep_stat announce_no_room)
a0=$(ep_stat announced)
p=$(ep_helper hog "connect ${IP6_SRV[1]} $P6")
w=$(ep_helper hog "wait $p 5")
p2=$(ep_helper cli "connect ${IP6_SRV[1]} $P6")
w2=$(ep_helper cli "wait $p2 5")
crab_capture_stop "$EP_TMP/hog.pcap"
syns=$(tcpdump -nn -v -r "$EP_TMP/hog.pcap" 2>/dev/null | grep 'Flags \[S\]')
echo "$syns" | sed 's/^ */# SYN: /' | cut -c1-240
crab_log "crowded SYN: $w; announce_no_room $n0 -> $(ep_stat announce_no_room), announced $a0 -> $(ep_stat announced)"
[ "$w" = "up ${IP6_SRV[1]}" ] && [ "$(ep_stat announce_no_room)" = $((n0 + 1)) ] &&
	echo "$syns" | grep "\.$p >" | grep -q unknown-253 && ! echo "$syns" | grep "\.$p >" | grep -q unknown-42
log_test $? "an IPv6 SYN without room for the option is sent without it, counted, and connects"
[ "$w2" = "up ${IP6_SRV[1]}" ] && [ "$(ep_stat announced)" = $((a0 + 1)) ] &&
	echo "$syns" | grep "\.$p2 >" | grep -q unknown-42
log_test $? "the same SYN from a socket with room announces"
ep_helper hog "close $p" >/dev/null
ep_helper cli "close $p2" >/dev/null

# 6. No room in the SYN-ACK: the fixture takes 16 bytes of every SYN-ACK of
# a listener of server 1; the echo's 20 do not fit after the 20 of a full
# SYN-ACK.
CG_SHOG=$CG_SRV/hog
mkdir "$CG_SHOG" || crab_fail "cgroup $CG_SHOG"
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu \
	-c "$D/room_hog.bpf.c" -o "$EP_TMP/room_hog.o" &&
	bpftool prog load "$EP_TMP/room_hog.o" /sys/fs/bpf/crabtest_hog type sockops &&
	bpftool cgroup attach "$CG_SHOG" sock_ops pinned /sys/fs/bpf/crabtest_hog multi ||
	crab_fail "the room_hog fixture"
crab_defer "bpftool cgroup detach $CG_SHOG sock_ops pinned /sys/fs/bpf/crabtest_hog"
ep_helper_start shog "${NS_SRV[1]}" "$CG_SHOG" "$D/ep_hold.py"
[ "$(ep_helper shog "listen 8087 v6")" = ok ] && [ "$(ep_helper shog "accept 8087 20")" = ok ] ||
	crab_fail "crowded IPv6 listener on server 1"
crab_capture_start "$NS_CLI" "$EP_TMP/shog.pcap" "ip6 and tcp src port 8087 and ip6[53] & 18 == 18"
n0=$(ep_stat echo_no_room)
p=$(ep_helper cli "connect ${IP6_SRV[1]} 8087")
w=$(ep_helper cli "wait $p 5")
e=$(ep_helper cli "echo $p 1000")
crab_capture_stop "$EP_TMP/shog.pcap"
sa=$(tcpdump -nn -v -r "$EP_TMP/shog.pcap" 2>/dev/null | grep 'Flags \[S\.\]')
echo "$sa" | sed 's/^ */# SYN-ACK: /' | cut -c1-240
crab_log "crowded SYN-ACK: $w, echo $e; echo_no_room $n0 -> $(ep_stat echo_no_room)"
[ "$w" = "up ${IP6_SRV[1]}" ] && [ "$e" = ok ] && [ "$(ep_stat echo_no_room)" = $((n0 + 1)) ] &&
	echo "$sa" | grep -q unknown-253 && ! echo "$sa" | grep -q unknown-42
log_test $? "an IPv6 SYN-ACK without room for the echo is sent without it, counted, and connects"
ep_helper cli "close $p" >/dev/null

# 7. No FIB lookup possible for the reverse path: refused, counted.
ip netns exec "$NS_CLI" sysctl -qw net.ipv6.conf.lo.forwarding=0
u0=$(ep_stat rejected_rpf_unchecked)
red0=$(ep_stat redirected)
out=$(ep_helper cli "conns $VIP6 $P6 1 2")
u=$(ep_stat rejected_rpf_unchecked)
ip netns exec "$NS_CLI" sysctl -qw net.ipv6.conf.lo.forwarding=1
crab_log "forwarding off on eth0 and lo: $out; rejected_rpf_unchecked $u0 -> $u"
[ "${out%% *}" = fail ] && [ "$u" -gt "$u0" ] && [ "$(ep_stat redirected)" = "$red0" ]
log_test $? "no reverse-path lookup possible (IPv6 forwarding off on eth0 and lo): redirect refused, counted"
out=$(ep_helper cli "conns $VIP6 $P6 3 10")
[ "$out" = "ok 3" ] && [ "$(ep_stat redirected)" = $((red0 + 3)) ]
log_test $? "with net.ipv6.conf.lo.forwarding=1 again, IPv6 redirects work"

crab_exit
