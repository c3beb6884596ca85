// SPDX-License-Identifier: GPL-2.0-only
/*
 * sock_ops fixture of test_option_no_room.sh: the SYNs and SYN-ACKs of
 * sockets in the cgroup carry 20 more bytes of options (an RFC 6994
 * experimental option, kind 253, ExID 0xC4AC, not the redirect option),
 * so that a SYN or SYN-ACK that also has MSS, SACK permitted, timestamps
 * and window scale fills the 40-byte option space.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define FILL_LEN	20
#define TCP_SYN		0x02

SEC("sockops")
int opt_fill(struct bpf_sock_ops *skops)
{
	__u8 opt[FILL_LEN] = { 253, FILL_LEN, 0xC4, 0xAC };

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if (skops->skb_tcp_flags & TCP_SYN)
			bpf_reserve_hdr_opt(skops, FILL_LEN, 0);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		if (skops->skb_tcp_flags & TCP_SYN)
			bpf_store_hdr_opt(skops, opt, sizeof(opt), 0);
		break;
	}
	return 1;
}

char _license[] SEC("license") = "GPL";
