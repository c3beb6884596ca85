/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The client's connection state, shared by its sock_ops, tc and netfilter
 * programs (pinned by name):
 *  - crab_ep_sk: per-socket storage (announced, the claim of the SYN-ACK
 *    being accepted, S once accepted); freed with the socket, never evicted;
 *  - crab_ep_flows: tc ingress's view, (netns, local, S, ports) -> A, a plain
 *    hash: an entry is reserved when a redirect is accepted (refused and
 *    counted when the table is full), removed when the socket closes;
 *  - crab_ep_flows6: the same for IPv6 connections (its own key size);
 *  - crab_ep_probes, crab_ep_probes6: input-path probes in flight (LRU:
 *    losing one only refuses that redirect, the client's SYN
 *    retransmission starts over).
 */
#ifndef CRAB_EP_FLOWS_H
#define CRAB_EP_FLOWS_H

#include "crab_ep_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct crab_ep_sk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_sk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_EP_FLOW_MAX);
	__type(key, struct crab_ep_flow_key);
	__type(value, struct crab_ep_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_EP_FLOW_MAX);
	__type(key, struct crab_ep_flow_key6);
	__type(value, struct crab_ep_flow6);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_flows6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_EP_PROBE_MAX);
	__type(key, struct crab_ep_flow_key);
	__type(value, struct crab_ep_probe);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_probes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_EP_PROBE_MAX);
	__type(key, struct crab_ep_flow_key6);
	__type(value, struct crab_ep_probe6);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_probes6 SEC(".maps");

/* The claim word of a SYN-ACK from @s (network order) with sequence @seq. */
static __always_inline __u64 crab_ep_claim(__be32 s, __u32 seq)
{
	return ((__u64)s << 32) | seq;
}

static __always_inline __be32 crab_ep_claim_addr(__u64 claim)
{
	return (__be32)(claim >> 32);
}

/*
 * The claim word of an IPv6 SYN-ACK from @s6: its four words xor-ed stand
 * in for S; the full address is kept beside it (crab_ep_sk.claim6). The
 * word is never CRAB_EP_CLAIM_CLOSED: an all-ones xor stands in as one less
 * (the sequence number, compared on its own, is kept).
 */
static __always_inline __u64 crab_ep_claim6(const __u8 *s6, __u32 seq)
{
	__u32 w[4], x;

	__builtin_memcpy(w, s6, 16);
	x = w[0] ^ w[1] ^ w[2] ^ w[3];
	if (x == 0xffffffff)
		x--;
	return ((__u64)x << 32) | seq;
}

static __always_inline int crab_ep_addr6_eq(const __u8 *a, const __u8 *b)
{
	__u64 x[2], y[2];

	__builtin_memcpy(x, a, 16);
	__builtin_memcpy(y, b, 16);
	return x[0] == y[0] && x[1] == y[1];
}

#endif /* CRAB_EP_FLOWS_H */
