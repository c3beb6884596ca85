/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Endpoint modules (crab_client.ko, crab_server.ko) and crabctl: what both
 * sides agree on. Sysctl names (net.crab.*), /proc/net file names, counter
 * names (X-macros, in /proc order) and limits. Freestanding C.
 *
 * Under __KERNEL__ this header also carries the few helpers both modules
 * share (CIDR lists, the bounded 4-tuple table, option insertion), so that
 * the client and the server grow a TCP header in exactly one way.
 */
#ifndef CRAB_EP_H
#define CRAB_EP_H

#include <linux/types.h>

/* /proc/sys/net/crab/<name>; CIDR lists are "a.b.c.d/len,..." strings. */
#define CRAB_EP_SYSCTL_DIR		"net/crab"
#define CRAB_SYSCTL_CLIENT_ENABLED	"client_enabled"
#define CRAB_SYSCTL_CLIENT_ANNOUNCE	"client_announce_cidrs"
#define CRAB_SYSCTL_CLIENT_ALLOW	"client_allow_cidrs"
#define CRAB_SYSCTL_SERVER_ENABLED	"server_enabled"

/* /proc/net/<name>: one "name value" line per counter. */
#define CRAB_PROC_CLIENT		"crab_client"
#define CRAB_PROC_SERVER		"crab_server"

/* "0.0.0.0/0" = every address; "" = none. */
#define CRAB_EP_CIDR_ALL		"0.0.0.0/0"
#define CRAB_EP_MAX_CIDRS		64	/* entries per list */
#define CRAB_EP_CIDR_STRLEN		(CRAB_EP_MAX_CIDRS * 19 + 16)

/*
 * Client counters: X(ENUM, "name", "help").
 * Every reason a redirect is refused has its own counter (SPEC 3.4, 6).
 */
#define CRAB_CLIENT_COUNTERS(X)						\
	X(SYN_ANNOUNCED, "syn_announced", "SYNs given the option")	\
	X(SYN_NOT_LISTED, "syn_not_listed", "SYNs to destinations outside the announce list") \
	X(SYN_NO_ROOM, "syn_no_room", "SYNs sent without the option: doff would pass 15") \
	X(SYN_TOO_BIG, "syn_too_big", "SYNs with data sent without the option: MTU") \
	X(SYN_NOMEM, "syn_nomem", "SYNs sent without the option: skb unwritable/no memory") \
	X(SYNACK_DIRECT, "synack_direct", "SYN-ACKs whose option names their own source") \
	X(REDIRECTED, "redirected", "sockets re-keyed to the SYN-ACK's source") \
	X(REJ_DISABLED, "rej_disabled", "redirects refused: disabled in this netns") \
	X(REJ_NO_SOCKET, "rej_no_socket", "redirects refused: no socket connected to the named address") \
	X(REJ_NOT_SYNSENT, "rej_not_synsent", "redirects refused: socket not in SYN-SENT") \
	X(REJ_NOT_ANNOUNCED, "rej_not_announced", "redirects refused: socket's SYN did not announce") \
	X(REJ_BAD_ACK, "rej_bad_ack", "redirects refused: ack is not ISN + 1") \
	X(REJ_NOT_ALLOWED, "rej_not_allowed", "redirects refused: source outside the allow list") \
	X(REJ_LOCKED, "rej_locked", "redirects refused: socket stayed owned by user") \
	X(DEFERRED, "deferred", "redirect SYN-ACKs held back while the socket was owned by user") \
	X(SYNACK_KNOWN, "synack_known", "SYN-ACKs naming A for a socket already keyed on their source") \
	X(OPT_MALFORMED, "opt_malformed", "option walks ended on a bad length") \
	X(OPT_BAD_LEN, "opt_bad_len", "redirect options with a wrong length (ignored)") \
	X(HDR_INVALID, "hdr_invalid", "TCP segments with a truncated header or bogus doff") \
	X(FRAGMENT, "fragment", "IP fragments skipped")			\
	X(TABLE_EVICTED, "table_evicted", "live announce entries evicted (table full)") \
	X(TW_REPLACED, "tw_replaced", "redirects that replaced a TIME_WAIT of an earlier connection to the source")

#define CRAB_SERVER_COUNTERS(X)						\
	X(SYN_OPT_SEEN, "syn_opt_seen", "SYNs carrying the option (remembered)") \
	X(SYNACK_ECHOED, "synack_echoed", "SYN-ACKs given the option")	\
	X(SYNACK_NO_ROOM, "synack_no_room", "SYN-ACKs sent without it: doff would pass 15") \
	X(SYNACK_TOO_BIG, "synack_too_big", "SYN-ACKs with data sent without it: MTU") \
	X(SYNACK_NOMEM, "synack_nomem", "SYN-ACKs sent without it: skb unwritable/no memory") \
	X(DISABLED, "disabled", "SYNs with the option ignored: disabled in this netns") \
	X(OPT_MALFORMED, "opt_malformed", "option walks ended on a bad length") \
	X(OPT_BAD_LEN, "opt_bad_len", "redirect options with a wrong length (ignored)") \
	X(HDR_INVALID, "hdr_invalid", "TCP segments with a truncated header or bogus doff") \
	X(FRAGMENT, "fragment", "IP fragments skipped")			\
	X(TABLE_EVICTED, "table_evicted", "live SYN entries evicted (table full)")

#define CRAB_EP_ENUM_CLIENT(e, n, h) CRAB_CLIENT_##e,
#define CRAB_EP_ENUM_SERVER(e, n, h) CRAB_SERVER_##e,
enum crab_client_counter { CRAB_CLIENT_COUNTERS(CRAB_EP_ENUM_CLIENT) CRAB_CLIENT__MAX };
enum crab_server_counter { CRAB_SERVER_COUNTERS(CRAB_EP_ENUM_SERVER) CRAB_SERVER__MAX };
#undef CRAB_EP_ENUM_CLIENT
#undef CRAB_EP_ENUM_SERVER

#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/inet.h>
#include <linux/ip.h>
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/netfilter.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysctl.h>
#include <linux/tcp.h>
#include <linux/version.h>
#include <net/checksum.h>
#include <net/dst.h>
#include <net/ip.h>
#include <net/net_namespace.h>

#include "crab/crab_opt.h"

/* 6.11 made ctl_table const for handlers (commit 78eb4ea25cd5). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define CRAB_CTL_CONST const
#else
#define CRAB_CTL_CONST
#endif

/* ---- per-netns counters and sysctls of the endpoint modules ------------ */

/*
 * /proc/net/crab_{client,server}: one "name value" line per counter, summed
 * over the CPUs. @stats: per-CPU arrays of @n u64 counters.
 */
static inline void crab_ep_show_counters(struct seq_file *seq,
					 const u64 __percpu *stats,
					 const char *const *names,
					 unsigned int n)
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
static inline struct ctl_table *
crab_ep_sysctl_register(struct net *net, const struct ctl_table *tmpl,
			unsigned int n, void *const *data,
			struct ctl_table_header **hdr)
{
	struct ctl_table *t = kmemdup(tmpl, (n + 1) * sizeof(*tmpl), GFP_KERNEL);
	unsigned int i;

	if (!t)
		return NULL;
	for (i = 0; i < n; i++)
		t[i].data = data[i];
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
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

static inline void crab_ep_sysctl_unregister(struct ctl_table_header *hdr,
					     struct ctl_table *t)
{
	unregister_net_sysctl_table(hdr);
	kfree(t);
}

/* ---- CIDR lists, swapped whole under RCU ------------------------------- */

struct crab_ep_cidr {
	__be32 net;
	__be32 mask;
};

struct crab_ep_cidrs {
	struct rcu_head rcu;
	unsigned int n;
	struct crab_ep_cidr e[];
};

struct crab_ep_cidr_conf {
	struct crab_ep_cidrs __rcu *list;
	struct mutex lock;	/* serialises writers */
};

/* Caller holds rcu_read_lock (netfilter hooks do). NULL list: matches none. */
static inline bool crab_ep_cidrs_match(const struct crab_ep_cidr_conf *c,
				       __be32 addr)
{
	const struct crab_ep_cidrs *l = rcu_dereference(c->list);
	unsigned int i;

	if (!l)
		return false;
	for (i = 0; i < l->n; i++)
		if ((addr & l->e[i].mask) == l->e[i].net)
			return true;
	return false;
}

/* Parse "a.b.c.d[/len],..." (spaces and a final newline tolerated). */
static inline struct crab_ep_cidrs *crab_ep_cidrs_parse(char *s)
{
	struct crab_ep_cidrs *l;
	char *tok;

	l = kzalloc(struct_size(l, e, CRAB_EP_MAX_CIDRS), GFP_KERNEL);
	if (!l)
		return ERR_PTR(-ENOMEM);
	while ((tok = strsep(&s, ",")) != NULL) {
		const char *end;
		__be32 a;
		u8 len = 32;
		char *slash;

		tok = strim(tok);
		if (!*tok) {
			if (!s)	/* "" or trailing comma */
				break;
			goto bad;
		}
		if (l->n == CRAB_EP_MAX_CIDRS)
			goto bad;
		slash = strchr(tok, '/');
		if (slash) {
			*slash = '\0';
			if (kstrtou8(slash + 1, 10, &len) || len > 32)
				goto bad;
		}
		if (!in4_pton(tok, -1, (u8 *)&a, -1, &end) || *end)
			goto bad;
		l->e[l->n].mask = len ? htonl(~0U << (32 - len)) : 0;
		l->e[l->n].net = a & l->e[l->n].mask;
		l->n++;
	}
	return l;
bad:
	kfree(l);
	return ERR_PTR(-EINVAL);
}

static inline int crab_ep_cidrs_set(struct crab_ep_cidr_conf *c, const char *str)
{
	struct crab_ep_cidrs *l, *old;
	char *buf = kstrdup(str, GFP_KERNEL);

	if (!buf)
		return -ENOMEM;
	l = crab_ep_cidrs_parse(buf);
	kfree(buf);
	if (IS_ERR(l))
		return PTR_ERR(l);
	mutex_lock(&c->lock);
	old = rcu_replace_pointer(c->list, l, lockdep_is_held(&c->lock));
	mutex_unlock(&c->lock);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

static inline int crab_ep_cidrs_init(struct crab_ep_cidr_conf *c, const char *str)
{
	mutex_init(&c->lock);
	RCU_INIT_POINTER(c->list, NULL);
	return crab_ep_cidrs_set(c, str);
}

/* Only once no reader can exist (hooks unregistered). */
static inline void crab_ep_cidrs_free(struct crab_ep_cidr_conf *c)
{
	kfree(rcu_dereference_protected(c->list, 1));
	RCU_INIT_POINTER(c->list, NULL);
}

/* proc handler for a CIDR list sysctl; table->data is the crab_ep_cidr_conf. */
static inline int crab_ep_cidrs_sysctl(CRAB_CTL_CONST struct ctl_table *table,
				       int write, void *buffer, size_t *lenp,
				       loff_t *ppos)
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
		/* The whole list in one write, or nothing: never half-applied. */
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
		for (i = 0; l && i < l->n; i++)
			off += scnprintf(kbuf + off, CRAB_EP_CIDR_STRLEN - off,
					 "%s%pI4/%u", i ? "," : "", &l->e[i].net,
					 hweight32((__force u32)l->e[i].mask));
		mutex_unlock(&c->lock);
		ret = proc_dostring(&tmp, 0, buffer, lenp, ppos);
	}
out:
	kfree(kbuf);
	return ret;
}

/* ---- bounded 4-tuple table: set-associative, lazy expiry, no timers ----- */

#define CRAB_EP_WAYS	4

struct crab_ep_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
};

struct crab_ep_slot {
	struct crab_ep_key k;
	u32 val;
	unsigned long stamp;	/* jiffies | 1 when written; 0 = empty */
};

struct crab_ep_table {
	u32 mask;		/* buckets - 1 */
	u32 seed;
	unsigned long timeout;	/* jiffies */
	spinlock_t *locks;	/* one per bucket */
	struct crab_ep_slot *slots;
};

static inline int crab_ep_table_init(struct crab_ep_table *t, u32 entries,
				     unsigned long timeout)
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
	return 0;
}

static inline void crab_ep_table_free(struct crab_ep_table *t)
{
	kvfree(t->slots);
	kvfree(t->locks);
	t->slots = NULL;
	t->locks = NULL;
}

static inline u32 crab_ep_bucket(const struct crab_ep_table *t,
				 const struct crab_ep_key *k)
{
	return jhash_3words((__force u32)k->saddr, (__force u32)k->daddr,
			    ((__force u32)k->sport << 16) | (__force u32)k->dport,
			    t->seed) & t->mask;
}

static inline bool crab_ep_live(const struct crab_ep_table *t,
				const struct crab_ep_slot *s, unsigned long now)
{
	return s->stamp && time_before(now, s->stamp + t->timeout);
}

/* Insert or refresh. Returns true when a live entry had to be evicted. */
static inline bool crab_ep_table_put(struct crab_ep_table *t,
				     const struct crab_ep_key *k, u32 val)
{
	u32 b = crab_ep_bucket(t, k);
	struct crab_ep_slot *s = &t->slots[b * CRAB_EP_WAYS], *victim = NULL;
	unsigned long now = jiffies;
	bool evicted = false;
	int i;

	spin_lock_bh(&t->locks[b]);
	for (i = 0; i < CRAB_EP_WAYS; i++) {
		if (s[i].stamp && !memcmp(&s[i].k, k, sizeof(*k))) {
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
	evicted = true;
write:
	victim->k = *k;
	victim->val = val;
	victim->stamp = now | 1;
	spin_unlock_bh(&t->locks[b]);
	return evicted;
}

/* Look up a live entry; @del removes it. */
static inline bool crab_ep_table_get(struct crab_ep_table *t,
				     const struct crab_ep_key *k, u32 *val,
				     bool del)
{
	u32 b = crab_ep_bucket(t, k);
	struct crab_ep_slot *s = &t->slots[b * CRAB_EP_WAYS];
	unsigned long now = jiffies;
	bool found = false;
	int i;

	spin_lock_bh(&t->locks[b]);
	for (i = 0; i < CRAB_EP_WAYS; i++) {
		if (crab_ep_live(t, &s[i], now) &&
		    !memcmp(&s[i].k, k, sizeof(*k))) {
			*val = s[i].val;
			if (del)
				s[i].stamp = 0;
			found = true;
			break;
		}
	}
	spin_unlock_bh(&t->locks[b]);
	return found;
}

/* ---- packet helpers ----------------------------------------------------- */

enum crab_ep_pkt {
	CRAB_EP_PKT_OK = 0,
	CRAB_EP_PKT_SKIP,	/* not TCP, or not of interest */
	CRAB_EP_PKT_FRAG,
	CRAB_EP_PKT_INVALID,	/* truncated header, bogus doff */
};

/*
 * Read the TCP header of an IPv4 packet whose IP header the stack already
 * validated (PRE_ROUTING after ip_rcv_core, LOCAL_IN, LOCAL_OUT).
 */
static inline enum crab_ep_pkt crab_ep_tcp(const struct sk_buff *skb,
					   struct tcphdr *th, unsigned int *thoff)
{
	const struct iphdr *iph = ip_hdr(skb);
	const struct tcphdr *p;

	if (iph->protocol != IPPROTO_TCP)
		return CRAB_EP_PKT_SKIP;
	if (ip_is_fragment(iph))
		return CRAB_EP_PKT_FRAG;
	*thoff = skb_network_offset(skb) + iph->ihl * 4;
	p = skb_header_pointer(skb, *thoff, sizeof(*th), th);
	if (!p)
		return CRAB_EP_PKT_INVALID;
	if (p != th)
		*th = *p;
	if (th->doff < 5 || *thoff + th->doff * 4 > skb->len)
		return CRAB_EP_PKT_INVALID;
	return CRAB_EP_PKT_OK;
}

/* Walk the options of @th (header at @thoff) with the one shared walk. */
static inline int crab_ep_find_opt(const struct sk_buff *skb, unsigned int thoff,
				   const struct tcphdr *th,
				   const struct crab_opt_cfg *cfg,
				   struct crab_opt_res *res)
{
	u8 buf[CRAB_TCP_MAX_OPTLEN];
	unsigned int len = th->doff * 4 - sizeof(*th);
	const u8 *opt;

	res->bad_len = 0;
	res->malformed = 0;
	if (!len)
		return CRAB_OPT_NONE;
	opt = skb_header_pointer(skb, thoff + sizeof(*th), len, buf);
	if (!opt)
		return CRAB_OPT_NONE;	/* caller checked doff against skb->len */
	return crab_opt_find(opt, len, cfg, res);
}

enum crab_ep_grow {
	CRAB_EP_GROW_OK = 0,
	CRAB_EP_GROW_NO_ROOM,	/* doff would pass 15 */
	CRAB_EP_GROW_TOO_BIG,	/* segment with data would pass the MTU */
	CRAB_EP_GROW_NOMEM,
};

/*
 * Insert the 8-byte option naming @addr right after the fixed TCP header of
 * a locally generated IPv4 segment (LOCAL_OUT), the way xt_TCPMSS grows a
 * header: make the whole segment writable and linear, get tailroom, move
 * options and payload up by 8 (an even shift keeps their one's complement
 * sum), then fix the checksum for the pseudo-header length, the new bytes
 * and doff, and finally tot_len and the IP checksum.
 */
static inline enum crab_ep_grow crab_ep_add_opt(struct sk_buff *skb,
						unsigned int thoff,
						const struct crab_opt_cfg *cfg,
						__be32 addr)
{
	unsigned int tcplen = skb->len - thoff, hdrlen;
	struct tcphdr *th;
	struct iphdr *iph;
	__be16 oldw, oldlen;
	__be32 w[2];
	u8 *opt;

	th = (struct tcphdr *)(skb->data + thoff);	/* read-only peek */
	if (skb_headlen(skb) < thoff + sizeof(*th))
		return CRAB_EP_GROW_NOMEM;
	hdrlen = th->doff * 4;
	if (hdrlen + TCPOLEN_CRAB_ALIGNED > 15 * 4)
		return CRAB_EP_GROW_NO_ROOM;
	if (skb_is_gso(skb))
		return CRAB_EP_GROW_TOO_BIG;
	if (tcplen > hdrlen && skb_dst(skb) &&
	    skb->len + TCPOLEN_CRAB_ALIGNED > dst_mtu(skb_dst(skb)))
		return CRAB_EP_GROW_TOO_BIG;
	if (skb_ensure_writable(skb, skb->len) || skb_is_nonlinear(skb))
		return CRAB_EP_GROW_NOMEM;
	if (skb_tailroom(skb) < TCPOLEN_CRAB_ALIGNED &&
	    pskb_expand_head(skb, 0, TCPOLEN_CRAB_ALIGNED - skb_tailroom(skb),
			     GFP_ATOMIC))
		return CRAB_EP_GROW_NOMEM;
	skb_put(skb, TCPOLEN_CRAB_ALIGNED);

	/* Reload: the head may have moved. */
	iph = ip_hdr(skb);
	th = (struct tcphdr *)(skb->data + thoff);
	opt = (u8 *)(th + 1);
	memmove(opt + TCPOLEN_CRAB_ALIGNED, opt, tcplen - sizeof(*th));

	inet_proto_csum_replace2(&th->check, skb, htons(tcplen),
				 htons(tcplen + TCPOLEN_CRAB_ALIGNED), true);
	crab_opt_write(opt, cfg, ntohl(addr));
	memcpy(w, opt, sizeof(w));	/* opt is only 4-byte aligned by luck */
	inet_proto_csum_replace4(&th->check, skb, 0, w[0], false);
	inet_proto_csum_replace4(&th->check, skb, 0, w[1], false);
	oldw = ((__be16 *)th)[6];
	th->doff += TCPOLEN_CRAB_ALIGNED / 4;
	inet_proto_csum_replace2(&th->check, skb, oldw, ((__be16 *)th)[6],
				 false);

	oldlen = iph->tot_len;
	iph->tot_len = htons(ntohs(oldlen) + TCPOLEN_CRAB_ALIGNED);
	csum_replace2(&iph->check, oldlen, iph->tot_len);
	return CRAB_EP_GROW_OK;
}

/* Option encoding, a load-time choice shared by all namespaces. */
static inline int crab_ep_opt_cfg(struct crab_opt_cfg *cfg, unsigned int kind,
				  unsigned int exid)
{
	if (kind != CRAB_OPT_KIND_DEFAULT && kind != CRAB_OPT_KIND_EXP &&
	    (kind < 2 || kind > 253))
		return -EINVAL;
	if (exid > 0xffff)
		return -EINVAL;
	cfg->kind = kind;
	cfg->pad = 0;
	cfg->exid = exid;
	return 0;
}

#endif /* __KERNEL__ */
#endif /* CRAB_EP_H */
