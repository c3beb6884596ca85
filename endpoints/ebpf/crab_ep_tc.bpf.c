// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB eBPF client endpoint, packet half (SPEC 3.4), tc programs on the
 * client's interface.
 *
 * Ingress: a SYN-ACK from S carrying the option naming A != S is a redirect
 * request for the socket connected to A with the same ports. It is accepted
 * only if redirection is enabled, crab_ep_pending holds that socket (it is
 * in SYN-SENT and announced), the SYN-ACK acknowledges its ISN + 1 and S is
 * in the allow-list. Then the flow is recorded in both directions and the
 * SYN-ACK's source is rewritten to A, so the socket, still keyed on A,
 * accepts it; later packets from S are rewritten the same way. Rejected
 * SYN-ACKs pass untouched (the stack answers them with RST), counted.
 *
 * Egress: packets of a redirected connection to A get S as destination and
 * the next hop of S (bpf_fib_lookup, or bpf_redirect_neigh when that
 * cannot answer: neighbour not resolved, forwarding off on the device).
 *
 * Cost per packet: one header load and one hash lookup in each direction;
 * a redirected packet adds a 4-byte rewrite with two checksum fixups, and a
 * FIB lookup on egress.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "crab_ep_common.h"
#include "crab_ep_flows.h"


#define AF_INET		2
#define L3_OFF		CRAB_TC_L3_OFF
#define IP_CSUM_OFF	(L3_OFF + offsetof(struct iphdr, check))
#define IP_SRC_OFF	(L3_OFF + offsetof(struct iphdr, saddr))
#define IP_DST_OFF	(L3_OFF + offsetof(struct iphdr, daddr))

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRAB_EP_LPM_MAX);
	__type(key, struct crab_ep_lpm_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_allow SEC(".maps");

/* Replace the IPv4 address at @off (saddr or daddr), fixing both checksums. */
static __always_inline int rewrite_addr(struct __sk_buff *skb, __u32 l4off,
					__u32 off, __be32 from, __be32 to)
{
	if (bpf_l4_csum_replace(skb, l4off + offsetof(struct tcphdr, check),
				from, to, BPF_F_PSEUDO_HDR | sizeof(to)))
		return -1;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, from, to, sizeof(to)))
		return -1;
	return bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0);
}

/* Returns 1 when the SYN-ACK was accepted (and rewritten). */
static __always_inline int try_redirect(struct __sk_buff *skb, struct crab_tc_pkt *p)
{
	struct crab_opt_walk w = {};
	const struct crab_ep_cfg *cfg;
	struct crab_ep_pending *pend;
	struct crab_ep_lpm_key lk;
	struct crab_ep_flow fo, fi;
	struct crab_ep_key ko, ki;
	__u32 optlen;
	__u64 len;
	__be32 a;
	int st;

	optlen = ((__u32)p->tcp.doff << 2) - sizeof(struct tcphdr);
	/*
	 * 6.1's verifier learns no lower bound from "optlen != 0" and would
	 * refuse the load below as possibly zero-sized: bound optlen - 1
	 * instead, behind a barrier so that clang neither folds the "+ 1"
	 * away nor moves the check to another register (64 bits: no
	 * zero-extension copy either).
	 */
	len = optlen - 1;
	asm volatile("" : "+r"(len));
	if (len >= CRAB_TCP_MAX_OPTLEN)
		return 0;
	len += 1;
	if (bpf_skb_load_bytes(skb, p->l4off + sizeof(struct tcphdr), w.opt,
			       len))
		return 0;
	cfg = crab_ep_get_cfg();
	crab_ep_opt_cfg(cfg, &w.st.cfg);
	st = crab_opt_walk_bpf(&w, len, &w.st.cfg);
	if (st == CRAB_OPT_MALFORMED)
		crab_ep_count(CRAB_EP_CNT_SYNACK_OPT_MALFORMED);
	if (st != CRAB_OPT_FOUND)
		return 0;
	a = bpf_htonl(w.st.res.addr);
	if (a == p->ip.saddr)
		return 0;	/* an echo on a connection dialed directly */
	if (!cfg || !cfg->enabled) {
		crab_ep_count(CRAB_EP_CNT_REJ_DISABLED);
		return 0;
	}
	ko.laddr = p->ip.daddr;
	ko.raddr = a;
	ko.lport = p->tcp.dest;
	ko.rport = p->tcp.source;
	pend = bpf_map_lookup_elem(&crab_ep_pending, &ko);
	if (!pend) {
		crab_ep_count(CRAB_EP_CNT_REJ_NOT_ANNOUNCED);
		return 0;
	}
	if (bpf_ntohl(p->tcp.ack_seq) != pend->isn + 1) {
		crab_ep_count(CRAB_EP_CNT_REJ_BAD_ACK);
		return 0;
	}
	if (!cfg->allow_any) {
		lk.prefixlen = 32;
		lk.addr = p->ip.saddr;
		if (!bpf_map_lookup_elem(&crab_ep_allow, &lk)) {
			crab_ep_count(CRAB_EP_CNT_REJ_ALLOW);
			return 0;
		}
	}
	ki = ko;
	ki.raddr = p->ip.saddr;
	fo.addr = p->ip.saddr;
	fo.pad = 0;
	fi.addr = a;
	fi.pad = 0;
	if (bpf_map_update_elem(&crab_ep_flow_out, &ko, &fo, BPF_ANY)) {
		crab_ep_count(CRAB_EP_CNT_REJ_FLOW_FULL);
		return 0;
	}
	if (bpf_map_update_elem(&crab_ep_flow_in, &ki, &fi, BPF_ANY)) {
		bpf_map_delete_elem(&crab_ep_flow_out, &ko);
		crab_ep_count(CRAB_EP_CNT_REJ_FLOW_FULL);
		return 0;
	}
	if (rewrite_addr(skb, p->l4off, IP_SRC_OFF, p->ip.saddr, a)) {
		crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		return 0;
	}
	crab_ep_count(CRAB_EP_CNT_REDIRECTED);
	return 1;
}

SEC("tc")
int crab_ep_tc_ingress(struct __sk_buff *skb)
{
	struct crab_ep_flow *f;
	struct crab_ep_key k;
	struct crab_tc_pkt p;
	int r;

	r = crab_tc_load_pkt(skb, &p);
	if (r) {
		if (r < 0)
			crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		return TC_ACT_OK;
	}
	k.laddr = p.ip.daddr;
	k.raddr = p.ip.saddr;
	k.lport = p.tcp.dest;
	k.rport = p.tcp.source;
	f = bpf_map_lookup_elem(&crab_ep_flow_in, &k);
	if (f) {
		/* Also covers a retransmitted SYN-ACK of an accepted redirect. */
		if (rewrite_addr(skb, p.l4off, IP_SRC_OFF, p.ip.saddr, f->addr))
			crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		else
			crab_ep_count(CRAB_EP_CNT_RX_REWRITTEN);
		return TC_ACT_OK;
	}
	if (p.tcp.syn && p.tcp.ack)
		try_redirect(skb, &p);
	return TC_ACT_OK;
}

SEC("tc")
int crab_ep_tc_egress(struct __sk_buff *skb)
{
	struct bpf_fib_lookup fib = {};
	struct crab_ep_flow *f;
	struct crab_ep_key k;
	struct crab_tc_pkt p;
	__be32 s;
	int r;

	r = crab_tc_load_pkt(skb, &p);
	if (r)
		return TC_ACT_OK;
	k.laddr = p.ip.saddr;
	k.raddr = p.ip.daddr;
	k.lport = p.tcp.source;
	k.rport = p.tcp.dest;
	f = bpf_map_lookup_elem(&crab_ep_flow_out, &k);
	if (!f)
		return TC_ACT_OK;
	s = f->addr;
	if (rewrite_addr(skb, p.l4off, IP_DST_OFF, p.ip.daddr, s)) {
		crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		return TC_ACT_SHOT;
	}
	crab_ep_count(CRAB_EP_CNT_TX_REWRITTEN);

	/* The cached route still leads to A's next hop (the LB): redo L2. */
	fib.family = AF_INET;
	fib.tos = p.ip.tos;
	fib.l4_protocol = IPPROTO_TCP;
	fib.tot_len = bpf_ntohs(p.ip.tot_len);
	fib.ipv4_src = p.ip.saddr;
	fib.ipv4_dst = s;
	fib.ifindex = skb->ifindex;
	r = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT);
	switch (r) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		if (bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) ||
		    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0)) {
			crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
			return TC_ACT_SHOT;
		}
		if (fib.ifindex == skb->ifindex)
			return TC_ACT_OK;
		return bpf_redirect(fib.ifindex, 0);
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		crab_ep_count(CRAB_EP_CNT_TX_NO_ROUTE);
		return TC_ACT_SHOT;
	default:
		/*
		 * NO_NEIGH, and FWD_DISABLED: bpf_fib_lookup() wants forwarding
		 * on the device even for output lookups, and a client host
		 * usually has it off. bpf_redirect_neigh() routes and resolves
		 * the neighbour itself.
		 */
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	}
}

char LICENSE[] SEC("license") = "GPL";
