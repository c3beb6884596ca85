#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Harness fixture (not a real test): no tag line at all; the runner must
# refuse it (count it failed), not drop it.
source "$(dirname "$0")/../../lib.sh"
log_test 0 "never run"
crab_exit
