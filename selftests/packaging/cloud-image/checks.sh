#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The checks inside the booted cloud image (guest.sh runs them; the host
# side is selftests/packaging/test_cloud_image.sh). One phase per boot:
#
#   first    the first boot: cloud-init configured CRAB from the NoCloud
#            seed (packaging/cloud-init/user-data.yaml) and applied it
#   reboot   the next boot: systemd alone brought it up from the files
#   upgrade  the same after booting the kernel installed after CRAB (DKMS
#            built the modules for it then); last, apt-get remove of
#            crab-dkms and crabctl unloads the modules and removes it all
#
# Every phase checks, on this kernel: the DKMS-built modules in place and
# loaded, the endpoint settings of systemd-sysctl, crab-lb-nf.service active
# with its file applied, no failed unit, and a redirect end to end. The VM's
# own network namespace is the load balancer (where systemd configured
# it); client and backends are namespaces of the standard topology on one
# bridge, and the sysctl.d files cloud-init wrote are applied in them (the
# net.crab.* settings are per namespace; at boot they set the VM's own).
source "$(dirname "$0")/../../lib.sh"

phase=${1:?phase}
CRABCTL=/usr/sbin/crabctl
kver=$(uname -r)
SVC=$VIP:80
N=30
export DEBIAN_FRONTEND=noninteractive

# ---- what every boot has ---------------------------------------------------------
r=$(cat /run/cloud-init/result.json 2>/dev/null)
crab_log "cloud-init result: $(echo "$r" | tr -d '\n ' | cut -c1-200)"
echo "$r" | tr -d '\n ' | grep -q '"errors":\[\]' && echo "$r" | grep -q 'DataSourceNoCloud'
log_test $? "$phase: cloud-init found the NoCloud seed and finished without errors"

ver=$(dpkg-query -W -f '${Version}' crab-dkms 2>/dev/null)
rc=0
for m in crab_client crab_server crab_lb_nf; do
	f=$(modinfo -n "$m" 2>/dev/null)
	v=$(modinfo -F vermagic "$m" 2>/dev/null | cut -d' ' -f1)
	crab_log "$m: ${f:-not found} (vermagic ${v:-none})"
	case $f in /lib/modules/"$kver"/updates/dkms/"$m".ko*) ;; *) rc=1 ;; esac
	[ "$v" = "$kver" ] || rc=1
done
log_test $rc "$phase: crab-dkms $ver's modules for $kver in updates/dkms (DKMS built them)"

rc=0
for m in crab_client crab_server crab_lb_nf; do
	grep -q "^$m " /proc/modules || { crab_log "$m is not loaded"; rc=1; }
done
log_test $rc "$phase: crab_client and crab_server (modules-load.d) and crab_lb_nf (its unit) are loaded"

if [ "$phase" != first ]; then
	# This boot's modules came from systemd-modules-load, not from the
	# first boot's cloud-init (which does not run runcmd again).
	j=$(journalctl -b -o cat -t systemd-modules-load 2>&1)
	crab_log "systemd-modules-load: $(echo "$j" | grep -i crab | tr '\n' ' ')"
	boot_t=$(($(date +%s) - $(cut -d. -f1 /proc/uptime)))
	sem=$(stat -c %Y /var/lib/cloud/instance/sem/config_runcmd 2>/dev/null || echo 0)
	echo "$j" | grep -q "Inserted module 'crab_client'" &&
		echo "$j" | grep -q "Inserted module 'crab_server'" && [ "$sem" -gt 0 ] &&
		[ "$sem" -lt "$boot_t" ]
	log_test $? "$phase: systemd-modules-load loaded the endpoints at boot; cloud-init's runcmd ran on the first boot only"
fi

s=$($CRABCTL client show 2>&1; $CRABCTL server show 2>&1)
crab_log "settings: $(echo "$s" | tr '\n' ';')"
echo "$s" | grep -qx 'client (crab_client): enabled' &&
	echo "$s" | grep -qx '  announce to: 198.18.100.0/24' &&
	echo "$s" | grep -qx '  accept redirects from: 198.18.0.0/24' &&
	echo "$s" | grep -qx 'server (crab_server): enabled' &&
	[ "$(sysctl -n net.ipv4.ip_forward)" = 1 ]
log_test $? "$phase: systemd-sysctl applied the sysctl.d files (crabctl client/server show, ip_forward)"

a=$(systemctl is-enabled crab-lb-nf.service 2>&1)/$(systemctl is-active crab-lb-nf.service 2>&1)
# --dry-run: a check must not do the unit's work.
out=$($CRABCTL apply --dry-run -f /etc/crab/lb-nf.toml --lb nf 2>&1)
crab_log "crab-lb-nf.service: $a; crabctl apply --dry-run: $out"
[ "$a" = enabled/active ] && [ "$out" = "no changes" ] &&
	[ "$($CRABCTL lb nf show | grep -c '^  backend ')" = 3 ]
log_test $? "$phase: crab-lb-nf.service enabled and active, /etc/crab/lb-nf.toml applied (3 backends, apply --dry-run: no changes)"

failed=$(systemctl --failed --plain --no-legend 2>&1)
[ -z "$failed" ] || crab_log "failed units: $(echo "$failed" | tr '\n' ';')"
[ -z "$failed" ]
log_test $? "$phase: no failed systemd unit"

# ---- a redirect end to end through the LB of this namespace ---------------------------
crab_log "topology at $(cut -d' ' -f1 /proc/uptime) s"
crab_require_root
crab_check_tool ip python3 ping ss socat
mkdir -p /run/netns
NS_SW=crab-sw-$CRAB_SFX
NS_CLI=crab-cli-$CRAB_SFX
crab_ns_add "$NS_SW"
ip -n "$NS_SW" link add br0 type bridge
ip -n "$NS_SW" link set br0 type bridge forward_delay 0
ip -n "$NS_SW" link set br0 up
# The LB: this (the VM's own) namespace, on the segment as crablb0.
ip link add crablb0 type veth peer name lbport netns "$NS_SW" || crab_fail "cannot create crablb0"
crab_defer "ip link del crablb0"
ip -n "$NS_SW" link set lbport master br0 up
ip addr add "$IP_LB/24" dev crablb0
ip link set crablb0 up
crab_ns_add "$NS_CLI"
crab_ns_attach "$NS_CLI" "$IP_CLI"
ip -n "$NS_CLI" route add "$VIP/32" via "$IP_LB"
for i in 1 2 3; do
	NS_SRV[i]=crab-srv$i-$CRAB_SFX
	IP_SRV[i]=$CRAB_SUBNET.$((10 + i))
	crab_ns_add "${NS_SRV[i]}"
	crab_ns_attach "${NS_SRV[i]}" "${IP_SRV[i]}"
	ip netns exec "${NS_SRV[i]}" sysctl -q -p /etc/sysctl.d/90-crab-server.conf ||
		crab_fail "cannot apply 90-crab-server.conf in ${NS_SRV[i]}"
done
ip netns exec "$NS_CLI" sysctl -q -p /etc/sysctl.d/90-crab-client.conf ||
	crab_fail "cannot apply 90-crab-client.conf in $NS_CLI"
crab_wait_l2
# Echo servers: socat, one process each (an interpreter per server costs
# seconds under emulation).
for i in 1 2 3; do
	ip netns exec "${NS_SRV[i]}" socat TCP-LISTEN:80,reuseaddr,fork PIPE &
	crab_defer "kill $!"
done
for i in 1 2 3; do
	for _ in $(seq 100); do
		ip netns exec "${NS_SRV[i]}" ss -Htln 'sport = :80' | grep -q . && break
		sleep 0.1
	done
	ip netns exec "${NS_SRV[i]}" ss -Htln 'sport = :80' | grep -q . ||
		crab_fail "no echo server listening in ${NS_SRV[i]}"
done
crab_log "echo servers up at $(cut -d' ' -f1 /proc/uptime) s"

stat_of() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
lb_redirected() {
	$CRABCTL lb nf stats | awk -v s="$SVC" '$1 == "service" { in_s = ($2 == s) }
		in_s && $1 == "syn_redirected" { print $2 }'
}
red0=$(lb_redirected)
retr0=$(crab_tcpext "$NS_CLI" TCPSynRetrans)
out=$(ip netns exec "$NS_CLI" $CRAB_TCPECHO client --addr "$VIP" --port 80 \
	--count $N --timeout 10 --deadline 120)
retr=$(($(crab_tcpext "$NS_CLI" TCPSynRetrans) - retr0))
crab_log "client done at $(cut -d' ' -f1 /proc/uptime) s"
red=$(($(lb_redirected) - ${red0:-0}))
cs=$(ip netns exec "$NS_CLI" $CRABCTL client stats)
echoed=0
for i in 1 2 3; do
	e=$(stat_of "$(ip netns exec "${NS_SRV[i]}" $CRABCTL server stats)" synack_echoed)
	echoed=$((echoed + ${e:-0}))
done
crab_log "client: ${out:0:300}"
# One interpreter for the client's report: ok failed peers-line.
read -r ok bad peers < <(python3 -c '
import json, sys
j = json.loads(sys.argv[1])
print(j["ok"], j["failed"], ",".join("%s=%d" % kv for kv in sorted(j["peers"].items())))' "$out" 2>/dev/null)
[ "$ok" = $N ] && [ "$bad" = 0 ]
log_test $? "$phase: $N connections to the VIP succeed, data echoed ($ok ok, $bad failed)"
rc=0
want="${IP_SRV[1]} ${IP_SRV[2]} ${IP_SRV[3]}"
[ "$(echo "$peers" | tr ',' '\n' | cut -d= -f1 | tr '\n' ' ')" = "$want " ] || rc=1
for p in $(echo "$peers" | tr ',' ' '); do
	c=${p#*=}
	[ $((c - 10)) -le "$retr" ] && [ $((10 - c)) -le "$retr" ] || rc=1
done
log_test $rc "$phase: the peers are the backends, 10/10/10 (rr) within $retr SYN retransmissions: $peers"
r=$(stat_of "$cs" redirected)
crab_log "LB syn_redirected +$red, client redirected ${r:-?}, servers synack_echoed $echoed, SYN retransmissions $retr"
[ "$red" = $((N + retr)) ] && [ "$r" = $N ] && [ "$echoed" -ge $N ] && [ "$echoed" -le $((N + retr)) ]
log_test $? "$phase: crabctl counters: LB redirected $red SYNs, servers echoed $echoed, client re-keyed ${r:-?}"

# ---- the last phase: removal ---------------------------------------------------------------
if [ "$phase" = upgrade ]; then
	crab_cleanup
	out=$(apt-get remove -y -q crab-dkms crabctl 2>&1)
	rc=$?
	echo "$out" | grep -v '^(Reading database' | sed 's/^/# apt: /'
	log_test $rc "$phase: apt-get remove crab-dkms crabctl"
	left=$(grep '^crab_' /proc/modules | cut -d' ' -f1 | tr '\n' ' ')
	[ -z "$left" ]
	log_test $? "$phase: removal unloaded the modules${left:+ (still loaded: $left)}"
	files=$(find /lib/modules /usr/src /var/lib/dkms -name 'crab*' 2>/dev/null | head -n 5)
	files+=$(ls /usr/sbin/crabctl /lib/systemd/system/crab-* 2>/dev/null)
	[ -z "$files" ] || crab_log "left: $files"
	[ -z "$files" ]
	log_test $? "$phase: no module, DKMS tree, crabctl or unit left"
	a=$(systemctl is-active crab-lb-nf.service 2>&1)
	failed=$(systemctl --failed --plain --no-legend 2>&1)
	crab_log "crab-lb-nf.service: $a; failed units: ${failed:-none}"
	[ "$a" != active ] && [ -z "$failed" ]
	log_test $? "$phase: crab-lb-nf.service stopped, no failed unit"
fi
crab_exit
