#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# `crabctl lb IMPL service|backend ...`: one set of verbs for the three LBs
# (userspace/crabctl/cmd_lb_verbs.cpp). Every value is checked, with the
# rules of `crabctl apply -f`, before any LB is looked at: a bad VIP,
# backend address, MAC, weight or state exits 2 naming the value for xdp,
# nf and dpdk alike, although none of the three LBs exists here (no XDP
# device, no module on the host kernel, no DPDK process). Then, on an XDP
# LB attached in the standard topology: the verbs converge it (show), a
# duplicate exits 2, a missing service or backend exits 3, and a refused
# change leaves the LB as it was; traffic follows a drain and an activate.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lb_nf/nf_lib.sh"
source "$(dirname "$0")/../lb_xdp/xdp_lib.sh"
source "$(dirname "$0")/cc_lib.sh"

crab_require_root
crab_check_tool python3 tcpdump nsenter taskset unshare
crab_require_built "$CRABCTL" crabctl
xdp_private_bpffs "$@"

SVC=198.18.100.1:80
# expect_usage WHAT NEEDLE CRABCTL-ARGS...: exit 2 and NEEDLE in the message.
expect_usage() {
	local what=$1 needle=$2 err rc
	shift 2
	err=$("$CRABCTL" "$@" 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] && [[ $err == *"$needle"* ]] ||
		{ crab_log "  crabctl $*: exit $rc: $err"; return 1; }
}

# 1. Values refused before any LB is touched, the same for every LB.
for impl in xdp nf dpdk; do
	case $impl in
	xdp) pre=(lb xdp) post=(--dev crab-no-such-dev) ;;
	nf) pre=(lb nf) post=() ;;
	dpdk) pre=(lb dpdk --prefix crab-no-such-lb) post=() ;;
	esac
	ok=0
	expect_usage "$impl" "0.0.0.0" "${pre[@]}" backend add "$SVC" 0.0.0.0 "${post[@]}" || ok=1
	expect_usage "$impl" "224.0.0.1" "${pre[@]}" backend add "$SVC" 224.0.0.1 "${post[@]}" || ok=1
	expect_usage "$impl" "127.0.0.2" "${pre[@]}" service add 127.0.0.2:80 "${post[@]}" || ok=1
	expect_usage "$impl" "255.255.255.255" "${pre[@]}" service del 255.255.255.255:80 "${post[@]}" || ok=1
	expect_usage "$impl" "01:00:5e:00:00:01" "${pre[@]}" backend add "$SVC" 198.18.0.11 \
		--mac 01:00:5e:00:00:01 "${post[@]}" || ok=1
	expect_usage "$impl" "00:00:00:00:00:00" "${pre[@]}" backend set "$SVC" 198.18.0.11 \
		--mac 00:00:00:00:00:00 "${post[@]}" || ok=1
	expect_usage "$impl" "half" "${pre[@]}" backend set "$SVC" 198.18.0.11 --state half "${post[@]}" || ok=1
	expect_usage "$impl" "weight" "${pre[@]}" backend add "$SVC" 198.18.0.11 --weight 0 "${post[@]}" || ok=1
	expect_usage "$impl" "nothing to change" "${pre[@]}" backend set "$SVC" 198.18.0.11 "${post[@]}" || ok=1
	expect_usage "$impl" "policy" "${pre[@]}" service add "$SVC" --policy lc "${post[@]}" || ok=1
	expect_usage "$impl" "198.18.100.300" "${pre[@]}" backend drain 198.18.100.300:80 198.18.0.11 \
		"${post[@]}" || ok=1
	# Valid values: now the missing LB is what fails, not with a usage error.
	"$CRABCTL" "${pre[@]}" backend add "$SVC" 198.18.0.11 "${post[@]}" >/dev/null 2>&1
	rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 2 ] || { crab_log "  valid values, no $impl LB: exit $rc"; ok=1; }
	log_test $ok "lb $impl: bad VIP, backend, MAC, state, weight, policy exit 2 naming the value, before the LB is looked at"

	# IPv6: a service is one family; IPv6 host rules; the [IPV6]:PORT form.
	SVC6="[2001:db8:100::1]:80"
	ok=0
	expect_usage "$impl" "198.18.0.11 is an IPv4 address but the service [2001:db8:100::1]:80 is IPv6" \
		"${pre[@]}" backend add "$SVC6" 198.18.0.11 "${post[@]}" || ok=1
	expect_usage "$impl" "2001:db8::11 is an IPv6 address but the service $SVC is IPv4" \
		"${pre[@]}" backend drain "$SVC" 2001:db8::11 "${post[@]}" || ok=1
	expect_usage "$impl" "link-local" "${pre[@]}" backend add "$SVC6" fe80::11 "${post[@]}" || ok=1
	expect_usage "$impl" "IPv4-mapped" "${pre[@]}" service add "[::ffff:198.18.100.1]:80" "${post[@]}" || ok=1
	expect_usage "$impl" "multicast" "${pre[@]}" service add "[ff05::1]:80" "${post[@]}" || ok=1
	expect_usage "$impl" "[IPV6]:PORT" "${pre[@]}" service add "2001:db8:100::1:80" "${post[@]}" || ok=1
	log_test $ok "lb $impl: IPv6 values: mixed families, link-local, v4-mapped, multicast, bare IPv6:PORT exit 2"
done

# 2. The verbs on a real XDP LB.
cc_xdp_setup
SVC=$VIP:$NF_PORT
x() { lbctl lb xdp "$@" --dev eth0; }
be_line() { lbctl -j lb xdp show --dev eth0 | python3 -c '
import json, sys
j = json.load(sys.stdin)
out = []
for s in (j if isinstance(j, list) else j.get("services", [])):
    for b in s.get("backends", []):
        out.append("%s:%s:%s" % (b.get("dip"), b.get("weight"), b.get("state")))
print(" ".join(sorted(out)))'; }

x service add "$SVC" --policy rr &&
	x backend add "$SVC" "${IP_SRV[1]}" &&
	x backend add "$SVC" "${IP_SRV[2]}" --weight 3 &&
	x backend add "$SVC" "${IP_SRV[3]}"
log_test $? "service add + 3 backend adds"
want="${IP_SRV[1]}:1:active ${IP_SRV[2]}:3:active ${IP_SRV[3]}:1:active"
got=$(be_line)
[ "$got" = "$want" ] || crab_log "  show: $got"
log_test $([ "$got" = "$want" ]; echo $?) "show lists the backends as added"

before=$(be_line)
ok=0
x service add "$SVC" >/dev/null 2>&1; [ $? = 2 ] || ok=1
x backend add "$SVC" "${IP_SRV[1]}" >/dev/null 2>&1; [ $? = 2 ] || ok=1
x backend del "$SVC" 198.18.0.99 >/dev/null 2>&1; [ $? = 3 ] || ok=1
x service set 198.18.100.9:80 --policy wrr >/dev/null 2>&1; [ $? = 3 ] || ok=1
[ "$(be_line)" = "$before" ] || ok=1
log_test $ok "duplicate service/backend exit 2, unknown backend/service exit 3, LB unchanged"

x backend drain "$SVC" "${IP_SRV[1]}" && x backend set "$SVC" "${IP_SRV[2]}" --weight 1
got=$(cc_syns 6 20000)
[ "$got" = "0 3 3" ] || crab_log "  SYNs per server after drain: $got"
log_test $([ "$got" = "0 3 3" ]; echo $?) "drain: new SYNs skip the drained backend ($got)"
x backend activate "$SVC" "${IP_SRV[1]}"
got=$(cc_syns 6 21000)
[ "$got" = "2 2 2" ] || crab_log "  SYNs per server after activate: $got"
log_test $([ "$got" = "2 2 2" ]; echo $?) "activate: the backend takes SYNs again ($got)"

x backend del "$SVC" "${IP_SRV[3]}" && x service set "$SVC" --legacy hash &&
	[ "$(be_line)" = "${IP_SRV[1]}:1:active ${IP_SRV[2]}:1:active" ] &&
	x service del "$SVC" && [ "$(be_line)" = "" ]
log_test $? "backend del, service set, service del"

crab_exit
