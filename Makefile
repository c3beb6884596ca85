# SPDX-License-Identifier: GPL-2.0-only
#
# One build for every part of CRAB. `make help` lists the targets.

SHELL      := /bin/bash
TOP        := $(abspath .)
BUILD      := $(TOP)/build

# Kernel to build modules against: KDIR wins, else KVER, else the newest
# installed Debian headers.
KVER       ?= $(shell ls -d /lib/modules/*/build 2>/dev/null | sed 's,/lib/modules/,,;s,/build,,' | grep -v cloud | sort -V | tail -n 1)
KDIR       ?= /lib/modules/$(KVER)/build
KVERS_ALL  := $(shell ls -d /lib/modules/*/build 2>/dev/null | sed 's,/lib/modules/,,;s,/build,,' | sort -V)

CLANG      ?= clang
BPFTOOL    ?= $(firstword $(wildcard /usr/sbin/bpftool) $(shell command -v bpftool 2>/dev/null) bpftool)
BPF_SRCS   := $(wildcard lb/ebpf_xdp/*.bpf.c endpoints/ebpf/*.bpf.c selftests/kpatch/*.bpf.c)
BPF_OBJS   := $(patsubst %.bpf.c,$(BUILD)/bpf/%.bpf.o,$(notdir $(BPF_SRCS)))
BPF_SKELS  := $(BPF_OBJS:.bpf.o=.skel.h)
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 \
              -I$(TOP)/include -I/usr/include/x86_64-linux-gnu
vpath %.bpf.c lb/ebpf_xdp endpoints/ebpf selftests/kpatch

KERNEL     ?= 6.1
T          ?= *
FUZZ_SECONDS ?= 60
J          ?= 2

.PHONY: all help deps modules modules-all bpf userspace check check-unit \
        check-host check-vm check-harness kernel demo bench bench-quick bench-xdp bench-dpdk fuzz clean \
        install uninstall dkms-src deb cloud-image

all: bpf userspace modules

help:
	@echo "CRAB build and test targets"
	@echo "  make [all]            build BPF objects, userspace (crabctl) and kernel modules"
	@echo "  make deps             install the Debian packages the project needs (root)"
	@echo "  make modules          build the kernel modules for KVER=$(KVER) (or KDIR=...)"
	@echo "  make modules-all      build the modules for every installed kernel headers"
	@echo "  make bpf              compile BPF programs and skeletons into build/bpf"
	@echo "  make userspace        build crabctl, libraries and unit tests (CMake)"
	@echo "  make check            unit + host + VM (6.1, 6.12) tests, then 'N passed, N failed, N skipped'"
	@echo "  make check-unit       unit tests (ctest), then again built with ASan/UBSan"
	@echo "  make check-host       selftests tagged 'host' on this machine's own kernel"
	@echo "  make check-vm KERNEL=<6.1|6.12|/path/bzImage>   selftests tagged 'vm' inside QEMU"
	@echo "  make check-harness    tests of the test harness itself (failure paths)"
	@echo "  make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS='opt lb_core']   libFuzzer runs (clang), N seconds per target"
	@echo "  make kernel           apply kernel-patches/6.12 to Debian's linux-source-6.12, build a VM bzImage"
	@echo "  make bench [BENCH_ARGS=...]   CRAB vs IPVS/nft/HAProxy latency, in one TCG VM boot (docs/PERFORMANCE.md)"
	@echo "  make bench-quick      the same with ~1,000 samples per point (a few minutes)"
	@echo "  make bench-xdp [BENCH_ARGS='--reps 7' or '--quick']   XDP LB SYN/s vs an XDP_TX reflector (root, host kernel; CRAB_BENCH_GENERATOR=live|raw|auto)"
	@echo "  make bench-dpdk [BENCH_ARGS='--reps 5']  DPDK LB SYN/s vs testpmd io on the same vdev (root, host kernel)"
	@echo "  make nodeport         NodePort redirection experiment: tc programs and crab-np-stats into build/nodeport"
	@echo "  make nodeport-experiment [NP_ARGS=--quick]   run experiments/nodeport/run.sh (root, host kernel)"
	@echo "  make scaleout-experiment [SO_ARGS=...]       3 LBs behind ECMP/BGP, one killed and back (tools/scaleout/run.sh)"
	@echo "  make demo [MODE=host|vm] [LB=...]   redirect real connections through a VIP: eBPF endpoints + XDP LB"
	@echo "                        on this kernel (host), or the modules in a QEMU guest (vm); default printed at start"
	@echo "  make install [PREFIX=/usr/local DESTDIR=]   crabctl, man page, completion, BPF objects, systemd units, snippets"
	@echo "  make uninstall        remove what make install installed"
	@echo "  make dkms-src         the DKMS source tree of the modules in build/dkms/crab-VERSION (packaging/README.md)"
	@echo "  make deb              Debian packages crab-dkms and crabctl into build/deb/"
	@echo "  make cloud-image      bake them into a Debian 12 cloud image (root; cached in ~/.cache/crab/cloud-image)"
	@echo "  make clean            remove build/"
	@echo "Variables: T=<glob> selects tests, KVER/KDIR pick the kernel for modules."

deps:
	bash scripts/install-deps.sh

# ---- kernel modules: out-of-tree build in a per-kernel copy ----------------
KMOD_SRC := Kbuild include modules lb/netfilter

modules:
	@bash tools/build-modules.sh "$(KDIR)" "$(BUILD)/kmod/$(notdir $(patsubst %/build,%,$(KDIR)))"

modules-all:
	@set -e; for v in $(KVERS_ALL); do \
		bash tools/build-modules.sh /lib/modules/$$v/build "$(BUILD)/kmod/$$v"; done

# ---- BPF -------------------------------------------------------------------
bpf: $(BPF_SKELS)

# Keep the objects: crabctl's skeletons embed them, the tests load them.
.SECONDARY: $(BPF_OBJS)

$(BUILD)/bpf/%.bpf.o: %.bpf.c $(wildcard include/crab/*.h lb/ebpf_xdp/*.h endpoints/ebpf/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The eBPF endpoints use atomic compare-and-exchange (BPF ISA v3, Linux 5.12).
$(BUILD)/bpf/crab_ep_%.bpf.o: BPF_CFLAGS += -mcpu=v3

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# ---- NodePort redirection experiment (experiments/nodeport/) ----------------
NP_SRCS := $(wildcard experiments/nodeport/*.bpf.c)
NP_OBJS := $(patsubst experiments/nodeport/%.bpf.c,$(BUILD)/nodeport/%.bpf.o,$(NP_SRCS))
NP_ARGS ?=

.PHONY: nodeport nodeport-experiment
nodeport: $(NP_OBJS) $(BUILD)/nodeport/crab-np-stats
bpf: nodeport

$(BUILD)/nodeport/%.bpf.o: experiments/nodeport/%.bpf.c experiments/nodeport/crab_np_common.h $(wildcard include/crab/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/nodeport/crab-np-stats: experiments/nodeport/crab_np_stats.cpp include/crab/crab_np.h
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -Wall -Wextra -Werror -I$(TOP)/include $< -lbpf -o $@

nodeport-experiment: nodeport
	bash experiments/nodeport/run.sh $(NP_ARGS)

# ---- scale-out: N LBs behind ECMP, the VIP announced by BGP (tools/scaleout/) ----
SO_ARGS ?=
.PHONY: scaleout-experiment
scaleout-experiment: bpf userspace
	bash tools/scaleout/run.sh $(SO_ARGS)

# ---- userspace ---------------------------------------------------------------
userspace: bpf
	@cmake -S . -B $(BUILD)/userspace -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCRAB_BPF_DIR=$(BUILD)/bpf -DCRAB_STRICT=$(if $(filter 1,$(CRAB_STRICT)),ON,OFF) >/dev/null
	@cmake --build $(BUILD)/userspace -j $(J) -- --no-print-directory

# ---- tests -----------------------------------------------------------------
check:
	@bash tools/check-all.sh "$(T)"

check-unit: userspace
	@bash tools/run-unit.sh "$(T)"; rc=$$?; bash tools/run-unit.sh --sanitize "$(T)" || rc=1; exit $$rc

check-host: bpf userspace
	@bash selftests/run.sh --where host --filter "$(T)" --results $(BUILD)/results/host

check-vm: bpf userspace
	@bash tools/vm/run-vm.sh --kernel "$(KERNEL)" --filter "$(T)"

check-harness:
	@bash tools/vm/test-harness.sh

# Coverage-guided fuzzing (fuzz/README.md); long run: make fuzz FUZZ_SECONDS=3600
fuzz:
	@bash fuzz/run.sh --seconds "$(FUZZ_SECONDS)" --results $(BUILD)/results/fuzz $(FUZZ_TARGETS)

# End-to-end benchmarks in one VM boot (bench/e2e/README.md)
bench:
	@bash bench/e2e/run.sh $(BENCH_ARGS)

bench-quick:
	@bash bench/e2e/run.sh --quick $(BENCH_ARGS)

bench-xdp: bpf userspace
	@bash bench/xdp/run.sh $(BENCH_ARGS)

bench-host: bpf userspace
	@bash bench/host/run.sh $(BENCH_ARGS)

bench-dpdk: userspace
	@bash bench/dpdk/run.sh $(BENCH_ARGS)

kernel:
	@bash tools/kernel/build-kernel.sh

demo:
	@bash tools/demo.sh $(if $(MODE),--mode $(MODE)) $(if $(LB),--lb $(LB))

# ---- installing and packaging (packaging/README.md) ------------------------
PREFIX     ?= /usr/local
DESTDIR    ?=

install: bpf userspace
	@bash packaging/install.sh --prefix "$(PREFIX)" --destdir "$(DESTDIR)" --build "$(BUILD)"

uninstall:
	@bash packaging/install.sh --uninstall --prefix "$(PREFIX)" --destdir "$(DESTDIR)"

dkms-src:
	@bash packaging/mkdkms.sh

deb: bpf userspace
	@bash packaging/mkdeb.sh

# A Debian 12 cloud image with CRAB installed (packaging/README.md); the
# image's directory is the last line printed.
cloud-image: deb
	@bash tools/cloud-image/bake.sh

clean:
	rm -rf $(BUILD)
