/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps and small helpers shared by the eBPF endpoint programs. Every map is
 * pinned by name, so the objects loaded by separate crabctl runs (server,
 * client sock_ops, client tc, client netfilter) share one instance of each.
 */
#ifndef CRAB_EP_COMMON_H
#define CRAB_EP_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <crab/crab_bpf_ep.h>
#include <crab/crab_bpf_tc.h>

/* TCP-MD5 (RFC 2385) and TCP-AO (RFC 5925): never touched (docs/PROTOCOL.md 3.4). */
#define CRAB_TCPOPT_MD5SIG	19
#define CRAB_TCPOPT_AO		29

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

/* The runtime settings (a fresh map is all zero: off, default kind). */
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

/*
 * Does the option walk of @w (crab_opt_walk_bpf(), already filled with the
 * segment's options) see a TCP-MD5 or TCP-AO option? The shared walk reports
 * every option of the kind it is told to look for: found, or counted in
 * bad_len when its length is not the redirect option's (MD5 is 18 bytes, AO
 * at least 4). A walk that ends malformed answers "signed": nothing is done
 * to a segment whose options cannot be read.
 */
static __always_inline int crab_ep_opts_signed(struct crab_opt_walk *w, __u32 len)
{
	const __u8 kinds[2] = { CRAB_TCPOPT_MD5SIG, CRAB_TCPOPT_AO };
	struct crab_opt_cfg c = { .kind = 0, .pad = 0, .exid = 0 };
	int i, st;

	for (i = 0; i < 2; i++) {
		c.kind = kinds[i];
		st = crab_opt_walk_bpf(w, len, &c);
		if (st != CRAB_OPT_NONE || w->st.res.bad_len)
			return 1;
	}
	return 0;
}

/* Kernel's struct tcp_sock, the fields read here (CO-RE relocated). */
struct tcp_sock___crab {
	__u32 snd_una;
	__u32 write_seq;
	void *md5sig_info;
	void *ao_info;
} __attribute__((preserve_access_index));

/*
 * Does the TCP socket @sk hold TCP-MD5 or TCP-AO keys (any peer)? Such a
 * socket never announces nor accepts a redirect. Kernels built without
 * either feature have no such field: the check compiles away for them.
 */
static __always_inline int crab_ep_sk_signed(void *sk)
{
	struct tcp_sock___crab *tp;

	tp = (struct tcp_sock___crab *)bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	if (bpf_core_field_exists(tp->md5sig_info) && tp->md5sig_info)
		return 1;
	if (bpf_core_field_exists(tp->ao_info) && tp->ao_info)
		return 1;
	return 0;
}

#endif /* CRAB_EP_COMMON_H */
