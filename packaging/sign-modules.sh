#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Sign kernel modules for Secure Boot with the kernel's own sign-file.
#
#   sign-modules.sh KEY CERT [KVER] [MODULE.ko...]
#
# KEY    private key (PEM file, or a PKCS#11 URI that sign-file accepts)
# CERT   its X.509 certificate (PEM or DER), the one enrolled as a MOK
# KVER   kernel release the modules are for (default: uname -r); picks the
#        sign-file of that kernel's headers and its CONFIG_MODULE_SIG_HASH
# MODULE modules to sign (default: every .ko in build/kmod/KVER)
#
# A module that is already signed has its old signature removed first, so
# re-signing with another key leaves exactly one signature. Each module is
# checked afterwards (modinfo -F signer). packaging/README.md shows how to
# make a key and enrol it with mokutil.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "error: $*" >&2; exit 1; }
[ $# -ge 2 ] || { sed -n '3,15s/^# \{0,1\}//p' "$0" >&2; exit 2; }
key=$1 cert=$2 kver=${3:-$(uname -r)}
shift 2
[ $# -gt 0 ] && shift
case $key in pkcs11:*) ;; *) [ -r "$key" ] || die "cannot read key '$key'" ;; esac
[ -r "$cert" ] || die "cannot read certificate '$cert'"

# sign-file: from the kernel's build tree (linux-headers links its scripts
# to linux-kbuild), else linux-kbuild-MAJOR.MINOR directly.
kb=/lib/modules/$kver/build
sf=$kb/scripts/sign-file
if [ ! -x "$sf" ]; then
	mm=$(echo "$kver" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
	sf=/usr/lib/linux-kbuild-$mm/scripts/sign-file
fi
[ -x "$sf" ] || die "no sign-file for $kver (install linux-headers-$kver)"
hash=
for cfg in "$kb/.config" "/boot/config-$kver"; do
	[ -r "$cfg" ] || continue
	hash=$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"/\1/p' "$cfg")
	[ -n "$hash" ] && break
done
[ -n "$hash" ] || { hash=sha256; echo "note: no CONFIG_MODULE_SIG_HASH for $kver, using $hash" >&2; }

mods=("$@")
if [ ${#mods[@]} -eq 0 ]; then
	mapfile -t mods < <(find "$top/build/kmod/$kver" -name '*.ko' 2>/dev/null | sort)
	[ ${#mods[@]} -gt 0 ] || die "no modules in $top/build/kmod/$kver (make modules KVER=$kver)"
fi

# Drop an appended signature: [module][PKCS#7][12-byte module_signature
# whose last 4 bytes are the big-endian PKCS#7 length][magic string].
strip_sig() {
	python3 - "$1" <<'PY'
import struct, sys
magic = b"~Module signature appended~\n"
p = sys.argv[1]
d = open(p, "rb").read()
if d.endswith(magic):
    siglen = struct.unpack(">I", d[-len(magic) - 4:-len(magic)])[0]
    d = d[:len(d) - len(magic) - 12 - siglen]
    open(p, "wb").write(d)
PY
}

n=0
for m in "${mods[@]}"; do
	case $m in *.ko) ;; *) die "$m: not an uncompressed .ko (decompress it first)" ;; esac
	[ -w "$m" ] || die "cannot write $m"
	strip_sig "$m"
	"$sf" "$hash" "$key" "$cert" "$m" || die "sign-file failed on $m"
	signer=$(modinfo -F signer "$m" 2>/dev/null)
	[ -n "$signer" ] || die "$m: no signature after signing"
	echo "signed $m ($hash, signer '$signer')"
	n=$((n + 1))
done
echo "sign-modules: $n modules signed for $kver with $sf"
