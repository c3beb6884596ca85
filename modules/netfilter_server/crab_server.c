// SPDX-License-Identifier: GPL-2.0-only
/*
 * crab_server: Connection Redirect server echo for unmodified kernels
 * (SPEC.md 3.3). A SYN carrying the redirect option with address A is
 * remembered by its 4-tuple in LOCAL_IN; the SYN-ACK answering it (LOCAL_OUT,
 * which also sees syncookie and retransmitted SYN-ACKs) gets the option
 * with A. Per network namespace: net.crab.server_enabled and
 * /proc/net/crab_server.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netfilter_ipv4.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "crab/crab_ep.h"

static unsigned int opt_kind = CRAB_OPT_KIND_DEFAULT;
module_param(opt_kind, uint, 0444);
MODULE_PARM_DESC(opt_kind, "option kind: 42 (default) or 254 (RFC 6994 form)");

static unsigned int opt_exid = CRAB_OPT_EXID_DEFAULT;
module_param(opt_exid, uint, 0444);
MODULE_PARM_DESC(opt_exid, "RFC 6994 experiment id used with opt_kind=254");

static unsigned int table_entries = 16384;
module_param(table_entries, uint, 0444);
MODULE_PARM_DESC(table_entries, "remembered SYNs per netns (rounded up)");

/* A SYN-ACK is retransmitted for up to ~63 s with tcp_synack_retries=5. */
static unsigned int entry_timeout = 75;
module_param(entry_timeout, uint, 0444);
MODULE_PARM_DESC(entry_timeout, "seconds a remembered SYN stays valid");

static struct crab_opt_cfg crab_cfg __read_mostly;
static unsigned int crab_server_net_id __read_mostly;

struct crab_server_stats {
	u64 c[CRAB_SERVER__MAX];
};

struct crab_server_net {
	u8 enabled;
	struct crab_ep_table tbl;
	struct crab_server_stats __percpu *stats;
	struct ctl_table *ctl;
	struct ctl_table_header *ctl_hdr;
};

static const char *const crab_server_names[] = {
#define X(e, n, h) n,
	CRAB_SERVER_COUNTERS(X)
#undef X
};

static inline struct crab_server_net *crab_sn(const struct net *net)
{
	return net_generic(net, crab_server_net_id);
}

static inline void crab_inc(struct crab_server_net *sn, enum crab_server_counter c)
{
	this_cpu_inc(sn->stats->c[c]);
}

static bool crab_server_tcp(struct crab_server_net *sn, struct sk_buff *skb,
			    struct tcphdr *th, unsigned int *thoff)
{
	switch (crab_ep_tcp(skb, th, thoff)) {
	case CRAB_EP_PKT_OK:
		return true;
	case CRAB_EP_PKT_FRAG:
		crab_inc(sn, CRAB_SERVER_FRAGMENT);
		return false;
	case CRAB_EP_PKT_INVALID:
		crab_inc(sn, CRAB_SERVER_HDR_INVALID);
		net_dbg_ratelimited("invalid TCP header from %pI4\n",
				    &ip_hdr(skb)->saddr);
		return false;
	default:
		return false;
	}
}

/* LOCAL_IN: remember the address named by a SYN's option. */
static unsigned int crab_server_in(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state)
{
	struct crab_server_net *sn = crab_sn(state->net);
	struct crab_opt_res res;
	struct crab_ep_key k;
	unsigned int thoff;
	struct tcphdr th;
	int r;

	if (!crab_server_tcp(sn, skb, &th, &thoff))
		return NF_ACCEPT;
	if (!th.syn || th.ack || th.rst || th.doff <= 5)
		return NF_ACCEPT;

	r = crab_ep_find_opt(skb, thoff, &th, &crab_cfg, &res);
	if (res.bad_len)
		crab_inc(sn, CRAB_SERVER_OPT_BAD_LEN);
	if (r == CRAB_OPT_MALFORMED) {
		crab_inc(sn, CRAB_SERVER_OPT_MALFORMED);
		net_dbg_ratelimited("malformed options in SYN from %pI4\n",
				    &ip_hdr(skb)->saddr);
		return NF_ACCEPT;
	}
	if (r != CRAB_OPT_FOUND)
		return NF_ACCEPT;
	if (!READ_ONCE(sn->enabled)) {
		crab_inc(sn, CRAB_SERVER_DISABLED);
		return NF_ACCEPT;
	}

	k.saddr = ip_hdr(skb)->saddr;
	k.daddr = ip_hdr(skb)->daddr;
	k.sport = th.source;
	k.dport = th.dest;
	if (crab_ep_table_put(&sn->tbl, &k, res.addr))
		crab_inc(sn, CRAB_SERVER_TABLE_EVICTED);
	crab_inc(sn, CRAB_SERVER_SYN_OPT_SEEN);
	return NF_ACCEPT;
}

/* LOCAL_OUT: give the SYN-ACK answering a remembered SYN the option. */
static unsigned int crab_server_out(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	struct crab_server_net *sn = crab_sn(state->net);
	const struct iphdr *iph = ip_hdr(skb);
	struct crab_ep_key k;
	unsigned int thoff;
	struct tcphdr th;
	u32 addr;

	if (iph->protocol != IPPROTO_TCP)
		return NF_ACCEPT;
	if (!crab_server_tcp(sn, skb, &th, &thoff))
		return NF_ACCEPT;
	if (!th.syn || !th.ack || th.rst || !READ_ONCE(sn->enabled))
		return NF_ACCEPT;

	/* The SYN's key, seen from the other side. */
	k.saddr = iph->daddr;
	k.daddr = iph->saddr;
	k.sport = th.dest;
	k.dport = th.source;
	if (!crab_ep_table_get(&sn->tbl, &k, &addr, false))
		return NF_ACCEPT;

	switch (crab_ep_add_opt(skb, thoff, &crab_cfg, htonl(addr))) {
	case CRAB_EP_GROW_OK:
		crab_inc(sn, CRAB_SERVER_SYNACK_ECHOED);
		break;
	case CRAB_EP_GROW_NO_ROOM:
		crab_inc(sn, CRAB_SERVER_SYNACK_NO_ROOM);
		net_dbg_ratelimited("no option room in SYN-ACK to %pI4\n", &k.saddr);
		break;
	case CRAB_EP_GROW_TOO_BIG:
		crab_inc(sn, CRAB_SERVER_SYNACK_TOO_BIG);
		net_dbg_ratelimited("SYN-ACK to %pI4 too big for the option\n",
				    &k.saddr);
		break;
	default:
		crab_inc(sn, CRAB_SERVER_SYNACK_NOMEM);
		net_warn_ratelimited("cannot grow SYN-ACK to %pI4: no memory\n",
				     &k.saddr);
		break;
	}
	return NF_ACCEPT;
}

/*
 * LOCAL_IN last and LOCAL_OUT first: both see the tuple the socket sees
 * (after any DNAT on input, before any NAT on output), so the SYN's key and
 * the SYN-ACK's key match.
 */
static const struct nf_hook_ops crab_server_ops[] = {
	{
		.hook = crab_server_in,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_IN,
		.priority = NF_IP_PRI_LAST - 1,
	},
	{
		.hook = crab_server_out,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_RAW - 1,
	},
};

static int crab_server_show(struct seq_file *seq, void *v)
{
	struct crab_server_net *sn = crab_sn(seq_file_single_net(seq));

	crab_ep_show_counters(seq, (const u64 __percpu *)sn->stats,
			      crab_server_names, CRAB_SERVER__MAX);
	return 0;
}

static const struct ctl_table crab_server_ctl_tmpl[] = {
	{
		.procname = CRAB_SYSCTL_SERVER_ENABLED,
		.maxlen = sizeof(u8),
		.mode = 0644,
		.proc_handler = proc_dou8vec_minmax,
		.extra1 = SYSCTL_ZERO,
		.extra2 = SYSCTL_ONE,
	},
	{ }	/* sentinel for kernels before 6.6 */
};

static int crab_server_sysctl_init(struct net *net, struct crab_server_net *sn)
{
	void *const data[] = { &sn->enabled };

	BUILD_BUG_ON(ARRAY_SIZE(data) != ARRAY_SIZE(crab_server_ctl_tmpl) - 1);
	sn->ctl = crab_ep_sysctl_register(net, crab_server_ctl_tmpl,
					 ARRAY_SIZE(data), data, &sn->ctl_hdr);
	return sn->ctl ? 0 : -ENOMEM;
}

static void crab_server_sysctl_exit(struct crab_server_net *sn)
{
	crab_ep_sysctl_unregister(sn->ctl_hdr, sn->ctl);
}

static int __net_init crab_server_net_init(struct net *net)
{
	struct crab_server_net *sn = crab_sn(net);
	int err;

	sn->enabled = 1;
	sn->stats = alloc_percpu(struct crab_server_stats);
	if (!sn->stats)
		return -ENOMEM;
	err = crab_ep_table_init(&sn->tbl, table_entries,
				 (unsigned long)entry_timeout * HZ);
	if (err)
		goto err_stats;
	err = crab_server_sysctl_init(net, sn);
	if (err)
		goto err_table;
	if (!proc_create_net_single(CRAB_PROC_SERVER, 0444, net->proc_net,
				    crab_server_show, NULL)) {
		err = -ENOMEM;
		goto err_sysctl;
	}
	err = nf_register_net_hooks(net, crab_server_ops,
				    ARRAY_SIZE(crab_server_ops));
	if (err)
		goto err_proc;
	return 0;

err_proc:
	remove_proc_entry(CRAB_PROC_SERVER, net->proc_net);
err_sysctl:
	crab_server_sysctl_exit(sn);
err_table:
	crab_ep_table_free(&sn->tbl);
err_stats:
	free_percpu(sn->stats);
	pr_err("netns init failed: %d\n", err);
	return err;
}

static void __net_exit crab_server_net_pre_exit(struct net *net)
{
	nf_unregister_net_hooks(net, crab_server_ops, ARRAY_SIZE(crab_server_ops));
}

static void __net_exit crab_server_net_exit(struct net *net)
{
	struct crab_server_net *sn = crab_sn(net);

	remove_proc_entry(CRAB_PROC_SERVER, net->proc_net);
	crab_server_sysctl_exit(sn);
	crab_ep_table_free(&sn->tbl);
	free_percpu(sn->stats);
}

static struct pernet_operations crab_server_net_ops = {
	.init = crab_server_net_init,
	.pre_exit = crab_server_net_pre_exit,
	.exit = crab_server_net_exit,
	.id = &crab_server_net_id,
	.size = sizeof(struct crab_server_net),
};

static int __init crab_server_init(void)
{
	int err;

	err = crab_ep_opt_cfg(&crab_cfg, opt_kind, opt_exid);
	if (err) {
		pr_err("invalid opt_kind=%u/opt_exid=%u\n", opt_kind, opt_exid);
		return err;
	}
	if (!entry_timeout || !table_entries || table_entries > (1U << 24)) {
		pr_err("invalid entry_timeout=%u/table_entries=%u\n",
		       entry_timeout, table_entries);
		return -EINVAL;
	}
	err = register_pernet_subsys(&crab_server_net_ops);
	if (err) {
		pr_err("cannot register pernet operations: %d\n", err);
		return err;
	}
	pr_info("loaded (option kind %u)\n", crab_cfg.kind);
	return 0;
}

static void __exit crab_server_exit(void)
{
	unregister_pernet_subsys(&crab_server_net_ops);
}

module_init(crab_server_init);
module_exit(crab_server_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("CRAB connection redirect: server-side option echo");
