// SPDX-License-Identifier: GPL-2.0-only
/*
 * crab_server: Connection Redirect server echo for unmodified kernels
 * (docs/PROTOCOL.md 3.3). A SYN carrying the redirect option with address
 * A gets a SYN-ACK carrying the option with A, in IPv4 (8 bytes) and IPv6
 * (20 bytes): the option's family is the segment's, an option of the
 * other family's length is ignored (counted). Per network namespace,
 * off until net.crab.server_enabled=1 (docs/PROTOCOL.md 3.8); counters in
 * /proc/net/crab_server.
 *
 * The echo keeps no state a SYN flood could fill. TCP answers a SYN in the
 * same softirq, on the same CPU, that delivered it (tcp_v4_rcv ->
 * tcp_conn_request -> send_synack -> ip_build_and_send_pkt -> LOCAL_OUT,
 * tcp_v6_rcv -> ... -> ip6_xmit -> LOCAL_OUT;
 * also for syncookies, Fast Open, and the SYN-ACK a retransmitted SYN
 * triggers), so LOCAL_IN notes the SYN in a per-CPU slot and LOCAL_OUT
 * consumes it for the SYN-ACK that acknowledges exactly that SYN (same
 * 4-tuple, ack = ISN + 1, or the end of its Fast Open data). Every SYN
 * overwrites the slot, with or without the option: a SYN without it on a
 * 4-tuple gets a plain SYN-ACK, whatever came before. Only the SYN-ACKs
 * TCP retransmits from its timer need memory: each echoed SYN-ACK is also
 * kept in a bounded table (4-tuple -> A, ISN) whose live entries are never
 * evicted, so a flood can fill free slots but not push out a genuine
 * entry (a full bucket just leaves that SYN-ACK's retransmissions without
 * the option, counted in table_full); a SYN without the option clears its
 * 4-tuple's entry.
 *
 * A segment carrying TCP-MD5 or TCP-AO (option 19 or 29) is signed over
 * its options: it is never grown, and a signed SYN is not remembered.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "../common/crab_ep_lib.h"

static unsigned int opt_kind = CRAB_OPT_KIND_DEFAULT;
module_param(opt_kind, uint, 0444);
MODULE_PARM_DESC(opt_kind, "option kind: 42 (default), 254 (RFC 6994 form) or another unassigned kind");

static unsigned int opt_exid = CRAB_OPT_EXID_DEFAULT;
module_param(opt_exid, uint, 0444);
MODULE_PARM_DESC(opt_exid, "RFC 6994 experiment id used with opt_kind=254");

static unsigned int table_entries = 16384;
module_param(table_entries, uint, 0444);
MODULE_PARM_DESC(table_entries, "echoed SYN-ACKs remembered per netns for retransmission (rounded up)");

/* A SYN-ACK is retransmitted for up to ~63 s with tcp_synack_retries=5. */
static unsigned int entry_timeout = 75;
module_param(entry_timeout, uint, 0444);
MODULE_PARM_DESC(entry_timeout, "seconds an echoed SYN-ACK is remembered");

static struct crab_opt_cfg crab_cfg __read_mostly;
static unsigned int crab_server_net_id __read_mostly;

struct crab_server_stats {
	u64 c[CRAB_SERVER__MAX];
};

/* The SYN this CPU delivered last (see the top of this file). */
struct crab_syn_slot {
	struct crab_ep_key k;	/* client addr, server addr, ports */
	u32 ack1;		/* ISN + 1 */
	u32 ack2;		/* ISN + 1 + Fast Open data */
	struct in6_addr addr;	/* A; IPv4: v4-mapped */
	bool echo;		/* the SYN asked for the echo */
};

struct crab_server_net {
	u8 enabled;
	struct crab_ep_table tbl;
	struct crab_syn_slot __percpu *slot;
	struct crab_server_stats __percpu *stats;
	struct ctl_table *ctl;
	struct ctl_table_header *ctl_hdr;
};

static const char *const crab_server_names[] = {
	CRAB_SERVER_COUNTERS(CRAB_EP_NAME)
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
			    const struct nf_hook_state *state,
			    struct crab_ep_seg *seg)
{
	switch (crab_ep_tcp(skb, state->pf == NFPROTO_IPV6, seg)) {
	case CRAB_EP_PKT_OK:
		return true;
	case CRAB_EP_PKT_FRAG:
		crab_inc(sn, CRAB_SERVER_FRAGMENT);
		return false;
	case CRAB_EP_PKT_INVALID:
		crab_inc(sn, CRAB_SERVER_HDR_INVALID);
		net_dbg_ratelimited("invalid TCP header from %pI6c\n",
				    &seg->saddr);
		return false;
	default:
		return false;
	}
}

/* LOCAL_IN: note every SYN in this CPU's slot, with A if it asks for it. */
static unsigned int crab_server_in(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state)
{
	struct crab_server_net *sn = crab_sn(state->net);
	struct crab_syn_slot *slot;
	struct crab_opt_res res;
	struct crab_ep_seg seg;
	int r;

	if (!crab_server_tcp(sn, skb, state, &seg))
		return NF_ACCEPT;
	if (!seg.th.syn || seg.th.ack || seg.th.rst)
		return NF_ACCEPT;

	slot = this_cpu_ptr(sn->slot);
	slot->echo = false;
	slot->k.saddr = seg.saddr;
	slot->k.daddr = seg.daddr;
	slot->k.sport = seg.th.source;
	slot->k.dport = seg.th.dest;

	r = crab_ep_find_opt(skb, &seg, &crab_cfg, &res);
	if (res.bad_len)
		crab_inc(sn, CRAB_SERVER_OPT_BAD_LEN);
	if (r == CRAB_OPT_MALFORMED) {
		crab_inc(sn, CRAB_SERVER_OPT_MALFORMED);
		net_dbg_ratelimited("malformed options in SYN from %pI6c\n",
				    &seg.saddr);
	}
	if (r != CRAB_OPT_FOUND) {
		/* A new SYN on a 4-tuple drops what an earlier one left. */
		if (crab_ep_table_del(&sn->tbl, &slot->k))
			crab_inc(sn, CRAB_SERVER_STALE_CLEARED);
		return NF_ACCEPT;
	}
	if (!READ_ONCE(sn->enabled)) {
		crab_inc(sn, CRAB_SERVER_DISABLED);
		return NF_ACCEPT;
	}
	if (crab_ep_opts_signed(skb, seg.thoff, &seg.th)) {
		crab_inc(sn, CRAB_SERVER_SYN_SIGNED);
		return NF_ACCEPT;
	}
	slot->ack1 = ntohl(seg.th.seq) + 1;
	slot->ack2 = slot->ack1 + (skb->len - seg.thoff - seg.th.doff * 4);
	if (seg.v6)
		memcpy(&slot->addr, res.addr6, sizeof(slot->addr));
	else
		crab_ep_addr4(&slot->addr, htonl(res.addr));
	slot->echo = true;
	crab_inc(sn, CRAB_SERVER_SYN_OPT_SEEN);
	return NF_ACCEPT;
}

/* LOCAL_OUT: give the SYN-ACK answering a SYN that asked for it the option. */
static unsigned int crab_server_out(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	struct crab_server_net *sn = crab_sn(state->net);
	struct crab_syn_slot *slot;
	struct crab_opt_res res;
	struct crab_ep_seg seg;
	struct crab_ep_val v;
	struct crab_ep_key k;
	bool rtx = false;
	u32 ack;

	if (!READ_ONCE(sn->enabled))
		return NF_ACCEPT;
	if (!crab_server_tcp(sn, skb, state, &seg))
		return NF_ACCEPT;
	if (!seg.th.syn || !seg.th.ack || seg.th.rst)
		return NF_ACCEPT;

	/* The SYN's key, seen from the other side. */
	k.saddr = seg.daddr;
	k.daddr = seg.saddr;
	k.sport = seg.th.dest;
	k.dport = seg.th.source;
	ack = ntohl(seg.th.ack_seq);
	/*
	 * A SYN-ACK can leave from process context too (simultaneous open,
	 * from the backlog): BH off, so that the slot is this CPU's and no
	 * SYN's softirq rewrites it meanwhile.
	 */
	local_bh_disable();
	slot = this_cpu_ptr(sn->slot);
	if (slot->echo && !memcmp(&slot->k, &k, sizeof(k)) &&
	    (ack == slot->ack1 || ack == slot->ack2)) {
		slot->echo = false;
		v.a = 0;
		v.addr = slot->addr;
		v.b = slot->ack1;
		v.c = slot->ack2;
	} else if (crab_ep_table_get(&sn->tbl, &k, &v) &&
		   (ack == v.b || ack == v.c)) {
		rtx = true;
	} else {
		local_bh_enable();
		return NF_ACCEPT;
	}
	local_bh_enable();
	if (crab_ep_opts_signed(skb, seg.thoff, &seg.th)) {
		crab_inc(sn, CRAB_SERVER_SYNACK_SIGNED);
		return NF_ACCEPT;
	}
	/* Already echoed: LOCAL_OUT runs again for a VRF's device. */
	if (crab_ep_find_opt(skb, &seg, &crab_cfg, &res) == CRAB_OPT_FOUND)
		return NF_ACCEPT;

	switch (crab_ep_add_opt(skb, seg.thoff, seg.v6, &crab_cfg, &v.addr)) {
	case CRAB_EP_GROW_OK:
		crab_inc(sn, CRAB_SERVER_SYNACK_ECHOED);
		if (rtx)
			crab_inc(sn, CRAB_SERVER_SYNACK_RTX_ECHOED);
		else if (crab_ep_table_put(&sn->tbl, &k, &v) == CRAB_EP_PUT_FULL)
			crab_inc(sn, CRAB_SERVER_TABLE_FULL);
		break;
	case CRAB_EP_GROW_NO_ROOM:
		crab_inc(sn, CRAB_SERVER_SYNACK_NO_ROOM);
		net_dbg_ratelimited("no option room in SYN-ACK to %pI6c\n",
				    &k.saddr);
		break;
	case CRAB_EP_GROW_TOO_BIG:
		crab_inc(sn, CRAB_SERVER_SYNACK_TOO_BIG);
		net_dbg_ratelimited("SYN-ACK to %pI6c too big for the option\n",
				    &k.saddr);
		break;
	default:
		crab_inc(sn, CRAB_SERVER_SYNACK_NOMEM);
		net_warn_ratelimited("cannot grow SYN-ACK to %pI6c: no memory\n",
				     &k.saddr);
		break;
	}
	return NF_ACCEPT;
}

/*
 * LOCAL_IN last and LOCAL_OUT first: both see the tuple the socket sees
 * (after any DNAT on input, before any NAT on output), so the SYN's key and
 * the SYN-ACK's key match; LOCAL_IN last also means only a SYN every filter
 * let through is noted.
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
	{
		.hook = crab_server_in,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_IN,
		.priority = NF_IP6_PRI_LAST - 1,
	},
	{
		.hook = crab_server_out,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_RAW - 1,
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
	int err = -ENOMEM;

	sn->enabled = 0;	/* off until configured (docs/PROTOCOL.md 3.8) */
	sn->stats = alloc_percpu(struct crab_server_stats);
	if (!sn->stats)
		goto err;
	sn->slot = alloc_percpu(struct crab_syn_slot);
	if (!sn->slot)
		goto err_stats;
	err = crab_ep_table_init(&sn->tbl, table_entries,
				 (unsigned long)entry_timeout * HZ, false);
	if (err)
		goto err_slot;
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
err_slot:
	free_percpu(sn->slot);
err_stats:
	free_percpu(sn->stats);
err:
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
	free_percpu(sn->slot);
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
	err = register_pernet_subsys(&crab_server_net_ops);
	if (err) {
		pr_err("cannot register pernet operations: %d\n", err);
		return err;
	}
	pr_info("loaded (option kind %u), off in every namespace until net.crab.server_enabled=1\n",
		crab_cfg.kind);
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
