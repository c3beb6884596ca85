# SPDX-License-Identifier: GPL-2.0-only
# Sourced by bench/xdp/run.sh and bench/xdp/cost.sh: the two namespaces
# and the veth pair they measure on.
#   xb_topo PREFIX   (after NBE, the backend count, and die() are defined)
# sets NS_GEN, NS_DUT, DEV_GEN, DEV_DUT (named PREFIX... and unique per
# process), creates them, removes them on exit (xb_cleanup), and sets MAC_GEN and
# MAC_DUT. GEN has 198.18.0.2/24, DUT 198.18.0.1/24 with forwarding on and
# the IPv4 backends 198.18.0.11.. as permanent neighbours on its veth:
# the next-hop mode's FIB lookup finds them there (XDP_TX). A FIB lookup
# needs forwarding on, as on any LB host.
xb_cleanup() {
	ip netns del "$NS_GEN" 2>/dev/null
	ip netns del "$NS_DUT" 2>/dev/null
}

xb_topo() {
	local p=$1 sfx=$$ n i
	NS_GEN=crab-${p}gen-$sfx
	NS_DUT=crab-${p}dut-$sfx
	DEV_GEN=${p}g$((sfx % 100000))
	DEV_DUT=${p}d$((sfx % 100000))
	trap xb_cleanup EXIT
	trap 'exit 1' TERM INT
	ip netns add "$NS_GEN" && ip netns add "$NS_DUT" || die "cannot create namespaces"
	ip link add "$DEV_GEN" netns "$NS_GEN" type veth peer name "$DEV_DUT" netns "$NS_DUT" ||
		die "cannot create the veth pair"
	ip -n "$NS_GEN" addr add 198.18.0.2/24 dev "$DEV_GEN"
	ip -n "$NS_DUT" addr add 198.18.0.1/24 dev "$DEV_DUT"
	for n in "$NS_GEN:$DEV_GEN" "$NS_DUT:$DEV_DUT"; do
		ip -n "${n%%:*}" link set lo up
		ip -n "${n%%:*}" link set "${n#*:}" up
	done
	MAC_GEN=$(ip -n "$NS_GEN" -br link show "$DEV_GEN" | awk '{print $3}')
	MAC_DUT=$(ip -n "$NS_DUT" -br link show "$DEV_DUT" | awk '{print $3}')
	ip netns exec "$NS_DUT" sysctl -qw net.ipv4.conf.all.forwarding=1 ||
		die "cannot enable forwarding in $NS_DUT"
	for ((i = 1; i <= NBE; i++)); do
		ip -n "$NS_DUT" neigh replace 198.18.0.$((10 + i)) lladdr "$(printf '02:00:00:00:00:%02x' $i)" \
			dev "$DEV_DUT" nud permanent || die "cannot add the neighbour of backend $i"
	done
}
