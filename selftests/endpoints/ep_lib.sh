# SPDX-License-Identifier: GPL-2.0-only
# Helpers shared by the endpoint tests (sourced after ../lib.sh).

# Counter $2 of /proc/net/crab_client|crab_server ($3) in namespace $1.
ep_counter() {
	ip netns exec "$1" awk -v n="$2" '$1 == n { print $2 }' "/proc/net/$3"
}

# Load one of our modules wherever the build put it under $CRAB_MODDIR (flat
# or mirroring the source tree); skips or fails like crab_load_module.
ep_load_module() {
	local name=$1 ko
	crab_has_modules || crab_skip "kernel without loadable module support"
	ko=$(find "$CRAB_MODDIR" -name "$name.ko" 2>/dev/null | head -n1)
	[ -n "$ko" ] || crab_missing "module $name.ko not built in $CRAB_MODDIR"
	if ! grep -q "^$name " /proc/modules; then
		insmod "$ko" || crab_fail "insmod $name failed"
		crab_defer "rmmod $name"
	fi
}

# Stateless LB in $NS_LB for VIP:$1 with tc (no conntrack): the daddr of
# every packet to it is rewritten to DIP $2 or $3 ($2 again when omitted) by
# bit 1 of the client port (connect() takes even ports, in steps of 2, so
# bit 0 would not spread), checksums recomputed, and the kernel
# forwards it. The tc action counters tell what the LB saw. The client's
# option already names the VIP, so the LB does not touch it.
ep_tc_lb() {
	local port=$1 d0=$2 d1=${3:-$2} par
	ip netns exec "$NS_LB" tc qdisc add dev eth0 clsact 2>/dev/null
	for par in 0 1; do
		local d=$d0
		[ $par = 1 ] && d=$d1
		ip netns exec "$NS_LB" tc filter add dev eth0 ingress protocol ip \
			pref "$port" u32 match ip dst "$VIP/32" match ip dport "$port" 0xffff \
			match ip sport $((par * 2)) 0x2 \
			action pedit ex munge ip dst set "$d" pipe action csum ip4h tcp || return 1
	done
}

# A black hole LB for VIP:$1: every packet to it is dropped (and counted).
ep_tc_drop() {
	local port=$1
	ip netns exec "$NS_LB" tc qdisc add dev eth0 clsact 2>/dev/null
	ip netns exec "$NS_LB" tc filter add dev eth0 ingress protocol ip \
		pref "$port" u32 match ip dst "$VIP/32" match ip dport "$port" 0xffff \
		action gact drop
}

ep_tc_del() {
	ip netns exec "$NS_LB" tc filter del dev eth0 ingress pref "$1"
}

# Packets the LB rules for VIP:$1 saw.
ep_tc_count() {
	ip netns exec "$NS_LB" tc -s -j filter show dev eth0 ingress pref "$1" |
		python3 -c '
import json, sys
n = 0
for f in json.load(sys.stdin):
    acts = f.get("options", {}).get("actions", [])
    if acts:
        n += acts[0].get("stats", {}).get("packets", 0)
print(n)'
}
