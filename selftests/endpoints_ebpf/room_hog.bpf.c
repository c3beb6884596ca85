// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test fixture, not a product: a sock_ops program that takes 16 bytes of
 * option space in every SYN-ACK of its cgroup's listeners (an experimental
 * kind-253 option), as another BPF program or a stack feature might. In a
 * child cgroup of the eBPF server's, it runs first and leaves too little
 * room for the echo. Built with -DHOG_SYN=N it takes N bytes of every SYN
 * of its cgroup's connecting sockets instead (before the client's option).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SYNACK 0x12

#ifdef HOG_SYN
SEC("sockops")
int room_hog(struct bpf_sock_ops *skops)
{
	__u8 opt[HOG_SYN] = { 253, HOG_SYN, 0xc4, 0xab };

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if ((skops->skb_tcp_flags & SYNACK) == 0x02)
			bpf_reserve_hdr_opt(skops, sizeof(opt), 0);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		if ((skops->skb_tcp_flags & SYNACK) == 0x02)
			bpf_store_hdr_opt(skops, opt, sizeof(opt), 0);
		break;
	}
	return 1;
}
#else
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
#endif

char LICENSE[] SEC("license") = "GPL";
