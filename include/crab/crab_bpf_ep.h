/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * eBPF endpoints (endpoints/ebpf/): what the BPF programs and crabctl share.
 * Only map names, keys/values and constants live here (no code).
 *
 * Maps are pinned by name (LIBBPF_PIN_BY_NAME) under CRAB_EP_PIN_DIR, so the
 * server object, the client objects and crabctl see the same instances.
 */
#ifndef CRAB_BPF_EP_H
#define CRAB_BPF_EP_H

#include <linux/types.h>
#include "crab_opt.h"

#define CRAB_EP_PIN_DIR		"/sys/fs/bpf/crab/ep"

/* Map names (also the pinned file names). */
#define CRAB_EP_MAP_CFG		"crab_ep_cfg"
#define CRAB_EP_MAP_STATS	"crab_ep_stats"
#define CRAB_EP_MAP_ANNOUNCE	"crab_ep_announce"	/* LPM: who gets the option */
#define CRAB_EP_MAP_ALLOW	"crab_ep_allow"		/* LPM: accepted redirectors */
#define CRAB_EP_MAP_PENDING	"crab_ep_pending"	/* announced SYN-SENT sockets */
#define CRAB_EP_MAP_FLOW_OUT	"crab_ep_flow_out"	/* (local, A) -> S */
#define CRAB_EP_MAP_FLOW_IN	"crab_ep_flow_in"	/* (local, S) -> A */

#define CRAB_EP_LPM_MAX		1024
#define CRAB_EP_PENDING_MAX	65536
#define CRAB_EP_FLOW_MAX	65536

/* tc filter handle/priority used for the client's ingress and egress filters */
#define CRAB_EP_TC_HANDLE	0xC4AB
#define CRAB_EP_TC_PRIO		0xC4AB

/* Runtime settings: array map with one element (key 0). */
struct crab_ep_cfg {
	__u32 enabled;		/* client: accept redirects at all */
	__u32 announce_any;	/* client: announce to every destination */
	__u32 allow_any;	/* client: accept redirects from any source */
	struct crab_opt_cfg opt;	/* option encoding (kind, ExID) */
};

/* LPM trie key for the CIDR maps (prefixlen + IPv4 address, network order). */
struct crab_ep_lpm_key {
	__u32 prefixlen;
	__be32 addr;
};

/*
 * A TCP connection as seen from the client: local address/port and remote
 * address/port, all in network byte order. For crab_ep_pending and
 * crab_ep_flow_out the remote is the dialed address A; for crab_ep_flow_in it
 * is the server S that answered.
 */
struct crab_ep_key {
	__be32 laddr;
	__be32 raddr;
	__be16 lport;
	__be16 rport;
};

/* crab_ep_pending value: the socket's ISN (host order) from its SYN. */
struct crab_ep_pending {
	__u32 isn;
	__u32 pad;
};

/* crab_ep_flow_out / crab_ep_flow_in value: the other address of the pair. */
struct crab_ep_flow {
	__be32 addr;
	__u32 pad;
};

/*
 * Counters (per-CPU array indexed by enum crab_ep_counter).
 * X(enum_suffix, "name", "help")
 */
#define CRAB_EP_COUNTERS(X)						\
	X(ANNOUNCED, "announced", "client SYNs sent with the option")	\
	X(ANNOUNCE_NO_ROOM, "announce_no_room", "client SYNs without room for the option") \
	X(ECHOED, "echoed", "server SYN-ACKs carrying the echoed option") \
	X(ECHO_NO_ROOM, "echo_no_room", "server SYN-ACKs without room for the option") \
	X(SYN_OPT_MALFORMED, "syn_opt_malformed", "SYNs whose option walk ended on a bad length") \
	X(SYN_OPT_BAD_LEN, "syn_opt_bad_len", "redirect options of a wrong length in SYNs") \
	X(REDIRECTED, "redirected", "SYN-ACKs accepted as a redirect")	\
	X(REJ_NOT_ANNOUNCED, "rejected_not_announced", "redirect for no announced SYN-SENT socket") \
	X(REJ_BAD_ACK, "rejected_bad_ack", "redirect not acknowledging ISN + 1") \
	X(REJ_ALLOW, "rejected_allow", "redirect from a source outside the allow-list") \
	X(REJ_DISABLED, "rejected_disabled", "redirect while redirection is disabled") \
	X(REJ_FLOW_FULL, "rejected_flow_full", "redirect whose flow could not be recorded") \
	X(SYNACK_OPT_MALFORMED, "synack_opt_malformed", "SYN-ACKs whose option walk ended on a bad length") \
	X(RX_REWRITTEN, "rx_rewritten", "packets from S rewritten to come from A") \
	X(TX_REWRITTEN, "tx_rewritten", "packets to A rewritten to go to S") \
	X(TX_NO_ROUTE, "tx_no_route", "packets to S without a route (dropped)") \
	X(BAD_HEADER, "bad_header", "truncated or malformed IPv4/TCP headers (passed)") \
	X(FLOWS_CLOSED, "flows_closed", "redirected connections whose state was removed")

#define CRAB_EP_CNT_ENUM(e, n, h) CRAB_EP_CNT_##e,
enum crab_ep_counter {
	CRAB_EP_COUNTERS(CRAB_EP_CNT_ENUM)
	CRAB_EP_CNT_MAX,
};
#undef CRAB_EP_CNT_ENUM

#endif /* CRAB_BPF_EP_H */
