/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps and small helpers shared by the eBPF endpoint programs. Every map is
 * pinned by name, so the objects loaded by separate crabctl runs (server,
 * client sock_ops, client tc) share one instance of each.
 */
#ifndef CRAB_EP_COMMON_H
#define CRAB_EP_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <crab/crab_bpf_ep.h>
#include <crab/crab_bpf_tc.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crab_ep_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRAB_EP_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_stats SEC(".maps");

static __always_inline void crab_ep_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&crab_ep_stats, &idx);

	if (v)
		*v += 1;	/* per-CPU slot: no atomic needed */
}

/* The configured option encoding; a zero kind (fresh map) means the default. */
static __always_inline const struct crab_ep_cfg *crab_ep_get_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&crab_ep_cfg, &zero);
}

static __always_inline void crab_ep_opt_cfg(const struct crab_ep_cfg *cfg,
					    struct crab_opt_cfg *oc)
{
	crab_tc_opt_cfg(cfg ? &cfg->opt : NULL, oc);
}

#endif /* CRAB_EP_COMMON_H */
