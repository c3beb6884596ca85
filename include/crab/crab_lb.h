/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The load-balancer service model shared by every LB implementation (XDP,
 * netfilter, DPDK) and by crabctl: policies, legacy-SYN modes, limits and the
 * names of the per-service counters. Freestanding C: kernel, BPF, userspace.
 */
#ifndef CRAB_LB_H
#define CRAB_LB_H

#include <linux/types.h>

#define CRAB_MAX_SERVICES	256
#define CRAB_MAX_BACKENDS	64	/* per service */
/*
 * IPv6: every LB walks at most this many extension headers (hop-by-hop,
 * routing, destination options) before TCP; a longer chain to a VIP is
 * dropped and counted (docs/PROTOCOL.md 3.6).
 */
#define CRAB_LB_IPV6_EXT_MAX	8
#define CRAB_MAGLEV_SIZE	1021	/* prime > 10 * CRAB_MAX_BACKENDS */
#define CRAB_WRR_SLOTS		256	/* expanded weighted round-robin ring */
#define CRAB_WEIGHT_MAX		100

/* Backend selection for redirect-capable SYNs (docs/PROTOCOL.md 5). */
enum crab_policy {
	CRAB_POLICY_RR = 0,
	CRAB_POLICY_RANDOM = 1,
	CRAB_POLICY_WRR = 2,
	CRAB_POLICY_MAX,
};

/* What a SYN without the redirect option gets (docs/PROTOCOL.md 3.2). */
enum crab_legacy_mode {
	CRAB_LEGACY_DROP = 0,
	CRAB_LEGACY_INSERT = 1,
	CRAB_LEGACY_HASH = 2,
	CRAB_LEGACY_MAX,
};

/* Backend state: a draining backend gets no new SYN, from any policy or
 * from hash mode, but keeps the flows consistent hashing maps to it until it
 * is removed (docs/PROTOCOL.md 5; crab_lb_model.h).
 */
enum crab_backend_state {
	CRAB_BACKEND_ACTIVE = 0,
	CRAB_BACKEND_DRAINING = 1,
};

/*
 * Per-service LB counters, in one order for every implementation (new ones
 * go at the end: the netlink ABI numbers them). X-macro:
 * CRAB_LB_COUNTER(enum_suffix, "name", "help")
 */
#define CRAB_LB_COUNTERS(X)						\
	X(SYN_REDIRECTED, "syn_redirected", "capable SYNs sent to a backend") \
	X(SYN_INSERTED, "syn_inserted", "legacy SYNs given the option (insert)") \
	X(SYN_HASHED, "syn_hashed", "legacy SYNs forwarded by hash (hash)") \
	X(SYN_LEGACY_DROP, "syn_legacy_drop", "legacy SYNs dropped (drop)") \
	X(NONSYN_HASHED, "nonsyn_hashed", "non-SYN packets forwarded by hash") \
	X(NONSYN_DROP, "nonsyn_drop", "non-SYN packets to the VIP dropped") \
	X(NO_BACKEND, "no_backend", "packets dropped: no active backend") \
	X(OPT_MALFORMED, "opt_malformed", "SYNs with a malformed option walk") \
	X(OPT_BAD_LEN, "opt_bad_len", "redirect options with a wrong length") \
	X(NO_ROOM, "no_room", "insert impossible: doff or MTU limit") \
	X(FRAGMENT, "fragment", "IP fragments to the VIP dropped") \
	X(TX_ERROR, "tx_error", "forwarding failed (no route/neighbour)") \
	X(SYN_HASH_DRAINING, "syn_hash_draining", \
	  "legacy SYNs dropped (hash): their flow maps to a draining backend")

#define CRAB_LB_CNT_ENUM(e, n, h) CRAB_LB_CNT_##e,
enum crab_lb_counter {
	CRAB_LB_COUNTERS(CRAB_LB_CNT_ENUM)
	CRAB_LB_CNT_MAX,
};
#undef CRAB_LB_CNT_ENUM

#endif /* CRAB_LB_H */
