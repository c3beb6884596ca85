#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
# crab-kernels: newest
#
# crabctl lb nf on bad input (docs/PROTOCOL.md 6): an error naming the bad
# value, a non-zero exit, and nothing applied (the verbs are those of every
# LB, userspace/crabctl/cmd_lb_verbs.cpp; test_lb_verbs checks their exit
# codes on the host). Also: services are per
# network namespace, also with overlapping addresses: a second topology with
# the very same addresses (its own LB namespace, the same VIP:port with
# another policy and other backends) gets its own decisions and counters,
# and neither LB's SYNs or counters move in the other.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/nf_lib.sh"

nf_setup
lbctl lb nf service add "$NF_SVC" --policy rr || crab_fail "service add"
lbctl lb nf backend add "$NF_SVC" "${IP_SRV[1]}" || crab_fail "backend add"
ref=$(lbctl -j lb nf show)

# expect_err "needle" crabctl-args...: fails, names the value, changes nothing
expect_err() {
	local needle=$1 out rc; shift
	out=$(lbctl "$@" 2>&1)
	rc=$?
	[ $rc -ne 0 ] && grep -qF -- "$needle" <<<"$out" &&
		[ "$(lbctl -j lb nf show)" = "$ref" ]
	log_test $? "crabctl $* -> error naming '$needle' (rc $rc)"
}

expect_err "198.18.100" lb nf service add 198.18.100:80
expect_err "99999" lb nf service add 198.18.100.2:99999
expect_err "bogus" lb nf service add 198.18.100.2:80 --policy bogus
expect_err "sometimes" lb nf service add 198.18.100.2:80 --legacy sometimes
expect_err "exists" lb nf service add "$NF_SVC"
expect_err "no such service" lb nf service del 198.18.100.9:80
expect_err "300" lb nf backend add "$NF_SVC" 198.18.0.99 --weight 300
expect_err "0" lb nf backend add "$NF_SVC" 198.18.0.99 --weight 0
expect_err "1.2.3.256" lb nf backend add "$NF_SVC" 1.2.3.256
expect_err "exists" lb nf backend add "$NF_SVC" "${IP_SRV[1]}"
expect_err "no such service" lb nf backend add 198.18.100.9:80 198.18.0.99
expect_err "no such backend" lb nf backend drain "$NF_SVC" 198.18.0.99
expect_err "half" lb nf backend set "$NF_SVC" "${IP_SRV[1]}" --state half
expect_err "224.0.0.1" lb nf backend add "$NF_SVC" 224.0.0.1

out=$(lbctl -j lb nf service add "$NF_SVC" 2>/dev/null)
[ $? -ne 0 ] && crab_jget /error <<<"$out" | grep -q exists
log_test $? "crabctl --json: errors as JSON"

# per namespace: the client namespace sees no service of the LB's
out=$(ip netns exec "$NS_CLI" "$CRABCTL" -j lb nf show)
[ "$(crab_jget /services <<<"$out")" = "[]" ] &&
	[ "$(crab_jget /services/0/vip /services/1 <<<"$ref" 2>/dev/null | tr '\n' ' ')" = "${VIP} - " ]
log_test $? "services are per network namespace"

# Overlapping addresses: topology B, the same addresses in namespaces of
# its own. Service A: rr over server 1 only (backend added above); service
# B: the same VIP:port, rr over servers 2 and 3 of B.
declare -A A=([lb]=$NS_LB [cli]=$NS_CLI [s1]=${NS_SRV[1]} [s2]=${NS_SRV[2]} [s3]=${NS_SRV[3]})
CRAB_SFX=$CRAB_SFX-b crab_topo_setup 3
declare -A B=([lb]=$NS_LB [cli]=$NS_CLI [s1]=${NS_SRV[1]} [s2]=${NS_SRV[2]} [s3]=${NS_SRV[3]})
lbctl lb nf service add "$NF_SVC" --policy rr &&
	lbctl lb nf backend add "$NF_SVC" "${IP_SRV[2]}" &&
	lbctl lb nf backend add "$NF_SVC" "${IP_SRV[3]}" || crab_fail "service of topology B"
# overlap_syns: capable SYNs from both clients (same addresses, same
# ports), captures on all six servers; prints "a1 a2 a3 b1 b2 b3".
overlap_syns() {
	local t i out=
	for t in A B; do
		for i in 1 2 3; do
			[ $t = A ] && ns=${A[s$i]} || ns=${B[s$i]}
			crab_capture_start "$ns" "$NF_DIR/$t$i.pcap" "tcp dst port $NF_PORT"
		done
	done
	for ns in "${A[cli]}" "${B[cli]}"; do
		ip netns exec "$ns" "$CRAB_NETTEST" send src="$IP_CLI" dst="$VIP" dport="$NF_PORT" \
			sport=30000 count=4 opt=mss:1460,crab
	done
	crab_capture_stop "$NF_DIR"/A?.pcap "$NF_DIR"/B?.pcap
	crab_pcap_summary --port "$NF_PORT" A1="$NF_DIR/A1.pcap" A2="$NF_DIR/A2.pcap" A3="$NF_DIR/A3.pcap" \
		B1="$NF_DIR/B1.pcap" B2="$NF_DIR/B2.pcap" B3="$NF_DIR/B3.pcap"
	for t in A1 A2 A3 B1 B2 B3; do out+="${CRAB_PCAP[$t.syn]} "; done
	echo "${out% }"
}
overlap_syns >"$NF_DIR/overlap"
got=$(cat "$NF_DIR/overlap")
red_a=$(NS_LB=${A[lb]} nf_counter syn_redirected)
red_b=$(NS_LB=${B[lb]} nf_counter syn_redirected)
crab_log "same addresses in two topologies, 4 SYNs each: A servers, B servers: $got; syn_redirected A $red_a, B $red_b"
[ "$got" = "4 0 0 0 2 2" ] && [ "$red_a" = 4 ] && [ "$red_b" = 4 ]
log_test $? "overlapping addresses: each namespace's LB decides by its own service (4/0/0 and 0/2/2), counts its own"
NS_LB=${A[lb]} NS_CLI=${A[cli]} NS_SRV=("" "${A[s1]}" "${A[s2]}" "${A[s3]}")

# non-root (no CAP_NET_ADMIN) cannot change anything (the SYNs above moved
# the counters: a fresh reference)
ref=$(lbctl -j lb nf show)
if command -v setpriv >/dev/null; then
	# A copy the unprivileged user can run wherever the tree is (a
	# checkout under a 0700 directory is not executable for it).
	ubin=$(mktemp -d)
	crab_defer "rm -rf $ubin"
	cp "$CRABCTL" "$ubin/crabctl" && chmod 755 "$ubin" "$ubin/crabctl" ||
		crab_fail "cannot copy crabctl for the unprivileged user"
	# Its own /run (tmpfs, world-writable): crabctl's lock file is then
	# its to create, and the request reaches the kernel, which must
	# refuse it (not crabctl, on the root-owned lock of the real /run).
	out=$(ip netns exec "$NS_LB" unshare -m sh -c 'mount -t tmpfs tmpfs /run &&
		exec setpriv --reuid=65534 --regid=65534 --clear-groups "$1" lb nf service add 198.18.100.7:80' \
		sh "$ubin/crabctl" 2>&1)
	rc=$?
	crab_log "unprivileged, the LB's namespace: rc $rc: $out"
	# refused by the kernel (an error from crabctl), not a failure to run it
	[ $rc -ne 0 ] && [ $rc -lt 126 ] && grep -qi "not permitted" <<<"$out" &&
		! grep -q "locking" <<<"$out" &&
		[ "$(lbctl -j lb nf show)" = "$ref" ]
	log_test $? "mutating commands need CAP_NET_ADMIN (GENL_UNS_ADMIN_PERM)"
	# The same user owns a network namespace of its own through a user
	# namespace (a container): that namespace's LB is its to configure,
	# and only that one.
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		unshare -Urnm sh -c 'mount -t tmpfs tmpfs /run && "$1" lb nf service add 198.18.100.7:80 &&
			"$1" -j lb nf show' sh "$ubin/crabctl" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && grep -q '198.18.100.7' <<<"$out" && [ "$(lbctl -j lb nf show)" = "$ref" ]
	log_test $? "in its own user and network namespace, an unprivileged user configures that LB only (rc $rc)"
fi

crab_exit
