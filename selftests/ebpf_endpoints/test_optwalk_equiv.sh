#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# The eBPF endpoints walk options with crab_ep_optwalk.h (crab_opt_find() in
# bpf_loop form, which the verifier accepts); it must agree with the shared
# crab_opt_find() on every input: compiled natively, compared on fixed
# adversarial layouts and 200000 random option blocks, both encodings.

source "$(dirname "$0")/../lib.sh"

crab_check_tool cc
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
crab_defer "rm -rf $tmp"
cc -O2 -Wall -Wextra -Werror -I"$CRAB_TOP/include" -I"$CRAB_TOP/endpoints/ebpf" \
	"$dir/optwalk_equiv.c" -o "$tmp/optwalk_equiv"
log_test $? "the bpf_loop option walk builds natively with the shared header"
"$tmp/optwalk_equiv"
log_test $? "bpf_loop option walk == crab_opt_find() on all inputs"
crab_exit
