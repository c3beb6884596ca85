#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Install exactly the Debian packages CRAB needs to build and test, without
# questions. Idempotent: a second run installs nothing and is quick.
#   scripts/install-deps.sh [--check]   (--check: only list what is missing)
set -euo pipefail

pkgs=(
	# toolchains and build
	build-essential make cmake pkg-config gcc-12 g++ clang llvm lld rsync xz-utils file
	# libFuzzer and the sanitizer runtimes for clang-14 (make fuzz)
	libclang-rt-14-dev
	# BPF
	libbpf-dev bpftool libxdp-dev xdp-tools libelf-dev zlib1g-dev
	# DPDK
	dpdk dpdk-dev libdpdk-dev
	# userspace libraries
	libcli11-dev nlohmann-json3-dev libtoml11-dev libgtest-dev libmnl-dev
	# the VM runner: QEMU, busybox initramfs, Debian kernels 6.1 and 6.12
	qemu-system-x86 busybox-static cpio kmod
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64 linux-headers-6.12-cloud-amd64
	# the patched kernel (make kernel): Debian's 6.12 source and its build tools
	linux-source-6.12 git flex bison bc ccache libssl-dev dwarves
	# tests: namespaces, captures, packet crafting
	iproute2 iputils-ping procps tcpdump socat ethtool nftables python3 python3-scapy
	# benchmarks (make bench): the real alternatives, the tool crab-loadgen is
	# cross-checked against (sockperf), the plots
	haproxy ipvsadm sockperf python3-matplotlib
	# experiments/nodeport: conntrack flush and inspection
	conntrack
	# scale-out (selftests/scaleout, tools/scaleout, crabctl bgp): FRR's zebra,
	# bgpd, bfdd and vtysh, started by the tests in their own namespaces
	frr
	# packaging (packaging/): DKMS, Debian packages, module signing, unit checks
	dkms debhelper dh-dkms dpkg-dev fakeroot lintian openssl systemd
	# the cloud image (make cloud-image) and its test: the tree, the NoCloud
	# seed and test disk, the qcow2 overlay
	mmdebstrap e2fsprogs genisoimage qemu-utils
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${1:-}" = --check ]; then
	printf '%s\n' "${missing[@]}"
	exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#pkgs[@]} packages installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "error: installing ${missing[*]} needs root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
