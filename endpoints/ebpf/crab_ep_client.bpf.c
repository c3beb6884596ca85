// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB eBPF client endpoint, socket half (docs/PROTOCOL.md 3.1 and 3.4), a
 * sock_ops program per cgroup:
 *  - TCP_CONNECT_CB: a connection to a destination in the announce list
 *    (LPM trie; empty = none) from a socket without TCP-MD5/AO keys gets its
 *    per-socket state (crab_ep_sk) and asks for the header-option and state
 *    callbacks;
 *  - HDR_OPT_LEN_CB/WRITE_HDR_OPT_CB: its SYNs (and only its SYNs) carry the
 *    option naming the dialed address A; a SYN resent while tc ingress had
 *    accepted a SYN-ACK for it means the socket never took that SYN-ACK
 *    (dropped by the firewall or by TCP itself): the claim is released;
 *  - STATE_CB: leaving SYN-SENT on the claimed SYN-ACK commits the redirect
 *    (from then on tc egress sends to S); reaching CLOSE removes the flow.
 * BPF cannot re-key a socket: the redirect itself is address translation in
 * crab_ep_tc.bpf.c, and getpeername() keeps returning A.
 *
 * IPv6 sockets are looked up in the IPv6 announce list and announce the
 * 20-byte form (docs/PROTOCOL.md 2); their flows live in crab_ep_flows6. A
 * dual-stack socket connected to a v4-mapped address (::ffff:a.b.c.d)
 * sends IPv4 segments: it is an IPv4 connection here, in the IPv4 lists
 * and maps, with the 8-byte option.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "crab_ep_common.h"
#include "crab_ep_flows.h"

#define CRAB_TCPHDR_SYN 0x02
#define CRAB_TCPHDR_ACK 0x10
#define AF_INET 2
#define AF_INET6 10

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRAB_EP_LPM_MAX);
	__type(key, struct crab_ep_lpm_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_announce SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRAB_EP_LPM_MAX);
	__type(key, struct crab_ep_lpm_key6);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_announce6 SEC(".maps");

/*
 * remote_port is the network-order port; kernels have exposed it in the high
 * half (shifted, historic) or the low half of the u32: accept both.
 */
static __always_inline __be16 skops_rport(const struct bpf_sock_ops *skops)
{
	__u32 v = skops->remote_port;

	return (__be16)((v >> 16) ? (v >> 16) : v);
}

/* The flow key of this socket's connection with S. */
static __always_inline void skops_flow_key(struct bpf_sock_ops *skops, __be32 s,
					   struct crab_ep_flow_key *k)
{
	k->netns = bpf_get_netns_cookie(skops);
	k->laddr = skops->local_ip4;
	k->raddr = s;
	k->lport = bpf_htons((__u16)skops->local_port);
	k->rport = skops_rport(skops);
	k->pad = 0;
}

/*
 * The 16 bytes of a ctx address field, one 4-byte load each (the context
 * refuses the 8-byte loads clang would merge them into: the barriers keep
 * them apart).
 */
static __always_inline void ctx_addr6(const __u32 *f, __u8 *out)
{
	__u32 a[4];

	a[0] = f[0];
	asm volatile("" ::: "memory");
	a[1] = f[1];
	asm volatile("" ::: "memory");
	a[2] = f[2];
	asm volatile("" ::: "memory");
	a[3] = f[3];
	__builtin_memcpy(out, a, 16);
}

/* The IPv6 flow key of this socket's connection with S (@s6). */
static __always_inline void skops_flow_key6(struct bpf_sock_ops *skops, const __u8 *s6,
					    struct crab_ep_flow_key6 *k)
{
	k->netns = bpf_get_netns_cookie(skops);
	ctx_addr6(skops->local_ip6, k->laddr);
	__builtin_memcpy(k->raddr, s6, 16);
	k->lport = bpf_htons((__u16)skops->local_port);
	k->rport = skops_rport(skops);
	k->pad = 0;
}

/* The dialed address A of an IPv6 socket, network order. */
static __always_inline void skops_remote6(const struct bpf_sock_ops *skops, __u8 *a6)
{
	ctx_addr6(skops->remote_ip6, a6);
}

static __always_inline int is_syn(const struct bpf_sock_ops *skops)
{
	return (skops->skb_tcp_flags & (CRAB_TCPHDR_SYN | CRAB_TCPHDR_ACK)) ==
	       CRAB_TCPHDR_SYN;
}

static __always_inline struct crab_ep_sk *sk_state(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;

	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&crab_ep_sk, sk, 0, 0);
}

static __always_inline void on_connect(struct bpf_sock_ops *skops)
{
	struct crab_ep_lpm_key6 lk6;
	struct crab_ep_lpm_key lk;
	struct bpf_sock *sk;
	struct crab_ep_sk *st;
	__u32 v6 = 0, r6[4];

	if (skops->family == AF_INET6) {
		ctx_addr6(skops->remote_ip6, (__u8 *)r6);
		/* v4-mapped: an IPv4 connection on the wire */
		v6 = !(r6[0] == 0 && r6[1] == 0 && r6[2] == bpf_htonl(0xffff));
	} else if (skops->family != AF_INET) {
		return;
	}
	if (v6) {
		lk6.prefixlen = 128;
		__builtin_memcpy(lk6.addr, r6, 16);
		if (!bpf_map_lookup_elem(&crab_ep_announce6, &lk6))
			return;
	} else {
		/* (A v4-mapped peer: remote_ip4 is its IPv4 address.) */
		lk.prefixlen = 32;
		lk.addr = skops->remote_ip4;
		if (!bpf_map_lookup_elem(&crab_ep_announce, &lk))
			return;
	}
	sk = skops->sk;
	if (!sk)
		return;
	if (crab_ep_sk_signed(sk)) {
		crab_ep_count(CRAB_EP_CNT_ANNOUNCE_SIGNED);
		return;
	}
	st = bpf_sk_storage_get(&crab_ep_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		crab_ep_count(CRAB_EP_CNT_NO_STORAGE);
		return;
	}
	/* A socket may connect() again after a failed attempt: start afresh. */
	st->claim = 0;
	st->released = 0;
	st->peer = 0;
	__builtin_memset(st->claim6, 0, sizeof(st->claim6));
	__builtin_memset(st->released6, 0, sizeof(st->released6));
	__builtin_memset(st->peer6, 0, sizeof(st->peer6));
	st->flags = CRAB_EP_SK_ANNOUNCE | (v6 ? CRAB_EP_SK_V6 : 0);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
				  BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG |
				  BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void on_opt_len(struct bpf_sock_ops *skops)
{
	struct crab_ep_sk *st = sk_state(skops);
	struct bpf_sock *sk = skops->sk;

	if (!st || !sk || !(st->flags & CRAB_EP_SK_ANNOUNCE))
		return;
	/* Keys may be added between connect() and a SYN retransmission. */
	if (crab_ep_sk_signed(sk)) {
		st->flags &= ~CRAB_EP_SK_ANNOUNCE;
		crab_ep_count(CRAB_EP_CNT_ANNOUNCE_SIGNED);
		return;
	}
	/* A full Linux IPv6 SYN (20 bytes of options) has room for the 20 more. */
	if (bpf_reserve_hdr_opt(skops, (st->flags & CRAB_EP_SK_V6) ? TCPOLEN_CRAB6_ALIGNED :
				TCPOLEN_CRAB_ALIGNED, 0)) {
		/* Counted here, not again when the write finds no room. */
		st->flags |= CRAB_EP_SK_NO_ROOM;
		crab_ep_count(CRAB_EP_CNT_ANNOUNCE_NO_ROOM);
	} else {
		st->flags &= ~CRAB_EP_SK_NO_ROOM;
	}
}

/* Drop the flow reserved for a SYN-ACK from @s that did not move the socket. */
static __always_inline void drop_flow(struct bpf_sock_ops *skops, __be32 s)
{
	struct crab_ep_flow_key k;

	skops_flow_key(skops, s, &k);
	bpf_map_delete_elem(&crab_ep_flows, &k);
}

static __always_inline void drop_flow6(struct bpf_sock_ops *skops, const __u8 *s6)
{
	struct crab_ep_flow_key6 k;

	skops_flow_key6(skops, s6, &k);
	bpf_map_delete_elem(&crab_ep_flows6, &k);
}

static __always_inline void on_write_opt(struct bpf_sock_ops *skops)
{
	struct crab_ep_sk *st = sk_state(skops);
	struct crab_opt_cfg oc;
	__u8 buf[TCPOLEN_CRAB6_ALIGNED], a6[16];
	__u64 claim;
	int err;

	/* (Another program's option may leave the callback running.) */
	if (!st || !(st->flags & CRAB_EP_SK_ANNOUNCE) || (st->flags & CRAB_EP_SK_NO_ROOM))
		return;
	crab_ep_opt_cfg(crab_ep_get_cfg(), &oc);
	/* No leading NOP allowed by the helper: see crab_ep_server.bpf.c. */
	if (st->flags & CRAB_EP_SK_V6) {
		skops_remote6(skops, a6);
		crab_opt_write6(buf, &oc, a6);
		if (oc.kind == CRAB_OPT_KIND_EXP)
			err = bpf_store_hdr_opt(skops, buf, TCPOLEN_CRAB6_EXP, 0);
		else
			err = bpf_store_hdr_opt(skops, buf + 2, TCPOLEN_CRAB6, 0);
	} else {
		crab_opt_write(buf, &oc, bpf_ntohl(skops->remote_ip4));
		if (oc.kind == CRAB_OPT_KIND_EXP)
			err = bpf_store_hdr_opt(skops, buf, TCPOLEN_CRAB_EXP, 0);
		else
			err = bpf_store_hdr_opt(skops, buf + 2, TCPOLEN_CRAB, 0);
	}
	if (err) {
		crab_ep_count(CRAB_EP_CNT_ANNOUNCE_NO_ROOM);
		return;
	}
	st->flags |= CRAB_EP_SK_ANNOUNCED;
	crab_ep_count(CRAB_EP_CNT_ANNOUNCED);
	/*
	 * A SYN sent again while a SYN-ACK was claimed: the socket never took
	 * it. Free the claim so that a SYN-ACK answering this SYN can win; the
	 * SYN itself still goes to A (this runs before tc egress).
	 */
	claim = st->claim;
	if (claim && claim != CRAB_EP_CLAIM_CLOSED &&
	    __sync_val_compare_and_swap(&st->claim, claim, 0) == claim) {
		st->released = claim;
		if (st->flags & CRAB_EP_SK_V6) {
			__builtin_memcpy(st->released6, st->claim6, 16);
			drop_flow6(skops, st->claim6);
		} else {
			drop_flow(skops, crab_ep_claim_addr(claim));
		}
		crab_ep_count(CRAB_EP_CNT_CLAIMS_RELEASED);
	}
}

/* The socket took the SYN-ACK claimed as @claim: it now talks to S. */
static __always_inline void commit(struct bpf_sock_ops *skops,
				   struct crab_ep_sk *st, __u64 claim)
{
	struct crab_ep_flow_key k;
	struct crab_ep_flow f = {};
	__be32 s = crab_ep_claim_addr(claim);

	skops_flow_key(skops, s, &k);
	f.addr = skops->remote_ip4;
	/*
	 * tc ingress reserved the entry; after a released claim (the socket
	 * took that SYN-ACK while resending its SYN) it is added again.
	 */
	if (bpf_map_update_elem(&crab_ep_flows, &k, &f, BPF_ANY)) {
		crab_ep_count(CRAB_EP_CNT_REJ_FLOW_FULL);
		return;
	}
	st->peer = s;
	crab_ep_count(CRAB_EP_CNT_REDIRECTED);
}

/* The same for an IPv6 socket, moved to @s6 (its claim6 or released6). */
static __always_inline void commit6(struct bpf_sock_ops *skops,
				    struct crab_ep_sk *st, const __u8 *s6)
{
	struct crab_ep_flow_key6 k;
	struct crab_ep_flow6 f = {};

	skops_flow_key6(skops, s6, &k);
	skops_remote6(skops, f.addr);
	if (bpf_map_update_elem(&crab_ep_flows6, &k, &f, BPF_ANY)) {
		crab_ep_count(CRAB_EP_CNT_REJ_FLOW_FULL);
		return;
	}
	__builtin_memcpy(st->peer6, s6, 16);
	st->flags |= CRAB_EP_SK_MOVED6;
	crab_ep_count(CRAB_EP_CNT_REDIRECTED);
}

static __always_inline void on_state(struct bpf_sock_ops *skops)
{
	__u32 oldstate = skops->args[0], newstate = skops->args[1];
	struct crab_ep_sk *st = sk_state(skops);
	__u32 seq;
	__u64 claim;

	if (!st)
		return;
	if (oldstate == BPF_TCP_SYN_SENT && (st->flags & CRAB_EP_SK_V6)) {
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
					  ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		/* Closed for good: see CRAB_EP_CLAIM_CLOSED. */
		claim = __sync_lock_test_and_set(&st->claim, CRAB_EP_CLAIM_CLOSED);
		seq = skops->rcv_nxt - 1;
		if (newstate == BPF_TCP_ESTABLISHED && claim && (__u32)claim == seq)
			commit6(skops, st, st->claim6);
		else if (newstate == BPF_TCP_ESTABLISHED && !claim && st->released &&
			 (__u32)st->released == seq)
			commit6(skops, st, st->released6);
		else if (claim)
			drop_flow6(skops, st->claim6);
	} else if (oldstate == BPF_TCP_SYN_SENT) {
		/* The handshake is over: no more option callbacks per segment. */
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
					  ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		claim = __sync_lock_test_and_set(&st->claim, CRAB_EP_CLAIM_CLOSED);
		/* rcv_nxt is the SYN-ACK's sequence number + 1 by now. */
		seq = skops->rcv_nxt - 1;
		if (newstate == BPF_TCP_ESTABLISHED && claim && (__u32)claim == seq) {
			commit(skops, st, claim);
		} else if (newstate == BPF_TCP_ESTABLISHED && !claim && st->released &&
			   (__u32)st->released == seq) {
			commit(skops, st, st->released);
		} else if (claim) {
			/* Left SYN-SENT on another segment (A answered, or reset). */
			drop_flow(skops, crab_ep_claim_addr(claim));
		}
	}
	if (newstate != BPF_TCP_CLOSE)
		return;
	if (st->flags & CRAB_EP_SK_MOVED6) {
		drop_flow6(skops, st->peer6);
		st->flags &= ~CRAB_EP_SK_MOVED6;
		crab_ep_count(CRAB_EP_CNT_FLOWS_CLOSED);
		return;
	}
	if (!st->peer)
		return;
	drop_flow(skops, st->peer);
	st->peer = 0;
	crab_ep_count(CRAB_EP_CNT_FLOWS_CLOSED);
}

SEC("sockops")
int crab_ep_client(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		on_connect(skops);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if (is_syn(skops))
			on_opt_len(skops);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		if (is_syn(skops))
			on_write_opt(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		on_state(skops);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
