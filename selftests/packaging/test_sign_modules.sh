#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: host
#
# Module signing for Secure Boot, with a throwaway key made as
# packaging/README.md says (openssl):
#   1. packaging/sign-modules.sh signs the three built modules with the
#      kernel's sign-file: modinfo names the signer, the key (the
#      certificate's serial) and the kernel's hash; the appended PKCS#7
#      signature verifies against the certificate over the module's bytes,
#      and not after one byte of the module changed, nor with another key's
#      certificate; signing again with that other key leaves one signature.
#   2. DKMS signs what it builds with the key named in
#      /etc/dkms/framework.conf (mok_signing_key, mok_certificate): `dkms
#      build` of the packaged sources, with a private DKMS tree and /etc/dkms
#      (mount namespace; the host's DKMS state is not touched), gives
#      modules signed by that key.
# File operations only: runs on a kernel without module support.
source "$(dirname "$0")/../lib.sh"

crab_check_tool openssl modinfo python3 rsync make
DIR=$(mktemp -d)
crab_defer "rm -rf $DIR"

# A kernel with headers and sign-file: the one make built modules for
# (build/kmod), else the newest.
kver=
for b in $(ls -d "$CRAB_TOP"/build/kmod/* 2>/dev/null) $(ls -d /lib/modules/*/build 2>/dev/null | sort -rV); do
	case $b in */build) v=$(basename "$(dirname "$b")") ;; *) v=$(basename "$b") ;; esac
	b=/lib/modules/$v/build
	[ -e "$b/Makefile" ] && [ -x "$b/scripts/sign-file" ] && { kver=$v; break; }
done
[ -n "$kver" ] || crab_missing "no kernel headers with scripts/sign-file (make deps)"
crab_log "kernel $kver, sign-file $(readlink -f "/lib/modules/$kver/build/scripts/sign-file")"

# The modules: those of make (build/kmod/KVER) when there, else built now.
mods=$CRAB_TOP/build/kmod/$kver
if [ "$(find "$mods" -name '*.ko' 2>/dev/null | wc -l)" -lt 3 ]; then
	bash "$CRAB_TOP/tools/build-modules.sh" "/lib/modules/$kver/build" "$DIR/kmod" >/dev/null ||
		crab_fail "cannot build the modules for $kver"
	mods=$DIR/kmod
fi
mkdir "$DIR/m"
find "$mods" -name '*.ko' -exec cp {} "$DIR/m/" \;
[ "$(ls "$DIR"/m/*.ko | wc -l)" = 3 ] || crab_fail "expected 3 modules in $mods"

# Throwaway keys, the command of packaging/README.md.
mkkey() {
	openssl req -new -x509 -newkey rsa:2048 -sha256 -nodes -days 1 -subj "/CN=$2/" \
		-addext "extendedKeyUsage=codeSigning" \
		-keyout "$DIR/$1.key" -out "$DIR/$1.crt" 2>/dev/null || crab_fail "openssl cannot make key $1"
}
mkkey a "crab test key A"
mkkey b "crab test key B"
serial() { openssl x509 -in "$DIR/$1.crt" -noout -serial | sed 's/^serial=//'; }
hash=$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\(.*\)"/\1/p' "/lib/modules/$kver/build/.config" 2>/dev/null)
[ -n "$hash" ] || hash=sha256

# verify MODULE CERT: the appended PKCS#7 over the module's bytes checks out
# with CERT (signature only; the self-signed certificate is not a CA).
verify() {
	python3 - "$1" "$DIR/v" <<'PY' || return 1
import struct, sys
magic = b"~Module signature appended~\n"
d = open(sys.argv[1], "rb").read()
if not d.endswith(magic):
    sys.exit(1)
n = struct.unpack(">I", d[-len(magic) - 4:-len(magic)])[0]
end = len(d) - len(magic) - 12
open(sys.argv[2] + ".p7", "wb").write(d[end - n:end])
open(sys.argv[2] + ".body", "wb").write(d[:end - n])
PY
	openssl cms -verify -binary -inform DER -in "$DIR/v.p7" -content "$DIR/v.body" \
		-certfile "$2" -nointern -noverify -out /dev/null 2>/dev/null
}
nsigs() { grep -ac 'Module signature appended' "$1"; }

# ---- 1. sign-modules.sh --------------------------------------------------------
out=$(bash "$CRAB_TOP/packaging/sign-modules.sh" "$DIR/a.key" "$DIR/a.crt" "$kver" "$DIR"/m/*.ko 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
[ $rc = 0 ] || crab_fail "sign-modules.sh failed"
rc=0
sa=$(serial a)
for m in "$DIR"/m/*.ko; do
	s=$(modinfo -F signer "$m") k=$(modinfo -F sig_key "$m" | tr -d ':') h=$(modinfo -F sig_hashalgo "$m")
	crab_log "$(basename "$m"): signer '$s', sig_key $k, $h"
	[ "$s" = "crab test key A" ] && [ "${k^^}" = "${sa^^}" ] && [ "$h" = "$hash" ] || rc=1
done
log_test $rc "modinfo: the 3 modules signed by 'crab test key A' (serial $sa), $hash"

rc=0
for m in "$DIR"/m/*.ko; do verify "$m" "$DIR/a.crt" || { crab_log "$(basename "$m") does not verify"; rc=1; }; done
log_test $rc "each appended signature verifies against the certificate (openssl cms)"

m=$DIR/m/crab_client.ko
cp "$m" "$DIR/t.ko"
printf 'X' | dd of="$DIR/t.ko" bs=1 seek=4096 conv=notrunc 2>/dev/null
! verify "$DIR/t.ko" "$DIR/a.crt" && ! verify "$m" "$DIR/b.crt"
log_test $? "a changed module byte, or another key's certificate, fails verification"

bash "$CRAB_TOP/packaging/sign-modules.sh" "$DIR/b.key" "$DIR/b.crt" "$kver" "$m" >/dev/null 2>&1 &&
	[ "$(modinfo -F signer "$m")" = "crab test key B" ] && [ "$(nsigs "$m")" = 1 ] &&
	verify "$m" "$DIR/b.crt"
log_test $? "re-signing with key B replaces the signature (one signature, verifies with B)"

# ---- 2. DKMS signs with the key of /etc/dkms/framework.conf ------------------
command -v dkms >/dev/null || { crab_check_missing "DKMS signing" "dkms not installed (make deps)"; crab_exit; }
command -v unshare >/dev/null || { crab_check_missing "DKMS signing" "no unshare (make deps)"; crab_exit; }
ver=$(bash "$CRAB_TOP/packaging/version.sh")
mkdir -p "$DIR/dkms/src" "$DIR/dkms/tree" "$DIR/dkms/etc"
bash "$CRAB_TOP/packaging/mkdkms.sh" "$DIR/dkms/src/crab-$ver" >/dev/null || crab_fail "mkdkms.sh failed"
# The host's DKMS configuration plus the signing key, seen as /etc/dkms only
# by this dkms run (a private mount namespace): the host's /etc/dkms and
# /var/lib/dkms are not changed (private --dkmstree and --sourcetree).
[ -d /etc/dkms ] && cp -a /etc/dkms/. "$DIR/dkms/etc/"
{
	echo "mok_signing_key=\"$DIR/a.key\""
	echo "mok_certificate=\"$DIR/a.crt\""
} >>"$DIR/dkms/etc/framework.conf"
t0=$(date +%s)
if ! unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" /etc/dkms && shift &&
	exec dkms build -m crab -v "$@"' sh "$DIR/dkms/etc" "$ver" -k "$kver" \
	--dkmstree "$DIR/dkms/tree" --sourcetree "$DIR/dkms/src" >"$DIR/dkms.log" 2>&1; then
	sed 's/^/# /' "$DIR/dkms.log" | tail -n 30
	find "$DIR/dkms/tree" -name make.log -exec tail -n 20 {} \; | sed 's/^/# /'
	crab_fail "dkms build failed"
fi
crab_log "dkms build: $(($(date +%s) - t0)) s; $(grep -E '^(Sign command|Signing key|Public cert)' "$DIR/dkms.log" | tr '\n' ' ')"
rc=0 n=0
for f in $(find "$DIR/dkms/tree/crab/$ver/$kver" -path '*/module/*' -name 'crab_*.ko*'); do
	n=$((n + 1))
	s=$(modinfo -F signer "$f") k=$(modinfo -F sig_key "$f" | tr -d ':')
	crab_log "dkms $(basename "$f"): signer '$s', sig_key $k"
	[ "$s" = "crab test key A" ] && [ "${k^^}" = "${sa^^}" ] || rc=1
done
[ $n = 3 ] && [ $rc = 0 ]
log_test $? "dkms build with mok_signing_key/mok_certificate in framework.conf: $n modules signed by key A"

crab_exit
