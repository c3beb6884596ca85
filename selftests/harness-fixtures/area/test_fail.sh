#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): one check fails.
source "$(dirname "$0")/../../lib.sh"
log_test 0 "fixture check that passes"
log_test 1 "fixture check that fails"
crab_exit
