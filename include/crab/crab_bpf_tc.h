/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the project's tc BPF programs (the eBPF endpoints'
 * client, endpoints/ebpf/crab_ep_tc.bpf.c, and the NodePort experiment,
 * experiments/nodeport/): loading a frame's IPv4 and TCP headers from an
 * skb, and the option encoding a program's config map selects. BPF only.
 */
#ifndef CRAB_BPF_TC_H
#define CRAB_BPF_TC_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <crab/crab_opt.h>

#ifndef IP_MF
#define IP_MF		0x2000
#endif
#ifndef IP_OFFSET
#define IP_OFFSET	0x1fff
#endif
#define CRAB_TC_L3_OFF	ETH_HLEN	/* tc sees the Ethernet header */

/* The headers of one TCP segment and where its TCP header starts. */
struct crab_tc_pkt {
	struct iphdr ip;
	struct tcphdr tcp;
	__u32 l4off;
};

/*
 * Copy @len bytes at @off of the frame to @to: straight from the linear
 * area when they are in it (the usual case: a stack builds its headers
 * there, a driver pulls them there), else with bpf_skb_load_bytes(). A
 * direct read costs no helper call and no bounds arithmetic in the
 * kernel; the result is the same. Returns 0, or -1 past the frame's end.
 */
#define crab_tc_read(skb, off, to, len) ({					\
	void *_data = (void *)(long)(skb)->data;				\
	void *_end = (void *)(long)(skb)->data_end;				\
	void *_at = _data + (off);						\
	int _r = 0;								\
										\
	if (_at + (len) <= _end)						\
		__builtin_memcpy((to), _at, (len));				\
	else if (bpf_skb_load_bytes((skb), (off), (to), (len)))			\
		_r = -1;							\
	_r;									\
})

/*
 * Load the IPv4 and TCP headers (non-linear skbs too). Returns 0 for a TCP
 * segment worth looking at, 1 for anything else (passed untouched): not
 * IPv4, not TCP, a fragment (no TCP header to trust; the stack reassembles);
 * -1 for a broken header (passed, counted by the caller).
 */
static __always_inline int crab_tc_load_pkt(struct __sk_buff *skb, struct crab_tc_pkt *p)
{
	__u32 ihl;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 1;
	if (crab_tc_read(skb, CRAB_TC_L3_OFF, &p->ip, sizeof(p->ip)))
		return -1;
	if (p->ip.version != 4 || p->ip.ihl < 5)
		return -1;
	if (p->ip.protocol != IPPROTO_TCP)
		return 1;
	if (p->ip.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return 1;
	ihl = p->ip.ihl & 0xf;	/* u32 arithmetic: the 6.1 verifier tracks it */
	p->l4off = CRAB_TC_L3_OFF + ihl * 4;
	if (crab_tc_read(skb, p->l4off, &p->tcp, sizeof(p->tcp)))
		return -1;
	if (p->tcp.doff < 5)
		return -1;
	return 0;
}

/* The headers of one IPv6 TCP segment (no extension headers). */
struct crab_tc_pkt6 {
	struct ipv6hdr ip6;
	struct tcphdr tcp;
	__u32 l4off;
};

#define CRAB_TC_IP6_HLEN	40

/*
 * Load the IPv6 and TCP headers. Returns 0 for a TCP segment whose TCP
 * header directly follows the IPv6 header, 1 for anything else (passed
 * untouched: not IPv6, another next header, or TCP behind extension
 * headers, which no check here reads), -1 for a broken header.
 */
static __always_inline int crab_tc_load_pkt6(struct __sk_buff *skb, struct crab_tc_pkt6 *p)
{
	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return 1;
	if (crab_tc_read(skb, CRAB_TC_L3_OFF, &p->ip6, sizeof(p->ip6)))
		return -1;
	if (p->ip6.version != 6)
		return -1;
	if (p->ip6.nexthdr != IPPROTO_TCP)
		return 1;
	p->l4off = CRAB_TC_L3_OFF + CRAB_TC_IP6_HLEN;
	if (crab_tc_read(skb, p->l4off, &p->tcp, sizeof(p->tcp)))
		return -1;
	if (p->tcp.doff < 5)
		return -1;
	return 0;
}

/* The option encoding @c selects; NULL or a zero kind (a fresh map) is the default. */
static __always_inline void crab_tc_opt_cfg(const struct crab_opt_cfg *c, struct crab_opt_cfg *oc)
{
	oc->kind = CRAB_OPT_KIND_DEFAULT;
	oc->pad = 0;
	oc->exid = CRAB_OPT_EXID_DEFAULT;
	if (c && c->kind) {
		oc->kind = c->kind;
		oc->exid = c->exid;
	}
}

#endif /* CRAB_BPF_TC_H */
