/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * XDP LB: map names, keys and values shared by the BPF program
 * (lb/ebpf_xdp/crab_lb.bpf.c) and crabctl (userspace/crabctl/cmd_lb_xdp.cpp).
 * Structs and constants only.
 *
 * Publication model (docs/PROTOCOL.md 5, atomic updates): every service owns two
 * "generations" in crab_gens (key = svc_id * CRAB_XDP_GENS + gen). Userspace
 * writes a complete backend table, active list, WRR ring and Maglev table
 * into the inactive generation, then flips crab_services[key].gen with one
 * hash-map update. The data path copies the service entry once (one 8-byte
 * load) and then reads only that generation, so the count it uses always
 * matches the list it indexes.
 *
 * Grace period: an XDP program run is one RCU read-side critical section
 * (native XDP runs in NAPI with bottom halves off, which RCU treats as a
 * reader: see the comment in kernel/bpf/devmap.c dev_map_free(); generic
 * XDP and BPF_PROG_TEST_RUN run under rcu_read_lock()). A reader that saw
 * the old gen may still be reading that generation after the flip, and the
 * pre-allocated hash maps hand a replaced or deleted element back out at
 * once (htab's per-CPU spare element and free list), so a reader's element
 * could be rewritten under it. The control plane therefore waits for a
 * grace period before every write that could touch what a reader holds:
 * before rewriting a generation, and before every update or delete of
 * crab_services or crab_vips. Since the previous write ended, the wait
 * covers every reader that could hold the generation or element about to
 * be reused. It is taken with an update of a BPF_MAP_TYPE_ARRAY_OF_MAPS
 * element, after which the bpf() syscall calls synchronize_rcu()
 * (kernel/bpf/syscall.c maybe_wait_bpf_programs(): "wait for running BPF
 * programs to complete so that userspace [...] knows that all programs that
 * could be running use the new map value"; 6.1 calls it after every update
 * of that map type, 6.12 after every successful one). membarrier(2)'s
 * MEMBARRIER_CMD_GLOBAL also waits with synchronize_rcu(), but skips it when
 * one CPU is online and is refused on nohz_full kernels.
 */
#ifndef CRAB_XDP_H
#define CRAB_XDP_H

#include <linux/types.h>
#include "crab_lb.h"
#include "crab_lb_model.h"

#define CRAB_XDP_PIN_ROOT	"/sys/fs/bpf/crab"	/* + "/<DEV>" */
#define CRAB_XDP_PROG_NAME	"crab_lb_xdp"
#define CRAB_XDP_GENS		2

/* Map names (LIBBPF_PIN_BY_NAME: also the pinned file names). */
#define CRAB_XDP_MAP_SERVICES	"crab_services"
#define CRAB_XDP_MAP_VIPS	"crab_vips"
#define CRAB_XDP_MAP_GENS	"crab_gens"
#define CRAB_XDP_MAP_SVC_PCPU	"crab_svc_pcpu"
#define CRAB_XDP_MAP_BE_CNT	"crab_be_cnt"
#define CRAB_XDP_MAP_GLOB_CNT	"crab_glob_cnt"
#define CRAB_XDP_MAP_TX_PORTS	"crab_tx_ports"

#define CRAB_XDP_NO_BACKEND	CRAB_LB_NONE	/* empty Maglev / ring slot */

/*
 * IPv6 (docs/PROTOCOL.md 2, 3.2): a SYN to an IPv6 VIP is handled as an
 * IPv4 one, with the 18/20-byte option of the segment's family. The data
 * path walks at most CRAB_XDP_IPV6_EXT_MAX extension headers (hop-by-hop,
 * routing, destination options) before the TCP header; a fragment header
 * (any fragment) to a VIP is dropped and counted (fragment), a longer chain
 * to a VIP is dropped and counted (ipv6_ext_limit). Insert mode grows the
 * packet by 20 bytes (payload length, doff and MTU checked: no_room). The
 * hop limit is left as it is, like the IPv4 TTL: the LB forwards at L2.
 */
#define CRAB_XDP_IPV6_EXT_MAX	CRAB_LB_IPV6_EXT_MAX

/*
 * Address families. One map serves both: a key carries its family and a
 * 16-byte address, an IPv4 address in its first word (network order) and
 * the other three words zero. A service is one family (its VIP's), its
 * backends too.
 */
#define CRAB_XDP_AF_INET	4
#define CRAB_XDP_AF_INET6	6

/* crab_services key: VIP and port in network byte order, TCP only. */
struct crab_xdp_svc_key {
	__be32 vip[4];	/* IPv4: vip[0], vip[1..3] zero */
	__be16 port;
	__u8 family;	/* CRAB_XDP_AF_INET or CRAB_XDP_AF_INET6 */
	__u8 pad;	/* must be 0 */
};

/* crab_vips key: a VIP of either family, laid out as in the service key. */
struct crab_xdp_vip_key {
	__be32 vip[4];
	__u8 family;
	__u8 pad[3];	/* must be 0 */
};

/* crab_services value: 8 bytes, read by the data path with one load. */
struct crab_xdp_svc {
	__u32 id;	/* 0 .. CRAB_MAX_SERVICES-1: index into the arrays */
	__u8 policy;	/* enum crab_policy */
	__u8 legacy;	/* enum crab_legacy_mode */
	__u8 gen;	/* active generation, 0 or 1 */
	__u8 pad;
};

/* crab_vips: VIP (struct crab_xdp_vip_key) -> number of services on it.
 * Lets the data path recognise a fragment, a bogus header or (IPv6) a chain
 * of extension headers too long to walk for a VIP (no port to key on).
 */
struct crab_xdp_vip {
	__u32 nsvc;
	__u32 svc_id;	/* a service on this VIP: where fragments are counted */
};

#define CRAB_XDP_BE_VALID	0x1	/* slot in use */
#define CRAB_XDP_BE_HAS_MAC	0x2	/* static next-hop MAC override */
#define CRAB_XDP_BE_IPV6	0x4	/* dip is IPv6 (the service's family) */
#define CRAB_XDP_BE_NH		0x8	/* nh_* hold a valid resolved next hop */

/*
 * Next hops resolved by the control plane (crabctl, lb/ebpf_xdp/ctl/
 * nexthop.cpp): the route to the DIP (egress device, gateway) and the
 * neighbour entry of the gateway or DIP, from rtnetlink, written into the
 * backend slot (nh_ifindex, nh_smac, nh_dmac, CRAB_XDP_BE_NH) when a
 * backend is added or changed and by `crabctl lb xdp nexthops [--watch]`
 * when neighbours, routes or links change. They travel with the
 * generation like everything else in the slot: a new or withdrawn next
 * hop is published by a generation flip after a grace period, so a reader
 * never sees half of one. Without CRAB_XDP_BE_NH (not resolved, neighbour
 * failed or gone, route changed and not resolved again) the data path
 * takes bpf_fib_lookup(); a static MAC (CRAB_XDP_BE_HAS_MAC) wins over
 * both. Which path served a frame: the nh_static, nh_resolved and nh_fib
 * global counters (a frame counts once, in the path that decided its
 * next hop, whether it was then sent, passed to the stack or refused).
 */

/* One backend slot. Slots are stable across generations (per-backend
 * counters are keyed by slot), only the active list and tables change.
 */
struct crab_xdp_backend {
	__be32 dip[4];	/* IPv4: dip[0], dip[1..3] zero */
	__u8 mac[6];	/* next hop override when CRAB_XDP_BE_HAS_MAC */
	__u8 flags;	/* CRAB_XDP_BE_* */
	__u8 state;	/* enum crab_backend_state */
	__u8 weight;	/* 1 .. CRAB_WEIGHT_MAX */
	__u8 pad[3];
	__u32 nh_ifindex;	/* CRAB_XDP_BE_NH: egress device */
	__u8 nh_smac[6];	/* ... its MAC */
	__u8 nh_dmac[6];	/* ... the next hop's (neighbour's) MAC */
};

/*
 * crab_gens value: one complete, self-consistent backend set. The tables
 * are the shared model's (crab_lb_model.h), built by crabctl from the valid
 * slots of be[] (userspace/common/crab/lb_tables.hpp); they hold slots.
 */
struct crab_xdp_gen {
	struct crab_xdp_backend be[CRAB_MAX_BACKENDS];
	struct crab_lb_tables t;
};

/*
 * crab_svc_pcpu (PERCPU_ARRAY, key svc_id): what a service's packets write
 * on one CPU, found with one lookup per packet: the round-robin cursor of
 * rr and wrr (the 64-bit position and its remainder over the active list
 * or ring, crab_lb_model.h crab_lb_rr_next(): no division per SYN; a
 * generation with another backend count makes the data path work the
 * remainder out again) and the per-service counters (CRAB_LB_COUNTERS
 * order). 128 bytes: two cache lines.
 */
struct crab_xdp_svc_pcpu {
	struct crab_lb_rr rr;
	__u64 cnt[CRAB_LB_CNT_MAX];
};

/* crab_tx_ports (DEVMAP_HASH, key and value an ifindex): the other devices
 * of this network namespace the LB is attached to natively, which can take
 * the frames it redirects; crabctl attach/detach keep it. A next hop on any
 * other device (a VLAN device, a device without XDP) goes to the stack.
 */
#define CRAB_XDP_TX_PORTS_MAX	64

/* crab_be_cnt (PERCPU_ARRAY): key svc_id * CRAB_MAX_BACKENDS + slot:
 * packets sent to that backend.
 */

/* Global counters (crab_glob_cnt, PERCPU_ARRAY), X(enum, "name", "help"). */
#define CRAB_XDP_GLOBAL_COUNTERS(X)					\
	X(PASS, "pass", "packets passed untouched (not for a service)")	\
	X(TX, "xdp_tx", "packets sent back out of the ingress interface") \
	X(REDIRECT, "xdp_redirect", "packets redirected to another interface") \
	X(FIB_PASS, "fib_pass", "rewritten packets passed to the stack (no neighbour)") \
	X(FIB_FAIL, "fib_fail", "no route to the backend: dropped")	\
	X(TRUNCATED, "truncated", "truncated or bogus IP/TCP header to a VIP: dropped") \
	X(ADJUST_FAIL, "adjust_fail", "bpf_xdp_adjust_head/store failed: dropped") \
	X(MAC_NOT_OURS, "mac_not_ours",					\
	  "frames to another MAC, broadcast or multicast: passed, not balanced") \
	X(IP_VERSION_BAD, "ip_version_bad",				\
	  "IPv4/IPv6 ethertype but IP version not 4/6: passed unparsed (the stack drops it)") \
	X(VLAN_PASS, "vlan_pass",					\
	  "tagged frames with no static next hop (cannot be sent on their VLAN): passed") \
	X(NH_MAC_BAD, "nh_mac_bad", "static next-hop MAC multicast or zero: dropped") \
	X(TX_PORT_PASS, "tx_port_pass",					\
	  "next hop on a device the LB is not attached to (e.g. a VLAN device): passed") \
	X(EXT_LIMIT, "ipv6_ext_limit",					\
	  "IPv6 packets to a VIP with more extension headers than walked: dropped") \
	X(SVC_ID_BAD, "svc_id_bad",					\
	  "packets to a service whose id is out of range (no per-CPU state): dropped") \
	X(NH_STATIC, "nh_static",					\
	  "next hop decided by the backend's static MAC (sent or refused)") \
	X(NH_RESOLVED, "nh_resolved",					\
	  "next hop decided by the control plane's (route + neighbour; sent or refused)") \
	X(NH_FIB, "nh_fib",						\
	  "next hop looked up per packet with bpf_fib_lookup() (fib_pass/fib_fail: no answer)")

#define CRAB_XDP_G_ENUM(e, n, h) CRAB_XDP_G_##e,
enum crab_xdp_global_counter {
	CRAB_XDP_GLOBAL_COUNTERS(CRAB_XDP_G_ENUM)
	CRAB_XDP_G_MAX,
};
#undef CRAB_XDP_G_ENUM

#endif /* CRAB_XDP_H */
