#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# The option kind is a load-time parameter (opt_kind) of both modules; a
# kind IANA assigned to something else cannot be chosen: EOL, NOP, MSS,
# window scale, SACK, timestamps, TCP-MD5, TCP-AO, MPTCP, Fast Open and
# the rest of the registry (0-34, 69, 70, 76-78, 172, 174), 253 (the RFC
# 6994 kind this project implements on 254 only) and values that are no
# kind at all. Each is a load error naming the kind; 42 (the default),
# 254 (RFC 6994 form) and an unassigned kind (100) load.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/ep_lib.sh"

crab_require_root
crab_has_modules || crab_skip "kernel without loadable module support"
for m in crab_client crab_server; do
	ko=$(find "$CRAB_MODDIR" -name "$m.ko" 2>/dev/null | head -n1)
	[ -n "$ko" ] || crab_missing "module $m.ko not built in $CRAB_MODDIR"
	printf -v "KO_$m" '%s' "$ko"
	grep -q "^$m " /proc/modules && { rmmod $m || crab_fail "cannot unload $m"; }
done
crab_defer "rmmod crab_client; rmmod crab_server"

# Every kind on crab_client; crab_server shares the check, a few there.
kinds_crab_client="0 1 2 3 4 5 8 19 29 30 34 69 172 253 255 256"
kinds_crab_server="2 19 29 253"
# A line of our own in the kernel log marks where this test's messages
# start (a line count would shift once the ring buffer is full and wraps).
mark="crab-test: test_opt_kind_refused $$ $RANDOM"
echo "$mark" >/dev/kmsg || crab_fail "cannot write to /dev/kmsg"
for m in crab_client crab_server; do
	ko=KO_$m kinds=kinds_$m
	loaded=
	for k in ${!kinds}; do
		insmod "${!ko}" opt_kind=$k 2>/dev/null && { loaded+=" $k"; rmmod $m; }
	done
	log=$(dmesg | sed -n "/$mark/,\$p")
	missing=
	for k in ${!kinds}; do
		grep -q "$m: opt_kind=$k refused: kind $k is " <<<"$log" || missing+=" $k"
	done
	grep "$m: opt_kind=19 refused" <<<"$log" | tail -n1 | sed 's/^/# /'
	crab_log "$m: loaded with:${loaded:- none}; no message for:${missing:- none}"
	[ -z "$loaded" ] && [ -z "$missing" ]
	log_test $? "$m: assigned kinds refused at load, each with a message naming it"
	rc=0
	for k in 42 254 100; do
		insmod "${!ko}" opt_kind=$k || { crab_log "$m opt_kind=$k did not load"; rc=1; continue; }
		rmmod $m
	done
	log_test $rc "$m: opt_kind 42, 254 and unassigned 100 load"
done

crab_exit
