// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB nf LB (docs/PROTOCOL.md 3.2): module setup, per-namespace
 * state, the PRE_ROUTING hook registration and /proc/net/crab_lb.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/genetlink.h>

#include "lb_nf.h"

static unsigned int opt_kind = CRAB_OPT_KIND_DEFAULT;
module_param(opt_kind, uint, 0444);
MODULE_PARM_DESC(opt_kind, "redirect option kind: 42 (default) or 254 (RFC 6994 form)");

static unsigned int opt_exid = CRAB_OPT_EXID_DEFAULT;
module_param(opt_exid, uint, 0444);
MODULE_PARM_DESC(opt_exid, "experiment id of the RFC 6994 form (kind 254)");

/*
 * Where the round-robin position of a new service starts. Only tests set
 * it: near 2^32 it shows that the 64-bit position goes on past the point
 * where a 32-bit one would wrap (docs/PROTOCOL.md 5).
 */
u64 lb_rr_start;
module_param_named(rr_start, lb_rr_start, ullong, 0444);
MODULE_PARM_DESC(rr_start, "initial round-robin position of new services (testing)");

struct crab_opt_cfg lb_opt_cfg = CRAB_OPT_CFG_DEFAULT;
unsigned int lb_net_id __read_mostly;

/*
 * Before conntrack (which would record the VIP as destination of a flow
 * whose SYN leaves towards a DIP), after defragmentation.
 */
static const struct nf_hook_ops lb_nf_ops[] = {
	{
		.hook		= lb_nf_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP_PRI_RAW,
	},
	{
		.hook		= lb_nf_hook6,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP6_PRI_RAW,
	},
};

#define LB_NAME(e, n, h) n,
static const char *const lb_cnt_names[] = { CRAB_LB_COUNTERS(LB_NAME) };
static const char *const lb_gcnt_names[] = { CRAB_LB_GCOUNTERS(LB_NAME) };
#undef LB_NAME

static const char *const lb_policy_names[] = { "rr", "random", "wrr" };
static const char *const lb_legacy_names[] = { "drop", "insert", "hash" };

/*
 * /proc/net/crab_lb: "name value" lines for the namespace's global
 * counters, then one block per service (like /proc/net/snmp, for scripts).
 */
static int lb_proc_show(struct seq_file *seq, void *v)
{
	struct lb_net *ln = lb_net(seq_file_single_net(seq));
	u64 cnt[CRAB_LB_CNT_MAX], be[CRAB_MAX_BACKENDS];
	u64 g[CRAB_LB_GCNT_MAX];
	const struct lb_cfg *c;
	struct lb_svc *svc;
	int bkt, i;

	lb_g_counters(ln, g);
	for (i = 0; i < CRAB_LB_GCNT_MAX; i++)
		seq_printf(seq, "%s %llu\n", lb_gcnt_names[i], g[i]);

	rcu_read_lock();
	hash_for_each_rcu(ln->svc, bkt, svc, hnode) {
		c = rcu_dereference(svc->cfg);
		lb_svc_counters(svc, cnt, be);
		if (svc->key.v6)
			seq_printf(seq, "service [%pI6c]:%u", &svc->key.vip,
				   ntohs(svc->key.port));
		else
			seq_printf(seq, "service %pI4:%u",
				   &svc->key.vip.s6_addr32[3],
				   ntohs(svc->key.port));
		seq_printf(seq, " policy %s legacy %s backends %u active %u\n",
			   lb_policy_names[c->policy],
			   lb_legacy_names[c->legacy], c->nbe, c->t.nactive);
		for (i = 0; i < CRAB_LB_CNT_MAX; i++)
			seq_printf(seq, "  %s %llu\n", lb_cnt_names[i], cnt[i]);
		for (i = 0; i < c->nbe; i++)
			seq_printf(seq, svc->key.v6 ?
				   "  backend %pI6c weight %u %s selected %llu\n" :
				   "  backend %pI4 weight %u %s selected %llu\n",
				   svc->key.v6 ? (void *)c->be[i].dip :
						 (void *)&c->be[i].dip[3],
				   c->be[i].weight,
				   c->be[i].state == CRAB_BACKEND_ACTIVE ?
				   "active" : "draining", be[c->be[i].slot]);
	}
	rcu_read_unlock();
	return 0;
}

static int __net_init lb_net_init(struct net *net)
{
	struct lb_net *ln = lb_net(net);
	int err;

	ln->net = net;
	mutex_init(&ln->lock);
	hash_init(ln->svc);
	ln->nsvc = 0;
	ln->gpcpu = alloc_percpu(struct lb_gpcpu);
	if (!ln->gpcpu)
		return -ENOMEM;
	if (!proc_create_net_single("crab_lb", 0444, net->proc_net,
				    lb_proc_show, NULL)) {
		err = -ENOMEM;
		goto err_free;
	}
	err = nf_register_net_hooks(net, lb_nf_ops, ARRAY_SIZE(lb_nf_ops));
	if (err)
		goto err_proc;
	return 0;

err_proc:
	remove_proc_entry("crab_lb", net->proc_net);
err_free:
	free_percpu(ln->gpcpu);
	return err;
}

static void __net_exit lb_net_pre_exit(struct net *net)
{
	nf_unregister_net_hooks(net, lb_nf_ops, ARRAY_SIZE(lb_nf_ops));
}

/* Runs after an RCU grace period following pre_exit: no packet in flight. */
static void __net_exit lb_net_exit(struct net *net)
{
	struct lb_net *ln = lb_net(net);

	remove_proc_entry("crab_lb", net->proc_net);
	mutex_lock(&ln->lock);
	lb_svc_flush(ln);
	mutex_unlock(&ln->lock);
	free_percpu(ln->gpcpu);
}

static struct pernet_operations lb_net_ops = {
	.init		= lb_net_init,
	.pre_exit	= lb_net_pre_exit,
	.exit		= lb_net_exit,
	.id		= &lb_net_id,
	.size		= sizeof(struct lb_net),
};

static int __init lb_nf_init(void)
{
	int err;

	if (opt_kind != CRAB_OPT_KIND_DEFAULT && opt_kind != CRAB_OPT_KIND_EXP) {
		pr_err("opt_kind=%u: must be %u or %u\n", opt_kind,
		       CRAB_OPT_KIND_DEFAULT, CRAB_OPT_KIND_EXP);
		return -EINVAL;
	}
	if (opt_exid > 0xffff) {
		pr_err("opt_exid=%u: must fit 16 bits\n", opt_exid);
		return -EINVAL;
	}
	lb_opt_cfg.kind = opt_kind;
	lb_opt_cfg.exid = opt_exid;

	err = register_pernet_subsys(&lb_net_ops);
	if (err)
		return err;
	err = lb_genl_init();
	if (err)
		goto err_pernet;
	pr_info("loaded (option kind %u)\n", opt_kind);
	return 0;

err_pernet:
	unregister_pernet_subsys(&lb_net_ops);
	return err;
}

static void __exit lb_nf_exit(void)
{
	lb_genl_exit();
	unregister_pernet_subsys(&lb_net_ops);
	/* services freed with call_rcu()/kfree_rcu() must be gone first */
	rcu_barrier();
}

module_init(lb_nf_init);
module_exit(lb_nf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("CRAB connection-redirect load balancer (netfilter)");
MODULE_ALIAS_GENL_FAMILY(CRAB_LB_GENL_NAME);
