// SPDX-License-Identifier: GPL-2.0-only
/*
 * NodePort redirection, node side: tc ingress and egress on a node's
 * uplink. Every node runs the same two programs; which role a packet plays
 * follows from the packet (see README.md, "Packet walk").
 *
 * Egress:
 *  - a SYN forwarded after kube-proxy's DNAT + masquerade (this node has no
 *    chosen local pod): conntrack (bpf_skb_ct_lookup on the reply tuple)
 *    gives the client's address and source port. When the masquerade kept
 *    the port, the option naming the client is appended; otherwise nothing
 *    is added and the reason is counted.
 *  - the local pod's SYN-ACK of a recorded flow: the option naming this node
 *    is appended (the echo the LB learns from); it still goes via the first
 *    node, which un-NATs it as usual.
 *  - the pod's later packets of an active flow: rewritten into what the
 *    LB's conntrack expects (first node's address and NodePort -> client)
 *    and sent to the LB directly.
 * Ingress:
 *  - a SYN from a known node with the option, to a local endpoint of a
 *    NodePort service: the flow is recorded in both directions and the
 *    option replaced by NOPs before the pod sees it.
 *  - a packet from the LB addressed to the first node's NodePort that
 *    matches a recorded flow: rewritten into the pod socket's tuple (first
 *    node's masqueraded address and port -> pod); the first one activates
 *    the flow (the pod's packets go direct from then on).
 * FIN in both directions or RST removes the flow; so does the idle timeout,
 * checked when a packet of the flow shows up (the maps are LRU besides).
 */
#include "crab_np_common.h"

/* Local endpoints of NodePort services: (pod, port) -> NodePort. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_NP_SVC_MAX);
	__type(key, struct crab_np_ep);
	__type(value, __be16);
} np_svc SEC(".maps");

/* Direct packets: (client, first node, cport, NodePort) -> pod tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_NP_FLOW_MAX);
	__type(key, struct crab_np_tuple);
	__type(value, struct crab_np_flow);
} np_in SEC(".maps");

/* Pod packets: (pod, first node, pport, mport) -> (first node:NodePort -> client). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_NP_FLOW_MAX);
	__type(key, struct crab_np_tuple);
	__type(value, struct crab_np_flow);
} np_out SEC(".maps");

/* Remove both entries of a flow, given one key and its value. */
static __always_inline void flow_del(void *map, const struct crab_np_tuple *k,
				     const struct crab_np_flow *f, void *other)
{
	struct crab_np_tuple ok;

	tuple_rev(&f->to, &ok);
	bpf_map_delete_elem(other, &ok);
	bpf_map_delete_elem(map, k);
}

/* The other entry of a flow (NULL if gone). */
static __always_inline struct crab_np_flow *
flow_other(void *other, const struct crab_np_flow *f)
{
	struct crab_np_tuple ok;

	tuple_rev(&f->to, &ok);
	return bpf_map_lookup_elem(other, &ok);
}

/* Egress: a forwarded SYN; add the option naming the client if we may. */
static __always_inline void syn_add_opt(struct __sk_buff *skb, struct crab_tc_pkt *p,
					const struct crab_np_cfg *cfg)
{
	struct crab_opt_walk w = {};
	struct crab_np_tuple t, r;
	struct np_ct_info ci;

	/* Our own SYNs and unmasqueraded ones are not ours to touch. */
	if (cfg && p->ip.saddr != cfg->self)
		return;
	pkt_tuple(p, &t);
	tuple_rev(&t, &r);
	if (np_ct_lookup(skb, &r, &ci)) {
		np_count(CRAB_NP_CNT_SYN_NO_CT);
		return;
	}
	/* DNAT (orig dst is not the pod) and SNAT (orig src is not us). */
	if (ci.dir != NP_CT_DIR_REPLY || ci.orig.daddr == p->ip.daddr ||
	    ci.orig.saddr == p->ip.saddr) {
		np_count(CRAB_NP_CNT_SYN_NOT_NAT);
		return;
	}
	/* The pod's node rebuilds the client's tuple from the SYN's source
	 * port: only a masquerade that kept it can be redirected. */
	if (ci.orig.sport != p->tcp.source) {
		np_count(CRAB_NP_CNT_SYN_PORT_CHANGED);
		return;
	}
	np_opt_cfg(cfg, &w.st.cfg);
	if (np_find_opt(skb, p, &w, &w.st.cfg) == CRAB_OPT_FOUND) {
		np_count(CRAB_NP_CNT_SYN_HAS_OPT);
		return;
	}
	if (!np_append_opt(skb, p, &w.st.cfg, ci.orig.saddr))
		np_count(CRAB_NP_CNT_SYN_OPT_ADDED);
}

SEC("tc")
int crab_np_node_egress(struct __sk_buff *skb)
{
	const struct crab_np_cfg *cfg = np_get_cfg();
	struct crab_opt_cfg oc;
	struct crab_np_tuple k;
	struct crab_np_flow *f;
	struct crab_tc_pkt p;
	__u64 now;
	int r;

	r = crab_tc_load_pkt(skb, &p);
	if (r) {
		if (r < 0)
			np_count(CRAB_NP_CNT_BAD_HEADER);
		return TC_ACT_OK;
	}
	pkt_tuple(&p, &k);
	f = bpf_map_lookup_elem(&np_out, &k);
	if (!f) {
		if (p.tcp.syn && !p.tcp.ack)
			syn_add_opt(skb, &p, cfg);
		return TC_ACT_OK;
	}
	now = bpf_ktime_get_ns();
	if (now - f->last_ns > np_timeout_ns(cfg)) {
		np_count(CRAB_NP_CNT_FLOWS_EXPIRED);
		flow_del(&np_out, &k, f, &np_in);
		return TC_ACT_OK;
	}
	f->last_ns = now;
	if (p.tcp.syn && p.tcp.ack) {
		/* The echo: every SYN-ACK of the flow (retransmissions too)
		 * names this node; it travels via the first node as usual. */
		if (!cfg || !cfg->self)
			return TC_ACT_OK;
		np_opt_cfg(cfg, &oc);
		if (!np_append_opt(skb, &p, &oc, cfg->self))
			np_count(CRAB_NP_CNT_ECHOED);
		return TC_ACT_OK;
	}
	if (f->state != CRAB_NP_ACTIVE) {
		/* The LB did not take the redirect: normal path; only watch
		 * for the end of the flow. */
		if (np_flow_done(f, NULL, &p, CRAB_NP_FIN_OUT, 1)) {
			np_count(CRAB_NP_CNT_FLOWS_CLOSED);
			flow_del(&np_out, &k, f, &np_in);
		}
		return TC_ACT_OK;
	}
	if (rewrite_tuple(skb, &p, &f->to)) {
		np_count(CRAB_NP_CNT_BAD_HEADER);
		return TC_ACT_SHOT;
	}
	np_count(CRAB_NP_CNT_XLATE_OUT);
	if (np_flow_done(f, p.tcp.fin ? flow_other(&np_in, f) : NULL, &p, CRAB_NP_FIN_OUT, 0)) {
		np_count(CRAB_NP_CNT_FLOWS_CLOSED);
		flow_del(&np_out, &k, f, &np_in);
	}
	/* The destination is now the client: route it (via the LB) and
	 * resolve that next hop; the rewritten packet matches nothing here
	 * when it comes through this hook again. */
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
}

/* Ingress: a SYN with the option; record the flow for a local endpoint. */
static __always_inline void syn_record(struct __sk_buff *skb, struct crab_tc_pkt *p,
				       const struct crab_np_cfg *cfg)
{
	struct crab_opt_walk w = {};
	struct crab_np_flow fi = {}, fo = {};
	struct crab_np_tuple ki, ko;
	struct crab_np_ep ep = {};
	__be16 *nodeport;
	__be32 client;

	np_opt_cfg(cfg, &w.st.cfg);
	if (np_find_opt(skb, p, &w, &w.st.cfg) != CRAB_OPT_FOUND)
		return;
	if (!bpf_map_lookup_elem(&np_peers, &p->ip.saddr)) {
		np_count(CRAB_NP_CNT_REJ_NOT_PEER);
		return;
	}
	ep.addr = p->ip.daddr;
	ep.port = p->tcp.dest;
	nodeport = bpf_map_lookup_elem(&np_svc, &ep);
	if (!nodeport) {
		np_count(CRAB_NP_CNT_REJ_NO_SERVICE);
		return;
	}
	client = bpf_htonl(w.st.res.addr);
	/* Direct packets: client:cport -> first node:NodePort, where cport
	 * is the SYN's source port (the first node checked it was kept). */
	ki.saddr = client;
	ki.daddr = p->ip.saddr;
	ki.sport = p->tcp.source;
	ki.dport = *nodeport;
	pkt_tuple(p, &fi.to);
	fi.state = CRAB_NP_PENDING;
	fi.last_ns = bpf_ktime_get_ns();
	/* Pod packets: pod:pport -> first node:mport, to be sent as
	 * first node:NodePort -> client:cport. */
	tuple_rev(&fi.to, &ko);
	tuple_rev(&ki, &fo.to);
	fo.state = CRAB_NP_PENDING;
	fo.last_ns = fi.last_ns;
	if (bpf_map_update_elem(&np_in, &ki, &fi, BPF_ANY)) {
		np_count(CRAB_NP_CNT_REJ_FLOW_FULL);
		return;
	}
	if (bpf_map_update_elem(&np_out, &ko, &fo, BPF_ANY)) {
		bpf_map_delete_elem(&np_in, &ki);
		np_count(CRAB_NP_CNT_REJ_FLOW_FULL);
		return;
	}
	np_count(CRAB_NP_CNT_FLOW_RECORDED);
	/* The pod is a plain server: it must not see the option. */
	if (np_strip_opt(skb, p, &w))
		np_count(CRAB_NP_CNT_BAD_HEADER);
}

SEC("tc")
int crab_np_node_ingress(struct __sk_buff *skb)
{
	const struct crab_np_cfg *cfg = np_get_cfg();
	struct crab_np_flow *f, *o;
	struct crab_np_tuple k, ok;
	struct crab_tc_pkt p;
	__u64 now;
	int r;

	r = crab_tc_load_pkt(skb, &p);
	if (r) {
		if (r < 0)
			np_count(CRAB_NP_CNT_BAD_HEADER);
		return TC_ACT_OK;
	}
	pkt_tuple(&p, &k);
	f = bpf_map_lookup_elem(&np_in, &k);
	if (!f) {
		if (p.tcp.syn && !p.tcp.ack) {
			syn_record(skb, &p, cfg);
			return TC_ACT_OK;
		}
		/* A pending flow's packets on the normal path (via the
		 * first node): only their end matters. */
		if (!(p.tcp.fin || p.tcp.rst))
			return TC_ACT_OK;
		tuple_rev(&k, &ok);
		o = bpf_map_lookup_elem(&np_out, &ok);
		if (o && o->state != CRAB_NP_ACTIVE &&
		    np_flow_done(o, NULL, &p, CRAB_NP_FIN_IN, 1)) {
			np_count(CRAB_NP_CNT_FLOWS_CLOSED);
			flow_del(&np_out, &ok, o, &np_in);
		}
		return TC_ACT_OK;
	}
	now = bpf_ktime_get_ns();
	if (now - f->last_ns > np_timeout_ns(cfg)) {
		np_count(CRAB_NP_CNT_FLOWS_EXPIRED);
		flow_del(&np_in, &k, f, &np_out);
		return TC_ACT_OK;
	}
	f->last_ns = now;
	if (f->state != CRAB_NP_ACTIVE) {
		f->state = CRAB_NP_ACTIVE;
		tuple_rev(&f->to, &ok);
		o = bpf_map_lookup_elem(&np_out, &ok);
		if (o)
			o->state = CRAB_NP_ACTIVE;
		np_count(CRAB_NP_CNT_ACTIVATED);
	}
	if (rewrite_tuple(skb, &p, &f->to)) {
		np_count(CRAB_NP_CNT_BAD_HEADER);
		return TC_ACT_SHOT;
	}
	np_count(CRAB_NP_CNT_XLATE_IN);
	if (np_flow_done(f, p.tcp.fin ? flow_other(&np_out, f) : NULL, &p, CRAB_NP_FIN_IN, 0)) {
		np_count(CRAB_NP_CNT_FLOWS_CLOSED);
		flow_del(&np_in, &k, f, &np_out);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
