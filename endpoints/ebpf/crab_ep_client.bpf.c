// SPDX-License-Identifier: GPL-2.0-only
/*
 * CRAB eBPF client endpoint, socket half (SPEC 3.1 and 3.4), a sock_ops
 * program per cgroup:
 *  - TCP_CONNECT_CB: a connection to a destination selected by the announce
 *    list (LPM trie; announce_any = every destination) asks for the
 *    header-option and state callbacks;
 *  - HDR_OPT_LEN_CB/WRITE_HDR_OPT_CB: its SYN (and only its SYN) carries the
 *    option naming the dialed address A; the socket is recorded in
 *    crab_ep_pending with its ISN, which the tc ingress program checks;
 *  - STATE_CB: leaving SYN-SENT removes the pending record and stops the
 *    option callbacks; reaching CLOSE removes the redirect flow entries, so
 *    the maps only hold live connections (LRU maps are the safety net).
 * BPF cannot re-key a socket: the redirect itself is address translation in
 * crab_ep_tc.bpf.c, and getpeername() keeps returning A.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "crab_ep_common.h"
#include "crab_ep_flows.h"

#define CRAB_TCPHDR_SYN 0x02
#define CRAB_TCPHDR_ACK 0x10

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CRAB_EP_LPM_MAX);
	__type(key, struct crab_ep_lpm_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_announce SEC(".maps");

/*
 * remote_port is the network-order port; kernels have exposed it in the high
 * half (shifted, historic) or the low half of the u32: accept both.
 */
static __always_inline __be16 skops_rport(const struct bpf_sock_ops *skops)
{
	__u32 v = skops->remote_port;

	return (__be16)((v >> 16) ? (v >> 16) : v);
}

static __always_inline void skops_key(const struct bpf_sock_ops *skops,
				      struct crab_ep_key *k)
{
	k->laddr = skops->local_ip4;
	k->raddr = skops->remote_ip4;
	k->lport = bpf_htons((__u16)skops->local_port);
	k->rport = skops_rport(skops);
}

static __always_inline int is_syn(const struct bpf_sock_ops *skops)
{
	return (skops->skb_tcp_flags & (CRAB_TCPHDR_SYN | CRAB_TCPHDR_ACK)) ==
	       CRAB_TCPHDR_SYN;
}

static __always_inline void on_connect(struct bpf_sock_ops *skops)
{
	const struct crab_ep_cfg *cfg = crab_ep_get_cfg();
	struct crab_ep_lpm_key lk;

	if (!cfg || skops->family != 2 /* AF_INET */)
		return;
	if (!cfg->announce_any) {
		lk.prefixlen = 32;
		lk.addr = skops->remote_ip4;
		if (!bpf_map_lookup_elem(&crab_ep_announce, &lk))
			return;
	}
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
				  BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG |
				  BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void on_write_opt(struct bpf_sock_ops *skops)
{
	struct crab_ep_pending pv = {};
	struct crab_opt_cfg oc;
	struct crab_ep_key k;
	__u8 buf[TCPOLEN_CRAB_ALIGNED];
	int err;

	crab_ep_opt_cfg(crab_ep_get_cfg(), &oc);
	crab_opt_write(buf, &oc, bpf_ntohl(skops->remote_ip4));
	/* No leading NOP allowed by the helper: see crab_ep_server.bpf.c. */
	if (oc.kind == CRAB_OPT_KIND_EXP)
		err = bpf_store_hdr_opt(skops, buf, TCPOLEN_CRAB_EXP, 0);
	else
		err = bpf_store_hdr_opt(skops, buf + 2, TCPOLEN_CRAB, 0);
	if (err) {
		crab_ep_count(CRAB_EP_CNT_ANNOUNCE_NO_ROOM);
		return;
	}
	crab_ep_count(CRAB_EP_CNT_ANNOUNCED);
	/* In SYN-SENT snd_una is the ISN (tcp_connect_init()). */
	skops_key(skops, &k);
	pv.isn = skops->snd_una;
	bpf_map_update_elem(&crab_ep_pending, &k, &pv, BPF_ANY);
}

static __always_inline void on_state(struct bpf_sock_ops *skops)
{
	__u32 newstate = skops->args[1];
	struct crab_ep_flow *f;
	struct crab_ep_key k;

	if (skops->args[0] == BPF_TCP_SYN_SENT) {
		skops_key(skops, &k);
		bpf_map_delete_elem(&crab_ep_pending, &k);
		/* The handshake is over: no more option callbacks per segment. */
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
					  ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
	}
	if (newstate != BPF_TCP_CLOSE)
		return;
	skops_key(skops, &k);
	f = bpf_map_lookup_elem(&crab_ep_flow_out, &k);
	if (!f)
		return;
	k.raddr = f->addr;
	bpf_map_delete_elem(&crab_ep_flow_in, &k);
	k.raddr = skops->remote_ip4;
	bpf_map_delete_elem(&crab_ep_flow_out, &k);
	crab_ep_count(CRAB_EP_CNT_FLOWS_CLOSED);
}

SEC("sockops")
int crab_ep_client(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		on_connect(skops);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if (is_syn(skops) &&
		    bpf_reserve_hdr_opt(skops, TCPOLEN_CRAB_ALIGNED, 0))
			crab_ep_count(CRAB_EP_CNT_ANNOUNCE_NO_ROOM);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		if (is_syn(skops))
			on_write_opt(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		on_state(skops);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
