/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Generic netlink ABI of the CRAB load balancer (docs/PROTOCOL.md 3.2, 5).
 *
 * The nf LB implements it in the kernel; the attribute model is the
 * service model of crab_lb.h, so the XDP and DPDK LBs' configuration (their
 * maps / telemetry) maps onto it one to one: a service is (VIP, TCP port)
 * with a policy, a legacy-SYN mode and up to CRAB_MAX_BACKENDS backends
 * (DIP, weight, state); counters are the CRAB_LB_COUNTERS list.
 *
 * Encoding: an IPv4 address is a network-order u32 (NLA_U32 carrying a
 * __be32: CRAB_LB_A_VIP, CRAB_LB_BE_A_DIP), an IPv6 address 16 bytes in
 * network order (CRAB_LB_A_VIP6, CRAB_LB_BE_A_DIP6); the port is a
 * host-order u16, enums are u8, counters u64 (padded with CRAB_LB_A_PAD).
 * Counter nests hold one u64 attribute per counter, type = counter index
 * + 1 (enum crab_lb_counter / enum crab_lb_gcounter).
 *
 * A service is one family: a request names its VIP with exactly one of
 * VIP and VIP6, and its backends with the attribute of the same family
 * (DIP for a VIP, DIP6 for a VIP6); replies use the same attributes. An
 * IPv4 and an IPv6 service are distinct even on the same port.
 *
 * Commands (GENL_UNS_ADMIN_PERM on everything that changes state; VIP
 * below is VIP or VIP6, DIP is DIP or DIP6):
 *   SVC_ADD   VIP PORT [POLICY] [LEGACY]        -EEXIST if present
 *   SVC_DEL   VIP PORT                          -ENOENT if absent
 *   SVC_SET   VIP PORT [POLICY] [LEGACY]
 *   SVC_GET   dump: one message per service with BACKENDS and COUNTERS;
 *             doit with VIP PORT: that service only
 *   BE_ADD    VIP PORT BACKEND{DIP [WEIGHT] [STATE]}
 *   BE_DEL    VIP PORT BACKEND{DIP}
 *   BE_SET    VIP PORT BACKEND{DIP [WEIGHT] [STATE]}  (drain = STATE draining)
 *   STATS_GET global counters of the namespace (GCOUNTERS)
 *   FLUSH     remove every service of the namespace
 */
#ifndef CRAB_GENL_LB_H
#define CRAB_GENL_LB_H

#include <linux/types.h>
#include "crab_lb.h"

#define CRAB_LB_GENL_NAME	"crab_lb"
#define CRAB_LB_GENL_VERSION	1

enum crab_lb_cmd {
	CRAB_LB_CMD_UNSPEC,
	CRAB_LB_CMD_SVC_ADD,
	CRAB_LB_CMD_SVC_DEL,
	CRAB_LB_CMD_SVC_SET,
	CRAB_LB_CMD_SVC_GET,
	CRAB_LB_CMD_BE_ADD,
	CRAB_LB_CMD_BE_DEL,
	CRAB_LB_CMD_BE_SET,
	CRAB_LB_CMD_STATS_GET,
	CRAB_LB_CMD_FLUSH,
	__CRAB_LB_CMD_MAX,
};
#define CRAB_LB_CMD_MAX (__CRAB_LB_CMD_MAX - 1)

/* Top-level attributes. */
enum crab_lb_attr {
	CRAB_LB_A_UNSPEC,
	CRAB_LB_A_PAD,
	CRAB_LB_A_VIP,		/* u32, network order */
	CRAB_LB_A_PORT,		/* u16, host order, 1..65535 */
	CRAB_LB_A_POLICY,	/* u8, enum crab_policy */
	CRAB_LB_A_LEGACY,	/* u8, enum crab_legacy_mode */
	CRAB_LB_A_BACKEND,	/* nest: CRAB_LB_BE_A_* (requests) */
	CRAB_LB_A_BACKENDS,	/* nest of CRAB_LB_A_BACKEND (replies) */
	CRAB_LB_A_COUNTERS,	/* nest: u64 per enum crab_lb_counter + 1 */
	CRAB_LB_A_GCOUNTERS,	/* nest: u64 per enum crab_lb_gcounter + 1 */
	CRAB_LB_A_NBACKENDS,	/* u32, backends configured (replies) */
	CRAB_LB_A_VIP6,		/* 16 bytes, network order */
	__CRAB_LB_A_MAX,
};
#define CRAB_LB_A_MAX (__CRAB_LB_A_MAX - 1)

/* Attributes of one backend. */
enum crab_lb_be_attr {
	CRAB_LB_BE_A_UNSPEC,
	CRAB_LB_BE_A_PAD,
	CRAB_LB_BE_A_DIP,	/* u32, network order */
	CRAB_LB_BE_A_WEIGHT,	/* u32, 1..CRAB_WEIGHT_MAX (default 1) */
	CRAB_LB_BE_A_STATE,	/* u8, enum crab_backend_state */
	CRAB_LB_BE_A_SELECTED,	/* u64, packets sent to it (replies) */
	CRAB_LB_BE_A_DIP6,	/* 16 bytes, network order */
	__CRAB_LB_BE_A_MAX,
};
#define CRAB_LB_BE_A_MAX (__CRAB_LB_BE_A_MAX - 1)

/*
 * Per-namespace counters that belong to no service.
 * CRAB_LB_GCOUNTER(enum_suffix, "name", "help")
 */
#define CRAB_LB_GCOUNTERS(X)						\
	X(NOT_VIP, "not_vip", "packets not for a VIP:port (untouched)")	\
	X(PARSE_ERROR, "parse_error", "truncated or bogus TCP headers to a VIP") \
	X(SKB_ERROR, "skb_error", "packets dropped: skb not writable / no memory") \
	X(EXT_LIMIT, "ipv6_ext_limit", "IPv6 packets to a VIP with more extension headers than walked (dropped)")

#define CRAB_LB_GCNT_ENUM(e, n, h) CRAB_LB_GCNT_##e,
enum crab_lb_gcounter {
	CRAB_LB_GCOUNTERS(CRAB_LB_GCNT_ENUM)
	CRAB_LB_GCNT_MAX,
};
#undef CRAB_LB_GCNT_ENUM

#endif /* CRAB_GENL_LB_H */
