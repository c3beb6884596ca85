#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): something the build should have made
# is missing: a SKIP naming it, a FAILURE with CRAB_STRICT=1.
source "$(dirname "$0")/../../lib.sh"
crab_require_built /nonexistent/crab-fixture-tool crab-fixture-tool
log_test 0 "never reached"
crab_exit
