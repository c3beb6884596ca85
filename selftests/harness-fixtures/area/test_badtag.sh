#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vn
# Harness fixture (not a real test): a misspelled tag line; the runner must
# refuse it (count it failed), not drop it.
source "$(dirname "$0")/../../lib.sh"
log_test 0 "never run"
crab_exit
