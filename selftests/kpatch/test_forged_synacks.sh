#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Forged redirecting SYN-ACKs from an attacker on the client's segment
# (docs/PROTOCOL.md 3.4): while client sockets wait in SYN-SENT behind a
# black-hole LB, the attacker (scapy, one process) sends SYN-ACKs that name
# the VIP and acknowledge the right ISN (read from the client's segment) but
# break one rule each. None may move a socket; each refusal is counted by
# its reason:
#  - the sender is 127.0.0.1, the client's own address or the subnet's
#    broadcast (the client's interface accepts local and loopback sources:
#    route_localnet=1, accept_local=1, so that only TCP's own check is
#    left), 0.0.0.0, 255.255.255.255 or 224.0.0.1;
#  - the TCP checksum is wrong;
#  - the sender is a server, but the SYN-ACK comes in on another interface
#    than the route back to it (strict reverse path, rp_filter is 0);
#  - the sender is not in tcp_crab_allow;
#  - the ack is the ISN or ISN + 2; the socket did not announce; no socket;
#    a malformed option;
#  - the socket turned redirection off (TCP_CRAB_REDIRECT 0) or got a
#    TCP-MD5 key after its SYN;
#  - the checks of any segment for the socket (docs/PROTOCOL.md 3.4: the
#    same path): IP_MINTTL 255, a socket filter that drops everything;
#  - in the RFC 6994 form: a malformed option, another ExID, kind 42.
# A server counts a malformed option in a SYN and does not echo.
# Then a forged SYN-ACK that breaks no rule does move its socket (the test
# can see a move), and a real connection through the LB completes.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8210
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3
crab_topo_setup 1
S=${IP_SRV[1]}
EVIL_IP=$CRAB_SUBNET.66
crab_add_host EVIL "$EVIL_IP"
# A second link between the attacker and the client, off the route to S.
ip link add eth1 netns "$NS_CLI" type veth peer name eth1 netns "$NS_EVIL" ||
	crab_fail "cannot create the second link"
ip -n "$NS_CLI" addr add 198.19.0.2/24 dev eth1
ip -n "$NS_EVIL" addr add 198.19.0.66/24 dev eth1
ip -n "$NS_CLI" link set eth1 up
ip -n "$NS_EVIL" link set eth1 up
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.conf.eth1.rp_filter=0 \
	net.ipv4.conf.eth0.route_localnet=1 net.ipv4.conf.eth0.accept_local=1 \
	net.ipv4.tcp_syn_retries=8
kp_sysctls "$NS_CLI" 1 0
kp_lists "$NS_CLI" "$VIP/32" "$S/32" || crab_fail "cannot set the prefix lists"
kp_sysctls "${NS_SRV[1]}" 0 1
crab_echo_servers $PORT
kp_nft_blackhole $PORT || crab_fail "cannot install the nft black hole"
CLI_MAC=$(kp_mac "$NS_CLI")
CLI1_MAC=$(kp_mac "$NS_CLI" eth1)

kp_helper cli "$NS_CLI" serve
kp_call cli '{"cmd": "capture", "iface": "eth0"}' >/dev/null || crab_fail "no capture"
kp_helper evil "$NS_EVIL" attack

# The client's sockets, all to VIP:PORT, all held in SYN-SENT.
#   main   plain                    off    TCP_CRAB_REDIRECT 0 after connect
#   noann  TCP_CRAB_REDIRECT 0      md5    TCP-MD5 key after connect
#   minttl IP_MINTTL 255            filter socket filter dropping everything
declare -A SP=([main]=40301 [noann]=40302 [minttl]=40303 [filter]=40304 [off]=40305 [md5]=40306)
declare -A ISN
connect() {
	local r
	r=$(kp_call cli "{\"cmd\": \"connect\", \"id\": \"$1\", \"addr\": \"$VIP\", \"port\": $PORT, \"sport\": ${SP[$1]}${2:+, $2}}")
	[ "$(kp_get "$r" ok)" = true ] || crab_fail "connect $1: $r"
}
connect main
connect noann '"crab": 0'
connect minttl '"minttl": 255'
connect filter '"filter": "drop"'
connect off
connect md5
for id in "${!SP[@]}"; do
	r=$(kp_call cli "{\"cmd\": \"syn\", \"sport\": ${SP[$id]}, \"dport\": $PORT}")
	ISN[$id]=$(kp_get "$r" seq)
	[ -n "${ISN[$id]}" ] && [ "${ISN[$id]}" != null ] || crab_fail "no SYN seen from port ${SP[$id]}: $r"
done
kp_call cli '{"cmd": "set", "id": "off", "crab": 0}' >/dev/null
kp_call cli "{\"cmd\": \"set\", \"id\": \"md5\", \"md5\": \"secret\", \"md5_addr\": \"$VIP\"}" >/dev/null

# forge ID SRC [key=value...]: a SYN-ACK from SRC:PORT to socket ID that
# names the VIP and acknowledges ISN + 1, unless overridden ("ack", "opts",
# "badsum", "iface", "ttl", "dport").
forge() {
	local id=$1 src=$2 ack iface=eth0 dmac=$CLI_MAC opts="\"crab:$VIP\"" extra= dport=
	ack=$(( ${ISN[$id]:-0} + 1 ))
	dport=${SP[$id]:-40399}
	shift 2
	for kv in "$@"; do
		case $kv in
		ack=*) ack=${kv#ack=} ;;
		opts=*) opts=${kv#opts=} ;;
		iface=eth1) iface=eth1 dmac=$CLI1_MAC ;;
		dport=*) dport=${kv#dport=} ;;
		*) extra+=", \"${kv%%=*}\": ${kv#*=}" ;;
		esac
	done
	kp_call evil "{\"cmd\": \"tcp\", \"iface\": \"$iface\", \"dmac\": \"$dmac\", \"src\": \"$src\", \"dst\": \"$IP_CLI\", \"sport\": $PORT, \"dport\": $dport, \"flags\": \"SA\", \"seq\": 777000, \"ack\": $ack, \"opts\": [\"mss:1460\", $opts]$extra}" >/dev/null
}

# wait_mib NS NAME BEFORE: until counter NAME passed BEFORE (5 s at most).
wait_mib() {
	local i v
	for i in $(seq 50); do
		v=$(kp_mib "$1" "$2")
		[ "$v" != "$3" ] && break
		sleep 0.1
	done
	echo "$v"
}

# Segments the IP layer drops count nowhere in TCP: a malformed option
# sent after them, counted in TCPCrabBadOption, marks that they were
# processed (same link, same order).
BARRIER_OPT='"raw:2a05000000"'
barrier() {
	local b
	b=$(kp_mib "$NS_CLI" TCPCrabBadOption)
	forge none "$S" dport=40398 opts="$BARRIER_OPT"
	[ "$(wait_mib "$NS_CLI" TCPCrabBadOption "$b")" = $((b + 1)) ] ||
		crab_fail "barrier segment not counted"
}

# still ID: socket ID is in SYN-SENT towards the VIP.
still() {
	local r
	r=$(kp_call cli "{\"cmd\": \"sock\", \"id\": \"$1\"}")
	[ "$(kp_get "$r" state)" = SYN_SENT ] && [ "$(kp_get "$r" peer)" = "$VIP" ] ||
		{ crab_log "socket $1: $r"; return 1; }
}

# refused DESC COUNTER ID SRC [forge args]: the forged SYN-ACK is counted
# in COUNTER (TcpExt, or "-" for none: then a barrier), socket ID stays.
refused() {
	local desc=$1 mib=$2 id=$3 before after rc=0 red0
	shift 3
	red0=$(kp_mib "$NS_CLI" TCPCrabRedirected)
	if [ "$mib" != - ]; then
		before=$(kp_mib "$NS_CLI" "$mib")
		forge "$id" "$@"
		after=$(wait_mib "$NS_CLI" "$mib" "$before")
		[ "$after" = $((before + 1)) ] || rc=1
	else
		forge "$id" "$@"
		barrier
	fi
	[ "$(kp_mib "$NS_CLI" TCPCrabRedirected)" = "$red0" ] || rc=1
	if [ "$id" != none ]; then still "$id" || rc=1; fi
	if [ "$mib" = - ]; then
		log_test $rc "$desc: refused, nothing moved"
	else
		log_test $rc "$desc: refused ($mib $before -> $after)"
	fi
	[ $rc = 0 ] || crab_log "$(kp_mibs "$NS_CLI" $KP_MIBS)"
}

# Any sender allowed: the checks of the sender hold whatever the list says.
kp_lists "$NS_CLI" "$VIP/32" "0.0.0.0/0"
refused "from 127.0.0.1" TCPCrabRejectMartian main 127.0.0.1
refused "from the client's own address" TCPCrabRejectMartian main "$IP_CLI"
refused "from the subnet broadcast $CRAB_SUBNET.255" TCPCrabRejectMartian main "$CRAB_SUBNET.255"
refused "from 0.0.0.0 (dropped by IP)" - main 0.0.0.0
refused "from 255.255.255.255 (dropped by IP)" - main 255.255.255.255
refused "from 224.0.0.1 (dropped by IP)" - main 224.0.0.1
c0=$(crab_tcpext "$NS_CLI" TCPMinTTLDrop)
csum0=$(ip netns exec "$NS_CLI" awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) x[$i] = i; h = 1; next }
	$1 == "Tcp:" { print $x["InCsumErrors"]; exit }' /proc/net/snmp)
refused "bad TCP checksum" - main "$S" badsum=true
csum1=$(ip netns exec "$NS_CLI" awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) x[$i] = i; h = 1; next }
	$1 == "Tcp:" { print $x["InCsumErrors"]; exit }' /proc/net/snmp)
[ "$csum1" = $((csum0 + 1)) ]
log_test $? "bad TCP checksum: counted in Tcp InCsumErrors ($csum0 -> $csum1)"
refused "from $S on eth1, off the route to it" TCPCrabRejectRpFilter main "$S" iface=eth1
kp_lists "$NS_CLI" "$VIP/32" "$S/32"
refused "from $EVIL_IP, not in tcp_crab_allow" TCPCrabRejectNotAllowed main "$EVIL_IP"
refused "ack = ISN" TCPCrabRejectBadAck main "$S" ack="${ISN[main]}"
refused "ack = ISN + 2" TCPCrabRejectBadAck main "$S" ack=$((ISN[main] + 2))
refused "socket that did not announce" TCPCrabRejectNotAnnounced noann "$S"
refused "no socket on that port" TCPCrabRejectNotSynSent none "$S"
refused "option of length 5 (malformed)" TCPCrabBadOption main "$S" opts='"raw:2a05000000"'
refused "socket with TCP_CRAB_REDIRECT 0 after connect" TCPCrabRejectDisabled off "$S"
refused "socket with a TCP-MD5 key after connect" TCPCrabRejectKeyed md5 "$S"
refused "socket with IP_MINTTL 255 (ttl 64)" TCPMinTTLDrop minttl "$S"
refused "socket whose filter drops everything" - filter "$S"

# A server gets a SYN whose option is malformed: counted, not echoed.
SRV_MAC=$(kp_mac "${NS_SRV[1]}")
b0=$(kp_mib "${NS_SRV[1]}" TCPCrabBadOption) e0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)
kp_call evil "{\"cmd\": \"tcp\", \"iface\": \"eth0\", \"dmac\": \"$SRV_MAC\", \"src\": \"$EVIL_IP\", \"dst\": \"$S\", \"sport\": 40410, \"dport\": $PORT, \"flags\": \"S\", \"seq\": 5, \"opts\": [\"mss:1460\", \"raw:2a05000000\"]}" >/dev/null
b1=$(wait_mib "${NS_SRV[1]}" TCPCrabBadOption "$b0")
[ "$b1" = $((b0 + 1)) ] && [ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = "$e0" ]
log_test $? "server: SYN with an option of length 5 counted ($b0 -> $b1), nothing echoed"

# The RFC 6994 form (tcp_crab_kind 254): our ExID with a length other than
# 8 is malformed; another ExID is someone else's option, and kind 42 is not
# looked at: such SYN-ACKs are left to the normal stack, nothing counted.
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_crab_kind=254
BARRIER_OPT='"raw:fe0ac4ab000000000000"'
refused "RFC 6994 form, ExID 0xC4AB, length 10" TCPCrabBadOption main "$S" opts='"raw:fe0ac4ab000000000000"'
refused "RFC 6994 form, ExID 0x1234" - main "$S" opts="\"crab254:$VIP:1234\""
refused "kind 42 while the namespace uses kind 254" - main "$S"
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_crab_kind=42
BARRIER_OPT='"raw:2a05000000"'

# A forged SYN-ACK that breaks no rule moves its socket (to S, which then
# resets it: it never saw that connection).
r0=$(kp_mib "$NS_CLI" TCPCrabRedirected)
forge main "$S"
r1=$(wait_mib "$NS_CLI" TCPCrabRedirected "$r0")
r=$(kp_call cli '{"cmd": "sock", "id": "main"}')
[ "$r1" = $((r0 + 1)) ] && [ "$(kp_get "$r" peer)" != "$VIP" ]
log_test $? "a SYN-ACK that breaks no rule moves its socket ($r0 -> $r1, now $(kp_get "$r" state) to $(kp_get "$r" peer))"

# The LB forwards now: a real connection through it completes with S.
ip netns exec "$NS_LB" nft flush chain ip crablb pre
ip netns exec "$NS_LB" nft add rule ip crablb pre ip daddr "$VIP" tcp dport $PORT \
	counter name lb ip daddr set "$S" notrack
r=$(kp_call cli "{\"cmd\": \"connect\", \"id\": \"real\", \"addr\": \"$VIP\", \"port\": $PORT}")
r=$(kp_call cli '{"cmd": "wait", "id": "real", "timeout": 20}' 30)
e=$(kp_call cli '{"cmd": "echo", "id": "real"}')
[ "$(kp_get "$r" peer)" = "$S" ] && [ "$(kp_get "$e" echo)" = true ]
log_test $? "a real connection through the LB is redirected to $S, data echoed ($r)"

crab_exit
