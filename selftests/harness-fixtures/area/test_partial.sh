#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): one check made, one that cannot be made
# because something is missing (a skipped check; a failed one with
# CRAB_STRICT=1).
source "$(dirname "$0")/../../lib.sh"
log_test 0 "fixture check that passes"
crab_check_missing "fixture check of a missing part" "crab-fixture-part not built"
crab_exit
