// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB nf LB data path: NF_INET_PRE_ROUTING, IPv4 and IPv6, TCP to a
 * configured VIP:port. Everything else is accepted untouched.
 *
 *   SYN + option      -> policy picks a DIP; daddr := DIP, option := VIP
 *   SYN, no option    -> per service: drop | insert the option | hash (DSR)
 *   non-SYN           -> hash (DSR) in hash mode, else dropped
 *
 * Rewritten SYNs go on through the normal stack, which routes them to the
 * DIP (routing happens after PRE_ROUTING) and forwards them (ip_forward()).
 * Hash-mode packets keep the VIP as destination (the backends own it on
 * loopback), so they are forwarded here, as ip_forward() would, to the
 * backend's link-layer address, and the hook returns NF_STOLEN.
 *
 * IPv6 is the same with the 18-byte option (20 bytes inserted), behind at
 * most CRAB_LB_IPV6_EXT_MAX extension headers, and ip6_forward()'s rules
 * for hash mode.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/icmpv6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/random.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/checksum.h>
#include <net/dst.h>
#include <net/icmp.h>
#include <net/netfilter/nf_conntrack.h>
#if __has_include(<net/gso.h>)
#include <net/gso.h>	/* skb_gso_validate_network_len() since 6.5 */
#endif
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/route.h>

#include "lb_nf.h"

static inline void lb_be_inc(struct lb_svc *svc, const struct lb_cfg *c,
			     int idx)
{
	this_cpu_inc(svc->pcpu->be[c->be[idx].slot]);
}

/*
 * Backend for a new connection by the service policy (the model's pick,
 * crab_lb_model.h), or -1: rr and wrr take the service's 64-bit position,
 * random 32 random bits scaled by their top bits.
 */
static int lb_pick(struct lb_svc *svc, const struct lb_cfg *c)
{
	u64 pos = 0;
	u32 rnd = 0;
	u8 id;

	if (c->policy == CRAB_POLICY_RANDOM)
		rnd = get_random_u32();
	else
		pos = atomic64_inc_return(&svc->rr) - 1;
	id = crab_lb_pick(&c->t, c->policy, pos, rnd);
	return id < c->nbe ? id : -1;
}

/*
 * daddr := @dip in a header made writable by the caller. The address is in
 * the TCP pseudo-header: with CHECKSUM_PARTIAL only the seed in th->check
 * changes, inet_proto_csum_replace4() knows.
 */
static void lb_set_daddr(struct sk_buff *skb, unsigned int thoff, __be32 dip)
{
	struct iphdr *iph = ip_hdr(skb);
	struct tcphdr *th = (struct tcphdr *)(skb_network_header(skb) + thoff);

	csum_replace4(&iph->check, iph->daddr, dip);
	inet_proto_csum_replace4(&th->check, skb, iph->daddr, dip, true);
	iph->daddr = dip;
	/* routing after PRE_ROUTING must look at the new daddr */
	skb_dst_drop(skb);
}

/*
 * The option at @optoff (from the TCP header @th) := @vip (@alen bytes,
 * network order). The option may sit at any offset, the address at an odd
 * one: the checksum is diffed over the 16-bit aligned bytes that hold it
 * (the option is not in the pseudo-header).
 */
static void lb_opt_set_addr(struct sk_buff *skb, struct tcphdr *th,
			    unsigned int optoff, const void *vip,
			    unsigned int alen)
{
	unsigned int ao = optoff + crab_opt_addr_off(&lb_opt_cfg);
	unsigned int wlen = alen + 2 * (ao & 1);
	u8 *w = (u8 *)th + (ao & ~1U);
	__wsum before;

	if (!memcmp((u8 *)th + ao, vip, alen))
		return;
	before = csum_partial(w, wlen, 0);
	memcpy((u8 *)th + ao, vip, alen);
	inet_proto_csum_replace_by_diff(&th->check, skb,
					csum_sub(csum_partial(w, wlen, 0),
						 before), false, false);
}

/*
 * Redirect a SYN to @dip: the option at @optoff (from the TCP header)
 * names the VIP it arrived on, daddr becomes the DIP. Both changes are
 * folded into the checksums incrementally; the address is part of the TCP
 * pseudo-header, the option bytes are not.
 */
static int lb_redirect(struct sk_buff *skb, unsigned int thoff,
		       unsigned int thlen, unsigned int optoff, __be32 dip)
{
	struct tcphdr *th;

	if (skb_ensure_writable(skb, thoff + thlen))
		return -ENOMEM;
	th = (struct tcphdr *)(skb_network_header(skb) + thoff);
	lb_opt_set_addr(skb, th, optoff, &ip_hdr(skb)->daddr, sizeof(__be32));
	lb_set_daddr(skb, thoff, dip);
	return 0;
}

/*
 * Grow the TCP header by the aligned option naming the VIP (8 bytes, IPv6:
 * 20), right after the fixed header, before the existing options: an
 * option list may end in EOL, and a walk stops there, so an option
 * appended behind it would be seen by no one (docs/PROTOCOL.md 3.2; the
 * XDP and DPDK LBs insert at the same place). IPv6 extension headers stay
 * where they are. The existing options and the payload move up by a
 * multiple of 4 bytes, which keeps their 16-bit alignment, so the TCP
 * checksum only needs the new words, the new doff and the pseudo-header
 * length. Returns -ENOSPC when doff would pass 15 words.
 */
static int lb_insert(struct sk_buff *skb, unsigned int thoff,
		     unsigned int thlen, bool v6)
{
	unsigned int grow = v6 ? TCPOLEN_CRAB6_ALIGNED : TCPOLEN_CRAB_ALIGNED;
	struct tcphdr *th;
	unsigned int len, i;
	__be16 oldw, oldlen;
	u8 *opt;

	if (thlen + grow > 15 * 4)
		return -ENOSPC;
	if (skb_ensure_writable(skb, skb->len))
		return -ENOMEM;
	/* the whole packet is linear now: skb_put() below is legal */
	if (skb_tailroom(skb) < grow &&
	    pskb_expand_head(skb, 0, grow - skb_tailroom(skb), GFP_ATOMIC))
		return -ENOMEM;
	/* CHECKSUM_COMPLETE would no longer cover the grown packet; the
	 * TCP checksum stays correct, so let the receiver verify it.
	 */
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;

	th = (struct tcphdr *)(skb_network_header(skb) + thoff);
	len = skb->len - thoff;		/* TCP header + payload */
	opt = (u8 *)th + sizeof(*th);
	skb_put(skb, grow);
	memmove(opt + grow, opt, len - sizeof(*th));
	if (v6)
		crab_opt_write6(opt, &lb_opt_cfg, ipv6_hdr(skb)->daddr.s6_addr);
	else
		crab_opt_write(opt, &lb_opt_cfg, ntohl(ip_hdr(skb)->daddr));

	/* The pseudo-header's length: 16 bits (IPv4) or 32 (IPv6), the same
	 * one's-complement change either way, the high half being zero.
	 */
	inet_proto_csum_replace4(&th->check, skb, htonl(len),
				 htonl(len + grow), true);
	for (i = 0; i < grow; i += 4)
		inet_proto_csum_replace4(&th->check, skb, 0,
					 *(__be32 *)(opt + i), false);
	oldw = ((__be16 *)th)[6];
	th->doff += grow / 4;
	inet_proto_csum_replace2(&th->check, skb, oldw, ((__be16 *)th)[6],
				 false);

	if (v6) {
		ipv6_hdr(skb)->payload_len =
			htons(ntohs(ipv6_hdr(skb)->payload_len) + grow);
	} else {
		struct iphdr *iph = ip_hdr(skb);

		oldlen = iph->tot_len;
		iph->tot_len = htons(ntohs(oldlen) + grow);
		csum_replace2(&iph->check, oldlen, iph->tot_len);
	}
	return 0;
}

/*
 * A SYN sent on to a backend is all the LB sees of its connection: the
 * backend answers the client directly. A conntrack entry for it would only
 * fill the table (one per SYN, left in SYN_SENT until it times out), so the
 * SYN leaves untracked, as a `notrack` rule would make it. Any template a
 * raw-table rule attached is dropped first.
 */
static void lb_untrack(struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	nf_reset_ct(skb);
	nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
#endif
}

/* ip_forward()'s test: a DF packet longer than @mtu (GSO: by segment). */
static bool lb_exceeds_mtu(const struct sk_buff *skb, unsigned int mtu)
{
	if (skb->len <= mtu)
		return false;
	if (!(ip_hdr(skb)->frag_off & htons(IP_DF)))
		return false;
	if (IPCB(skb)->frag_max_size > mtu)
		return true;
	if (skb->ignore_df)
		return false;
	if (skb_is_gso(skb) && skb_gso_validate_network_len(skb, mtu))
		return false;
	return true;
}

static int lb_dsr_finish(struct net *net, struct sock *sk, struct sk_buff *skb)
{
	/* a receive timestamp is no departure time (fq would hold or drop) */
	skb_clear_tstamp(skb);
	return dst_output(net, sk, skb);
}

/*
 * DSR: the packet keeps daddr = VIP and goes to the backend's link-layer
 * address. It is forwarded the way ip_forward() forwards, over the route to
 * the DIP taken as the known next hop (FLOWI_FLAG_KNOWN_NH: the neighbour
 * used is the DIP's, not the VIP's): ICMP time exceeded when the TTL
 * expires, fragmentation needed (with the route's MTU) when a DF packet
 * does not fit it, TTL decremented, the receive timestamp cleared, and the
 * FORWARD and POST_ROUTING hooks traversed before the neighbour output
 * (which fragments a packet without DF, as forwarding does). IP options are
 * passed on unchanged. Returns 0 when the packet went on (consumed), or an
 * error with the packet, its route attached, still the caller's to drop.
 */
static int lb_dsr_xmit(struct net *net, struct sk_buff *skb, __be32 dip)
{
	struct flowi4 fl4 = {
		.daddr = dip,
		.flowi4_flags = FLOWI_FLAG_KNOWN_NH,
		.flowi4_scope = RT_SCOPE_UNIVERSE,
	};
	struct net_device *in = skb->dev;
	struct rtable *rt;
	unsigned int mtu;

	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	if (rt->rt_type != RTN_UNICAST) {
		ip_rt_put(rt);
		return -EHOSTUNREACH;
	}
	/* the route goes with the packet: icmp_send() needs one */
	skb_dst_drop(skb);
	skb_dst_set(skb, &rt->dst);
	skb_forward_csum(skb);
	if (ip_hdr(skb)->ttl <= 1) {
		__IP_INC_STATS(net, IPSTATS_MIB_INHDRERRORS);
		icmp_send(skb, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0);
		return -ETIMEDOUT;
	}
	mtu = ip_dst_mtu_maybe_forward(&rt->dst, true);
	if (lb_exceeds_mtu(skb, mtu)) {
		IP_INC_STATS(net, IPSTATS_MIB_FRAGFAILS);
		icmp_send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, htonl(mtu));
		return -EMSGSIZE;
	}
	if (skb_cow(skb, LL_RESERVED_SPACE(rt->dst.dev) + rt->dst.header_len))
		return -ENOMEM;
	ip_decrease_ttl(ip_hdr(skb));
	IPCB(skb)->flags |= IPSKB_FORWARDED;
	lb_untrack(skb);
	__IP_INC_STATS(net, IPSTATS_MIB_OUTFORWDATAGRAMS);
	NF_HOOK(NFPROTO_IPV4, NF_INET_FORWARD, net, NULL, skb, in,
		rt->dst.dev, lb_dsr_finish);
	return 0;
}

/* ---- IPv6 ------------------------------------------------------------- */

/* What lb_parse6() made of an IPv6 packet. */
enum {
	LB_P6_TCP,	/* a TCP header at *thoff (not yet checked) */
	LB_P6_PASS,	/* not the LB's whatever the address */
	LB_P6_FRAG,	/* a fragment header: dropped if to a VIP */
	LB_P6_LIMIT,	/* more extension headers than walked: idem */
	LB_P6_BOGUS,	/* an extension header past the packet: idem */
};

/*
 * Walk at most CRAB_LB_IPV6_EXT_MAX extension headers (hop-by-hop,
 * routing, destination options) to the TCP header, as the XDP and DPDK
 * LBs do. A routing header with segments left makes the VIP a hop on the
 * way, not the destination: not the LB's. The IPv6 input path has
 * trimmed the packet to its payload length.
 */
static int lb_parse6(const struct sk_buff *skb, unsigned int *thoff)
{
	unsigned int off = skb_network_offset(skb) + sizeof(struct ipv6hdr);
	u8 nh = ipv6_hdr(skb)->nexthdr;
	const u8 *eh;
	u8 _eh[4];
	int i;

	for (i = 0; ; i++) {
		if (nh == IPPROTO_TCP) {
			*thoff = off;
			return LB_P6_TCP;
		}
		if (nh == NEXTHDR_FRAGMENT)
			return LB_P6_FRAG;
		if (nh != NEXTHDR_HOP && nh != NEXTHDR_ROUTING &&
		    nh != NEXTHDR_DEST)
			return LB_P6_PASS;	/* ICMPv6, UDP, ESP, ... */
		if (i == CRAB_LB_IPV6_EXT_MAX)
			return LB_P6_LIMIT;
		eh = skb_header_pointer(skb, off, sizeof(_eh), _eh);
		if (!eh)
			return LB_P6_BOGUS;
		if (nh == NEXTHDR_ROUTING && eh[3])
			return LB_P6_PASS;
		nh = eh[0];
		off += (eh[1] + 1) * 8;
	}
}

/* daddr := @dip; the pseudo-header changes with it (see lb_set_daddr()). */
static void lb_set_daddr6(struct sk_buff *skb, unsigned int thoff,
			  const __be32 *dip)
{
	struct ipv6hdr *ip6 = ipv6_hdr(skb);
	struct tcphdr *th = (struct tcphdr *)(skb_network_header(skb) + thoff);

	inet_proto_csum_replace16(&th->check, skb, ip6->daddr.s6_addr32, dip,
				  true);
	memcpy(&ip6->daddr, dip, sizeof(ip6->daddr));
	skb_dst_drop(skb);
}

static int lb_redirect6(struct sk_buff *skb, unsigned int thoff,
			unsigned int thlen, unsigned int optoff,
			const __be32 *dip)
{
	struct tcphdr *th;

	if (skb_ensure_writable(skb, thoff + thlen))
		return -ENOMEM;
	th = (struct tcphdr *)(skb_network_header(skb) + thoff);
	lb_opt_set_addr(skb, th, optoff, &ipv6_hdr(skb)->daddr,
			sizeof(struct in6_addr));
	lb_set_daddr6(skb, thoff, dip);
	return 0;
}

/* ip6_forward()'s test: longer than @mtu and not allowed to be. */
static bool lb_too_big6(const struct sk_buff *skb, unsigned int mtu)
{
	if (skb->len <= mtu)
		return false;
	/* reassembled by conntrack: the largest fragment counts */
	if (IP6CB(skb)->frag_max_size && IP6CB(skb)->frag_max_size > mtu)
		return true;
	if (skb->ignore_df)
		return false;
	if (skb_is_gso(skb) && skb_gso_validate_network_len(skb, mtu))
		return false;
	return true;
}

/*
 * lb_dsr_xmit() for IPv6, after ip6_forward(): the route to the DIP taken
 * as the known next hop (FLOWI_FLAG_KNOWN_NH: a clone whose next hop is
 * the DIP, not the VIP in the header), ICMPv6 time exceeded when the hop
 * limit runs out, packet too big (the route's MTU) when it does not fit,
 * hop limit decremented, FORWARD and POST_ROUTING traversed.
 */
static int lb_dsr_xmit6(struct net *net, struct sk_buff *skb,
			const __be32 *dip)
{
	struct flowi6 fl6 = {
		.flowi6_flags = FLOWI_FLAG_KNOWN_NH,
	};
	struct net_device *in = skb->dev;
	struct dst_entry *dst;
	unsigned int mtu;
	int err;

	memcpy(&fl6.daddr, dip, sizeof(fl6.daddr));
	dst = ip6_route_output(net, NULL, &fl6);
	err = dst->error;
	if (!err && (dst->dev->flags & IFF_LOOPBACK))
		err = -EHOSTUNREACH;
	if (err) {
		dst_release(dst);
		return err;
	}
	skb_dst_drop(skb);
	skb_dst_set(skb, dst);
	skb_forward_csum(skb);
	if (ipv6_hdr(skb)->hop_limit <= 1) {
		__IP6_INC_STATS(net, __in6_dev_get(in), IPSTATS_MIB_INHDRERRORS);
		icmpv6_send(skb, ICMPV6_TIME_EXCEED, ICMPV6_EXC_HOPLIMIT, 0);
		return -ETIMEDOUT;
	}
	mtu = max_t(unsigned int, dst_mtu(dst), IPV6_MIN_MTU);
	if (lb_too_big6(skb, mtu)) {
		__IP6_INC_STATS(net, ip6_dst_idev(dst), IPSTATS_MIB_FRAGFAILS);
		icmpv6_send(skb, ICMPV6_PKT_TOOBIG, 0, mtu);
		return -EMSGSIZE;
	}
	if (skb_cow(skb, LL_RESERVED_SPACE(dst->dev) + dst->header_len))
		return -ENOMEM;
	ipv6_hdr(skb)->hop_limit--;
	lb_untrack(skb);
	__IP6_INC_STATS(net, ip6_dst_idev(dst), IPSTATS_MIB_OUTFORWDATAGRAMS);
	NF_HOOK(NFPROTO_IPV6, NF_INET_FORWARD, net, NULL, skb, in, dst->dev,
		lb_dsr_finish);
	return 0;
}

/* ---- both families ------------------------------------------------------ */

/*
 * Hash-mode forwarding of any packet of a flow; returns the verdict. A SYN
 * never starts a flow on a draining backend (crab_lb_model.h): dropped.
 */
static unsigned int lb_hash_fwd(struct net *net, struct lb_svc *svc,
				const struct lb_cfg *c, struct sk_buff *skb,
				const struct tcphdr *th,
				enum crab_lb_counter ok)
{
	bool syn = ok == CRAB_LB_CNT_SYN_HASHED;
	int ret;
	u8 idx;

	if (svc->key.v6)
		idx = crab_lb_pick_flow6(&c->t, ipv6_hdr(skb)->saddr.s6_addr32,
					 ipv6_hdr(skb)->daddr.s6_addr32,
					 th->source, th->dest, syn);
	else
		idx = crab_lb_pick_flow(&c->t, ip_hdr(skb)->saddr,
					ip_hdr(skb)->daddr, th->source, th->dest,
					syn);
	if (idx == CRAB_LB_DRAINING) {
		lb_svc_inc(svc, CRAB_LB_CNT_SYN_HASH_DRAINING);
		return NF_DROP;
	}
	if (idx >= c->nbe) {
		lb_svc_inc(svc, CRAB_LB_CNT_NO_BACKEND);
		return NF_DROP;
	}
	ret = svc->key.v6 ? lb_dsr_xmit6(net, skb, c->be[idx].dip) :
			    lb_dsr_xmit(net, skb, c->be[idx].dip[3]);
	if (ret) {
		/* TTL expired and too big were answered with ICMP */
		lb_svc_inc(svc, CRAB_LB_CNT_TX_ERROR);
		net_dbg_ratelimited("DSR to backend %u of port %u failed: %d\n",
				    idx, ntohs(svc->key.port), ret);
		return NF_DROP;
	}
	lb_svc_inc(svc, ok);
	lb_be_inc(svc, c, idx);
	return NF_STOLEN;
}

/* daddr := the backend's address, of the service's family. */
static void lb_to_backend(struct sk_buff *skb, const struct lb_svc *svc,
			  unsigned int thoff, const struct lb_be *be)
{
	if (svc->key.v6)
		lb_set_daddr6(skb, thoff, be->dip);
	else
		lb_set_daddr(skb, thoff, be->dip[3]);
}

/*
 * A TCP segment to the service @svc, its header @th (maybe a copy) at
 * @thoff: the model every LB shares, for both families. A non-SYN is
 * hashed or dropped; a SYN's options are walked with the walk of its
 * family; a SYN with the option goes to the policy's backend, daddr :=
 * DIP and the option := VIP; a legacy one (a malformed walk included) is
 * dropped, given the option, or hashed, as the service says.
 */
static unsigned int lb_serve(struct net *net, struct lb_net *ln,
			     struct lb_svc *svc, struct sk_buff *skb,
			     const struct tcphdr *th, unsigned int thoff)
{
	const struct lb_cfg *c = rcu_dereference(svc->cfg);
	unsigned int thlen = th->doff * 4, optoff;
	u8 optbuf[CRAB_TCP_MAX_OPTLEN];
	bool v6 = svc->key.v6;
	struct crab_opt_res res;
	const u8 *opt;
	int st, idx;

	if (thlen < sizeof(*th) || thoff + thlen > skb->len) {
		lb_g_inc(ln, CRAB_LB_GCNT_PARSE_ERROR);
		return NF_DROP;
	}

	if (!th->syn || th->ack || th->rst) {
		if (c->legacy == CRAB_LEGACY_HASH)
			return lb_hash_fwd(net, svc, c, skb, th,
					   CRAB_LB_CNT_NONSYN_HASHED);
		lb_svc_inc(svc, CRAB_LB_CNT_NONSYN_DROP);
		return NF_DROP;
	}

	/* A SYN: find the redirect option with the one shared walk. */
	st = CRAB_OPT_NONE;
	res.off = 0;
	if (thlen > sizeof(*th)) {
		opt = skb_header_pointer(skb, thoff + sizeof(*th),
					 thlen - sizeof(*th), optbuf);
		if (!opt) {
			lb_g_inc(ln, CRAB_LB_GCNT_PARSE_ERROR);
			return NF_DROP;
		}
		st = v6 ? crab_opt_find6(opt, thlen - sizeof(*th), &lb_opt_cfg, &res) :
			  crab_opt_find(opt, thlen - sizeof(*th), &lb_opt_cfg, &res);
		if (res.bad_len)
			lb_svc_inc(svc, CRAB_LB_CNT_OPT_BAD_LEN);
	}

	if (st == CRAB_OPT_FOUND) {
		idx = lb_pick(svc, c);
		if (idx < 0)
			goto no_backend;
		optoff = sizeof(*th) + res.off;
		if (v6 ? lb_redirect6(skb, thoff, thlen, optoff, c->be[idx].dip) :
			 lb_redirect(skb, thoff, thlen, optoff, c->be[idx].dip[3]))
			goto skb_error;
		lb_svc_inc(svc, CRAB_LB_CNT_SYN_REDIRECTED);
		lb_be_inc(svc, c, idx);
		lb_untrack(skb);
		return NF_ACCEPT;
	}

	/* A malformed walk is counted and announces nothing: the SYN is a
	 * legacy one (the model every LB shares; an inserted option goes
	 * before the unparsable ones, where every walk sees it first).
	 */
	if (st == CRAB_OPT_MALFORMED)
		lb_svc_inc(svc, CRAB_LB_CNT_OPT_MALFORMED);

	switch (c->legacy) {
	case CRAB_LEGACY_INSERT:
		idx = lb_pick(svc, c);
		if (idx < 0)
			goto no_backend;
		st = lb_insert(skb, thoff, thlen, v6);
		if (st == -ENOSPC) {
			lb_svc_inc(svc, CRAB_LB_CNT_NO_ROOM);
			return NF_DROP;
		}
		if (st)
			goto skb_error;
		/* the option now names the VIP; only daddr is left */
		lb_to_backend(skb, svc, thoff, &c->be[idx]);
		lb_svc_inc(svc, CRAB_LB_CNT_SYN_INSERTED);
		lb_be_inc(svc, c, idx);
		lb_untrack(skb);
		return NF_ACCEPT;
	case CRAB_LEGACY_HASH:
		return lb_hash_fwd(net, svc, c, skb, th, CRAB_LB_CNT_SYN_HASHED);
	default:
		lb_svc_inc(svc, CRAB_LB_CNT_SYN_LEGACY_DROP);
		return NF_DROP;
	}

no_backend:
	lb_svc_inc(svc, CRAB_LB_CNT_NO_BACKEND);
	return NF_DROP;
skb_error:
	lb_g_inc(ln, CRAB_LB_GCNT_SKB_ERROR);
	net_dbg_ratelimited("cannot rewrite a SYN to port %u\n",
			    ntohs(svc->key.port));
	return NF_DROP;
}

/*
 * A TCP segment, its header at @thoff, to the address of @k (family and
 * VIP; the port is read here): served when the port names a service.
 * Shorter than a TCP header, it is a bogus header to a service if the
 * ports it does carry name one (docs/PROTOCOL.md 6): dropped and counted.
 */
static unsigned int lb_tcp(struct net *net, struct lb_net *ln,
			   struct sk_buff *skb, unsigned int thoff,
			   struct lb_key *k)
{
	const struct tcphdr *th;
	const __be16 *ports;
	struct tcphdr _th;
	struct lb_svc *svc;

	th = skb_header_pointer(skb, thoff, sizeof(_th), &_th);
	if (th) {
		k->port = th->dest;
		svc = lb_svc_lookup_rcu(ln, k);
		if (svc)
			return lb_serve(net, ln, svc, skb, th, thoff);
	} else {
		ports = skb_header_pointer(skb, thoff, 2 * sizeof(__be16), &_th);
		if (ports) {
			k->port = ports[1];
			if (lb_svc_lookup_rcu(ln, k)) {
				lb_g_inc(ln, CRAB_LB_GCNT_PARSE_ERROR);
				return NF_DROP;
			}
		}
	}
	lb_g_inc(ln, CRAB_LB_GCNT_NOT_VIP);
	return NF_ACCEPT;
}

unsigned int lb_nf_hook(void *priv, struct sk_buff *skb,
			const struct nf_hook_state *state)
{
	struct lb_net *ln = lb_net(state->net);
	const struct iphdr *iph = ip_hdr(skb);
	struct lb_svc *svc;
	struct lb_key k;

	/* A broadcast or multicast frame, even to a VIP, is not the LB's:
	 * two LBs on one segment would both forward it.
	 */
	if (iph->protocol != IPPROTO_TCP || !READ_ONCE(ln->nsvc) ||
	    skb->pkt_type != PACKET_HOST)
		goto not_vip;
	/* A fragment is not parsed (docs/PROTOCOL.md 3.6); a later one has no
	 * ports: any TCP fragment to a VIP address is dropped, counted on a
	 * service of that address.
	 */
	lb_key4(&k, iph->daddr, 0);
	if (ip_is_fragment(iph)) {
		svc = lb_svc_lookup_vip_rcu(ln, &k);
		if (!svc)
			goto not_vip;
		lb_svc_inc(svc, CRAB_LB_CNT_FRAGMENT);
		return NF_DROP;
	}
	return lb_tcp(state->net, ln, skb, iph->ihl * 4, &k);
not_vip:
	lb_g_inc(ln, CRAB_LB_GCNT_NOT_VIP);
	return NF_ACCEPT;
}

unsigned int lb_nf_hook6(void *priv, struct sk_buff *skb,
			 const struct nf_hook_state *state)
{
	struct lb_net *ln = lb_net(state->net);
	const struct ipv6hdr *ip6;
	unsigned int thoff = 0;
	struct lb_svc *svc;
	struct lb_key k;
	int st;

	/* multicast (Neighbour Discovery included) is never the LB's */
	if (!READ_ONCE(ln->nsvc) || skb->pkt_type != PACKET_HOST)
		goto not_vip;
	ip6 = ipv6_hdr(skb);
	st = lb_parse6(skb, &thoff);
	if (st == LB_P6_PASS)
		goto not_vip;
	lb_key6(&k, &ip6->daddr, 0);
	if (st != LB_P6_TCP) {
		/* no port: ours only if some service has this VIP */
		svc = lb_svc_lookup_vip_rcu(ln, &k);
		if (!svc)
			goto not_vip;
		if (st == LB_P6_FRAG)
			lb_svc_inc(svc, CRAB_LB_CNT_FRAGMENT);
		else
			lb_g_inc(ln, st == LB_P6_LIMIT ? CRAB_LB_GCNT_EXT_LIMIT :
					 CRAB_LB_GCNT_PARSE_ERROR);
		return NF_DROP;
	}
	return lb_tcp(state->net, ln, skb, thoff, &k);
not_vip:
	lb_g_inc(ln, CRAB_LB_GCNT_NOT_VIP);
	return NF_ACCEPT;
}
