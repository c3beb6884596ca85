/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the node and LB tc programs share: settings, counters and peers
 * maps, header loading, address/port rewrites, the option walk (the
 * project's crab_opt_walk_bpf()), option strip (NOPs) and append, and the
 * conntrack lookup kfunc (Linux >= 6.0; nf_conntrack may be a module).
 */
#ifndef CRAB_NP_COMMON_H
#define CRAB_NP_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <crab/crab_np.h>
#include <crab/crab_bpf_tc.h>

#define AF_INET		2
#define L3_OFF		CRAB_TC_L3_OFF
#define IP_CSUM_OFF	(L3_OFF + offsetof(struct iphdr, check))
#define IP_LEN_OFF	(L3_OFF + offsetof(struct iphdr, tot_len))
#define IP_SRC_OFF	(L3_OFF + offsetof(struct iphdr, saddr))
#define IP_DST_OFF	(L3_OFF + offsetof(struct iphdr, daddr))
#define NSEC		1000000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crab_np_cfg);
} np_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_NP_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} np_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_NP_PEERS_MAX);
	__type(key, __be32);
	__type(value, struct crab_np_peer);
} np_peers SEC(".maps");

static __always_inline void np_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&np_stats, &idx);

	if (v)
		*v += 1;	/* per-CPU slot */
}

static __always_inline const struct crab_np_cfg *np_get_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&np_cfg, &zero);
}

static __always_inline void np_opt_cfg(const struct crab_np_cfg *cfg,
				       struct crab_opt_cfg *oc)
{
	crab_tc_opt_cfg(cfg ? &cfg->opt : NULL, oc);
}

static __always_inline __u64 np_timeout_ns(const struct crab_np_cfg *cfg)
{
	return (cfg && cfg->idle_timeout ? cfg->idle_timeout : 300) * NSEC;
}

static __always_inline void pkt_tuple(const struct crab_tc_pkt *p,
				      struct crab_np_tuple *t)
{
	t->saddr = p->ip.saddr;
	t->daddr = p->ip.daddr;
	t->sport = p->tcp.source;
	t->dport = p->tcp.dest;
}

static __always_inline void tuple_rev(const struct crab_np_tuple *a,
				      struct crab_np_tuple *r)
{
	r->saddr = a->daddr;
	r->daddr = a->saddr;
	r->sport = a->dport;
	r->dport = a->sport;
}

/* Rewrite the packet's 4-tuple into @to, fixing the IP and TCP checksums. */
static __always_inline int rewrite_tuple(struct __sk_buff *skb,
					 const struct crab_tc_pkt *p,
					 const struct crab_np_tuple *to)
{
	__u32 csum = p->l4off + offsetof(struct tcphdr, check);

	if (p->ip.saddr != to->saddr) {
		if (bpf_l4_csum_replace(skb, csum, p->ip.saddr, to->saddr,
					BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, IP_CSUM_OFF, p->ip.saddr,
					to->saddr, 4) ||
		    bpf_skb_store_bytes(skb, IP_SRC_OFF, &to->saddr, 4, 0))
			return -1;
	}
	if (p->ip.daddr != to->daddr) {
		if (bpf_l4_csum_replace(skb, csum, p->ip.daddr, to->daddr,
					BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, IP_CSUM_OFF, p->ip.daddr,
					to->daddr, 4) ||
		    bpf_skb_store_bytes(skb, IP_DST_OFF, &to->daddr, 4, 0))
			return -1;
	}
	if (p->tcp.source != to->sport) {
		if (bpf_l4_csum_replace(skb, csum, p->tcp.source, to->sport, 2) ||
		    bpf_skb_store_bytes(skb, p->l4off +
					offsetof(struct tcphdr, source),
					&to->sport, 2, 0))
			return -1;
	}
	if (p->tcp.dest != to->dport) {
		if (bpf_l4_csum_replace(skb, csum, p->tcp.dest, to->dport, 2) ||
		    bpf_skb_store_bytes(skb, p->l4off +
					offsetof(struct tcphdr, dest),
					&to->dport, 2, 0))
			return -1;
	}
	return 0;
}

/*
 * Walk the segment's options with the shared walk. Returns the walk status
 * (CRAB_OPT_*), or CRAB_OPT_NONE when there are no options.
 */
static __always_inline int np_find_opt(struct __sk_buff *skb,
				       const struct crab_tc_pkt *p,
				       struct crab_opt_walk *w,
				       const struct crab_opt_cfg *oc)
{
	__u32 optlen = ((__u32)p->tcp.doff << 2) - sizeof(struct tcphdr);
	__u64 len;
	int st;

	/* As in endpoints/ebpf/crab_ep_tc.bpf.c: 6.1's verifier needs the
	 * "len - 1 < 40" form to know the load is not zero-sized. */
	len = optlen - 1;
	asm volatile("" : "+r"(len));
	if (len >= CRAB_TCP_MAX_OPTLEN)
		return CRAB_OPT_NONE;
	len += 1;
	if (bpf_skb_load_bytes(skb, p->l4off + sizeof(struct tcphdr), w->opt,
			       len))
		return CRAB_OPT_NONE;
	st = crab_opt_walk_bpf(w, len, oc);
	if (st == CRAB_OPT_MALFORMED)
		np_count(CRAB_NP_CNT_OPT_MALFORMED);
	return st;
}

/*
 * Replace the option found by np_find_opt() with NOPs (no length change,
 * so nothing else in the packet moves). The TCP checksum is fixed over the
 * 4-byte words covering it: options start at a 4-byte boundary of the
 * segment, so w->opt offsets have the segment's word alignment.
 */
static __always_inline int np_strip_opt(struct __sk_buff *skb,
					const struct crab_tc_pkt *p,
					struct crab_opt_walk *w)
{
	__u32 off = w->st.res.off, olen = crab_opt_len(&w->st.cfg);
	__u32 start = off & ~3U, i;
	__u8 old[12], new[12];
	__s64 diff;

	if (off + olen > CRAB_TCP_MAX_OPTLEN || start + 12 > CRAB_OPT_BUF_SIZE)
		return -1;
	for (i = 0; i < 12; i++) {
		old[i] = w->opt[(start + i) & (CRAB_OPT_BUF_SIZE - 1)];
		new[i] = (start + i >= off && start + i < off + olen) ?
			 CRAB_TCPOPT_NOP : old[i];
	}
	/* The 12 bytes may run past the options (into padding we do not own
	 * or past the packet): write only the words that changed. */
	if (((off + olen + 3) & ~3U) - start <= 8) {
		diff = bpf_csum_diff((__be32 *)old, 8, (__be32 *)new, 8, 0);
		if (bpf_skb_store_bytes(skb, p->l4off + 20 + start, new, 8, 0))
			return -1;
	} else {
		diff = bpf_csum_diff((__be32 *)old, 12, (__be32 *)new, 12, 0);
		if (bpf_skb_store_bytes(skb, p->l4off + 20 + start, new, 12, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, p->l4off + offsetof(struct tcphdr, check),
				0, diff, 0))
		return -1;
	np_count(CRAB_NP_CNT_OPT_STRIPPED);
	return 0;
}

/*
 * Append the 8-byte option naming @addr (network order) to a SYN or
 * SYN-ACK without payload: the packet grows at its tail, which is right
 * after the TCP header, so the header never moves (a CHECKSUM_PARTIAL
 * skb's csum_start stays right). Fixes doff, tot_len and both checksums.
 * Returns 0, or -1 (no room, payload, or a failed helper: nothing useful
 * was changed in the first two cases).
 */
static __always_inline int np_append_opt(struct __sk_buff *skb,
					 const struct crab_tc_pkt *p,
					 const struct crab_opt_cfg *oc,
					 __be32 addr)
{
	__u32 thl = (__u32)p->tcp.doff << 2, ihl = (__u32)p->ip.ihl << 2;
	__u32 iplen = bpf_ntohs(p->ip.tot_len);
	__u32 csum = p->l4off + offsetof(struct tcphdr, check);
	__u8 opt[TCPOLEN_CRAB_ALIGNED];
	__u16 oldw, neww;
	__s64 diff;

	if (iplen != ihl + thl || skb->len != L3_OFF + iplen ||
	    thl + TCPOLEN_CRAB_ALIGNED > 60) {
		np_count(CRAB_NP_CNT_SYN_NO_ROOM);
		return -1;
	}
	crab_opt_write(opt, oc, bpf_ntohl(addr));
	if (bpf_skb_change_tail(skb, skb->len + TCPOLEN_CRAB_ALIGNED, 0))
		goto bad;
	if (bpf_skb_store_bytes(skb, L3_OFF + iplen, opt, sizeof(opt), 0))
		goto bad;
	diff = bpf_csum_diff(NULL, 0, (__be32 *)opt, sizeof(opt), 0);
	if (bpf_l4_csum_replace(skb, csum, 0, diff, 0))
		goto bad;
	/* doff shares a 16-bit word with the flags. */
	if (bpf_skb_load_bytes(skb, p->l4off + 12, &oldw, 2))
		goto bad;
	neww = bpf_htons(bpf_ntohs(oldw) + ((TCPOLEN_CRAB_ALIGNED / 4) << 12));
	if (bpf_l4_csum_replace(skb, csum, oldw, neww, 2) ||
	    bpf_skb_store_bytes(skb, p->l4off + 12, &neww, 2, 0))
		goto bad;
	/* TCP length in the pseudo-header. */
	if (bpf_l4_csum_replace(skb, csum, bpf_htons(thl),
				bpf_htons(thl + TCPOLEN_CRAB_ALIGNED),
				BPF_F_PSEUDO_HDR | 2))
		goto bad;
	oldw = p->ip.tot_len;
	neww = bpf_htons(iplen + TCPOLEN_CRAB_ALIGNED);
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, oldw, neww, 2) ||
	    bpf_skb_store_bytes(skb, IP_LEN_OFF, &neww, 2, 0))
		goto bad;
	return 0;
bad:
	np_count(CRAB_NP_CNT_BAD_HEADER);
	return -1;
}

/*
 * FIN/RST bookkeeping of a flow kept in two entries (@f and @other, which
 * may be NULL): the FIN bits are recorded in both. @dir is CRAB_NP_FIN_IN
 * or _OUT. Returns 1 when the flow is over: RST; or both FINs seen and
 * either @at_fin (a flow on the normal path: its last ACK needs nothing
 * from us) or this is a later segment without FIN (the last ACK, which
 * still has to be translated).
 */
static __always_inline int np_flow_done(struct crab_np_flow *f,
					struct crab_np_flow *other,
					const struct crab_tc_pkt *p, __u8 dir,
					int at_fin)
{
	const __u8 both = CRAB_NP_FIN_IN | CRAB_NP_FIN_OUT;

	if (p->tcp.rst)
		return 1;
	if (p->tcp.fin) {
		f->fin |= dir;
		if (other)
			other->fin |= dir;
		return at_fin && f->fin == both;
	}
	return f->fin == both;
}

/* ---- conntrack lookup (kfunc) and the few nf_conn fields it needs ------- */

/* CO-RE views of the kernel's types: only the fields read here. */
union nf_inet_addr {
	__u32 all[4];
	__be32 ip;
} __attribute__((preserve_access_index));

union nf_conntrack_man_proto {
	__be16 all;
} __attribute__((preserve_access_index));

struct nf_conntrack_man {
	union nf_inet_addr u3;
	union nf_conntrack_man_proto u;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple {
	struct nf_conntrack_man src;
	struct {
		union nf_inet_addr u3;
		union {
			__be16 all;
		} u;
	} dst;
} __attribute__((preserve_access_index));

struct nf_conntrack_tuple_hash {
	struct nf_conntrack_tuple tuple;
} __attribute__((preserve_access_index));

struct nf_conn {
	unsigned long status;
	struct nf_conntrack_tuple_hash tuplehash[2];
} __attribute__((preserve_access_index));

/* struct bpf_ct_opts of net/netfilter/nf_conntrack_bpf.c, 12-byte form
 * (the only one 6.1 accepts; later kernels accept it too). */
struct bpf_ct_opts___np {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};

#define NP_CT_DIR_ORIGINAL	0
#define NP_CT_DIR_REPLY		1
#define NP_IPS_SEEN_REPLY	(1UL << 1)	/* IPS_SEEN_REPLY_BIT = 1 */
#define NP_BPF_F_CURRENT_NETNS	(-1)

extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb_ctx,
					 struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz,
					 struct bpf_ct_opts___np *opts,
					 __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

/*
 * What conntrack knows of the connection whose *reply* direction is @r:
 * the original tuple (before DNAT/SNAT), the direction @r matched in, and
 * whether a reply was already seen. Returns 0 when an entry was found.
 */
struct np_ct_info {
	struct crab_np_tuple orig;	/* original direction, as sent */
	struct crab_np_tuple reply;	/* reply direction, as expected */
	__u8 dir;
	__u8 seen_reply;
};

static __always_inline int np_ct_lookup(struct __sk_buff *skb,
					const struct crab_np_tuple *t,
					struct np_ct_info *ci)
{
	struct bpf_ct_opts___np opts = {
		.netns_id = NP_BPF_F_CURRENT_NETNS,
		.l4proto = IPPROTO_TCP,
	};
	struct bpf_sock_tuple bt = {};
	struct nf_conn *ct;

	bt.ipv4.saddr = t->saddr;
	bt.ipv4.daddr = t->daddr;
	bt.ipv4.sport = t->sport;
	bt.ipv4.dport = t->dport;
	ct = bpf_skb_ct_lookup(skb, &bt, sizeof(bt.ipv4), &opts, sizeof(opts));
	if (!ct)
		return -1;
	ci->orig.saddr = ct->tuplehash[NP_CT_DIR_ORIGINAL].tuple.src.u3.ip;
	ci->orig.daddr = ct->tuplehash[NP_CT_DIR_ORIGINAL].tuple.dst.u3.ip;
	ci->orig.sport = ct->tuplehash[NP_CT_DIR_ORIGINAL].tuple.src.u.all;
	ci->orig.dport = ct->tuplehash[NP_CT_DIR_ORIGINAL].tuple.dst.u.all;
	ci->reply.saddr = ct->tuplehash[NP_CT_DIR_REPLY].tuple.src.u3.ip;
	ci->reply.daddr = ct->tuplehash[NP_CT_DIR_REPLY].tuple.dst.u3.ip;
	ci->reply.sport = ct->tuplehash[NP_CT_DIR_REPLY].tuple.src.u.all;
	ci->reply.dport = ct->tuplehash[NP_CT_DIR_REPLY].tuple.dst.u.all;
	ci->seen_reply = !!(ct->status & NP_IPS_SEEN_REPLY);
	ci->dir = opts.dir;
	bpf_ct_release(ct);
	return 0;
}

#endif /* CRAB_NP_COMMON_H */
