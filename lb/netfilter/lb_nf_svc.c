// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB nf LB: the control plane's view of services. Every change
 * builds a complete new struct lb_cfg (backends, active list, WRR ring,
 * Maglev table), publishes it with rcu_assign_pointer() and frees the old
 * one with kfree_rcu(): the data path never sees a half-written set.
 * All writers hold lb_net.lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/string.h>

#include "lb_nf.h"

struct lb_svc *lb_svc_lookup_rcu(struct lb_net *ln, const struct lb_key *k)
{
	struct lb_svc *svc;

	hash_for_each_possible_rcu(ln->svc, svc, hnode, lb_svc_hash(k))
		if (lb_key_eq(&svc->key, k))
			return svc;
	return NULL;
}

/*
 * A service of the family and VIP of @k, whatever its port (fragments
 * carry no port to look up): a walk of the whole table, for fragments to
 * a host with services.
 */
struct lb_svc *lb_svc_lookup_vip_rcu(struct lb_net *ln, const struct lb_key *k)
{
	struct lb_svc *svc;
	unsigned int bkt;

	hash_for_each_rcu(ln->svc, bkt, svc, hnode)
		if (svc->key.v6 == k->v6 && ipv6_addr_equal(&svc->key.vip, &k->vip))
			return svc;
	return NULL;
}

struct lb_svc *lb_svc_find(struct lb_net *ln, const struct lb_key *k)
{
	struct lb_svc *svc;

	lockdep_assert_held(&ln->lock);
	hash_for_each_possible(ln->svc, svc, hnode, lb_svc_hash(k))
		if (lb_key_eq(&svc->key, k))
			return svc;
	return NULL;
}

/*
 * The tables of @c from its backends (lb_nf_tables.h). Refused only for a
 * set the checks below never let through (too many, a duplicate address).
 */
static int lb_cfg_rebuild(struct lb_net *ln, struct lb_cfg *c)
{
	lockdep_assert_held(&ln->lock);
	if (lb_nf_tables_build(&c->t, ln->build_in, &ln->build_work, c->be,
			       c->nbe)) {
		pr_warn_ratelimited("backend set of %u refused by the LB model\n",
				    c->nbe);
		return -EINVAL;
	}
	return 0;
}

/* Publish @nc, or free it and change nothing when its tables fail. */
static int lb_publish(struct lb_net *ln, struct lb_svc *svc, struct lb_cfg *nc)
{
	struct lb_cfg *old = rcu_dereference_protected(svc->cfg, true);
	int err = lb_cfg_rebuild(ln, nc);

	if (err) {
		kfree(nc);
		return err;
	}
	rcu_assign_pointer(svc->cfg, nc);
	if (old)
		kfree_rcu(old, rcu);
	return 0;
}

static struct lb_cfg *lb_cfg_clone(struct lb_svc *svc)
{
	struct lb_cfg *old = rcu_dereference_protected(svc->cfg, true);

	return kmemdup(old, sizeof(*old), GFP_KERNEL);
}

int lb_svc_add(struct lb_net *ln, const struct lb_key *k, int policy,
	       int legacy)
{
	struct lb_svc *svc;
	struct lb_cfg *c;

	lockdep_assert_held(&ln->lock);
	if (lb_svc_find(ln, k))
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
	svc->key = *k;
	atomic64_set(&svc->rr, lb_rr_start);
	c->policy = policy < 0 ? CRAB_POLICY_RR : policy;
	c->legacy = legacy < 0 ? CRAB_LEGACY_DROP : legacy;
	if (lb_cfg_rebuild(ln, c))
		goto err_pcpu;
	RCU_INIT_POINTER(svc->cfg, c);
	hash_add_rcu(ln->svc, &svc->hnode, lb_svc_hash(k));
	ln->nsvc++;
	return 0;

err_pcpu:
	free_percpu(svc->pcpu);
err_cfg:
	kfree(c);
err_svc:
	kfree(svc);
	return -ENOMEM;
}

int lb_svc_set(struct lb_net *ln, const struct lb_key *k, int policy,
	       int legacy)
{
	struct lb_svc *svc = lb_svc_find(ln, k);
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
	return lb_publish(ln, svc, c);
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

int lb_svc_del(struct lb_net *ln, const struct lb_key *k)
{
	struct lb_svc *svc = lb_svc_find(ln, k);

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

static int lb_be_index(const struct lb_cfg *c, const struct in6_addr *dip)
{
	int i;

	for (i = 0; i < c->nbe; i++)
		if (!memcmp(c->be[i].dip, dip, sizeof(c->be[i].dip)))
			return i;
	return -1;
}

int lb_be_add(struct lb_net *ln, const struct lb_key *k,
	      const struct in6_addr *dip, int weight, int state)
{
	struct lb_svc *svc = lb_svc_find(ln, k);
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
	memcpy(c->be[c->nbe].dip, dip, sizeof(c->be[c->nbe].dip));
	c->be[c->nbe].weight = weight > 0 ? weight : 1;
	c->be[c->nbe].state = state >= 0 ? state : CRAB_BACKEND_ACTIVE;
	c->be[c->nbe].slot = slot;
	c->nbe++;
	return lb_publish(ln, svc, c);
}

int lb_be_set(struct lb_net *ln, const struct lb_key *k,
	      const struct in6_addr *dip, int weight, int state)
{
	struct lb_svc *svc = lb_svc_find(ln, k);
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
	return lb_publish(ln, svc, c);
}

int lb_be_del(struct lb_net *ln, const struct lb_key *k,
	      const struct in6_addr *dip)
{
	struct lb_svc *svc = lb_svc_find(ln, k);
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
	return lb_publish(ln, svc, c);
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
