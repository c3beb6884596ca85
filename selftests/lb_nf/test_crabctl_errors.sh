#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# crabctl lb nf on bad input (docs/PROTOCOL.md 6): an error naming the bad value, a
# non-zero exit, and nothing applied. Also: services are per namespace.
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
expect_err "no such service or backend" lb nf backend drain "$NF_SVC" 198.18.0.99
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

# non-root (no CAP_NET_ADMIN) cannot change anything
if command -v setpriv >/dev/null; then
	ip netns exec "$NS_LB" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$CRABCTL" lb nf service add 198.18.100.7:80 >/dev/null 2>&1
	rc=$?
	[ $rc -ne 0 ] && [ "$(lbctl -j lb nf show)" = "$ref" ]
	log_test $? "mutating commands need CAP_NET_ADMIN (GENL_ADMIN_PERM)"
fi

crab_exit
