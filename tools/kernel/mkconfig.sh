#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Configure the CRAB test kernel: Debian's own 6.12 configuration (what a
# distribution enables for TCP, netfilter, IPsec, VRF, ...), with hardware
# drivers trimmed, then the settings of kernel-patches/config/crab-vm.config
# on top.
#
#   mkconfig.sh SRC OBJ BASE FRAGMENT
#
# SRC is the kernel source, OBJ the object tree (its .config is written),
# BASE Debian's config (/boot/config-6.12.*-amd64), FRAGMENT the settings
# applied last (CONFIG_X=y|m|"string", "# CONFIG_X is not set").
#
# Trimmed, to keep a cold build on two cores within reach: every option
# built as a module (=m) that is defined under
#  - drivers/ and sound/ (hardware the QEMU guest does not have), except the
#    virtual network devices (drivers/net/Kconfig and its team, ipvlan and
#    vxlan directories) and virtio;
#  - arch/x86/kvm/ (the hypervisor);
#  - fs/, except 9p, netfs, fuse and overlayfs (file systems: the guest's
#    root is the host's over 9p);
#  - the link layers that only exist with their hardware (802.11, Bluetooth,
#    NFC, CAN, 802.15.4, ATM, amateur radio, AppleTalk, Phonet, X.25/LAPB,
#    CAIF, Qualcomm IPC router, B.A.T.M.A.N.).
# Everything else - IPv4, IPv6, TCP (TCP-MD5 included), netfilter, nftables,
# conntrack, NAT, IPsec (xfrm, ESP, AH), VRF, the bridge, tc, crypto,
# security - stays as Debian has it. What a test needs at boot or without a
# module loader is built in by the fragment.
set -euo pipefail
src=$1 obj=$2 base=$3 frag=$4
die() { echo "mkconfig: error: $*" >&2; exit 1; }
[ -f "$base" ] || die "no base config '$base'"
[ -f "$frag" ] || die "no fragment '$frag'"
mkdir -p "$obj"

# Symbol -> Kconfig file that defines it (first definition wins).
map=$(mktemp)
trap 'rm -f "$map"' EXIT
(cd "$src" && find . -name 'Kconfig*' -not -path './Documentation/*' \
	-not -path './tools/*' \
	-not \( -path './arch/*' -not -path './arch/x86/*' \) -print0 |
	xargs -0 grep -HE '^[[:space:]]*(menu)?config [A-Z0-9_]+' |
	sed -E 's/^\.\/([^:]*):[[:space:]]*(menu)?config ([A-Z0-9_]+).*/\3 \1/') >"$map"

keep='^(drivers/net/Kconfig|drivers/net/(team|ipvlan|vxlan)/|drivers/virtio/'
keep+='|fs/Kconfig|fs/(9p|netfs|fuse|overlayfs)/)'
trim='^(drivers/|sound/|arch/x86/kvm/|fs/|net/(wireless|mac80211|bluetooth|nfc'
trim+='|can|ieee802154|mac802154|6lowpan|atm|ax25|netrom|rose|appletalk|phonet'
trim+='|lapb|x25|caif|qrtr|batman-adv)/)'
awk -v keep="$keep" -v trim="$trim" '
	NR == FNR { if (!($1 in where)) where[$1] = $2; next }
	/^CONFIG_[A-Z0-9_]+=m$/ {
		sym = substr($0, 8, length($0) - 9)
		f = where[sym]
		if (f ~ trim && f !~ keep) {
			print "# CONFIG_" sym " is not set"
			next
		}
	}
	{ print }' "$map" "$base" >"$obj/.config"

# The fragment, last: replace or append each setting it names.
awk '
	NR == FNR {
		if ($0 ~ /^CONFIG_[A-Z0-9_]+=/) { s = $0; sub(/=.*/, "", s) }
		else if ($0 ~ /^# CONFIG_[A-Z0-9_]+ is not set$/) { s = $2 }
		else next
		want[s] = $0; order[++n] = s; next
	}
	{
		s = ""
		if ($0 ~ /^CONFIG_[A-Z0-9_]+=/) { s = $0; sub(/=.*/, "", s) }
		else if ($0 ~ /^# CONFIG_[A-Z0-9_]+ is not set$/) s = $2
		if (s in want) { print want[s]; done[s] = 1; next }
		print
	}
	END { for (i = 1; i <= n; i++) if (!(order[i] in done)) print want[order[i]] }
' "$frag" "$obj/.config" >"$obj/.config.new"
mv "$obj/.config.new" "$obj/.config"
