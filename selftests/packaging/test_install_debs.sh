#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# crab-test: vm
#
# Its cost is DKMS compiling the three modules inside the TCG guest: in a
# Debian 6.12 guest with one CPU `dpkg -i` took 401 s of the test's 427 s
# (host load 6-8), hence the area's timeout.
#
# The Debian packages installed the way a user installs them, on the booted
# Debian kernel: `dpkg -i crab-dkms_*.deb crabctl_*.deb` (DKMS builds the
# modules for the running kernel from the installed sources), the endpoints
# loaded at "boot" by systemd-modules-load from the shipped modules-load.d
# snippets, a sysctl.d snippet applied by systemd-sysctl, the netfilter LB
# started by the commands of the shipped crab-lb-nf.service (modprobe, then
# crabctl apply of /etc/crab/lb-nf.toml), and 30 connections redirected end
# to end through it by the installed crabctl and DKMS-built modules.
#
# The guest's root is the host's, shared read-only. The test gives it a
# writable root as a cloud image has: an overlayfs (tmpfs upper over the
# read-only root) in a private mount namespace, and runs everything from
# dpkg on chrooted into it; the host's root never changes, and the whole
# overlay is gone when the test ends. There is no systemd PID 1 in the
# guest, so the units' commands are run as systemd would run them.
#
# The packages come from `make deb` (make check builds them before the VM
# suites); without them the test is skipped.
source "$(dirname "$0")/../lib.sh"

crab_require_root
crab_has_modules || crab_skip "kernel without loadable module support"
kver=$(uname -r)
debs=("$CRAB_TOP"/build/deb/crab-dkms_*_all.deb "$CRAB_TOP"/build/deb/crabctl_*_amd64.deb)
[ -e "${debs[0]}" ] && [ -e "${debs[1]}" ] ||
	crab_skip "packages not built in $CRAB_TOP/build/deb (run 'make deb')"
[ -e "/lib/modules/$kver/build/Makefile" ] || crab_skip "no headers for $kver (DKMS needs them)"
crab_check_tool unshare chroot dpkg dkms modprobe

# ---- phase 1: a writable root (overlay over the read-only root), chroot ----
if [ -z "${CRAB_PKG_CHROOT:-}" ]; then
	if [ -z "${CRAB_PKG_UNSHARED:-}" ]; then
		CRAB_PKG_UNSHARED=1 exec unshare -m bash "$0" "$@"
	fi
	mount --make-rprivate /
	modprobe overlay 2>/dev/null
	grep -qw overlay /proc/filesystems || crab_skip "no overlayfs in $kver"
	R=$(mktemp -d /tmp/crab-pkg.XXXXXX)
	mount -t tmpfs -o mode=0755 tmpfs "$R" || crab_fail "cannot mount tmpfs on $R"
	mkdir "$R/upper" "$R/work" "$R/root"
	mount -t overlay overlay -o "lowerdir=/,upperdir=$R/upper,workdir=$R/work" "$R/root" ||
		crab_skip "cannot mount an overlayfs over the read-only root"
	for d in proc sys dev; do
		mount --rbind "/$d" "$R/root/$d" || crab_fail "cannot bind /$d into the new root"
	done
	for d in run tmp var/tmp root; do
		mount -t tmpfs tmpfs "$R/root/$d" || crab_fail "cannot mount tmpfs on /$d"
	done
	# The repository (read-write, results and packages) at its own path.
	mount --rbind "$CRAB_TOP" "$R/root$CRAB_TOP" || crab_fail "cannot bind $CRAB_TOP"
	# A cloud image has one kernel: the booted one. The host's /boot lists
	# its other kernels too, and crab-dkms's postinst (common.postinst)
	# would then also build for the newest of them; hide them in the
	# overlay so that DKMS builds once, for the running kernel.
	for c in "$R/root"/boot/config-*; do
		[ "$c" = "$R/root/boot/config-$kver" ] || rm -f "$c"
	done
	crab_log "writable root: overlay (tmpfs upper) over / at $R/root; /boot: $(cd "$R/root/boot" && echo config-*)"
	CRAB_PKG_CHROOT=1 exec chroot "$R/root" /bin/bash "$CRAB_TOP/selftests/packaging/$(basename "$0")" "$@"
fi

# ---- phase 2: inside the writable root ---------------------------------------
mkdir -p /run/netns
crab_check_tool ip tcpdump
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp -d)
crab_defer "rm -rf $LOG"
# The endpoints must come from the package, not from an earlier test.
for m in crab_lb_nf crab_client crab_server; do
	grep -q "^$m " /proc/modules && { rmmod "$m" || crab_fail "cannot unload an earlier $m"; }
done

t0=$(date +%s)
# dpkg's output as it comes: DKMS compiling under TCG takes minutes.
dpkg -i "${debs[@]}" 2>&1 | tee "$LOG/dpkg.log" | sed -u 's/^/# dpkg: /'
if [ "${PIPESTATUS[0]}" != 0 ]; then
	find /var/lib/dkms/crab -name make.log -exec tail -n 20 {} \; 2>/dev/null | sed 's/^/# /'
	crab_fail "dpkg -i ${debs[*]##*/} failed"
fi
t1=$(date +%s)
crab_log "dpkg -i: $((t1 - t0)) s; $(grep -c . "$LOG/dpkg.log") lines of output"
ver=$(dpkg-query -W -f '${Version}' crab-dkms)
st=$(dkms status -m crab -v "$ver" -k "$kver" 2>&1)
crab_log "dkms status: $st"
echo "$st" | grep -q "^crab/$ver, $kver, [^:]*: installed"
log_test $? "dpkg -i: crab-dkms $ver built and installed by DKMS for $kver"

rc=0
for m in crab_client crab_server crab_lb_nf; do
	f=$(modinfo -n -k "$kver" "$m" 2>/dev/null)
	crab_log "$m: $f"
	case $f in /lib/modules/"$kver"/updates/dkms/"$m".ko*) ;; *) rc=1 ;; esac
done
log_test $rc "modprobe resolves the three modules to DKMS's /lib/modules/$kver/updates/dkms"

rc=0
for f in /usr/sbin/crabctl /usr/share/man/man8/crabctl.8.gz \
	/usr/share/bash-completion/completions/crabctl /lib/systemd/system/crab-lb-nf.service \
	/lib/systemd/system/crab-lb-xdp@.service /usr/share/crab/modules-load.d/crab-client.conf; do
	[ -e "$f" ] || { crab_log "missing $f"; rc=1; }
done
/usr/sbin/crabctl --version | grep -q "^crabctl $ver" || rc=1
log_test $rc "crabctl $ver installed with man page, completion, units and snippets"

# Boot-time loading: the snippets enabled as the README says, then what
# systemd-modules-load.service runs at boot.
ln -s /usr/share/crab/modules-load.d/crab-client.conf /etc/modules-load.d/ &&
	ln -s /usr/share/crab/modules-load.d/crab-server.conf /etc/modules-load.d/ ||
	crab_fail "cannot enable the modules-load.d snippets"
crab_defer "modprobe -r crab_lb_nf crab_client crab_server"
/lib/systemd/systemd-modules-load 2>&1 | sed 's/^/# /'
grep -q '^crab_client ' /proc/modules && grep -q '^crab_server ' /proc/modules
log_test $? "systemd-modules-load loaded crab_client and crab_server from the snippets"

crab_topo_setup 3
CRABCTL=/usr/sbin/crabctl
PORT=80
SVC=$VIP:$PORT
lbctl() { ip netns exec "$NS_LB" "$CRABCTL" "$@"; }

# sysctl.d: the shipped client snippet, edited to announce only to the VIP's
# /24, applied by systemd-sysctl in the client's namespace (net.crab.* are
# per namespace; at boot it sets the host's).
sed 's|^-net.crab.client_announce_cidrs = .*|-net.crab.client_announce_cidrs = 198.18.100.0/24|' \
	/usr/share/crab/sysctl.d/90-crab-client.conf >/etc/sysctl.d/90-crab-client.conf
ip netns exec "$NS_CLI" /lib/systemd/systemd-sysctl /etc/sysctl.d/90-crab-client.conf
a=$(ip netns exec "$NS_CLI" cat /proc/sys/net/crab/client_announce_cidrs)
[ "$a" = 198.18.100.0/24 ] && [ "$(ip netns exec "$NS_CLI" cat /proc/sys/net/crab/client_enabled)" = 1 ]
log_test $? "systemd-sysctl applied the sysctl.d snippet (announce $a)"

# The LB: /etc/crab/lb-nf.toml, then crab-lb-nf.service's ExecStartPre and
# ExecStart lines, as systemd runs them, in the LB's namespace.
mkdir -p /etc/crab
{
	echo "[[service]]"
	echo "vip = \"$VIP\""
	echo "port = $PORT"
	echo 'policy = "rr"'
	echo 'legacy = "drop"'
	for i in 1 2 3; do
		printf '\n  [[service.backend]]\n  addr = "%s"\n' "${IP_SRV[i]}"
	done
} >/etc/crab/lb-nf.toml
unit=/lib/systemd/system/crab-lb-nf.service
rc=0
while IFS= read -r cmd; do
	crab_log "crab-lb-nf.service: $cmd"
	ip netns exec "$NS_LB" sh -c "$cmd" >>"$LOG/unit.log" 2>&1 || { rc=1; break; }
done < <(sed -n 's/^ExecStartPre=//p; s/^ExecStart=//p' "$unit")
sed 's/^/# /' "$LOG/unit.log"
[ $rc = 0 ] && grep -q '^crab_lb_nf ' /proc/modules &&
	[ "$(lbctl apply -f /etc/crab/lb-nf.toml --lb nf)" = "no changes" ]
log_test $? "crab-lb-nf.service commands: crab_lb_nf loaded, lb-nf.toml applied (re-apply: no changes)"

crab_echo_servers $PORT
N=30
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" "$CRAB_NETTEST" client --addr "$VIP" --port $PORT \
	--count $N --timeout 10 --deadline 240)
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_log "client: ${out:0:300}"
crab_conns_ok "$out" $N
log_test $? "$N connections via the VIP succeed, data echoed"
peers=$(crab_peers "$out")
crab_peers_within "$out" 10 "$retr" "${IP_SRV[1]}" "${IP_SRV[2]}" "${IP_SRV[3]}"
log_test $? "peers are the DIPs, 10/10/10 (rr) within $retr SYN retransmissions: $peers"
red=$(lbctl -j lb nf stats | crab_jget "/services/$SVC/syn_redirected")
r=$(crab_proc_counter "$NS_CLI" crab_client redirected)
crab_log "LB syn_redirected=$red, client redirected=$r, SYN retransmissions $retr"
[ "$red" = $((N + retr)) ] && [ "$r" = $N ]
log_test $? "LB saw one SYN per connection ($red), the client re-keyed $r sockets"

crab_exit
