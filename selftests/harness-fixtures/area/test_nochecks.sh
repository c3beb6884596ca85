#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): crab_exit without any log_test line
# must fail (a test that checked nothing proved nothing).
source "$(dirname "$0")/../../lib.sh"
crab_log "doing nothing"
crab_exit
