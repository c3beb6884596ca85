// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB nf LB: generic netlink family CRAB_LB_GENL_NAME, the ABI of
 * include/crab/crab_genl_lb.h. Per network namespace (.netnsok): every
 * command acts on the sender's namespace. Values are range-checked by the
 * policy before anything is applied, so a bad request changes nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <net/addrconf.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "lb_nf.h"

static const struct nla_policy lb_be_policy[CRAB_LB_BE_A_MAX + 1] = {
	[CRAB_LB_BE_A_DIP]	= { .type = NLA_U32 },
	[CRAB_LB_BE_A_DIP6]	= NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[CRAB_LB_BE_A_WEIGHT]	= NLA_POLICY_RANGE(NLA_U32, 1, CRAB_WEIGHT_MAX),
	[CRAB_LB_BE_A_STATE]	= NLA_POLICY_MAX(NLA_U8, CRAB_BACKEND_DRAINING),
};

static const struct nla_policy lb_policy[CRAB_LB_A_MAX + 1] = {
	[CRAB_LB_A_VIP]		= { .type = NLA_U32 },
	[CRAB_LB_A_VIP6]	= NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[CRAB_LB_A_PORT]	= NLA_POLICY_MIN(NLA_U16, 1),
	[CRAB_LB_A_POLICY]	= NLA_POLICY_MAX(NLA_U8, CRAB_POLICY_MAX - 1),
	[CRAB_LB_A_LEGACY]	= NLA_POLICY_MAX(NLA_U8, CRAB_LEGACY_MAX - 1),
	[CRAB_LB_A_BACKEND]	= NLA_POLICY_NESTED(lb_be_policy),
};

static struct genl_family lb_genl_family;

/*
 * An IPv6 VIP or DIP must name one host on any link: not unspecified,
 * loopback, multicast, link-local (no zone here) or IPv4-mapped (an IPv4
 * service is written with the IPv4 attribute).
 */
static bool lb_ipv6_host(const struct in6_addr *a)
{
	/* IPV6_ADDR_ANY is 0: the unspecified address has no type bit */
	return !ipv6_addr_any(a) &&
	       !(ipv6_addr_type(a) & (IPV6_ADDR_LOOPBACK | IPV6_ADDR_MULTICAST |
				      IPV6_ADDR_LINKLOCAL | IPV6_ADDR_MAPPED));
}

static int lb_get_key(struct genl_info *info, struct lb_key *k)
{
	struct nlattr *v4 = info->attrs[CRAB_LB_A_VIP];
	struct nlattr *v6 = info->attrs[CRAB_LB_A_VIP6];
	struct in6_addr a6;
	__be16 port;
	__be32 a4;

	if (!(v4 || v6) || !info->attrs[CRAB_LB_A_PORT]) {
		GENL_SET_ERR_MSG(info, "VIP (or VIP6) and PORT are required");
		return -EINVAL;
	}
	if (v4 && v6) {
		GENL_SET_ERR_MSG(info, "VIP and VIP6 together: a service is one family");
		return -EINVAL;
	}
	port = htons(nla_get_u16(info->attrs[CRAB_LB_A_PORT]));
	if (v6) {
		a6 = nla_get_in6_addr(v6);
		if (!lb_ipv6_host(&a6)) {
			GENL_SET_ERR_MSG(info, "VIP6 must be a global or unique-local unicast address");
			return -EINVAL;
		}
		lb_key6(k, &a6, port);
		return 0;
	}
	a4 = nla_get_in_addr(v4);
	if (ipv4_is_zeronet(a4) || ipv4_is_multicast(a4) ||
	    ipv4_is_lbcast(a4)) {
		GENL_SET_ERR_MSG(info, "VIP must be a unicast address");
		return -EINVAL;
	}
	lb_key4(k, a4, port);
	return 0;
}

static int lb_attr_u8(struct genl_info *info, int type)
{
	return info->attrs[type] ? nla_get_u8(info->attrs[type]) : -1;
}

static int lb_cmd_svc(struct sk_buff *skb, struct genl_info *info)
{
	struct lb_net *ln = lb_net(genl_info_net(info));
	int policy = lb_attr_u8(info, CRAB_LB_A_POLICY);
	int legacy = lb_attr_u8(info, CRAB_LB_A_LEGACY);
	struct lb_key k;
	int err;

	err = lb_get_key(info, &k);
	if (err)
		return err;
	mutex_lock(&ln->lock);
	switch (info->genlhdr->cmd) {
	case CRAB_LB_CMD_SVC_ADD:
		err = lb_svc_add(ln, &k, policy, legacy);
		if (err == -EEXIST)
			GENL_SET_ERR_MSG(info, "service exists");
		else if (err == -ENOSPC)
			GENL_SET_ERR_MSG(info, "too many services");
		break;
	case CRAB_LB_CMD_SVC_SET:
		err = lb_svc_set(ln, &k, policy, legacy);
		break;
	default:
		err = lb_svc_del(ln, &k);
		break;
	}
	mutex_unlock(&ln->lock);
	if (err == -ENOENT)
		GENL_SET_ERR_MSG(info, "no such service");
	return err;
}

static int lb_cmd_be(struct sk_buff *skb, struct genl_info *info)
{
	struct lb_net *ln = lb_net(genl_info_net(info));
	struct nlattr *tb[CRAB_LB_BE_A_MAX + 1];
	int weight = -1, state = -1;
	struct in6_addr dip = { };
	struct lb_key k;
	int err;

	err = lb_get_key(info, &k);
	if (err)
		return err;
	if (!info->attrs[CRAB_LB_A_BACKEND]) {
		GENL_SET_ERR_MSG(info, "BACKEND is required");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, CRAB_LB_BE_A_MAX, info->attrs[CRAB_LB_A_BACKEND],
			       lb_be_policy, info->extack);
	if (err)
		return err;
	if (tb[k.v6 ? CRAB_LB_BE_A_DIP : CRAB_LB_BE_A_DIP6]) {
		GENL_SET_ERR_MSG(info, "backend of another family than the service's VIP");
		return -EINVAL;
	}
	if (!tb[k.v6 ? CRAB_LB_BE_A_DIP6 : CRAB_LB_BE_A_DIP]) {
		GENL_SET_ERR_MSG(info, "backend DIP (DIP6 for an IPv6 service) is required");
		return -EINVAL;
	}
	if (k.v6) {
		dip = nla_get_in6_addr(tb[CRAB_LB_BE_A_DIP6]);
		if (!lb_ipv6_host(&dip)) {
			GENL_SET_ERR_MSG(info, "DIP6 must be a global or unique-local unicast address");
			return -EINVAL;
		}
	} else {
		dip.s6_addr32[3] = nla_get_in_addr(tb[CRAB_LB_BE_A_DIP]);
		if (ipv4_is_zeronet(dip.s6_addr32[3]) ||
		    ipv4_is_multicast(dip.s6_addr32[3]) ||
		    ipv4_is_lbcast(dip.s6_addr32[3]) ||
		    ipv4_is_loopback(dip.s6_addr32[3])) {
			GENL_SET_ERR_MSG(info, "DIP must be a unicast address");
			return -EINVAL;
		}
	}
	if (tb[CRAB_LB_BE_A_WEIGHT])
		weight = nla_get_u32(tb[CRAB_LB_BE_A_WEIGHT]);
	if (tb[CRAB_LB_BE_A_STATE])
		state = nla_get_u8(tb[CRAB_LB_BE_A_STATE]);

	mutex_lock(&ln->lock);
	switch (info->genlhdr->cmd) {
	case CRAB_LB_CMD_BE_ADD:
		err = lb_be_add(ln, &k, &dip, weight, state);
		if (err == -EEXIST)
			GENL_SET_ERR_MSG(info, "backend exists");
		else if (err == -ENOSPC)
			GENL_SET_ERR_MSG(info, "too many backends");
		else if (err == -ENOENT)
			GENL_SET_ERR_MSG(info, "no such service");
		break;
	case CRAB_LB_CMD_BE_SET:
		err = lb_be_set(ln, &k, &dip, weight, state);
		if (err == -ENOENT)
			GENL_SET_ERR_MSG(info, "no such service or backend");
		break;
	default:
		err = lb_be_del(ln, &k, &dip);
		if (err == -ENOENT)
			GENL_SET_ERR_MSG(info, "no such service or backend");
		break;
	}
	mutex_unlock(&ln->lock);
	return err;
}

static int lb_put_counters(struct sk_buff *msg, int type, const u64 *cnt,
			   int n)
{
	struct nlattr *nest = nla_nest_start(msg, type);
	int i;

	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < n; i++)
		if (nla_put_u64_64bit(msg, i + 1, cnt[i], CRAB_LB_A_PAD))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

/* One service as a message; called under rcu_read_lock(). */
static int lb_fill_svc(struct sk_buff *msg, struct lb_svc *svc, u32 portid,
		       u32 seq, int flags)
{
	u64 cnt[CRAB_LB_CNT_MAX], be[CRAB_MAX_BACKENDS];
	const struct lb_cfg *c = rcu_dereference(svc->cfg);
	struct nlattr *list, *one;
	void *hdr;
	int i;

	hdr = genlmsg_put(msg, portid, seq, &lb_genl_family, flags,
			  CRAB_LB_CMD_SVC_GET);
	if (!hdr)
		return -EMSGSIZE;
	lb_svc_counters(svc, cnt, be);
	if ((svc->key.v6 ?
	     nla_put_in6_addr(msg, CRAB_LB_A_VIP6, &svc->key.vip) :
	     nla_put_in_addr(msg, CRAB_LB_A_VIP, svc->key.vip.s6_addr32[3])) ||
	    nla_put_u16(msg, CRAB_LB_A_PORT, ntohs(svc->key.port)) ||
	    nla_put_u8(msg, CRAB_LB_A_POLICY, c->policy) ||
	    nla_put_u8(msg, CRAB_LB_A_LEGACY, c->legacy) ||
	    nla_put_u32(msg, CRAB_LB_A_NBACKENDS, c->nbe))
		goto cancel;
	list = nla_nest_start(msg, CRAB_LB_A_BACKENDS);
	if (!list)
		goto cancel;
	for (i = 0; i < c->nbe; i++) {
		one = nla_nest_start(msg, CRAB_LB_A_BACKEND);
		if (!one ||
		    (svc->key.v6 ?
		     nla_put(msg, CRAB_LB_BE_A_DIP6, sizeof(c->be[i].dip),
			     c->be[i].dip) :
		     nla_put_in_addr(msg, CRAB_LB_BE_A_DIP, c->be[i].dip[3])) ||
		    nla_put_u32(msg, CRAB_LB_BE_A_WEIGHT, c->be[i].weight) ||
		    nla_put_u8(msg, CRAB_LB_BE_A_STATE, c->be[i].state) ||
		    nla_put_u64_64bit(msg, CRAB_LB_BE_A_SELECTED,
				      be[c->be[i].slot], CRAB_LB_BE_A_PAD))
			goto cancel;
		nla_nest_end(msg, one);
	}
	nla_nest_end(msg, list);
	if (lb_put_counters(msg, CRAB_LB_A_COUNTERS, cnt, CRAB_LB_CNT_MAX))
		goto cancel;
	genlmsg_end(msg, hdr);
	return 0;

cancel:
	genlmsg_cancel(msg, hdr);
	return -EMSGSIZE;
}

static int lb_cmd_svc_get(struct sk_buff *skb, struct genl_info *info)
{
	struct lb_net *ln = lb_net(genl_info_net(info));
	struct lb_svc *svc;
	struct sk_buff *msg;
	struct lb_key k;
	int err;

	err = lb_get_key(info, &k);
	if (err)
		return err;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	rcu_read_lock();
	svc = lb_svc_lookup_rcu(ln, &k);
	err = svc ? lb_fill_svc(msg, svc, info->snd_portid, info->snd_seq, 0) :
		    -ENOENT;
	rcu_read_unlock();
	if (err) {
		if (err == -ENOENT)
			GENL_SET_ERR_MSG(info, "no such service");
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);
}

/* cb->args[0]: bucket, cb->args[1]: services of that bucket already sent */
static int lb_dump_svc(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct lb_net *ln = lb_net(sock_net(skb->sk));
	long bkt, idx;
	struct lb_svc *svc;

	rcu_read_lock();
	for (bkt = cb->args[0]; bkt < HASH_SIZE(ln->svc); bkt++, cb->args[1] = 0) {
		idx = 0;
		hlist_for_each_entry_rcu(svc, &ln->svc[bkt], hnode) {
			if (idx++ < cb->args[1])
				continue;
			if (lb_fill_svc(skb, svc, NETLINK_CB(cb->skb).portid,
					cb->nlh->nlmsg_seq, NLM_F_MULTI)) {
				cb->args[0] = bkt;
				cb->args[1] = idx - 1;
				goto out;
			}
		}
	}
	cb->args[0] = bkt;
out:
	rcu_read_unlock();
	return skb->len;
}

static int lb_cmd_stats(struct sk_buff *skb, struct genl_info *info)
{
	struct lb_net *ln = lb_net(genl_info_net(info));
	u64 g[CRAB_LB_GCNT_MAX];
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &lb_genl_family, 0,
				CRAB_LB_CMD_STATS_GET);
	if (!hdr)
		goto nomem;
	lb_g_counters(ln, g);
	if (lb_put_counters(msg, CRAB_LB_A_GCOUNTERS, g, CRAB_LB_GCNT_MAX))
		goto nomem;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

nomem:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int lb_cmd_flush(struct sk_buff *skb, struct genl_info *info)
{
	struct lb_net *ln = lb_net(genl_info_net(info));

	mutex_lock(&ln->lock);
	lb_svc_flush(ln);
	mutex_unlock(&ln->lock);
	return 0;
}

/*
 * Changes need CAP_NET_ADMIN in the user namespace that owns the network
 * namespace (GENL_UNS_ADMIN_PERM): the LB of a container's namespace is the
 * container's to configure, and only that one.
 */
static const struct genl_small_ops lb_genl_ops[] = {
	{ .cmd = CRAB_LB_CMD_SVC_ADD, .doit = lb_cmd_svc,
	  .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = CRAB_LB_CMD_SVC_DEL, .doit = lb_cmd_svc,
	  .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = CRAB_LB_CMD_SVC_SET, .doit = lb_cmd_svc,
	  .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = CRAB_LB_CMD_SVC_GET, .doit = lb_cmd_svc_get,
	  .dumpit = lb_dump_svc },
	{ .cmd = CRAB_LB_CMD_BE_ADD, .doit = lb_cmd_be,
	  .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = CRAB_LB_CMD_BE_DEL, .doit = lb_cmd_be,
	  .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = CRAB_LB_CMD_BE_SET, .doit = lb_cmd_be,
	  .flags = GENL_UNS_ADMIN_PERM },
	{ .cmd = CRAB_LB_CMD_STATS_GET, .doit = lb_cmd_stats },
	{ .cmd = CRAB_LB_CMD_FLUSH, .doit = lb_cmd_flush,
	  .flags = GENL_UNS_ADMIN_PERM },
};

static struct genl_family lb_genl_family __ro_after_init = {
	.name		= CRAB_LB_GENL_NAME,
	.version	= CRAB_LB_GENL_VERSION,
	.maxattr	= CRAB_LB_A_MAX,
	.policy		= lb_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.small_ops	= lb_genl_ops,
	.n_small_ops	= ARRAY_SIZE(lb_genl_ops),
	/* a new family: strict validation of every command */
	.resv_start_op	= CRAB_LB_CMD_SVC_ADD,
};

int lb_genl_init(void)
{
	return genl_register_family(&lb_genl_family);
}

void lb_genl_exit(void)
{
	genl_unregister_family(&lb_genl_family);
}
