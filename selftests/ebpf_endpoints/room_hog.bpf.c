// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test fixture, not a product: a sock_ops program that takes 16 bytes of
 * option space in every SYN-ACK of its cgroup's listeners (an experimental
 * kind-253 option), as another BPF program or a stack feature might. In a
 * child cgroup of the eBPF server's, it runs first and leaves too little
 * room for the echo.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SYNACK 0x12

SEC("sockops")
int room_hog(struct bpf_sock_ops *skops)
{
	__u8 opt[16] = { 253, 16, 0xc4, 0xab };

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if ((skops->skb_tcp_flags & SYNACK) == SYNACK)
			bpf_reserve_hdr_opt(skops, sizeof(opt), 0);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		if ((skops->skb_tcp_flags & SYNACK) == SYNACK)
			bpf_store_hdr_opt(skops, opt, sizeof(opt), 0);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
