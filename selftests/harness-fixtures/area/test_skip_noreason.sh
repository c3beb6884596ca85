#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host vm
# Harness fixture (not a real test): exits 4 (skip) without saying why; the
# runner must fail it.
exit 4
