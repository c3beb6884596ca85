/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * crab_opt_find() (include/crab/crab_opt.h) as a bpf_loop() step function.
 *
 * Why this exists: the verifier of the kernels we run (checked on 6.18)
 * rejects the shared 40-step walk, even isolated in a global function
 * ("BPF program is too large. Processed 1000001 insn"): the data-dependent
 * offset makes it explore every option layout. bpf_loop() verifies the step
 * once. The step is the same algorithm, statement for statement, with the
 * same result struct; selftests/ebpf_endpoints/test_optwalk_equiv.sh
 * compiles both in userspace and compares them on random and adversarial
 * option bytes. Once crab_opt.h offers a step form, this file should go.
 */
#ifndef CRAB_EP_OPTWALK_H
#define CRAB_EP_OPTWALK_H

#include <crab/crab_opt.h>

struct crab_ep_walk {
	__u8 opt[CRAB_OPT_BUF_SIZE];	/* zero past len */
	__u32 len;
	__u32 i;
	int status;
	struct crab_opt_cfg cfg;
	struct crab_opt_res res;
};

/* One option; returns 1 to stop the walk, 0 to go on. */
static long crab_ep_walk_step(__u32 n, void *ctx)
{
	struct crab_ep_walk *w = ctx;
	const __u32 m = CRAB_OPT_BUF_SIZE - 1;
	__u32 i = w->i, len = w->len;
	__u8 kind, olen, want = crab_opt_len(&w->cfg);

	(void)n;
	if (i >= len)
		return 1;
	kind = w->opt[i & m];
	if (kind == CRAB_TCPOPT_EOL)
		return 1;
	if (kind == CRAB_TCPOPT_NOP) {
		w->i = i + 1;
		return 0;
	}
	if (i + 2 > len) {
		w->res.malformed = 1;
		w->status = CRAB_OPT_MALFORMED;
		return 1;
	}
	olen = w->opt[(i + 1) & m];
	if (olen < 2 || i + olen > len) {
		w->res.malformed = 1;
		w->status = CRAB_OPT_MALFORMED;
		return 1;
	}
	if (kind == w->cfg.kind) {
		int exid_ok = 1;
		__u32 a = i + 2;

		if (w->cfg.kind == CRAB_OPT_KIND_EXP) {
			if (olen >= 4)
				exid_ok = ((__u16)(w->opt[(i + 2) & m] << 8) |
					   w->opt[(i + 3) & m]) == w->cfg.exid;
			else
				exid_ok = 0;
			a = i + 4;
		}
		if (exid_ok && olen == want) {
			w->res.addr = ((__u32)w->opt[a & m] << 24) |
				      ((__u32)w->opt[(a + 1) & m] << 16) |
				      ((__u32)w->opt[(a + 2) & m] << 8) |
				      (__u32)w->opt[(a + 3) & m];
			w->res.off = (__u8)i;
			w->status = CRAB_OPT_FOUND;
			return 1;
		}
		if (exid_ok && w->res.bad_len < 255)
			w->res.bad_len++;
	}
	w->i = i + olen;
	return 0;
}

/* Prepare @w (opt[] already filled, zero past @len) and walk it. */
static __always_inline int crab_ep_walk(struct crab_ep_walk *w, __u32 len)
{
	w->len = len > CRAB_TCP_MAX_OPTLEN ? CRAB_TCP_MAX_OPTLEN : len;
	w->i = 0;
	w->status = CRAB_OPT_NONE;
	w->res.addr = 0;
	w->res.off = 0;
	w->res.bad_len = 0;
	w->res.malformed = 0;
	w->res.pad = 0;
#ifdef __bpf__
	bpf_loop(CRAB_TCP_MAX_OPTLEN, crab_ep_walk_step, w, 0);
#else
	for (__u32 n = 0; n < CRAB_TCP_MAX_OPTLEN; n++)
		if (crab_ep_walk_step(n, w))
			break;
#endif
	return w->status;
}

#endif /* CRAB_EP_OPTWALK_H */
