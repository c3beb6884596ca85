#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the booted cloud image, from the read-only test disk
# (crab-image-test.service, installed by the test's part of the
# user-data). Writes the checks of checks.sh for this boot's phase
# (crab.phase= on the kernel command line) to the second serial port, the
# host's results channel, between markers:
#   CRAB-GUEST-BEGIN <phase>   ... TAP-like lines of checks.sh ...
#   CRAB-GUEST-END             CRAB-VM-RC=<status of checks.sh>
#   CRAB-DMESG-BEGIN           ... the kernel log ...   CRAB-DMESG-END
# then reboots or powers off (crab.then=reboot|poweroff); QEMU exits on either.
arg() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" /proc/cmdline; }
phase=$(arg crab.phase)
then_=$(arg crab.then)
exec >/dev/ttyS1 2>&1
echo "CRAB-GUEST-BEGIN $phase"
echo "# guest: $(uname -r), $(nproc) cpu, test starts $(cut -d' ' -f1 /proc/uptime) s after the kernel"
bash "$(dirname "$0")/checks.sh" "$phase"
rc=$?
echo "# guest: done $(cut -d' ' -f1 /proc/uptime) s after the kernel"
# Where the boot's time went (TCG makes every service slow).
systemctl is-system-running --wait >/dev/null 2>&1
systemd-analyze 2>&1 | head -n 2 | sed 's/^/# /'
systemd-analyze blame 2>&1 | head -n 25 | sed 's/^/# blame: /'
echo "CRAB-GUEST-END"
echo "CRAB-VM-RC=$rc"
echo "CRAB-DMESG-BEGIN"
dmesg
echo "CRAB-DMESG-END"
sync
case $then_ in
reboot) systemctl --no-block reboot ;;
*) systemctl --no-block poweroff ;;
esac
