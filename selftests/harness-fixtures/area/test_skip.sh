#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): a reason outside the project is a SKIP
# (with that reason), never a pass, with or without CRAB_STRICT.
source "$(dirname "$0")/../../lib.sh"
crab_skip_env "fixture: this kernel lacks the feature under test"
log_test 0 "never reached"
crab_exit
