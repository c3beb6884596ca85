// SPDX-License-Identifier: GPL-2.0-only
/*
 * crab_client: Connection Redirect client for unmodified kernels
 * (docs/PROTOCOL.md 3.1, 3.4, 3.7, 3.8).
 *
 * Nothing happens in a namespace until net.crab.client_enabled=1 there and
 * its lists name destinations and sources (an empty list is none).
 *
 * IPv4 and IPv6 alike: the hooks below are registered for both families,
 * a segment carries the option of its own family (8 or 20 bytes), and the
 * IPv6 path checks add link-local, v4-mapped and IPv4-compatible sources.
 * An IPv6 socket connected to a v4-mapped address sends IPv4: the IPv4
 * hooks handle it.
 *
 * LOCAL_OUT (before raw and conntrack): a SYN to a destination in
 * client_announce_cidrs, from a socket without TCP-MD5/AO keys, gets the
 * option naming the dialed address; (4-tuple, ISN) is remembered.
 *
 * A SYN-ACK from S naming A != S is a redirect request for the socket
 * connected to A with the same ports. It is looked at twice:
 *
 * PRE_ROUTING (after raw, before conntrack): the path checks, counted here
 * because routing drops some of these packets before LOCAL_IN: S must be
 * a unicast address that is not this host's, the SYN-ACK must pass a
 * strict reverse-path check on the interface it came in on (a FIB lookup
 * of our own, whatever rp_filter says) and carry a valid TCP checksum.
 * When it also answers a socket that waits for it, the SYN-ACK is given
 * the conntrack entry of that socket's SYN to A, as a reply: conntrack
 * skips a packet that already has an entry, so "ct state" sees the reply
 * of the connection the client opened (established), not a SYN-ACK that
 * opens nothing (invalid). The socket itself is not touched here.
 *
 * LOCAL_IN (last priority): only a SYN-ACK every filter hook accepted gets
 * here. All checks are made again and, under the socket's lock, the socket
 * is moved from A to S in one step (crab_client_rekey()). TCP then finds it
 * by S, through the same checks as any segment (minimum TTL, IPsec policy,
 * socket filter). Anything refused goes on unchanged to TCP, which answers
 * it with RST; the reason is counted.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>
#include <net/inet_hashtables.h>
#include <net/inet_sock.h>
#include <net/inet_timewait_sock.h>
#include <net/ip_fib.h>
#include <net/inet6_hashtables.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/l3mdev.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_zones.h>
#include <net/route.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "../common/crab_ep_lib.h"

static unsigned int opt_kind = CRAB_OPT_KIND_DEFAULT;
module_param(opt_kind, uint, 0444);
MODULE_PARM_DESC(opt_kind, "option kind: 42 (default), 254 (RFC 6994 form) or another unassigned kind");

static unsigned int opt_exid = CRAB_OPT_EXID_DEFAULT;
module_param(opt_exid, uint, 0444);
MODULE_PARM_DESC(opt_exid, "RFC 6994 experiment id used with opt_kind=254");

static unsigned int table_entries = 16384;
module_param(table_entries, uint, 0444);
MODULE_PARM_DESC(table_entries, "announced SYNs remembered per netns (rounded up)");

/* A SYN is retransmitted for up to ~127 s with tcp_syn_retries=6. */
static unsigned int entry_timeout = 130;
module_param(entry_timeout, uint, 0444);
MODULE_PARM_DESC(entry_timeout, "seconds an announced SYN stays valid");

static struct crab_opt_cfg crab_cfg __read_mostly;
static unsigned int crab_client_net_id __read_mostly;

struct crab_client_stats {
	u64 c[CRAB_CLIENT__MAX];
};

struct crab_client_net {
	u8 enabled;
	struct crab_ep_cidr_conf announce;
	struct crab_ep_cidr_conf allow;
	struct crab_ep_table tbl;
	struct crab_client_stats __percpu *stats;
	struct ctl_table *ctl;
	struct ctl_table_header *ctl_hdr;
	possible_net_t net;
	spinlock_t deferred_lock;	/* protects deferred, deferred_len */
	struct list_head deferred;
	unsigned int deferred_len;
	struct delayed_work retry;
};

static const char *const crab_client_names[] = {
	CRAB_CLIENT_COUNTERS(CRAB_EP_NAME)
};

static inline struct crab_client_net *crab_cn(const struct net *net)
{
	return net_generic(net, crab_client_net_id);
}

static inline void crab_inc(struct crab_client_net *cn, enum crab_client_counter c)
{
	this_cpu_inc(cn->stats->c[c]);
}

/* LOCAL_OUT: announce in SYNs to listed destinations. */
static unsigned int crab_client_out(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	struct crab_client_net *cn = crab_cn(state->net);
	struct crab_ep_val v = { };
	struct crab_opt_res res;
	struct crab_ep_seg seg;
	struct crab_ep_key k;

	if (!READ_ONCE(cn->enabled))
		return NF_ACCEPT;
	switch (crab_ep_tcp(skb, state->pf == NFPROTO_IPV6, &seg)) {
	case CRAB_EP_PKT_OK:
		break;
	case CRAB_EP_PKT_FRAG:
		crab_inc(cn, CRAB_CLIENT_FRAGMENT);
		return NF_ACCEPT;
	case CRAB_EP_PKT_INVALID:
		crab_inc(cn, CRAB_CLIENT_HDR_INVALID);
		return NF_ACCEPT;
	default:
		return NF_ACCEPT;
	}
	if (!seg.th.syn || seg.th.ack || seg.th.rst)
		return NF_ACCEPT;
	if (!crab_ep_cidrs_match(&cn->announce, &seg.daddr, seg.v6)) {
		crab_inc(cn, CRAB_CLIENT_SYN_NOT_LISTED);
		return NF_ACCEPT;
	}
	/* A signed SYN is never touched, a keyed socket never announces. */
	if (crab_ep_sk_signed(skb->sk) ||
	    crab_ep_opts_signed(skb, seg.thoff, &seg.th)) {
		crab_inc(cn, CRAB_CLIENT_SYN_SIGNED);
		return NF_ACCEPT;
	}
	/* Already announced: LOCAL_OUT runs again for a VRF's device. */
	if (crab_ep_find_opt(skb, &seg, &crab_cfg, &res) == CRAB_OPT_FOUND)
		return NF_ACCEPT;

	k.saddr = seg.saddr;
	k.daddr = seg.daddr;
	k.sport = seg.th.source;
	k.dport = seg.th.dest;
	switch (crab_ep_add_opt(skb, seg.thoff, seg.v6, &crab_cfg, &k.daddr)) {
	case CRAB_EP_GROW_OK:
		break;
	case CRAB_EP_GROW_NO_ROOM:
		crab_inc(cn, CRAB_CLIENT_SYN_NO_ROOM);
		net_dbg_ratelimited("no option room in SYN to %pI6c\n",
				    &k.daddr);
		return NF_ACCEPT;
	case CRAB_EP_GROW_TOO_BIG:
		crab_inc(cn, CRAB_CLIENT_SYN_TOO_BIG);
		net_dbg_ratelimited("SYN to %pI6c too big for the option\n",
				    &k.daddr);
		return NF_ACCEPT;
	default:
		crab_inc(cn, CRAB_CLIENT_SYN_NOMEM);
		net_warn_ratelimited("cannot grow SYN to %pI6c: no memory\n",
				     &k.daddr);
		return NF_ACCEPT;
	}
	v.a = ntohl(seg.th.seq);
	if (crab_ep_table_put(&cn->tbl, &k, &v) == CRAB_EP_PUT_EVICTED)
		crab_inc(cn, CRAB_CLIENT_TABLE_EVICTED);
	crab_inc(cn, CRAB_CLIENT_SYN_ANNOUNCED);
	return NF_ACCEPT;
}

/* A SYN-ACK carrying the redirect option. */
struct crab_sa {
	struct crab_ep_seg seg;	/* saddr: S, daddr: this host */
	struct in6_addr named;	/* A; IPv4: v4-mapped */
	u32 ack;
};

/*
 * Parse @skb as a SYN-ACK with the option, of the family of the hook
 * (@v6). @count: the first look at the packet (PRE_ROUTING) counts
 * malformed input, the second stays silent. A fragmented SYN-ACK (whole
 * again only at LOCAL_IN, or after conntrack's defragmentation) is never
 * taken as a redirect.
 */
static bool crab_client_parse(struct crab_client_net *cn,
			      const struct sk_buff *skb, bool v6,
			      struct crab_sa *sa, bool count)
{
	const struct tcphdr *th = &sa->seg.th;
	struct crab_opt_res res;
	u16 frag_max_size;
	int r;

	switch (crab_ep_tcp(skb, v6, &sa->seg)) {
	case CRAB_EP_PKT_OK:
		break;
	case CRAB_EP_PKT_FRAG:
		if (count)
			crab_inc(cn, CRAB_CLIENT_FRAGMENT);
		return false;
	case CRAB_EP_PKT_INVALID:
		if (count) {
			crab_inc(cn, CRAB_CLIENT_HDR_INVALID);
			net_dbg_ratelimited("invalid TCP header %pI6c -> %pI6c\n",
					    &sa->seg.saddr, &sa->seg.daddr);
		}
		return false;
	default:
		return false;
	}
	if (!th->syn || !th->ack || th->rst || th->doff <= 5)
		return false;
	frag_max_size = v6 ? IP6CB(skb)->frag_max_size :
			     IPCB(skb)->frag_max_size;
	if (frag_max_size) {
		if (count)
			crab_inc(cn, CRAB_CLIENT_FRAGMENT);
		return false;
	}
	r = crab_ep_find_opt(skb, &sa->seg, &crab_cfg, &res);
	if (count && res.bad_len)
		crab_inc(cn, CRAB_CLIENT_OPT_BAD_LEN);
	if (r == CRAB_OPT_MALFORMED) {
		if (count) {
			crab_inc(cn, CRAB_CLIENT_OPT_MALFORMED);
			net_dbg_ratelimited("malformed options in SYN-ACK from %pI6c\n",
					    &sa->seg.saddr);
		}
		return false;
	}
	if (r != CRAB_OPT_FOUND)
		return false;
	if (v6)
		memcpy(&sa->named, res.addr6, sizeof(sa->named));
	else
		crab_ep_addr4(&sa->named, htonl(res.addr));
	sa->ack = ntohl(th->ack_seq);
	return true;
}

/*
 * Strict reverse path: the route back to @src (from @dst) must leave
 * through @dev, the interface the SYN-ACK came in on (for a VRF slave, in
 * the VRF's table), as fib_validate_source() does with rp_filter=1. Our
 * own lookup: a namespace's rp_filter setting does not weaken a redirect.
 */
static bool crab_client_rpf(struct net *net, __be32 src, __be32 dst,
			    struct net_device *dev)
{
	struct fib_result res;
	struct flowi4 fl4;

	memset(&fl4, 0, sizeof(fl4));
	fl4.flowi4_iif = LOOPBACK_IFINDEX;
	fl4.flowi4_l3mdev = l3mdev_master_ifindex_rcu(dev);
	fl4.flowi4_scope = RT_SCOPE_UNIVERSE;
	fl4.flowi4_uid = sock_net_uid(net, NULL);
	fl4.daddr = src;
	fl4.saddr = dst;
	if (fib_lookup(net, &fl4, &res, 0))
		return false;
	return res.type == RTN_UNICAST && fib_info_nh_uses_dev(res.fi, dev);
}

/*
 * The same for IPv6, as ip6t_rpfilter does: a route lookup for @src (from
 * @dst) in @dev's VRF, which must be a unicast route (not reject, not
 * anycast, not local) leaving through @dev. It needs no forwarding
 * setting (unlike bpf_fib_lookup()).
 */
static bool crab_client_rpf6(struct net *net, struct sk_buff *skb,
			     const struct in6_addr *src,
			     const struct in6_addr *dst,
			     struct net_device *dev)
{
	struct flowi6 fl6 = {
		.flowi6_iif = LOOPBACK_IFINDEX,
		.flowi6_l3mdev = l3mdev_master_ifindex_rcu(dev),
		.flowi6_proto = IPPROTO_TCP,
		.flowi6_uid = sock_net_uid(net, NULL),
		.daddr = *src,
		.saddr = *dst,
	};
	struct rt6_info *rt;
	bool ok = false;

	rt = (struct rt6_info *)ip6_route_lookup(net, &fl6, skb,
						 RT6_LOOKUP_F_HAS_SADDR);
	if (rt->dst.error)
		goto out;
	if (rt->rt6i_flags & (RTF_REJECT | RTF_ANYCAST | RTF_LOCAL))
		goto out;
	ok = rt->rt6i_idev && rt->rt6i_idev->dev == dev;
out:
	ip6_rt_put(rt);
	return ok;
}

/*
 * The source checks of docs/PROTOCOL.md 3.4 for IPv6: S must be global
 * unicast, not unspecified, loopback, multicast, link-local, v4-mapped
 * (IPv6 input drops those before netfilter, RFC 4291 2.5.5.2: checked
 * anyway) or IPv4-compatible (::/96), and no address of this host.
 */
static enum crab_client_counter crab_client_check_src6(struct net *net,
						       const struct in6_addr *s,
						       struct net_device *dev)
{
	int t = ipv6_addr_type(s);

	if (t == IPV6_ADDR_ANY)
		return CRAB_CLIENT_REJ_SRC_ZERO;
	if (t & IPV6_ADDR_LOOPBACK)
		return CRAB_CLIENT_REJ_SRC_LOOPBACK;
	if (t & IPV6_ADDR_MULTICAST)
		return CRAB_CLIENT_REJ_SRC_MCAST;
	if (t & IPV6_ADDR_LINKLOCAL)
		return CRAB_CLIENT_REJ_SRC_LINKLOCAL;
	if (t & IPV6_ADDR_MAPPED)
		return CRAB_CLIENT_REJ_SRC_V4MAPPED;
	/* ::/96 (IPv4-compatible, deprecated by RFC 4291 2.5.5.1) */
	if (!(t & IPV6_ADDR_UNICAST) ||
	    !(s->s6_addr32[0] | s->s6_addr32[1] | s->s6_addr32[2]))
		return CRAB_CLIENT_REJ_SRC_MARTIAN;
	/* any address of this host, on any device (of any VRF) */
	if (ipv6_chk_addr(net, s, NULL, 0))
		return CRAB_CLIENT_REJ_SRC_LOCAL;
	return CRAB_CLIENT__MAX;
}

static enum crab_client_counter crab_client_check_src4(struct net *net,
						       __be32 s,
						       struct net_device *dev)
{
	if (ipv4_is_zeronet(s))
		return CRAB_CLIENT_REJ_SRC_ZERO;
	if (ipv4_is_lbcast(s))
		return CRAB_CLIENT_REJ_SRC_BCAST;
	if (ipv4_is_multicast(s))
		return CRAB_CLIENT_REJ_SRC_MCAST;
	if (ipv4_is_loopback(s))
		return CRAB_CLIENT_REJ_SRC_LOOPBACK;
	switch (inet_addr_type_dev_table(net, dev, s)) {
	case RTN_UNICAST:
		return CRAB_CLIENT__MAX;
	case RTN_LOCAL:
		return CRAB_CLIENT_REJ_SRC_LOCAL;
	case RTN_BROADCAST:
		return CRAB_CLIENT_REJ_SRC_BCAST;
	case RTN_MULTICAST:
		return CRAB_CLIENT_REJ_SRC_MCAST;
	default:
		return CRAB_CLIENT_REJ_SRC_MARTIAN;
	}
}

/*
 * The path checks of docs/PROTOCOL.md 3.4 on the SYN-ACK that came in on
 * @dev: CRAB_CLIENT__MAX when they hold, else the reason. The kernel's own
 * classification of the source (ipv4_is_*() and the local table of @dev's
 * VRF, ipv6_addr_type() and the host's addresses), its checksum helper
 * (the IPv6 one over the IPv6 pseudo-header), and a FIB lookup.
 */
static enum crab_client_counter crab_client_check_path(struct net *net,
						       struct sk_buff *skb,
						       const struct crab_sa *sa,
						       struct net_device *dev,
						       unsigned int hook)
{
	const struct crab_ep_seg *seg = &sa->seg;
	enum crab_client_counter why;
	bool rpf;

	if (seg->v6)
		why = crab_client_check_src6(net, &seg->saddr, dev);
	else
		why = crab_client_check_src4(net, crab_ep_v4(&seg->saddr), dev);
	if (why != CRAB_CLIENT__MAX)
		return why;
	if (nf_checksum(skb, hook, seg->thoff, IPPROTO_TCP,
			seg->v6 ? AF_INET6 : AF_INET))
		return CRAB_CLIENT_REJ_BAD_CSUM;
	if (seg->v6)
		rpf = crab_client_rpf6(net, skb, &seg->saddr, &seg->daddr, dev);
	else
		rpf = crab_client_rpf(net, crab_ep_v4(&seg->saddr),
				      crab_ep_v4(&seg->daddr), dev);
	return rpf ? CRAB_CLIENT__MAX : CRAB_CLIENT_REJ_RPF;
}

/*
 * The acknowledgment TCP itself accepts in SYN-SENT: after the ISN, up to
 * what the SYN carried (ISN + 1, or past the Fast Open data). write_seq,
 * not snd_nxt: while connect() still holds the socket (the SYN-ACK can
 * come back inside the softirq the SYN's transmission ran), snd_nxt is not
 * yet past the SYN.
 */
static bool crab_client_ack_ok(const struct sock *sk, u32 isn, u32 ack)
{
	return !before(ack, isn + 1) &&
	       !after(ack, READ_ONCE(tcp_sk(sk)->write_seq));
}

struct crab_match {
	struct sock *sk;			/* keyed on A, SYN-SENT; ref */
	struct inet_timewait_sock *tw;		/* keyed on S, replaced; ref */
	u32 isn;
};

static void crab_match_put(struct crab_match *m)
{
	if (m->sk)
		sock_gen_put(m->sk);
	if (m->tw)
		inet_twsk_put(m->tw);
	m->sk = NULL;
	m->tw = NULL;
}

/* The key of the announce entry of the socket @sa names (A). */
static void crab_client_key(const struct crab_sa *sa, struct crab_ep_key *k)
{
	k->saddr = sa->seg.daddr;
	k->daddr = sa->named;
	k->sport = sa->seg.th.dest;
	k->dport = sa->seg.th.source;
}

/*
 * The established (or TIME_WAIT) socket of this host's address and port
 * of @sa with the peer @peer and @sa's source port, of @sa's family; a
 * reference held.
 */
static struct sock *crab_client_lookup(struct net *net,
				       const struct crab_sa *sa,
				       const struct in6_addr *peer,
				       int dif, int sdif)
{
	struct inet_hashinfo *hinfo = net->ipv4.tcp_death_row.hashinfo;
	const struct crab_ep_seg *seg = &sa->seg;

	if (seg->v6)
		return __inet6_lookup_established(net, hinfo, peer,
						  seg->th.source, &seg->daddr,
						  ntohs(seg->th.dest), dif,
						  sdif);
	return __inet_lookup_established(net, hinfo, crab_ep_v4(peer),
					 seg->th.source, crab_ep_v4(&seg->daddr),
					 ntohs(seg->th.dest), dif, sdif);
}

/*
 * Find the socket the SYN-ACK @sa asks to redirect, and check it: in
 * SYN-SENT, no TCP-MD5/AO, S allowed, its SYN announced, the ack right.
 * CRAB_CLIENT__MAX with @m filled (references held), or the reason (no
 * reference). @dif/@sdif: as TCP's own lookup of this packet uses them.
 */
static enum crab_client_counter crab_client_match(struct net *net,
						  struct crab_client_net *cn,
						  const struct sk_buff *skb,
						  const struct crab_sa *sa,
						  int dif, int sdif,
						  struct crab_match *m)
{
	enum crab_client_counter why;
	struct crab_ep_val v;
	struct crab_ep_key k;
	struct sock *sk;

	crab_client_key(sa, &k);
	m->sk = NULL;
	m->tw = NULL;
	/*
	 * A socket already keyed on S owns this SYN-ACK: a retransmission
	 * after a redirect, or a connection dialed to S. TCP's business.
	 * A TIME_WAIT keyed on S is an earlier connection from this port to
	 * S: connect() chose the port unique for A, not for S. If the SYN-ACK
	 * proves to answer a SYN-SENT socket's announced SYN, S has accepted
	 * the new connection and the TIME_WAIT is replaced, as connect()
	 * does with tcp_tw_reuse.
	 */
	sk = crab_client_lookup(net, sa, &sa->seg.saddr, dif, sdif);
	if (sk) {
		if (sk->sk_state != TCP_TIME_WAIT) {
			sock_gen_put(sk);
			return CRAB_CLIENT_SYNACK_KNOWN;
		}
		m->tw = inet_twsk(sk);
	}
	sk = crab_client_lookup(net, sa, &sa->named, dif, sdif);
	if (!sk) {
		/* without a redirect for us, a TIME_WAIT's business */
		why = m->tw ? CRAB_CLIENT_SYNACK_KNOWN : CRAB_CLIENT_REJ_NO_SOCKET;
		goto out;
	}
	m->sk = sk;
	if (sk->sk_state != TCP_SYN_SENT) {
		why = CRAB_CLIENT_REJ_NOT_SYNSENT;
		goto out;
	}
	if (crab_ep_sk_signed(sk) ||
	    crab_ep_opts_signed(skb, sa->seg.thoff, &sa->seg.th)) {
		why = CRAB_CLIENT_REJ_SIGNED;
		goto out;
	}
	if (!crab_ep_cidrs_match(&cn->allow, &sa->seg.saddr, sa->seg.v6)) {
		why = CRAB_CLIENT_REJ_NOT_ALLOWED;
		goto out;
	}
	/* The entry must belong to this socket's SYN, not an earlier one's. */
	if (!crab_ep_table_get(&cn->tbl, &k, &v) ||
	    READ_ONCE(tcp_sk(sk)->snd_una) != v.a) {
		why = CRAB_CLIENT_REJ_NOT_ANNOUNCED;
		goto out;
	}
	m->isn = v.a;
	if (!crab_client_ack_ok(sk, m->isn, sa->ack)) {
		why = CRAB_CLIENT_REJ_BAD_ACK;
		goto out;
	}
	return CRAB_CLIENT__MAX;
out:
	crab_match_put(m);
	return why;
}

static void crab_lock_pair(spinlock_t *a, spinlock_t *b)
{
	if (a == b) {
		spin_lock(a);
		return;
	}
	if (a > b)
		swap(a, b);
	spin_lock(a);
	spin_lock_nested(b, SINGLE_DEPTH_NESTING);
}

static void crab_unlock_pair(spinlock_t *a, spinlock_t *b)
{
	if (a != b)
		spin_unlock(b);
	spin_unlock(a);
}

/*
 * Move @sk (SYN-SENT, keyed on A, bh-locked and not owned by user) to peer
 * @s in one step: under the ehash locks of its old and new buckets (taken
 * in address order; TCP never holds two, so no other order exists), it is
 * moved only if no socket but @tw (a TIME_WAIT it replaces) holds the new
 * 4-tuple, the check __inet_check_established() makes for connect(), with
 * the socket's own binding. It is never out of the table meanwhile: a
 * lookup for A finds it until the move, one for S right after. Lockless
 * readers that were walking the old chain end on the new chain's nulls
 * marker and restart, as for any socket that moves chains. The peer
 * address is written before the socket shows up in the new chain. The
 * bind hashes key on the local side and stay. The cached route pointed at
 * A: dropped, so that the ACK is routed to S. -EADDRINUSE, nothing
 * changed, when the tuple is taken.
 */
static u32 crab_client_ehash(const struct sock *sk, const struct in6_addr *s,
			     bool v6)
{
	if (v6)
		return inet6_ehashfn(sock_net(sk), &sk->sk_v6_rcv_saddr,
				     sk->sk_num, s, sk->sk_dport);
	return inet_ehashfn(sock_net(sk), sk->sk_rcv_saddr, sk->sk_num,
			    crab_ep_v4(s), sk->sk_dport);
}

static int crab_client_rekey(struct sock *sk, const struct in6_addr *s,
			     bool v6, struct inet_timewait_sock *tw)
{
	INET_ADDR_COOKIE(acookie, crab_ep_v4(s), sk->sk_rcv_saddr);
	struct net *net = sock_net(sk);
	struct inet_hashinfo *hinfo = net->ipv4.tcp_death_row.hashinfo;
	const __portpair ports = INET_COMBINED_PORTS(sk->sk_dport, sk->sk_num);
	int dif = sk->sk_bound_dev_if;
	int sdif = l3mdev_master_ifindex_by_index(net, dif);
	unsigned int hash = crab_client_ehash(sk, s, v6);
	struct inet_ehash_bucket *head = inet_ehash_bucket(hinfo, hash);
	spinlock_t *old_lock = inet_ehash_lockp(hinfo, sk->sk_hash);
	spinlock_t *new_lock = inet_ehash_lockp(hinfo, hash);
	const struct hlist_nulls_node *node;
	struct sock *sk2;
	int err = 0;

	crab_lock_pair(old_lock, new_lock);
	if (sk_unhashed(sk)) {
		err = -ENOENT;
		goto out;
	}
	sk_nulls_for_each(sk2, node, &head->chain) {
		if (sk2->sk_hash != hash || sk2 == (struct sock *)tw)
			continue;
		if (v6 ? inet6_match(net, sk2, s, &sk->sk_v6_rcv_saddr, ports,
				     dif, sdif) :
			 inet_match(net, sk2, acookie, ports, dif, sdif)) {
			err = -EADDRINUSE;
			goto out;
		}
	}
	__sk_nulls_del_node_init_rcu(sk);
	if (v6) {
		sk->sk_v6_daddr = *s;
	} else {
		sk->sk_daddr = crab_ep_v4(s);
#if IS_ENABLED(CONFIG_IPV6)
		if (sk->sk_family == AF_INET6)	/* a v4-mapped socket */
			ipv6_addr_set_v4mapped(sk->sk_daddr, &sk->sk_v6_daddr);
#endif
	}
	sk->sk_hash = hash;
	__sk_nulls_add_node_rcu(sk, &head->chain);
	if (tw)
		sk_nulls_del_node_init_rcu((struct sock *)tw);
out:
	crab_unlock_pair(old_lock, new_lock);
	if (!err)
		sk_dst_reset(sk);
	return err;
}

/*
 * Without mid-stream pickup (net.netfilter.nf_conntrack_tcp_loose=0),
 * conntrack would call the client's ACK to S, the first packet of a flow
 * it never saw open, INVALID, and every packet after it too. So when
 * conntrack tracks this SYN-ACK as the reply of the SYN to A (our PRE_ROUTING
 * hook attached that entry) and pickup is off, the SYN-ACK is dropped once
 * the socket is keyed on S, and the socket sends its SYN again, at once,
 * now to S: conntrack sees a SYN open the flow, S answers the duplicate
 * SYN with its SYN-ACK again, and the connection is tracked from its
 * start. One round trip more, no timeout.
 */
static bool crab_client_ct_strict(struct net *net, const struct sk_buff *skb,
				  const struct crab_sa *sa)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	enum ip_conntrack_info ctinfo;
	const struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	const union nf_inet_addr *a;

	if (!ct || ctinfo != IP_CT_ESTABLISHED_REPLY ||
	    READ_ONCE(net->ct.nf_ct_proto.tcp.tcp_loose))
		return false;
	a = &ct->tuplehash[IP_CT_DIR_REPLY].tuple.src.u3;
	return sa->seg.v6 ? ipv6_addr_equal(&a->in6, &sa->named) :
			    a->ip == crab_ep_v4(&sa->named);
#else
	return false;
#endif
}

/*
 * PRE_ROUTING: give a SYN-ACK that answers a waiting socket the conntrack
 * entry of that socket's SYN to A, in the reply direction. Without it the
 * SYN-ACK from S (an entry keyed on A) is a SYN-ACK opening a flow:
 * INVALID, dropped by "ct state invalid drop" or by a policy drop, and the
 * redirect waits for a SYN retransmission. nf_conntrack is looked up
 * through symbol_get(): loading crab_client does not load it.
 */
static void crab_client_attach_ct(struct net *net, struct crab_client_net *cn,
				  struct sk_buff *skb, const struct crab_sa *sa)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	static const struct nf_conntrack_zone zone = {
		.id = NF_CT_DEFAULT_ZONE_ID,
		.dir = NF_CT_DEFAULT_ZONE_DIR,
	};
	struct nf_conntrack_tuple_hash *(*find)(struct net *net,
						const struct nf_conntrack_zone *zone,
						const struct nf_conntrack_tuple *tuple);
	struct nf_conntrack_tuple_hash *h;
	struct nf_conntrack_tuple t;
	struct nf_conn *ct;

	find = symbol_get(nf_conntrack_find_get);
	if (!find)
		return;
	memset(&t, 0, sizeof(t));
	if (sa->seg.v6) {
		t.src.l3num = NFPROTO_IPV6;
		t.src.u3.in6 = sa->named;
		t.dst.u3.in6 = sa->seg.daddr;
	} else {
		t.src.l3num = NFPROTO_IPV4;
		t.src.u3.ip = crab_ep_v4(&sa->named);
		t.dst.u3.ip = crab_ep_v4(&sa->seg.daddr);
	}
	t.src.u.tcp.port = sa->seg.th.source;
	t.dst.u.tcp.port = sa->seg.th.dest;
	t.dst.protonum = IPPROTO_TCP;
	h = find(net, &zone, &t);
	symbol_put(nf_conntrack_find_get);
	if (!h)
		return;
	ct = nf_ct_tuplehash_to_ctrack(h);
	if (NF_CT_DIRECTION(h) != IP_CT_DIR_REPLY) {
		nf_conntrack_put(&ct->ct_general);
		return;
	}
	nf_ct_set(skb, ct, IP_CT_ESTABLISHED_REPLY);	/* takes find's ref */
	crab_inc(cn, CRAB_CLIENT_CT_ATTACHED);
#endif
}

/* PRE_ROUTING, before conntrack: count the path refusals, attach the entry. */
static unsigned int crab_client_pre(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	struct crab_client_net *cn = crab_cn(state->net);
	struct net_device *dev = skb->dev;
	enum crab_client_counter why;
	struct crab_match m;
	struct crab_sa sa;
	int dif, sdif;

	if (!crab_client_parse(cn, skb, state->pf == NFPROTO_IPV6, &sa, true))
		return NF_ACCEPT;
	if (ipv6_addr_equal(&sa.named, &sa.seg.saddr) ||
	    !READ_ONCE(cn->enabled))
		return NF_ACCEPT;
	/* A VRF runs PRE_ROUTING again on its own device: seen on the slave. */
	if (!dev || netif_is_l3_master(dev))
		return NF_ACCEPT;
	why = crab_client_check_path(state->net, skb, &sa, dev,
				     NF_INET_PRE_ROUTING);
	if (why != CRAB_CLIENT__MAX) {
		crab_inc(cn, why);
		net_dbg_ratelimited("redirect %pI6c -> %pI6c refused (%s)\n",
				    &sa.named, &sa.seg.saddr,
				    crab_client_names[why]);
		return NF_ACCEPT;
	}
	/* Already classified (raw: notrack, zone template), or no conntrack. */
	if (skb_nfct(skb) || !rcu_access_pointer(nf_ct_hook))
		return NF_ACCEPT;
	sdif = netif_is_l3_slave(dev) ? dev->ifindex : 0;
	dif = sdif ? l3mdev_master_ifindex_rcu(dev) : dev->ifindex;
	if (crab_client_match(state->net, cn, skb, &sa, dif, sdif, &m) !=
	    CRAB_CLIENT__MAX)
		return NF_ACCEPT;	/* LOCAL_IN counts why, if it gets there */
	crab_match_put(&m);
	crab_client_attach_ct(state->net, cn, skb, &sa);
	return NF_ACCEPT;
}

/*
 * A SYN-ACK from the dialed address itself: TCP's business. Its announce
 * entry is dropped only for a SYN-ACK TCP will take (enabled, SYN-SENT
 * socket, right ack): a spoofer who knows the 4-tuple but not the ISN must
 * not erase it before a genuine redirect arrives.
 */
static void crab_client_direct(struct net *net, struct crab_client_net *cn,
			       const struct crab_sa *sa, int dif, int sdif)
{
	struct crab_ep_val v;
	struct crab_ep_key k;
	struct sock *sk;

	crab_client_key(sa, &k);
	if (!crab_ep_table_get(&cn->tbl, &k, &v))
		return;
	sk = crab_client_lookup(net, sa, &sa->seg.saddr, dif, sdif);
	if (!sk)
		return;
	if (sk->sk_state == TCP_SYN_SENT &&
	    READ_ONCE(tcp_sk(sk)->snd_una) == v.a &&
	    crab_client_ack_ok(sk, v.a, sa->ack))
		crab_ep_table_del(&cn->tbl, &k);
	sock_gen_put(sk);
}

/* Is @sk still connected to A, the address @sa names? */
static bool crab_client_keyed(const struct sock *sk, const struct crab_sa *sa)
{
	if (sa->seg.v6)
		return ipv6_addr_equal(&sk->sk_v6_daddr, &sa->named);
	return sk->sk_daddr == crab_ep_v4(&sa->named);
}

enum crab_redir {
	CRAB_REDIR_PASS,	/* refused or not ours: continue */
	CRAB_REDIR_DONE,	/* re-keyed: continue to TCP */
	CRAB_REDIR_RESYN,	/* re-keyed, SYN to be sent again: drop this */
	CRAB_REDIR_LOCKED,	/* socket owned by user: try again later */
};

/*
 * The decision at LOCAL_IN, after every filter: all checks again (the path
 * ones silently, PRE_ROUTING counted them), then the atomic re-key. Runs in
 * the hook and, for SYN-ACKs held back, in the retry work (BH disabled,
 * RCU read side). @retry: from the work; @final: no retry left, a socket
 * owned by user is then a refusal.
 */
static enum crab_redir crab_client_decide(struct net *net,
					  struct crab_client_net *cn,
					  struct sk_buff *skb, bool retry,
					  bool final)
{
	enum crab_client_counter why;
	bool v6 = skb->protocol == htons(ETH_P_IPV6);
	struct net_device *dev;
	struct crab_match m;
	struct crab_ep_key k;
	struct crab_sa sa;
	int dif, sdif;
	bool resyn;

	if (!crab_client_parse(cn, skb, v6, &sa, false))
		return CRAB_REDIR_PASS;
	dif = v6 ? inet6_iif(skb) : inet_iif(skb);
	sdif = v6 ? inet6_sdif(skb) : inet_sdif(skb);
	if (ipv6_addr_equal(&sa.named, &sa.seg.saddr)) {
		crab_inc(cn, CRAB_CLIENT_SYNACK_DIRECT);
		if (READ_ONCE(cn->enabled))
			crab_client_direct(net, cn, &sa, dif, sdif);
		return CRAB_REDIR_PASS;
	}
	if (!READ_ONCE(cn->enabled)) {
		why = CRAB_CLIENT_REJ_DISABLED;
		goto refuse;
	}
	/* The interface it came in on: for a VRF, the slave. */
	dev = sdif ? dev_get_by_index_rcu(net, sdif) : skb->dev;
	if (!dev || crab_client_check_path(net, skb, &sa, dev, NF_INET_LOCAL_IN) !=
	    CRAB_CLIENT__MAX)
		return CRAB_REDIR_PASS;
	why = crab_client_match(net, cn, skb, &sa, dif, sdif, &m);
	if (why == CRAB_CLIENT_SYNACK_KNOWN) {
		crab_inc(cn, why);
		return CRAB_REDIR_PASS;
	}
	if (why != CRAB_CLIENT__MAX)
		goto refuse;
	/* While a SYN-ACK is held back, later ones queue behind it: first wins. */
	if (!retry && READ_ONCE(cn->deferred_len)) {
		crab_match_put(&m);
		return CRAB_REDIR_LOCKED;
	}

	bh_lock_sock(m.sk);
	if (sock_owned_by_user(m.sk)) {
		bh_unlock_sock(m.sk);
		crab_match_put(&m);
		if (!final)
			return CRAB_REDIR_LOCKED;
		why = CRAB_CLIENT_REJ_LOCKED;
		goto refuse;
	}
	/*
	 * Under the lock: still SYN-SENT, still keyed on A, still the SYN
	 * that announced. Another SYN-ACK processed on another CPU since the
	 * lookup (a second backend answering a retransmitted SYN) finds it
	 * moved: the first one wins.
	 */
	if (m.sk->sk_state != TCP_SYN_SENT || !crab_client_keyed(m.sk, &sa) ||
	    tcp_sk(m.sk)->snd_una != m.isn ||
	    !crab_client_ack_ok(m.sk, m.isn, sa.ack)) {
		why = CRAB_CLIENT_REJ_RACED;
		goto refuse_unlock;
	}
	resyn = crab_client_ct_strict(net, skb, &sa);
	if (crab_client_rekey(m.sk, &sa.seg.saddr, v6, m.tw)) {
		why = CRAB_CLIENT_REJ_TUPLE_TAKEN;
		goto refuse_unlock;
	}
	if (m.tw) {
		inet_twsk_deschedule_put(m.tw);
		m.tw = NULL;
		crab_inc(cn, CRAB_CLIENT_TW_REPLACED);
	}
	if (resyn)
		inet_csk_reset_xmit_timer(m.sk, ICSK_TIME_RETRANS, 0,
					  TCP_RTO_MAX);
	bh_unlock_sock(m.sk);
	crab_match_put(&m);
	crab_client_key(&sa, &k);
	crab_ep_table_del(&cn->tbl, &k);
	crab_inc(cn, CRAB_CLIENT_REDIRECTED);
	/*
	 * Early demux may have attached the TIME_WAIT just replaced (TCP
	 * would use it instead of looking the packet up): drop it, TCP
	 * looks up again and finds the re-keyed socket.
	 */
	if (skb->sk)
		skb_orphan(skb);
	if (resyn) {
		crab_inc(cn, CRAB_CLIENT_CT_RESYN);
		return CRAB_REDIR_RESYN;
	}
	return CRAB_REDIR_DONE;

refuse_unlock:
	bh_unlock_sock(m.sk);
	crab_match_put(&m);
refuse:
	crab_inc(cn, why);
	net_dbg_ratelimited("redirect %pI6c -> %pI6c refused (%s)\n", &sa.named,
			    &sa.seg.saddr, crab_client_names[why]);
	return CRAB_REDIR_PASS;
}

/*
 * A SYN-ACK for a socket owned by user (connect() still holds the lock:
 * with veth the whole handshake can run in the softirq its own SYN
 * triggered) cannot be moved now: only the owner may change the socket's
 * hash state then (a concurrent close() or failed connect() unhashes it
 * from the bucket it read before taking the lock), and TCP's backlog is
 * keyed on the socket TCP finds, which is still the one keyed on A. So the
 * SYN-ACK is held back here, at the last LOCAL_IN priority, and retried
 * from a work item (at once, then a jiffy apart, up to CRAB_DEFER_TRIES
 * times). Afterwards it resumes the LOCAL_IN hooks registered after this
 * one, then TCP (state.okfn): every hook sees it exactly once, none is
 * skipped.
 */
#define CRAB_DEFER_MAX		256	/* held-back SYN-ACKs per netns */
#define CRAB_DEFER_TRIES	25

struct crab_deferred {
	struct list_head list;
	struct sk_buff *skb;
	struct nf_hook_state state;	/* state.in held */
	unsigned int tries;
};

static unsigned int crab_client_in(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state);

static bool crab_client_defer(struct crab_client_net *cn, struct sk_buff *skb,
			      const struct nf_hook_state *state)
{
	struct crab_deferred *d;

	if (READ_ONCE(cn->deferred_len) >= CRAB_DEFER_MAX || !state->okfn)
		return false;
	d = kmalloc(sizeof(*d), GFP_ATOMIC);
	if (!d)
		return false;
	d->skb = skb;
	d->state = *state;
	dev_hold(d->state.in);
	d->tries = 0;
	spin_lock_bh(&cn->deferred_lock);
	list_add_tail(&d->list, &cn->deferred);
	WRITE_ONCE(cn->deferred_len, cn->deferred_len + 1);
	spin_unlock_bh(&cn->deferred_lock);
	/*
	 * First try as soon as a worker runs (once connect() sleeps in
	 * inet_wait_for_connect() the lock is free); only a socket still
	 * owned then waits a jiffy per retry.
	 */
	schedule_delayed_work(&cn->retry, 0);
	return true;
}

/* Continue the LOCAL_IN traversal of @d after this module's hook. */
static void crab_client_resume(struct net *net, struct crab_deferred *d)
{
	const struct nf_hook_entries *e;
	unsigned int i;

	if (d->state.pf == NFPROTO_IPV6)
		e = rcu_dereference(net->nf.hooks_ipv6[NF_INET_LOCAL_IN]);
	else
		e = rcu_dereference(net->nf.hooks_ipv4[NF_INET_LOCAL_IN]);
	for (i = 0; e && i < e->num_hook_entries; i++) {
		if (e->hooks[i].hook != crab_client_in)
			continue;
		if (nf_hook_slow(d->skb, &d->state, e, i + 1) == 1)
			d->state.okfn(net, NULL, d->skb);
		return;
	}
	/* Our hook is gone: the namespace or the module is going away. */
	kfree_skb(d->skb);
}

static void crab_client_retry(struct work_struct *work)
{
	struct crab_client_net *cn = container_of(to_delayed_work(work),
						  struct crab_client_net, retry);
	struct net *net = read_pnet(&cn->net);
	struct crab_deferred *d, *tmp;
	bool again = false;
	LIST_HEAD(todo);

	spin_lock_bh(&cn->deferred_lock);
	list_splice_init(&cn->deferred, &todo);
	spin_unlock_bh(&cn->deferred_lock);

	list_for_each_entry_safe(d, tmp, &todo, list) {
		enum crab_redir r;

		list_del(&d->list);
		local_bh_disable();
		rcu_read_lock();
		r = crab_client_decide(net, cn, d->skb, true,
				       ++d->tries >= CRAB_DEFER_TRIES);
		if (r == CRAB_REDIR_LOCKED) {
			spin_lock(&cn->deferred_lock);
			list_add_tail(&d->list, &cn->deferred);
			spin_unlock(&cn->deferred_lock);
			again = true;
		} else {
			if (r == CRAB_REDIR_RESYN)
				kfree_skb(d->skb);
			else
				crab_client_resume(net, d);
			dev_put(d->state.in);
			kfree(d);
			spin_lock(&cn->deferred_lock);
			WRITE_ONCE(cn->deferred_len, cn->deferred_len - 1);
			spin_unlock(&cn->deferred_lock);
		}
		rcu_read_unlock();
		local_bh_enable();
	}
	if (again)
		schedule_delayed_work(&cn->retry, 1);
}

/* Only after the hooks are gone and the work is cancelled. */
static void crab_client_deferred_purge(struct crab_client_net *cn)
{
	struct crab_deferred *d, *tmp;

	list_for_each_entry_safe(d, tmp, &cn->deferred, list) {
		list_del(&d->list);
		kfree_skb(d->skb);
		dev_put(d->state.in);
		kfree(d);
	}
	cn->deferred_len = 0;
}

/* LOCAL_IN, last: the decision and the re-key. */
static unsigned int crab_client_in(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state)
{
	struct crab_client_net *cn = crab_cn(state->net);

	switch (crab_client_decide(state->net, cn, skb, false, false)) {
	case CRAB_REDIR_LOCKED:
		if (crab_client_defer(cn, skb, state)) {
			crab_inc(cn, CRAB_CLIENT_DEFERRED);
			return NF_STOLEN;
		}
		crab_inc(cn, CRAB_CLIENT_REJ_LOCKED);
		net_dbg_ratelimited("redirect refused: socket locked\n");
		return NF_ACCEPT;
	case CRAB_REDIR_RESYN:
		return NF_DROP;
	default:
		return NF_ACCEPT;
	}
}

/*
 * LOCAL_OUT at NF_IP_PRI_RAW - 1: before raw, conntrack and NAT, so the
 * option names the address the application dialed, not one a later DNAT
 * chose. PRE_ROUTING at NF_IP_PRI_CONNTRACK - 1: after raw (a notrack or
 * zone rule there is respected), before conntrack (so the attached entry
 * is the one conntrack sees). LOCAL_IN at NF_IP_PRI_LAST: after every
 * filter.
 */
static const struct nf_hook_ops crab_client_ops[] = {
	{
		.hook = crab_client_out,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_RAW - 1,
	},
	{
		.hook = crab_client_pre,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_CONNTRACK - 1,
	},
	{
		.hook = crab_client_in,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_IN,
		.priority = NF_IP_PRI_LAST,
	},
	{
		.hook = crab_client_out,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_RAW - 1,
	},
	{
		.hook = crab_client_pre,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP6_PRI_CONNTRACK - 1,
	},
	{
		.hook = crab_client_in,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_IN,
		.priority = NF_IP6_PRI_LAST,
	},
};

static int crab_client_show(struct seq_file *seq, void *v)
{
	struct crab_client_net *cn = crab_cn(seq_file_single_net(seq));

	crab_ep_show_counters(seq, (const u64 __percpu *)cn->stats,
			      crab_client_names, CRAB_CLIENT__MAX);
	return 0;
}

static const struct ctl_table crab_client_ctl_tmpl[] = {
	{
		.procname = CRAB_SYSCTL_CLIENT_ENABLED,
		.maxlen = sizeof(u8),
		.mode = 0644,
		.proc_handler = proc_dou8vec_minmax,
		.extra1 = SYSCTL_ZERO,
		.extra2 = SYSCTL_ONE,
	},
	{
		.procname = CRAB_SYSCTL_CLIENT_ANNOUNCE,
		.maxlen = CRAB_EP_CIDR_STRLEN,
		.mode = 0644,
		.proc_handler = crab_ep_cidrs_sysctl,
	},
	{
		.procname = CRAB_SYSCTL_CLIENT_ALLOW,
		.maxlen = CRAB_EP_CIDR_STRLEN,
		.mode = 0644,
		.proc_handler = crab_ep_cidrs_sysctl,
	},
	{ }	/* sentinel for kernels before 6.6 */
};

static int crab_client_sysctl_init(struct net *net, struct crab_client_net *cn)
{
	void *const data[] = { &cn->enabled, &cn->announce, &cn->allow };

	BUILD_BUG_ON(ARRAY_SIZE(data) != ARRAY_SIZE(crab_client_ctl_tmpl) - 1);
	cn->ctl = crab_ep_sysctl_register(net, crab_client_ctl_tmpl,
					  ARRAY_SIZE(data), data, &cn->ctl_hdr);
	return cn->ctl ? 0 : -ENOMEM;
}

static void crab_client_sysctl_exit(struct crab_client_net *cn)
{
	crab_ep_sysctl_unregister(cn->ctl_hdr, cn->ctl);
}

static int __net_init crab_client_net_init(struct net *net)
{
	struct crab_client_net *cn = crab_cn(net);
	int err;

	/* Off, lists empty (none): nothing changes until configured. */
	cn->enabled = 0;
	crab_ep_cidrs_init(&cn->announce);
	crab_ep_cidrs_init(&cn->allow);
	write_pnet(&cn->net, net);
	spin_lock_init(&cn->deferred_lock);
	INIT_LIST_HEAD(&cn->deferred);
	INIT_DELAYED_WORK(&cn->retry, crab_client_retry);
	cn->stats = alloc_percpu(struct crab_client_stats);
	if (!cn->stats)
		return -ENOMEM;
	err = crab_ep_table_init(&cn->tbl, table_entries,
				 (unsigned long)entry_timeout * HZ, true);
	if (err)
		goto err_stats;
	err = crab_client_sysctl_init(net, cn);
	if (err)
		goto err_table;
	if (!proc_create_net_single(CRAB_PROC_CLIENT, 0444, net->proc_net,
				    crab_client_show, NULL)) {
		err = -ENOMEM;
		goto err_sysctl;
	}
	err = nf_register_net_hooks(net, crab_client_ops,
				    ARRAY_SIZE(crab_client_ops));
	if (err)
		goto err_proc;
	return 0;

err_proc:
	remove_proc_entry(CRAB_PROC_CLIENT, net->proc_net);
err_sysctl:
	crab_client_sysctl_exit(cn);
err_table:
	crab_ep_table_free(&cn->tbl);
err_stats:
	free_percpu(cn->stats);
	pr_err("netns init failed: %d\n", err);
	return err;
}

static void __net_exit crab_client_net_pre_exit(struct net *net)
{
	nf_unregister_net_hooks(net, crab_client_ops, ARRAY_SIZE(crab_client_ops));
}

static void __net_exit crab_client_net_exit(struct net *net)
{
	struct crab_client_net *cn = crab_cn(net);

	/* hooks are gone (pre_exit): nothing queues any more */
	cancel_delayed_work_sync(&cn->retry);
	crab_client_deferred_purge(cn);
	remove_proc_entry(CRAB_PROC_CLIENT, net->proc_net);
	/* sysctl writers are gone once the table is unregistered */
	crab_client_sysctl_exit(cn);
	crab_ep_cidrs_free(&cn->allow);
	crab_ep_cidrs_free(&cn->announce);
	crab_ep_table_free(&cn->tbl);
	free_percpu(cn->stats);
}

static struct pernet_operations crab_client_net_ops = {
	.init = crab_client_net_init,
	.pre_exit = crab_client_net_pre_exit,
	.exit = crab_client_net_exit,
	.id = &crab_client_net_id,
	.size = sizeof(struct crab_client_net),
};

static int __init crab_client_init(void)
{
	int err;

	if (crab_ep_opt_cfg(&crab_cfg, opt_kind, opt_exid)) {
		const char *why = crab_ep_kind_refused(opt_kind);

		if (why)
			pr_err("opt_kind=%u refused: kind %u is %s\n", opt_kind,
			       opt_kind, why);
		else
			pr_err("opt_exid=%u refused: not a 16-bit experiment id\n",
			       opt_exid);
		return -EINVAL;
	}
	if (!entry_timeout || !table_entries || table_entries > (1U << 24)) {
		pr_err("invalid entry_timeout=%u/table_entries=%u\n",
		       entry_timeout, table_entries);
		return -EINVAL;
	}
	err = register_pernet_subsys(&crab_client_net_ops);
	if (err) {
		pr_err("cannot register pernet operations: %d\n", err);
		return err;
	}
	pr_info("loaded (option kind %u), off in every namespace until net.crab.client_enabled=1\n",
		crab_cfg.kind);
	return 0;
}

static void __exit crab_client_exit(void)
{
	unregister_pernet_subsys(&crab_client_net_ops);
	/* CIDR lists replaced at runtime are freed by kfree_rcu: wait for them. */
	rcu_barrier();
}

module_init(crab_client_init);
module_exit(crab_client_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("CRAB connection redirect: client (announce and accept redirects)");
