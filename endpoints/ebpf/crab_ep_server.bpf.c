// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB eBPF server endpoint (docs/PROTOCOL.md 3.3), a sock_ops program per
 * cgroup: while echo is on (crab_ep_cfg; off until configured), a SYN-ACK
 * answering a SYN that carried the redirect option with address A carries
 * the option with A too. Nothing is added to any other segment, nor to the
 * SYN-ACK of a SYN signed with TCP-MD5 or TCP-AO.
 *
 * The listener gets BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG when it starts
 * listening (so listeners must be created after the attach), and saves the
 * SYNs (TCP_SAVE_SYN); the SYN-ACKs of its request sockets then run
 * HDR_OPT_LEN_CB/WRITE_HDR_OPT_CB, where TCP_BPF_SYN gives the SYN being
 * answered, the saved copy for a retransmission (walked by
 * crab_opt_walk_bpf(), the shared option walk in bpf_loop form). Children inherit the flag: it is
 * cleared on their first non-SYN-ACK segment, so established connections
 * cost no callback per segment.
 *
 * IPv6 (docs/PROTOCOL.md 2): the SYN of an IPv6 listener is read with its
 * IP header (TCP_BPF_SYN_IP): an IPv6 SYN is walked for the 18/20-byte
 * form and answered with the 20-byte echo, an IPv4 SYN reaching a
 * dual-stack listener goes the IPv4 way.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "crab_ep_common.h"

#ifndef SOL_TCP
#define SOL_TCP 6
#endif
#define CRAB_TCPHDR_SYN 0x02
#define CRAB_TCPHDR_ACK 0x10
#define ENOMSG 42
#define AF_INET6 10
#define IP6_HLEN 40

/*
 * Does the SYN being answered carry TCP-MD5 or TCP-AO? The kernel's own
 * option search (bpf_load_hdr_opt() on the SYN) answers.
 */
static __always_inline int syn_signed(struct bpf_sock_ops *skops)
{
	__u8 o[4] = { CRAB_TCPOPT_MD5SIG, 0, 0, 0 };
	int r;

	r = bpf_load_hdr_opt(skops, o, sizeof(o), BPF_LOAD_HDR_OPT_TCP_SYN);
	if (r != -ENOMSG)
		return 1;	/* found (or the SYN cannot be read: fail closed) */
	o[0] = CRAB_TCPOPT_AO;
	o[1] = 0;
	r = bpf_load_hdr_opt(skops, o, sizeof(o), BPF_LOAD_HDR_OPT_TCP_SYN);
	return r != -ENOMSG;
}

/*
 * Find the redirect option of the SYN being answered. Returns
 * CRAB_OPT_FOUND with w->st.res set (res.addr for an IPv4 SYN, res.addr6
 * and *v6 = 1 for an IPv6 one), or NONE/MALFORMED, or -1 when there is no
 * SYN to look at (not a SYN-ACK of a request socket). A SYN signed with
 * TCP-MD5/AO counts as carrying no option (*signed_syn = 1).
 */
static __always_inline int syn_find_opt(struct bpf_sock_ops *skops,
					struct crab_opt_walk *w, int *v6,
					int *signed_syn)
{
	__u8 hdr[IP6_HLEN + 60] = {};
	__u32 optlen;
	int n, st;

	*v6 = 0;
	n = -1;
	if (skops->family == AF_INET6) {
		/* The IP header tells an IPv6 SYN from an IPv4 one (dual stack). */
		n = bpf_getsockopt(skops, SOL_TCP, TCP_BPF_SYN_IP, hdr, sizeof(hdr));
		if (n >= IP6_HLEN + 20 && (hdr[0] >> 4) == 6) {
			if (hdr[6] != IPPROTO_TCP)
				return -1;	/* extension headers: not read */
			*v6 = 1;
			n -= IP6_HLEN;
			optlen = ((__u32)(hdr[IP6_HLEN + 12] >> 4) << 2);
			if (optlen < 20)
				return -1;
			optlen -= 20;
			if (optlen > (__u32)n - 20)
				optlen = (__u32)n - 20;
			__builtin_memcpy(w->opt, hdr + IP6_HLEN + 20, CRAB_TCP_MAX_OPTLEN);
			st = crab_opt_walk_bpf_fam(w, optlen, &w->st.cfg, 1);
			goto walked;
		}
		n = -1;
	}
	__builtin_memset(hdr, 0, sizeof(hdr));
	n = bpf_getsockopt(skops, SOL_TCP, TCP_BPF_SYN, hdr, 60);
	if (n < 20)
		return -1;
	optlen = ((__u32)(hdr[12] >> 4) << 2);
	if (optlen < 20)
		return -1;
	optlen -= 20;
	if (optlen > (__u32)n - 20)
		optlen = (__u32)n - 20;
	/* The helper zeroed hdr past the SYN's header: a constant copy. */
	__builtin_memcpy(w->opt, hdr + 20, CRAB_TCP_MAX_OPTLEN);
	st = crab_opt_walk_bpf(w, optlen, &w->st.cfg);
walked:
	if (st != CRAB_OPT_FOUND)
		return st;
	/* A signed SYN gets a signed SYN-ACK, which is never touched. */
	*signed_syn = syn_signed(skops);
	return *signed_syn ? CRAB_OPT_NONE : st;
}

/*
 * A retransmitted SYN-ACK is built without the SYN at hand: TCP_BPF_SYN then
 * reads the copy the listener saved (TCP_SAVE_SYN, about 100 bytes per
 * connection, kept until it closes), so the retransmission echoes too.
 * A listener that saves SYNs already (perhaps with the MAC header) is left
 * as it is.
 */
static __always_inline void save_syns(struct bpf_sock_ops *skops)
{
	int v = 0;

	if (bpf_getsockopt(skops, SOL_TCP, TCP_SAVE_SYN, &v, sizeof(v)) || !v) {
		v = 1;
		bpf_setsockopt(skops, SOL_TCP, TCP_SAVE_SYN, &v, sizeof(v));
	}
}

static __always_inline int is_synack(const struct bpf_sock_ops *skops)
{
	return (skops->skb_tcp_flags & (CRAB_TCPHDR_SYN | CRAB_TCPHDR_ACK)) ==
	       (CRAB_TCPHDR_SYN | CRAB_TCPHDR_ACK);
}

SEC("sockops")
int crab_ep_server(struct bpf_sock_ops *skops)
{
	const struct crab_ep_cfg *cfg;
	struct crab_opt_walk w = {};
	struct crab_opt_cfg oc;
	__u8 buf[TCPOLEN_CRAB6_ALIGNED];
	int st, err, signed_syn = 0, v6 = 0;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		save_syns(skops);
		return 1;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if (!is_synack(skops)) {
			/* A child that inherited the listener's flag. */
			if (skops->is_fullsock)
				bpf_sock_ops_cb_flags_set(skops,
					skops->bpf_sock_ops_cb_flags &
					~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
			return 1;
		}
		cfg = crab_ep_get_cfg();
		crab_ep_opt_cfg(cfg, &w.st.cfg);
		st = syn_find_opt(skops, &w, &v6, &signed_syn);
		if (st < 0)
			return 1;
		if (w.st.res.bad_len && !signed_syn)
			crab_ep_count(CRAB_EP_CNT_SYN_OPT_BAD_LEN);
		if (st == CRAB_OPT_MALFORMED)
			crab_ep_count(CRAB_EP_CNT_SYN_OPT_MALFORMED);
		if (signed_syn)
			crab_ep_count(CRAB_EP_CNT_ECHO_SIGNED);
		if (st != CRAB_OPT_FOUND)
			return 1;
		if (!cfg || !cfg->echo) {
			crab_ep_count(CRAB_EP_CNT_ECHO_OFF);
			return 1;
		}
		/* docs/PROTOCOL.md 3.3: no room left (40-byte limit) -> no option, counted. */
		if (bpf_reserve_hdr_opt(skops, v6 ? TCPOLEN_CRAB6_ALIGNED :
					TCPOLEN_CRAB_ALIGNED, 0))
			crab_ep_count(CRAB_EP_CNT_ECHO_NO_ROOM);
		return 1;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		if (!is_synack(skops))
			return 1;
		cfg = crab_ep_get_cfg();
		if (!cfg || !cfg->echo)
			return 1;
		crab_ep_opt_cfg(cfg, &oc);
		w.st.cfg = oc;
		if (syn_find_opt(skops, &w, &v6, &signed_syn) != CRAB_OPT_FOUND)
			return 1;
		/*
		 * bpf_store_hdr_opt() refuses an option starting with NOP, so
		 * the default form is stored without its two leading NOPs; the
		 * kernel fills the rest of the 8 reserved bytes with NOPs, giving
		 * "kind len addr NOP NOP" (docs/PROTOCOL.md 2).
		 */
		if (v6) {
			crab_opt_write6(buf, &oc, w.st.res.addr6);
			if (oc.kind == CRAB_OPT_KIND_EXP)
				err = bpf_store_hdr_opt(skops, buf, TCPOLEN_CRAB6_EXP, 0);
			else
				err = bpf_store_hdr_opt(skops, buf + 2, TCPOLEN_CRAB6, 0);
		} else {
			crab_opt_write(buf, &oc, w.st.res.addr);
			if (oc.kind == CRAB_OPT_KIND_EXP)
				err = bpf_store_hdr_opt(skops, buf, TCPOLEN_CRAB_EXP, 0);
			else
				err = bpf_store_hdr_opt(skops, buf + 2, TCPOLEN_CRAB, 0);
		}
		/* (No room was counted when reserving.) */
		if (!err)
			crab_ep_count(CRAB_EP_CNT_ECHOED);
		return 1;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
