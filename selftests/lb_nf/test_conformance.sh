#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# The shared LB conformance fixtures (selftests/conformance/fixtures.py,
# built by `make userspace` into build/conformance/fixtures.json) replayed
# through crab_lb_nf.ko with real frames, IPv4 and IPv6
# (crab-lb-nf-conformance, one process per option form): the standard
# topology given the fixtures' MACs (the LB port's, the client's, one
# permanent neighbour entry per backend address of either family) and
# their IPv6 addresses (client 2001:db8::2, the backends' 2001:db8::11..13
# on the servers' eth0, the LB's 2001:db8::1, all without DAD; IPv6
# forwarding on the LB), nft chains (table inet: both families) that log
# to NFLOG what reaches the LB's PRE_ROUTING hooks and what they let
# through; per case the services replaced, the input frames sent from the
# client's port, and the verdict, the bytes each backend received and the
# first service's counters compared. The RFC 6994 cases run with the
# module reloaded with opt_kind=254. Before them, the requests the module
# itself must refuse over generic netlink (--refusals).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

RUNNER=${CRAB_NF_CONFORMANCE:-$CRAB_TOP/build/userspace/lb/netfilter/crab-lb-nf-conformance}
FIXTURES=${CRAB_FIXTURES:-$CRAB_TOP/build/conformance/fixtures.json}
crab_require_built "$RUNNER" crab-lb-nf-conformance
crab_require_built "$FIXTURES" "the conformance fixtures (make userspace)"
[ "$FIXTURES" -nt "$CRAB_TOP/selftests/conformance/fixtures.py" ] ||
	crab_fail "$FIXTURES is older than selftests/conformance/fixtures.py: run make userspace"
crab_check_tool nft

nf_setup

# The fixtures' topology: MACs, IPv6 addresses, neighbour entries of the
# LB. A backend's IPv6 address lives on the server of its IPv4 one (one
# eth0, one MAC).
FX_CLI6=2001:db8::2 FX_LB6=2001:db8::1
topo() {
	"$CRAB_NETTEST" json --file "$FIXTURES" "$@"
}
read -r PORT_MAC CLI_MAC < <(topo /topology/port_mac /topology/client_mac | tr '\n' ' ')
b=
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	read -r ip mac ip6 mac6 < <(topo "/topology/neighbours/$((i - 1))/ip" "/topology/neighbours/$((i - 1))/mac" \
		"/topology/neighbours6/$((i - 1))/ip" "/topology/neighbours6/$((i - 1))/mac" | tr '\n' ' ')
	[ "$ip" = "${IP_SRV[i]}" ] || crab_fail "fixture neighbour $i is $ip, the topology's server ${IP_SRV[i]}"
	[ -n "$ip6" ] && [ "$mac6" = "$mac" ] ||
		crab_fail "fixture IPv6 neighbour $i: '$ip6' at '$mac6', not on server $i's MAC $mac"
	ip -n "${NS_SRV[i]}" -b - <<-EOF || crab_fail "cannot set the MAC and IPv6 address of server $i"
		link set eth0 address $mac
		addr add $ip6/64 dev eth0 nodad
	EOF
	b+="neigh replace $ip lladdr $mac dev eth0 nud permanent"$'\n'
	b+="neigh replace $ip6 lladdr $mac6 dev eth0 nud permanent"$'\n'
done
ip -n "$NS_LB" link set eth0 address "$PORT_MAC" && ip -n "$NS_CLI" link set eth0 address "$CLI_MAC" &&
	ip -n "$NS_CLI" addr add "$FX_CLI6/64" dev eth0 nodad &&
	ip -n "$NS_LB" addr add "$FX_LB6/64" dev eth0 nodad &&
	"$CRAB_NETTEST" sysctl "@$NS_LB" net.ipv6.conf.all.forwarding=1 &&
	ip -n "$NS_LB" -b - <<<"$b" || crab_fail "cannot give the topology the fixtures' MACs and IPv6 addresses"
# The switch learns the new MACs (of both families' addresses) from a
# frame of each backend (its ARP for the LB): until then it floods frames
# to them to every port, and the other backends' captures see a frame no
# case sent them.
for ((i = 1; i <= CRAB_NSERVERS; i++)); do
	ip netns exec "${NS_SRV[i]}" ping -c1 -W5 "$IP_LB" >/dev/null ||
		crab_fail "server $i does not reach the LB after its MAC change"
done
ip netns exec "$NS_LB" nft -f - <<'EOF' || crab_fail "cannot add the NFLOG chains (nf_tables, nft_log, nfnetlink_log)"
table inet crab_conformance {
	chain early {
		type filter hook prerouting priority -301; policy accept;
		log prefix "early" group 7
	}
	chain late {
		type filter hook prerouting priority -299; policy accept;
		log prefix "late" group 7
	}
}
EOF

# report FILE RC WHAT: the runner's TEST lines in FILE become checks, then
# one for its exit status RC.
report() {
	local line
	while IFS= read -r line; do
		if [[ $line =~ ^TEST:\ (.*[^ ])\ +\[\ OK\ \]$ ]]; then
			log_test 0 "${BASH_REMATCH[1]}"
		elif [[ $line =~ ^TEST:\ (.*[^ ])\ +\[FAIL\]$ ]]; then
			log_test 1 "${BASH_REMATCH[1]}"
		else
			echo "# $line"
		fi
	done <"$1"
	[ "$2" = 0 ]
	log_test $? "$3 (exit $2)"
}

# run_fixtures OPT_KIND: one runner process for the fixtures.
run_fixtures() {
	local kind=$1 rc
	"$RUNNER" "$FIXTURES" --opt-kind "$kind" --lb "$NS_LB" --client "$NS_CLI" \
		--backend "${NS_SRV[1]}" --backend "${NS_SRV[2]}" --backend "${NS_SRV[3]}" \
		>"$NF_DIR/run$kind" 2>&1
	rc=$?
	report "$NF_DIR/run$kind" "$rc" "nf conformance, option kind $kind: the runner passed every case"
}

# What only a client other than crabctl sends (crabctl checks first): the
# module refuses each bad VIP, VIP6, DIP, DIP6 and family mix, changing
# nothing.
"$RUNNER" --refusals --lb "$NS_LB" >"$NF_DIR/refusals" 2>&1
report "$NF_DIR/refusals" $? "nf genl: every bad request refused by the module"

t0=$SECONDS
run_fixtures 42
nf_reload opt_kind=254
run_fixtures 254
crab_log "fixtures replayed in $((SECONDS - t0)) s"

crab_exit
