/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel helpers of the endpoint modules, compiled once (crab_ep_lib.c) and
 * linked into both crab_client.ko and crab_server.ko: per-netns counters
 * and sysctls, CIDR lists, the bounded 4-tuple table, the TCP header read
 * and the option insertion (IPv4 and IPv6), the signed-segment check, so
 * that the client and the server grow a TCP header in exactly one way.
 */
#ifndef CRAB_EP_LIB_H
#define CRAB_EP_LIB_H

#include <linux/ip.h>
#include <linux/mutex.h>
#include <linux/netfilter.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/sysctl.h>
#include <linux/tcp.h>
#include <linux/version.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>

#include "crab/crab_ep.h"
#include "crab/crab_opt.h"

/*
 * 6.11 made ctl_table const for handlers (commit 78eb4ea25cd5): the one
 * difference between the kernels these modules build for (6.1 and 6.12)
 * that no symbol of the headers tells apart.
 */
#if KERNEL_VERSION(6, 11, 0) <= LINUX_VERSION_CODE
#define CRAB_CTL_CONST const
#else
#define CRAB_CTL_CONST
#endif

/* ---- per-netns counters and sysctls ------------------------------------ */

void crab_ep_show_counters(struct seq_file *seq, const u64 __percpu *stats,
			   const char *const *names, unsigned int n);
struct ctl_table *crab_ep_sysctl_register(struct net *net,
					  const struct ctl_table *tmpl,
					  unsigned int n, void *const *data,
					  struct ctl_table_header **hdr);
void crab_ep_sysctl_unregister(struct ctl_table_header *hdr,
			       struct ctl_table *t);

/* ---- addresses ---------------------------------------------------------- */

/*
 * Both families in one form: an IPv6 address, or an IPv4 one as
 * ::ffff:a.b.c.d (its family is always known from elsewhere: the hook's
 * or the list entry's; IPv6 input drops v4-mapped sources, RFC 4291
 * 2.5.5.2, so the two never meet in one table).
 */
static inline void crab_ep_addr4(struct in6_addr *a, __be32 v4)
{
	ipv6_addr_set_v4mapped(v4, a);
}

static inline __be32 crab_ep_v4(const struct in6_addr *a)
{
	return a->s6_addr32[3];
}

/* ---- CIDR lists, swapped whole under RCU ------------------------------- */

/*
 * One list holds both families: "a.b.c.d/len" entries match IPv4 packets
 * only, "x:y::z/len" entries IPv6 packets only.
 */
struct crab_ep_cidr {
	struct in6_addr net;	/* masked; IPv4: v4-mapped */
	struct in6_addr mask;	/* IPv4: the 96 high bits set */
	u8 plen;		/* prefix length as written */
	bool v6;
};

struct crab_ep_cidrs {
	struct rcu_head rcu;
	unsigned int n;
	struct crab_ep_cidr e[];
};

struct crab_ep_cidr_conf {
	struct crab_ep_cidrs __rcu *list;	/* NULL: empty, matches none */
	struct mutex lock;	/* serialises writers */
};

/*
 * Does @a (IPv4: v4-mapped, @v6 false) fall in an entry of its family?
 * Caller holds rcu_read_lock (netfilter hooks do). Empty list: none.
 */
static inline bool crab_ep_cidrs_match(const struct crab_ep_cidr_conf *c,
				       const struct in6_addr *a, bool v6)
{
	const struct crab_ep_cidrs *l = rcu_dereference(c->list);
	unsigned int i;

	for (i = 0; l && i < l->n; i++)
		if (l->e[i].v6 == v6 &&
		    !ipv6_masked_addr_cmp(a, &l->e[i].mask, &l->e[i].net))
			return true;
	return false;
}

void crab_ep_cidrs_init(struct crab_ep_cidr_conf *c);
void crab_ep_cidrs_free(struct crab_ep_cidr_conf *c);
int crab_ep_cidrs_sysctl(CRAB_CTL_CONST struct ctl_table *table, int write,
			 void *buffer, size_t *lenp, loff_t *ppos);

/* ---- bounded 4-tuple table: set-associative, lazy expiry, no timers ----- */

#define CRAB_EP_WAYS	4

/* IPv4 addresses v4-mapped; no padding (hashed and compared whole). */
struct crab_ep_key {
	struct in6_addr saddr;
	struct in6_addr daddr;
	__be16 sport;
	__be16 dport;
};

struct crab_ep_val {
	u32 a;
	u32 b;
	u32 c;
	struct in6_addr addr;
};

struct crab_ep_slot {
	struct crab_ep_key k;
	struct crab_ep_val v;
	unsigned long stamp;	/* jiffies | 1 when written; 0 = empty */
};

struct crab_ep_table {
	u32 mask;		/* buckets - 1 */
	u32 seed;
	unsigned long timeout;	/* jiffies */
	bool evict;		/* full bucket: replace the oldest live entry */
	spinlock_t *locks;	/* one per bucket */
	struct crab_ep_slot *slots;
};

enum crab_ep_put {
	CRAB_EP_PUT_OK = 0,
	CRAB_EP_PUT_EVICTED,	/* a live entry was replaced (evict tables) */
	CRAB_EP_PUT_FULL,	/* not stored: bucket full of live entries */
};

int crab_ep_table_init(struct crab_ep_table *t, u32 entries,
		       unsigned long timeout, bool evict);
void crab_ep_table_free(struct crab_ep_table *t);
enum crab_ep_put crab_ep_table_put(struct crab_ep_table *t,
				   const struct crab_ep_key *k,
				   const struct crab_ep_val *v);
bool crab_ep_table_get(struct crab_ep_table *t, const struct crab_ep_key *k,
		       struct crab_ep_val *v);
bool crab_ep_table_del(struct crab_ep_table *t, const struct crab_ep_key *k);

/* ---- packet helpers ----------------------------------------------------- */

enum crab_ep_pkt {
	CRAB_EP_PKT_OK = 0,
	CRAB_EP_PKT_SKIP,	/* not TCP, or not of interest */
	CRAB_EP_PKT_FRAG,
	CRAB_EP_PKT_INVALID,	/* truncated header, bogus doff */
};

/* What crab_ep_tcp() found: the TCP header and the packet's addresses. */
struct crab_ep_seg {
	struct tcphdr th;
	unsigned int thoff;
	bool v6;
	struct in6_addr saddr;	/* IPv4: v4-mapped */
	struct in6_addr daddr;
};

enum crab_ep_pkt crab_ep_tcp(const struct sk_buff *skb, bool v6,
			     struct crab_ep_seg *seg);
int crab_ep_find_opt(const struct sk_buff *skb, const struct crab_ep_seg *seg,
		     const struct crab_opt_cfg *cfg, struct crab_opt_res *res);
bool crab_ep_opts_signed(const struct sk_buff *skb, unsigned int thoff,
			 const struct tcphdr *th);
bool crab_ep_sk_signed(const struct sock *sk);

enum crab_ep_grow {
	CRAB_EP_GROW_OK = 0,
	CRAB_EP_GROW_NO_ROOM,	/* doff would pass 15 */
	CRAB_EP_GROW_TOO_BIG,	/* segment with data would pass the MTU */
	CRAB_EP_GROW_NOMEM,
};

enum crab_ep_grow crab_ep_add_opt(struct sk_buff *skb, unsigned int thoff,
				  bool v6, const struct crab_opt_cfg *cfg,
				  const struct in6_addr *addr);
int crab_ep_opt_cfg(struct crab_opt_cfg *cfg, unsigned int kind,
		    unsigned int exid);

#endif /* CRAB_EP_LIB_H */
