#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck disable=SC2046 # np_hex_* byte lists are split on purpose
#
# NodePort redirection experiment: topology, kube-proxy-style rules, the
# front nft DNAT LB and the tc programs. Sourced by run.sh and by
# selftests/nodeport/*; needs selftests/lib.sh sourced first (namespaces,
# cleanup, log_test).
#
#   client 198.18.1.2 --- 198.18.1.1 LB 198.18.0.1 ---+--- br0 (NS_SW)
#       VIP 198.18.100.1:80 (nft DNAT)                |
#             node1 198.18.0.11 (no pod) -------------+
#             node2 198.18.0.12 -- pod2 10.244.2.2    |
#             node3 198.18.0.13 -- pod3 10.244.3.2 ---+
#
# The nodes' default route is the LB (the LB is a NAT LB: replies must come
# back through it). Pod CIDRs 10.244.N.0/24 are routed node to node.
# Service: NodePort 30080 -> pods :8080 (echo servers), ClusterIP
# 10.96.0.10:80 as in kube-proxy's service-ips map.

NP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NP_TOP=$(cd "$NP_DIR/../.." && pwd)
: "${NP_BUILD:=$NP_TOP/build/nodeport}"
NP_STATS=$NP_BUILD/crab-np-stats
NP_VIP=198.18.100.1
NP_VPORT=80
NP_NODEPORT=30080
NP_PODPORT=8080
NP_CLUSTERIP=10.96.0.10
NP_LB_IN=198.18.1.1
NP_CLI_IP=198.18.1.2
NP_LB_IP=198.18.0.1
NP_NODES=3
declare -a NP_NODE_IP NP_NODE_NS NP_POD_IP NP_POD_NS NP_NODE_MAC
for i in 1 2 3; do NP_NODE_IP[i]=198.18.0.$((10 + i)); done
NP_POD_IP[2]=10.244.2.2
NP_POD_IP[3]=10.244.3.2
NP_PIN=/sys/fs/bpf/crab/np
NP_GEN=""	# directory of the generated nft files

# Re-run the calling script in a private mount namespace with its own bpffs
# (pinned maps cannot leak between runs), as selftests/endpoints_ebpf do.
np_unshare() {
	if [ -z "${CRAB_NP_PRIVATE_MNT:-}" ]; then
		crab_check_tool unshare
		CRAB_NP_PRIVATE_MNT=1 exec unshare -m --propagation private bash "$0" "$@"
	fi
	mount -t bpf bpf /sys/fs/bpf || crab_skip "cannot mount a bpffs"
}

np_nsexec() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" "$@"; }

np_require() {
	crab_require_root
	crab_check_tool ip nft tc bpftool nsenter conntrack
	local f
	for f in crab_np_node.bpf.o crab_np_lb.bpf.o crab-np-stats; do
		crab_require_built "$NP_BUILD/$f" "$f (make nodeport)"
	done
}

np_mac() { ip -n "$1" -br link show dev "$2" | awk '{ print $3 }'; }

np_veth() {	# ns1 if1 ns2 if2
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" ||
		crab_fail "cannot create veth $1/$2 - $3/$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# The topology in a handful of processes (ip -batch per namespace, every
# sysctl in one crab-nettest call): the selftests build it in emulated
# guests, where each process start costs a third of a second. Node MACs are
# set, not looked up: 02:00:00:00:01:0N.
np_topo_setup() {
	local i j ns b sys=() all=()
	local -A cmds
	crab_need_nettest
	NS_SW=crab-npsw-$CRAB_SFX
	NS_CLI=crab-npcli-$CRAB_SFX
	NS_LB=crab-nplb-$CRAB_SFX
	all=("$NS_SW" "$NS_CLI" "$NS_LB")
	for i in $(seq 1 $NP_NODES); do
		NP_NODE_NS[i]=crab-npn$i-$CRAB_SFX
		NP_NODE_MAC[i]=02:00:00:00:01:0$i
		all+=("${NP_NODE_NS[i]}")
		if [ -n "${NP_POD_IP[i]:-}" ]; then
			NP_POD_NS[i]=crab-nppod$i-$CRAB_SFX
			all+=("${NP_POD_NS[i]}")
		fi
	done
	# Namespaces and veths (root namespace).
	b=
	for ns in "${all[@]}"; do b+="netns add $ns"$'\n'; done
	b+="link add eth0 netns $NS_CLI type veth peer name eth0 netns $NS_LB"$'\n'
	b+="link add eth1 netns $NS_LB type veth peer name lb-p netns $NS_SW"$'\n'
	for i in $(seq 1 $NP_NODES); do
		b+="link add eth0 netns ${NP_NODE_NS[i]} address ${NP_NODE_MAC[i]} type veth peer name n$i-p netns $NS_SW"$'\n'
		[ -n "${NP_POD_NS[i]:-}" ] &&
			b+="link add vpod netns ${NP_NODE_NS[i]} type veth peer name eth0 netns ${NP_POD_NS[i]}"$'\n'
	done
	ip -b - <<<"$b" || crab_fail "cannot create the NodePort topology's namespaces and veths"
	CRAB_NS_ALL+=("${all[@]}")
	crab_ns_anchor "${all[@]}"
	# Each namespace's links, addresses and routes.
	for ns in "${all[@]}"; do cmds[$ns]="link set lo up"$'\n'; done
	cmds[$NS_SW]+="link add br0 type bridge"$'\n'"link set br0 up"$'\n'"link set lb-p master br0 up"$'\n'
	cmds[$NS_CLI]+="link set eth0 up"$'\n'"addr add $NP_CLI_IP/24 dev eth0"$'\n'"route add default via $NP_LB_IN"$'\n'
	cmds[$NS_LB]+="link set eth0 up"$'\n'"addr add $NP_LB_IN/24 dev eth0"$'\n'
	cmds[$NS_LB]+="link set eth1 up"$'\n'"addr add $NP_LB_IP/24 dev eth1"$'\n'
	sys=("@$NS_LB" net.ipv4.ip_forward=1 net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0)
	for i in $(seq 1 $NP_NODES); do
		ns=${NP_NODE_NS[i]}
		cmds[$NS_SW]+="link set n$i-p master br0 up"$'\n'
		cmds[$ns]+="link set eth0 up"$'\n'"addr add ${NP_NODE_IP[i]}/24 dev eth0"$'\n'
		cmds[$ns]+="route add default via $NP_LB_IP"$'\n'
		sys+=("@$ns" net.ipv4.ip_forward=1 net.ipv4.conf.eth0.rp_filter=0)
		for j in $(seq 1 $NP_NODES); do
			[ "$i" = "$j" ] && continue
			[ -n "${NP_POD_IP[j]:-}" ] || continue
			cmds[$ns]+="route add 10.244.$j.0/24 via ${NP_NODE_IP[j]}"$'\n'
		done
		[ -n "${NP_POD_NS[i]:-}" ] || continue
		cmds[$ns]+="link set vpod up"$'\n'"addr add 10.244.$i.1/24 dev vpod"$'\n'
		sys+=(net.ipv4.conf.vpod.rp_filter=0)
		cmds[${NP_POD_NS[i]}]+="link set eth0 up"$'\n'"addr add ${NP_POD_IP[i]}/24 dev eth0"$'\n'
		cmds[${NP_POD_NS[i]}]+="route add default via 10.244.$i.1"$'\n'
	done
	for ns in "${all[@]}"; do
		ip -n "$ns" -b - <<<"${cmds[$ns]}" || crab_fail "cannot configure $ns"
		sys+=("@$ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0)
	done
	"$CRAB_NETTEST" sysctl "${sys[@]}" || crab_fail "cannot set the NodePort topology's sysctls"
	NP_GEN=$(mktemp -d /tmp/crab-np.XXXXXX)
	crab_defer "rm -rf $NP_GEN"
}

# Echo servers in the pods (crab-nettest server, selftests/README.md).
np_pods_start() {
	local i
	for i in $(seq 1 $NP_NODES); do
		[ -n "${NP_POD_NS[i]:-}" ] && crab_echo_server "${NP_POD_NS[i]}" $NP_PODPORT
	done
	return 0
}

# ---- kube-proxy nftables-mode rules, one file per node --------------------
#
# Mirrors kube-proxy >= 1.29 "--proxy-mode nftables" (table ip kube-proxy):
# service-ips / service-nodeports verdict maps, a service chain choosing an
# endpoint chain with numgen, endpoint chains doing the DNAT, masquerade of
# marked packets in postrouting. $1 node index, $2 Cluster|Local.
np_gen_node_rules() {
	local i=$1 policy=$2 j n=0 eps="" ext local_eps="" nl=0
	local svc=service-ULMVA6XW-default/echo/tcp/http
	local f=$NP_GEN/node$i-$policy.nft
	for j in $(seq 1 $NP_NODES); do
		[ -n "${NP_POD_IP[j]:-}" ] || continue
		eps+="${eps:+, }$n : goto endpoint-pod$j"
		n=$((n + 1))
		if [ "$j" = "$i" ]; then
			local_eps="$nl : goto endpoint-pod$j"
			nl=$((nl + 1))
		fi
	done
	if [ "$policy" = Local ]; then
		if [ $nl -gt 0 ]; then
			ext="goto external-local"
		else
			ext='drop comment "no local endpoints"'
		fi
	else
		ext="jump mark-for-masquerade
		goto $svc"
	fi
	{
	echo "# kube-proxy nftables mode, node$i, externalTrafficPolicy: $policy"
	echo "table ip kube-proxy {"
	cat <<EOR
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { $NP_CLUSTERIP . tcp . $NP_VPORT : goto $svc }
	}
	map service-nodeports {
		type inet_proto . inet_service : verdict
		elements = { tcp . $NP_NODEPORT : goto external-echo }
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}
	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump masquerading
	}
	chain filter-forward {
		type filter hook forward priority filter; policy accept;
		ct state invalid drop
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
		fib daddr type local ip protocol . th dport vmap @service-nodeports
	}
	chain mark-for-masquerade {
		mark set mark or 0x4000
	}
	chain masquerading {
		mark and 0x4000 == 0 return
		mark set mark xor 0x4000
		masquerade
	}
	chain external-echo {
		$ext
	}
	chain $svc {
		numgen random mod $n vmap { $eps }
	}
EOR
	[ $nl -gt 0 ] && cat <<EOR
	chain external-local {
		numgen random mod $nl vmap { $local_eps }
	}
EOR
	for j in $(seq 1 $NP_NODES); do
		[ -n "${NP_POD_IP[j]:-}" ] || continue
		cat <<EOR
	chain endpoint-pod$j {
		ip saddr ${NP_POD_IP[j]} jump mark-for-masquerade
		meta l4proto tcp dnat to ${NP_POD_IP[j]}:$NP_PODPORT
	}
EOR
	done
	echo "}"
	} >"$f"
	echo "$f"
}

# The front LB: nft DNAT of VIP:80 to node:NodePort, spread by numgen
# random (NP_LB_NUMGEN=inc: round-robin) over the nodes given as arguments
# (indexes).
np_gen_lb_rules() {
	local f n=0 i map=""
	f=$NP_GEN/lb-$(echo "$@" | tr ' ' '-').nft
	for i in "$@"; do
		map+="${map:+, }$n : goto to-node$i"
		n=$((n + 1))
	done
	{
	echo "table ip crab_lb {"
	echo "	chain prerouting {"
	echo "		type nat hook prerouting priority dstnat; policy accept;"
	echo "		ip daddr $NP_VIP tcp dport $NP_VPORT numgen ${NP_LB_NUMGEN:-random} mod $n vmap { $map }"
	echo "	}"
	for i in "$@"; do
		echo "	chain to-node$i {"
		echo "		meta l4proto tcp counter dnat to ${NP_NODE_IP[i]}:$NP_NODEPORT"
		echo "	}"
	done
	echo "}"
	} >"$f"
	echo "$f"
}

# Node1's meter: packets of the service it forwards, SYNs apart.
np_meter_rules() {
	cat <<EOR
table inet crab_meter {
	counter fwd_all { }
	counter fwd_syn { }
	counter fwd_other { }
	chain forward {
		type filter hook forward priority -10; policy accept;
		tcp dport $NP_PODPORT counter name fwd_all
		tcp sport $NP_PODPORT counter name fwd_all
		tcp flags & (syn) == syn tcp dport $NP_PODPORT counter name fwd_syn
		tcp flags & (syn) == syn tcp sport $NP_PODPORT counter name fwd_syn
		tcp flags & (syn) == 0 tcp dport $NP_PODPORT counter name fwd_other
		tcp flags & (syn) == 0 tcp sport $NP_PODPORT counter name fwd_other
	}
}
EOR
}

# np_apply MODE: cluster | redirect | local. Rules on every node and the
# LB; in redirect mode also the tc programs. NP_LB_NODES="1" restricts the
# LB to those nodes (not in local mode: there it is the nodes with a pod).
# Each namespace's rules are one nft transaction (the table deleted and
# written again), and conntrack is flushed by one process per namespace.
np_apply() {
	local mode=$1 i pol=Cluster lbnodes f
	[ "$mode" = local ] && pol=Local
	np_detach
	for i in $(seq 1 $NP_NODES); do
		f=$NP_GEN/apply-node$i.nft
		{
			echo "table ip kube-proxy"
			echo "delete table ip kube-proxy"
			cat "$(np_gen_node_rules "$i" $pol)"
			if [ "$i" = 1 ]; then
				echo "table inet crab_meter"
				echo "delete table inet crab_meter"
				np_meter_rules
			fi
		} >"$f"
		ip netns exec "${NP_NODE_NS[i]}" nft -f "$f" || crab_fail "nft rules on node$i ($pol)"
	done
	lbnodes=${NP_LB_NODES:-$(seq 1 $NP_NODES)}
	if [ "$mode" = local ]; then
		lbnodes=""
		for i in $(seq 1 $NP_NODES); do
			[ -n "${NP_POD_IP[i]:-}" ] && lbnodes+=" $i"
		done
	fi
	f=$NP_GEN/apply-lb.nft
	# shellcheck disable=SC2086
	{
		echo "table ip crab_lb"
		echo "delete table ip crab_lb"
		cat "$(np_gen_lb_rules $lbnodes)"
	} >"$f"
	ip netns exec "$NS_LB" nft -f "$f" || crab_fail "LB rules"
	for i in $(seq 1 $NP_NODES); do
		ip netns exec "${NP_NODE_NS[i]}" conntrack -F >/dev/null 2>&1
	done
	ip netns exec "$NS_LB" conntrack -F >/dev/null 2>&1
	[ "$mode" = redirect ] && np_attach
	return 0
}

# The np_hex_* helpers print byte lists that bpftool takes as separate
# words: their unquoted expansions below are meant to split.
np_hex_ip() { local IFS=.; set -- $1; printf '%02x %02x %02x %02x' "$1" "$2" "$3" "$4"; }
np_hex_port() { printf '%02x %02x' $(($1 >> 8)) $(($1 & 255)); }
np_hex_mac() { echo "$1" | tr ':' ' '; }

# np_load_cmds NAME OBJ SELF: the bpftool batch lines that load OBJ's
# programs and maps pinned under $NP_PIN/NAME and set its configuration
# (np_cfg: self, idle timeout 300 s host order, option kind 42, ExID).
np_load_cmds() {
	local d=$NP_PIN/$1
	echo "prog loadall $NP_BUILD/$2 $d/progs pinmaps $d/maps type tc"
	echo "map update pinned $d/maps/np_cfg key hex 00 00 00 00 value hex $(np_hex_ip "${3:-0.0.0.0}") 2c 01 00 00 2a 00 ab c4"
}

# np_tc NS DEV NAME: NAME's ingress and egress programs on DEV's clsact
# (one tc process; nsenter, since tc -n remounts /sys and so hides the
# bpffs the programs are pinned on).
np_tc() {
	local ns=$1 dev=$2 d=$NP_PIN/$3
	np_nsexec "$ns" tc -b - <<-EOT || crab_fail "tc programs of $3 on $dev"
	qdisc replace dev $dev clsact
	filter replace dev $dev ingress prio 1 handle 1 bpf da pinned $(ls -d "$d"/progs/*_ingress)
	filter replace dev $dev egress prio 1 handle 1 bpf da pinned $(ls -d "$d"/progs/*_egress)
	EOT
}

# np_bpftool_batch: bpftool batch of the lines on stdin. The last line
# lists the links: bpftool 7 fails a batch whose commands left errno other
# than ENOENT behind (libbpf's pinning leaves EEXIST), and a listing ends
# on ENOENT.
np_bpftool_batch() {
	{ cat; echo "link show"; } | bpftool batch file - >/dev/null
}

# np_load NS DEV OBJ NAME [SELF]: one program instance loaded, configured
# and attached.
np_load() {
	mkdir -p "$NP_PIN/$4/maps"
	np_load_cmds "$4" "$3" "${5:-}" | np_bpftool_batch ||
		crab_fail "bpftool cannot load $3 (verifier log above)"
	np_tc "$1" "$2" "$4"
}

# Every node's and the LB's programs: one bpftool batch for all loads and
# map entries, one tc batch per namespace.
np_attach() {
	local i j
	for i in $(seq 1 $NP_NODES); do mkdir -p "$NP_PIN/node$i/maps"; done
	mkdir -p "$NP_PIN/lb/maps"
	{
		for i in $(seq 1 $NP_NODES); do
			np_load_cmds node$i crab_np_node.bpf.o "${NP_NODE_IP[i]}"
			for j in $(seq 1 $NP_NODES); do
				[ "$i" = "$j" ] && continue
				echo "map update pinned $NP_PIN/node$i/maps/np_peers key hex $(np_hex_ip "${NP_NODE_IP[j]}") value hex $(np_hex_mac "${NP_NODE_MAC[j]}") 00 00"
			done
			[ -n "${NP_POD_IP[i]:-}" ] || continue
			echo "map update pinned $NP_PIN/node$i/maps/np_svc key hex $(np_hex_ip "${NP_POD_IP[i]}") $(np_hex_port $NP_PODPORT) 00 00 value hex $(np_hex_port $NP_NODEPORT)"
		done
		np_load_cmds lb crab_np_lb.bpf.o
		for i in $(seq 1 $NP_NODES); do
			echo "map update pinned $NP_PIN/lb/maps/np_peers key hex $(np_hex_ip "${NP_NODE_IP[i]}") value hex $(np_hex_mac "${NP_NODE_MAC[i]}") 00 00"
		done
	} | np_bpftool_batch || crab_fail "bpftool cannot load the NodePort programs (verifier log above)"
	for i in $(seq 1 $NP_NODES); do
		np_tc "${NP_NODE_NS[i]}" eth0 node$i
	done
	np_tc "$NS_LB" eth1 lb
	NP_ATTACHED=1
}

np_detach() {
	local i
	[ -n "${NP_ATTACHED:-}" ] || { rm -rf "$NP_PIN"; return 0; }
	for i in $(seq 1 $NP_NODES); do
		[ -n "${NP_NODE_NS[i]:-}" ] || continue
		np_nsexec "${NP_NODE_NS[i]}" tc qdisc del dev eth0 clsact 2>/dev/null
	done
	[ -n "${NS_LB:-}" ] && np_nsexec "$NS_LB" tc qdisc del dev eth1 clsact 2>/dev/null
	rm -rf "$NP_PIN"
	NP_ATTACHED=
	return 0
}

# Counters of one program instance as JSON: np_stats NAME
np_stats() { "$NP_STATS" --json "$NP_PIN/$1/maps"; }

# Node1's meter counter: np_meter fwd_all|fwd_syn|fwd_other (nft's text:
# "packets N bytes M"; no interpreter, tests run this in emulated guests).
np_meter() {
	local out
	out=$(ip netns exec "${NP_NODE_NS[1]}" nft list counter inet crab_meter "$1")
	[[ $out =~ packets\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

np_meter_reset() {
	ip netns exec "${NP_NODE_NS[1]}" nft reset counters table inet crab_meter >/dev/null
}

# Connections per node as the LB's DNAT chains counted them: "n1 n2 n3"
np_lb_spread() {
	local i out="" txt n
	for i in $(seq 1 $NP_NODES); do
		txt=$(ip netns exec "$NS_LB" nft list chain ip crab_lb to-node$i 2>/dev/null)
		n=0
		[[ $txt =~ counter\ packets\ ([0-9]+) ]] && n=${BASH_REMATCH[1]}
		out+="$n "
	done
	echo "$out"
}
