// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test fixture, not a product: the smallest stateless round-robin "LB" for
 * the eBPF endpoint tests (this machine has no nft/iptables binary). tc
 * ingress on the LB's eth0: TCP to VIP:PORT gets daddr = DIP[n++ % 3] and
 * is sent back out with bpf_redirect_neigh(); the client's option already
 * names the VIP. TCP to port 9999 of VIP or HOLD_ADDR is dropped (keeps a
 * client socket in SYN-SENT). Addresses come from -D at compile time.
 * cnt[0] = packets to VIP:PORT, cnt[1] = round-robin position.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lb_cnt SEC(".maps");

SEC("tc")
int lb_rr(struct __sk_buff *skb)
{
	__u32 k0 = 0, k1 = 1, l4off;
	struct tcphdr th;
	struct iphdr ip;
	__u64 *pk, *rr, n;
	__be32 dip;

	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) ||
	    ip.protocol != IPPROTO_TCP || ip.ihl < 5)
		return TC_ACT_OK;
	l4off = ETH_HLEN + ip.ihl * 4;
	if (bpf_skb_load_bytes(skb, l4off, &th, sizeof(th)))
		return TC_ACT_OK;
	if (th.dest == bpf_htons(9999) &&
	    (ip.daddr == bpf_htonl(VIP) || ip.daddr == bpf_htonl(HOLD_ADDR)))
		return TC_ACT_SHOT;
	if (ip.daddr != bpf_htonl(VIP) || th.dest != bpf_htons(PORT))
		return TC_ACT_OK;
	pk = bpf_map_lookup_elem(&lb_cnt, &k0);
	rr = bpf_map_lookup_elem(&lb_cnt, &k1);
	if (!pk || !rr)
		return TC_ACT_SHOT;
	__sync_fetch_and_add(pk, 1);
	n = __sync_fetch_and_add(rr, 1);
	n %= 3;
	dip = n == 0 ? bpf_htonl(DIP1) : n == 1 ? bpf_htonl(DIP2) : bpf_htonl(DIP3);
	bpf_l4_csum_replace(skb, l4off + offsetof(struct tcphdr, check), ip.daddr,
			    dip, BPF_F_PSEUDO_HDR | 4);
	bpf_l3_csum_replace(skb, ETH_HLEN + offsetof(struct iphdr, check),
			    ip.daddr, dip, 4);
	bpf_skb_store_bytes(skb, ETH_HLEN + offsetof(struct iphdr, daddr), &dip,
			    4, 0);
	return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";
