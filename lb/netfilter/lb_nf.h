/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CRAB nf LB: shared internals of crab_lb_nf.ko.
 *
 * Data path and control plane are apart: the data path (lb_nf_dp.c) only
 * reads an immutable struct lb_cfg snapshot under RCU; the control plane
 * (lb_nf_svc.c, under lb_net.lock) builds a whole new snapshot for every
 * change -- backend array, Maglev table, WRR ring -- and publishes it with
 * rcu_assign_pointer(), so a packet sees the old set or the new one.
 */
#ifndef CRAB_LB_NF_H
#define CRAB_LB_NF_H

#include <linux/hashtable.h>
#include <linux/math64.h>
#include <linux/mutex.h>
#include <linux/netfilter.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/string.h>
#include <linux/types.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

/* The model's round-robin position is a u64: no 64-bit division on 32-bit. */
static inline u32 lb_mod_u64(u64 x, u32 n)
{
	u32 rem;

	div_u64_rem(x, n, &rem);
	return rem;
}

#define crab_mod_u64 lb_mod_u64

#include <crab/crab_lb.h>
#include <crab/crab_opt.h>
#include <crab/crab_genl_lb.h>

#include "lb_nf_tables.h"

#define LB_SVC_HASH_BITS	8

/*
 * One immutable configuration of a service, replaced as a whole. The
 * tables (crab_lb_model.h) hold be[] indices.
 */
struct lb_cfg {
	struct rcu_head rcu;
	u8 policy;	/* enum crab_policy */
	u8 legacy;	/* enum crab_legacy_mode */
	u8 nbe;		/* backends in be[] */
	struct lb_be be[CRAB_MAX_BACKENDS];
	struct crab_lb_tables t;
};

struct lb_svc_pcpu {
	u64 cnt[CRAB_LB_CNT_MAX];
	u64 be[CRAB_MAX_BACKENDS];	/* packets sent, by lb_be.slot */
};

/*
 * A service's key: its family, its VIP (IPv4: { 0, 0, 0, a }, the model's
 * form, as lb_be.dip) and TCP port. Built whole (zeroed) wherever one is
 * made, compared field by field.
 */
struct lb_key {
	struct in6_addr vip;
	__be16 port;
	bool v6;
};

static inline void lb_key4(struct lb_key *k, __be32 vip, __be16 port)
{
	memset(k, 0, sizeof(*k));
	k->vip.s6_addr32[3] = vip;
	k->port = port;
}

static inline void lb_key6(struct lb_key *k, const struct in6_addr *vip,
			   __be16 port)
{
	memset(k, 0, sizeof(*k));
	k->vip = *vip;
	k->port = port;
	k->v6 = true;
}

static inline bool lb_key_eq(const struct lb_key *a, const struct lb_key *b)
{
	return a->port == b->port && a->v6 == b->v6 &&
	       ipv6_addr_equal(&a->vip, &b->vip);
}

struct lb_svc {
	struct hlist_node hnode;
	struct rcu_head rcu;
	struct lb_key key;
	atomic64_t rr;			/* rr/wrr position; 64 bits never wrap */
	struct lb_cfg __rcu *cfg;
	struct lb_svc_pcpu __percpu *pcpu;
};

struct lb_gpcpu {
	u64 cnt[CRAB_LB_GCNT_MAX];
};

struct lb_net {
	struct net *net;
	struct mutex lock;		/* serialises all control-plane changes */
	/* scratch space of the table builder, under lock */
	struct crab_lb_backend build_in[CRAB_MAX_BACKENDS];
	struct crab_lb_work build_work;
	unsigned int nsvc;
	DECLARE_HASHTABLE(svc, LB_SVC_HASH_BITS);
	struct lb_gpcpu __percpu *gpcpu;
};

extern unsigned int lb_net_id;
extern struct crab_opt_cfg lb_opt_cfg;
extern u64 lb_rr_start;

static inline struct lb_net *lb_net(const struct net *net)
{
	return net_generic(net, lb_net_id);
}

static inline u32 lb_svc_hash(const struct lb_key *k)
{
	const __be32 *w = k->vip.s6_addr32;

	return (__force u32)(w[0] ^ w[1] ^ w[2] ^ w[3]) ^
	       ((__force u32)k->port << 16) ^ k->v6;
}

static inline void lb_svc_inc(struct lb_svc *svc, enum crab_lb_counter c)
{
	this_cpu_inc(svc->pcpu->cnt[c]);
}

static inline void lb_g_inc(struct lb_net *ln, enum crab_lb_gcounter c)
{
	this_cpu_inc(ln->gpcpu->cnt[c]);
}

/* lb_nf_svc.c (@dip: the model's form, as lb_be.dip) */
struct lb_svc *lb_svc_lookup_rcu(struct lb_net *ln, const struct lb_key *k);
struct lb_svc *lb_svc_lookup_vip_rcu(struct lb_net *ln, const struct lb_key *k);
struct lb_svc *lb_svc_find(struct lb_net *ln, const struct lb_key *k);
int lb_svc_add(struct lb_net *ln, const struct lb_key *k, int policy,
	       int legacy);
int lb_svc_set(struct lb_net *ln, const struct lb_key *k, int policy,
	       int legacy);
int lb_svc_del(struct lb_net *ln, const struct lb_key *k);
int lb_be_add(struct lb_net *ln, const struct lb_key *k,
	      const struct in6_addr *dip, int weight, int state);
int lb_be_set(struct lb_net *ln, const struct lb_key *k,
	      const struct in6_addr *dip, int weight, int state);
int lb_be_del(struct lb_net *ln, const struct lb_key *k,
	      const struct in6_addr *dip);
void lb_svc_flush(struct lb_net *ln);
void lb_svc_counters(struct lb_svc *svc, u64 *cnt, u64 *be);
void lb_g_counters(struct lb_net *ln, u64 *cnt);

/* lb_nf_dp.c */
unsigned int lb_nf_hook(void *priv, struct sk_buff *skb,
			const struct nf_hook_state *state);
unsigned int lb_nf_hook6(void *priv, struct sk_buff *skb,
			 const struct nf_hook_state *state);

/* lb_nf_genl.c */
int lb_genl_init(void);
void lb_genl_exit(void);

#endif /* CRAB_LB_NF_H */
