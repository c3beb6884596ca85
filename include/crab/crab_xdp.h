/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * XDP load balancer: map names, keys and values shared by the BPF program
 * (lb/ebpf_xdp/crab_lb.bpf.c) and crabctl (userspace/crabctl/cmd_lb_xdp.cpp).
 * Structs and constants only.
 *
 * Publication model (docs/PROTOCOL.md 5, atomic updates): every service owns two
 * "generations" in crab_gens (key = svc_id * CRAB_XDP_GENS + gen). Userspace
 * writes a complete backend table, active list, WRR ring and Maglev table
 * into the inactive generation, then flips crab_services[key].gen with one
 * hash-map update (which replaces the element under RCU). The data path reads
 * the service once and then only that generation, so the count it uses always
 * matches the list it indexes.
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
#define CRAB_XDP_MAP_RR		"crab_rr"
#define CRAB_XDP_MAP_SVC_CNT	"crab_svc_cnt"
#define CRAB_XDP_MAP_BE_CNT	"crab_be_cnt"
#define CRAB_XDP_MAP_GLOB_CNT	"crab_glob_cnt"

#define CRAB_XDP_NO_BACKEND	CRAB_LB_NONE	/* empty Maglev / ring slot */

/* crab_services key: VIP and port in network byte order, TCP only. */
struct crab_xdp_svc_key {
	__be32 vip;
	__be16 port;
	__u16 pad;	/* must be 0 */
};

/* crab_services value. */
struct crab_xdp_svc {
	__u32 id;	/* 0 .. CRAB_MAX_SERVICES-1: index into the arrays */
	__u8 policy;	/* enum crab_policy */
	__u8 legacy;	/* enum crab_legacy_mode */
	__u8 gen;	/* active generation, 0 or 1 */
	__u8 pad;
};

/* crab_vips: VIP (network order) -> number of services on it. Lets the
 * data path recognise a fragment for a VIP (no port to key on).
 */
struct crab_xdp_vip {
	__u32 nsvc;
	__u32 svc_id;	/* a service on this VIP: where fragments are counted */
};

#define CRAB_XDP_BE_VALID	0x1	/* slot in use */
#define CRAB_XDP_BE_HAS_MAC	0x2	/* static next-hop MAC override */

/* One backend slot. Slots are stable across generations (per-backend
 * counters are keyed by slot), only the active list and tables change.
 */
struct crab_xdp_backend {
	__be32 dip;
	__u8 mac[6];	/* next hop override when CRAB_XDP_BE_HAS_MAC */
	__u8 flags;	/* CRAB_XDP_BE_* */
	__u8 state;	/* enum crab_backend_state */
	__u8 weight;	/* 1 .. CRAB_WEIGHT_MAX */
	__u8 pad[3];
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

/* crab_rr (PERCPU_ARRAY, key svc_id): next round-robin / ring position. */

/* crab_svc_cnt (PERCPU_ARRAY): key svc_id * CRAB_LB_CNT_MAX + counter. */
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
	X(ADJUST_FAIL, "adjust_fail", "bpf_xdp_adjust_head/store failed: dropped")

#define CRAB_XDP_G_ENUM(e, n, h) CRAB_XDP_G_##e,
enum crab_xdp_global_counter {
	CRAB_XDP_GLOBAL_COUNTERS(CRAB_XDP_G_ENUM)
	CRAB_XDP_G_MAX,
};
#undef CRAB_XDP_G_ENUM

#endif /* CRAB_XDP_H */
