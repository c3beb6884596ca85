/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The load-balancing model of docs/PROTOCOL.md 5, written once for the three
 * LBs: the netfilter module, the XDP program and its control plane, the DPDK
 * core. Freestanding C (no libc, no kernel API), like crab_opt.h.
 *
 *   crab_flow_hash()        the hash of a TCP flow (addresses and ports) in
 *                           hash mode: one function, the same value in BPF,
 *                           the kernel and userspace; crab_flow_hash_be()
 *                           and crab_lb_pick_flow() take header fields;
 *                           crab_flow_hash6*() the same for IPv6
 *   crab_lb_tables_build()  from a backend set: the active list (rr,
 *                           random), the smooth weighted round-robin ring
 *                           (wrr) and the Maglev table (hash mode), each
 *                           independent of the order the backends come in
 *   crab_lb_pick_*()        what the data paths index those tables with
 *
 * Draining (docs/PROTOCOL.md 5): a draining backend is left out of the
 * active list and the ring, so no policy gives it a new SYN, and keeps its
 * Maglev entries, so the packets of its hashed flows still reach it. A new
 * SYN in hash mode whose flow maps to a draining backend must not reach it
 * either, and no other backend can take it without breaking the flow (its
 * later packets keep hashing to the draining backend): crab_lb_pick_hash_syn()
 * refuses it (CRAB_LB_DRAINING) and the LB drops and counts it
 * (syn_hash_draining). Removing the backend then moves its flows.
 *
 * Tables hold backend ids (whatever the LB indexes its backends with: an
 * XDP slot, an array index; < CRAB_MAX_BACKENDS), CRAB_LB_NONE where empty.
 */
#ifndef CRAB_LB_MODEL_H
#define CRAB_LB_MODEL_H

#include <linux/types.h>

#include "crab_lb.h"

#define CRAB_LB_NONE		0xff	/* no backend (empty table entry) */
#define CRAB_LB_DRAINING	0xfe	/* hash-mode SYN to a draining backend */
#define CRAB_FLOW_HASH_SEED	0x43524142u	/* "CRAB" */
#define CRAB_MAGLEV_SEED_OFFSET	0x6d61676cu	/* "magl" */
#define CRAB_MAGLEV_SEED_SKIP	0x65763031u	/* "ev01" */

/*
 * The verifier must see an index bounded after a modulo; clang folds a
 * following mask away when it believes it redundant. An empty asm hides the
 * value from the optimiser in BPF; elsewhere nothing is needed.
 */
#ifdef __bpf__
#define CRAB_OPAQUE(v)	do { asm volatile("" : "+r"(v)); } while (0)
#else
#define CRAB_OPAQUE(v)	do { (void)(v); } while (0)
#endif

/*
 * u64 % u32 for the round-robin position. 32-bit kernels have no 64-bit
 * division operator: the kernel module defines crab_mod_u64 with
 * div_u64_rem() before including this header.
 */
#ifndef crab_mod_u64
static inline __u32 crab_mod_u64(__u64 x, __u32 n)
{
	return (__u32)(x % n);
}
#endif

/* ---- the flow hash --------------------------------------------------------- */

static inline __u32 crab_rotl32(__u32 x, unsigned int r)
{
	return (x << r) | (x >> (32 - r));
}

/* One 32-bit block of MurmurHash3_x86_32 (Appleby, public domain). */
static inline __u32 crab_murmur3_block(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = crab_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = crab_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

/* MurmurHash3's finalisation of a hash of @len bytes. */
static inline __u32 crab_murmur3_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/*
 * The hash of a TCP flow (protocol implied): MurmurHash3_x86_32 with seed
 * CRAB_FLOW_HASH_SEED over three 32-bit blocks, the source address, the
 * destination address and (sport << 16 | dport), all host-order values.
 * Three multiplications per block, no table, no loop: cheap in BPF and in
 * the kernel alike.
 */
static inline __u32 crab_flow_hash(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport)
{
	__u32 h = CRAB_FLOW_HASH_SEED;

	h = crab_murmur3_block(h, saddr);
	h = crab_murmur3_block(h, daddr);
	h = crab_murmur3_block(h, ((__u32)sport << 16) | dport);
	return crab_murmur3_final(h, 12);
}

#ifdef __CHECKER__
#define CRAB_FORCE	__attribute__((force))
#else
#define CRAB_FORCE
#endif

/* A network-order field as a host-order value. */
static inline __u32 crab_ntoh32(__be32 x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32((CRAB_FORCE __u32)x);
#else
	return (CRAB_FORCE __u32)x;
#endif
}

static inline __u16 crab_ntoh16(__be16 x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16((CRAB_FORCE __u16)x);
#else
	return (CRAB_FORCE __u16)x;
#endif
}

/* The flow hash of header fields as they sit in the packet. */
static inline __u32 crab_flow_hash_be(__be32 saddr, __be32 daddr, __be16 sport, __be16 dport)
{
	return crab_flow_hash(crab_ntoh32(saddr), crab_ntoh32(daddr),
			      crab_ntoh16(sport), crab_ntoh16(dport));
}

/*
 * The hash of an IPv6 TCP flow: the same construction over nine blocks,
 * the source address, the destination address (each four host-order
 * words, most significant first) and (sport << 16 | dport).
 */
static inline __u32 crab_flow_hash6(const __u32 *saddr, const __u32 *daddr, __u16 sport,
				    __u16 dport)
{
	__u32 h = CRAB_FLOW_HASH_SEED;
	int i;

	for (i = 0; i < 4; i++)
		h = crab_murmur3_block(h, saddr[i]);
	for (i = 0; i < 4; i++)
		h = crab_murmur3_block(h, daddr[i]);
	h = crab_murmur3_block(h, ((__u32)sport << 16) | dport);
	return crab_murmur3_final(h, 36);
}

/* crab_flow_hash6() of header fields as they sit in the packet (16 bytes
 * each, network order; any alignment of 4).
 */
static inline __u32 crab_flow_hash6_be(const __be32 *saddr, const __be32 *daddr, __be16 sport,
				       __be16 dport)
{
	__u32 s[4], d[4];
	int i;

	for (i = 0; i < 4; i++) {
		s[i] = crab_ntoh32(saddr[i]);
		d[i] = crab_ntoh32(daddr[i]);
	}
	return crab_flow_hash6(s, d, crab_ntoh16(sport), crab_ntoh16(dport));
}

/* Hash of one 32-bit word (an IPv4 address). */
static inline __u32 crab_addr_hash(__u32 addr, __u32 seed)
{
	return crab_murmur3_final(crab_murmur3_block(seed, addr), 4);
}

/*
 * Hash of a backend address for its Maglev permutation: an IPv4 backend
 * (words 0-2 zero, see struct crab_lb_backend) hashes its one word, an
 * IPv6 backend all four.
 */
static inline __u32 crab_lb_addr_hash(const __u32 *addr, __u32 seed)
{
	__u32 h = seed;
	int i;

	if (!addr[0] && !addr[1] && !addr[2])
		return crab_addr_hash(addr[3], seed);
	for (i = 0; i < 4; i++)
		h = crab_murmur3_block(h, addr[i]);
	return crab_murmur3_final(h, 16);
}

/* ---- tables ---------------------------------------------------------------- */

/*
 * One backend as the model sees it. The address orders the tables and
 * drives the Maglev permutation: four host-order words, most significant
 * first; an IPv4 address is { 0, 0, 0, addr } (a service is one family,
 * so the two forms never meet in one set).
 */
struct crab_lb_backend {
	__u32 addr[4];
	__u16 weight;	/* 1 .. CRAB_WEIGHT_MAX (0 counts as 1) */
	__u8 state;	/* enum crab_backend_state */
	__u8 id;	/* what the tables hold: < CRAB_MAX_BACKENDS */
};

/* Everything the data path indexes, derived from one backend set. */
struct crab_lb_tables {
	__u32 nactive;			/* entries of active[] */
	__u32 nwrr;			/* entries of wrr[] */
	__u32 nmaglev;			/* CRAB_MAGLEV_SIZE, or 0: no backend */
	__u32 pad;
	__u64 draining;			/* bit id set: backend id is draining */
	__u8 active[CRAB_MAX_BACKENDS];	/* ACTIVE backends, by address */
	__u8 wrr[CRAB_WRR_SLOTS];	/* smooth weighted round-robin ring */
	__u8 maglev[CRAB_MAGLEV_SIZE];	/* every backend, draining included */
	__u8 pad2[3];
};

/* Scratch space of crab_lb_tables_build() (too large for a kernel stack). */
struct crab_lb_work {
	__u32 offset[CRAB_MAX_BACKENDS];
	__u32 skip[CRAB_MAX_BACKENDS];
	__u32 pos[CRAB_MAX_BACKENDS];
	__u32 w[CRAB_MAX_BACKENDS];
	__u32 rem[CRAB_MAX_BACKENDS];
	__s32 cur[CRAB_MAX_BACKENDS];
	__u8 order[CRAB_MAX_BACKENDS];	/* indices of the input, by address */
	__u8 act[CRAB_MAX_BACKENDS];	/* ids of the active ones, by address */
};

static inline void crab_lb_fill(__u8 *p, __u8 v, __u32 n)
{
	__u32 i;

	for (i = 0; i < n; i++)
		p[i] = v;
}

/*
 * Smooth weighted round robin: in each of sum(w) steps every backend's
 * "current" grows by its weight, the largest (the first on a tie) is
 * chosen and pays sum(w) back. Backend i appears w[i] times, spread out.
 * Weights that add up to more than the ring are scaled to fill it exactly
 * (largest remainder, every backend keeps at least one entry).
 */
static inline void crab_lb_build_wrr(struct crab_lb_tables *t, struct crab_lb_work *wk,
				     const struct crab_lb_backend *be, __u32 n)
{
	__u32 total = 0, sum = 0, i, s;

	t->nwrr = 0;
	crab_lb_fill(t->wrr, CRAB_LB_NONE, CRAB_WRR_SLOTS);
	if (!n)
		return;
	for (i = 0; i < n; i++) {
		wk->w[i] = be[wk->order[i]].weight ? be[wk->order[i]].weight : 1;
		total += wk->w[i];
	}
	if (total > CRAB_WRR_SLOTS) {
		for (i = 0; i < n; i++) {
			__u32 x = wk->w[i] * CRAB_WRR_SLOTS;

			wk->rem[i] = x % total;
			wk->w[i] = x / total ? x / total : 1;
			sum += wk->w[i];
		}
		while (sum < CRAB_WRR_SLOTS) {
			__u32 best = 0;

			for (i = 1; i < n; i++)
				if (wk->rem[i] > wk->rem[best])
					best = i;
			wk->w[best]++;
			wk->rem[best] = 0;
			sum++;
		}
		while (sum > CRAB_WRR_SLOTS) {	/* the "at least one" excess */
			__u32 best = 0;

			for (i = 1; i < n; i++)
				if (wk->w[i] > wk->w[best])
					best = i;
			wk->w[best]--;
			sum--;
		}
		total = sum;
	}
	for (i = 0; i < n; i++)
		wk->cur[i] = 0;
	for (s = 0; s < total; s++) {
		__u32 best = 0;

		for (i = 0; i < n; i++) {
			wk->cur[i] += (__s32)wk->w[i];
			if (wk->cur[i] > wk->cur[best])
				best = i;
		}
		wk->cur[best] -= (__s32)total;
		t->wrr[s] = be[wk->order[best]].id;
	}
	t->nwrr = total;
}

/*
 * Maglev (Eisenbud et al., NSDI 2016, 3.4): every backend walks its own
 * permutation of the table (offset and skip from two hashes of its
 * address) and, in turns, claims the next entry still free. CRAB_MAGLEV_SIZE
 * is prime, so each permutation visits every entry and the table fills.
 * Adding or removing one backend moves about 1/N of the entries.
 */
static inline void crab_lb_build_maglev(struct crab_lb_tables *t, struct crab_lb_work *wk,
					const struct crab_lb_backend *be, __u32 n)
{
	const __u32 m = CRAB_MAGLEV_SIZE;
	__u32 filled = 0, i;

	crab_lb_fill(t->maglev, CRAB_LB_NONE, m);
	t->nmaglev = 0;
	if (!n)
		return;
	for (i = 0; i < n; i++) {
		const __u32 *a = be[wk->order[i]].addr;

		wk->offset[i] = crab_lb_addr_hash(a, CRAB_MAGLEV_SEED_OFFSET) % m;
		wk->skip[i] = crab_lb_addr_hash(a, CRAB_MAGLEV_SEED_SKIP) % (m - 1) + 1;
		wk->pos[i] = wk->offset[i];
	}
	for (;;) {
		for (i = 0; i < n; i++) {
			__u32 c = wk->pos[i];

			while (t->maglev[c] != CRAB_LB_NONE)
				c = (c + wk->skip[i]) % m;
			t->maglev[c] = be[wk->order[i]].id;
			wk->pos[i] = (c + wk->skip[i]) % m;
			if (++filled == m) {
				t->nmaglev = m;
				return;
			}
		}
	}
}

/* <0, 0, >0 as address @a sorts before, with, after @b. */
static inline int crab_lb_addr_cmp(const __u32 *a, const __u32 *b)
{
	int i;

	for (i = 0; i < 4; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/*
 * Build @t from the @n backends at @be (any order; n <= CRAB_MAX_BACKENDS,
 * distinct addresses, ids < CRAB_MAX_BACKENDS). Returns 0, or -1 (and an
 * empty @t) when the input breaks those rules.
 */
static inline int crab_lb_tables_build(struct crab_lb_tables *t, struct crab_lb_work *wk,
				       const struct crab_lb_backend *be, __u32 n)
{
	__u32 i, j, na = 0;

	t->nactive = 0;
	t->nwrr = 0;
	t->nmaglev = 0;
	t->pad = 0;
	t->draining = 0;
	crab_lb_fill(t->active, CRAB_LB_NONE, CRAB_MAX_BACKENDS);
	crab_lb_fill(t->wrr, CRAB_LB_NONE, CRAB_WRR_SLOTS);
	crab_lb_fill(t->maglev, CRAB_LB_NONE, CRAB_MAGLEV_SIZE);
	crab_lb_fill(t->pad2, 0, sizeof(t->pad2));
	if (n > CRAB_MAX_BACKENDS)
		return -1;
	/* Insertion sort by address: the order the backends were given in
	 * must not change any table.
	 */
	for (i = 0; i < n; i++) {
		if (be[i].id >= CRAB_MAX_BACKENDS)
			return -1;
		for (j = i; j > 0 && crab_lb_addr_cmp(be[wk->order[j - 1]].addr, be[i].addr) > 0; j--)
			wk->order[j] = wk->order[j - 1];
		if (j > 0 && !crab_lb_addr_cmp(be[wk->order[j - 1]].addr, be[i].addr))
			return -1;
		wk->order[j] = (__u8)i;
	}
	crab_lb_build_maglev(t, wk, be, n);
	for (i = 0; i < n; i++)
		if (be[i].state != CRAB_BACKEND_ACTIVE)
			t->draining |= 1ULL << be[i].id;
	/* The active ones, still by address, for rr, random and wrr. */
	for (i = 0; i < n; i++)
		if (be[wk->order[i]].state == CRAB_BACKEND_ACTIVE)
			wk->act[na++] = wk->order[i];
	for (i = 0; i < na; i++) {
		wk->order[i] = wk->act[i];
		t->active[i] = be[wk->act[i]].id;
	}
	t->nactive = na;
	crab_lb_build_wrr(t, wk, be, na);
	return 0;
}

/* ---- the data path's picks -------------------------------------------------
 * Each returns a backend id or CRAB_LB_NONE. @pos is the service's round-
 * robin position: 64 bits, so it does not wrap in practice and the order
 * goes on across 2^32. @rnd is 32 random bits, all of them used (Lemire's
 * multiply-shift, no modulo bias from a narrow source).
 */

static inline __u8 crab_lb_pick_rr(const struct crab_lb_tables *t, __u64 pos)
{
	__u32 n = t->nactive, i;

	if (!n || n > CRAB_MAX_BACKENDS)
		return CRAB_LB_NONE;
	i = crab_mod_u64(pos, n);
	CRAB_OPAQUE(i);
	return t->active[i & (CRAB_MAX_BACKENDS - 1)];
}

static inline __u8 crab_lb_pick_wrr(const struct crab_lb_tables *t, __u64 pos)
{
	__u32 n = t->nwrr, i;

	if (!n || n > CRAB_WRR_SLOTS)
		return CRAB_LB_NONE;
	i = crab_mod_u64(pos, n);
	CRAB_OPAQUE(i);
	return t->wrr[i & (CRAB_WRR_SLOTS - 1)];
}

static inline __u8 crab_lb_pick_random(const struct crab_lb_tables *t, __u32 rnd)
{
	__u32 n = t->nactive, i;

	if (!n || n > CRAB_MAX_BACKENDS)
		return CRAB_LB_NONE;
	i = (__u32)(((__u64)rnd * n) >> 32);
	CRAB_OPAQUE(i);
	return t->active[i & (CRAB_MAX_BACKENDS - 1)];
}

/* The policy's pick for a new connection (a SYN with the option, insert). */
static inline __u8 crab_lb_pick(const struct crab_lb_tables *t, __u8 policy, __u64 pos, __u32 rnd)
{
	if (policy == CRAB_POLICY_WRR)
		return crab_lb_pick_wrr(t, pos);
	if (policy == CRAB_POLICY_RANDOM)
		return crab_lb_pick_random(t, rnd);
	return crab_lb_pick_rr(t, pos);
}

/*
 * rr and wrr with the position already reduced: @i = pos % crab_lb_rr_len()
 * picks what crab_lb_pick() picks for @pos. A data path that keeps the
 * remainder next to its 64-bit position (crab_lb_rr_next(): compares and
 * increments per pick) needs no division per new connection; @i out of
 * range gives CRAB_LB_NONE. Any other policy value is rr, as in
 * crab_lb_pick().
 */
static inline __u32 crab_lb_rr_len(const struct crab_lb_tables *t, __u8 policy)
{
	return policy == CRAB_POLICY_WRR ? t->nwrr : t->nactive;
}

static inline __u8 crab_lb_pick_rr_at(const struct crab_lb_tables *t, __u8 policy, __u32 i)
{
	if (policy == CRAB_POLICY_WRR) {
		if (!t->nwrr || t->nwrr > CRAB_WRR_SLOTS || i >= t->nwrr)
			return CRAB_LB_NONE;
		CRAB_OPAQUE(i);
		return t->wrr[i & (CRAB_WRR_SLOTS - 1)];
	}
	if (!t->nactive || t->nactive > CRAB_MAX_BACKENDS || i >= t->nactive)
		return CRAB_LB_NONE;
	CRAB_OPAQUE(i);
	return t->active[i & (CRAB_MAX_BACKENDS - 1)];
}

/*
 * One round-robin cursor (a service's, on one CPU or lcore): the 64-bit
 * position and its remainder. @i is @pos % @n for the table length @n it
 * was worked out for, kept below @n by an increment and a compare; it is
 * trusted only while the position is still the one it was worked out for
 * (@at: a position written from outside is followed) and the table has the
 * same length (a generation with another backend count, or the policy
 * switched between rr and wrr, may leave i >= the new length). Otherwise
 * it is worked out again with one division. All zero is position 0.
 */
struct crab_lb_rr {
	__u64 pos;	/* crab_lb_pick()'s @pos for the next pick */
	__u64 at;	/* the position @i belongs to */
	__u32 n;	/* the table length @i was worked out for */
	__u32 i;	/* pos % n, < n */
};

/*
 * The reduced position for the next pick over a table of @n entries
 * (crab_lb_rr_len()): pos % n, for crab_lb_pick_rr_at(); the position
 * advances by one. n == 0 gives 0 (crab_lb_pick_rr_at(): no backend).
 */
static inline __u32 crab_lb_rr_next(struct crab_lb_rr *c, __u32 n)
{
	__u64 pos = c->pos;
	__u32 i = c->i;

	if (c->at != pos || c->n != n || i >= n)
		i = n ? crab_mod_u64(pos, n) : 0;
	c->pos = pos + 1;
	c->at = pos + 1;
	c->n = n;
	c->i = i + 1 == n ? 0 : i + 1;
	return i;
}

/* Maglev entry of a flow hash: multiply-shift, no division. */
static inline __u32 crab_maglev_index(__u32 hash)
{
	return (__u32)(((__u64)hash * CRAB_MAGLEV_SIZE) >> 32);
}

/* Hash mode, any packet of a flow (draining backends included). */
static inline __u8 crab_lb_pick_hash(const struct crab_lb_tables *t, __u32 hash)
{
	__u32 i;

	if (t->nmaglev != CRAB_MAGLEV_SIZE)
		return CRAB_LB_NONE;
	i = crab_maglev_index(hash);
	CRAB_OPAQUE(i);
	if (i >= CRAB_MAGLEV_SIZE)
		return CRAB_LB_NONE;
	return t->maglev[i];
}

/*
 * Hash mode, a SYN: the flow's backend unless it is draining (then
 * CRAB_LB_DRAINING: a new flow must not start there, see above).
 */
static inline __u8 crab_lb_pick_hash_syn(const struct crab_lb_tables *t, __u32 hash)
{
	__u8 id = crab_lb_pick_hash(t, hash);

	if (id < CRAB_MAX_BACKENDS && (t->draining >> id) & 1)
		return CRAB_LB_DRAINING;
	return id;
}

/*
 * Hash mode, a packet with these header fields (network order): the XDP
 * program and the netfilter module call this; the DPDK LB, which parses
 * into host order, the two above.
 */
static inline __u8 crab_lb_pick_flow(const struct crab_lb_tables *t, __be32 saddr, __be32 daddr,
				     __be16 sport, __be16 dport, int syn)
{
	__u32 h = crab_flow_hash_be(saddr, daddr, sport, dport);

	return syn ? crab_lb_pick_hash_syn(t, h) : crab_lb_pick_hash(t, h);
}

/* The same for an IPv6 packet's fields (16-byte addresses, network order). */
static inline __u8 crab_lb_pick_flow6(const struct crab_lb_tables *t, const __be32 *saddr,
				      const __be32 *daddr, __be16 sport, __be16 dport, int syn)
{
	__u32 h = crab_flow_hash6_be(saddr, daddr, sport, dport);

	return syn ? crab_lb_pick_hash_syn(t, h) : crab_lb_pick_hash(t, h);
}

#endif /* CRAB_LB_MODEL_H */
