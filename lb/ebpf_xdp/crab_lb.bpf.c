// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB XDP LB (docs/PROTOCOL.md 3.2, 5, 6).
 *
 * Only packets to a configured VIP:port are touched:
 *   - SYN with the redirect option: pick a backend by policy, daddr := DIP,
 *     option address := VIP, incremental checksum fix, send to the next hop;
 *   - SYN without it: per service drop / insert (grow by 8 bytes) / hash (DSR);
 *   - other TCP to the VIP: hash mode -> Maglev DSR, else drop;
 *   - fragments to a VIP: drop.
 * IPv6 the same way (the 18/20-byte option, 20 bytes grown by insert), after
 * a bounded walk of the extension headers (crab_xdp.h: IPv6).
 * Everything else is XDP_PASS, untouched: frames not addressed to the
 * device's MAC (another host's, broadcast, multicast), frames whose IPv4
 * header is not version 4, and frames this program cannot send itself (a
 * VLAN-tagged frame whose next hop needs the FIB, a next hop on a device
 * the LB is not attached to) go to the stack, counted.
 * The next hop of a backend: its static MAC if it has one, else the one
 * the control plane resolved (route + neighbour, CRAB_XDP_BE_NH in the
 * slot), else bpf_fib_lookup() per packet; counted nh_static, nh_resolved,
 * nh_fib.
 * All tables (active lists, WRR ring, Maglev) are computed by crabctl; see
 * include/crab/crab_xdp.h for the generation flip and the grace period that
 * make updates atomic for this program. The flow
 * hash, the picks over those tables and the checksum arithmetic are the
 * shared model's (include/crab/crab_lb_model.h, crab_csum.h), as in the
 * netfilter and DPDK LBs.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include <crab/crab_csum.h>
#include <crab/crab_opt.h>
#include <crab/crab_lb.h>
#include <crab/crab_lb_model.h>
#include <crab/crab_xdp.h>

#define AF_INET		2
#define AF_INET6	10
#define NEXTHDR_HOP_	0
#define NEXTHDR_ROUTING_ 43
#define NEXTHDR_FRAGMENT_ 44
#define NEXTHDR_DEST_	60
#define ETH_P_8021Q_	0x8100
#define IP_MF_		0x2000
#define IP_OFFMASK_	0x1fff
#define HDR_COPY_MAX	128	/* l2 (<= 18) + IP (<= 60) + TCP fixed (20) */

/* See crab_lb_model.h: keeps a bounds check clang would fold away. */
#define OPAQUE(v)	CRAB_OPAQUE(v)

/* Load-time settings (rodata), set by the loader before load. */
const volatile __u8 crab_opt_kind = CRAB_OPT_KIND_DEFAULT;
const volatile __u16 crab_opt_exid = CRAB_OPT_EXID_DEFAULT;
/* The MAC of the device the program is attached to: only frames addressed
 * to it are balanced, and it is the source of frames sent back out of it.
 * All zero (not set) balances nothing.
 */
const volatile __u8 crab_dev_mac[ETH_ALEN];

_Static_assert(sizeof(struct crab_xdp_svc) == sizeof(__u64),
	       "the service entry is copied with one 8-byte load");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_MAX_SERVICES);
	__type(key, struct crab_xdp_svc_key);
	__type(value, struct crab_xdp_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_MAX_SERVICES);
	__type(key, struct crab_xdp_vip_key);
	__type(value, struct crab_xdp_vip);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_SERVICES * CRAB_XDP_GENS);
	__type(key, __u32);
	__type(value, struct crab_xdp_gen);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_gens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct crab_xdp_svc_pcpu);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_svc_pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_MAX_SERVICES * CRAB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_be_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, CRAB_XDP_TX_PORTS_MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_XDP_G_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_glob_cnt SEC(".maps");

/* Scratch space for the headers insert mode moves (too large for the
 * stack next to everything else). Not pinned: nothing outside reads it.
 */
struct hdr_copy {
	__u8 b[HDR_COPY_MAX];
	__u8 opt[TCPOLEN_CRAB6_ALIGNED];	/* the IPv6 option insert writes */
	__u8 tcp12[8];	/* IPv6 insert: TCP header bytes 12..19 */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hdr_copy);
} crab_hdr_copy SEC(".maps");

/* What the parser learnt; offsets are from the start of the frame. */
struct pkt {
	__u32 l3off;
	__u32 thoff;
	__u32 doff;	/* TCP header length in 32-bit words */
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u16 tot_len;	/* host order: the IP packet (IPv6: header + payload) */
	__u8 syn_only;	/* SYN set, ACK clear */
	__u8 vlan;	/* the frame carries an 802.1Q tag */
	__u8 v6;	/* IPv6: the addresses are saddr6/daddr6 */
	__be32 saddr6[4];
	__be32 daddr6[4];
};

/* Where xmit() sends a frame; decided before the frame is rewritten. */
struct nexthop {
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
	__u32 ifindex;	/* crab_tx_ports key when action is XDP_REDIRECT */
	int action;	/* XDP_TX, XDP_REDIRECT, XDP_PASS or XDP_DROP */
	__u32 cnt;	/* XDP_DROP: the service counter the caller counts */
};

static __always_inline void glob_cnt(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&crab_glob_cnt, &c);

	if (v)
		*v += 1;
}

/* A service counter, in the service's per-CPU state (found once per packet). */
static __always_inline void svc_cnt(struct crab_xdp_svc_pcpu *pc, __u32 c)
{
	if (c < CRAB_LB_CNT_MAX)
		pc->cnt[c] += 1;
}

/* The same where the packet found no service entry (a fragment to a VIP). */
static __always_inline void svc_cnt_id(__u32 id, __u32 c)
{
	struct crab_xdp_svc_pcpu *pc = bpf_map_lookup_elem(&crab_svc_pcpu, &id);

	if (pc)
		svc_cnt(pc, c);
	else
		glob_cnt(CRAB_XDP_G_SVC_ID_BAD);
}

static __always_inline void be_cnt(__u32 id, __u32 slot)
{
	__u32 k = id * CRAB_MAX_BACKENDS + slot;
	__u64 *v = bpf_map_lookup_elem(&crab_be_cnt, &k);

	if (v)
		*v += 1;
}

/* @m is the device's own (unicast) MAC, as configured by the loader. */
static __always_inline int mac_is_dev(const __u8 *m)
{
	__u8 diff = 0, any = 0;
	int i;

#pragma unroll
	for (i = 0; i < ETH_ALEN; i++) {
		diff |= m[i] ^ crab_dev_mac[i];
		any |= crab_dev_mac[i];
	}
	return any && !diff;
}

/* A MAC a frame may be sent to as its next hop: unicast, not all zero. */
static __always_inline int mac_is_unicast(const __u8 *m)
{
	return !(m[0] & 1) && (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

/*
 * Checksums: crab_csum.h on 16-bit words as they sit in memory (the one's-
 * complement sum does not depend on byte order, so raw words need no
 * swapping as long as every term is one).
 */
static __always_inline __u32 csum_sub_add(__u32 acc, __u16 old, __u16 new)
{
	return crab_csum_add16(crab_csum_sub16(acc, old), new);
}

static __always_inline __u32 csum_sub_add32(__u32 acc, __be32 old, __be32 new)
{
	return crab_csum_add32(crab_csum_sub32(acc, old), new);
}

/* Raw memory word holding byte @b at header offset @off (other byte 0). */
static __always_inline __u16 byte_word(__u8 b, __u32 off)
{
	return bpf_htons(crab_csum_byte(b, off));
}

/*
 * A backend slot read from a table, bounded for the verifier: out of range
 * is CRAB_MAX_BACKENDS (invalid). The mask after OPAQUE() cannot be
 * dropped by clang, so every copy of the result, even one spilled to the
 * stack and reloaded (which 6.1's verifier would see without the range a
 * later compare taught the register), is provably < CRAB_MAX_BACKENDS.
 */
static __always_inline __u32 slot_bounded(__u32 slot)
{
	if (slot >= CRAB_MAX_BACKENDS)
		return CRAB_MAX_BACKENDS;
	OPAQUE(slot);
	return slot & (CRAB_MAX_BACKENDS - 1);
}

static __always_inline const struct crab_xdp_backend *
slot_backend(const struct crab_xdp_gen *g, __u8 id, __u32 *slot_out)
{
	__u32 slot = slot_bounded(id);

	if (slot >= CRAB_MAX_BACKENDS || !(g->be[slot].flags & CRAB_XDP_BE_VALID))
		return NULL;
	*slot_out = slot;
	return &g->be[slot];
}

/*
 * Backend for a new connection by the service policy (the model's pick);
 * NULL if none. rr and wrr take the service's per-CPU cursor: the 64-bit
 * position's remainder, kept below the table's length by a compare (no
 * division; worked out again when a generation changed the length),
 * crab_lb_pick()'s backend for that position. random: 32 bits of
 * bpf_get_prandom_u32() scaled by their top bits.
 */
static __always_inline const struct crab_xdp_backend *
pick_backend(const struct crab_xdp_svc *svc, const struct crab_xdp_gen *g,
	     struct crab_xdp_svc_pcpu *pc, __u32 *slot_out)
{
	__u32 i;

	if (svc->policy == CRAB_POLICY_RANDOM)
		return slot_backend(g, crab_lb_pick_random(&g->t, bpf_get_prandom_u32()),
				    slot_out);
	i = crab_lb_rr_next(&pc->rr, crab_lb_rr_len(&g->t, svc->policy));
	return slot_backend(g, crab_lb_pick_rr_at(&g->t, svc->policy, i), slot_out);
}

/*
 * Hash mode: the flow's Maglev entry. For a SYN (@syn) whose flow maps to
 * a draining backend: no backend, and *@draining set.
 */
static __always_inline const struct crab_xdp_backend *
hash_backend(const struct crab_xdp_gen *g, const struct pkt *p, int syn,
	     __u32 *slot_out, int *draining)
{
	__u8 id;

	if (p->v6)
		id = crab_lb_pick_flow6(&g->t, p->saddr6, p->daddr6, p->sport, p->dport, syn);
	else
		id = crab_lb_pick_flow(&g->t, p->saddr, p->daddr, p->sport, p->dport, syn);
	if (id == CRAB_LB_DRAINING) {
		*draining = 1;
		return NULL;
	}
	return slot_backend(g, id, slot_out);
}

/*
 * The next hop for a frame to @be, decided before anything is rewritten.
 * @grow: bytes the IP packet is about to gain (insert mode): a packet that
 * would then exceed the egress MTU gets CRAB_LB_CNT_NO_ROOM and no rewrite
 * (docs/PROTOCOL.md 3.2). @dsr: daddr stays the VIP, so the stack could not
 * forward the frame; a missing neighbour is then a drop. A drop leaves in
 * nh->cnt the service counter the caller counts (it holds the service's
 * per-CPU state).
 */
#define ROUTE_HOW(grow, dsr)	((grow) | ((dsr) << 8))

static __always_inline int nh_drop(struct nexthop *nh, __u32 cnt)
{
	nh->cnt = cnt;
	nh->action = XDP_DROP;
	return XDP_DROP;
}

/* A static next hop: to the backend's MAC, from the device's own. */
static __always_inline int nh_static(struct nexthop *nh,
				     const struct crab_xdp_backend *be)
{
	int i;

#pragma unroll
	for (i = 0; i < ETH_ALEN; i++) {
		nh->dmac[i] = be->mac[i];
		nh->smac[i] = crab_dev_mac[i];
	}
	nh->action = XDP_TX;
	return XDP_TX;
}

/* The frame goes out of @ifindex: back out of the ingress device, or
 * redirected to one of the LB's native ports, else to the stack.
 */
static __always_inline int nh_out(struct xdp_md *ctx, struct nexthop *nh, __u32 ifindex)
{
	nh->ifindex = ifindex;
	if (ifindex == ctx->ingress_ifindex) {
		nh->action = XDP_TX;
		return XDP_TX;
	}
	/*
	 * Another device takes redirected frames only if it can transmit XDP
	 * frames: a VLAN device never can, many drivers only with an XDP
	 * program loaded. bpf_redirect() to such a device is dropped by the
	 * kernel after this program counted it sent: redirect only to the
	 * LB's own native ports, hand the rest to the stack.
	 */
	if (!bpf_map_lookup_elem(&crab_tx_ports, &ifindex)) {
		glob_cnt(CRAB_XDP_G_TX_PORT_PASS);
		nh->action = XDP_PASS;
		return XDP_PASS;
	}
	nh->action = XDP_REDIRECT;
	return XDP_REDIRECT;
}

/* The control plane's next hop (CRAB_XDP_BE_NH): to nh_dmac from nh_smac
 * out of nh_ifindex, with the MTU checks the FIB lookup would make.
 */
static __always_inline void nh_resolved_macs(struct nexthop *nh,
					     const struct crab_xdp_backend *be)
{
	__builtin_memcpy(nh->dmac, be->nh_dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, be->nh_smac, ETH_ALEN);
}

/* -1: not usable here, take the FIB lookup (which then decides, as without
 * a resolved next hop). Untagged frames only (the caller passed the others).
 */
static __always_inline int nh_resolved(struct xdp_md *ctx, const struct pkt *p,
				       const struct crab_xdp_backend *be,
				       struct nexthop *nh, __u32 grow)
{
	__u32 ifindex = be->nh_ifindex;
	__u32 mtu_len = p->tot_len;
	int rc;

	if (grow || ifindex != ctx->ingress_ifindex) {
		/* The egress device's MTU, as bpf_fib_lookup() checks it. A
		 * device that is gone (-ENODEV), or a packet too big for it without
		 * growth: the FIB lookup decides, as it would have.
		 */
		rc = bpf_check_mtu(ctx, ifindex, &mtu_len, grow, 0);
		if (rc == BPF_MTU_CHK_RET_FRAG_NEEDED && grow) {
			glob_cnt(CRAB_XDP_G_NH_RESOLVED);
			return nh_drop(nh, CRAB_LB_CNT_NO_ROOM);
		}
		if (rc)
			return -1;
	}
	glob_cnt(CRAB_XDP_G_NH_RESOLVED);
	nh_resolved_macs(nh, be);
	return nh_out(ctx, nh, ifindex);
}

static __noinline int route_sub(struct xdp_md *ctx, const struct pkt *p,
				const struct crab_xdp_backend *be, struct nexthop *nh,
				__u32 how)
{
	/* A subprogram (its lookup structure stays off the main frame, which
	 * the IPv6 paths fill): five arguments at most, so the growth and the
	 * DSR flag come packed by ROUTE_HOW().
	 */
	__u32 grow = how & 0xff;
	int dsr = (how >> 8) & 1;
	struct bpf_fib_lookup fib = {};
	__u32 mtu_len = p->tot_len;
	int rc;

	if (be->flags & CRAB_XDP_BE_HAS_MAC) {
		/* Static next hop on the ingress segment (its VLAN too: the tag
		 * stays), sent from the device's own MAC.
		 */
		glob_cnt(CRAB_XDP_G_NH_STATIC);
		if (!mac_is_unicast(be->mac)) {
			glob_cnt(CRAB_XDP_G_NH_MAC_BAD);
			return nh_drop(nh, CRAB_LB_CNT_TX_ERROR);
		}
		if (grow && bpf_check_mtu(ctx, 0, &mtu_len, grow, 0))
			return nh_drop(nh, CRAB_LB_CNT_NO_ROOM);
		return nh_static(nh, be);
	}
	if (p->vlan) {
		if (grow && bpf_check_mtu(ctx, 0, &mtu_len, grow, 0))
			return nh_drop(nh, CRAB_LB_CNT_NO_ROOM);
		/* bpf_fib_lookup() knows nothing of VLANs (it clears
		 * h_vlan_TCI): the egress it names would be the parent device
		 * with a stale tag, or a VLAN device, which cannot take XDP
		 * frames (a bpf_redirect() to it is dropped by the kernel).
		 * The stack forwards what this program cannot send.
		 */
		glob_cnt(CRAB_XDP_G_VLAN_PASS);
		nh->action = XDP_PASS;
		return XDP_PASS;
	}

	if (be->flags & CRAB_XDP_BE_NH) {
		rc = nh_resolved(ctx, p, be, nh, grow);
		if (rc >= 0)
			return rc;
	}

	glob_cnt(CRAB_XDP_G_NH_FIB);
	fib.l4_protocol = IPPROTO_TCP;
	fib.tot_len = p->tot_len + grow;
	if (p->v6) {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_src, p->saddr6, 16);
		__builtin_memcpy(fib.ipv6_dst, be->dip, 16);
	} else {
		fib.family = AF_INET;
		fib.ipv4_src = p->saddr;
		fib.ipv4_dst = be->dip[0];
	}
	fib.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
		__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
		return nh_out(ctx, nh, fib.ifindex);
	}
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED && grow)
		return nh_drop(nh, CRAB_LB_CNT_NO_ROOM);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH && !dsr) {
		/* daddr is the DIP once rewritten: the stack resolves and
		 * forwards it.
		 */
		glob_cnt(CRAB_XDP_G_FIB_PASS);
		nh->action = XDP_PASS;
		return XDP_PASS;
	}
	glob_cnt(CRAB_XDP_G_FIB_FAIL);
	return nh_drop(nh, CRAB_LB_CNT_TX_ERROR);
}

/*
 * route_sub() decides; its most common cases, a valid static next-hop MAC
 * or a resolved next hop on the ingress device of an untagged frame, with
 * nothing to grow, are decided here without the call (the same checks,
 * the same result).
 */
static __always_inline int route(struct xdp_md *ctx, const struct pkt *p,
				 const struct crab_xdp_backend *be, struct nexthop *nh,
				 __u32 how)
{
	if (how & 0xff)
		return route_sub(ctx, p, be, nh, how);
	if (be->flags & CRAB_XDP_BE_HAS_MAC) {
		if (mac_is_unicast(be->mac)) {
			glob_cnt(CRAB_XDP_G_NH_STATIC);
			return nh_static(nh, be);
		}
	} else if ((be->flags & CRAB_XDP_BE_NH) && !p->vlan &&
		   be->nh_ifindex == ctx->ingress_ifindex) {
		glob_cnt(CRAB_XDP_G_NH_RESOLVED);
		nh_resolved_macs(nh, be);
		nh->action = XDP_TX;
		return XDP_TX;
	}
	return route_sub(ctx, p, be, nh, how);
}

/* Send the (rewritten) frame as route() decided. */
static __always_inline int xmit(struct xdp_md *ctx, const struct nexthop *nh)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if (nh->action == XDP_PASS)
		return XDP_PASS;
	if ((void *)(eth + 1) > data_end) {
		glob_cnt(CRAB_XDP_G_ADJUST_FAIL);
		return XDP_DROP;
	}
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
	if (nh->action == XDP_TX) {
		glob_cnt(CRAB_XDP_G_TX);
		return XDP_TX;
	}
	glob_cnt(CRAB_XDP_G_REDIRECT);
	return bpf_redirect_map(&crab_tx_ports, nh->ifindex, 0);
}

/*
 * Capable SYN: daddr := DIP; the option's address (at TCP header offset
 * @aoff) := VIP. IP and TCP checksums fixed incrementally. Everything is
 * in the linear frame (the parser checked the TCP header against the
 * frame): direct packet access, no copy.
 */
static __always_inline int rewrite_redirect(struct xdp_md *ctx, const struct pkt *p,
					    __be32 dip, __u32 aoff)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 old[4], new[4], *a;
	struct iphdr *iph;
	struct tcphdr *th;
	__u32 acc, i, l3 = p->l3off & 0xff, l4 = p->thoff & 0xff;

	iph = data + l3;
	if ((void *)(iph + 1) > data_end)
		return -1;
	th = data + l4;
	if ((void *)(th + 1) > data_end)
		return -1;
	/* aoff < 64: the fixed header, 40 option bytes, the address. */
	a = (__u8 *)th + (aoff & 63);
	if ((void *)(a + 4) > data_end)
		return -1;
	__builtin_memcpy(old, a, 4);
	__builtin_memcpy(new, &p->daddr, 4);
	__builtin_memcpy(a, new, 4);

	acc = crab_csum_start(th->check);
	acc = csum_sub_add32(acc, p->daddr, dip);
	#pragma unroll
	for (i = 0; i < 4; i++)
		acc = csum_sub_add(acc, byte_word(old[i], aoff + i),
				   byte_word(new[i], aoff + i));
	th->check = crab_csum_finish(acc);

	iph->check = crab_csum_replace32(iph->check, p->daddr, dip);
	iph->daddr = dip;
	return 0;
}

/*
 * Legacy SYN, insert mode: grow the frame by 8 bytes at the head, move
 * l2 + IP + the fixed TCP header forward, and put the option right after the
 * fixed TCP header (before any existing option, so a trailing EOL cannot hide
 * it). doff += 2, tot_len += 8; checksums follow incrementally.
 */
static __always_inline int rewrite_insert(struct xdp_md *ctx, const struct pkt *p,
					  __be32 dip, const struct crab_opt_cfg *cfg)
{
	__u8 opt[TCPOLEN_CRAB_ALIGNED];
	struct hdr_copy *hc;
	__u32 zero = 0;
	__u8 *hdr;
	void *data, *data_end;
	struct iphdr *iph;
	struct tcphdr *th;
	__u32 len = p->thoff + sizeof(struct tcphdr);
	__u32 acc, i;
	__u16 oldw, neww, oldlen, newlen;
	__u16 *w;

	if (len < sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr) ||
	    len > HDR_COPY_MAX)
		return -1;
	hc = bpf_map_lookup_elem(&crab_hdr_copy, &zero);
	if (!hc)
		return -1;
	hdr = hc->b;
	/* 1..HDR_COPY_MAX as the verifier sees it (the check above is
	 * folded into 64-bit arithmetic it cannot follow); same value.
	 */
	len -= 1;
	OPAQUE(len);
	len = (len & (HDR_COPY_MAX - 1)) + 1;
	if (bpf_xdp_load_bytes(ctx, 0, hdr, len))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)TCPOLEN_CRAB_ALIGNED))
		return -1;
	if (bpf_xdp_store_bytes(ctx, 0, hdr, len))
		return -1;
	crab_opt_write(opt, cfg, bpf_ntohl(p->daddr));
	if (bpf_xdp_store_bytes(ctx, len, opt, sizeof(opt)))
		return -1;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	iph = data + (p->l3off & 0xff);
	if ((void *)(iph + 1) > data_end)
		return -1;
	th = data + (p->thoff & 0xff);
	if ((void *)(th + 1) > data_end)
		return -1;

	/* TCP: pseudo-header length, daddr, the doff word, the new option. */
	oldlen = bpf_htons(p->tot_len - (p->thoff - p->l3off));
	newlen = bpf_htons(p->tot_len - (p->thoff - p->l3off) + TCPOLEN_CRAB_ALIGNED);
	w = (__u16 *)((__u8 *)th + 12);
	oldw = *w;
	th->doff = p->doff + 2;
	neww = *w;
	acc = crab_csum_start(th->check);
	acc = csum_sub_add(acc, oldlen, newlen);
	acc = csum_sub_add32(acc, p->daddr, dip);
	acc = csum_sub_add(acc, oldw, neww);
	#pragma unroll
	for (i = 0; i < TCPOLEN_CRAB_ALIGNED; i += 2)
		acc = crab_csum_add16(acc, *(__u16 *)&opt[i]);
	th->check = crab_csum_finish(acc);

	oldlen = bpf_htons(p->tot_len);
	newlen = bpf_htons(p->tot_len + TCPOLEN_CRAB_ALIGNED);
	acc = crab_csum_start(iph->check);
	acc = csum_sub_add(acc, oldlen, newlen);
	acc = csum_sub_add32(acc, p->daddr, dip);
	iph->check = crab_csum_finish(acc);
	iph->tot_len = newlen;
	iph->daddr = dip;
	return 0;
}

/*
 * The TCP checksum of an IPv6 capable SYN after daddr := @dip and the
 * option's 16 address bytes @old := @vip at TCP header offset @aoff.
 */
static __always_inline __u16 csum_redirect6(__u16 check, const __be32 *daddr,
					    const __be32 *dip, const __u8 *old,
					    const __u8 *vip, __u32 aoff)
{
	__u32 acc, i, so = 0, sn = 0;

	acc = crab_csum_start(check);
	for (i = 0; i < 4; i++)
		acc = csum_sub_add32(acc, daddr[i], dip[i]);
	/*
	 * The 16 address bytes as eight big-endian words, summed as if they
	 * sat at an even offset; at an odd one every byte is in the other
	 * half of its checksum word, which swaps the bytes of the folded
	 * one's-complement sum (RFC 1071 2(B)). Not a loop over the 16
	 * bytes: older verifiers refuse the loop clang makes of it (a
	 * back-edge by fall-through), and unrolled it takes 280 bytes of
	 * stack.
	 */
	for (i = 0; i < 16; i += 2) {
		so += ((__u32)old[i] << 8) | old[i + 1];
		sn += ((__u32)vip[i] << 8) | vip[i + 1];
	}
	so = (so & 0xffff) + (so >> 16);
	so = (so & 0xffff) + (so >> 16);
	sn = (sn & 0xffff) + (sn >> 16);
	sn = (sn & 0xffff) + (sn >> 16);
	if (aoff & 1) {
		so = ((so & 0xff) << 8) | (so >> 8);
		sn = ((sn & 0xff) << 8) | (sn >> 8);
	}
	acc = csum_sub_add(acc, bpf_htons((__u16)so), bpf_htons((__u16)sn));
	return crab_csum_finish(acc);
}

/*
 * IPv6 capable SYN: daddr := DIP; the option's 16-byte address (at TCP
 * header offset @aoff) := VIP. No IP header checksum; the TCP checksum
 * (the pseudo-header has daddr) is fixed incrementally. A TCP header in
 * the first 256 bytes (no or short extension headers) is rewritten in
 * place; one further on through bpf_xdp_load/store_bytes().
 */
static __noinline int rewrite_redirect6(struct xdp_md *ctx, const struct pkt *p,
					     const __be32 *dip, __u32 aoff)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const __u8 *vip = (const __u8 *)p->daddr6;
	struct ipv6hdr *ip6;
	struct tcphdr *th;
	__u8 old[16], *a;
	__u16 check;

	if (p->thoff <= 0xff) {
		ip6 = data + (p->l3off & 0xff);
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		th = data + (p->thoff & 0xff);
		if ((void *)(th + 1) > data_end)
			return -1;
		/* aoff < 64: the fixed header, 40 option bytes, the address. */
		a = (__u8 *)th + (aoff & 63);
		if ((void *)(a + 16) > data_end)
			return -1;
		__builtin_memcpy(old, a, 16);
		th->check = csum_redirect6(th->check, p->daddr6, dip, old, vip, aoff);
		__builtin_memcpy(a, vip, 16);
		__builtin_memcpy(&ip6->daddr, dip, 16);
		return 0;
	}
	if (bpf_xdp_load_bytes(ctx, p->thoff + aoff, old, sizeof(old)) ||
	    bpf_xdp_load_bytes(ctx, p->thoff + 16, &check, sizeof(check)))
		return -1;
	check = csum_redirect6(check, p->daddr6, dip, old, vip, aoff);
	if (bpf_xdp_store_bytes(ctx, p->thoff + aoff, (void *)p->daddr6, 16) ||
	    bpf_xdp_store_bytes(ctx, p->thoff + 16, &check, sizeof(check)) ||
	    bpf_xdp_store_bytes(ctx, p->l3off + offsetof(struct ipv6hdr, daddr), (void *)dip, 16))
		return -1;
	return 0;
}

/*
 * IPv6 legacy SYN, insert mode: as rewrite_insert() with the 20-byte
 * option: everything up to the end of the fixed TCP header (extension
 * headers included, at most HDR_COPY_MAX bytes: the caller checked) moves
 * 20 bytes forward, the option follows the fixed header; payload_len += 20,
 * doff += 5, daddr := DIP, TCP checksum incremental.
 */
static __noinline int insert6_grow(struct xdp_md *ctx, const struct pkt *p,
				   const struct crab_opt_cfg *cfg)
{
	struct hdr_copy *hc;
	__u32 zero = 0;
	__u32 len = p->thoff + sizeof(struct tcphdr);

	if (len < sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct tcphdr) ||
	    len > HDR_COPY_MAX)
		return -1;
	hc = bpf_map_lookup_elem(&crab_hdr_copy, &zero);
	if (!hc)
		return -1;
	/* 1..HDR_COPY_MAX as the verifier sees it (the check above is
	 * folded into 64-bit arithmetic it cannot follow); same value.
	 */
	len -= 1;
	OPAQUE(len);
	len = (len & (HDR_COPY_MAX - 1)) + 1;
	if (bpf_xdp_load_bytes(ctx, 0, hc->b, len))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)TCPOLEN_CRAB6_ALIGNED))
		return -1;
	if (bpf_xdp_store_bytes(ctx, 0, hc->b, len))
		return -1;
	crab_opt_write6(hc->opt, cfg, (const __u8 *)p->daddr6);
	if (bpf_xdp_store_bytes(ctx, len, hc->opt, TCPOLEN_CRAB6_ALIGNED))
		return -1;
	return 0;
}

/* The fields insert6_grow() leaves to fix, at the offsets they had. */
static __noinline int insert6_fix(struct xdp_md *ctx, const struct pkt *p,
				  const __be32 *dip)
{
	__u32 zero = 0, acc, i;
	struct hdr_copy *hc;
	__u16 *w, neww;

	hc = bpf_map_lookup_elem(&crab_hdr_copy, &zero);
	if (!hc)
		return -1;
	/* TCP bytes 12..19: doff word, window, checksum, urgent pointer. */
	if (bpf_xdp_load_bytes(ctx, p->thoff + 12, hc->tcp12, sizeof(hc->tcp12)))
		return -1;
	w = (__u16 *)hc->tcp12;
	neww = w[0];
	((__u8 *)&neww)[0] = (__u8)(((p->doff + 5) << 4) | (hc->tcp12[0] & 0x0f));
	acc = crab_csum_start(w[2]);
	acc = csum_sub_add(acc, bpf_htons(p->tot_len - (p->thoff - p->l3off)),
			   bpf_htons(p->tot_len - (p->thoff - p->l3off) + TCPOLEN_CRAB6_ALIGNED));
#pragma clang loop unroll(disable)
	for (i = 0; i < 4; i++)
		acc = csum_sub_add32(acc, p->daddr6[i], dip[i]);
	acc = csum_sub_add(acc, w[0], neww);
#pragma clang loop unroll(disable)
	for (i = 0; i < TCPOLEN_CRAB6_ALIGNED / 2; i++)
		acc = crab_csum_add16(acc, ((__u16 *)hc->opt)[i]);
	w[0] = neww;
	w[2] = crab_csum_finish(acc);
	w[3] = bpf_htons(p->tot_len - sizeof(struct ipv6hdr) + TCPOLEN_CRAB6_ALIGNED);
	if (bpf_xdp_store_bytes(ctx, p->thoff + 12, hc->tcp12, 6) ||
	    bpf_xdp_store_bytes(ctx, p->l3off + offsetof(struct ipv6hdr, payload_len), &w[3], 2) ||
	    bpf_xdp_store_bytes(ctx, p->l3off + offsetof(struct ipv6hdr, daddr), (void *)dip, 16))
		return -1;
	return 0;
}

/* Two subprograms: each frame stays small next to the main one. */
static __always_inline int rewrite_insert6(struct xdp_md *ctx, const struct pkt *p,
					   const __be32 *dip, const struct crab_opt_cfg *cfg)
{
	if (insert6_grow(ctx, p, cfg))
		return -1;
	return insert6_fix(ctx, p, dip);
}

/* What parse6() made of an IPv6 packet. */
enum {
	P6_OK,		/* a TCP segment, p filled in */
	P6_PASS,	/* not ours whatever the address (not TCP, ...) */
	P6_FRAG,	/* a fragment header: ours to drop if to a VIP */
	P6_BOGUS,	/* truncated or inconsistent: idem */
	P6_EXT_LIMIT,	/* more extension headers than walked: idem */
};

/*
 * Parse the IPv6 packet at p->l3off: header, at most CRAB_XDP_IPV6_EXT_MAX
 * extension headers (hop-by-hop, routing, destination options), the fixed
 * TCP header. p->daddr6 is set whenever the result is not P6_PASS.
 */
static __noinline int parse6(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + (p->l3off & 0xff);	/* 14 or 18 */
	struct tcphdr th, *thp;
	__u32 off, end, i;
	__u8 nh, eh[4];

	if ((void *)(ip6 + 1) > data_end)
		return P6_PASS;	/* shorter than an IPv6 header: no address */
	if (ip6->version != 6) {
		glob_cnt(CRAB_XDP_G_IP_VERSION_BAD);
		return P6_PASS;
	}
	__builtin_memcpy(p->saddr6, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr6, &ip6->daddr, 16);
	p->v6 = 1;
	p->tot_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	end = p->l3off + p->tot_len;
	/* A jumbogram (payload_len 0) or a packet longer than the frame. */
	if (!ip6->payload_len || end > (__u32)(data_end - data))
		return P6_BOGUS;
	nh = ip6->nexthdr;
	off = p->l3off + sizeof(*ip6);
	for (i = 0; i < CRAB_XDP_IPV6_EXT_MAX; i++) {
		if (nh == IPPROTO_TCP)
			break;
		if (nh == NEXTHDR_FRAGMENT_)
			return P6_FRAG;
		if (nh != NEXTHDR_HOP_ && nh != NEXTHDR_ROUTING_ && nh != NEXTHDR_DEST_)
			return P6_PASS;	/* ICMPv6 (NDP), UDP, ESP, no next header ... */
		if (off + 8 > end || bpf_xdp_load_bytes(ctx, off, eh, sizeof(eh)))
			return P6_BOGUS;
		/* Segments left: the VIP is a hop on the way, not the end. */
		if (nh == NEXTHDR_ROUTING_ && eh[3])
			return P6_PASS;
		nh = eh[0];
		off += ((__u32)eh[1] + 1) * 8;
	}
	if (nh == NEXTHDR_FRAGMENT_)
		return P6_FRAG;
	if (nh != IPPROTO_TCP) {
		if (nh == NEXTHDR_HOP_ || nh == NEXTHDR_ROUTING_ || nh == NEXTHDR_DEST_)
			return P6_EXT_LIMIT;
		return P6_PASS;
	}
	if (off + sizeof(th) > end)
		return P6_BOGUS;
	if (off <= 0xff) {
		/* In the first 256 bytes: read in place. */
		thp = data + (off & 0xff);
		if ((void *)(thp + 1) > data_end)
			return P6_BOGUS;
	} else {
		if (bpf_xdp_load_bytes(ctx, off, &th, sizeof(th)))
			return P6_BOGUS;
		thp = &th;
	}
	p->thoff = off;
	p->sport = thp->source;
	p->dport = thp->dest;
	p->doff = thp->doff;
	if (p->doff < 5 || p->doff * 4 > end - off)
		return P6_BOGUS;
	p->syn_only = thp->syn && !thp->ack;
	return P6_OK;
}

/*
 * The options of a SYN copied to a zeroed buffer and walked with the shared
 * walk (crab_opt.h) of the segment's family: an IPv4-sized option in an
 * IPv6 SYN is a wrong length (opt_bad_len), and the other way round.
 * Returns the walk's status, or -1 when the options cannot be read;
 * res[0] := the found option's offset in the options, res[1] := wrong
 * length seen. A subprogram: the walk's buffer stays off the main frame.
 */
static __noinline int walk_options(struct xdp_md *ctx, const struct pkt *p,
				   const struct crab_opt_cfg *cfg, __u32 *res)
{
	struct crab_opt_walk w = {};
	__u32 optlen = p->doff * 4 - sizeof(struct tcphdr);
	int st;

	w.st.cfg = *cfg;
	if (optlen > 0 && optlen <= CRAB_TCP_MAX_OPTLEN) {
		/* 6.1's verifier does not learn "!= 0" from a JEQ: give it a
		 * length of the form (x & 63) + 1, i.e. provably 1..64.
		 */
		__u32 n = optlen - 1;

		OPAQUE(n);
		n = (n & (CRAB_OPT_BUF_SIZE - 1)) + 1;
		if (bpf_xdp_load_bytes(ctx, p->thoff + sizeof(struct tcphdr), w.opt, n))
			return -1;
	}
	st = crab_opt_walk_bpf_fam(&w, optlen, &w.st.cfg, p->v6);
	res[0] = w.st.res.off;
	res[1] = w.st.res.bad_len;
	return st;
}

/*
 * Consistent-hash DSR: only the L2 next hop changes. A new flow never
 * starts on a draining backend (crab_lb_model.h): such a SYN is dropped.
 */
static __always_inline int do_hash(struct xdp_md *ctx, const struct pkt *p,
				   struct crab_xdp_svc_pcpu *pc,
				   const struct crab_xdp_svc *svc,
				   const struct crab_xdp_gen *g, __u32 what)
{
	const struct crab_xdp_backend *be;
	struct nexthop nh = {};
	__u32 slot = 0;
	int draining = 0;

	be = hash_backend(g, p, what == CRAB_LB_CNT_SYN_HASHED, &slot, &draining);
	if (draining) {
		svc_cnt(pc, CRAB_LB_CNT_SYN_HASH_DRAINING);
		return XDP_DROP;
	}
	if (!be) {
		svc_cnt(pc, CRAB_LB_CNT_NO_BACKEND);
		return XDP_DROP;
	}
	if (route(ctx, p, be, &nh, ROUTE_HOW(0, 1)) == XDP_DROP) {
		svc_cnt(pc, nh.cnt);
		return XDP_DROP;
	}
	svc_cnt(pc, what);
	be_cnt(svc->id, slot);
	return xmit(ctx, &nh);
}

SEC("xdp")
int crab_lb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	union {
		struct crab_xdp_svc_key s;
		struct crab_xdp_vip_key v;	/* not_keyed: the VIP alone */
	} k = {};
	const struct crab_xdp_backend *be;
	const struct crab_xdp_svc *svc;
	struct crab_xdp_svc_pcpu *pc;
	const struct crab_xdp_gen *g;
	union {
		__u64 raw;
		struct crab_xdp_svc s;
	} sv;
	struct nexthop nh = {};
	struct crab_xdp_vip *vip;
	struct crab_opt_cfg cfg;
	__u32 wres[2] = {};
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct tcphdr *th;
	struct pkt p = {};
	__u32 gkey, slot = 0, optlen, ihl, grow;
	__u16 proto;
	int st, r6, fast;

	if ((void *)(eth + 1) > data_end)
		goto pass;
	/*
	 * Only frames to this device's MAC are ours. A switch floods unknown
	 * unicast to every port and broadcast/multicast reach every host:
	 * two LBs behind one VIP would both forward such a frame, and a
	 * frame to another host is that host's (the stack drops what is not
	 * PACKET_HOST).
	 */
	if (!mac_is_dev(eth->h_dest)) {
		glob_cnt(CRAB_XDP_G_MAC_NOT_OURS);
		return XDP_PASS;
	}
	p.l3off = sizeof(*eth);
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q_)) {
		/* One 802.1Q tag: TCI, then the inner ethertype. */
		__be16 *inner = (void *)(eth + 1) + 2;

		if ((void *)(inner + 1) > data_end)
			goto pass;
		proto = *inner;
		p.l3off += 4;
		p.vlan = 1;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		r6 = parse6(ctx, &p);
		if (r6 == P6_PASS)
			goto pass;
		if (r6 != P6_OK)
			goto not_keyed6;
		__builtin_memcpy(k.s.vip, p.daddr6, 16);
		k.s.family = CRAB_XDP_AF_INET6;
		k.s.port = p.dport;
		goto keyed;
	}
	if (proto != bpf_htons(ETH_P_IP))
		goto pass;
	iph = data + p.l3off;
	if ((void *)(iph + 1) > data_end)
		goto pass;
	/*
	 * Not an IPv4 header whatever the ethertype says: none of its fields
	 * (daddr included) means anything, so it cannot be addressed to a
	 * VIP. Passed unparsed and counted; ip_rcv() drops it and counts it
	 * as an IP header error.
	 */
	if (iph->version != 4) {
		glob_cnt(CRAB_XDP_G_IP_VERSION_BAD);
		return XDP_PASS;
	}

	/*
	 * Fast path: an unfragmented TCP segment with a sane header is keyed
	 * straight on (daddr, dport) in crab_services, one hash lookup per
	 * packet. Only what cannot be keyed (fragments, bogus headers) asks
	 * crab_vips whether the daddr is ours, to count and drop it there.
	 */
	if (iph->frag_off & bpf_htons(IP_MF_ | IP_OFFMASK_))
		goto not_keyed;
	if (iph->protocol != IPPROTO_TCP)
		goto pass;
	ihl = iph->ihl;
	p.tot_len = bpf_ntohs(iph->tot_len);
	if (ihl < 5 || p.tot_len < ihl * 4 + sizeof(*th) ||
	    p.l3off + p.tot_len > (__u32)(data_end - data))
		goto not_keyed;
	p.thoff = p.l3off + ihl * 4;
	th = data + p.thoff;
	if ((void *)(th + 1) > data_end)
		goto not_keyed;
	p.saddr = iph->saddr;
	p.daddr = iph->daddr;
	p.sport = th->source;
	p.dport = th->dest;
	p.doff = th->doff;
	if (p.doff < 5 || p.doff * 4 > p.tot_len - ihl * 4)
		goto not_keyed;
	p.syn_only = th->syn && !th->ack;

	k.s.vip[0] = p.daddr;
	k.s.family = CRAB_XDP_AF_INET;
	k.s.port = p.dport;
keyed:
	svc = bpf_map_lookup_elem(&crab_services, &k.s);
	if (!svc)
		goto pass;
	/*
	 * One copy of the entry, one 8-byte load, and only the copy from here
	 * on: id, policy, legacy mode and generation come from the same
	 * version of the entry (include/crab/crab_xdp.h: publication).
	 */
	sv.raw = *(volatile const __u64 *)svc;
	svc = &sv.s;
	/* The service's per-CPU state, the one lookup for its cursor and
	 * counters; only an id out of range has none.
	 */
	pc = bpf_map_lookup_elem(&crab_svc_pcpu, &sv.s.id);
	if (!pc) {
		glob_cnt(CRAB_XDP_G_SVC_ID_BAD);
		return XDP_DROP;
	}
	gkey = svc->id * CRAB_XDP_GENS + (svc->gen & 1);
	g = bpf_map_lookup_elem(&crab_gens, &gkey);
	if (!g) {
		svc_cnt(pc, CRAB_LB_CNT_NO_BACKEND);
		return XDP_DROP;
	}

	if (!p.syn_only) {
		if (svc->legacy == CRAB_LEGACY_HASH)
			return do_hash(ctx, &p, pc, svc, g, CRAB_LB_CNT_NONSYN_HASHED);
		svc_cnt(pc, CRAB_LB_CNT_NONSYN_DROP);
		return XDP_DROP;
	}

	/*
	 * SYN: the option of the segment's family. The layouts senders
	 * produce are read in place (crab_opt_find_common(): its offset is
	 * the walk's own result); anything else takes the shared walk from
	 * byte 0.
	 */
	cfg.kind = crab_opt_kind;
	cfg.exid = crab_opt_exid;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	fast = -1;
	if (p.thoff <= 0xff)	/* always for IPv4; IPv6 extension headers may exceed it */
		fast = crab_opt_find_common(data_end, (const __u8 *)data + (p.thoff & 0xff) +
					    sizeof(*th), p.doff * 4 - sizeof(*th), &cfg, p.v6);
	if (fast >= 0) {
		st = CRAB_OPT_FOUND;
		wres[0] = fast;
	} else {
		st = walk_options(ctx, &p, &cfg, wres);
		if (st < 0)
			goto truncated;
	}
	if (wres[1])
		svc_cnt(pc, CRAB_LB_CNT_OPT_BAD_LEN);
	if (st == CRAB_OPT_MALFORMED)
		svc_cnt(pc, CRAB_LB_CNT_OPT_MALFORMED);

	if (st == CRAB_OPT_FOUND) {
		be = pick_backend(svc, g, pc, &slot);
		if (!be)
			goto no_backend;
		if (route(ctx, &p, be, &nh, ROUTE_HOW(0, 0)) == XDP_DROP)
			goto route_drop;
		optlen = sizeof(*th) + wres[0] + crab_opt_addr_off(&cfg);
		if (p.v6 ? rewrite_redirect6(ctx, &p, be->dip, optlen) :
			   rewrite_redirect(ctx, &p, be->dip[0], optlen))
			goto adjust_fail;
		svc_cnt(pc, CRAB_LB_CNT_SYN_REDIRECTED);
		be_cnt(svc->id, slot);
		return xmit(ctx, &nh);
	}

	/* A legacy SYN (a malformed walk counts as "no option"). */
	switch (svc->legacy) {
	case CRAB_LEGACY_INSERT:
		/* IPv6: 20 bytes (doff + 5), and the headers it moves (extension
		 * headers included) must fit the copy buffer.
		 */
		grow = p.v6 ? TCPOLEN_CRAB6_ALIGNED : TCPOLEN_CRAB_ALIGNED;
		if (p.doff + grow / 4 > 15 ||
		    p.thoff + sizeof(*th) > HDR_COPY_MAX) {
			svc_cnt(pc, CRAB_LB_CNT_NO_ROOM);
			return XDP_DROP;
		}
		be = pick_backend(svc, g, pc, &slot);
		if (!be)
			goto no_backend;
		/* Not grown past the egress MTU: refused, counted as no_room. */
		if (route(ctx, &p, be, &nh, ROUTE_HOW(grow, 0)) == XDP_DROP)
			goto route_drop;
		if (p.v6 ? rewrite_insert6(ctx, &p, be->dip, &cfg) :
			   rewrite_insert(ctx, &p, be->dip[0], &cfg))
			goto adjust_fail;
		svc_cnt(pc, CRAB_LB_CNT_SYN_INSERTED);
		be_cnt(svc->id, slot);
		return xmit(ctx, &nh);
	case CRAB_LEGACY_HASH:
		return do_hash(ctx, &p, pc, svc, g, CRAB_LB_CNT_SYN_HASHED);
	default:
		svc_cnt(pc, CRAB_LB_CNT_SYN_LEGACY_DROP);
		return XDP_DROP;
	}

no_backend:
	svc_cnt(pc, CRAB_LB_CNT_NO_BACKEND);
	return XDP_DROP;
route_drop:
	svc_cnt(pc, nh.cnt);
	return XDP_DROP;
adjust_fail:
	/* The frame may be half rewritten: never let it go anywhere. */
	glob_cnt(CRAB_XDP_G_ADJUST_FAIL);
	return XDP_DROP;
not_keyed:
	/* A fragment or a bogus IP/TCP header: only ours if daddr is a VIP. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	iph = data + p.l3off;
	if ((void *)(iph + 1) > data_end)
		goto pass;
	__builtin_memset(&k, 0, sizeof(k));
	k.v.vip[0] = iph->daddr;
	k.v.family = CRAB_XDP_AF_INET;
	vip = bpf_map_lookup_elem(&crab_vips, &k.v);
	if (!vip)
		goto pass;
	if (iph->frag_off & bpf_htons(IP_MF_ | IP_OFFMASK_)) {
		svc_cnt_id(vip->svc_id, CRAB_LB_CNT_FRAGMENT);
		return XDP_DROP;
	}
	goto truncated;	/* a bogus header to a VIP */
not_keyed6:
	/* The same for IPv6, and a chain of extension headers too long. */
	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memcpy(k.v.vip, p.daddr6, 16);
	k.v.family = CRAB_XDP_AF_INET6;
	vip = bpf_map_lookup_elem(&crab_vips, &k.v);
	if (!vip)
		goto pass;
	if (r6 == P6_FRAG) {
		svc_cnt_id(vip->svc_id, CRAB_LB_CNT_FRAGMENT);
		return XDP_DROP;
	}
	if (r6 == P6_EXT_LIMIT) {
		glob_cnt(CRAB_XDP_G_EXT_LIMIT);
		return XDP_DROP;
	}
	/* fall through: a bogus header to a VIP */
truncated:
	glob_cnt(CRAB_XDP_G_TRUNCATED);
	return XDP_DROP;
pass:
	glob_cnt(CRAB_XDP_G_PASS);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
