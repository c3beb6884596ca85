#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# net.crab.* sysctls of crab_client/crab_server: defaults, CIDR lists
# validated (a bad value is rejected whole, the old list stays), settings and
# counters are per network namespace, /proc/net/crab_* list every counter.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

crab_require_root
crab_check_tool ip sysctl
ep_load_module crab_server
ep_load_module crab_client

A=crab-epa-$CRAB_SFX B=crab-epb-$CRAB_SFX
crab_ns_add "$A"
crab_ns_add "$B"
inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }
rd() { cat "/proc/sys/net/crab/$1"; }

rc=0
[ "$(inA cat /proc/sys/net/crab/client_enabled)" = 1 ] &&
	[ "$(inA cat /proc/sys/net/crab/server_enabled)" = 1 ] &&
	[ "$(inA cat /proc/sys/net/crab/client_announce_cidrs)" = 0.0.0.0/0 ] &&
	[ "$(inA cat /proc/sys/net/crab/client_allow_cidrs)" = 0.0.0.0/0 ] || rc=1
log_test $rc "defaults: enabled=1, announce all, allow any"

rc=0
inA sysctl -qw net.crab.client_announce_cidrs="198.18.0.0/24, 10.1.2.3,10.0.0.0/8" || rc=1
[ "$(inA cat /proc/sys/net/crab/client_announce_cidrs)" = "198.18.0.0/24,10.1.2.3/32,10.0.0.0/8" ] || rc=1
log_test $rc "CIDR list written and read back normalised"

rc=0
for bad in "198.18.0.0/33" "198.18.0.300/24" "1.2.3.4/x" "1.2.3.4,,5.6.7.8" "hello"; do
	if inA sh -c "printf '%s' '$bad' > /proc/sys/net/crab/client_allow_cidrs" 2>/dev/null; then
		echo "# accepted bad list '$bad'"; rc=1
	fi
done
[ "$(inA cat /proc/sys/net/crab/client_allow_cidrs)" = 0.0.0.0/0 ] || rc=1
log_test $rc "bad CIDR lists rejected, old list kept"

rc=0
inA sh -c "echo > /proc/sys/net/crab/client_allow_cidrs" || rc=1
[ -z "$(inA cat /proc/sys/net/crab/client_allow_cidrs)" ] || rc=1
inA sysctl -qw net.crab.client_enabled=2 2>/dev/null && rc=1
log_test $rc "empty list accepted (none); enabled outside 0..1 rejected"

rc=0
inA sysctl -qw net.crab.client_enabled=0 net.crab.server_enabled=0 || rc=1
[ "$(inB cat /proc/sys/net/crab/client_enabled)" = 1 ] &&
	[ "$(inB cat /proc/sys/net/crab/server_enabled)" = 1 ] &&
	[ "$(inB cat /proc/sys/net/crab/client_announce_cidrs)" = 0.0.0.0/0 ] &&
	[ "$(inB cat /proc/sys/net/crab/client_allow_cidrs)" = 0.0.0.0/0 ] || rc=1
log_test $rc "settings are per network namespace"

rc=0
cs=$(inA cat /proc/net/crab_client)
ss=$(inA cat /proc/net/crab_server)
for n in syn_announced redirected rej_bad_ack rej_not_allowed rej_not_announced \
	rej_disabled rej_no_socket rej_not_synsent rej_locked opt_malformed table_evicted; do
	echo "$cs" | grep -q "^$n [0-9][0-9]*$" || { echo "# missing $n"; rc=1; }
done
for n in syn_opt_seen synack_echoed synack_no_room opt_malformed table_evicted; do
	echo "$ss" | grep -q "^$n [0-9][0-9]*$" || { echo "# missing $n"; rc=1; }
done
log_test $rc "/proc/net/crab_client and crab_server list the counters"

crab_exit
