#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# No room left for the option (docs/PROTOCOL.md 3.3): a BPF sock_ops program
# (kp_reserve.bpf.c) reserves 20 bytes of option space in the SYNs and
# SYN-ACKs of its cgroup; with MSS, timestamps and window scale that leaves
# no room for the 8-byte option, which the kernel adds after BPF's options.
# - server in that cgroup: its SYN-ACK goes out without the echo (the
#   client sees none), counted in TCPCrabEchoNoRoom; never overflowed;
# - client in that cgroup: its SYN goes out without the option, counted in
#   TCPCrabAnnounceNoRoom, and the server echoes nothing.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/kp_lib.sh"

PORT=8214
PROG=$CRAB_TOP/build/bpf/kp_reserve.bpf.o
crab_require_root
kp_require_patched_kernel
crab_check_tool ip nft python3 bpftool
[ -f "$PROG" ] || crab_fail "$PROG not built (make bpf)"
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgroot" ] || crab_skip "no cgroup2 mount"
crab_topo_setup 1
S=${IP_SRV[1]}
kp_client "$NS_CLI"
kp_sysctls "${NS_SRV[1]}" 0 1

CG=$cgroot/crab-kp-$CRAB_SFX
PIN=/sys/fs/bpf/crab-kp-$CRAB_SFX
mkdir "$CG" || crab_fail "cannot create cgroup $CG"
crab_defer "rmdir $CG"
bpftool prog load "$PROG" "$PIN" type sockops || crab_fail "cannot load $PROG"
crab_defer "rm -f $PIN"
bpftool cgroup attach "$CG" sock_ops pinned "$PIN" || crab_fail "cannot attach to $CG"
crab_defer "bpftool cgroup detach $CG sock_ops pinned $PIN"
# Run "$@" in the cgroup. Under `ip netns exec` /sys is sysfs of the
# namespace, without the cgroup2 mount: mount it again there (that mount
# namespace is the command's own).
incg=(sh -c "mountpoint -q $cgroot || mount -t cgroup2 none $cgroot; echo \$\$ > $CG/cgroup.procs && exec \"\$@\"" sh)

# The server listens from inside the cgroup.
ip netns exec "${NS_SRV[1]}" "${incg[@]}" $CRAB_TCPECHO server --port $PORT &
crab_defer "kill $!"
for i in $(seq 100); do
	ip netns exec "${NS_SRV[1]}" ss -Htln "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
ip netns exec "$NS_LB" nft -f - <<-NFT || crab_fail "cannot install the LB"
table ip crablb {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip daddr $VIP tcp dport $PORT ip daddr set $S notrack
	}
}
NFT
kp_helper cli "$NS_CLI" serve
kp_helper clicg "$NS_CLI" serve "${incg[@]}"
kp_call cli '{"cmd": "capture", "iface": "eth0"}' >/dev/null

# Server in the cgroup.
n0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoNoRoom) e0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)
r=$(kp_call cli "{\"cmd\": \"connect\", \"id\": \"a\", \"addr\": \"$VIP\", \"port\": $PORT}")
sp=$(kp_get "$r" sport)
sa=$(kp_call cli "{\"cmd\": \"synack\", \"sport\": $PORT, \"dport\": $sp, \"timeout\": 10}")
syn=$(kp_call cli "{\"cmd\": \"syn\", \"sport\": $sp, \"dport\": $PORT}")
n1=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoNoRoom)
kp_call cli '{"cmd": "close", "id": "a"}' >/dev/null
crab_log "SYN: $syn; SYN-ACK: $sa"
[ "$(kp_get "$syn" form)" = 42 ] && [ "$(kp_get "$sa" crab)" = null ] &&
	[ "$(kp_get "$sa" seq)" != null ] && [ "$n1" -gt "$n0" ] &&
	[ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = "$e0" ]
log_test $? "server with 20 bytes of BPF options: SYN-ACK sent without the echo, TCPCrabEchoNoRoom $n0 -> $n1"

# Client in the cgroup.
a0=$(kp_mib "$NS_CLI" TCPCrabAnnounceNoRoom) e0=$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)
r=$(kp_call clicg "{\"cmd\": \"connect\", \"id\": \"b\", \"addr\": \"$VIP\", \"port\": $PORT}")
sp=$(kp_get "$r" sport)
syn=$(kp_call cli "{\"cmd\": \"syn\", \"sport\": $sp, \"dport\": $PORT, \"timeout\": 10}")
a1=$(kp_mib "$NS_CLI" TCPCrabAnnounceNoRoom)
kp_call clicg '{"cmd": "close", "id": "b"}' >/dev/null
crab_log "SYN: $syn"
[ "$(kp_get "$syn" seq)" != null ] && [ "$(kp_get "$syn" crab)" = null ] &&
	[ "$a1" = $((a0 + 1)) ] && [ "$(kp_mib "${NS_SRV[1]}" TCPCrabEchoed)" = "$e0" ]
log_test $? "client with 20 bytes of BPF options: SYN sent without the option, TCPCrabAnnounceNoRoom $a0 -> $a1"

crab_exit
