#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): passes.
source "$(dirname "$0")/../../lib.sh"
log_test 0 "fixture passes"
crab_exit
