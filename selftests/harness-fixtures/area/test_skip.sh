#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): a missing tool is a SKIP, not a pass.
source "$(dirname "$0")/../../lib.sh"
crab_check_tool crab-no-such-tool-anywhere
log_test 0 "never reached"
crab_exit
