/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NodePort redirection experiment (experiments/nodeport/): what the tc
 * programs on the nodes and on the front LB share with the inspection tool
 * (crab-np-stats). Only map names, keys/values and counters live here.
 *
 * Maps are pinned with "bpftool prog loadall ... pinmaps DIR", one DIR per
 * network namespace, so each namespace has its own instances.
 */
#ifndef CRAB_NP_H
#define CRAB_NP_H

#include <linux/types.h>
#include "crab_opt.h"

/* Map names (also the pinned file names under the pinmaps directory). */
#define CRAB_NP_MAP_CFG		"np_cfg"
#define CRAB_NP_MAP_STATS	"np_stats"
#define CRAB_NP_MAP_PEERS	"np_peers"	/* node: other nodes; LB: its nodes */
#define CRAB_NP_MAP_SVC		"np_svc"	/* node: local endpoint -> NodePort */
#define CRAB_NP_MAP_IN		"np_in"		/* node: direct packets from the LB */
#define CRAB_NP_MAP_OUT		"np_out"	/* node: the local pod's packets */
#define CRAB_NP_MAP_LB		"np_lb"		/* LB: flows sent to the pod's node */

#define CRAB_NP_PEERS_MAX	256
#define CRAB_NP_SVC_MAX		1024
#define CRAB_NP_FLOW_MAX	65536

/* Runtime settings: array map with one element (key 0). */
struct crab_np_cfg {
	__be32 self;		/* node: the address its echo names */
	__u32 idle_timeout;	/* seconds without a packet before a flow expires */
	struct crab_opt_cfg opt;	/* option encoding (kind, ExID) */
};

/* A TCP 4-tuple, network byte order, as it is on the wire. */
struct crab_np_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
};

/* np_svc key: a local endpoint (pod address and port). Value: __be16 NodePort. */
struct crab_np_ep {
	__be32 addr;
	__be16 port;
	__u16 pad;
};

/* np_peers value: the peer's MAC (the LB uses it as the L2 next hop). */
struct crab_np_peer {
	__u8 mac[6];
	__u16 pad;
};

enum crab_np_state {
	CRAB_NP_PENDING = 1,	/* SYN recorded, echo sent; LB not heard from */
	CRAB_NP_ACTIVE = 2,	/* a packet arrived directly: translate both ways */
};

#define CRAB_NP_FIN_IN	1	/* FIN seen from the client side */
#define CRAB_NP_FIN_OUT	2	/* FIN seen from the pod side */

/*
 * np_in / np_out value: the tuple to write into a matching packet, and the
 * flow's state. np_lb value: tuple.daddr is the pod's node (the next hop).
 */
struct crab_np_flow {
	struct crab_np_tuple to;
	__u8 state;		/* enum crab_np_state */
	__u8 fin;		/* CRAB_NP_FIN_* */
	__u16 pad;
	__u32 pad2;
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last packet */
};

/*
 * Counters, one per-CPU array per program object (per namespace); each role
 * uses its own subset. X(enum_suffix, "name", "help")
 */
#define CRAB_NP_COUNTERS(X)						\
	X(SYN_OPT_ADDED, "syn_opt_added", "node: forwarded NodePort SYNs given the option (client address)") \
	X(SYN_NO_CT, "syn_no_ct", "node: forwarded SYN without a conntrack entry (no option)") \
	X(SYN_NOT_NAT, "syn_not_nat", "node: forwarded SYN not DNATed and masqueraded (no option)") \
	X(SYN_PORT_CHANGED, "syn_port_changed", "node: masquerade changed the source port (no option)") \
	X(SYN_HAS_OPT, "syn_has_opt", "node: forwarded SYN already carrying a redirect option (left alone)") \
	X(SYN_NO_ROOM, "syn_no_room", "node: SYN or SYN-ACK with data or no header room (no option)") \
	X(FLOW_RECORDED, "flow_recorded", "node: SYNs with the option recorded for a local pod") \
	X(OPT_STRIPPED, "opt_stripped", "options replaced by NOPs before the receiver saw them") \
	X(REJ_NOT_PEER, "rejected_not_peer", "option from a source that is not a known node") \
	X(REJ_NO_SERVICE, "rejected_no_service", "node: option in a SYN to no known local endpoint") \
	X(REJ_FLOW_FULL, "rejected_flow_full", "flows that could not be recorded") \
	X(ECHOED, "echoed", "node: pod SYN-ACKs given the option naming this node") \
	X(ACTIVATED, "activated", "node: flows whose first direct packet arrived") \
	X(XLATE_IN, "xlate_in", "node: direct packets translated to the pod's tuple") \
	X(XLATE_OUT, "xlate_out", "node: pod packets translated and sent to the LB directly") \
	X(LEARNED, "learned", "LB: SYN-ACKs whose option moved the flow to the pod's node") \
	X(REJ_NO_CT, "rejected_no_ct", "LB: option SYN-ACK matching no conntrack entry") \
	X(REJ_NOT_REPLY, "rejected_not_reply", "LB: option SYN-ACK not in the reply direction of a DNATed flow") \
	X(REJ_SEEN_REPLY, "rejected_seen_reply", "LB: option SYN-ACK for a flow that already had a reply") \
	X(REJ_SRC_MAC, "rejected_src_mac", "LB: option SYN-ACK not sent from the MAC of the node it claims to come from") \
	X(SAME_NODE, "same_node", "LB: option naming the node it came from (nothing to move)") \
	X(FWD_DIRECT, "fwd_direct", "LB: packets sent to the pod's node directly") \
	X(FLOWS_CLOSED, "flows_closed", "flows removed after FIN in both directions or RST") \
	X(FLOWS_EXPIRED, "flows_expired", "flows removed after the idle timeout") \
	X(OPT_MALFORMED, "opt_malformed", "option walks that ended on a bad length") \
	X(BAD_HEADER, "bad_header", "truncated or malformed headers, failed rewrites")

#define CRAB_NP_CNT_ENUM(e, n, h) CRAB_NP_CNT_##e,
enum crab_np_counter {
	CRAB_NP_COUNTERS(CRAB_NP_CNT_ENUM)
	CRAB_NP_CNT_MAX,
};
#undef CRAB_NP_CNT_ENUM

#endif /* CRAB_NP_H */
