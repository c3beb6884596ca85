// SPDX-License-Identifier: GPL-2.0-only
/*
 * crab_client: Connection Redirect client for unmodified kernels
 * (SPEC.md 3.1 and 3.4).
 *
 * LOCAL_OUT: a SYN to a destination in net.crab.client_announce_cidrs gets
 * the option naming the dialed address; (4-tuple, ISN) is remembered.
 *
 * PRE_ROUTING: a SYN-ACK from S naming A != S is a redirect request for the
 * socket connected to A with the same ports. When every check of SPEC 3.4
 * holds, the socket is re-keyed to S (ehash, peer address, cached route)
 * before TCP looks the SYN-ACK up, so TCP then finds it by S and completes
 * the handshake with S. Anything else is left to the stack and counted.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netfilter_ipv4.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>
#include <net/inet_hashtables.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/inet_sock.h>
#include <net/inet_timewait_sock.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "crab/crab_ep.h"

static unsigned int opt_kind = CRAB_OPT_KIND_DEFAULT;
module_param(opt_kind, uint, 0444);
MODULE_PARM_DESC(opt_kind, "option kind: 42 (default) or 254 (RFC 6994 form)");

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
#define X(e, n, h) n,
	CRAB_CLIENT_COUNTERS(X)
#undef X
};

static inline struct crab_client_net *crab_cn(const struct net *net)
{
	return net_generic(net, crab_client_net_id);
}

static inline void crab_inc(struct crab_client_net *cn, enum crab_client_counter c)
{
	this_cpu_inc(cn->stats->c[c]);
}

static bool crab_client_tcp(struct crab_client_net *cn, struct sk_buff *skb,
			    struct tcphdr *th, unsigned int *thoff)
{
	switch (crab_ep_tcp(skb, th, thoff)) {
	case CRAB_EP_PKT_OK:
		return true;
	case CRAB_EP_PKT_FRAG:
		crab_inc(cn, CRAB_CLIENT_FRAGMENT);
		return false;
	case CRAB_EP_PKT_INVALID:
		crab_inc(cn, CRAB_CLIENT_HDR_INVALID);
		net_dbg_ratelimited("invalid TCP header %pI4 -> %pI4\n",
				    &ip_hdr(skb)->saddr, &ip_hdr(skb)->daddr);
		return false;
	default:
		return false;
	}
}

/* LOCAL_OUT: announce in SYNs to listed destinations. */
static unsigned int crab_client_out(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	struct crab_client_net *cn = crab_cn(state->net);
	const struct iphdr *iph = ip_hdr(skb);
	struct crab_ep_key k;
	unsigned int thoff;
	struct tcphdr th;

	if (iph->protocol != IPPROTO_TCP || !READ_ONCE(cn->enabled))
		return NF_ACCEPT;
	if (!crab_client_tcp(cn, skb, &th, &thoff))
		return NF_ACCEPT;
	if (!th.syn || th.ack || th.rst)
		return NF_ACCEPT;
	if (!crab_ep_cidrs_match(&cn->announce, iph->daddr)) {
		crab_inc(cn, CRAB_CLIENT_SYN_NOT_LISTED);
		return NF_ACCEPT;
	}

	k.saddr = iph->saddr;
	k.daddr = iph->daddr;
	k.sport = th.source;
	k.dport = th.dest;
	switch (crab_ep_add_opt(skb, thoff, &crab_cfg, k.daddr)) {
	case CRAB_EP_GROW_OK:
		break;
	case CRAB_EP_GROW_NO_ROOM:
		crab_inc(cn, CRAB_CLIENT_SYN_NO_ROOM);
		net_dbg_ratelimited("no option room in SYN to %pI4\n", &k.daddr);
		return NF_ACCEPT;
	case CRAB_EP_GROW_TOO_BIG:
		crab_inc(cn, CRAB_CLIENT_SYN_TOO_BIG);
		net_dbg_ratelimited("SYN to %pI4 too big for the option\n",
				    &k.daddr);
		return NF_ACCEPT;
	default:
		crab_inc(cn, CRAB_CLIENT_SYN_NOMEM);
		net_warn_ratelimited("cannot grow SYN to %pI4: no memory\n",
				     &k.daddr);
		return NF_ACCEPT;
	}
	if (crab_ep_table_put(&cn->tbl, &k, ntohl(th.seq)))
		crab_inc(cn, CRAB_CLIENT_TABLE_EVICTED);
	crab_inc(cn, CRAB_CLIENT_SYN_ANNOUNCED);
	return NF_ACCEPT;
}

/*
 * Move @sk (SYN-SENT, bh-locked, not owned by user) from peer A to peer S.
 * inet_unhash()/inet_ehash_nolisten() are the pair the stack itself uses
 * for connect() and close(), so the ehash reference and the in-use count
 * stay balanced; the bind hashes key on the local side only and stay put.
 * The cached route pointed at A: drop it so the ACK is routed to S.
 */
static void crab_client_rekey(struct sock *sk, __be32 new_daddr)
{
	inet_unhash(sk);
	sk->sk_daddr = new_daddr;
	inet_ehash_nolisten(sk, NULL, NULL);
	sk_dst_reset(sk);
}

enum crab_redir {
	CRAB_REDIR_PASS,	/* refused or not ours: continue */
	CRAB_REDIR_DONE,	/* redirected: continue, untracked */
	CRAB_REDIR_LOCKED,	/* socket owned by user: try again later */
};

/*
 * A redirected SYN-ACK comes from S for a conntrack entry keyed on the VIP:
 * conntrack would classify it as a new flow opened by a SYN-ACK, INVALID,
 * and the common "ct state invalid drop" rule would drop it (a SYN-ACK
 * held back and re-injected past conntrack's hook has no entry at all,
 * which nft also calls invalid): the re-keyed socket then waits for its
 * SYN retransmission (1 s) to S to open a proper entry. Mark it untracked
 * instead: the client's ACK then opens the flow's entry by mid-stream
 * pickup and the socket's later packets are tracked as usual. The SYN's
 * entry to the VIP times out in SYN_SENT. Only when pickup is allowed
 * (net.netfilter.nf_conntrack_tcp_loose, on by default): without it that
 * ACK would be INVALID too and the connection would never be tracked, so
 * the SYN-ACK is left to conntrack and the retransmission recovers. Both
 * nf_ct_set() and the sysctl are inline accesses: no dependency on
 * nf_conntrack.ko.
 */
static void crab_client_untrack(struct net *net, struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	if (READ_ONCE(net->ct.nf_ct_proto.tcp.tcp_loose))
		nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
#endif
}

/*
 * Accept a redirect when all of SPEC 3.4 holds. Runs in the PRE_ROUTING
 * hook and, for SYN-ACKs held back, in the retry work (BH disabled, RCU
 * read side). @final: no retry left, a socket owned by user is a refusal.
 */
static enum crab_redir crab_client_redirect(struct net *net,
					    struct crab_client_net *cn,
					    struct sk_buff *skb, bool final)
{
	struct inet_hashinfo *hinfo = net->ipv4.tcp_death_row.hashinfo;
	const struct iphdr *iph;
	enum crab_client_counter why;
	struct inet_timewait_sock *tw = NULL;
	struct crab_opt_res res;
	struct crab_ep_key k;
	__be32 named, src;
	unsigned int thoff;
	struct tcphdr th;
	struct sock *sk;
	int dif, r;
	u32 isn;

	if (ip_hdr(skb)->protocol != IPPROTO_TCP)
		return CRAB_REDIR_PASS;
	if (!crab_client_tcp(cn, skb, &th, &thoff))
		return CRAB_REDIR_PASS;
	if (!th.syn || !th.ack || th.rst || th.doff <= 5)
		return CRAB_REDIR_PASS;

	r = crab_ep_find_opt(skb, thoff, &th, &crab_cfg, &res);
	if (res.bad_len)
		crab_inc(cn, CRAB_CLIENT_OPT_BAD_LEN);
	if (r == CRAB_OPT_MALFORMED) {
		crab_inc(cn, CRAB_CLIENT_OPT_MALFORMED);
		net_dbg_ratelimited("malformed options in SYN-ACK from %pI4\n",
				    &ip_hdr(skb)->saddr);
		return CRAB_REDIR_PASS;
	}
	if (r != CRAB_OPT_FOUND)
		return CRAB_REDIR_PASS;

	iph = ip_hdr(skb);
	named = htonl(res.addr);
	src = iph->saddr;
	k.saddr = iph->daddr;
	k.daddr = named;
	k.sport = th.dest;
	k.dport = th.source;
	if (named == src) {
		/* Answer from the dialed peer itself: nothing to re-key. */
		crab_ep_table_get(&cn->tbl, &k, &isn, true);
		crab_inc(cn, CRAB_CLIENT_SYNACK_DIRECT);
		return CRAB_REDIR_PASS;
	}
	if (!READ_ONCE(cn->enabled)) {
		why = CRAB_CLIENT_REJ_DISABLED;
		goto refuse;
	}

	dif = skb->dev ? skb->dev->ifindex : 0;
	/*
	 * A socket already keyed on S owns this SYN-ACK: a retransmission
	 * after a redirect, or a connection dialed to S. TCP's business.
	 */
	sk = __inet_lookup_established(net, hinfo, src, th.source, iph->daddr,
				       ntohs(th.dest), dif, 0);
	if (sk && sk->sk_state != TCP_TIME_WAIT) {
		sock_gen_put(sk);
		crab_inc(cn, CRAB_CLIENT_SYNACK_KNOWN);
		return CRAB_REDIR_PASS;
	}
	/*
	 * A TIME_WAIT keyed on S: an earlier connection from this port to S.
	 * connect() chose the port unique for A, not for S, so a new
	 * connection to A redirected to S can meet it (many short
	 * connections, a bind() with SO_REUSEADDR). Left alone, it
	 * would take this SYN-ACK and answer with a stale ACK, S would reset,
	 * and the new socket would wait for its SYN retransmission (1 s).
	 * If the SYN-ACK proves to answer a SYN-SENT socket's announced SYN
	 * (checks below), S has accepted the new connection: the TIME_WAIT
	 * is replaced, as connect() does with tcp_tw_reuse.
	 */
	tw = sk ? inet_twsk(sk) : NULL;

	sk = __inet_lookup_established(net, hinfo, named, th.source, iph->daddr,
				       ntohs(th.dest), dif, 0);
	if (!sk) {
		if (tw) {
			/* not a redirect for us: the TIME_WAIT's business */
			inet_twsk_put(tw);
			crab_inc(cn, CRAB_CLIENT_SYNACK_KNOWN);
			return CRAB_REDIR_PASS;
		}
		why = CRAB_CLIENT_REJ_NO_SOCKET;
		goto refuse;
	}
	if (sk->sk_state != TCP_SYN_SENT) {
		why = CRAB_CLIENT_REJ_NOT_SYNSENT;
		goto refuse_put;
	}
	if (!crab_ep_cidrs_match(&cn->allow, src)) {
		why = CRAB_CLIENT_REJ_NOT_ALLOWED;
		goto refuse_put;
	}
	if (!crab_ep_table_get(&cn->tbl, &k, &isn, false)) {
		why = CRAB_CLIENT_REJ_NOT_ANNOUNCED;
		goto refuse_put;
	}
	if (ntohl(th.ack_seq) != isn + 1) {
		why = CRAB_CLIENT_REJ_BAD_ACK;
		goto refuse_put;
	}

	bh_lock_sock(sk);
	if (sock_owned_by_user(sk)) {
		bh_unlock_sock(sk);
		sock_put(sk);
		if (!final) {
			if (tw)
				inet_twsk_put(tw);
			return CRAB_REDIR_LOCKED;
		}
		why = CRAB_CLIENT_REJ_LOCKED;
		goto refuse;
	}
	/*
	 * Re-check under the lock: the entry must belong to this socket's
	 * SYN (same ISN), not to an earlier socket that used these ports.
	 */
	if (sk->sk_state != TCP_SYN_SENT) {
		why = CRAB_CLIENT_REJ_NOT_SYNSENT;
		goto refuse_unlock;
	}
	if (tcp_sk(sk)->snd_una != isn) {
		why = CRAB_CLIENT_REJ_NOT_ANNOUNCED;
		goto refuse_unlock;
	}
	if (tw) {
		inet_twsk_deschedule_put(tw);
		tw = NULL;
		crab_inc(cn, CRAB_CLIENT_TW_REPLACED);
	}
	crab_client_rekey(sk, src);
	bh_unlock_sock(sk);
	sock_put(sk);

	crab_ep_table_get(&cn->tbl, &k, &isn, true);
	crab_inc(cn, CRAB_CLIENT_REDIRECTED);
	return CRAB_REDIR_DONE;

refuse_unlock:
	bh_unlock_sock(sk);
refuse_put:
	sock_gen_put(sk);
refuse:
	if (tw)
		inet_twsk_put(tw);
	crab_inc(cn, why);
	net_dbg_ratelimited("redirect %pI4 -> %pI4 refused (%s)\n", &named, &src,
			    crab_client_names[why]);
	return CRAB_REDIR_PASS;
}

/*
 * A SYN-ACK for a socket owned by user (connect() still holds the lock:
 * with veth the whole handshake can run in the softirq its own SYN
 * triggered) cannot be re-keyed now, and if let through TCP would answer
 * it with RST, costing the client a SYN retransmission. Hold it back and
 * retry from a work item (at once, then a jiffy apart), up to
 * CRAB_DEFER_TRIES times, then
 * hand it to the rest of the input path (state->okfn, i.e. ip_rcv_finish;
 * the PRE_ROUTING hooks after ours are skipped for it).
 */
#define CRAB_DEFER_MAX		256	/* held-back SYN-ACKs per netns */
#define CRAB_DEFER_TRIES	25

struct crab_deferred {
	struct list_head list;
	struct sk_buff *skb;
	struct net_device *dev;	/* held */
	int (*okfn)(struct net *net, struct sock *sk, struct sk_buff *skb);
	unsigned int tries;
};

static bool crab_client_defer(struct crab_client_net *cn, struct sk_buff *skb,
			      const struct nf_hook_state *state)
{
	struct crab_deferred *d;

	if (READ_ONCE(cn->deferred_len) >= CRAB_DEFER_MAX || !state->okfn ||
	    !skb->dev)
		return false;
	d = kmalloc(sizeof(*d), GFP_ATOMIC);
	if (!d)
		return false;
	d->skb = skb;
	d->dev = skb->dev;
	dev_hold(d->dev);
	d->okfn = state->okfn;
	d->tries = 0;
	spin_lock_bh(&cn->deferred_lock);
	list_add_tail(&d->list, &cn->deferred);
	WRITE_ONCE(cn->deferred_len, cn->deferred_len + 1);
	spin_unlock_bh(&cn->deferred_lock);
	/*
	 * First try as soon as a worker runs (once connect() sleeps in
	 * inet_wait_for_connect() the lock is free); only a socket still
	 * owned then waits a jiffy per retry. A fixed jiffy here cost every
	 * such connection 4 ms (HZ=250).
	 */
	schedule_delayed_work(&cn->retry, 0);
	return true;
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
	WRITE_ONCE(cn->deferred_len, 0);
	spin_unlock_bh(&cn->deferred_lock);

	list_for_each_entry_safe(d, tmp, &todo, list) {
		enum crab_redir r;

		list_del(&d->list);
		local_bh_disable();
		rcu_read_lock();
		r = crab_client_redirect(net, cn, d->skb,
					 ++d->tries >= CRAB_DEFER_TRIES);
		if (r == CRAB_REDIR_LOCKED) {
			spin_lock(&cn->deferred_lock);
			list_add_tail(&d->list, &cn->deferred);
			WRITE_ONCE(cn->deferred_len, cn->deferred_len + 1);
			spin_unlock(&cn->deferred_lock);
			again = true;
		} else {
			if (r == CRAB_REDIR_DONE)
				crab_client_untrack(net, d->skb);
			d->okfn(net, NULL, d->skb);
			dev_put(d->dev);
			kfree(d);
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
		dev_put(d->dev);
		kfree(d);
	}
	cn->deferred_len = 0;
}

/* PRE_ROUTING */
static unsigned int crab_client_in(void *priv, struct sk_buff *skb,
				   const struct nf_hook_state *state)
{
	struct crab_client_net *cn = crab_cn(state->net);
	enum crab_redir r = crab_client_redirect(state->net, cn, skb, false);

	if (r == CRAB_REDIR_DONE)
		crab_client_untrack(state->net, skb);
	if (r != CRAB_REDIR_LOCKED)
		return NF_ACCEPT;
	if (crab_client_defer(cn, skb, state)) {
		crab_inc(cn, CRAB_CLIENT_DEFERRED);
		return NF_STOLEN;
	}
	crab_inc(cn, CRAB_CLIENT_REJ_LOCKED);
	net_dbg_ratelimited("redirect from %pI4 refused: socket locked\n",
			    &ip_hdr(skb)->saddr);
	return NF_ACCEPT;
}

/*
 * NF_IP_PRI_RAW - 1: before the raw table, conntrack (and its defrag users'
 * NAT): the output hook sees the address the application dialed, not one a
 * later DNAT chose, and the input hook re-keys the socket before anything
 * classifies the SYN-ACK, so conntrack and early demux see the final tuple.
 */
static const struct nf_hook_ops crab_client_ops[] = {
	{
		.hook = crab_client_out,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_RAW - 1,
	},
	{
		.hook = crab_client_in,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_RAW - 1,
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

	cn->enabled = 1;
	write_pnet(&cn->net, net);
	spin_lock_init(&cn->deferred_lock);
	INIT_LIST_HEAD(&cn->deferred);
	INIT_DELAYED_WORK(&cn->retry, crab_client_retry);
	cn->stats = alloc_percpu(struct crab_client_stats);
	if (!cn->stats)
		return -ENOMEM;
	err = crab_ep_table_init(&cn->tbl, table_entries,
				 (unsigned long)entry_timeout * HZ);
	if (err)
		goto err_stats;
	err = crab_ep_cidrs_init(&cn->announce, CRAB_EP_CIDR_ALL);
	if (err)
		goto err_table;
	err = crab_ep_cidrs_init(&cn->allow, CRAB_EP_CIDR_ALL);
	if (err)
		goto err_announce;
	err = crab_client_sysctl_init(net, cn);
	if (err)
		goto err_allow;
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
err_allow:
	crab_ep_cidrs_free(&cn->allow);
err_announce:
	crab_ep_cidrs_free(&cn->announce);
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
	err = register_pernet_subsys(&crab_client_net_ops);
	if (err) {
		pr_err("cannot register pernet operations: %d\n", err);
		return err;
	}
	pr_info("loaded (option kind %u)\n", crab_cfg.kind);
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
