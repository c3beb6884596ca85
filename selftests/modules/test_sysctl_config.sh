#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# net.crab.* sysctls of crab_client/crab_server: defaults (off, lists
# empty), CIDR lists validated and applied whole (a bad value, a second
# write() on the same open file or an over-long list is rejected whole, the
# old list stays), settings and counters are per network namespace,
# /proc/net/crab_* list every counter.
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
[ "$(inA cat /proc/sys/net/crab/client_enabled)" = 0 ] &&
	[ "$(inA cat /proc/sys/net/crab/server_enabled)" = 0 ] &&
	[ -z "$(inA cat /proc/sys/net/crab/client_announce_cidrs)" ] &&
	[ -z "$(inA cat /proc/sys/net/crab/client_allow_cidrs)" ] || rc=1
log_test $rc "defaults: client and server off, announce and allow lists empty (none)"

rc=0
inA sysctl -qw net.crab.client_announce_cidrs="198.18.0.0/24, 10.1.2.3,10.0.0.0/8" || rc=1
[ "$(inA cat /proc/sys/net/crab/client_announce_cidrs)" = "198.18.0.0/24,10.1.2.3/32,10.0.0.0/8" ] || rc=1
log_test $rc "CIDR list written and read back normalised"

# One list for both families: IPv6 entries as written, normalised
# (compressed, host bits cleared) and kept in order.
rc=0
inA sysctl -qw net.crab.client_announce_cidrs="198.18.0.0/24,FD00:C4AB:0:0:0:0:0:1/64, 2001:db8::5,::/0" || rc=1
got=$(inA cat /proc/sys/net/crab/client_announce_cidrs)
echo "# read back: $got"
[ "$got" = "198.18.0.0/24,fd00:c4ab::/64,2001:db8::5/128,::/0" ] || rc=1
for bad in "fd00::/129" "fd00:::1/64" "fd00::g/64" "198.18.0.0/24,fd00::1/" "1:2:3:4:5:6:7:8:9/64"; do
	if inA sh -c "printf '%s' '$bad' > /proc/sys/net/crab/client_announce_cidrs" 2>/dev/null; then
		echo "# accepted bad list '$bad'"; rc=1
	fi
done
[ "$(inA cat /proc/sys/net/crab/client_announce_cidrs)" = "$got" ] || rc=1
log_test $rc "IPv6 entries in the same list: read back normalised; bad ones refused, old list kept"

rc=0
inA sh -c "echo 10.0.0.0/8 > /proc/sys/net/crab/client_allow_cidrs" || rc=1
for bad in "198.18.0.0/33" "198.18.0.300/24" "1.2.3.4/x" "1.2.3.4,,5.6.7.8" "hello"; do
	if inA sh -c "printf '%s' '$bad' > /proc/sys/net/crab/client_allow_cidrs" 2>/dev/null; then
		echo "# accepted bad list '$bad'"; rc=1
	fi
done
[ "$(inA cat /proc/sys/net/crab/client_allow_cidrs)" = 10.0.0.0/8 ] || rc=1
log_test $rc "bad CIDR lists rejected, old list kept"

# A list is one write(): a second write() on the same open file (offset >
# 0) and a list longer than the buffer are refused, never appended to or
# truncated. 65 entries are one more than a list holds.
rc=0
inA python3 -c '
import os, sys
fd = os.open("/proc/sys/net/crab/client_allow_cidrs", os.O_WRONLY)
os.write(fd, b"198.18.0.0/24")
try:
    os.write(fd, b",10.0.0.0/8")
    sys.exit("second write accepted")
except OSError:
    pass
long = ",".join("10.%d.0.0/16" % i for i in range(65)).encode()
try:
    os.write(os.open("/proc/sys/net/crab/client_allow_cidrs", os.O_WRONLY), long)
    sys.exit("65 entries accepted")
except OSError:
    pass
huge = ("1" * 4000).encode()
try:
    os.write(os.open("/proc/sys/net/crab/client_allow_cidrs", os.O_WRONLY), huge)
    sys.exit("4000-byte write accepted")
except OSError:
    pass' || rc=1
[ "$(inA cat /proc/sys/net/crab/client_allow_cidrs)" = 198.18.0.0/24 ] || rc=1
log_test $rc "one write() per list: a second write, 65 entries, an over-long write refused"

# 64 IPv6 entries of the longest form fit a list (and read back whole).
rc=0
long6=
for i in $(seq 1000 1063); do
	long6+="${long6:+,}ffff:ffff:ffff:ffff:ffff:ffff:ffff:$i/128"
done
inA sh -c "printf '%s' '$long6' > /proc/sys/net/crab/client_allow_cidrs" || rc=1
[ "$(inA cat /proc/sys/net/crab/client_allow_cidrs)" = "$long6" ] || rc=1
log_test $rc "64 IPv6 entries of 43 characters fit a list"

rc=0
inA sh -c "echo > /proc/sys/net/crab/client_allow_cidrs" || rc=1
[ -z "$(inA cat /proc/sys/net/crab/client_allow_cidrs)" ] || rc=1
inA sysctl -qw net.crab.client_enabled=2 2>/dev/null && rc=1
log_test $rc "empty list accepted (none); enabled outside 0..1 rejected"

rc=0
inA sysctl -qw net.crab.client_enabled=1 net.crab.server_enabled=1 || rc=1
[ "$(inB cat /proc/sys/net/crab/client_enabled)" = 0 ] &&
	[ "$(inB cat /proc/sys/net/crab/server_enabled)" = 0 ] &&
	[ -z "$(inB cat /proc/sys/net/crab/client_announce_cidrs)" ] &&
	[ -z "$(inB cat /proc/sys/net/crab/client_allow_cidrs)" ] || rc=1
log_test $rc "settings are per network namespace"

rc=0
cs=$(inA cat /proc/net/crab_client)
ss=$(inA cat /proc/net/crab_server)
for n in syn_announced syn_signed redirected ct_attached ct_resyn rej_bad_ack \
	rej_not_allowed rej_not_announced rej_disabled rej_no_socket rej_not_synsent \
	rej_signed rej_src_zero rej_src_loopback rej_src_mcast rej_src_bcast rej_src_local \
	rej_src_martian rej_rpf rej_bad_csum rej_raced rej_tuple_taken rej_locked \
	opt_malformed table_evicted; do
	echo "$cs" | grep -q "^$n [0-9][0-9]*$" || { echo "# missing $n"; rc=1; }
done
for n in syn_opt_seen syn_signed stale_cleared synack_echoed synack_rtx_echoed \
	synack_signed synack_no_room opt_malformed table_full; do
	echo "$ss" | grep -q "^$n [0-9][0-9]*$" || { echo "# missing $n"; rc=1; }
done
log_test $rc "/proc/net/crab_client and crab_server list the counters"

crab_exit
