/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CRAB nf LB: a service's backend set and the tables derived from
 * it, in freestanding C (no kernel API) so that the cross-LB unit tests
 * compile exactly what the module runs. The tables are the shared model's
 * (include/crab/crab_lb_model.h), the ones the XDP and DPDK LBs build: for
 * the same backend set a flow maps to the same backend in every LB.
 */
#ifndef CRAB_LB_NF_TABLES_H
#define CRAB_LB_NF_TABLES_H

#include <linux/types.h>

#include <crab/crab_lb.h>
#include <crab/crab_lb_model.h>

/*
 * A backend. @dip is in the model's form, network order: an IPv6 address
 * as its four words, an IPv4 one as { 0, 0, 0, a } (a service and its
 * backends are one family).
 */
struct lb_be {
	__be32 dip[4];
	__u16 weight;
	__u8 state;	/* enum crab_backend_state */
	__u8 slot;	/* stable index of its counter in lb_svc_pcpu.be[] */
};

/*
 * Build @t from the @nbe backends at @be: the tables hold be[] indices.
 * The data path indexes them with crab_lb_pick() and crab_lb_pick_flow().
 * @in and @wk are scratch space (too large for a kernel stack). Returns
 * the model's result: 0, or -1 for a set it refuses (the control plane
 * never builds one: at most CRAB_MAX_BACKENDS, distinct addresses).
 */
static inline int lb_nf_tables_build(struct crab_lb_tables *t,
				     struct crab_lb_backend *in,
				     struct crab_lb_work *wk,
				     const struct lb_be *be, __u32 nbe)
{
	__u32 i, w;

	for (i = 0; i < nbe && i < CRAB_MAX_BACKENDS; i++) {
		for (w = 0; w < 4; w++)
			in[i].addr[w] = crab_ntoh32(be[i].dip[w]);
		in[i].weight = be[i].weight;
		in[i].state = be[i].state;
		in[i].id = (__u8)i;
	}
	return crab_lb_tables_build(t, wk, in, nbe);
}

#endif /* CRAB_LB_NF_TABLES_H */
