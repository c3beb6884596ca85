// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program of selftests/kpatch/test_synack_no_room.sh: a sock_ops
 * program that reserves 20 bytes of TCP option space (filled with NOPs by
 * the kernel) in every SYN and SYN-ACK of the sockets of its cgroup, so
 * that a 20-byte MSS/timestamps/window scale set leaves no room for the
 * Connection Redirect option, which the kernel adds after BPF's.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define KP_TCPHDR_SYN	0x02
#define KP_RESERVE	20

SEC("sockops")
int kp_reserve(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if (skops->skb_tcp_flags & KP_TCPHDR_SYN)
			bpf_reserve_hdr_opt(skops, KP_RESERVE, 0);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
