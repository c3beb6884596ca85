#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): a dependency tool is missing: a SKIP
# naming it, a FAILURE with CRAB_STRICT=1.
source "$(dirname "$0")/../../lib.sh"
crab_check_tool crab-no-such-tool-anywhere
log_test 0 "never reached"
crab_exit
