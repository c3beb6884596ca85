#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# CRAB baked into a Debian 12 cloud image, booted and configured as a cloud
# does it:
#   - make deb, then tools/cloud-image/bake.sh (cached by the hash of its
#     inputs: only a change of the packages, the scripts or Debian's kernels
#     bakes again);
#   - a NoCloud seed (ISO, label cidata) whose user-data is
#     packaging/cloud-init/user-data.yaml plus the test's own part, which
#     installs a unit that runs selftests/packaging/cloud-image/guest.sh
#     from a second, read-only disk (ISO, label crab-test) after each boot;
#   - three boots of a qcow2 overlay over the image (the cached image never
#     changes), with the image's own kernels and initrds under QEMU
#     (tools/cloud-image/boot.sh; TCG unless KVM works):
#       first    the image's cloud kernel: cloud-init configures and applies
#       reboot   the same kernel again: systemd alone brings CRAB up
#       upgrade  the kernel installed after CRAB at bake time (DKMS built
#                the modules for it from the kernel's hooks), then apt-get
#                remove of both packages;
#     each runs checks.sh (a redirect end to end through the LB its unit
#     started, counters read with the installed crabctl) and reports on
#     the second serial port between markers.
# Every guest check becomes a check here; a boot that reports nothing, a
# guest status other than 0 or a kernel log with BUG/WARNING/Oops fails.
# CRAB_CLOUDIMG_BOOT_TIMEOUT (default 900 s) bounds each boot.
source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_check_tool qemu-system-x86_64 qemu-img genisoimage mmdebstrap mkfs.ext4 dpkg-buildpackage
W=$(mktemp -d "${TMPDIR:-/var/tmp}/crab-cloudimg.XXXXXX")
crab_defer "rm -rf $W"
t_start=$(date +%s)

# ---- packages and image -------------------------------------------------------------
# The packages: make check builds them before the host suite; built again
# (about half a minute) when missing or older than what they are made of
# (the files make deb stages, crabctl, the BPF objects).
debs_stale() {
	local d=("$CRAB_TOP"/build/deb/crab-dkms_*_all.deb) c=("$CRAB_TOP"/build/deb/crabctl_*_amd64.deb)
	[ -f "${d[0]}" ] && [ -f "${c[0]}" ] || return 0
	[ -n "$(cd "$CRAB_TOP" && {
		git ls-files -z -c -o --exclude-standard | grep -zv '^build/'
		printf '%s\0' build/userspace/userspace/crabctl/crabctl build/bpf/*.o
	} | xargs -0 -r sh -c 'for f; do [ "$f" -nt "$0" ] && echo "$f" && exit; done' "${d[0]}" 2>/dev/null |
		head -n1)" ]
}
if debs_stale; then
	make -s -C "$CRAB_TOP" deb >"$W/deb.log" 2>&1 || { tail -n 20 "$W/deb.log"; crab_fail "make deb failed"; }
	crab_log "make deb: built the packages again"
fi
t0=$(date +%s)
img=$(nice -n 10 bash "$CRAB_TOP/tools/cloud-image/bake.sh" 2>"$W/bake.log" | tail -n1)
t_bake=$(($(date +%s) - t0))
if [ -z "$img" ] || [ ! -f "$img/ok" ]; then
	tail -n 40 "$W/bake.log" | sed 's/^/# bake: /'
	crab_fail "tools/cloud-image/bake.sh failed"
fi
grep '^bake: \(up to date\|baked\)' "$W/bake.log" | sed 's/^/# /'
mapfile -t kernels <"$img/kernels"
[ ${#kernels[@]} = 2 ] || crab_fail "$img/kernels does not list the cloud kernel and its upgrade"
crab_log "image $img (${t_bake}s): kernels ${kernels[*]}"
# At bake time DKMS built the modules for the image's kernel when
# crab-dkms was installed, then for the second kernel from that kernel's
# own hooks (/etc/kernel/*.d/dkms) when it was installed after.
sed 's/^/# dkms: /' "$img/dkms"
rc=0
for k in "${kernels[@]}"; do
	grep -q "^crab/[^,]*, $k, x86_64: installed" "$img/dkms" || rc=1
done
grep -q "^dkms: autoinstall for kernel: ${kernels[1]}" "$img/upgrade.log" || rc=1
log_test $rc "bake: DKMS installed crab for ${kernels[0]}, then for ${kernels[1]} from its kernel hooks"

# ---- the seed and the test disk -----------------------------------------------------
# crab-nettest is linked statically: the copy runs on the image as it is,
# where lib.sh looks for it under the test disk's top.
crab_need_nettest
nt=${CRAB_NETTEST#"$CRAB_TOP"/}
mkdir -p "$W/seed" "$W/tests/selftests/packaging/cloud-image" "$W/tests/$(dirname "$nt")"
cp "$CRAB_TOP/selftests/lib.sh" "$W/tests/selftests/"
cp "$CRAB_NETTEST" "$W/tests/$nt"
cp "$CRAB_TOP"/selftests/packaging/cloud-image/*.sh "$W/tests/selftests/packaging/cloud-image/"
printf 'instance-id: crab-%s\nlocal-hostname: crab-image\n' "$CRAB_SFX" >"$W/seed/meta-data"
{
	echo 'Content-Type: multipart/mixed; boundary="==crab=="'
	echo 'MIME-Version: 1.0'
	echo
	echo '--==crab=='
	echo 'Content-Type: text/cloud-config; charset="us-ascii"'
	echo
	cat "$CRAB_TOP/packaging/cloud-init/user-data.yaml"
	echo '--==crab=='
	echo 'Content-Type: text/x-shellscript; charset="us-ascii"'
	echo
	cat <<'EOS'
#!/bin/sh
# The test's part, not CRAB's configuration: after this and every later
# boot, run the checks of the test disk (label crab-test).
cat >/etc/systemd/system/crab-image-test.service <<'EOF'
[Unit]
Description=CRAB cloud image test (checks of the test disk)
After=multi-user.target cloud-final.service

[Service]
Type=simple
ExecStart=/bin/sh -c 'mkdir -p /run/crab-test && mount -o ro LABEL=crab-test /run/crab-test && exec /bin/bash /run/crab-test/selftests/packaging/cloud-image/guest.sh'

[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable crab-image-test.service
systemctl start --no-block crab-image-test.service
EOS
	echo '--==crab==--'
} >"$W/seed/user-data"
genisoimage -quiet -output "$W/seed.iso" -volid cidata -joliet -rock "$W/seed" ||
	crab_fail "cannot make the NoCloud seed"
genisoimage -quiet -output "$W/tests.iso" -volid crab-test -rock "$W/tests" ||
	crab_fail "cannot make the test disk"
qemu-img create -q -f qcow2 -F raw -b "$img/disk.raw" "$W/disk.qcow2" ||
	crab_fail "cannot make a qcow2 overlay over $img/disk.raw"

# ---- the boots ----------------------------------------------------------------------
bad='(BUG:|Oops|WARNING:|KASAN|general protection|Kernel panic|UBSAN:|kernel BUG|refcount_t:|list_add corruption|list_del corruption)'
boot_times=
# boot PHASE KERNEL THEN
boot() {
	local phase=$1 k=$2 then_=$3 t0 dur qrc rc res con
	res=$W/results-$phase.log con=$W/console-$phase.log
	t0=$(date +%s)
	nice -n 10 bash "$CRAB_TOP/tools/cloud-image/boot.sh" --image "$img" --disk "$W/disk.qcow2" \
		--kernel "$k" --drive "$W/seed.iso" --drive "$W/tests.iso" \
		--append "crab.phase=$phase crab.then=$then_" --console "$con" \
		--timeout "${CRAB_CLOUDIMG_BOOT_TIMEOUT:-900}" >"$res" 2>"$W/boot-$phase.err"
	qrc=$?
	dur=$(($(date +%s) - t0))
	sed 's/^/# /' "$W/boot-$phase.err"
	# The guest's checks, each one a check of this test.
	sed -n '/^CRAB-GUEST-BEGIN/,/^CRAB-GUEST-END/{/^CRAB-GUEST-/d;p}' "$res" |
		grep -v '^TEST: ' | sed 's/^/# /'
	while IFS= read -r line; do
		local desc=${line#TEST: } st=1
		desc=${desc%[*}
		desc=${desc%"${desc##*[![:space:]]}"}
		case $line in
		*'[ OK ]') st=0 ;;
		*'[SKIP]') st=$ksft_skip ;;
		esac
		log_test $st "$desc"
	done < <(sed -n '/^CRAB-GUEST-BEGIN/,/^CRAB-GUEST-END/p' "$res" | grep '^TEST: ')
	rc=$(sed -n 's/^CRAB-VM-RC=\([0-9]*\).*/\1/p' "$res" | tail -n1)
	local started
	started=$(sed -n 's/^# guest: .*test starts \([0-9.]*\) s after.*/\1/p' "$res")
	if [ -z "$rc" ]; then
		crab_log "boot $phase: no status from the guest; last console lines:"
		tail -n 40 "$con" | sed 's/^/#   /'
	fi
	boot_times+="$phase ${dur}s (checks began ${started:-?}s after the kernel); "
	[ "$qrc" = 0 ] && [ "$rc" = 0 ]
	log_test $? "boot $phase ($k): guest status ${rc:-none}, QEMU exit $qrc, ${dur}s"
	sed -n '/^CRAB-DMESG-BEGIN/,/^CRAB-DMESG-END/p' "$res" >"$W/dmesg-$phase.txt"
	if grep -aEh "$bad" "$con" "$W/dmesg-$phase.txt" | sort -u >"$W/bad-$phase.txt" &&
	   [ -s "$W/bad-$phase.txt" ]; then
		sed 's/^/#   /' "$W/bad-$phase.txt" | head -n 20
		log_test 1 "boot $phase: kernel log has errors"
	else
		[ -s "$W/dmesg-$phase.txt" ]
		log_test $? "boot $phase: kernel log clean (no BUG, WARNING, Oops)"
	fi
	[ "$qrc" = 0 ] && [ -n "$rc" ]
}

# CRAB_CLOUDIMG_PHASES picks the boots (default "first upgrade", the
# reboot being the one into the upgraded kernel; "first reboot upgrade"
# boots the first kernel twice).
read -r -a phases <<<"${CRAB_CLOUDIMG_PHASES:-first upgrade}"
for i in "${!phases[@]}"; do
	p=${phases[i]} k=${kernels[0]} then_=reboot
	[ "$p" = upgrade ] && k=${kernels[1]}
	[ $((i + 1)) = ${#phases[@]} ] && then_=poweroff
	case $p in first | reboot | upgrade) ;; *) crab_fail "unknown phase '$p'" ;; esac
	boot "$p" "$k" "$then_" || break
done
crab_log "bake ${t_bake}s; boots: $boot_times total $(($(date +%s) - t_start))s"
crab_exit
