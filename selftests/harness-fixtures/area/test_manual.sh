#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host-manual vm-manual
# Harness fixture (not a real test): manual, so not run by a '*' filter but
# printed and counted as manual; a filter naming it runs it.
source "$(dirname "$0")/../../lib.sh"
log_test 0 "fixture manual test ran"
crab_exit
