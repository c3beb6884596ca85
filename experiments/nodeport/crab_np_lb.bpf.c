// SPDX-License-Identifier: GPL-2.0-only
/*
 * NodePort redirection, front LB side: tc ingress and egress on the LB's
 * interface toward the nodes. The LB itself is nft DNAT (conntrack); these
 * programs only move a flow's next hop.
 *
 * Ingress (before conntrack): a SYN-ACK carrying the option names the node
 * where the pod lives. It is believed only if the LB's conntrack has a
 * DNATed flow whose reply direction is exactly this packet and that has
 * not seen a reply yet (so it answers a SYN this LB forwarded), it comes
 * from the MAC of the node it claims to come from, and the named node is
 * one of the LB's nodes. Then np_lb[client -> first node's
 * NodePort] = named node. The option is replaced by NOPs in every case:
 * clients are plain TCP.
 * Egress (after conntrack's DNAT): a packet of such a flow keeps its IP
 * header (still addressed to the first node's NodePort, which the pod's
 * node translates) and gets the pod's node's MAC as destination: the
 * L2 next hop moves, conntrack here sees the whole connection as before.
 * FIN in both directions or RST removes the entry; so does the idle
 * timeout, checked when the flow's next packet shows up (LRU besides).
 */
#include "crab_np_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_NP_FLOW_MAX);
	__type(key, struct crab_np_tuple);
	__type(value, struct crab_np_flow);
} np_lb SEC(".maps");

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	int i;

	for (i = 0; i < ETH_ALEN; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static __always_inline void synack_learn(struct __sk_buff *skb, struct crab_tc_pkt *p,
					 const struct crab_np_cfg *cfg)
{
	struct crab_opt_walk w = {};
	struct crab_np_flow nf = {};
	struct crab_np_tuple t, k;
	struct crab_np_peer *from;
	struct np_ct_info ci;
	__u8 smac[ETH_ALEN];
	__be32 node;

	np_opt_cfg(cfg, &w.st.cfg);
	if (np_find_opt(skb, p, &w, &w.st.cfg) != CRAB_OPT_FOUND)
		return;
	if (np_strip_opt(skb, p, &w))
		np_count(CRAB_NP_CNT_BAD_HEADER);
	node = bpf_htonl(w.st.res.addr);
	pkt_tuple(p, &t);
	tuple_rev(&t, &k);	/* client:cport -> first node:NodePort */
	if (np_ct_lookup(skb, &t, &ci)) {
		np_count(CRAB_NP_CNT_REJ_NO_CT);
		return;
	}
	/* The reply of a flow this LB DNATed (orig dst = VIP), not yet
	 * answered: anything else is not an answer to our SYN. */
	if (ci.dir != NP_CT_DIR_REPLY || ci.orig.daddr == ci.reply.saddr) {
		np_count(CRAB_NP_CNT_REJ_NOT_REPLY);
		return;
	}
	/* Also a retransmitted SYN-ACK of a flow already moved: the entry
	 * stays as it was learned. */
	if (ci.seen_reply) {
		np_count(CRAB_NP_CNT_REJ_SEEN_REPLY);
		return;
	}
	/* Both the node named and the node it came from are this LB's, and
	 * it came from that node's MAC (an IP spoofer on the segment does
	 * not get to move flows). */
	from = bpf_map_lookup_elem(&np_peers, &p->ip.saddr);
	if (!from || !bpf_map_lookup_elem(&np_peers, &node)) {
		np_count(CRAB_NP_CNT_REJ_NOT_PEER);
		return;
	}
	if (bpf_skb_load_bytes(skb, ETH_ALEN, smac, ETH_ALEN) ||
	    !mac_eq(smac, from->mac)) {
		np_count(CRAB_NP_CNT_REJ_SRC_MAC);
		return;
	}
	if (node == p->ip.saddr) {
		np_count(CRAB_NP_CNT_SAME_NODE);
		return;
	}
	nf.to = k;
	nf.to.daddr = node;
	nf.state = CRAB_NP_ACTIVE;
	nf.last_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&np_lb, &k, &nf, BPF_ANY)) {
		np_count(CRAB_NP_CNT_REJ_FLOW_FULL);
		return;
	}
	np_count(CRAB_NP_CNT_LEARNED);
}

SEC("tc")
int crab_np_lb_ingress(struct __sk_buff *skb)
{
	const struct crab_np_cfg *cfg = np_get_cfg();
	struct crab_np_tuple t, k;
	struct crab_np_flow *f;
	struct crab_tc_pkt p;
	int r;

	r = crab_tc_load_pkt(skb, &p);
	if (r) {
		if (r < 0)
			np_count(CRAB_NP_CNT_BAD_HEADER);
		return TC_ACT_OK;
	}
	if (p.tcp.syn && p.tcp.ack) {
		synack_learn(skb, &p, cfg);
		return TC_ACT_OK;
	}
	/* Replies of a moved flow: only the end of the flow matters here
	 * (the last ACK too, when the pod closed first). */
	pkt_tuple(&p, &t);
	tuple_rev(&t, &k);
	f = bpf_map_lookup_elem(&np_lb, &k);
	if (f && np_flow_done(f, NULL, &p, CRAB_NP_FIN_OUT, 0)) {
		np_count(CRAB_NP_CNT_FLOWS_CLOSED);
		bpf_map_delete_elem(&np_lb, &k);
	}
	return TC_ACT_OK;
}

SEC("tc")
int crab_np_lb_egress(struct __sk_buff *skb)
{
	const struct crab_np_cfg *cfg = np_get_cfg();
	struct crab_np_peer *peer;
	struct crab_np_tuple k;
	struct crab_np_flow *f;
	struct crab_tc_pkt p;
	__u64 now;
	int r;

	r = crab_tc_load_pkt(skb, &p);
	if (r)
		return TC_ACT_OK;
	pkt_tuple(&p, &k);
	f = bpf_map_lookup_elem(&np_lb, &k);
	if (!f)
		return TC_ACT_OK;
	now = bpf_ktime_get_ns();
	if (now - f->last_ns > np_timeout_ns(cfg)) {
		np_count(CRAB_NP_CNT_FLOWS_EXPIRED);
		bpf_map_delete_elem(&np_lb, &k);
		return TC_ACT_OK;
	}
	f->last_ns = now;
	peer = bpf_map_lookup_elem(&np_peers, &f->to.daddr);
	if (!peer) {
		/* The node was removed from the LB: back to the normal path. */
		bpf_map_delete_elem(&np_lb, &k);
		np_count(CRAB_NP_CNT_REJ_NOT_PEER);
		return TC_ACT_OK;
	}
	if (bpf_skb_store_bytes(skb, 0, peer->mac, ETH_ALEN, 0)) {
		np_count(CRAB_NP_CNT_BAD_HEADER);
		return TC_ACT_OK;
	}
	np_count(CRAB_NP_CNT_FWD_DIRECT);
	if (np_flow_done(f, NULL, &p, CRAB_NP_FIN_IN, 0)) {
		np_count(CRAB_NP_CNT_FLOWS_CLOSED);
		bpf_map_delete_elem(&np_lb, &k);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
