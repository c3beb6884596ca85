// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB eBPF client endpoint, firewall half (docs/PROTOCOL.md 3.7): a BPF
 * netfilter program (Linux 6.4) at the very end of IPv4 LOCAL_IN of the
 * client's network namespace.
 *
 * tc ingress translates a redirecting SYN-ACK from S into one from A before
 * netfilter runs (so that connection tracking sees the reply of the
 * connection to A), which hides S from the rules. Before translating, it
 * sends a probe from S through the same input path: an ICMP source quench
 * quoting the client's SYN to A (crab_ep_tc.bpf.c send_probe()). The kernel
 * routes it with S as its source (martian, local-address and rp_filter
 * checks), connection tracking finds it RELATED to the connection to A, and
 * every netfilter rule sees a packet from S. If it gets here, nothing on
 * the way dropped traffic from S: the probe is marked passed and dropped
 * (TCP ignores source quenches anyway); tc then takes the SYN-ACK queued
 * behind it. If it does not get here, the redirect is refused.
 *
 * IPv6 (hooked at the end of IPv6 LOCAL_IN by a second link of the same
 * program): the probe is an ICMPv6 Packet Too Big from S quoting the
 * client's SYN to A (CRAB_EP_PROBE6_*), tracked in crab_ep_probes6.
 *
 * Every packet reaching LOCAL_IN passes through this program: the first test
 * is the probe's fixed length, a field of the skb.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "crab_ep_common.h"
#include "crab_ep_flows.h"

#define NF_DROP		0
#define NF_ACCEPT	1

/* The kernel's types, the fields read here (CO-RE relocated). */
struct net___crab {
	__u64 net_cookie;
} __attribute__((preserve_access_index));

struct nf_hook_state___crab {
	struct net___crab *net;
} __attribute__((preserve_access_index));

struct sk_buff___crab {
	unsigned int len;
} __attribute__((preserve_access_index));

/* The context of BPF_PROG_TYPE_NETFILTER programs. */
struct crab_nf_ctx {
	const struct nf_hook_state___crab *state;
	struct sk_buff___crab *skb;
};

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6	58
#endif

/* An IPv6 probe: the same checks on the IPv6 layout. */
static __always_inline int probe6(struct crab_nf_ctx *ctx)
{
	__u8 b[CRAB_EP_PROBE6_IPLEN];
	const struct ipv6hdr *o = (const void *)b;
	const struct ipv6hdr *in = (const void *)(b + 48);
	struct crab_ep_flow_key6 k = {};
	struct crab_ep_probe6 *pr;
	struct bpf_dynptr ptr;
	__u32 seq;

	if (bpf_dynptr_from_skb((struct __sk_buff *)ctx->skb, 0, &ptr))
		return NF_ACCEPT;
	if (bpf_dynptr_read(b, sizeof(b), &ptr, 0, 0))
		return NF_ACCEPT;
	if (o->version != 6 || o->nexthdr != IPPROTO_ICMPV6 ||
	    b[40] != CRAB_EP_PROBE6_ICMP_TYPE || b[41] != 0 ||
	    in->version != 6 || in->nexthdr != IPPROTO_TCP ||
	    !crab_ep_addr6_eq((const __u8 *)&in->saddr, (const __u8 *)&o->daddr))
		return NF_ACCEPT;
	k.netns = ctx->state->net->net_cookie;
	__builtin_memcpy(k.laddr, &in->saddr, 16);
	__builtin_memcpy(k.raddr, &in->daddr, 16);
	__builtin_memcpy(&k.lport, b + 88, 2);
	__builtin_memcpy(&k.rport, b + 90, 2);
	__builtin_memcpy(&seq, b + 92, 4);
	pr = bpf_map_lookup_elem(&crab_ep_probes6, &k);
	if (!pr || pr->state != CRAB_EP_PROBE_SENT ||
	    !crab_ep_addr6_eq(pr->saddr, (const __u8 *)&o->saddr) || pr->seq != bpf_ntohl(seq))
		return NF_ACCEPT;	/* not ours */
	pr->state = CRAB_EP_PROBE_PASSED;
	return NF_DROP;
}

SEC("netfilter")
int crab_ep_nf_probe(struct crab_nf_ctx *ctx)
{
	__u8 b[CRAB_EP_PROBE_IPLEN];
	const struct iphdr *o = (const void *)b;
	const struct iphdr *in = (const void *)(b + 28);
	struct crab_ep_flow_key k = {};
	struct crab_ep_probe *pr;
	struct bpf_dynptr ptr;
	__u32 seq;

	if (ctx->skb->len == CRAB_EP_PROBE6_IPLEN)
		return probe6(ctx);
	if (ctx->skb->len != CRAB_EP_PROBE_IPLEN)
		return NF_ACCEPT;
	if (bpf_dynptr_from_skb((struct __sk_buff *)ctx->skb, 0, &ptr))
		return NF_ACCEPT;
	if (bpf_dynptr_read(b, sizeof(b), &ptr, 0, 0))
		return NF_ACCEPT;
	if (o->version != 4 || o->ihl != 5 || o->protocol != IPPROTO_ICMP ||
	    b[20] != CRAB_EP_PROBE_ICMP_TYPE || b[21] != 0 ||
	    in->version != 4 || in->ihl != 5 || in->protocol != IPPROTO_TCP ||
	    in->saddr != o->daddr)
		return NF_ACCEPT;
	k.netns = ctx->state->net->net_cookie;
	k.laddr = in->saddr;
	k.raddr = in->daddr;
	__builtin_memcpy(&k.lport, b + 48, 2);
	__builtin_memcpy(&k.rport, b + 50, 2);
	__builtin_memcpy(&seq, b + 52, 4);
	pr = bpf_map_lookup_elem(&crab_ep_probes, &k);
	if (!pr || pr->state != CRAB_EP_PROBE_SENT || pr->saddr != o->saddr ||
	    pr->seq != bpf_ntohl(seq))
		return NF_ACCEPT;	/* not ours */
	pr->state = CRAB_EP_PROBE_PASSED;
	return NF_DROP;
}

char LICENSE[] SEC("license") = "GPL";
