/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection Redirect TCP option: the one definition shared by the kernel
 * modules, the kernel patch, BPF programs, the DPDK LB and userspace.
 *
 * Wire format (SPEC.md section 2):
 *   default form   : kind=CRAB_OPT_KIND (42), len=6, IPv4 address (network order)
 *   RFC 6994 form  : kind=254, len=8, 16-bit ExID, IPv4 address
 * Senders emit 8 bytes, 4-byte aligned: NOP NOP kind len addr (default form)
 * or kind len exid addr (RFC 6994 form). Receivers accept any offset.
 *
 * Everything here is header-only, freestanding C (no libc, no kernel API) so
 * that the same walk runs in every component. In BPF the caller copies the
 * option bytes into a stack buffer of CRAB_OPT_BUF_SIZE first.
 */
#ifndef CRAB_OPT_H
#define CRAB_OPT_H

#include <linux/types.h>

#define CRAB_OPT_KIND_DEFAULT	42	/* kind of the published CRAB prototype */
#define CRAB_OPT_KIND_EXP	254	/* RFC 6994 shared experimental kind */
#define CRAB_OPT_EXID_DEFAULT	0xC4AB	/* ExID used with the RFC 6994 form */

#define TCPOLEN_CRAB		6	/* kind, len, addr */
#define TCPOLEN_CRAB_EXP	8	/* kind, len, exid, addr */
#define TCPOLEN_CRAB_ALIGNED	8	/* what senders add to a header */

#define CRAB_TCPOPT_EOL		0
#define CRAB_TCPOPT_NOP		1
#define CRAB_TCP_MAX_OPTLEN	40	/* (15 - 5) * 4 */
#define CRAB_OPT_BUF_SIZE	64	/* power of two >= 40, for BPF masking */

/* Which encoding a component parses and emits. */
struct crab_opt_cfg {
	__u8 kind;	/* CRAB_OPT_KIND_DEFAULT or CRAB_OPT_KIND_EXP */
	__u8 pad;
	__u16 exid;	/* host order; only used when kind == CRAB_OPT_KIND_EXP */
};

#define CRAB_OPT_CFG_DEFAULT { .kind = CRAB_OPT_KIND_DEFAULT, .pad = 0, \
			       .exid = CRAB_OPT_EXID_DEFAULT }

/* Result of a walk. */
enum crab_opt_status {
	CRAB_OPT_NONE = 0,	/* walked cleanly, no redirect option */
	CRAB_OPT_FOUND = 1,	/* first well-formed redirect option found */
	CRAB_OPT_MALFORMED = 2,	/* walk ended on a bad length; none found */
};

struct crab_opt_res {
	__u32 addr;	/* the address, HOST byte order */
	__u8 off;	/* offset of the option's kind byte in the buffer */
	__u8 bad_len;	/* redirect options of the wrong length seen (ignored) */
	__u8 malformed;	/* 1 when the walk ended on a broken length */
	__u8 pad;
};

static inline int crab_opt_len(const struct crab_opt_cfg *cfg)
{
	return cfg->kind == CRAB_OPT_KIND_EXP ? TCPOLEN_CRAB_EXP : TCPOLEN_CRAB;
}

/*
 * Walk TCP options @opt[0..len) (len <= 40) and find the first well-formed
 * redirect option. EOL ends the walk; a length < 2 or one running past the
 * end ends it as malformed. A redirect-kind option with the wrong length is
 * ignored and counted in res->bad_len (SPEC 2). For the RFC 6994 form, a
 * kind-254 option with another ExID is someone else's experiment: skipped.
 *
 * Index accesses are masked with (CRAB_OPT_BUF_SIZE - 1) so the BPF verifier
 * can prove them in bounds; callers pass a CRAB_OPT_BUF_SIZE buffer there.
 * Everywhere else the explicit "i + n <= len" checks are what keeps reads
 * inside the buffer.
 */
static inline int crab_opt_find(const __u8 *opt, __u32 len,
				const struct crab_opt_cfg *cfg,
				struct crab_opt_res *res)
{
	const __u32 m = CRAB_OPT_BUF_SIZE - 1;
	__u32 i = 0, n;
	__u8 want = crab_opt_len(cfg);

	res->addr = 0;
	res->off = 0;
	res->bad_len = 0;
	res->malformed = 0;
	res->pad = 0;
	if (len > CRAB_TCP_MAX_OPTLEN)
		len = CRAB_TCP_MAX_OPTLEN;

	for (n = 0; n < CRAB_TCP_MAX_OPTLEN; n++) {
		__u8 kind, olen;

		if (i >= len)
			break;
		kind = opt[i & m];
		if (kind == CRAB_TCPOPT_EOL)
			break;
		if (kind == CRAB_TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 2 > len) {
			res->malformed = 1;
			return CRAB_OPT_MALFORMED;
		}
		olen = opt[(i + 1) & m];
		if (olen < 2 || i + olen > len) {
			res->malformed = 1;
			return CRAB_OPT_MALFORMED;
		}
		if (kind == cfg->kind) {
			int exid_ok = 1;
			__u32 a = i + 2;

			if (cfg->kind == CRAB_OPT_KIND_EXP) {
				if (olen >= 4)
					exid_ok = ((__u16)(opt[(i + 2) & m] << 8) |
						   opt[(i + 3) & m]) == cfg->exid;
				else
					exid_ok = 0;
				a = i + 4;
			}
			if (exid_ok && olen == want) {
				res->addr = ((__u32)opt[a & m] << 24) |
					    ((__u32)opt[(a + 1) & m] << 16) |
					    ((__u32)opt[(a + 2) & m] << 8) |
					    (__u32)opt[(a + 3) & m];
				res->off = (__u8)i;
				return CRAB_OPT_FOUND;
			}
			if (exid_ok && res->bad_len < 255)
				res->bad_len++;
		}
		i += olen;
	}
	return CRAB_OPT_NONE;
}

/*
 * Write the 8-byte aligned option carrying @addr_host (host order) at @dst.
 * Default form: NOP NOP kind 6 addr. RFC 6994 form: 254 8 exid addr.
 */
static inline void crab_opt_write(__u8 *dst, const struct crab_opt_cfg *cfg,
				  __u32 addr_host)
{
	__u8 *a;

	if (cfg->kind == CRAB_OPT_KIND_EXP) {
		dst[0] = CRAB_OPT_KIND_EXP;
		dst[1] = TCPOLEN_CRAB_EXP;
		dst[2] = (__u8)(cfg->exid >> 8);
		dst[3] = (__u8)cfg->exid;
	} else {
		dst[0] = CRAB_TCPOPT_NOP;
		dst[1] = CRAB_TCPOPT_NOP;
		dst[2] = cfg->kind;
		dst[3] = TCPOLEN_CRAB;
	}
	a = dst + 4;
	a[0] = (__u8)(addr_host >> 24);
	a[1] = (__u8)(addr_host >> 16);
	a[2] = (__u8)(addr_host >> 8);
	a[3] = (__u8)addr_host;
}

/* Offset of the address bytes inside a found option (from its kind byte). */
static inline int crab_opt_addr_off(const struct crab_opt_cfg *cfg)
{
	return cfg->kind == CRAB_OPT_KIND_EXP ? 4 : 2;
}

#endif /* CRAB_OPT_H */
