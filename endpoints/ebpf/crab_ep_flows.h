/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The client's connection maps, shared by its sock_ops and tc programs
 * (pinned by name). LRU: a safety net only, entries are deleted when the
 * socket leaves SYN-SENT (pending) or closes (flows).
 */
#ifndef CRAB_EP_FLOWS_H
#define CRAB_EP_FLOWS_H

#include "crab_ep_common.h"

/* Announced sockets in SYN-SENT: (local, A, ports) -> ISN. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_EP_PENDING_MAX);
	__type(key, struct crab_ep_key);
	__type(value, struct crab_ep_pending);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_pending SEC(".maps");

/* Redirected connections, egress view: (local, A, ports) -> S. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_EP_FLOW_MAX);
	__type(key, struct crab_ep_key);
	__type(value, struct crab_ep_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_flow_out SEC(".maps");

/* Redirected connections, ingress view: (local, S, ports) -> A. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRAB_EP_FLOW_MAX);
	__type(key, struct crab_ep_key);
	__type(value, struct crab_ep_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crab_ep_flow_in SEC(".maps");

#endif /* CRAB_EP_FLOWS_H */
