# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers of the XDP LB selftests (sourced after ../lib.sh).
#
# Pinned maps live on bpffs. `ip netns exec` gives every command a fresh
# mount namespace (and so a fresh, empty /sys/fs/bpf), so the tests re-run
# themselves under `unshare -m` with their own bpffs and reach the LB's
# network namespace with `nsenter --net`, which keeps the mounts: pinned
# state cannot leak into the host or between tests.

# crabctl tries libxdp's multi-program dispatcher and attaches the LB
# directly when the kernel refuses it (libxdp 1.3's dispatcher on kernels
# that check changes_pkt_data of an extension, e.g. Debian's 6.12), with a
# warning on stderr; `lb xdp stats` reports which form it took.

xdp_private_bpffs() {
	if [ -z "$CRAB_XDP_UNSHARED" ]; then
		crab_check_tool unshare
		CRAB_XDP_UNSHARED=1 exec unshare -m bash "$0" "$@"
	fi
	mount --make-rprivate / 2>/dev/null
	mount -t bpf bpf /sys/fs/bpf || crab_skip "cannot mount bpffs"
}

# crabctl inside the LB namespace, sharing our mount namespace.
lbctl() {
	nsenter --net="/run/netns/$NS_LB" "$CRABCTL" "$@"
}

# Per-service counter of the XDP LB: xdp_counter NAME SERVICE
xdp_counter() {
	lbctl -j lb xdp stats --dev eth0 | crab_jget "/services/[service=$2]/counters/$1"
}

# XDP_TX on a veth hands the frame to the peer's NAPI queue, which exists
# only when the peer runs an XDP program (or GRO was requested on it);
# without it the frame is dropped. Give the bridge-side peer an XDP program
# that passes everything: our LB with no service configured.
xdp_peer_napi() {
	local idx peer
	idx=$(ip -n "$NS_LB" -o link show eth0 2>/dev/null | sed -n 's/.*eth0@if\([0-9]*\):.*/\1/p')
	peer=$(ip -n "$NS_SW" -o link show 2>/dev/null | awk -F': ' -v i="$idx" '$1 == i { sub(/@.*/, "", $2); print $2 }')
	[ -n "$peer" ] || return 1
	nsenter --net="/run/netns/$NS_SW" "$CRABCTL" lb xdp attach "$peer" --mode native 2>/dev/null || return 1
	crab_defer "nsenter --net=/run/netns/$NS_SW $CRABCTL lb xdp detach $peer"
}

# xdp_check_attach DEV STDERR_FILE: the attachment crabctl reports (stats
# JSON) is native, and names the form the kernel shows (`ip link`: the
# dispatcher or our program), and crabctl warned exactly when it could not
# use the dispatcher. Prints the reported attachment.
xdp_check_attach() {
	local dev=$1 err=$2 rep shown
	rep=$(lbctl -j lb xdp stats --dev "$dev" | crab_jget /attach/attached /attach/mode /attach/dispatcher |
		tr '\n' ' ')
	rep=${rep% }
	rep=${rep/true/True}
	rep=${rep/% true/ dispatcher}
	rep=${rep/% false/ direct}
	shown=$(ip -n "$NS_LB" -d link show "$dev" | sed -n 's/.*prog\/xdp id [0-9]* name \([a-z_]*\).*/\1/p' | head -n1)
	echo "$rep (ip link: $shown)"
	case "$rep" in
	"True native dispatcher") [ "$shown" = xdp_dispatcher ] && ! grep -q '^warning:' "$err" ;;
	"True native direct") [ "$shown" = crab_lb_xdp ] && grep -q 'coexistence with other XDP programs' "$err" ;;
	*) false ;;
	esac
}
