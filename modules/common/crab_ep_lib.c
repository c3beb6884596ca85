// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel helpers shared by crab_client.ko and crab_server.ko (linked into
 * both; nothing here is exported). See crab_ep_lib.h.
 */
#include <linux/bitops.h>
#include <linux/inet.h>
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/checksum.h>
#include <net/dst.h>
#include <net/ipv6.h>
#include <net/tcp.h>

#include "crab_ep_lib.h"

/* ---- per-netns counters and sysctls ------------------------------------ */

/*
 * /proc/net/crab_{client,server}: one "name value" line per counter, summed
 * over the CPUs. @stats: per-CPU arrays of @n u64 counters.
 */
void crab_ep_show_counters(struct seq_file *seq, const u64 __percpu *stats,
			   const char *const *names, unsigned int n)
{
	unsigned int i;
	int cpu;

	for (i = 0; i < n; i++) {
		u64 sum = 0;

		for_each_possible_cpu(cpu)
			sum += READ_ONCE(per_cpu_ptr(stats, cpu)[i]);
		seq_printf(seq, "%s %llu\n", names[i], sum);
	}
}

/*
 * Registers this netns's copy of @tmpl (@n entries, then the sentinel that
 * kernels before 6.6 need) under CRAB_EP_SYSCTL_DIR, entry i pointing at
 * @data[i]. Returns the copy, for crab_ep_sysctl_unregister(), or NULL.
 */
struct ctl_table *crab_ep_sysctl_register(struct net *net,
					  const struct ctl_table *tmpl,
					  unsigned int n, void *const *data,
					  struct ctl_table_header **hdr)
{
	struct ctl_table *t = kmemdup(tmpl, (n + 1) * sizeof(*tmpl), GFP_KERNEL);
	unsigned int i;

	if (!t)
		return NULL;
	for (i = 0; i < n; i++)
		t[i].data = data[i];
#ifdef register_net_sysctl	/* 6.6+: a macro around register_net_sysctl_sz() */
	*hdr = register_net_sysctl_sz(net, CRAB_EP_SYSCTL_DIR, t, n);
#else
	*hdr = register_net_sysctl(net, CRAB_EP_SYSCTL_DIR, t);
#endif
	if (!*hdr) {
		kfree(t);
		return NULL;
	}
	return t;
}

void crab_ep_sysctl_unregister(struct ctl_table_header *hdr,
			       struct ctl_table *t)
{
	unregister_net_sysctl_table(hdr);
	kfree(t);
}

/* ---- CIDR lists --------------------------------------------------------- */

/*
 * Parse "a.b.c.d[/len],x:y::z[/len],..." (either family in any order;
 * spaces and a final newline tolerated; "" is the empty list). Any bad
 * entry refuses the whole list.
 */
static int crab_ep_cidr_parse(char *tok, struct crab_ep_cidr *e)
{
	struct in6_addr ones, addr;
	const char *end;
	char *slash;
	u8 len, max;

	e->v6 = strchr(tok, ':');
	max = e->v6 ? 128 : 32;
	len = max;
	slash = strchr(tok, '/');
	if (slash) {
		*slash = '\0';
		if (kstrtou8(slash + 1, 10, &len) || len > max)
			return -EINVAL;
	}
	if (e->v6) {
		if (!in6_pton(tok, -1, e->net.s6_addr, -1, &end) || *end)
			return -EINVAL;
	} else {
		__be32 a;

		if (!in4_pton(tok, -1, (u8 *)&a, -1, &end) || *end)
			return -EINVAL;
		crab_ep_addr4(&e->net, a);
		len += 96;
	}
	/* mask: the prefix of all-ones; ipv6_addr_prefix() clears its output first */
	memset(&ones, 0xff, sizeof(ones));
	ipv6_addr_prefix(&e->mask, &ones, len);
	addr = e->net;
	ipv6_addr_prefix(&e->net, &addr, len);
	e->plen = e->v6 ? len : len - 96;
	return 0;
}

static struct crab_ep_cidrs *crab_ep_cidrs_parse(char *s)
{
	struct crab_ep_cidrs *l;
	char *tok;

	l = kzalloc(struct_size(l, e, CRAB_EP_MAX_CIDRS), GFP_KERNEL);
	if (!l)
		return ERR_PTR(-ENOMEM);
	while ((tok = strsep(&s, ",")) != NULL) {
		tok = strim(tok);
		if (!*tok) {
			if (!s)	/* "" or trailing comma */
				break;
			goto bad;
		}
		if (l->n == CRAB_EP_MAX_CIDRS ||
		    crab_ep_cidr_parse(tok, &l->e[l->n]))
			goto bad;
		l->n++;
	}
	return l;
bad:
	kfree(l);
	return ERR_PTR(-EINVAL);
}

static int crab_ep_cidrs_set(struct crab_ep_cidr_conf *c, char *str)
{
	struct crab_ep_cidrs *l, *old;

	l = crab_ep_cidrs_parse(str);
	if (IS_ERR(l))
		return PTR_ERR(l);
	if (!l->n) {		/* store the empty list as NULL: no reader walk */
		kfree(l);
		l = NULL;
	}
	mutex_lock(&c->lock);
	old = rcu_replace_pointer(c->list, l, lockdep_is_held(&c->lock));
	mutex_unlock(&c->lock);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

/* Every list starts empty: matches none (docs/PROTOCOL.md 3.8). */
void crab_ep_cidrs_init(struct crab_ep_cidr_conf *c)
{
	mutex_init(&c->lock);
	RCU_INIT_POINTER(c->list, NULL);
}

/* Only once no reader can exist (hooks unregistered). */
void crab_ep_cidrs_free(struct crab_ep_cidr_conf *c)
{
	kfree(rcu_dereference_protected(c->list, 1));
	RCU_INIT_POINTER(c->list, NULL);
}

/*
 * proc handler for a CIDR list sysctl; table->data is the crab_ep_cidr_conf.
 * A write is the whole list in one write() at offset 0, parsed whole and
 * applied whole, or refused with EINVAL: never appended to, never
 * truncated (docs/PROTOCOL.md 3.8).
 */
int crab_ep_cidrs_sysctl(CRAB_CTL_CONST struct ctl_table *table, int write,
			 void *buffer, size_t *lenp, loff_t *ppos)
{
	struct crab_ep_cidr_conf *c = table->data;
	struct ctl_table tmp = *table;
	char *kbuf;
	int ret;

	kbuf = kzalloc(CRAB_EP_CIDR_STRLEN, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	tmp.data = kbuf;
	tmp.maxlen = CRAB_EP_CIDR_STRLEN;
	if (write) {
		if (*ppos || *lenp >= CRAB_EP_CIDR_STRLEN) {
			ret = -EINVAL;
			goto out;
		}
		memcpy(kbuf, buffer, *lenp);
		ret = crab_ep_cidrs_set(c, kbuf);
		if (!ret)
			*ppos += *lenp;
	} else {
		const struct crab_ep_cidrs *l;
		size_t off = 0;
		unsigned int i;

		mutex_lock(&c->lock);
		l = rcu_dereference_protected(c->list, lockdep_is_held(&c->lock));
		for (i = 0; l && i < l->n; i++) {
			const struct crab_ep_cidr *e = &l->e[i];

			if (e->v6)
				off += scnprintf(kbuf + off,
						 CRAB_EP_CIDR_STRLEN - off,
						 "%s%pI6c/%u", i ? "," : "",
						 &e->net, e->plen);
			else
				off += scnprintf(kbuf + off,
						 CRAB_EP_CIDR_STRLEN - off,
						 "%s%pI4/%u", i ? "," : "",
						 &e->net.s6_addr32[3], e->plen);
		}
		mutex_unlock(&c->lock);
		ret = proc_dostring(&tmp, 0, buffer, lenp, ppos);
	}
out:
	kfree(kbuf);
	return ret;
}

/* ---- bounded 4-tuple table ---------------------------------------------- */

/*
 * @evict: a full bucket gives up its oldest live entry to a new one (the
 * client: entries come from the host's own SYNs). Without it a full bucket
 * refuses new entries, so that nobody can push out what is stored (the
 * server: entries come from the network).
 */
int crab_ep_table_init(struct crab_ep_table *t, u32 entries,
		       unsigned long timeout, bool evict)
{
	u32 nb = roundup_pow_of_two(max_t(u32, entries / CRAB_EP_WAYS, 16));
	u32 i;

	t->slots = kvcalloc((size_t)nb * CRAB_EP_WAYS, sizeof(*t->slots),
			    GFP_KERNEL);
	if (!t->slots)
		return -ENOMEM;
	t->locks = kvcalloc(nb, sizeof(*t->locks), GFP_KERNEL);
	if (!t->locks) {
		kvfree(t->slots);
		t->slots = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < nb; i++)
		spin_lock_init(&t->locks[i]);
	t->mask = nb - 1;
	t->seed = get_random_u32();
	t->timeout = timeout;
	t->evict = evict;
	return 0;
}

void crab_ep_table_free(struct crab_ep_table *t)
{
	kvfree(t->slots);
	kvfree(t->locks);
	t->slots = NULL;
	t->locks = NULL;
}

static u32 crab_ep_bucket(const struct crab_ep_table *t,
			  const struct crab_ep_key *k)
{
	BUILD_BUG_ON(sizeof(*k) % sizeof(u32));
	return jhash2((const u32 *)k, sizeof(*k) / sizeof(u32), t->seed) &
	       t->mask;
}

static bool crab_ep_live(const struct crab_ep_table *t,
			 const struct crab_ep_slot *s, unsigned long now)
{
	return s->stamp && time_before(now, s->stamp + t->timeout);
}

static bool crab_ep_key_eq(const struct crab_ep_key *a,
			   const struct crab_ep_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* Insert or refresh the entry of @k. */
enum crab_ep_put crab_ep_table_put(struct crab_ep_table *t,
				   const struct crab_ep_key *k,
				   const struct crab_ep_val *v)
{
	u32 b = crab_ep_bucket(t, k);
	struct crab_ep_slot *s = &t->slots[b * CRAB_EP_WAYS], *victim = NULL;
	enum crab_ep_put ret = CRAB_EP_PUT_OK;
	unsigned long now = jiffies;
	int i;

	spin_lock_bh(&t->locks[b]);
	for (i = 0; i < CRAB_EP_WAYS; i++) {
		if (s[i].stamp && crab_ep_key_eq(&s[i].k, k)) {
			victim = &s[i];
			goto write;
		}
	}
	for (i = 0; i < CRAB_EP_WAYS; i++) {
		if (!crab_ep_live(t, &s[i], now)) {
			victim = &s[i];
			goto write;
		}
		if (!victim || time_before(s[i].stamp, victim->stamp))
			victim = &s[i];
	}
	if (!t->evict) {
		spin_unlock_bh(&t->locks[b]);
		return CRAB_EP_PUT_FULL;
	}
	ret = CRAB_EP_PUT_EVICTED;
write:
	victim->k = *k;
	victim->v = *v;
	victim->stamp = now | 1;
	spin_unlock_bh(&t->locks[b]);
	return ret;
}

/* Copy the live entry of @k to @v. */
bool crab_ep_table_get(struct crab_ep_table *t, const struct crab_ep_key *k,
		       struct crab_ep_val *v)
{
	u32 b = crab_ep_bucket(t, k);
	struct crab_ep_slot *s = &t->slots[b * CRAB_EP_WAYS];
	unsigned long now = jiffies;
	bool found = false;
	int i;

	spin_lock_bh(&t->locks[b]);
	for (i = 0; i < CRAB_EP_WAYS; i++) {
		if (crab_ep_live(t, &s[i], now) && crab_ep_key_eq(&s[i].k, k)) {
			*v = s[i].v;
			found = true;
			break;
		}
	}
	spin_unlock_bh(&t->locks[b]);
	return found;
}

/*
 * Remove the live entry of @k; true when there was one. A lockless look
 * first: most callers ask about tuples that were never stored.
 */
bool crab_ep_table_del(struct crab_ep_table *t, const struct crab_ep_key *k)
{
	u32 b = crab_ep_bucket(t, k);
	struct crab_ep_slot *s = &t->slots[b * CRAB_EP_WAYS];
	unsigned long now = jiffies;
	bool found = false;
	int i;

	for (i = 0; i < CRAB_EP_WAYS; i++)
		if (READ_ONCE(s[i].stamp) &&
		    READ_ONCE(s[i].k.saddr.s6_addr32[3]) == k->saddr.s6_addr32[3] &&
		    READ_ONCE(s[i].k.sport) == k->sport)
			break;
	if (i == CRAB_EP_WAYS)
		return false;
	spin_lock_bh(&t->locks[b]);
	for (i = 0; i < CRAB_EP_WAYS; i++) {
		if (s[i].stamp && crab_ep_key_eq(&s[i].k, k)) {
			found = crab_ep_live(t, &s[i], now);
			s[i].stamp = 0;
			break;
		}
	}
	spin_unlock_bh(&t->locks[b]);
	return found;
}

/* ---- packet helpers ----------------------------------------------------- */

/*
 * Find the TCP header of a packet whose IP header the stack already
 * validated (PRE_ROUTING after ip_rcv_core/ip6_rcv_core, LOCAL_IN,
 * LOCAL_OUT), IPv6 behind its extension headers (ipv6_find_hdr() walks
 * them with the packet's bounds). An IPv6 packet with a fragment header,
 * first fragment or not, is a fragment: its TCP header may be incomplete.
 */
enum crab_ep_pkt crab_ep_tcp(const struct sk_buff *skb, bool v6,
			     struct crab_ep_seg *seg)
{
	struct tcphdr *th = &seg->th;
	const struct tcphdr *p;

	seg->v6 = v6;
	if (v6) {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);
		unsigned int off = 0;
		int flags = 0, proto;

		if (ip6h->nexthdr == IPPROTO_TCP) {
			off = skb_network_offset(skb) + sizeof(*ip6h);
		} else {
			proto = ipv6_find_hdr(skb, &off, IPPROTO_TCP, NULL,
					      &flags);
			if (flags & IP6_FH_F_FRAG)
				return CRAB_EP_PKT_FRAG;
			if (proto == -EBADMSG)
				return CRAB_EP_PKT_INVALID;
			if (proto != IPPROTO_TCP)
				return CRAB_EP_PKT_SKIP;
		}
		seg->thoff = off;
		seg->saddr = ip6h->saddr;
		seg->daddr = ip6h->daddr;
	} else {
		const struct iphdr *iph = ip_hdr(skb);

		if (iph->protocol != IPPROTO_TCP)
			return CRAB_EP_PKT_SKIP;
		if (ip_is_fragment(iph))
			return CRAB_EP_PKT_FRAG;
		seg->thoff = skb_network_offset(skb) + iph->ihl * 4;
		crab_ep_addr4(&seg->saddr, iph->saddr);
		crab_ep_addr4(&seg->daddr, iph->daddr);
	}
	p = skb_header_pointer(skb, seg->thoff, sizeof(*th), th);
	if (!p)
		return CRAB_EP_PKT_INVALID;
	if (p != th)
		*th = *p;
	if (th->doff < 5 || seg->thoff + th->doff * 4 > skb->len)
		return CRAB_EP_PKT_INVALID;
	return CRAB_EP_PKT_OK;
}

/*
 * Walk the options of @seg with the one shared walk, for the segment's
 * family: an option of the other family's length is malformed there
 * (counted in res->bad_len, docs/PROTOCOL.md 2).
 */
int crab_ep_find_opt(const struct sk_buff *skb, const struct crab_ep_seg *seg,
		     const struct crab_opt_cfg *cfg, struct crab_opt_res *res)
{
	u8 buf[CRAB_TCP_MAX_OPTLEN];
	unsigned int len = seg->th.doff * 4 - sizeof(seg->th);
	const u8 *opt;

	res->bad_len = 0;
	res->malformed = 0;
	if (!len)
		return CRAB_OPT_NONE;
	opt = skb_header_pointer(skb, seg->thoff + sizeof(seg->th), len, buf);
	if (!opt)
		return CRAB_OPT_NONE;	/* caller checked doff against skb->len */
	return crab_opt_find_fam(opt, len, cfg, seg->v6, res);
}

/*
 * Does the segment carry TCP-MD5 (kind 19, RFC 2385) or TCP-AO (kind 29,
 * RFC 5925)? Such a segment is signed over its options: no component adds,
 * removes or moves an option in it, nor takes it as a redirect
 * (docs/PROTOCOL.md 3.4). The redirect option itself is found by
 * crab_opt_find(); this scan only answers that question, with the same
 * rules: EOL ends it, a length < 2 or past the options ends it.
 */
bool crab_ep_opts_signed(const struct sk_buff *skb, unsigned int thoff,
			 const struct tcphdr *th)
{
	u8 buf[CRAB_TCP_MAX_OPTLEN];
	unsigned int len = th->doff * 4 - sizeof(*th), i = 0;
	const u8 *opt;

	if (!len)
		return false;
	opt = skb_header_pointer(skb, thoff + sizeof(*th), len, buf);
	if (!opt)
		return false;
	while (i < len) {
		u8 kind = opt[i];

		if (kind == CRAB_TCPOPT_EOL)
			break;
		if (kind == CRAB_TCPOPT_NOP) {
			i++;
			continue;
		}
		if (kind == TCPOPT_MD5SIG || kind == 29)	/* TCPOPT_AO, 6.7+ */
			return true;
		if (i + 2 > len || opt[i + 1] < 2 || i + opt[i + 1] > len)
			break;
		i += opt[i + 1];
	}
	return false;
}

/* Has the full TCP socket @sk any TCP-MD5 or TCP-AO key? RCU read side. */
bool crab_ep_sk_signed(const struct sock *sk)
{
	const struct tcp_sock *tp;

	if (!sk || !sk_fullsock(sk) || sk->sk_protocol != IPPROTO_TCP)
		return false;
	tp = tcp_sk(sk);
#ifdef CONFIG_TCP_MD5SIG
	{
		const struct tcp_md5sig_info *md5 = rcu_dereference(tp->md5sig_info);

		if (md5 && !hlist_empty(&md5->head))
			return true;
	}
#endif
#ifdef CONFIG_TCP_AO
	if (rcu_access_pointer(tp->ao_info))
		return true;
#endif
	return false;
}

/*
 * Insert the option naming @addr right after the fixed TCP header of a
 * locally generated segment (LOCAL_OUT): 8 bytes in IPv4, 20 in IPv6
 * (@v6; @addr v4-mapped for IPv4). The way xt_TCPMSS grows a header: make
 * the whole segment writable and linear, get tailroom, move options and
 * payload up (an even shift keeps their one's complement sum), then fix
 * the TCP checksum for the pseudo-header length (the same 16-bit change in
 * the IPv6 pseudo-header's 32-bit length), the new bytes and doff, and
 * finally the IP length (and the IPv4 header checksum).
 */
enum crab_ep_grow crab_ep_add_opt(struct sk_buff *skb, unsigned int thoff,
				  bool v6, const struct crab_opt_cfg *cfg,
				  const struct in6_addr *addr)
{
	unsigned int tcplen = skb->len - thoff, hdrlen, olen, i;
	__be32 w[TCPOLEN_CRAB6_ALIGNED / 4];
	struct tcphdr *th;
	__be16 oldw;
	u8 *opt;

	olen = v6 ? TCPOLEN_CRAB6_ALIGNED : TCPOLEN_CRAB_ALIGNED;
	th = (struct tcphdr *)(skb->data + thoff);	/* read-only peek */
	if (skb_headlen(skb) < thoff + sizeof(*th))
		return CRAB_EP_GROW_NOMEM;
	hdrlen = th->doff * 4;
	if (hdrlen + olen > 15 * 4)
		return CRAB_EP_GROW_NO_ROOM;
	if (skb_is_gso(skb))
		return CRAB_EP_GROW_TOO_BIG;
	if (tcplen > hdrlen && skb_dst(skb) &&
	    skb->len + olen > dst_mtu(skb_dst(skb)))
		return CRAB_EP_GROW_TOO_BIG;
	if (skb_ensure_writable(skb, skb->len) || skb_is_nonlinear(skb))
		return CRAB_EP_GROW_NOMEM;
	if (skb_tailroom(skb) < olen &&
	    pskb_expand_head(skb, 0, olen - skb_tailroom(skb), GFP_ATOMIC))
		return CRAB_EP_GROW_NOMEM;
	skb_put(skb, olen);

	/* Reload: the head may have moved. */
	th = (struct tcphdr *)(skb->data + thoff);
	opt = (u8 *)(th + 1);
	memmove(opt + olen, opt, tcplen - sizeof(*th));

	inet_proto_csum_replace2(&th->check, skb, htons(tcplen),
				 htons(tcplen + olen), true);
	if (v6)
		crab_opt_write6(opt, cfg, addr->s6_addr);
	else
		crab_opt_write(opt, cfg, ntohl(crab_ep_v4(addr)));
	memcpy(w, opt, olen);	/* opt is only 4-byte aligned by luck */
	for (i = 0; i < olen / 4; i++)
		inet_proto_csum_replace4(&th->check, skb, 0, w[i], false);
	oldw = ((__be16 *)th)[6];
	th->doff += olen / 4;
	inet_proto_csum_replace2(&th->check, skb, oldw, ((__be16 *)th)[6],
				 false);

	if (v6) {
		struct ipv6hdr *ip6h = ipv6_hdr(skb);

		be16_add_cpu(&ip6h->payload_len, olen);
	} else {
		struct iphdr *iph = ip_hdr(skb);
		__be16 oldlen = iph->tot_len;

		iph->tot_len = htons(ntohs(oldlen) + olen);
		csum_replace2(&iph->check, oldlen, iph->tot_len);
	}
	return CRAB_EP_GROW_OK;
}

/*
 * Option encoding, a load-time choice shared by all namespaces: a kind
 * with an assigned meaning is refused (crab_ep_kind_refused()), the ExID
 * must fit 16 bits. -EINVAL tells the caller to print why.
 */
int crab_ep_opt_cfg(struct crab_opt_cfg *cfg, unsigned int kind,
		    unsigned int exid)
{
	if (crab_ep_kind_refused(kind) || exid > 0xffff)
		return -EINVAL;
	cfg->kind = kind;
	cfg->pad = 0;
	cfg->exid = exid;
	return 0;
}
