// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB netfilter LB: the control plane's view of services. Every change
 * builds a complete new struct lb_cfg (backends, active list, WRR ring,
 * Maglev table), publishes it with rcu_assign_pointer() and frees the old
 * one with kfree_rcu(): the data path never sees a half-written set.
 * All writers hold lb_net.lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jhash.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "lb_nf.h"

/* Fixed seeds: the same backend set gives the same Maglev table everywhere
 * (several LBs in front of one service agree on flows).
 */
#define LB_MAGLEV_SEED1	0x43524142u
#define LB_MAGLEV_SEED2	0x4d41474cu
#define LB_FLOW_SEED	0x464c4f57u

u32 lb_flow_hash(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport)
{
	return jhash_3words((__force u32)saddr, (__force u32)daddr,
			    ((__force u32)sport << 16) | (__force u32)dport,
			    LB_FLOW_SEED);
}

struct lb_svc *lb_svc_lookup_rcu(struct lb_net *ln, __be32 vip, __be16 port)
{
	struct lb_svc *svc;

	hash_for_each_possible_rcu(ln->svc, svc, hnode, lb_svc_hash(vip, port))
		if (svc->vip == vip && svc->port == port)
			return svc;
	return NULL;
}

struct lb_svc *lb_svc_find(struct lb_net *ln, __be32 vip, __be16 port)
{
	struct lb_svc *svc;

	lockdep_assert_held(&ln->lock);
	hash_for_each_possible(ln->svc, svc, hnode, lb_svc_hash(vip, port))
		if (svc->vip == vip && svc->port == port)
			return svc;
	return NULL;
}

/*
 * Maglev (Eisenbud et al., NSDI 2016): each backend walks its own
 * permutation of the table and claims the next free slot, in turns, until
 * the table is full. Removing a backend moves only about 1/N of the flows.
 * Draining backends keep their slots: a draining backend takes no new SYN
 * from a policy but keeps the flows hashing maps to it until it is removed
 * (docs/PROTOCOL.md 5), as in the other LBs.
 */
static void lb_build_maglev(struct lb_cfg *c)
{
	u32 offset[CRAB_MAX_BACKENDS], skip[CRAB_MAX_BACKENDS];
	u32 next[CRAB_MAX_BACKENDS];
	u32 filled = 0, i;

	memset(c->maglev, LB_NO_BACKEND, sizeof(c->maglev));
	if (!c->nbe)
		return;
	for (i = 0; i < c->nbe; i++) {
		u32 dip = (__force u32)c->be[i].dip;

		offset[i] = jhash_1word(dip, LB_MAGLEV_SEED1) % CRAB_MAGLEV_SIZE;
		skip[i] = jhash_1word(dip, LB_MAGLEV_SEED2) %
			  (CRAB_MAGLEV_SIZE - 1) + 1;
		next[i] = 0;
	}
	/* Terminates: CRAB_MAGLEV_SIZE is prime, so every permutation visits
	 * every slot; each round fills at least one slot.
	 */
	while (filled < CRAB_MAGLEV_SIZE) {
		for (i = 0; i < c->nbe && filled < CRAB_MAGLEV_SIZE; i++) {
			u32 slot;

			do {
				slot = (offset[i] + next[i] * skip[i]) %
				       CRAB_MAGLEV_SIZE;
				next[i]++;
			} while (c->maglev[slot] != LB_NO_BACKEND);
			c->maglev[slot] = i;
			filled++;
		}
	}
}

/*
 * Smooth weighted round-robin (the nginx scheme) unrolled into a ring the
 * data path indexes with its counter. Weights are scaled down when their
 * sum exceeds the ring, keeping every active backend at least one slot.
 */
static void lb_build_wrr(struct lb_cfg *c)
{
	int cur[CRAB_MAX_BACKENDS] = { 0 };
	u32 w[CRAB_MAX_BACKENDS];
	u32 total = 0, i, s;

	c->wrr_len = 0;
	if (!c->nactive)
		return;
	for (i = 0; i < c->nactive; i++) {
		w[i] = c->be[c->active[i]].weight;
		total += w[i];
	}
	if (total > CRAB_WRR_SLOTS) {
		u32 t = 0;

		for (i = 0; i < c->nactive; i++) {
			w[i] = max_t(u32, 1, w[i] * (CRAB_WRR_SLOTS -
					c->nactive) / total);
			t += w[i];
		}
		total = t;
	}
	for (s = 0; s < total; s++) {
		u32 best = 0;

		for (i = 0; i < c->nactive; i++) {
			cur[i] += w[i];
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= total;
		c->wrr[s] = c->active[best];
	}
	c->wrr_len = total;
}

static void lb_cfg_rebuild(struct lb_cfg *c)
{
	u32 i;

	c->nactive = 0;
	for (i = 0; i < c->nbe; i++)
		if (c->be[i].state == CRAB_BACKEND_ACTIVE)
			c->active[c->nactive++] = i;
	lb_build_wrr(c);
	lb_build_maglev(c);
}

static void lb_publish(struct lb_svc *svc, struct lb_cfg *nc)
{
	struct lb_cfg *old = rcu_dereference_protected(svc->cfg, true);

	lb_cfg_rebuild(nc);
	rcu_assign_pointer(svc->cfg, nc);
	if (old)
		kfree_rcu(old, rcu);
}

static struct lb_cfg *lb_cfg_clone(struct lb_svc *svc)
{
	struct lb_cfg *old = rcu_dereference_protected(svc->cfg, true);

	return kmemdup(old, sizeof(*old), GFP_KERNEL);
}

int lb_svc_add(struct lb_net *ln, __be32 vip, __be16 port, int policy,
	       int legacy)
{
	struct lb_svc *svc;
	struct lb_cfg *c;

	lockdep_assert_held(&ln->lock);
	if (lb_svc_find(ln, vip, port))
		return -EEXIST;
	if (ln->nsvc >= CRAB_MAX_SERVICES)
		return -ENOSPC;
	svc = kzalloc(sizeof(*svc), GFP_KERNEL);
	if (!svc)
		return -ENOMEM;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		goto err_svc;
	svc->pcpu = alloc_percpu(struct lb_svc_pcpu);
	if (!svc->pcpu)
		goto err_cfg;
	svc->vip = vip;
	svc->port = port;
	atomic64_set(&svc->rr, lb_rr_start);
	c->policy = policy < 0 ? CRAB_POLICY_RR : policy;
	c->legacy = legacy < 0 ? CRAB_LEGACY_DROP : legacy;
	lb_cfg_rebuild(c);
	RCU_INIT_POINTER(svc->cfg, c);
	hash_add_rcu(ln->svc, &svc->hnode, lb_svc_hash(vip, port));
	ln->nsvc++;
	return 0;

err_cfg:
	kfree(c);
err_svc:
	kfree(svc);
	return -ENOMEM;
}

int lb_svc_set(struct lb_net *ln, __be32 vip, __be16 port, int policy,
	       int legacy)
{
	struct lb_svc *svc = lb_svc_find(ln, vip, port);
	struct lb_cfg *c;

	if (!svc)
		return -ENOENT;
	c = lb_cfg_clone(svc);
	if (!c)
		return -ENOMEM;
	if (policy >= 0)
		c->policy = policy;
	if (legacy >= 0)
		c->legacy = legacy;
	lb_publish(svc, c);
	return 0;
}

static void lb_svc_free_rcu(struct rcu_head *head)
{
	struct lb_svc *svc = container_of(head, struct lb_svc, rcu);

	kfree(rcu_dereference_protected(svc->cfg, true));
	free_percpu(svc->pcpu);
	kfree(svc);
}

static void lb_svc_unlink(struct lb_net *ln, struct lb_svc *svc)
{
	hash_del_rcu(&svc->hnode);
	ln->nsvc--;
	call_rcu(&svc->rcu, lb_svc_free_rcu);
}

int lb_svc_del(struct lb_net *ln, __be32 vip, __be16 port)
{
	struct lb_svc *svc = lb_svc_find(ln, vip, port);

	if (!svc)
		return -ENOENT;
	lb_svc_unlink(ln, svc);
	return 0;
}

void lb_svc_flush(struct lb_net *ln)
{
	struct hlist_node *tmp;
	struct lb_svc *svc;
	int bkt;

	hash_for_each_safe(ln->svc, bkt, tmp, svc, hnode)
		lb_svc_unlink(ln, svc);
}

static int lb_be_index(const struct lb_cfg *c, __be32 dip)
{
	int i;

	for (i = 0; i < c->nbe; i++)
		if (c->be[i].dip == dip)
			return i;
	return -1;
}

int lb_be_add(struct lb_net *ln, __be32 vip, __be16 port, __be32 dip,
	      int weight, int state)
{
	struct lb_svc *svc = lb_svc_find(ln, vip, port);
	u64 used = 0;
	struct lb_cfg *c;
	int i, slot, cpu;

	if (!svc)
		return -ENOENT;
	c = lb_cfg_clone(svc);
	if (!c)
		return -ENOMEM;
	if (lb_be_index(c, dip) >= 0) {
		kfree(c);
		return -EEXIST;
	}
	if (c->nbe >= CRAB_MAX_BACKENDS) {
		kfree(c);
		return -ENOSPC;
	}
	for (i = 0; i < c->nbe; i++)
		used |= BIT_ULL(c->be[i].slot);
	slot = ffz(used);	/* nbe < 64, so a free slot exists */
	for_each_possible_cpu(cpu)
		per_cpu_ptr(svc->pcpu, cpu)->be[slot] = 0;
	c->be[c->nbe].dip = dip;
	c->be[c->nbe].weight = weight > 0 ? weight : 1;
	c->be[c->nbe].state = state >= 0 ? state : CRAB_BACKEND_ACTIVE;
	c->be[c->nbe].slot = slot;
	c->nbe++;
	lb_publish(svc, c);
	return 0;
}

int lb_be_set(struct lb_net *ln, __be32 vip, __be16 port, __be32 dip,
	      int weight, int state)
{
	struct lb_svc *svc = lb_svc_find(ln, vip, port);
	struct lb_cfg *c;
	int i;

	if (!svc)
		return -ENOENT;
	c = lb_cfg_clone(svc);
	if (!c)
		return -ENOMEM;
	i = lb_be_index(c, dip);
	if (i < 0) {
		kfree(c);
		return -ENOENT;
	}
	if (weight > 0)
		c->be[i].weight = weight;
	if (state >= 0)
		c->be[i].state = state;
	lb_publish(svc, c);
	return 0;
}

int lb_be_del(struct lb_net *ln, __be32 vip, __be16 port, __be32 dip)
{
	struct lb_svc *svc = lb_svc_find(ln, vip, port);
	struct lb_cfg *c;
	int i;

	if (!svc)
		return -ENOENT;
	c = lb_cfg_clone(svc);
	if (!c)
		return -ENOMEM;
	i = lb_be_index(c, dip);
	if (i < 0) {
		kfree(c);
		return -ENOENT;
	}
	memmove(&c->be[i], &c->be[i + 1], (c->nbe - i - 1) * sizeof(c->be[0]));
	c->nbe--;
	lb_publish(svc, c);
	return 0;
}

void lb_svc_counters(struct lb_svc *svc, u64 *cnt, u64 *be)
{
	int cpu, i;

	memset(cnt, 0, sizeof(u64) * CRAB_LB_CNT_MAX);
	if (be)
		memset(be, 0, sizeof(u64) * CRAB_MAX_BACKENDS);
	for_each_possible_cpu(cpu) {
		const struct lb_svc_pcpu *p = per_cpu_ptr(svc->pcpu, cpu);

		for (i = 0; i < CRAB_LB_CNT_MAX; i++)
			cnt[i] += READ_ONCE(p->cnt[i]);
		if (be)
			for (i = 0; i < CRAB_MAX_BACKENDS; i++)
				be[i] += READ_ONCE(p->be[i]);
	}
}

void lb_g_counters(struct lb_net *ln, u64 *cnt)
{
	int cpu, i;

	memset(cnt, 0, sizeof(u64) * CRAB_LB_GCNT_MAX);
	for_each_possible_cpu(cpu) {
		const struct lb_gpcpu *p = per_cpu_ptr(ln->gpcpu, cpu);

		for (i = 0; i < CRAB_LB_GCNT_MAX; i++)
			cnt[i] += READ_ONCE(p->cnt[i]);
	}
}
