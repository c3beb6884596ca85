// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test fixture of test_update_hammer.sh: a slow reader of the XDP LB's
 * maps. Run once through BPF_PROG_TEST_RUN (one RCU read-side critical
 * section, as one run of the LB program is), it does what the LB does with
 * a service, then keeps reading that generation for a long time (about a
 * tenth of a second) and counts the reads that found it changed. The LB's
 * control plane must never rewrite a generation a reader may still hold:
 * a correct crabctl blocks in its grace period until this run ends, a
 * crabctl that writes without waiting is seen here.
 *
 * Input: the service key (struct crab_xdp_svc_key) in the first 20 bytes of
 * the frame. Return value: the number of changed reads of this run (0:
 * consistent), or 1000+ when the service or its generation was not found.
 * result[0] counts the runs that have read their generation (the test
 * publishes once the first has), result[1] the changed reads of all runs
 * (BPF_PROG_TEST_RUN repeats a run, each a fresh look-up).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include <crab/crab_xdp.h>

#define READS	(1 << 23)	/* bpf_loop()'s maximum */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CRAB_MAX_SERVICES);
	__type(key, struct crab_xdp_svc_key);
	__type(value, struct crab_xdp_svc);
} crab_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRAB_MAX_SERVICES * CRAB_XDP_GENS);
	__type(key, __u32);
	__type(value, struct crab_xdp_gen);
} crab_gens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} result SEC(".maps");

struct reader {
	__u32 gkey;
	__u32 changed;
	__u64 print;
};

/* What a packet would use of the generation: the active count and list,
 * and the first four backend slots, mixed into one word.
 */
static __always_inline __u64 fingerprint(const struct crab_xdp_gen *g)
{
	const __u64 *w = (const void *)g->be;
	__u64 h = g->t.nactive;
	int i;

#pragma unroll
	for (i = 0; i < 8; i++)
		h = h * 1000003 + w[i];
	return h * 1000003 + *(const __u64 *)g->t.active;
}

static long read_once(__u32 i, void *arg)
{
	struct reader *r = arg;
	const struct crab_xdp_gen *g;
	__u32 k = r->gkey;

	g = bpf_map_lookup_elem(&crab_gens, &k);
	if (!g)
		return 1;
	if (fingerprint(g) != r->print)
		r->changed++;
	return 0;
}

SEC("xdp")
int gen_reader(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct crab_xdp_svc_key key = {};
	const struct crab_xdp_svc *svc;
	const struct crab_xdp_gen *g;
	struct reader r = {};
	__u32 k0 = 0, k1 = 1;
	__u64 *v;

	if (data + sizeof(key) > data_end)
		return 1002;
	__builtin_memcpy(&key, data, sizeof(key));
	svc = bpf_map_lookup_elem(&crab_services, &key);
	if (!svc)
		return 1000;
	r.gkey = svc->id * CRAB_XDP_GENS + (svc->gen & 1);
	g = bpf_map_lookup_elem(&crab_gens, &r.gkey);
	if (!g)
		return 1001;
	r.print = fingerprint(g);
	v = bpf_map_lookup_elem(&result, &k0);
	if (v)
		__sync_fetch_and_add(v, 1);
	bpf_loop(READS, read_once, &r, 0);
	v = bpf_map_lookup_elem(&result, &k1);
	if (v)
		__sync_fetch_and_add(v, r.changed);
	return r.changed;
}

char LICENSE[] SEC("license") = "GPL";
