/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624),
 * written once: the XDP and DPDK LBs, crabctl's health probes
 * and the packet builder of the test and load tools
 * (userspace/common/crab/pktbuild.hpp). The kernel modules use the
 * kernel's own csum_* API, which the skb's checksum state needs.
 * Freestanding C: no libc, no kernel API.
 *
 * An accumulator is a 32-bit sum of 16-bit words, folded only at the end.
 * The one's-complement sum commutes with byte swapping (RFC 1071, 2.B), so
 * the word helpers below work in either byte order as long as the caller
 * keeps to one: raw words as they sit in the packet (a __be16 checksum
 * field with __be32 addresses), or their values in host order (ntohs() of
 * the field with ntohl() of the addresses). crab_csum_bytes() and
 * crab_csum_byte() produce host-order values of big-endian words; mix them
 * only with host-order values.
 *
 * Full checksum of a header:     crab_csum_finish(crab_csum_bytes(0, h, n))
 * Incremental update (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')):
 *     acc = crab_csum_start(check);
 *     acc = crab_csum_sub32(acc, old_addr);
 *     acc = crab_csum_add32(acc, new_addr);
 *     check = crab_csum_finish(acc);
 * or, for one change, crab_csum_replace16() / crab_csum_replace32().
 */
#ifndef CRAB_CSUM_H
#define CRAB_CSUM_H

#include <linux/types.h>

/* Fold the carries of @acc into 16 bits (no complement). */
static inline __u16 crab_csum_fold(__u32 acc)
{
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (__u16)acc;
}

/* The value to store in a checksum field for the sum @acc. */
static inline __u16 crab_csum_finish(__u32 acc)
{
	return (__u16)~crab_csum_fold(acc);
}

/* Start an incremental update from the stored checksum @check. */
static inline __u32 crab_csum_start(__u16 check)
{
	return (__u16)~check;
}

static inline __u32 crab_csum_add16(__u32 acc, __u16 v)
{
	return acc + v;
}

/* Take @v out of the sum: add its one's complement. */
static inline __u32 crab_csum_sub16(__u32 acc, __u16 v)
{
	return acc + (__u16)~v;
}

/* A 32-bit field is two words; which half is which does not matter. */
static inline __u32 crab_csum_add32(__u32 acc, __u32 v)
{
	return acc + (v >> 16) + (v & 0xffff);
}

static inline __u32 crab_csum_sub32(__u32 acc, __u32 v)
{
	return acc + (__u16)~(v >> 16) + (__u16)~(v & 0xffff);
}

/* The stored checksum @check after one 16-bit word changed @from -> @to. */
static inline __u16 crab_csum_replace16(__u16 check, __u16 from, __u16 to)
{
	return crab_csum_finish(crab_csum_add16(crab_csum_sub16(crab_csum_start(check), from), to));
}

static inline __u16 crab_csum_replace32(__u16 check, __u32 from, __u32 to)
{
	return crab_csum_finish(crab_csum_add32(crab_csum_sub32(crab_csum_start(check), from), to));
}

/*
 * The host-order value of the big-endian word that holds byte @b at offset
 * @off of a checksummed area (the other byte zero): how a single byte that
 * changed at an odd or even offset enters the sum.
 */
/*
 * A 64-bit accumulator of whole 32-bit words, for an update with several
 * changes (the DPDK LB's rewrites): one addition per word instead of one
 * per half. A word is congruent to the sum of its halves modulo 0xffff,
 * and ~v (32 bits) to -v, which is all the one's-complement sum keeps; a
 * sum is zero only when every term is, in either form. So
 * crab_csum_finish64() of the same changes gives what crab_csum_finish()
 * of the 16-bit helpers gives, bit for bit (userspace/common/test_csum.cpp).
 */
static inline __u64 crab_csum_start64(__u16 check)
{
	return (__u16)~check;
}

static inline __u64 crab_csum_add32w(__u64 acc, __u32 v)
{
	return acc + v;
}

static inline __u64 crab_csum_sub32w(__u64 acc, __u32 v)
{
	return acc + (__u32)~v;
}

/* Up to 2^32 words of 32 bits: the sum fits 64 bits. Each fold adds the
 * two halves with the end-around carry in one addition: the upper half
 * of x + (x rotated by half its width) is hi + lo + (the carry out of
 * lo + hi), which is never 0 for x != 0 (as the loop of crab_csum_fold()).
 */
static inline __u16 crab_csum_finish64(__u64 acc)
{
	__u32 x = (__u32)((acc + ((acc >> 32) | (acc << 32))) >> 32);

	return (__u16)~((x + ((x >> 16) | (x << 16))) >> 16);
}

static inline __u16 crab_csum_byte(__u8 b, __u32 off)
{
	return (off & 1) ? (__u16)b : (__u16)((__u16)b << 8);
}

/*
 * Add @n bytes at @p, read as big-endian words (host-order values); an odd
 * last byte is the high byte of a word padded with zero (RFC 1071). The
 * result is folded to 17 bits, so any number of calls can be chained for
 * areas up to 64 KiB each. @p may have any alignment.
 */
static inline __u32 crab_csum_bytes(__u32 acc, const __u8 *p, __u32 n)
{
	__u64 s = acc;
	__u32 i;

	for (i = 0; i + 1 < n; i += 2)
		s += ((__u32)p[i] << 8) | p[i + 1];
	if (n & 1)
		s += (__u32)p[n - 1] << 8;
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u32)s;
}

/*
 * The TCP/UDP pseudo-header of IPv4 (RFC 793, 3.1) as a partial sum:
 * addresses and @len (the segment's length) in host order.
 */
static inline __u32 crab_csum_pseudo4(__u32 saddr, __u32 daddr, __u8 proto, __u16 len)
{
	__u32 acc = crab_csum_add32(0, saddr);

	acc = crab_csum_add32(acc, daddr);
	acc = crab_csum_add16(acc, proto);
	return crab_csum_add16(acc, len);
}

#endif /* CRAB_CSUM_H */
