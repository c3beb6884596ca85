// SPDX-License-Identifier: GPL-2.0-only
/*
 * crab_ep_walk() (endpoints/ebpf/crab_ep_optwalk.h, the bpf_loop form used
 * by the eBPF endpoints) must give exactly what the shared crab_opt_find()
 * gives: status, address, offset, bad_len, malformed, for both encodings,
 * on adversarial layouts and on random option bytes. Exit 0 when identical.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crab_ep_optwalk.h"

static unsigned long long rng = 88172645463325252ULL;

static unsigned int next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned int)rng;
}

static int check(const __u8 *buf, __u32 len, const struct crab_opt_cfg *cfg)
{
	struct crab_opt_res a;
	struct crab_ep_walk w;
	int sa, sb;

	memset(&w, 0, sizeof(w));
	memcpy(w.opt, buf, len > 40 ? 40 : len);
	w.cfg = *cfg;
	sa = crab_opt_find(w.opt, len, cfg, &a);
	sb = crab_ep_walk(&w, len);
	if (sa != sb || a.addr != w.res.addr || a.off != w.res.off ||
	    a.bad_len != w.res.bad_len || a.malformed != w.res.malformed) {
		fprintf(stderr, "mismatch len %u kind %u: %d/%d addr %x/%x off %u/%u bad %u/%u mal %u/%u\n",
			len, cfg->kind, sa, sb, a.addr, w.res.addr, a.off, w.res.off,
			a.bad_len, w.res.bad_len, a.malformed, w.res.malformed);
		return 1;
	}
	return 0;
}

int main(void)
{
	static const __u8 fixed[][40] = {
		{ 1, 1, 42, 6, 198, 18, 100, 1 },		/* NOP NOP opt */
		{ 42, 6, 10, 0, 0, 1, 1, 1 },			/* opt NOP NOP */
		{ 42, 4, 1, 2, 42, 6, 9, 9, 9, 9 },		/* bad length first */
		{ 2, 4, 5, 180, 42 },				/* truncated kind */
		{ 2, 4, 5, 180, 42, 6, 1 },			/* runs past len */
		{ 3, 1, 42, 6, 1, 2, 3, 4 },			/* olen < 2 */
		{ 0, 42, 6, 1, 2, 3, 4 },			/* EOL first */
		{ 254, 8, 0xC4, 0xAB, 1, 2, 3, 4 },		/* RFC 6994 */
		{ 254, 8, 0x12, 0x34, 1, 2, 3, 4, 254, 8, 0xC4, 0xAB, 5, 6, 7, 8 },
		{ 254, 3, 0xC4, 1, 1 },				/* exp too short */
	};
	const struct crab_opt_cfg cfgs[] = {
		{ .kind = CRAB_OPT_KIND_DEFAULT, .exid = CRAB_OPT_EXID_DEFAULT },
		{ .kind = CRAB_OPT_KIND_EXP, .exid = CRAB_OPT_EXID_DEFAULT },
	};
	__u8 buf[40];
	unsigned int c, i, len, n, fails = 0, runs = 0;

	for (c = 0; c < 2; c++)
		for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			for (len = 0; len <= 40; len++, runs++)
				fails += check(fixed[i], len, &cfgs[c]);
	for (n = 0; n < 200000; n++, runs++) {
		/* Bias towards the interesting bytes. */
		static const __u8 pick[] = { 0, 1, 1, 2, 4, 6, 8, 42, 42, 254, 0xC4, 0xAB };

		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (next() & 1) ? pick[next() % sizeof(pick)] : (__u8)next();
		fails += check(buf, next() % 44, &cfgs[n & 1]);
	}
	printf("# %u walks compared, %u mismatches\n", runs, fails);
	return fails ? 1 : 0;
}
