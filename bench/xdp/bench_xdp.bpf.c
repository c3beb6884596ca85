// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP programs of the SYN/s benchmark (bench/xdp/README.md).
 *
 *   bench_syngen:  the generator. Run by BPF_PROG_TEST_RUN with
 *                  BPF_F_TEST_XDP_LIVE_FRAMES on the sender's veth: every run
 *                  gets a fresh copy of the template SYN, gives it the next
 *                  source port (and a source address from a /16, so the
 *                  4-tuples stay distinct past 64 K; IPv4 or IPv6), fixes
 *                  the checksums incrementally and returns XDP_TX, which hands the frame to
 *                  the peer veth (the device under test) as an xdp_frame.
 *   bench_reflect: the baseline: swap the MACs, XDP_TX, count.
 *   bench_sink:    XDP on the sender's veth: counts and drops what comes
 *                  back (and gives that veth the NAPI queue XDP_TX needs).
 *
 * Counters are per CPU (bench_cnt: key 0 reflected, 1 sunk, 2 generated).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TMPL_MAX	128

/* The template SYN, set by xdpbench before load. */
const volatile __u8 tmpl[TMPL_MAX];
const volatile __u32 tmpl_len;
const volatile __u8 tmpl_v6;	/* the template is an IPv6 SYN */

enum { CNT_REFLECT, CNT_SINK, CNT_GEN, CNT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} bench_cnt SEC(".maps");

/* Port and address sequence of the generator (per CPU, never reset). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_seq SEC(".maps");

static __always_inline __u64 *cnt(__u32 k)
{
	return bpf_map_lookup_elem(&bench_cnt, &k);
}

static __always_inline __u16 fold(__u32 acc)
{
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (__u16)~acc;
}

SEC("xdp")
int bench_syngen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct ipv6hdr *ip6h;
	struct tcphdr *th = (void *)(iph + 1);
	__u32 zero = 0, acc;
	__u16 port, hi, oldsrc, newsrc, oldport, *low;
	__u64 *seq, *c, s;

	__u32 len = tmpl_len;

	if (!len || len > TMPL_MAX || data + len != data_end)
		return XDP_ABORTED;
	if (bpf_xdp_store_bytes(ctx, 0, (void *)tmpl, len & (TMPL_MAX - 1)))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	iph = (void *)(eth + 1);
	ip6h = (void *)(eth + 1);
	/* The template has no IP options or extension headers: TCP right
	 * after the IP header.
	 */
	th = tmpl_v6 ? (void *)(ip6h + 1) : (void *)(iph + 1);
	if ((void *)(th + 1) > data_end)
		return XDP_ABORTED;
	low = tmpl_v6 ? &ip6h->saddr.in6_u.u6_addr16[7] : &((__u16 *)&iph->saddr)[1];
	seq = bpf_map_lookup_elem(&bench_seq, &zero);
	if (!seq)
		return XDP_ABORTED;
	s = (*seq)++;
	/* Ports 1024..65535, then the next source address (low 16 bits). */
	port = 1024 + (__u16)(s % 64512);
	hi = (__u16)((s / 64512) & 0xffff);
	oldsrc = *low;
	newsrc = bpf_htons(hi);
	*low = newsrc;
	oldport = th->source;
	th->source = bpf_htons(port);

	if (!tmpl_v6) {
		acc = (__u16)~iph->check;
		acc += (__u16)~oldsrc + newsrc;
		iph->check = fold(acc);
	}
	acc = (__u16)~th->check;
	acc += (__u16)~oldsrc + newsrc + (__u16)~oldport + bpf_htons(port);
	th->check = fold(acc);

	c = cnt(CNT_GEN);
	if (c)
		*c += 1;
	return XDP_TX;
}

SEC("xdp")
int bench_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];
	__u64 *c;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
	c = cnt(CNT_REFLECT);
	if (c)
		*c += 1;
	return XDP_TX;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	__u64 *c = cnt(CNT_SINK);

	if (c)
		*c += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
