#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# TCP-MD5 and TCP-AO (docs/PROTOCOL.md 3.4): a socket with keys never
# announces nor accepts a redirect, and no eBPF endpoint program adds its
# option to, or translates, a segment carrying kind 19 or 29.
#
# The kernel does not keep BPF header options away from signed segments:
# tcp_syn_options() runs the sock_ops option callbacks after reserving
# room for the MD5 option (net/ipv4/tcp_output.c), so an MD5 SYN gets the
# redirect option unless the program looks at the socket's keys itself
# (tcp_sock md5sig_info/ao_info, read with BTF).
#
# Client (sockets held in SYN-SENT to $VIP:9999, attacker on the segment
# with one scapy process): a socket with an MD5 key sends an MD5 SYN without
# the redirect option; a socket that announced, then got a key, refuses a
# right-ack redirect; an announced socket refuses a SYN-ACK carrying an MD5
# or an AO option. Server (echo on): its SYN-ACK to an MD5-signed SYN
# (RFC 2385 digest computed by the attacker, for a listener keyed for it)
# carries the MD5 option but no echo; to a SYN carrying an AO option none
# either; to a plain SYN with the option, the echo. Sockets with TCP-AO keys
# cannot be made here: none of the kernels this project runs on (this
# machine's, Debian's 6.1 and 6.12) is built with CONFIG_TCP_AO.

source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

ep_unshare "$@"
crab_check_tool tcpdump
crab_require_python_module scapy
ep_setup --announce "$VIP/32" --allow "$CRAB_SUBNET.0/24"
ep_spoofer_start
SPOOF_IP=$CRAB_SUBNET.50
ep_helper_start hold "$NS_CLI" "$CG_CLI" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
pcap=$EP_TMP/syn.pcap
crab_capture_start "$NS_CLI" "$pcap" "tcp dst port 9999 and tcp[13] & 18 == 2"

# 1. A socket with an MD5 key: MD5 SYN, no redirect option.
a0=$(ep_stat announce_signed)
lport=$(ep_helper hold "connect $VIP 9999 md5=crab-secret")
ep_syn_seq "$pcap" "$lport" >/dev/null
syn=$(tcpdump -nn -v -r "$pcap" "tcp src port $lport" 2>/dev/null | head -n 2 | tr '\n' ' ')
crab_log "MD5 SYN: $syn"
echo "$syn" | grep -q "md5" && ! echo "$syn" | grep -q "unknown-42" &&
	[ "$(ep_stat announce_signed)" -gt "$a0" ]
log_test $? "the SYN of a socket with a TCP-MD5 key carries MD5 and no redirect option (counted)"
ep_helper hold "close $lport" >/dev/null

# forge_on LPORT WHY COUNTER [EXTRA]: a right-ack redirect from server 3 to
# the held socket LPORT must be refused, counted by COUNTER.
forge_on() {
	local lport=$1 desc=$2 counter=$3 extra=$4 seq before red rc=0
	before=$(ep_stat "$counter")
	red=$(ep_stat redirected)
	seq=$(ep_syn_seq "$pcap" "$lport") || { log_test 1 "$desc (no SYN captured)"; return; }
	[ "$(ep_helper spoof "$(ep_synack_json "${IP_SRV[3]}" "$lport" $((seq + 1)) "$extra")")" = sent ] ||
		rc=1
	ep_wait_stat "$counter" $((before + 1)) || { crab_log "$counter did not move"; rc=1; }
	ip netns exec "$NS_CLI" ss -Htn state syn-sent "sport = :$lport" "dst $VIP:9999" | grep -q . ||
		{ crab_log "socket $lport left SYN-SENT"; rc=1; }
	[ "$(ep_stat redirected)" = "$red" ] && [ "$(ep_stat maps.flows)" = 0 ] || rc=1
	crab_log "$counter $before -> $(ep_stat "$counter"), redirected $red -> $(ep_stat redirected)"
	ep_helper hold "close $lport" >/dev/null
	log_test $rc "$desc"
}

# 2. Announced, then keyed (a key may be added in SYN-SENT).
lport=$(ep_helper hold "connect $VIP 9999")
ep_syn_seq "$pcap" "$lport" >/dev/null
[ "$(ep_helper hold "md5 $lport crab-secret $VIP")" = ok ] || crab_fail "cannot add an MD5 key"
forge_on "$lport" "a socket that got an MD5 key after announcing refuses the redirect" rejected_signed

# 3, 4. SYN-ACKs carrying MD5 or AO, for sockets without keys.
lport=$(ep_helper hold "connect $VIP 9999")
forge_on "$lport" "a redirecting SYN-ACK carrying TCP-MD5 (kind 19) is not touched" rejected_signed \
	'"md5": true'
lport=$(ep_helper hold "connect $VIP 9999")
forge_on "$lport" "a redirecting SYN-ACK carrying TCP-AO (kind 29) is not touched" rejected_signed \
	'"ao": true'

# 5-7. The server's echo.
ep_helper_start srv "${NS_SRV[1]}" "$CG_SRV" "$CRAB_TOP/selftests/endpoints_ebpf/ep_hold.py"
[ "$(ep_helper srv "listen 8179 md5=$SPOOF_IP:crab-secret")" = ok ] || crab_fail "MD5 listener"
synj() {
	printf '{"op": "%s", "dst": "%s", "dport": %s, "sport": %s, "name": "%s", "key": "crab-secret"%s}' \
		"$1" "${IP_SRV[1]}" "$2" "$3" "$VIP" "${4:+, $4}"
}
want=2a06$(printf '%02x' ${VIP//./ })
e0=$(ep_stat echo_signed)
o=$(ep_helper spoof "$(synj md5syn 8179 41001)")
crab_log "SYN-ACK to the MD5 SYN: $o"
[[ $o == *1312* ]] && [[ $o != *"$want"* ]] && [ "$(ep_stat echo_signed)" = $((e0 + 1)) ]
log_test $? "the SYN-ACK to an MD5-signed SYN carries MD5 and no echo (echo_signed)"
o=$(ep_helper spoof "$(synj syn "$EP_PORT" 41002 '"ao": true')")
crab_log "SYN-ACK to the SYN with an AO option: $o"
[ "$o" != none ] && [[ $o != *error* ]] && [[ $o != *"$want"* ]] &&
	[ "$(ep_stat echo_signed)" = $((e0 + 2)) ]
log_test $? "the SYN-ACK to a SYN carrying TCP-AO has no echo (echo_signed)"
o=$(ep_helper spoof "$(synj syn "$EP_PORT" 41003)")
crab_log "SYN-ACK to a plain SYN with the option: $o"
[[ $o == *"$want"* ]]
log_test $? "the SYN-ACK to a plain SYN with the option echoes it"

crab_exit
