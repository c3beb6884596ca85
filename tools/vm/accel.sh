# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the QEMU launchers (tools/vm/run-vm.sh, tools/cloud-image/boot.sh):
# KVM where it runs a guest, TCG emulation otherwise.
#
#   crab_vm_accel KERNEL   sets CRAB_ACCEL (kvm|tcg) and CRAB_ACCEL_ARGS
#
# CRAB_VM_ACCEL=kvm|tcg|auto (default auto). auto uses KVM when /dev/kvm
# opens and a bounded probe boot (KERNEL up to its root mount, 20 s at most)
# finishes under it: /dev/kvm may exist and still not run a guest (nested
# virtualisation that hangs in early boot, as on some cloud VMs). The answer
# is kept per host boot in ~/.cache/crab/kvm-probe, so it costs one probe.

crab_kvm_works() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	local f=${XDG_CACHE_HOME:-$HOME/.cache}/crab/kvm-probe id ans t
	id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)
	if [ -n "$id" ] && [ "$(cut -d' ' -f1 "$f" 2>/dev/null)" = "$id" ]; then
		ans=$(cut -d' ' -f2 "$f")
	else
		t=$(mktemp)
		timeout -k 2 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -display none \
			-monitor none -nic none -no-reboot -serial "file:$t" -kernel "$1" \
			-append "console=ttyS0 panic=-1 root=/dev/crab-kvm-probe" </dev/null >/dev/null 2>&1
		if [ $? = 0 ] && grep -aq -e 'Kernel panic' -e 'VFS:' "$t"; then ans=yes; else ans=no; fi
		rm -f "$t"
		mkdir -p "$(dirname "$f")" && echo "$id $ans" >"$f"
		echo "vm: KVM probe: $ans" >&2
	fi
	[ "$ans" = yes ]
}

crab_vm_accel() {
	case ${CRAB_VM_ACCEL:-auto} in
	kvm) CRAB_ACCEL=kvm ;;
	tcg) CRAB_ACCEL=tcg ;;
	auto) if crab_kvm_works "$1"; then CRAB_ACCEL=kvm; else CRAB_ACCEL=tcg; fi ;;
	*) echo "vm: CRAB_VM_ACCEL must be kvm, tcg or auto, not '$CRAB_VM_ACCEL'" >&2; return 2 ;;
	esac
	if [ "$CRAB_ACCEL" = kvm ]; then
		CRAB_ACCEL_ARGS=(-accel kvm -cpu host)
	else
		CRAB_ACCEL_ARGS=(-accel tcg -cpu max)
	fi
}
