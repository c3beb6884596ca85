// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdpbench: the driver of the XDP SYN/s benchmark (bench/xdp/README.md).
 *
 *   xdpbench gen --dev DEV --src-mac M --dst-mac M --saddr A --daddr V
 *                --dport P --seconds S [--batch N] [--kind K | --no-opt]
 *                [--generator auto|live|raw]
 *       Generate SYNs on DEV for S seconds from a template SYN (Linux-like
 *       options MSS, SACK_PERM, TS, WS, then the redirect option naming V;
 *       IPv4, or IPv6 with the 20-byte form when A and V are IPv6);
 *       each frame gets a new source port / address. Two generators:
 *         live  BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES runs
 *               bench_syngen over the template and transmits every frame it
 *               returns XDP_TX for (xdp_frames, no skb);
 *         raw   an AF_PACKET socket on DEV with PACKET_QDISC_BYPASS sends the
 *               same frames with sendmmsg(), --batch per call (an skb per
 *               frame: slower, and the receiving veth converts each to an
 *               XDP buffer).
 *       auto (the default) uses live, and raw when the kernel refuses
 *       live-frame test runs (EPERM, EOPNOTSUPP, ENOTSUPP, or EINVAL from a
 *       kernel before 5.18 that does not know the flag), saying so on
 *       stderr. Prints one JSON object, naming the generator used.
 *   xdpbench cost --dev DEV --src-mac M --dst-mac M --saddr A --daddr V
 *                 --dport P [--kind K | --no-opt]
 *       Run the XDP program attached to DEV over the same template SYN with
 *       BPF_PROG_TEST_RUN (no live frames: the verdict is only returned),
 *       one run per call; print the median of the kernel's per-call times
 *       (ns, including its timer overhead) and the verdict.
 *   xdpbench attach --dev DEV --prog reflect|sink --pin FILE
 *       Attach the baseline reflector or the sink in native (driver) mode,
 *       pin its counter map at FILE.
 *   xdpbench detach --dev DEV
 *   xdpbench count --pin FILE
 *       Print the pinned counters, summed over CPUs and per CPU (JSON).
 */
#define _GNU_SOURCE	/* sendmmsg() */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <crab/crab_opt.h>

#include "bench_xdp.skel.h"

#define CNT_MAX 3
static const char *const cnt_names[CNT_MAX] = { "reflect", "sink", "gen" };

struct opts {
	const char *dev;
	const char *prog;
	const char *pin;
	unsigned char smac[ETH_ALEN], dmac[ETH_ALEN];
	int v6;		/* the addresses are IPv6 (both: a family per run) */
	struct in_addr saddr, daddr;
	struct in6_addr saddr6, daddr6;
	unsigned int dport;
	double seconds;
	unsigned int batch;
	int kind;	/* -1: no redirect option */
	const char *generator;	/* auto, live, raw */
};

/* What a generator did: frames handed to the device, calls, time. */
struct gen_result {
	unsigned long long sent, calls;
	double seconds;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: xdpbench gen --dev DEV --src-mac MAC --dst-mac MAC --saddr A --daddr VIP\n"
		"                    (A and VIP both IPv4 or both IPv6)\n"
		"                    --dport PORT --seconds S [--batch N] [--kind 42|254 | --no-opt]\n"
		"                    [--generator auto|live|raw]\n"
		"       xdpbench cost --dev DEV --src-mac MAC --dst-mac MAC --saddr A --daddr VIP\n"
		"                     --dport PORT [--kind 42|254 | --no-opt]\n"
		"       xdpbench attach --dev DEV --prog reflect|sink --pin FILE\n"
		"       xdpbench detach --dev DEV\n"
		"       xdpbench count --pin FILE\n");
}

static int parse_mac(const char *s, unsigned char *mac)
{
	unsigned int b[ETH_ALEN];
	char end;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &end) != ETH_ALEN)
		return -1;
	for (i = 0; i < ETH_ALEN; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (unsigned char)b[i];
	}
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned short csum16(const void *p, size_t len, unsigned int acc)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += (b[i] << 8) | b[i + 1];
	if (len & 1)
		acc += b[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (unsigned short)~acc;
}

/* Template SYN; returns its length. IPv4: 82 bytes (doff 12); IPv6: 114
 * (doff 15: the 20-byte IPv6 form fills the option space exactly).
 */
static size_t build_syn(const struct opts *o, unsigned char *pkt)
{
	struct ethhdr *eth = (void *)pkt;
	struct iphdr *iph = (void *)(eth + 1);
	struct ipv6hdr *ip6h = (void *)(eth + 1);
	struct tcphdr *th = o->v6 ? (void *)(ip6h + 1) : (void *)(iph + 1);
	unsigned char *opt = (unsigned char *)(th + 1), *p = opt;
	unsigned char pseudo[40] = { 0 };
	size_t optlen, tcplen, plen;
	unsigned int acc = 0;
	size_t i;

	memcpy(eth->h_dest, o->dmac, ETH_ALEN);
	memcpy(eth->h_source, o->smac, ETH_ALEN);
	eth->h_proto = htons(o->v6 ? ETH_P_IPV6 : ETH_P_IP);

	/* What Linux puts in a SYN: MSS, SACK_PERM + TS, NOP + WS (20 bytes);
	 * the redirect option after them, as the client modules append it.
	 */
	*p++ = 2; *p++ = 4; *p++ = 0x05; *p++ = 0xb4;		/* MSS 1460 */
	*p++ = 4; *p++ = 2;					/* SACK_PERM */
	*p++ = 8; *p++ = 10;					/* TS */
	memcpy(p, "\x00\x01\x02\x03\x00\x00\x00\x00", 8); p += 8;
	*p++ = 1; *p++ = 3; *p++ = 3; *p++ = 7;			/* NOP, WS 7 */
	if (o->kind >= 0) {
		struct crab_opt_cfg cfg = { .kind = (__u8)o->kind,
					    .exid = CRAB_OPT_EXID_DEFAULT };

		if (o->v6) {
			crab_opt_write6(p, &cfg, o->daddr6.s6_addr);
			p += TCPOLEN_CRAB6_ALIGNED;
		} else {
			crab_opt_write(p, &cfg, ntohl(o->daddr.s_addr));
			p += TCPOLEN_CRAB_ALIGNED;
		}
	}
	optlen = p - opt;
	tcplen = sizeof(*th) + optlen;

	memset(th, 0, sizeof(*th));
	th->source = htons(1024);
	th->dest = htons(o->dport);
	th->seq = htonl(0x12345678);
	th->doff = tcplen / 4;
	th->syn = 1;
	th->window = htons(64240);

	if (o->v6) {
		memset(ip6h, 0, sizeof(*ip6h));
		ip6h->version = 6;
		ip6h->payload_len = htons(tcplen);
		ip6h->nexthdr = IPPROTO_TCP;
		ip6h->hop_limit = 64;
		ip6h->saddr = o->saddr6;
		ip6h->daddr = o->daddr6;
		memcpy(pseudo, &ip6h->saddr, 16);
		memcpy(pseudo + 16, &ip6h->daddr, 16);
		plen = 40;
		memset(pseudo + 32, 0, 8);
		pseudo[34] = tcplen >> 8;
		pseudo[35] = tcplen & 0xff;
		pseudo[39] = IPPROTO_TCP;
		for (i = 0; i < plen; i += 2)
			acc += (pseudo[i] << 8) | pseudo[i + 1];
		th->check = htons(csum16(th, tcplen, acc));
		return sizeof(*eth) + sizeof(*ip6h) + tcplen;
	}

	memset(iph, 0, sizeof(*iph));
	iph->version = 4;
	iph->ihl = 5;
	iph->tot_len = htons(sizeof(*iph) + tcplen);
	iph->id = htons(1);
	iph->frag_off = htons(0x4000);	/* DF */
	iph->ttl = 64;
	iph->protocol = IPPROTO_TCP;
	iph->saddr = o->saddr.s_addr;
	iph->daddr = o->daddr.s_addr;
	iph->check = htons(csum16(iph, sizeof(*iph), 0));

	memcpy(pseudo, &iph->saddr, 4);
	memcpy(pseudo + 4, &iph->daddr, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	pseudo[10] = tcplen >> 8;
	pseudo[11] = tcplen & 0xff;
	plen = 12;	/* the IPv4 pseudo-header; the rest of the buffer is not */
	for (i = 0; i < plen; i += 2)
		acc += (pseudo[i] << 8) | pseudo[i + 1];
	th->check = htons(csum16(th, tcplen, acc));
	return sizeof(*eth) + sizeof(*iph) + tcplen;
}

/* Does this test-run error mean "the kernel refuses live frames here"
 * (rather than a fault of ours)? EINVAL: a kernel before 5.18 rejects the
 * unknown flag (and a bad batch size, which the option parser excludes).
 */
static int live_refused(int err)
{
	return err == EPERM || err == EOPNOTSUPP || err == 524 /* ENOTSUPP */ ||
	       err == EINVAL;
}

/* The live-frames generator. Returns 0, or the errno of the first failed
 * test run (-1: any other failure, reported).
 */
static int gen_live(const struct opts *o, const unsigned char *pkt, size_t len,
		    unsigned int ifindex, struct gen_result *r)
{
	struct bench_xdp_bpf *skel;
	struct xdp_md ctx = {};
	/* Frames per test run: long enough to amortise the syscall, short
	 * enough to stop within ~10 ms of the deadline.
	 */
	const unsigned int repeat = 1 << 16;
	double t0, t1, end;
	int fd, err = 0;

	if (len >= sizeof(skel->rodata->tmpl)) {
		fprintf(stderr, "error: template SYN of %zu bytes too long\n", len);
		return -1;
	}
	skel = bench_xdp_bpf__open();
	if (!skel) {
		fprintf(stderr, "error: cannot open bench_xdp.bpf.o: %s\n", strerror(errno));
		return -1;
	}
	memcpy((void *)skel->rodata->tmpl, pkt, len);
	skel->rodata->tmpl_len = len;
	skel->rodata->tmpl_v6 = o->v6;
	err = bench_xdp_bpf__load(skel);
	if (err) {
		fprintf(stderr, "error: cannot load bench_xdp.bpf.o: %s\n", strerror(-err));
		bench_xdp_bpf__destroy(skel);
		return -1;
	}
	fd = bpf_program__fd(skel->progs.bench_syngen);
	ctx.data_end = len;
	ctx.ingress_ifindex = ifindex;

	t0 = now();
	end = t0 + o->seconds;
	do {
		LIBBPF_OPTS(bpf_test_run_opts, ro,
			.data_in = pkt,
			.data_size_in = len,
			.ctx_in = &ctx,
			.ctx_size_in = sizeof(ctx),
			.repeat = repeat,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			.batch_size = o->batch,
		);

		err = bpf_prog_test_run_opts(fd, &ro);
		if (err) {
			err = -err;	/* the caller says what it makes of it */
			break;
		}
		r->sent += repeat;
		r->calls++;
		t1 = now();
	} while (t1 < end);
	t1 = now();
	r->seconds = t1 - t0;
	bench_xdp_bpf__destroy(skel);
	return err;
}

/* The bench_syngen sequence on a frame in user space: source port
 * 1024..65535, then the next low 16 bits of the source address, the
 * checksums (TCP; IPv4's header too) updated incrementally.
 */
static void syn_next(unsigned char *frame, int v6, unsigned long long s)
{
	struct iphdr *iph = (void *)(frame + sizeof(struct ethhdr));
	struct ipv6hdr *ip6h = (void *)(frame + sizeof(struct ethhdr));
	struct tcphdr *th = v6 ? (void *)(ip6h + 1) : (void *)(iph + 1);
	unsigned char *low = v6 ? &ip6h->saddr.s6_addr[14] : (unsigned char *)&iph->saddr + 2;
	unsigned short port = htons(1024 + (unsigned short)(s % 64512));
	unsigned short hi = htons((unsigned short)((s / 64512) & 0xffff));
	unsigned short oldsrc, oldport;
	unsigned int acc;

	memcpy(&oldsrc, low, 2);
	memcpy(low, &hi, 2);
	oldport = th->source;
	th->source = port;
	if (!v6) {
		acc = (unsigned short)~iph->check;
		acc += (unsigned short)~oldsrc + hi;
		acc = (acc & 0xffff) + (acc >> 16);
		acc = (acc & 0xffff) + (acc >> 16);
		iph->check = (unsigned short)~acc;
	}
	acc = (unsigned short)~th->check;
	acc += (unsigned short)~oldsrc + hi + (unsigned short)~oldport + port;
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	th->check = (unsigned short)~acc;
}

#define RAW_BATCH_MAX 256

/* The raw-socket generator: the same frames through an AF_PACKET socket
 * bound to DEV (protocol 0: it receives nothing), past the qdisc.
 */
static int gen_raw(const struct opts *o, const unsigned char *pkt, size_t len,
		   unsigned int ifindex, struct gen_result *r)
{
	static unsigned char frames[RAW_BATCH_MAX][128];
	struct mmsghdr msgs[RAW_BATCH_MAX];
	struct iovec iov[RAW_BATCH_MAX];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex };
	unsigned int i, n = o->batch > RAW_BATCH_MAX ? RAW_BATCH_MAX : o->batch;
	unsigned long long seq = 0, enobufs = 0;
	double t0, end;
	int fd, one = 1;

	if (len > sizeof(frames[0])) {
		fprintf(stderr, "error: template SYN of %zu bytes too long\n", len);
		return -1;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "error: AF_PACKET socket: %s\n", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, "error: cannot bind an AF_PACKET socket to %s: %s\n", o->dev,
			strerror(errno));
		close(fd);
		return -1;
	}
	/* Straight to the driver: no qdisc between the generator and the veth
	 * (a kernel without it only adds the qdisc's cost: not fatal).
	 */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		fprintf(stderr, "notice: PACKET_QDISC_BYPASS: %s (frames pass the qdisc)\n",
			strerror(errno));
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < n; i++) {
		memcpy(frames[i], pkt, len);
		iov[i].iov_base = frames[i];
		iov[i].iov_len = len;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = now();
	end = t0 + o->seconds;
	do {
		int k;

		for (i = 0; i < n; i++)
			syn_next(frames[i], o->v6, seq + i);
		k = sendmmsg(fd, msgs, n, 0);
		r->calls++;
		if (k < 0) {
			/* A full device queue: try again (counted, bounded by
			 * the deadline).
			 */
			if (errno == ENOBUFS || errno == EAGAIN) {
				enobufs++;
				continue;
			}
			fprintf(stderr, "error: sendmmsg on %s: %s\n", o->dev, strerror(errno));
			close(fd);
			return -1;
		}
		/* Frames not taken are sent again with the next call's numbers:
		 * every 4-tuple is still new.
		 */
		seq += n;
		r->sent += k;
	} while (now() < end);
	r->seconds = now() - t0;
	close(fd);
	if (enobufs)
		fprintf(stderr, "notice: %llu sendmmsg calls found the device queue full\n",
			enobufs);
	return 0;
}

static int cmd_gen(const struct opts *o)
{
	unsigned char pkt[128];
	size_t len = build_syn(o, pkt);
	unsigned int ifindex = if_nametoindex(o->dev);
	struct gen_result r = {};
	const char *used = o->generator, *why = "";
	char reason[160] = "";
	int err;

	if (!ifindex) {
		fprintf(stderr, "error: no device '%s' in this network namespace\n", o->dev);
		return 1;
	}
	if (strcmp(o->generator, "raw")) {
		used = "live";
		err = gen_live(o, pkt, len, ifindex, &r);
		/* auto: a refusal on the first run falls back to raw for the
		 * whole time; a failure after frames went out is a failure.
		 */
		if (err > 0 && !strcmp(o->generator, "auto") && !r.calls && live_refused(err)) {
			snprintf(reason, sizeof(reason),
				 "live-frame BPF_PROG_TEST_RUN refused: %s", strerror(err));
			fprintf(stderr, "notice: BPF_PROG_TEST_RUN (live frames) on %s: %s; "
				"falling back to the raw-socket generator\n", o->dev, strerror(err));
			why = reason;
			used = "raw";
			memset(&r, 0, sizeof(r));
		} else if (err > 0) {
			fprintf(stderr, "error: BPF_PROG_TEST_RUN (live frames) on %s: %s\n",
				o->dev, strerror(err));
			return 1;
		} else if (err) {
			return 1;
		}
	}
	if (!strcmp(used, "raw") && gen_raw(o, pkt, len, ifindex, &r))
		return 1;
	printf("{\"dev\": \"%s\", \"generator\": \"%s\", \"fallback_reason\": \"%s\", "
	       "\"frame_len\": %zu, \"redirect_opt\": %s, \"sent\": %llu, "
	       "\"runs\": %llu, \"seconds\": %.6f, \"pps\": %.0f}\n",
	       o->dev, used, why, len, o->kind >= 0 ? "true" : "false", r.sent, r.calls,
	       r.seconds, r.sent / r.seconds);
	return 0;
}

#define COST_RUNS 20001
static __u32 dur[COST_RUNS];

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static int cmd_cost(const struct opts *o)
{
	__u32 verdict = 0;
	int i;
	unsigned char pkt[128], out[256];
	unsigned int ifindex = if_nametoindex(o->dev);
	size_t len = build_syn(o, pkt);
	struct xdp_md ctx = {};
	__u32 id = 0;
	int fd, err;

	if (!ifindex) {
		fprintf(stderr, "error: no device '%s' in this network namespace\n", o->dev);
		return 1;
	}
	err = bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &id);
	if (err || !id) {
		fprintf(stderr, "error: no native XDP program on %s\n", o->dev);
		return 1;
	}
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0) {
		fprintf(stderr, "error: cannot open XDP program %u: %s\n", id, strerror(errno));
		return 1;
	}
	/* One run per call: a repeated run would see the frame as the previous
	 * run left it (the LB rewrote daddr: it would be passed, not balanced).
	 * The kernel times each call; take the median of 20001 calls.
	 */
	/* Received on DEV, as in the live run: a next hop found on DEV
	 * itself is an XDP_TX there too.
	 */
	ctx.data_end = len;
	ctx.ingress_ifindex = ifindex;
	for (i = 0; i < COST_RUNS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, ro,
			.data_in = pkt,
			.data_size_in = len,
			.data_out = out,
			.data_size_out = sizeof(out),
			.ctx_in = &ctx,
			.ctx_size_in = sizeof(ctx),
			.repeat = 1,
		);

		err = bpf_prog_test_run_opts(fd, &ro);
		if (err) {
			fprintf(stderr, "error: BPF_PROG_TEST_RUN of program %u: %s\n", id,
				strerror(-err));
			close(fd);
			return 1;
		}
		if (i == 0)
			verdict = ro.retval;
		else if (ro.retval != verdict) {
			fprintf(stderr, "error: program %u changed its verdict (%u, then %u)\n",
				id, verdict, ro.retval);
			close(fd);
			return 1;
		}
		dur[i] = ro.duration;
	}
	close(fd);
	qsort(dur, COST_RUNS, sizeof(dur[0]), cmp_u32);
	printf("{\"dev\": \"%s\", \"prog_id\": %u, \"runs\": %d, \"ns_median\": %u, "
	       "\"ns_p10\": %u, \"ns_p90\": %u, \"verdict\": %u}\n",
	       o->dev, id, COST_RUNS, dur[COST_RUNS / 2], dur[COST_RUNS / 10],
	       dur[COST_RUNS * 9 / 10], verdict);
	return 0;
}

static int cmd_attach(const struct opts *o)
{
	struct bench_xdp_bpf *skel;
	struct bpf_program *prog;
	unsigned int ifindex = if_nametoindex(o->dev);
	int err;

	if (!ifindex) {
		fprintf(stderr, "error: no device '%s' in this network namespace\n", o->dev);
		return 1;
	}
	skel = bench_xdp_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "error: cannot load bench_xdp.bpf.o: %s\n", strerror(errno));
		return 1;
	}
	prog = strcmp(o->prog, "reflect") == 0 ? skel->progs.bench_reflect
					       : skel->progs.bench_sink;
	err = bpf_map__pin(skel->maps.bench_cnt, o->pin);
	if (err) {
		fprintf(stderr, "error: cannot pin the counters at %s: %s\n", o->pin,
			strerror(-err));
		goto out;
	}
	err = bpf_xdp_attach(ifindex, bpf_program__fd(prog),
			     XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		fprintf(stderr, "error: cannot attach %s natively to %s: %s\n", o->prog,
			o->dev, strerror(-err));
		unlink(o->pin);
	}
out:
	bench_xdp_bpf__destroy(skel);
	return err ? 1 : 0;
}

static int cmd_detach(const struct opts *o)
{
	unsigned int ifindex = if_nametoindex(o->dev);
	int err;

	if (!ifindex) {
		fprintf(stderr, "error: no device '%s' in this network namespace\n", o->dev);
		return 1;
	}
	err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		fprintf(stderr, "error: cannot detach XDP from %s: %s\n", o->dev, strerror(-err));
		return 1;
	}
	return 0;
}

static int cmd_count(const struct opts *o)
{
	int ncpu = libbpf_num_possible_cpus(), fd, c, k;
	unsigned long long *v;

	if (ncpu <= 0) {
		fprintf(stderr, "error: cannot count CPUs: %s\n", strerror(-ncpu));
		return 1;
	}
	fd = bpf_obj_get(o->pin);
	if (fd < 0) {
		fprintf(stderr, "error: no pinned counter map at %s: %s\n", o->pin,
			strerror(errno));
		return 1;
	}
	v = calloc(ncpu, sizeof(*v));
	if (!v) {
		close(fd);
		return 1;
	}
	printf("{");
	for (k = 0; k < CNT_MAX; k++) {
		__u32 key = k;
		unsigned long long sum = 0;

		if (bpf_map_lookup_elem(fd, &key, v)) {
			fprintf(stderr, "error: cannot read counter %d of %s: %s\n", k,
				o->pin, strerror(errno));
			free(v);
			close(fd);
			return 1;
		}
		for (c = 0; c < ncpu; c++)
			sum += v[c];
		printf("%s\"%s\": %llu, \"%s_percpu\": [", k ? ", " : "", cnt_names[k], sum,
		       cnt_names[k]);
		for (c = 0; c < ncpu; c++)
			printf("%s%llu", c ? ", " : "", v[c]);
		printf("]");
	}
	printf("}\n");
	free(v);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "prog", required_argument, NULL, 'P' },
		{ "pin", required_argument, NULL, 'p' },
		{ "src-mac", required_argument, NULL, 'S' },
		{ "dst-mac", required_argument, NULL, 'D' },
		{ "saddr", required_argument, NULL, 's' },
		{ "daddr", required_argument, NULL, 'a' },
		{ "dport", required_argument, NULL, 'o' },
		{ "seconds", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'b' },
		{ "kind", required_argument, NULL, 'k' },
		{ "no-opt", no_argument, NULL, 'n' },
		{ "generator", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct opts o = { .kind = CRAB_OPT_KIND_DEFAULT, .batch = 64, .seconds = -1,
			  .generator = "auto" };
	const char *cmd;
	unsigned long v;
	char *end;
	int c, have_smac = 0, have_dmac = 0, have_s = 0, have_d = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage();
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.dev = optarg; break;
		case 'P':
			if (strcmp(optarg, "reflect") && strcmp(optarg, "sink")) {
				fprintf(stderr, "error: --prog '%s': expected reflect or sink\n", optarg);
				return 2;
			}
			o.prog = optarg;
			break;
		case 'p': o.pin = optarg; break;
		case 'S':
		case 'D':
			if (parse_mac(optarg, c == 'S' ? o.smac : o.dmac)) {
				fprintf(stderr, "error: bad MAC address '%s'\n", optarg);
				return 2;
			}
			*(c == 'S' ? &have_smac : &have_dmac) = 1;
			break;
		case 's':
		case 'a': {
			int *have = c == 's' ? &have_s : &have_d;

			/* have: 4 or 6, the family of the address given */
			if (inet_pton(AF_INET, optarg, c == 's' ? &o.saddr : &o.daddr) == 1)
				*have = 4;
			else if (inet_pton(AF_INET6, optarg,
					   c == 's' ? &o.saddr6 : &o.daddr6) == 1)
				*have = 6;
			else {
				fprintf(stderr, "error: bad IPv4 or IPv6 address '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'o':
			if (parse_uint(optarg, 65535, &v) || !v) {
				fprintf(stderr, "error: bad port '%s' (1-65535)\n", optarg);
				return 2;
			}
			o.dport = v;
			break;
		case 't':
			errno = 0;
			o.seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o.seconds > 0 && o.seconds <= 3600)) {
				fprintf(stderr, "error: bad --seconds '%s' (0 < S <= 3600)\n", optarg);
				return 2;
			}
			break;
		case 'b':
			/* The kernel caps a live-frames batch at 256 (NAPI_POLL_WEIGHT * 4). */
			if (parse_uint(optarg, 256, &v) || !v) {
				fprintf(stderr, "error: bad --batch '%s' (1-256)\n", optarg);
				return 2;
			}
			o.batch = v;
			break;
		case 'k':
			if (parse_uint(optarg, 255, &v) ||
			    (v != CRAB_OPT_KIND_DEFAULT && v != CRAB_OPT_KIND_EXP)) {
				fprintf(stderr, "error: bad --kind '%s' (42 or 254)\n", optarg);
				return 2;
			}
			o.kind = v;
			break;
		case 'n': o.kind = -1; break;
		case 'g':
			if (strcmp(optarg, "auto") && strcmp(optarg, "live") && strcmp(optarg, "raw")) {
				fprintf(stderr, "error: --generator '%s': expected auto, live or raw\n",
					optarg);
				return 2;
			}
			o.generator = optarg;
			break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "error: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	libbpf_set_print(NULL);
	if (have_s && have_d && have_s != have_d) {
		fprintf(stderr, "error: --saddr and --daddr must be of one family\n");
		return 2;
	}
	o.v6 = have_s == 6;

	if (!strcmp(cmd, "gen")) {
		if (!o.dev || !have_smac || !have_dmac || !have_s || !have_d || !o.dport ||
		    o.seconds < 0) {
			fprintf(stderr, "error: gen needs --dev --src-mac --dst-mac --saddr --daddr --dport --seconds\n");
			return 2;
		}
		return cmd_gen(&o);
	}
	if (!strcmp(cmd, "cost")) {
		if (!o.dev || !have_smac || !have_dmac || !have_s || !have_d || !o.dport) {
			fprintf(stderr, "error: cost needs --dev --src-mac --dst-mac --saddr --daddr --dport\n");
			return 2;
		}
		return cmd_cost(&o);
	}
	if (!strcmp(cmd, "attach")) {
		if (!o.dev || !o.prog || !o.pin) {
			fprintf(stderr, "error: attach needs --dev --prog --pin\n");
			return 2;
		}
		return cmd_attach(&o);
	}
	if (!strcmp(cmd, "detach")) {
		if (!o.dev) {
			fprintf(stderr, "error: detach needs --dev\n");
			return 2;
		}
		return cmd_detach(&o);
	}
	if (!strcmp(cmd, "count")) {
		if (!o.pin) {
			fprintf(stderr, "error: count needs --pin\n");
			return 2;
		}
		return cmd_count(&o);
	}
	fprintf(stderr, "error: unknown command '%s'\n", cmd);
	usage();
	return 2;
}
