/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection Redirect TCP option: the one definition shared by the kernel
 * modules, the kernel patch, BPF programs, the DPDK LB and userspace.
 *
 * Wire format (docs/PROTOCOL.md section 2):
 *   default form   : kind=CRAB_OPT_KIND (42), len=6, IPv4 address (network order)
 *                    kind=42, len=18, IPv6 address
 *   RFC 6994 form  : kind=254, len=8, 16-bit ExID, IPv4 address
 *                    kind=254, len=20, 16-bit ExID, IPv6 address
 * The option's family is the segment's: in an IPv4 segment only the IPv4
 * lengths are well formed, in an IPv6 segment only the IPv6 ones.
 * Senders emit 8 bytes (IPv4) or 20 bytes (IPv6), 4-byte aligned:
 * NOP NOP kind len addr (default form) or kind len exid addr (RFC 6994
 * form). Receivers accept any offset.
 *
 * Everything here is header-only, freestanding C (no libc, no kernel API) so
 * that the same walk (crab_opt_step) runs in every component. In BPF the
 * caller copies the option bytes into a struct crab_opt_walk first.
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
#define TCPOLEN_CRAB6		18	/* kind, len, IPv6 addr */
#define TCPOLEN_CRAB6_EXP	20	/* kind, len, exid, IPv6 addr */
#define TCPOLEN_CRAB6_ALIGNED	20	/* what senders add to an IPv6 header */

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
	__u32 addr;	/* IPv4 walk: the address, HOST byte order */
	__u8 off;	/* offset of the option's kind byte in the buffer */
	__u8 bad_len;	/* redirect options of the wrong length seen (ignored) */
	__u8 malformed;	/* 1 when the walk ended on a broken length */
	__u8 pad;
	__u8 addr6[16];	/* IPv6 walk: the address, network byte order */
};

/* BPF: what takes a packet pointer is inlined, the pointer stays in the
 * caller's frame (<bpf/bpf_helpers.h> defines __always_inline).
 */
#ifdef __bpf__
#define CRAB_OPT_INLINE	__always_inline
#else
#define CRAB_OPT_INLINE	inline
#endif

static inline int crab_opt_len(const struct crab_opt_cfg *cfg)
{
	return cfg->kind == CRAB_OPT_KIND_EXP ? TCPOLEN_CRAB_EXP : TCPOLEN_CRAB;
}

/* Length of a well-formed option in a segment of family @v6 (0: IPv4). */
static inline int crab_opt_len_fam(const struct crab_opt_cfg *cfg, int v6)
{
	if (v6)
		return cfg->kind == CRAB_OPT_KIND_EXP ? TCPOLEN_CRAB6_EXP
						      : TCPOLEN_CRAB6;
	return crab_opt_len(cfg);
}

/*
 * The walk, one option per step. State of a walk over @len option bytes.
 * Every component runs exactly this step: C code through crab_opt_find(),
 * BPF through bpf_loop() (crab_opt_walk_bpf() below), because the verifier
 * cannot follow a data-dependent 40-step loop (it explores every option
 * layout and gives up at 1M instructions) but verifies a bpf_loop()
 * callback once.
 */
struct crab_opt_state {
	__u32 len;		/* option bytes, <= CRAB_TCP_MAX_OPTLEN */
	__u32 i;		/* offset of the next option */
	int status;		/* enum crab_opt_status */
	struct crab_opt_cfg cfg;
	__u32 v6;		/* the segment is IPv6: 18/20-byte form */
	struct crab_opt_res res;
};

/* Start a walk of an IPv4 (@v6 0) or IPv6 (@v6 1) segment's options. */
static inline void crab_opt_init_fam(struct crab_opt_state *st, __u32 len,
				     const struct crab_opt_cfg *cfg, int v6)
{
	int k;

	st->i = 0;
	st->len = len > CRAB_TCP_MAX_OPTLEN ? CRAB_TCP_MAX_OPTLEN : len;
	st->status = CRAB_OPT_NONE;
	st->cfg = *cfg;
	st->v6 = v6 ? 1 : 0;
	st->res.addr = 0;
	st->res.off = 0;
	st->res.bad_len = 0;
	st->res.malformed = 0;
	st->res.pad = 0;
	for (k = 0; k < 16; k++)
		st->res.addr6[k] = 0;
}

static inline void crab_opt_init(struct crab_opt_state *st, __u32 len,
				 const struct crab_opt_cfg *cfg)
{
	crab_opt_init_fam(st, len, cfg, 0);
}

/*
 * Look at the option at st->i of @opt; return 1 when the walk is over
 * (found, EOL, end, malformed), 0 to go on. EOL ends the walk; a length < 2
 * or one running past the end ends it as malformed. A redirect-kind option
 * with the wrong length for the segment's family (an IPv6-sized option in
 * an IPv4 segment included) is ignored and counted in res.bad_len
 * (docs/PROTOCOL.md 2). For
 * the RFC 6994 form, a kind-254 option with another ExID is someone else's
 * experiment: skipped. Index accesses are masked with CRAB_OPT_BUF_SIZE - 1
 * so the BPF verifier can prove them in bounds (callers pass a
 * CRAB_OPT_BUF_SIZE buffer there); everywhere else the explicit
 * "i + n <= len" checks keep reads inside the buffer.
 */
static inline int crab_opt_step(const __u8 *opt, struct crab_opt_state *st)
{
	const __u32 m = CRAB_OPT_BUF_SIZE - 1;
	__u32 i = st->i, len = st->len;
	__u8 kind, olen, want = crab_opt_len_fam(&st->cfg, st->v6);

	if (i >= len)
		return 1;
	kind = opt[i & m];
	if (kind == CRAB_TCPOPT_EOL)
		return 1;
	if (kind == CRAB_TCPOPT_NOP) {
		st->i = i + 1;
		return 0;
	}
	if (i + 2 > len) {
		st->res.malformed = 1;
		st->status = CRAB_OPT_MALFORMED;
		return 1;
	}
	olen = opt[(i + 1) & m];
	if (olen < 2 || i + olen > len) {
		st->res.malformed = 1;
		st->status = CRAB_OPT_MALFORMED;
		return 1;
	}
	if (kind == st->cfg.kind) {
		int exid_ok = 1;
		__u32 a = i + 2;

		if (st->cfg.kind == CRAB_OPT_KIND_EXP) {
			if (olen >= 4)
				exid_ok = (((__u16)opt[(i + 2) & m] << 8) |
					   opt[(i + 3) & m]) == st->cfg.exid;
			else
				exid_ok = 0;
			a = i + 4;
		}
		if (exid_ok && olen == want) {
			if (st->v6) {
				int k;

				for (k = 0; k < 16; k++)
					st->res.addr6[k] = opt[(a + k) & m];
			} else {
				st->res.addr = ((__u32)opt[a & m] << 24) |
					       ((__u32)opt[(a + 1) & m] << 16) |
					       ((__u32)opt[(a + 2) & m] << 8) |
					       (__u32)opt[(a + 3) & m];
			}
			st->res.off = (__u8)i;
			st->status = CRAB_OPT_FOUND;
			return 1;
		}
		if (exid_ok && st->res.bad_len < 255)
			st->res.bad_len++;
	}
	st->i = i + olen;
	return 0;
}

/*
 * The fast path: where the walk may start in @opt[0..len) because what
 * comes before is one of the two layouts Linux puts in a SYN, which the
 * walk would step over without a result:
 *   MSS, SACK_PERM, TS, NOP, WS   (20 bytes: timestamps on)
 *   MSS, NOP, NOP, SACK_PERM, NOP, WS   (12 bytes: timestamps off)
 * Only kinds and lengths are compared (the walk reads nothing else of
 * those options), so the walk's result from the returned offset is the
 * walk's result from 0; 0 when neither layout is there or when the
 * redirect kind is configured to one of those kinds.
 */
static inline __u32 crab_opt_skip_common(const __u8 *opt, __u32 len,
					 const struct crab_opt_cfg *cfg)
{
	const __u32 m = CRAB_OPT_BUF_SIZE - 1;

	if (cfg->kind <= 4 || cfg->kind == 8)
		return 0;
	if (len >= 20 && opt[0] == 2 && opt[1] == 4 && opt[4] == 4 &&
	    opt[5] == 2 && opt[6] == 8 && opt[7] == 10 && opt[16 & m] == 1 &&
	    opt[17 & m] == 3 && opt[18 & m] == 3)
		return 20;
	if (len >= 12 && opt[0] == 2 && opt[1] == 4 && opt[4] == 1 &&
	    opt[5] == 1 && opt[6] == 4 && opt[7] == 2 && opt[8] == 1 &&
	    opt[9] == 3 && opt[10] == 3)
		return 12;
	return 0;
}

/*
 * The layouts senders produce, read in place and straight-line (no
 * copy, no loop): the options of a SYN are one of the layouts
 * crab_opt_skip_common() recognises (or nothing) followed directly by the
 * aligned redirect option of the segment's family (@v6): NOP NOP kind len
 * addr, or kind len ExID addr (RFC 6994 form). Returns that option's
 * offset in @opt[0..len), or -1: the caller walks the options
 * (crab_opt_find_from() from 0, or the BPF walk). @end: the first byte
 * past what may be read at @opt (a packet's end in BPF).
 *
 * An offset returned is the walk's result from byte 0: the walk steps over
 * what skip_common() recognised without a result (those kinds are not the
 * redirect kind: skip_common() refuses kinds 0-4 and 8, and so does this),
 * then over the two NOPs, and stops on this option, which has the redirect
 * kind, the family's length (and the ExID) and ends inside the header:
 * found, first, no wrong length and nothing malformed before it.
 */
static CRAB_OPT_INLINE int crab_opt_find_common(const void *end, const __u8 *opt,
						__u32 len, const struct crab_opt_cfg *cfg,
						int v6)
{
	__u32 s, j, want = crab_opt_len_fam(cfg, v6);
	const __u8 *o;
	__u8 kind, olen;

	if (cfg->kind <= 4 || cfg->kind == 8)
		return -1;
	/* skip_common() reads up to byte 18. */
	if ((const void *)(opt + 20) > end)
		return -1;
	s = crab_opt_skip_common(opt, len, cfg);
	o = opt + (s & 31);
	if ((const void *)(o + 4) > end)
		return -1;
	if (o[0] == CRAB_TCPOPT_NOP && o[1] == CRAB_TCPOPT_NOP) {
		if (cfg->kind == CRAB_OPT_KIND_EXP)
			return -1;	/* senders put the RFC 6994 form first */
		j = s + 2;
		kind = o[2];
		olen = o[3];
	} else {
		j = s;
		kind = o[0];
		olen = o[1];
		if (cfg->kind == CRAB_OPT_KIND_EXP &&
		    (((__u16)o[2] << 8) | o[3]) != cfg->exid)
			return -1;
	}
	if (kind != cfg->kind || olen != want || j + want > len)
		return -1;
	return (int)j;
}

/*
 * crab_opt_find_common() on @buf, CRAB_OPT_BUF_SIZE bytes holding the
 * header's @len option bytes and zeros after them, when the option it
 * finds is followed by nothing but up to 3 bytes of NOP or EOL padding
 * (what the kernel leaves behind an option a BPF program wrote with
 * bpf_store_hdr_opt()). The header then holds only the layouts
 * crab_opt_skip_common() recognises, NOPs, that option and padding: the
 * walk for the redirect option finds it first with no wrong length, and a
 * walk for any kind none of those bytes has (TCP-MD5, TCP-AO) finds
 * nothing, no wrong length and nothing malformed. Returns the option's
 * offset, or -1 (the caller walks).
 */
static CRAB_OPT_INLINE int crab_opt_find_sole(const __u8 *buf, __u32 len,
					      const struct crab_opt_cfg *cfg, int v6)
{
	int at = crab_opt_find_common(buf + CRAB_OPT_BUF_SIZE, buf, len, cfg, v6);
	__u32 e, k;

	if (at < 0)
		return -1;
	e = (__u32)at + (__u32)crab_opt_len_fam(cfg, v6);
	if (e > len || len - e > 3)
		return -1;
	for (k = 0; k < 3; k++)
		if (buf[(e + k) & (CRAB_OPT_BUF_SIZE - 1)] > CRAB_TCPOPT_NOP)
			return -1;
	return at;
}

/*
 * The walk from offset @start of @opt[0..len) (0: the whole header; or
 * what crab_opt_skip_common() returned).
 */
static inline int crab_opt_find_from(const __u8 *opt, __u32 len,
				     const struct crab_opt_cfg *cfg, int v6,
				     __u32 start, struct crab_opt_res *res)
{
	struct crab_opt_state st;
	__u32 n;

	crab_opt_init_fam(&st, len, cfg, v6);
	st.i = start;
	/* Each step consumes >= 1 byte: 40 steps cover any header. */
	for (n = 0; n < CRAB_TCP_MAX_OPTLEN; n++)
		if (crab_opt_step(opt, &st))
			break;
	*res = st.res;
	return st.status;
}

/*
 * Find the first well-formed redirect option in @opt[0..len) (len <= 40,
 * larger is clamped). Returns enum crab_opt_status; details in @res.
 */
static inline int crab_opt_find_fam(const __u8 *opt, __u32 len,
				    const struct crab_opt_cfg *cfg, int v6,
				    struct crab_opt_res *res)
{
	__u32 n = len > CRAB_TCP_MAX_OPTLEN ? CRAB_TCP_MAX_OPTLEN : len;

	return crab_opt_find_from(opt, len, cfg, v6,
				  crab_opt_skip_common(opt, n, cfg), res);
}

/* Offset of the address bytes inside a found option (from its kind byte);
 * the same for both families.
 */
static inline int crab_opt_addr_off(const struct crab_opt_cfg *cfg)
{
	return cfg->kind == CRAB_OPT_KIND_EXP ? 4 : 2;
}

/*
 * Where the walk resumes (@k, behind crab_opt_skip_common()'s layouts),
 * senders put the option as crab_opt_write() / crab_opt_write6() write it:
 * NOP NOP kind len addr, or kind len exid addr in the RFC 6994 form. The
 * offset of its kind byte when that well-formed option (of the segment's
 * family, the NOPs optional) is at @k of @opt[0..n), n <= 40; -1 otherwise.
 * The walk from @k would stop on it with CRAB_OPT_FOUND: NOPs only advance
 * the walk, and the option's kind, length, ExID and extent are the ones
 * the walk checks.
 */
static inline int crab_opt_sender_form(const __u8 *opt, __u32 n, __u32 k,
				       const struct crab_opt_cfg *cfg, int v6)
{
	__u32 want = (__u32)crab_opt_len_fam(cfg, v6);

	if (cfg->kind <= CRAB_TCPOPT_NOP)
		return -1;	/* the walk reads those kinds as EOL and NOP */
	if (k + 2 <= n && opt[k] == CRAB_TCPOPT_NOP &&
	    opt[k + 1] == CRAB_TCPOPT_NOP)
		k += 2;
	if (k + want > n || opt[k] != cfg->kind || opt[k + 1] != want)
		return -1;
	if (cfg->kind == CRAB_OPT_KIND_EXP &&
	    (((__u16)opt[k + 2] << 8) | opt[k + 3]) != cfg->exid)
		return -1;
	return (int)k;
}

/*
 * crab_opt_find_fam() with the sender's form first: when
 * crab_opt_sender_form() finds the option where the walk would resume,
 * the result the walk would give is filled in without walking; otherwise
 * the walk runs. Same status and same @res as crab_opt_find_fam() for
 * every input (userspace/common/test_crab_opt.cpp compares them).
 */
static inline int crab_opt_find_quick(const __u8 *opt, __u32 len,
				      const struct crab_opt_cfg *cfg, int v6,
				      struct crab_opt_res *res)
{
	__u32 n = len > CRAB_TCP_MAX_OPTLEN ? CRAB_TCP_MAX_OPTLEN : len;
	__u32 start = crab_opt_skip_common(opt, n, cfg);
	int at = crab_opt_sender_form(opt, n, start, cfg, v6);
	__u32 a, k;

	if (at < 0)
		return crab_opt_find_from(opt, len, cfg, v6, start, res);
	a = (__u32)at + (__u32)crab_opt_addr_off(cfg);
	res->addr = 0;
	res->off = (__u8)at;
	res->bad_len = 0;
	res->malformed = 0;
	res->pad = 0;
	if (v6) {
		for (k = 0; k < 16; k++)
			res->addr6[k] = opt[a + k];
		return CRAB_OPT_FOUND;
	}
	for (k = 0; k < 16; k++)
		res->addr6[k] = 0;
	res->addr = ((__u32)opt[a] << 24) | ((__u32)opt[a + 1] << 16) |
		    ((__u32)opt[a + 2] << 8) | (__u32)opt[a + 3];
	return CRAB_OPT_FOUND;
}

#if !defined(__bpf__) && !defined(__KERNEL__)
/*
 * The layout nearly every SYN to a VIP has, checked as three words instead
 * of byte by byte (userspace, unaligned loads): Linux's options
 * (crab_opt_skip_common()'s 20-byte layout: MSS, SACK_PERM, timestamps,
 * NOP, window scale), then NOP NOP and the redirect option of the
 * configured (non-RFC 6994) kind with the length of the segment's family
 * (@v6), inside @opt[0..len). Returns that option's offset (22), or -1 for
 * anything else (the caller asks crab_opt_find_quick() or the walk, which
 * decide every case). Reads @opt[0..24) only when len >= 28.
 *
 * An offset returned is the walk's result from byte 0: it steps over the
 * layout's options (kinds 2, 4, 8, 1, 3 with their lengths; the configured
 * kind is none of 0-4 and 8) and the two NOPs and stops on an option of
 * the redirect kind and the family's length that ends inside the header:
 * found, first, no wrong length, nothing malformed (the crab_opt_res
 * crab_opt_find_quick() would fill has only @off that matters then).
 * userspace/common/test_crab_opt.cpp compares it with the walk.
 */
static inline int crab_opt_find_usual(const __u8 *opt, __u32 len,
				      const struct crab_opt_cfg *cfg, int v6)
{
	static const __u8 lay0[8] = { 2, 4, 0, 0, 4, 2, 8, 10 };
	static const __u8 mask0[8] = { 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff };
	static const __u8 lay4[4] = { 1, 3, 3, 0 };
	static const __u8 mask4[4] = { 0xff, 0xff, 0xff, 0 };
	const __u32 want = (__u32)crab_opt_len_fam(cfg, v6);
	const __u8 opt5[4] = { CRAB_TCPOPT_NOP, CRAB_TCPOPT_NOP, cfg->kind, (__u8)want };
	__u64 w0, l0, m0;
	__u32 w4, l4, m4, w5, l5;

	if (cfg->kind <= 4 || cfg->kind == 8 || cfg->kind == CRAB_OPT_KIND_EXP ||
	    len < 22 + want)
		return -1;
	__builtin_memcpy(&w0, opt, 8);
	__builtin_memcpy(&l0, lay0, 8);
	__builtin_memcpy(&m0, mask0, 8);
	__builtin_memcpy(&w4, opt + 16, 4);
	__builtin_memcpy(&l4, lay4, 4);
	__builtin_memcpy(&m4, mask4, 4);
	__builtin_memcpy(&w5, opt + 20, 4);
	__builtin_memcpy(&l5, opt5, 4);
	if ((w0 & m0) != l0 || (w4 & m4) != l4 || w5 != l5)
		return -1;
	return 22;
}
#endif

/* The walk of an IPv4 segment's options. */
static inline int crab_opt_find(const __u8 *opt, __u32 len,
				const struct crab_opt_cfg *cfg,
				struct crab_opt_res *res)
{
	return crab_opt_find_fam(opt, len, cfg, 0, res);
}

/* The walk of an IPv6 segment's options; the address is in res->addr6. */
static inline int crab_opt_find6(const __u8 *opt, __u32 len,
				 const struct crab_opt_cfg *cfg,
				 struct crab_opt_res *res)
{
	return crab_opt_find_fam(opt, len, cfg, 1, res);
}

#ifdef __bpf__
/*
 * BPF form: the option bytes live in the walk (zero past len) so that the
 * bpf_loop() callback reaches them through its context. Needs bpf_loop()
 * (Linux 5.17) and <bpf/bpf_helpers.h> included before this header.
 */
struct crab_opt_walk {
	__u8 opt[CRAB_OPT_BUF_SIZE];
	struct crab_opt_state st;
};

static long crab_opt_walk_cb(__u32 n, void *ctx)
{
	struct crab_opt_walk *w = ctx;

	(void)n;
	return crab_opt_step(w->opt, &w->st);
}

/*
 * Walk w->opt (filled by the caller, zero past @len) of an IPv4 (@v6 0)
 * or IPv6 segment, from its first byte, not behind crab_opt_skip_common()'s
 * layouts: with that start the eBPF server's SYN-ACK write callback found
 * no option on Debian's 6.1, while the same object worked on 6.12 and later
 * (the cause inside 6.1 was not pinned down; endpoints_ebpf/
 * test_interop_module_client_ebpf_server shows it there).
 */
static __always_inline int crab_opt_walk_bpf_fam(struct crab_opt_walk *w,
						 __u32 len,
						 const struct crab_opt_cfg *cfg,
						 int v6)
{
	crab_opt_init_fam(&w->st, len, cfg, v6);
	bpf_loop(CRAB_TCP_MAX_OPTLEN, crab_opt_walk_cb, w, 0);
	return w->st.status;
}

static __always_inline int crab_opt_walk_bpf(struct crab_opt_walk *w,
					     __u32 len,
					     const struct crab_opt_cfg *cfg)
{
	return crab_opt_walk_bpf_fam(w, len, cfg, 0);
}
#endif /* __bpf__ */

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

/*
 * Write the 20-byte aligned IPv6 option carrying @addr6 (network order) at
 * @dst. Default form: NOP NOP kind 18 addr. RFC 6994 form: 254 20 exid addr.
 */
static inline void crab_opt_write6(__u8 *dst, const struct crab_opt_cfg *cfg,
				   const __u8 *addr6)
{
	int k;

	if (cfg->kind == CRAB_OPT_KIND_EXP) {
		dst[0] = CRAB_OPT_KIND_EXP;
		dst[1] = TCPOLEN_CRAB6_EXP;
		dst[2] = (__u8)(cfg->exid >> 8);
		dst[3] = (__u8)cfg->exid;
	} else {
		dst[0] = CRAB_TCPOPT_NOP;
		dst[1] = CRAB_TCPOPT_NOP;
		dst[2] = cfg->kind;
		dst[3] = TCPOLEN_CRAB6;
	}
	for (k = 0; k < 16; k++)
		dst[4 + k] = addr6[k];
}

#endif /* CRAB_OPT_H */
