#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# TCP-MD5 and TCP-AO (docs/PROTOCOL.md 3.4): a socket with keys never takes
# part in Connection Redirect, and no segment carrying kind 19 or 29 gets
# the option:
#  - a client socket with a TCP-MD5 key (or a TCP-AO key) for the VIP, in a
#    namespace that announces to the VIP: its SYN carries kind 19 (29) and
#    no option 42, nothing is counted as announced;
#  - a server whose listener has a TCP-MD5 key for a peer: that peer's
#    signed SYN carries the option (sent by a host on the segment, scapy),
#    the signed SYN-ACK does not echo it; an unsigned SYN with the option to
#    a listener without keys is echoed (the server does echo).
# A socket that gets a key after its SYN is refused a redirect
# (TCPCrabRejectKeyed): test_forged_synacks.sh.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8217
PORT2=8218
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3
crab_topo_setup 1
S=${IP_SRV[1]}
EVIL_IP=$CRAB_SUBNET.66
crab_add_host EVIL "$EVIL_IP"
kp_client "$NS_CLI"
kp_sysctls "${NS_SRV[1]}" 0 1
crab_echo_servers $PORT
ip netns exec "$NS_LB" nft -f - <<-NFT || crab_fail "cannot install the LB"
table ip crablb {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip daddr $VIP tcp dport $PORT ip daddr set $S notrack
	}
}
NFT
kp_helper cli "$NS_CLI" serve
kp_helper srv "${NS_SRV[1]}" serve
kp_call cli '{"cmd": "capture", "iface": "eth0"}' >/dev/null
kp_call srv '{"cmd": "capture", "iface": "eth0"}' >/dev/null

# keyed ID KEYOPT: a connection to the VIP from a socket with that key;
# prints its SYN's "kinds form".
keyed() {
	local r sp syn
	r=$(kp_call cli "{\"cmd\": \"connect\", \"id\": \"$1\", \"addr\": \"$VIP\", \"port\": $PORT, $2}")
	[ "$(kp_get "$r" ok)" = true ] || { echo "error: $r"; return; }
	sp=$(kp_get "$r" sport)
	syn=$(kp_call cli "{\"cmd\": \"syn\", \"sport\": $sp, \"dport\": $PORT}")
	kp_call cli "{\"cmd\": \"close\", \"id\": \"$1\"}" >/dev/null
	echo "$(kp_get "$syn" kinds) $(kp_get "$syn" form)"
}
a0=$(kp_mib "$NS_CLI" TCPCrabAnnounced)
r=$(keyed md5 '"md5": "secret"')
case ",${r% *}," in *,19,*) true ;; *) false ;; esac && [ "${r#* }" = null ] &&
	[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = "$a0" ]
log_test $? "client socket with a TCP-MD5 key: SYN with kind 19, without the option ($r)"

r=$(keyed ao '"ao": "secret"')
case $r in
error:*"Protocol not available"*|error:*"ENOPROTOOPT"*)
	log_test $ksft_skip "client socket with a TCP-AO key: kernel without TCP-AO" ;;
*)
	case ",${r% *}," in *,29,*) true ;; *) false ;; esac && [ "${r#* }" = null ] &&
		[ "$(kp_mib "$NS_CLI" TCPCrabAnnounced)" = "$a0" ]
	log_test $? "client socket with a TCP-AO key: SYN with kind 29, without the option ($r)" ;;
esac

# The server: a listener with a TCP-MD5 key for the attacker's address.
r=$(kp_call srv "{\"cmd\": \"listen\", \"id\": \"l\", \"port\": $PORT2, \"md5\": \"secret\", \"md5_addr\": \"$EVIL_IP\"}")
[ "$(kp_get "$r" ok)" = true ] || crab_fail "listener with a key: $r"
kp_helper evil "$NS_EVIL" attack
SRV_MAC=$(kp_mac "${NS_SRV[1]}")
syn() { # syn SPORT DPORT [md5]: a SYN with the option (and a signature)
	local opts="\"mss:1460\", \"crab:$VIP\"" key=
	[ "${3:-}" = md5 ] && opts+=", \"md5\"" key=', "md5key": "secret"'
	kp_call evil "{\"cmd\": \"tcp\", \"iface\": \"eth0\", \"dmac\": \"$SRV_MAC\", \"src\": \"$EVIL_IP\", \"dst\": \"$S\", \"sport\": $1, \"dport\": $2, \"flags\": \"S\", \"seq\": 1000, \"opts\": [$opts]$key}" >/dev/null
}
e0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)
syn 40401 $PORT2 md5
sa=$(kp_call srv "{\"cmd\": \"synack\", \"sport\": $PORT2, \"dport\": 40401}")
case ",$(kp_get "$sa" kinds)," in *,19,*) true ;; *) false ;; esac &&
	[ "$(kp_get "$sa" form)" = null ] && [ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = "$e0" ]
log_test $? "signed SYN with the option to a listener with a key: signed SYN-ACK without it ($(kp_get "$sa" kinds))"

syn 40402 $PORT
sa=$(kp_call srv "{\"cmd\": \"synack\", \"sport\": $PORT, \"dport\": 40402}")
[ "$(kp_get "$sa" crab)" = "$VIP" ] && [ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = $((e0 + 1)) ]
log_test $? "unsigned SYN with the option to a listener without keys: echoed ($(kp_get "$sa" kinds))"

crab_exit
