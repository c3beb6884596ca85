// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB eBPF client endpoint, packet half (docs/PROTOCOL.md 3.4-3.7), tc
 * programs on the client's interface.
 *
 * Ingress: a SYN-ACK from S carrying the option naming A != S is a redirect
 * request for the socket connected to A with the same ports. It is taken
 * only when every check of docs/PROTOCOL.md 3.4 holds, cheapest first:
 * redirection enabled; S not martian (0/8, 127/8, multicast, 240/4 and the
 * limited broadcast) nor the address the SYN-ACK is sent to; S in the allow
 * list; no TCP-MD5/AO option; the socket (bpf_sk_lookup_tcp) in SYN-SENT, its
 * SYN announced, no MD5/AO key, the SYN acknowledged; a valid TCP checksum;
 * no other socket on the 4-tuple with S; a strict reverse path (when the
 * device forwards, bpf_fib_lookup; else the kernel's own source checks on
 * the probe below). Then the SYN-ACK claims the socket: the first one wins
 * (compare-and-exchange in the socket's storage), later ones are left to the
 * stack, which answers them with RST.
 *
 * Firewalls (docs/PROTOCOL.md 3.7): the translated SYN-ACK comes from A, so
 * connection tracking sees the reply of the connection to A, but netfilter
 * rules never see S. With the probe on (crab_probe, set when crabctl could
 * attach crab_ep_nf.bpf.c), a claimed SYN-ACK first sends, from S, an ICMP
 * source quench quoting the client's SYN to A: conntrack calls it RELATED,
 * the kernel routes it with S as source (martian, local and rp_filter
 * checks), and netfilter's rules on S apply to it. The SYN-ACK is requeued
 * behind it; only if the netfilter program at the end of LOCAL_IN saw the
 * probe is the SYN-ACK translated, else it is left alone (counted).
 *
 * The flow (netns, local, S, ports) -> A is reserved in crab_ep_flows (a
 * full table refuses the redirect, counted; nothing is ever evicted) and the
 * SYN-ACK's source becomes A. The socket is moved (egress translation, the
 * "redirected" counter) only when it leaves SYN-SENT on that SYN-ACK
 * (crab_ep_client.bpf.c): a SYN-ACK dropped after this point moves nothing.
 * Later packets from S are rewritten to come from A, and ICMP errors about
 * the connection to S (fragmentation needed, unreachable) to be about A, so
 * that path-MTU discovery works.
 *
 * Egress: packets of a moved socket (its storage names S) get S as
 * destination and the next hop of S (bpf_fib_lookup, or bpf_redirect_neigh
 * when that cannot answer: neighbour not resolved, forwarding off).
 *
 * IPv6 (docs/PROTOCOL.md 2 and 3.4): the same for IPv6 segments whose TCP
 * header follows the IPv6 header, with the 20-byte option, the IPv6 allow
 * list and crab_ep_flows6. S must be global unicast: ::/96 (unspecified,
 * loopback, IPv4-compatible), ::ffff:0:0/96 (v4-mapped), fe80::/9
 * (link-local, site-local) and ff00::/8 (multicast) are refused, as is
 * the address the SYN-ACK is sent to; other local addresses fail the
 * reverse path (a local route). The strict reverse path is a FIB lookup
 * on the ingress device, or, when IPv6 forwarding is off there, an output
 * lookup through lo (bpf_fib_lookup() wants forwarding on the device it
 * is given; net.ipv6.conf.lo.forwarding=1 does not make the host forward);
 * when neither can be done the redirect is refused and counted
 * (rejected_rpf_unchecked). The input-path probe (crab_probe6) is an
 * ICMPv6 Packet Too Big from S announcing an MTU of 65535, which TCP
 * ignores (crab_ep_nf.bpf.c hooks IPv6 LOCAL_IN too). ICMPv6
 * errors about the connection to S (packet too big, unreachable, time
 * exceeded, parameter problem) are rewritten to be about A.
 *
 * Cost per packet: ingress, the headers read in place (copied only when
 * they are not in the linear area) and one hash lookup per TCP packet;
 * egress, a socket-storage lookup per packet of a local socket (no header
 * read unless the socket was moved). A moved connection's packets add a
 * 4-byte rewrite with two checksum fixups, and on egress a FIB lookup and
 * one store of both MACs (bench/endpoints/cost.sh times the ingress side).
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
#define IP_DF		0x4000
#define AF_INET6	10
#define IP6_SRC_OFF	(L3_OFF + offsetof(struct ipv6hdr, saddr))
#define IP6_DST_OFF	(L3_OFF + offsetof(struct ipv6hdr, daddr))
#define IP6_L4OFF	(L3_OFF + CRAB_TC_IP6_HLEN)
#define LOOPBACK_IFINDEX	1

/* <linux/icmp.h> pulls in libc headers: the 8-byte ICMP header here. */
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 un;
};

#define ICMP_DEST_UNREACH	3
#define ICMP_TIME_EXCEEDED	11
#define ICMP_PARAMETERPROB	12
/* ICMPv6 errors (RFC 4443): destination unreachable .. parameter problem */
#define ICMPV6_DEST_UNREACH	1
#define ICMPV6_PARAMPROB	4
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6		58
#endif

/* Frames up to this length can be checked (checksum) and probed. */
#define SAVE_MAX	160

/* Set by crabctl before loading (one object per device attach). */
const volatile __u64 crab_netns = 0;	/* the device's network namespace cookie */
const volatile __u32 crab_probe = 0;	/* 1: the input-path probe is on */
const volatile __u32 crab_probe6 = 0;	/* 1: the same for IPv6 redirects */

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRAB_EP_LPM_MAX);
	__type(key, struct crab_ep_lpm_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRAB_EP_LPM_MAX);
	__type(key, struct crab_ep_lpm_key6);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_allow6 SEC(".maps");

/*
 * Per-CPU scratch of the SYN-ACK path (the stack is 512 bytes): the frame
 * (checksum, probe), the probe, helper arguments.
 */
struct scratch {
	__u8 frame[SAVE_MAX + 100];	/* slack: the verifier's view of offset + size */
	__u8 probe[CRAB_EP_PROBE_IPLEN];
	__u8 probe6[CRAB_EP_PROBE6_IPLEN];
	struct bpf_fib_lookup fib;
	struct bpf_sock_tuple t;
	struct crab_ep_flow_key6 fk6;
	struct crab_ep_flow6 fv6;
	struct crab_ep_flow_key6 pk6;
	struct crab_ep_probe6 pv6;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} crab_ep_scratch SEC(".maps");

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

static __always_inline __u32 csum_fold32(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u32)((s & 0xffff) + (s >> 16));
}

/* 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 (multicast), 240.0.0.0/4 (with the limited broadcast). */
static __always_inline int martian(__be32 a)
{
	__u32 h = bpf_ntohl(a) >> 24;

	return h == 0 || h == 127 || h >= 224;
}

enum verdict {
	V_PASS,		/* leave the packet to the stack */
	V_TAKEN,	/* translated */
	V_REQUEUED,	/* probe sent, SYN-ACK requeued behind it */
};

struct decision {
	__be32 a;		/* the dialed address named by the option */
	__u32 isn;		/* the socket's ISN */
	__u32 l4len;		/* TCP header + payload */
	__u32 framelen;		/* skb->len */
	__u32 rpf_deferred;	/* bpf_fib_lookup() could not check the reverse path */
	struct scratch *sc;
};

/*
 * The SYN-ACK's frame into the scratch buffer (zero padded to a multiple of
 * 4 past the TCP segment) and its TCP checksum: 1 valid, 0 invalid, -1 too
 * long to check. A checksum field holding only the pseudo-header sum is a
 * CHECKSUM_PARTIAL frame (a local peer over veth, whose checksum the stack
 * never completes nor verifies): left to the stack, like the kernel does.
 */
static __always_inline int load_and_check_csum(struct __sk_buff *skb,
					       struct crab_tc_pkt *p,
					       struct decision *d)
{
	__u32 pseudo[3], len, l4off = p->l4off, l4len, end;
	struct scratch *sc = d->sc;
	__u16 check, psum;
	__s64 seg, ph;
	__u64 len64;

	len = skb->len;
	l4len = bpf_ntohs(p->ip.tot_len);
	if (l4len < p->ip.ihl * 4 + sizeof(struct tcphdr))
		return 0;
	l4len -= p->ip.ihl * 4;
	if (len > SAVE_MAX || l4off + l4len > len || l4off > 74)
		return -1;
	/* See crab_ep_tc try_redirect(): keep the 6.1 verifier's bounds. */
	len64 = len - 1;
	asm volatile("" : "+r"(len64));
	if (len64 >= SAVE_MAX)
		return -1;
	if (bpf_skb_load_bytes(skb, 0, sc->frame, len64 + 1))
		return -1;
	d->framelen = len;
	d->l4len = l4len;
	/* Zero the padding after the segment (at most 3 bytes). */
	end = l4off + l4len;
	asm volatile("" : "+r"(end));
	if (end > SAVE_MAX)
		return -1;
	end &= 0xff;	/* (the 6.1 verifier's bound) */
	sc->frame[end] = 0;
	sc->frame[end + 1] = 0;
	sc->frame[end + 2] = 0;
	pseudo[0] = p->ip.saddr;
	pseudo[1] = p->ip.daddr;
	pseudo[2] = bpf_htonl((IPPROTO_TCP << 16) | l4len);
	len64 = (l4len + 3) & ~3U;
	asm volatile("" : "+r"(len64));
	if (len64 < 4 || len64 > 144 || l4off > 74)
		return -1;
	seg = bpf_csum_diff(NULL, 0, (__be32 *)(sc->frame + l4off), len64, 0);
	ph = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo), 0);
	if (seg < 0 || ph < 0)
		return -1;
	if (csum_fold32((__u64)(__u32)seg + (__u32)ph) == 0xffff)
		return 1;
	check = p->tcp.check;
	psum = (__u16)csum_fold32((__u32)ph);
	return check == psum;
}

/* Is a socket other than a listener holding (local, S, ports)? */
static __always_inline int tuple_taken(struct __sk_buff *skb, struct crab_tc_pkt *p,
				       struct scratch *sc)
{
	struct bpf_sock_tuple *t = &sc->t;
	struct bpf_sock *sk;
	int taken;

	t->ipv4.saddr = p->ip.saddr;
	t->ipv4.daddr = p->ip.daddr;
	t->ipv4.sport = p->tcp.source;
	t->ipv4.dport = p->tcp.dest;
	sk = bpf_sk_lookup_tcp(skb, t, sizeof(t->ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	taken = sk->state != BPF_TCP_LISTEN;
	bpf_sk_release(sk);
	return taken;
}

/*
 * Strict reverse path of S on the ingress device: the route back to S leaves
 * through it and is unicast. Returns a counter index to reject with, 0 to go
 * on, or -1 when bpf_fib_lookup() cannot answer (forwarding off on the
 * device: the kernel's source checks on the probe then stand in).
 */
static __always_inline int rpf_check(struct __sk_buff *skb, struct crab_tc_pkt *p,
				     struct scratch *sc)
{
	struct bpf_fib_lookup *fib = &sc->fib;
	int r;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->tos = p->ip.tos;
	fib->l4_protocol = IPPROTO_TCP;
	fib->ipv4_src = p->ip.daddr;
	fib->ipv4_dst = p->ip.saddr;
	fib->ifindex = skb->ingress_ifindex;
	r = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
	switch (r) {
	case BPF_FIB_LKUP_RET_SUCCESS:
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return fib->ifindex == skb->ingress_ifindex ? 0 : CRAB_EP_CNT_REJ_RPF;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		/* no route, or a local, broadcast or multicast one */
		return CRAB_EP_CNT_REJ_RPF;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return -1;
	default:
		return CRAB_EP_CNT_REJ_RPF;
	}
}

static __always_inline __u16 ip_csum(const void *hdr)
{
	return (__u16)~csum_fold32((__u32)bpf_csum_diff(NULL, 0, (__be32 *)hdr, 20, 0));
}

/*
 * Turn the frame (a SYN-ACK of @len bytes, at least @minlen, saved in
 * sc->frame) into the probe @probe of @plen bytes after the Ethernet
 * header, clone that out through this device's ingress, and restore the
 * SYN-ACK from the copy. Returns 0 when the probe is on its way.
 */
static __always_inline int emit_probe(struct __sk_buff *skb, struct scratch *sc,
				      const __u8 *probe, __u32 plen, __u32 len, __u32 minlen)
{
	/*
	 * Two checks, each behind a barrier: clang folds "< a || > b" into
	 * one unsigned compare of len - (b + 1), whose bounds 6.12's
	 * verifier does not carry back to len (the restore's store_bytes).
	 */
	asm volatile("" : "+r"(len));
	if (len > SAVE_MAX)
		return -1;
	asm volatile("" : "+r"(len));
	if (len < minlen)
		return -1;
	if (bpf_skb_change_tail(skb, ETH_HLEN + plen, 0))
		return -1;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, probe, plen, BPF_F_RECOMPUTE_CSUM))
		return -1;
	bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
	if (bpf_clone_redirect(skb, skb->ifindex, BPF_F_INGRESS))
		return -1;
	/* Back to the SYN-ACK, byte for byte. */
	if (bpf_skb_change_tail(skb, len, 0))
		return -1;
	if (bpf_skb_store_bytes(skb, 0, sc->frame, len, BPF_F_RECOMPUTE_CSUM))
		return -1;
	crab_ep_count(CRAB_EP_CNT_PROBES_SENT);
	return 0;
}

/*
 * Send the probe ahead of this SYN-ACK and requeue the SYN-ACK behind it
 * (both through this device's ingress, in order on this CPU's backlog).
 * The frame is turned into the probe, cloned out, and restored from the
 * copy in the scratch buffer. Returns 0 when both are on their way.
 */
static __always_inline int send_probe(struct __sk_buff *skb, struct crab_tc_pkt *p,
				      struct decision *d)
{
	struct scratch *sc = d->sc;
	struct iphdr *o = (struct iphdr *)sc->probe;
	struct icmphdr *ic = (struct icmphdr *)(sc->probe + 20);
	struct iphdr *in = (struct iphdr *)(sc->probe + 28);
	__u8 *q = sc->probe + 48;
	__u32 seq = bpf_htonl(d->isn);
	__s64 c;

	__builtin_memset(sc->probe, 0, sizeof(sc->probe));
	o->version = 4;
	o->ihl = 5;
	o->tot_len = bpf_htons(CRAB_EP_PROBE_IPLEN);
	o->ttl = 64;
	o->protocol = IPPROTO_ICMP;
	o->saddr = p->ip.saddr;
	o->daddr = p->ip.daddr;
	o->check = ip_csum(o);
	ic->type = CRAB_EP_PROBE_ICMP_TYPE;
	/* The quoted segment: the client's SYN to A (20 bytes of header). */
	in->version = 4;
	in->ihl = 5;
	in->tot_len = bpf_htons(40);
	in->frag_off = bpf_htons(IP_DF);
	in->ttl = 64;
	in->protocol = IPPROTO_TCP;
	in->saddr = p->ip.daddr;
	in->daddr = d->a;
	in->check = ip_csum(in);
	__builtin_memcpy(q, &p->tcp.dest, 2);
	__builtin_memcpy(q + 2, &p->tcp.source, 2);
	__builtin_memcpy(q + 4, &seq, 4);
	c = bpf_csum_diff(NULL, 0, (__be32 *)(sc->probe + 20), 36, 0);
	ic->checksum = (__u16)~csum_fold32((__u32)c);

	return emit_probe(skb, sc, sc->probe, CRAB_EP_PROBE_IPLEN, d->framelen, ETH_HLEN + 40);
}

/*
 * The checks of the socket itself, the same for both families: @sk is in
 * SYN-SENT, its SYN announced (every bit of @flags set in its storage:
 * CRAB_EP_SK_ANNOUNCED, and CRAB_EP_SK_V6 for an IPv6 segment), it has no
 * TCP-MD5 or TCP-AO key, and @ack acknowledges its SYN: ISN + 1, or up to
 * the end of the SYN's data with TCP Fast Open (what TCP itself accepts in
 * SYN-SENT). write_seq, not snd_nxt: over a veth the answer can arrive while
 * the SYN is still being sent, before snd_nxt moves past it. Returns 0 or
 * the counter of the refusal; *isn gets the socket's ISN, *stp its storage.
 */
static __always_inline __u32 sk_checks(struct bpf_sock *sk, __u32 flags, __u32 ack,
				       __u32 *isn, struct crab_ep_sk **stp)
{
	struct tcp_sock___crab *tp;
	struct crab_ep_sk *st;

	if (sk->state != BPF_TCP_SYN_SENT)
		return CRAB_EP_CNT_REJ_NOT_SYN_SENT;
	st = bpf_sk_storage_get(&crab_ep_sk, sk, 0, 0);
	if (!st || (st->flags & flags) != flags)
		return CRAB_EP_CNT_REJ_NOT_ANNOUNCED;
	if (crab_ep_sk_signed(sk))
		return CRAB_EP_CNT_REJ_SIGNED;
	tp = (struct tcp_sock___crab *)bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return CRAB_EP_CNT_REJ_NOT_ANNOUNCED;
	*isn = tp->snd_una;
	if (ack - *isn - 1 >= tp->write_seq - *isn)
		return CRAB_EP_CNT_REJ_BAD_ACK;
	*stp = st;
	return 0;
}

/*
 * The checks that need the socket @sk (held by the caller). Returns the
 * verdict; *why is the counter of a refusal.
 */
static __always_inline int decide(struct __sk_buff *skb, struct crab_tc_pkt *p,
				  struct bpf_sock *sk, struct decision *d, __u32 *why)
{
	struct crab_ep_flow_key fk = {}, pk = {};
	struct crab_ep_probe pv = {}, *pr;
	struct crab_ep_flow fv = {};
	struct crab_ep_sk *st;
	__u64 claim, old;
	int r;

	*why = sk_checks(sk, CRAB_EP_SK_ANNOUNCED, bpf_ntohl(p->tcp.ack_seq), &d->isn, &st);
	if (*why)
		return V_PASS;
	r = load_and_check_csum(skb, p, d);
	if (r <= 0) {
		*why = r < 0 ? CRAB_EP_CNT_REJ_TOO_LONG : CRAB_EP_CNT_REJ_CSUM;
		return V_PASS;
	}
	if (tuple_taken(skb, p, d->sc)) {
		*why = CRAB_EP_CNT_REJ_TUPLE_TAKEN;
		return V_PASS;
	}
	r = rpf_check(skb, p, d->sc);
	if (r > 0) {
		*why = r;
		return V_PASS;
	}
	d->rpf_deferred = r < 0;

	/* The first valid SYN-ACK wins; its own copies (requeue, resend) go on. */
	claim = crab_ep_claim(p->ip.saddr, bpf_ntohl(p->tcp.seq));
	old = __sync_val_compare_and_swap(&st->claim, 0, claim);
	if (old == CRAB_EP_CLAIM_CLOSED) {
		/* The socket left SYN-SENT since sk_checks(). */
		*why = CRAB_EP_CNT_REJ_NOT_SYN_SENT;
		return V_PASS;
	}
	if (old && old != claim) {
		*why = CRAB_EP_CNT_REJ_CLAIMED;
		return V_PASS;
	}

	if (crab_probe) {
		pk.netns = crab_netns;
		pk.laddr = p->ip.daddr;
		pk.raddr = d->a;
		pk.lport = p->tcp.dest;
		pk.rport = p->tcp.source;
		pr = bpf_map_lookup_elem(&crab_ep_probes, &pk);
		if (pr && pr->saddr == p->ip.saddr && pr->seq == d->isn) {
			if (pr->state == CRAB_EP_PROBE_PASSED) {
				bpf_map_delete_elem(&crab_ep_probes, &pk);
				goto take;
			}
			if (pr->tries < CRAB_EP_PROBE_TRIES) {
				/* Not seen yet (another CPU's backlog?): wait more. */
				pr->tries++;
				return V_REQUEUED;
			}
			/* The input path dropped the probe: firewall, rp_filter, martian. */
			bpf_map_delete_elem(&crab_ep_probes, &pk);
			__sync_val_compare_and_swap(&st->claim, claim, 0);
			*why = CRAB_EP_CNT_REJ_PROBE;
			return V_PASS;
		}
		if (d->rpf_deferred)
			crab_ep_count(CRAB_EP_CNT_RPF_DEFERRED);
		pv.saddr = p->ip.saddr;
		pv.seq = d->isn;
		pv.state = CRAB_EP_PROBE_SENT;
		pv.tries = 0;
		if (bpf_map_update_elem(&crab_ep_probes, &pk, &pv, BPF_ANY) ||
		    send_probe(skb, p, d)) {
			bpf_map_delete_elem(&crab_ep_probes, &pk);
			__sync_val_compare_and_swap(&st->claim, claim, 0);
			*why = CRAB_EP_CNT_REJ_PROBE;
			return V_PASS;
		}
		return V_REQUEUED;
	}

	if (d->rpf_deferred)
		crab_ep_count(CRAB_EP_CNT_RPF_DEFERRED);
take:
	/* Reserve the flow: a full table refuses here, never evicts later. */
	fk.netns = crab_netns;
	fk.laddr = p->ip.daddr;
	fk.raddr = p->ip.saddr;
	fk.lport = p->tcp.dest;
	fk.rport = p->tcp.source;
	fv.addr = d->a;
	r = bpf_map_update_elem(&crab_ep_flows, &fk, &fv, BPF_NOEXIST);
	if (r) {
		__sync_val_compare_and_swap(&st->claim, claim, 0);
		*why = r == -17 /* EEXIST */ ? CRAB_EP_CNT_REJ_TUPLE_TAKEN :
					       CRAB_EP_CNT_REJ_FLOW_FULL;
		return V_PASS;
	}
	if (rewrite_addr(skb, p->l4off, IP_SRC_OFF, p->ip.saddr, d->a)) {
		bpf_map_delete_elem(&crab_ep_flows, &fk);
		__sync_val_compare_and_swap(&st->claim, claim, 0);
		*why = CRAB_EP_CNT_BAD_HEADER;
		return V_PASS;
	}
	return V_TAKEN;
}

/*
 * The redirect option of the layouts senders produce, without the walks
 * (crab_opt_find_sole(): the option behind Linux's layouts and NOPs, then
 * nothing but padding): the results of the three walks (the redirect
 * option, TCP-MD5, TCP-AO) without running them. Copies the option's
 * address (network order, 4 or 16 bytes) to @addr and returns 0; -1:
 * the walks run.
 */
static __always_inline int opt_in_place(const struct crab_opt_walk *w, __u32 len,
					const struct crab_opt_cfg *cfg, int v6, void *addr)
{
	int at = crab_opt_find_sole(w->opt, len, cfg, v6);
	__u32 a;

	if (at < 0)
		return -1;
	a = (__u32)at + (__u32)crab_opt_addr_off(cfg);
	asm volatile("" : "+r"(a));
	if (a > sizeof(w->opt) - 16)
		return -1;
	if (v6)
		__builtin_memcpy(addr, &w->opt[a], 16);
	else
		__builtin_memcpy(addr, &w->opt[a], 4);
	return 0;
}

/* Returns the tc action for a SYN-ACK without a flow. */
static __always_inline int try_redirect(struct __sk_buff *skb, struct crab_tc_pkt *p)
{
	struct crab_opt_walk w = {};
	const struct crab_ep_cfg *cfg;
	struct crab_ep_lpm_key lk;
	struct bpf_sock_tuple *t;
	struct decision d = {};
	struct bpf_sock *sk;
	__u32 optlen, why = 0, zero = 0;
	int st, v, walked;
	__u64 len;

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
		return TC_ACT_OK;
	len += 1;
	if (bpf_skb_load_bytes(skb, p->l4off + sizeof(struct tcphdr), w.opt,
			       len))
		return TC_ACT_OK;
	cfg = crab_ep_get_cfg();
	crab_ep_opt_cfg(cfg, &w.st.cfg);
	walked = opt_in_place(&w, len, &w.st.cfg, 0, &d.a);
	if (walked) {
		st = crab_opt_walk_bpf(&w, len, &w.st.cfg);
		if (st == CRAB_OPT_MALFORMED)
			crab_ep_count(CRAB_EP_CNT_SYNACK_OPT_MALFORMED);
		if (w.st.res.bad_len)
			crab_ep_count(CRAB_EP_CNT_SYNACK_OPT_BAD_LEN);
		if (st != CRAB_OPT_FOUND)
			return TC_ACT_OK;
		d.a = bpf_htonl(w.st.res.addr);
	}
	if (d.a == p->ip.saddr)
		return TC_ACT_OK;	/* an echo on a connection dialed directly */
	if (!cfg || !cfg->enabled) {
		crab_ep_count(CRAB_EP_CNT_REJ_DISABLED);
		return TC_ACT_OK;
	}
	if (martian(p->ip.saddr)) {
		crab_ep_count(CRAB_EP_CNT_REJ_MARTIAN);
		return TC_ACT_OK;
	}
	if (p->ip.saddr == p->ip.daddr) {
		crab_ep_count(CRAB_EP_CNT_REJ_LOCAL);
		return TC_ACT_OK;
	}
	lk.prefixlen = 32;
	lk.addr = p->ip.saddr;
	if (!bpf_map_lookup_elem(&crab_ep_allow, &lk)) {
		crab_ep_count(CRAB_EP_CNT_REJ_ALLOW);
		return TC_ACT_OK;
	}
	if (walked && crab_ep_opts_signed(&w, len)) {
		crab_ep_count(CRAB_EP_CNT_REJ_SIGNED);
		return TC_ACT_OK;
	}
	d.sc = bpf_map_lookup_elem(&crab_ep_scratch, &zero);
	if (!d.sc)
		return TC_ACT_OK;

	/* The socket connected to A with these ports. */
	t = &d.sc->t;
	t->ipv4.saddr = d.a;
	t->ipv4.daddr = p->ip.daddr;
	t->ipv4.sport = p->tcp.source;
	t->ipv4.dport = p->tcp.dest;
	sk = bpf_sk_lookup_tcp(skb, t, sizeof(t->ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk) {
		crab_ep_count(CRAB_EP_CNT_REJ_NOT_ANNOUNCED);
		return TC_ACT_OK;
	}
	v = decide(skb, p, sk, &d, &why);
	bpf_sk_release(sk);
	if (v == V_REQUEUED)
		return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
	if (v == V_PASS && why)
		crab_ep_count(why);
	return TC_ACT_OK;
}

/*
 * An ICMP error quoting a segment of a moved connection (local -> S): make
 * it quote local -> A, so that TCP finds the socket (path MTU, unreachable).
 * The quoted header's checksum is fixed and the ICMP checksum follows both
 * changes; a quoted TCP checksum is left alone (nobody checks it).
 */
static __always_inline void icmp_in(struct __sk_buff *skb, const struct iphdr *ip)
{
	struct {
		struct icmphdr icmp;
		struct iphdr in;
	} h;
	struct crab_ep_flow_key k = {};
	struct crab_ep_flow *f;
	__u32 off, inoff, qoff;
	__be16 ports[2];
	__u16 oldc, newc;
	__be32 s;

	off = L3_OFF + ip->ihl * 4;
	if (bpf_skb_load_bytes(skb, off, &h, sizeof(h)))
		return;
	if (h.icmp.type != ICMP_DEST_UNREACH && h.icmp.type != ICMP_TIME_EXCEEDED &&
	    h.icmp.type != ICMP_PARAMETERPROB)
		return;
	if (h.in.version != 4 || h.in.ihl < 5 || h.in.protocol != IPPROTO_TCP ||
	    h.in.saddr != ip->daddr || (h.in.frag_off & bpf_htons(IP_OFFSET)))
		return;
	inoff = off + sizeof(struct icmphdr);
	qoff = inoff + h.in.ihl * 4;
	if (bpf_skb_load_bytes(skb, qoff, ports, sizeof(ports)))
		return;
	k.netns = crab_netns;
	k.laddr = h.in.saddr;
	k.raddr = h.in.daddr;
	k.lport = ports[0];
	k.rport = ports[1];
	f = bpf_map_lookup_elem(&crab_ep_flows, &k);
	if (!f)
		return;
	s = h.in.daddr;
	oldc = h.in.check;
	if (bpf_l3_csum_replace(skb, inoff + offsetof(struct iphdr, check), s, f->addr,
				sizeof(s)) ||
	    bpf_skb_store_bytes(skb, inoff + offsetof(struct iphdr, daddr), &f->addr,
				sizeof(f->addr), 0) ||
	    bpf_skb_load_bytes(skb, inoff + offsetof(struct iphdr, check), &newc,
			       sizeof(newc)) ||
	    bpf_l4_csum_replace(skb, off + offsetof(struct icmphdr, checksum), s,
				f->addr, sizeof(s)) ||
	    bpf_l4_csum_replace(skb, off + offsetof(struct icmphdr, checksum), oldc,
				newc, sizeof(newc))) {
		crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		return;
	}
	crab_ep_count(CRAB_EP_CNT_ICMP_REWRITTEN);
}

/* ---- IPv6 ---------------------------------------------------------------- */

/*
 * Replace the IPv6 address at @off, fixing the TCP checksum (pseudo
 * header). The store recomputes a CHECKSUM_COMPLETE sum over the address
 * bytes; the checksum helper accounts for its own field: together the sum
 * stays right (IPv6 has no header checksum to absorb the change as in IPv4).
 */
static __always_inline int rewrite_addr6(struct __sk_buff *skb, __u32 off,
					 const void *from, const void *to)
{
	__s64 d = bpf_csum_diff((__be32 *)from, 16, (__be32 *)to, 16, 0);

	if (d < 0)
		return -1;
	if (bpf_l4_csum_replace(skb, IP6_L4OFF + offsetof(struct tcphdr, check), 0,
				(__u32)d, BPF_F_PSEUDO_HDR))
		return -1;
	return bpf_skb_store_bytes(skb, off, to, 16, BPF_F_RECOMPUTE_CSUM);
}

/*
 * Not a global unicast source (docs/PROTOCOL.md 3.4): ::/96 (unspecified,
 * loopback, IPv4-compatible), ::ffff:0:0/96 (v4-mapped), fe80::/10
 * (link-local) with fec0::/10 (site-local, deprecated), ff00::/8 (multicast).
 */
static __always_inline int martian6(const __u8 *a)
{
	__u32 w[4];

	__builtin_memcpy(w, a, 16);
	if (a[0] == 0xff)
		return 1;
	if (a[0] == 0xfe && (a[1] & 0x80))
		return 1;
	if (w[0] == 0 && w[1] == 0 && (w[2] == 0 || w[2] == bpf_htonl(0xffff)))
		return 1;
	return 0;
}

struct decision6 {
	__u8 a[16];		/* A */
	__u32 isn;
	__u32 framelen;
	struct scratch *sc;
};

/* The IPv6 SYN-ACK's TCP checksum, as load_and_check_csum(). */
static __always_inline int load_and_check_csum6(struct __sk_buff *skb,
						struct crab_tc_pkt6 *p,
						struct decision6 *d)
{
	__u32 pseudo[10], len, l4len, end;
	struct scratch *sc = d->sc;
	__u16 check, psum;
	__s64 seg, ph;
	__u64 len64;

	len = skb->len;
	l4len = bpf_ntohs(p->ip6.payload_len);
	if (l4len < sizeof(struct tcphdr))
		return 0;
	if (len > SAVE_MAX || IP6_L4OFF + l4len > len)
		return -1;
	len64 = len - 1;
	asm volatile("" : "+r"(len64));
	if (len64 >= SAVE_MAX)
		return -1;
	if (bpf_skb_load_bytes(skb, 0, sc->frame, len64 + 1))
		return -1;
	d->framelen = len;
	end = IP6_L4OFF + l4len;
	asm volatile("" : "+r"(end));
	if (end > SAVE_MAX)
		return -1;
	end &= 0xff;
	sc->frame[end] = 0;
	sc->frame[end + 1] = 0;
	sc->frame[end + 2] = 0;
	__builtin_memcpy(pseudo, &p->ip6.saddr, 16);
	__builtin_memcpy(pseudo + 4, &p->ip6.daddr, 16);
	pseudo[8] = bpf_htonl(l4len);
	pseudo[9] = bpf_htonl(IPPROTO_TCP);
	len64 = (l4len + 3) & ~3U;
	asm volatile("" : "+r"(len64));
	if (len64 < 4 || len64 > 108)
		return -1;
	seg = bpf_csum_diff(NULL, 0, (__be32 *)(sc->frame + IP6_L4OFF), len64, 0);
	ph = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo), 0);
	if (seg < 0 || ph < 0)
		return -1;
	if (csum_fold32((__u64)(__u32)seg + (__u32)ph) == 0xffff)
		return 1;
	/* CHECKSUM_PARTIAL from a local peer: only the pseudo-header sum. */
	check = p->tcp.check;
	psum = (__u16)csum_fold32((__u32)ph);
	return check == psum;
}

static __always_inline int tuple_taken6(struct __sk_buff *skb, struct crab_tc_pkt6 *p,
					struct scratch *sc)
{
	struct bpf_sock_tuple *t = &sc->t;
	struct bpf_sock *sk;
	int taken;

	__builtin_memcpy(t->ipv6.saddr, &p->ip6.saddr, 16);
	__builtin_memcpy(t->ipv6.daddr, &p->ip6.daddr, 16);
	t->ipv6.sport = p->tcp.source;
	t->ipv6.dport = p->tcp.dest;
	sk = bpf_sk_lookup_tcp(skb, t, sizeof(t->ipv6), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	taken = sk->state != BPF_TCP_LISTEN;
	bpf_sk_release(sk);
	return taken;
}

/*
 * Strict reverse path of S (IPv6): the route back to S is unicast and
 * leaves through the ingress device. Returns 0 or the counter to reject
 * with.
 */
static __always_inline int rpf_check6(struct __sk_buff *skb, struct crab_tc_pkt6 *p,
				      struct scratch *sc)
{
	struct bpf_fib_lookup *fib = &sc->fib;
	int r;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET6;
	fib->l4_protocol = IPPROTO_TCP;
	__builtin_memcpy(fib->ipv6_src, &p->ip6.daddr, 16);
	__builtin_memcpy(fib->ipv6_dst, &p->ip6.saddr, 16);
	fib->ifindex = skb->ingress_ifindex;
	r = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
	if (r == BPF_FIB_LKUP_RET_FWD_DISABLED) {
		/* Forwarding off on the device: the output route, through lo. */
		__builtin_memset(fib, 0, sizeof(*fib));
		fib->family = AF_INET6;
		fib->l4_protocol = IPPROTO_TCP;
		__builtin_memcpy(fib->ipv6_src, &p->ip6.daddr, 16);
		__builtin_memcpy(fib->ipv6_dst, &p->ip6.saddr, 16);
		fib->ifindex = LOOPBACK_IFINDEX;
		r = bpf_fib_lookup(skb, fib, sizeof(*fib), BPF_FIB_LOOKUP_OUTPUT);
		if (r == BPF_FIB_LKUP_RET_FWD_DISABLED)
			return CRAB_EP_CNT_REJ_RPF_UNCHECKED;
	}
	switch (r) {
	case BPF_FIB_LKUP_RET_SUCCESS:
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return fib->ifindex == skb->ingress_ifindex ? 0 : CRAB_EP_CNT_REJ_RPF;
	default:
		/* no route, a local, anycast or reject one, link-local */
		return CRAB_EP_CNT_REJ_RPF;
	}
}

/*
 * send_probe() for IPv6: the probe is an ICMPv6 Packet Too Big from S
 * (an MTU of 65535, which TCP ignores) quoting the client's SYN to A.
 */
static __always_inline int send_probe6(struct __sk_buff *skb, struct crab_tc_pkt6 *p,
				       struct decision6 *d)
{
	struct scratch *sc = d->sc;
	struct ipv6hdr *o = (struct ipv6hdr *)sc->probe6;
	__u8 *ic = sc->probe6 + 40;
	struct ipv6hdr *in = (struct ipv6hdr *)(sc->probe6 + 48);
	__u8 *q = sc->probe6 + 88;
	__u32 seq = bpf_htonl(d->isn), mtu = bpf_htonl(CRAB_EP_PROBE6_MTU);
	__u32 pseudo[10];
	__s64 c, ph;
	__u16 sum;

	__builtin_memset(sc->probe6, 0, sizeof(sc->probe6));
	o->version = 6;
	o->payload_len = bpf_htons(CRAB_EP_PROBE6_IPLEN - 40);
	o->nexthdr = IPPROTO_ICMPV6;
	o->hop_limit = 64;
	__builtin_memcpy(&o->saddr, &p->ip6.saddr, 16);
	__builtin_memcpy(&o->daddr, &p->ip6.daddr, 16);
	ic[0] = CRAB_EP_PROBE6_ICMP_TYPE;
	__builtin_memcpy(ic + 4, &mtu, 4);
	/* The quoted segment: the client's SYN to A (its first 8 bytes). */
	in->version = 6;
	in->payload_len = bpf_htons(sizeof(struct tcphdr));
	in->nexthdr = IPPROTO_TCP;
	in->hop_limit = 64;
	__builtin_memcpy(&in->saddr, &p->ip6.daddr, 16);
	__builtin_memcpy(&in->daddr, d->a, 16);
	__builtin_memcpy(q, &p->tcp.dest, 2);
	__builtin_memcpy(q + 2, &p->tcp.source, 2);
	__builtin_memcpy(q + 4, &seq, 4);
	__builtin_memcpy(pseudo, &p->ip6.saddr, 16);
	__builtin_memcpy(pseudo + 4, &p->ip6.daddr, 16);
	pseudo[8] = bpf_htonl(CRAB_EP_PROBE6_IPLEN - 40);
	pseudo[9] = bpf_htonl(IPPROTO_ICMPV6);
	c = bpf_csum_diff(NULL, 0, (__be32 *)(sc->probe6 + 40), CRAB_EP_PROBE6_IPLEN - 40, 0);
	ph = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo), 0);
	if (c < 0 || ph < 0)
		return -1;
	sum = (__u16)~csum_fold32((__u64)(__u32)c + (__u32)ph);
	__builtin_memcpy(ic + 2, &sum, 2);

	return emit_probe(skb, sc, sc->probe6, CRAB_EP_PROBE6_IPLEN, d->framelen,
			  ETH_HLEN + CRAB_TC_IP6_HLEN + sizeof(struct tcphdr));
}

/*
 * The input-path probe of an IPv6 redirect, as in decide(): V_REQUEUED
 * while it is on its way, V_TAKEN once it came through, V_PASS (why set,
 * the claim released) when the input path dropped it or it could not be
 * sent.
 */
static __always_inline int probe_step6(struct __sk_buff *skb, struct crab_tc_pkt6 *p,
				       struct decision6 *d, struct crab_ep_sk *st, __u64 claim,
				       __u32 *why)
{
	struct crab_ep_flow_key6 *pk = &d->sc->pk6;
	struct crab_ep_probe6 *pv = &d->sc->pv6, *pr;

	__builtin_memset(pk, 0, sizeof(*pk));
	pk->netns = crab_netns;
	__builtin_memcpy(pk->laddr, &p->ip6.daddr, 16);
	__builtin_memcpy(pk->raddr, d->a, 16);
	pk->lport = p->tcp.dest;
	pk->rport = p->tcp.source;
	pr = bpf_map_lookup_elem(&crab_ep_probes6, pk);
	if (pr && crab_ep_addr6_eq(pr->saddr, (const __u8 *)&p->ip6.saddr) &&
	    pr->seq == d->isn) {
		if (pr->state == CRAB_EP_PROBE_PASSED) {
			bpf_map_delete_elem(&crab_ep_probes6, pk);
			return V_TAKEN;
		}
		if (pr->tries < CRAB_EP_PROBE_TRIES) {
			pr->tries++;
			return V_REQUEUED;
		}
		bpf_map_delete_elem(&crab_ep_probes6, pk);
		__sync_val_compare_and_swap(&st->claim, claim, 0);
		*why = CRAB_EP_CNT_REJ_PROBE;
		return V_PASS;
	}
	__builtin_memset(pv, 0, sizeof(*pv));
	__builtin_memcpy(pv->saddr, &p->ip6.saddr, 16);
	pv->seq = d->isn;
	pv->state = CRAB_EP_PROBE_SENT;
	if (bpf_map_update_elem(&crab_ep_probes6, pk, pv, BPF_ANY) ||
	    send_probe6(skb, p, d)) {
		bpf_map_delete_elem(&crab_ep_probes6, pk);
		__sync_val_compare_and_swap(&st->claim, claim, 0);
		*why = CRAB_EP_CNT_REJ_PROBE;
		return V_PASS;
	}
	return V_REQUEUED;
}

/* decide() for IPv6. */
static __always_inline int decide6(struct __sk_buff *skb, struct crab_tc_pkt6 *p,
				   struct bpf_sock *sk, struct decision6 *d, __u32 *why)
{
	struct crab_ep_flow_key6 *fk = &d->sc->fk6;
	struct crab_ep_flow6 *fv = &d->sc->fv6;
	struct crab_ep_sk *st;
	__u64 claim, old;
	int r;

	*why = sk_checks(sk, CRAB_EP_SK_ANNOUNCED | CRAB_EP_SK_V6, bpf_ntohl(p->tcp.ack_seq),
			 &d->isn, &st);
	if (*why)
		return V_PASS;
	r = load_and_check_csum6(skb, p, d);
	if (r <= 0) {
		*why = r < 0 ? CRAB_EP_CNT_REJ_TOO_LONG : CRAB_EP_CNT_REJ_CSUM;
		return V_PASS;
	}
	if (tuple_taken6(skb, p, d->sc)) {
		*why = CRAB_EP_CNT_REJ_TUPLE_TAKEN;
		return V_PASS;
	}
	r = rpf_check6(skb, p, d->sc);
	if (r) {
		*why = r;
		return V_PASS;
	}

	/* The first valid SYN-ACK wins; its own copies go on. */
	claim = crab_ep_claim6((const __u8 *)&p->ip6.saddr, bpf_ntohl(p->tcp.seq));
	old = __sync_val_compare_and_swap(&st->claim, 0, claim);
	if (old == CRAB_EP_CLAIM_CLOSED) {
		*why = CRAB_EP_CNT_REJ_NOT_SYN_SENT;
		return V_PASS;
	}
	if (!old) {
		__builtin_memcpy(st->claim6, &p->ip6.saddr, 16);
	} else if (old != claim || !crab_ep_addr6_eq(st->claim6, (const __u8 *)&p->ip6.saddr)) {
		*why = CRAB_EP_CNT_REJ_CLAIMED;
		return V_PASS;
	}
	if (crab_probe6) {
		r = probe_step6(skb, p, d, st, claim, why);
		if (r != V_TAKEN)
			return r;
	}

	__builtin_memset(fk, 0, sizeof(*fk));
	fk->netns = crab_netns;
	__builtin_memcpy(fk->laddr, &p->ip6.daddr, 16);
	__builtin_memcpy(fk->raddr, &p->ip6.saddr, 16);
	fk->lport = p->tcp.dest;
	fk->rport = p->tcp.source;
	__builtin_memcpy(fv->addr, d->a, 16);
	r = bpf_map_update_elem(&crab_ep_flows6, fk, fv, BPF_NOEXIST);
	if (r) {
		__sync_val_compare_and_swap(&st->claim, claim, 0);
		*why = r == -17 /* EEXIST */ ? CRAB_EP_CNT_REJ_TUPLE_TAKEN :
					       CRAB_EP_CNT_REJ_FLOW_FULL;
		return V_PASS;
	}
	if (rewrite_addr6(skb, IP6_SRC_OFF, &p->ip6.saddr, d->a)) {
		bpf_map_delete_elem(&crab_ep_flows6, fk);
		__sync_val_compare_and_swap(&st->claim, claim, 0);
		*why = CRAB_EP_CNT_BAD_HEADER;
		return V_PASS;
	}
	return V_TAKEN;
}

/* try_redirect() for an IPv6 SYN-ACK without a flow. */
static __always_inline int try_redirect6(struct __sk_buff *skb, struct crab_tc_pkt6 *p)
{
	struct crab_opt_walk w = {};
	const struct crab_ep_cfg *cfg;
	struct crab_ep_lpm_key6 lk;
	struct bpf_sock_tuple *t;
	struct decision6 d = {};
	struct bpf_sock *sk;
	__u32 optlen, why = 0, zero = 0;
	int st, v, walked;
	__u64 len;

	optlen = ((__u32)p->tcp.doff << 2) - sizeof(struct tcphdr);
	len = optlen - 1;
	asm volatile("" : "+r"(len));
	if (len >= CRAB_TCP_MAX_OPTLEN)
		return TC_ACT_OK;
	len += 1;
	if (bpf_skb_load_bytes(skb, IP6_L4OFF + sizeof(struct tcphdr), w.opt, len))
		return TC_ACT_OK;
	cfg = crab_ep_get_cfg();
	crab_ep_opt_cfg(cfg, &w.st.cfg);
	walked = opt_in_place(&w, len, &w.st.cfg, 1, d.a);
	if (walked) {
		st = crab_opt_walk_bpf_fam(&w, len, &w.st.cfg, 1);
		if (st == CRAB_OPT_MALFORMED)
			crab_ep_count(CRAB_EP_CNT_SYNACK_OPT_MALFORMED);
		if (w.st.res.bad_len)
			crab_ep_count(CRAB_EP_CNT_SYNACK_OPT_BAD_LEN);
		if (st != CRAB_OPT_FOUND)
			return TC_ACT_OK;
		__builtin_memcpy(d.a, w.st.res.addr6, 16);
	}
	if (crab_ep_addr6_eq(d.a, (const __u8 *)&p->ip6.saddr))
		return TC_ACT_OK;	/* an echo on a connection dialed directly */
	if (!cfg || !cfg->enabled) {
		crab_ep_count(CRAB_EP_CNT_REJ_DISABLED);
		return TC_ACT_OK;
	}
	if (martian6((const __u8 *)&p->ip6.saddr)) {
		crab_ep_count(CRAB_EP_CNT_REJ_MARTIAN);
		return TC_ACT_OK;
	}
	if (crab_ep_addr6_eq((const __u8 *)&p->ip6.saddr, (const __u8 *)&p->ip6.daddr)) {
		crab_ep_count(CRAB_EP_CNT_REJ_LOCAL);
		return TC_ACT_OK;
	}
	lk.prefixlen = 128;
	__builtin_memcpy(lk.addr, &p->ip6.saddr, 16);
	if (!bpf_map_lookup_elem(&crab_ep_allow6, &lk)) {
		crab_ep_count(CRAB_EP_CNT_REJ_ALLOW);
		return TC_ACT_OK;
	}
	if (walked && crab_ep_opts_signed(&w, len)) {
		crab_ep_count(CRAB_EP_CNT_REJ_SIGNED);
		return TC_ACT_OK;
	}
	d.sc = bpf_map_lookup_elem(&crab_ep_scratch, &zero);
	if (!d.sc)
		return TC_ACT_OK;

	/* The socket connected to A with these ports. */
	t = &d.sc->t;
	__builtin_memcpy(t->ipv6.saddr, d.a, 16);
	__builtin_memcpy(t->ipv6.daddr, &p->ip6.daddr, 16);
	t->ipv6.sport = p->tcp.source;
	t->ipv6.dport = p->tcp.dest;
	sk = bpf_sk_lookup_tcp(skb, t, sizeof(t->ipv6), BPF_F_CURRENT_NETNS, 0);
	if (!sk) {
		crab_ep_count(CRAB_EP_CNT_REJ_NOT_ANNOUNCED);
		return TC_ACT_OK;
	}
	v = decide6(skb, p, sk, &d, &why);
	bpf_sk_release(sk);
	if (v == V_REQUEUED)
		return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
	if (v == V_PASS && why)
		crab_ep_count(why);
	return TC_ACT_OK;
}

/*
 * An ICMPv6 error quoting a segment of a moved connection (local -> S):
 * make it quote local -> A (the ICMPv6 checksum follows; its pseudo header
 * is the outer one, unchanged).
 */
static __always_inline void icmp6_in(struct __sk_buff *skb, const struct ipv6hdr *ip6)
{
	struct {
		__u8 type;
		__u8 code;
		__sum16 checksum;
		__be32 un;
		struct ipv6hdr in;
	} h;
	struct crab_ep_flow_key6 k = {};
	struct crab_ep_flow6 *f;
	const __u32 off = L3_OFF + CRAB_TC_IP6_HLEN, inoff = off + 8;
	__be16 ports[2];
	__s64 d;

	if (bpf_skb_load_bytes(skb, off, &h, sizeof(h)))
		return;
	if (h.type < ICMPV6_DEST_UNREACH || h.type > ICMPV6_PARAMPROB)
		return;
	if (h.in.version != 6 || h.in.nexthdr != IPPROTO_TCP ||
	    !crab_ep_addr6_eq((const __u8 *)&h.in.saddr, (const __u8 *)&ip6->daddr))
		return;
	if (bpf_skb_load_bytes(skb, inoff + CRAB_TC_IP6_HLEN, ports, sizeof(ports)))
		return;
	k.netns = crab_netns;
	__builtin_memcpy(k.laddr, &h.in.saddr, 16);
	__builtin_memcpy(k.raddr, &h.in.daddr, 16);
	k.lport = ports[0];
	k.rport = ports[1];
	f = bpf_map_lookup_elem(&crab_ep_flows6, &k);
	if (!f)
		return;
	d = bpf_csum_diff((__be32 *)&h.in.daddr, 16, (__be32 *)f->addr, 16, 0);
	if (d < 0 ||
	    bpf_skb_store_bytes(skb, inoff + offsetof(struct ipv6hdr, daddr), f->addr, 16, 0) ||
	    bpf_l4_csum_replace(skb, off + 2, 0, (__u32)d, 0)) {
		crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		return;
	}
	crab_ep_count(CRAB_EP_CNT_ICMP_REWRITTEN);
}

static __always_inline int ingress6(struct __sk_buff *skb)
{
	struct crab_ep_flow_key6 k = {};
	struct crab_ep_flow6 *f;
	struct crab_tc_pkt6 p;
	int r;

	r = crab_tc_load_pkt6(skb, &p);
	if (r) {
		if (r < 0)
			crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		else if (p.ip6.nexthdr == IPPROTO_ICMPV6)
			icmp6_in(skb, &p.ip6);
		return TC_ACT_OK;
	}
	k.netns = crab_netns;
	__builtin_memcpy(k.laddr, &p.ip6.daddr, 16);
	__builtin_memcpy(k.raddr, &p.ip6.saddr, 16);
	k.lport = p.tcp.dest;
	k.rport = p.tcp.source;
	f = bpf_map_lookup_elem(&crab_ep_flows6, &k);
	if (f) {
		if (rewrite_addr6(skb, IP6_SRC_OFF, &p.ip6.saddr, f->addr))
			crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		else
			crab_ep_count(CRAB_EP_CNT_RX_REWRITTEN);
		return TC_ACT_OK;
	}
	if (p.tcp.syn && p.tcp.ack)
		return try_redirect6(skb, &p);
	return TC_ACT_OK;
}

/* The next hop's MACs into the frame, in one store. */
static __always_inline int set_macs(struct __sk_buff *skb, const struct bpf_fib_lookup *fib)
{
	__u8 macs[2 * ETH_ALEN];

	__builtin_memcpy(macs, fib->dmac, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, fib->smac, ETH_ALEN);
	return bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0);
}

/* Egress of a moved IPv6 socket: to S, through S's next hop. */
static __always_inline int egress6(struct __sk_buff *skb, struct crab_ep_sk *st)
{
	struct bpf_fib_lookup fib = {};
	struct crab_tc_pkt6 p;
	__u8 s[16];
	int r;

	__builtin_memcpy(s, st->peer6, 16);
	r = crab_tc_load_pkt6(skb, &p);
	if (r || crab_ep_addr6_eq((const __u8 *)&p.ip6.daddr, s))
		return TC_ACT_OK;
	if (rewrite_addr6(skb, IP6_DST_OFF, &p.ip6.daddr, s)) {
		crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		return TC_ACT_SHOT;
	}
	crab_ep_count(CRAB_EP_CNT_TX_REWRITTEN);

	fib.family = AF_INET6;
	fib.l4_protocol = IPPROTO_TCP;
	fib.tot_len = CRAB_TC_IP6_HLEN + bpf_ntohs(p.ip6.payload_len);
	__builtin_memcpy(fib.ipv6_src, &p.ip6.saddr, 16);
	__builtin_memcpy(fib.ipv6_dst, s, 16);
	fib.ifindex = skb->ifindex;
	r = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT);
	switch (r) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		if (set_macs(skb, &fib)) {
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
		/* NO_NEIGH, FWD_DISABLED (forwarding off): the kernel routes. */
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	}
}

SEC("tc")
int crab_ep_tc_ingress(struct __sk_buff *skb)
{
	struct crab_ep_flow_key k;
	struct crab_ep_flow *f;
	struct crab_tc_pkt p;
	int r;

	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return ingress6(skb);
	r = crab_tc_load_pkt(skb, &p);
	if (r) {
		if (r < 0)
			crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		else if (skb->protocol == bpf_htons(ETH_P_IP) &&
			 p.ip.protocol == IPPROTO_ICMP &&
			 !(p.ip.frag_off & bpf_htons(IP_MF | IP_OFFSET)))
			icmp_in(skb, &p.ip);
		return TC_ACT_OK;
	}
	k.netns = crab_netns;
	k.laddr = p.ip.daddr;
	k.raddr = p.ip.saddr;
	k.lport = p.tcp.dest;
	k.rport = p.tcp.source;
	k.pad = 0;
	f = bpf_map_lookup_elem(&crab_ep_flows, &k);
	if (f) {
		/* Also covers a retransmitted SYN-ACK of an accepted redirect. */
		if (rewrite_addr(skb, p.l4off, IP_SRC_OFF, p.ip.saddr, f->addr))
			crab_ep_count(CRAB_EP_CNT_BAD_HEADER);
		else
			crab_ep_count(CRAB_EP_CNT_RX_REWRITTEN);
		return TC_ACT_OK;
	}
	if (p.tcp.syn && p.tcp.ack)
		return try_redirect(skb, &p);
	return TC_ACT_OK;
}

SEC("tc")
int crab_ep_tc_egress(struct __sk_buff *skb)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_sock *sk = skb->sk;
	struct crab_ep_sk *st;
	struct crab_tc_pkt p;
	__be32 s;
	int r;

	/* Only packets of a local socket moved to S are translated. */
	if (!sk)
		return TC_ACT_OK;
	st = bpf_sk_storage_get(&crab_ep_sk, sk, 0, 0);
	if (!st)
		return TC_ACT_OK;
	if (st->flags & CRAB_EP_SK_MOVED6)
		return egress6(skb, st);
	if (!st->peer)
		return TC_ACT_OK;
	s = st->peer;
	r = crab_tc_load_pkt(skb, &p);
	if (r || p.ip.daddr == s)
		return TC_ACT_OK;
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
		if (set_macs(skb, &fib)) {
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
