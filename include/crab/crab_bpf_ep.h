/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * eBPF endpoints (endpoints/ebpf/): what the BPF programs and crabctl share.
 * Only map names, keys/values and constants live here (no code).
 *
 * Maps are pinned by name (LIBBPF_PIN_BY_NAME) under CRAB_EP_PIN_DIR, so the
 * server object, the client objects and crabctl see the same instances.
 */
#ifndef CRAB_BPF_EP_H
#define CRAB_BPF_EP_H

#include <linux/types.h>
#include "crab_opt.h"

#define CRAB_EP_PIN_DIR		"/sys/fs/bpf/crab/ep"

/* Map names (also the pinned file names). */
#define CRAB_EP_MAP_CFG		"crab_ep_cfg"
#define CRAB_EP_MAP_STATS	"crab_ep_stats"
#define CRAB_EP_MAP_ANNOUNCE	"crab_ep_announce"	/* LPM: who gets the option */
#define CRAB_EP_MAP_ALLOW	"crab_ep_allow"		/* LPM: accepted redirectors */
#define CRAB_EP_MAP_SK		"crab_ep_sk"		/* per-socket state (sk storage) */
#define CRAB_EP_MAP_FLOWS	"crab_ep_flows"		/* (netns, local, S) -> A */
#define CRAB_EP_MAP_PROBES	"crab_ep_probes"	/* input-path probes in flight */
#define CRAB_EP_MAP_PROBES6	"crab_ep_probes6"	/* the same for IPv6 redirects */
/* The IPv6 forms (an LPM trie and a hash have one key size each). */
#define CRAB_EP_MAP_ANNOUNCE6	"crab_ep_announce6"
#define CRAB_EP_MAP_ALLOW6	"crab_ep_allow6"
#define CRAB_EP_MAP_FLOWS6	"crab_ep_flows6"	/* (netns, local, S) -> A, IPv6 */

#define CRAB_EP_LPM_MAX		1024
#define CRAB_EP_FLOW_MAX	65536	/* default; crabctl client attach --max-flows */
#define CRAB_EP_PROBE_MAX	4096

/* tc filter handle/priority used for the client's ingress and egress filters */
#define CRAB_EP_TC_HANDLE	0xC4AB
#define CRAB_EP_TC_PRIO		0xC4AB

/*
 * The input-path probe (endpoints/ebpf/README.md): an ICMP source quench from
 * S quoting the client's SYN to A, checked for by a netfilter program at the
 * end of LOCAL_IN. Its IPv4 length is fixed: outer header, ICMP header, the
 * quoted IPv4 header and the first 8 bytes of the quoted TCP header.
 */
#define CRAB_EP_PROBE_ICMP_TYPE	4	/* source quench: TCP ignores it */
#define CRAB_EP_PROBE_IPLEN	(20 + 8 + 20 + 8)
#define CRAB_EP_PROBE_TRIES	4	/* requeues of the SYN-ACK waiting for it */
/*
 * IPv6: ICMPv6 has no source quench. The probe is a Packet Too Big
 * announcing an MTU of 65535, which TCP ignores (tcp_v6_mtu_reduced() drops
 * a PMTU that would raise the MSS); conntrack finds it RELATED to the
 * connection it quotes like any ICMPv6 error. Outer header, ICMPv6 header,
 * the quoted IPv6 header, the first 8 bytes of the quoted TCP header.
 */
#define CRAB_EP_PROBE6_ICMP_TYPE	2	/* ICMPV6_PKT_TOOBIG */
#define CRAB_EP_PROBE6_MTU	65535
#define CRAB_EP_PROBE6_IPLEN	(40 + 8 + 40 + 8)

/* Runtime settings: array map with one element (key 0). */
struct crab_ep_cfg {
	__u32 enabled;		/* client: accept redirects (the lists still apply) */
	__u32 echo;		/* server: echo the option in SYN-ACKs */
	struct crab_opt_cfg opt;	/* option encoding (kind, ExID) */
};

/*
 * LPM trie key for the CIDR maps (prefixlen + IPv4 address, network order).
 * An empty trie matches nothing; "any" is the prefix 0.0.0.0/0.
 */
struct crab_ep_lpm_key {
	__u32 prefixlen;
	__be32 addr;
};

/* The same for IPv6 prefixes ("any" is also ::/0). */
struct crab_ep_lpm_key6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * Per-socket state of a client socket (BPF_MAP_TYPE_SK_STORAGE): lives and
 * dies with the socket, so a live connection's state is never evicted.
 *
 * claim: the SYN-ACK being accepted, (S << 32 | its sequence number) with S
 * in network order; set by tc ingress with compare-and-exchange, so the
 * first valid SYN-ACK wins. peer: S once the socket accepted that SYN-ACK
 * (it left SYN-SENT on it); from then on tc egress sends to S.
 *
 * When the socket leaves SYN-SENT, the state callback swaps the claim for
 * CRAB_EP_CLAIM_CLOSED and keeps it there: a SYN-ACK that passed the
 * socket's checks just before (the socket was still in SYN-SENT) then
 * fails its compare-and-exchange and is refused, instead of finding 0 and
 * claiming a socket that already took another SYN-ACK. No SYN-ACK's claim
 * word is CRAB_EP_CLAIM_CLOSED (for IPv4 it would come from the limited
 * broadcast address, refused as martian; crab_ep_claim6() never makes it).
 *
 * An IPv6 connection (CRAB_EP_SK_V6) keeps S in the 16-byte fields: its
 * claim word is (the four 32-bit words of S xor-ed << 32 | sequence
 * number), claim6 the S of that claim (written by the winner of the
 * compare-and-exchange, compared by every later copy), peer6 S once moved
 * (CRAB_EP_SK_MOVED6). A dual-stack socket connected to a v4-mapped
 * address is an IPv4 connection on the wire and uses the IPv4 fields.
 */
struct crab_ep_sk {
	__u64 claim;
	__u64 released;		/* the last claim released by a SYN retransmission */
	__be32 peer;
	__u32 flags;		/* CRAB_EP_SK_* */
	__u8 claim6[16];
	__u8 released6[16];
	__u8 peer6[16];
};

#define CRAB_EP_CLAIM_CLOSED	(~0ULL)	/* claim once the socket left SYN-SENT */

#define CRAB_EP_SK_ANNOUNCE	0x1	/* selected by the announce list */
#define CRAB_EP_SK_ANNOUNCED	0x2	/* a SYN carried the option */
#define CRAB_EP_SK_V6		0x4	/* an IPv6 connection (the 20-byte option) */
#define CRAB_EP_SK_MOVED6	0x8	/* IPv6: moved to peer6 */
#define CRAB_EP_SK_NO_ROOM	0x10	/* this SYN has no room (counted once) */

/*
 * A redirected connection as tc ingress sees it: the client's network
 * namespace (its cookie), local address/port, and S with its port; all
 * addresses and ports in network byte order. Value: A.
 */
struct crab_ep_flow_key {
	__u64 netns;
	__be32 laddr;
	__be32 raddr;
	__be16 lport;
	__be16 rport;
	__u32 pad;
};

struct crab_ep_flow {
	__be32 addr;		/* A */
	__u32 pad;
};

/*
 * The IPv6 flows, in their own map (crab_ep_flows6): the IPv4 key keeps
 * its 24 bytes and IPv4 lookups their cost.
 */
struct crab_ep_flow_key6 {
	__u64 netns;
	__u8 laddr[16];
	__u8 raddr[16];
	__be16 lport;
	__be16 rport;
	__u32 pad;
};

struct crab_ep_flow6 {
	__u8 addr[16];		/* A */
};

/*
 * A probe in flight, keyed by the connection to A it quotes (raddr = A):
 * sent by tc ingress, marked passed by the netfilter program.
 */
struct crab_ep_probe {
	__be32 saddr;		/* S, the probe's source */
	__u32 seq;		/* the quoted sequence number (the client's ISN) */
	__u32 state;		/* CRAB_EP_PROBE_* */
	__u32 tries;
};

/* The same for an IPv6 redirect (keyed by struct crab_ep_flow_key6). */
struct crab_ep_probe6 {
	__u8 saddr[16];		/* S */
	__u32 seq;
	__u32 state;
	__u32 tries;
	__u32 pad;
};

#define CRAB_EP_PROBE_SENT	1
#define CRAB_EP_PROBE_PASSED	2

/*
 * Counters (per-CPU array indexed by enum crab_ep_counter).
 * X(enum_suffix, "name", "help")
 */
#define CRAB_EP_COUNTERS(X)						\
	X(ANNOUNCED, "announced", "client SYNs sent with the option")	\
	X(ANNOUNCE_NO_ROOM, "announce_no_room", "client SYNs without room for the option") \
	X(ANNOUNCE_SIGNED, "announce_signed", "client SYNs not announcing: TCP-MD5/AO socket") \
	X(NO_STORAGE, "no_storage", "client sockets not announcing: no per-socket storage") \
	X(ECHOED, "echoed", "server SYN-ACKs carrying the echoed option") \
	X(ECHO_NO_ROOM, "echo_no_room", "server SYN-ACKs without room for the option") \
	X(ECHO_OFF, "echo_off", "server SYNs with the option while echo is off") \
	X(ECHO_SIGNED, "echo_signed", "server SYNs with the option and TCP-MD5/AO: no echo") \
	X(SYN_OPT_MALFORMED, "syn_opt_malformed", "SYNs whose option walk ended on a bad length") \
	X(SYN_OPT_BAD_LEN, "syn_opt_bad_len", "redirect options of a wrong length in SYNs") \
	X(REDIRECTED, "redirected", "sockets moved to S (accepted the redirecting SYN-ACK)") \
	X(REJ_NOT_ANNOUNCED, "rejected_not_announced", "redirect for no announced socket") \
	X(REJ_NOT_SYN_SENT, "rejected_not_syn_sent", "redirect for a socket no longer in SYN-SENT") \
	X(REJ_BAD_ACK, "rejected_bad_ack", "redirect not acknowledging the SYN") \
	X(REJ_ALLOW, "rejected_allow", "redirect from a source outside the allow-list") \
	X(REJ_DISABLED, "rejected_disabled", "redirect while redirection is disabled") \
	X(REJ_SIGNED, "rejected_signed", "redirect carrying TCP-MD5/AO or for a keyed socket") \
	X(REJ_MARTIAN, "rejected_martian", \
	  "redirect from 0/8, 127/8, multicast or 240/4; IPv6: not global unicast " \
	  "(::/96, ::ffff:0:0/96, fe80::/9, ff00::/8)") \
	X(REJ_LOCAL, "rejected_local", "redirect from the address it is sent to") \
	X(REJ_RPF, "rejected_rpf", "redirect whose route back to S is not unicast via its device") \
	X(REJ_RPF_UNCHECKED, "rejected_rpf_unchecked", \
	  "IPv6 redirect refused: no FIB lookup possible " \
	  "(forwarding off on the device and on lo)") \
	X(REJ_CSUM, "rejected_csum", "redirect with a bad TCP checksum") \
	X(REJ_CLAIMED, "rejected_claimed", "redirect after another SYN-ACK was accepted") \
	X(REJ_TUPLE_TAKEN, "rejected_tuple_taken", "redirect to a 4-tuple another socket holds") \
	X(REJ_FLOW_FULL, "rejected_flow_full", "redirect refused: flow table full") \
	X(REJ_PROBE, "rejected_probe", "redirect whose probe from S the input path dropped") \
	X(REJ_TOO_LONG, "rejected_too_long", "redirecting SYN-ACK too long to check") \
	X(PROBES_SENT, "probes_sent", "input-path probes sent") \
	X(RPF_DEFERRED, "rpf_deferred", "reverse-path checks left to the kernel (forwarding off)") \
	X(CLAIMS_RELEASED, "claims_released", "accepted SYN-ACKs the socket never took (SYN resent)") \
	X(SYNACK_OPT_MALFORMED, "synack_opt_malformed", "SYN-ACKs whose option walk ended on a bad length") \
	X(SYNACK_OPT_BAD_LEN, "synack_opt_bad_len", \
	  "redirect options of a wrong length for the family in SYN-ACKs") \
	X(RX_REWRITTEN, "rx_rewritten", "packets from S rewritten to come from A") \
	X(TX_REWRITTEN, "tx_rewritten", "packets to A rewritten to go to S") \
	X(TX_NO_ROUTE, "tx_no_route", "packets to S without a route (dropped)") \
	X(ICMP_REWRITTEN, "icmp_rewritten", \
	  "ICMP and ICMPv6 errors about S rewritten to be about A") \
	X(BAD_HEADER, "bad_header", "truncated or malformed IP/TCP headers (passed)") \
	X(FLOWS_CLOSED, "flows_closed", "redirected connections whose state was removed")

#define CRAB_EP_CNT_ENUM(e, n, h) CRAB_EP_CNT_##e,
enum crab_ep_counter {
	CRAB_EP_COUNTERS(CRAB_EP_CNT_ENUM)
	CRAB_EP_CNT_MAX,
};
#undef CRAB_EP_CNT_ENUM

#endif /* CRAB_BPF_EP_H */
