/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Endpoint modules (crab_client.ko, crab_server.ko) and crabctl: what both
 * sides agree on. Sysctl names (net.crab.*), /proc/net file names, counter
 * names (X-macros, in /proc order), limits and the option kinds a module
 * refuses. Freestanding C: the kernel-only helpers of the modules live in
 * modules/common/crab_ep_lib.{h,c}.
 */
#ifndef CRAB_EP_H
#define CRAB_EP_H

#include <linux/types.h>

/*
 * /proc/sys/net/crab/<name>; CIDR lists are "a.b.c.d/len,x:y::z/len,..."
 * strings: one list per setting for both families, each entry matching
 * addresses of its own family only.
 * Every setting starts off in every namespace (docs/PROTOCOL.md 3.8):
 * enabled = 0, lists empty, and an empty list means none.
 */
#define CRAB_EP_SYSCTL_DIR		"net/crab"
#define CRAB_SYSCTL_CLIENT_ENABLED	"client_enabled"
#define CRAB_SYSCTL_CLIENT_ANNOUNCE	"client_announce_cidrs"
#define CRAB_SYSCTL_CLIENT_ALLOW	"client_allow_cidrs"
#define CRAB_SYSCTL_SERVER_ENABLED	"server_enabled"

/* /proc/net/<name>: one "name value" line per counter. */
#define CRAB_PROC_CLIENT		"crab_client"
#define CRAB_PROC_SERVER		"crab_server"

/*
 * "0.0.0.0/0" = every IPv4 address, "::/0" every IPv6 one; "" = none (the
 * default). An entry is at most 43 characters ("ffff:...:ffff/128").
 */
#define CRAB_EP_CIDR_ALL		"0.0.0.0/0"
#define CRAB_EP_CIDR_ALL6		"::/0"
#define CRAB_EP_MAX_CIDRS		64	/* entries per list */
#define CRAB_EP_CIDR_STRLEN		(CRAB_EP_MAX_CIDRS * 44 + 16)

/*
 * Client counters: X(ENUM, "name", "help").
 * Every reason a redirect is refused has its own counter
 * (docs/PROTOCOL.md 3.4, 6).
 */
#define CRAB_CLIENT_COUNTERS(X)						\
	X(SYN_ANNOUNCED, "syn_announced", "SYNs given the option")	\
	X(SYN_NOT_LISTED, "syn_not_listed",				\
	  "SYNs to destinations outside the announce list")		\
	X(SYN_SIGNED, "syn_signed",					\
	  "SYNs not announced: TCP-MD5/AO keys on the socket, or "	\
	  "option 19/29 in the SYN")					\
	X(SYN_NO_ROOM, "syn_no_room",					\
	  "SYNs sent without the option: doff would pass 15")		\
	X(SYN_TOO_BIG, "syn_too_big",					\
	  "SYNs with data sent without the option: MTU")		\
	X(SYN_NOMEM, "syn_nomem",					\
	  "SYNs sent without the option: skb unwritable/no memory")	\
	X(SYNACK_DIRECT, "synack_direct",				\
	  "SYN-ACKs whose option names their own source")		\
	X(CT_ATTACHED, "ct_attached",					\
	  "redirect SYN-ACKs given the conntrack entry of the SYN to "	\
	  "the named address")						\
	X(REDIRECTED, "redirected",					\
	  "sockets re-keyed to the SYN-ACK's source")			\
	X(CT_RESYN, "ct_resyn",						\
	  "redirects that resent the SYN to the new peer (conntrack "	\
	  "without loose pickup)")					\
	X(REJ_DISABLED, "rej_disabled",					\
	  "redirects refused: disabled in this netns")			\
	X(REJ_SRC_ZERO, "rej_src_zero",					\
	  "redirects refused: source in 0.0.0.0/8, or ::")		\
	X(REJ_SRC_LOOPBACK, "rej_src_loopback",				\
	  "redirects refused: loopback source")				\
	X(REJ_SRC_LINKLOCAL, "rej_src_linklocal",			\
	  "redirects refused: IPv6 link-local source (fe80::/10)")	\
	X(REJ_SRC_V4MAPPED, "rej_src_v4mapped",				\
	  "redirects refused: IPv6 source ::ffff:0:0/96 (v4-mapped)")	\
	X(REJ_SRC_MCAST, "rej_src_mcast",				\
	  "redirects refused: multicast source")			\
	X(REJ_SRC_BCAST, "rej_src_bcast",				\
	  "redirects refused: broadcast source")			\
	X(REJ_SRC_LOCAL, "rej_src_local",				\
	  "redirects refused: source is an address of this host")	\
	X(REJ_SRC_MARTIAN, "rej_src_martian",				\
	  "redirects refused: source is not a unicast address (IPv6: "	\
	  "also ::/96)")							\
	X(REJ_RPF, "rej_rpf",						\
	  "redirects refused: strict reverse path check failed on "	\
	  "the ingress interface")					\
	X(REJ_BAD_CSUM, "rej_bad_csum", "redirects refused: bad TCP checksum") \
	X(REJ_NO_SOCKET, "rej_no_socket",				\
	  "redirects refused: no socket connected to the named "	\
	  "address")							\
	X(REJ_NOT_SYNSENT, "rej_not_synsent",				\
	  "redirects refused: socket not in SYN-SENT")			\
	X(REJ_SIGNED, "rej_signed",					\
	  "redirects refused: TCP-MD5/AO keys on the socket, or "	\
	  "option 19/29 in the SYN-ACK")				\
	X(REJ_NOT_ANNOUNCED, "rej_not_announced",			\
	  "redirects refused: socket's SYN did not announce")		\
	X(REJ_BAD_ACK, "rej_bad_ack",					\
	  "redirects refused: ack does not acknowledge the socket's "	\
	  "SYN")							\
	X(REJ_NOT_ALLOWED, "rej_not_allowed",				\
	  "redirects refused: source outside the allow list")		\
	X(REJ_RACED, "rej_raced",					\
	  "redirects refused: under the socket lock it had left "	\
	  "SYN-SENT or A (another SYN-ACK won)")			\
	X(REJ_TUPLE_TAKEN, "rej_tuple_taken",				\
	  "redirects refused: another socket holds the new 4-tuple")	\
	X(REJ_LOCKED, "rej_locked",					\
	  "redirects refused: socket stayed owned by user")		\
	X(DEFERRED, "deferred",						\
	  "redirect SYN-ACKs held back while the socket was owned by "	\
	  "user")							\
	X(SYNACK_KNOWN, "synack_known",					\
	  "SYN-ACKs naming A for a socket already keyed on their "	\
	  "source")							\
	X(OPT_MALFORMED, "opt_malformed",				\
	  "option walks ended on a bad length")				\
	X(OPT_BAD_LEN, "opt_bad_len",					\
	  "redirect options with a wrong length for the segment's "	\
	  "family (ignored)")						\
	X(HDR_INVALID, "hdr_invalid",					\
	  "TCP segments with a truncated header or bogus doff")		\
	X(FRAGMENT, "fragment",						\
	  "IP fragments, IPv6 packets with a fragment header (and "	\
	  "reassembled SYN-ACKs) skipped")				\
	X(TABLE_EVICTED, "table_evicted",				\
	  "live announce entries evicted (table full)")			\
	X(TW_REPLACED, "tw_replaced",					\
	  "redirects that replaced a TIME_WAIT of an earlier "		\
	  "connection to the source")

#define CRAB_SERVER_COUNTERS(X)						\
	X(SYN_OPT_SEEN, "syn_opt_seen", "SYNs carrying the option")	\
	X(SYN_SIGNED, "syn_signed",					\
	  "SYNs with the option ignored: they carry option 19 or 29")	\
	X(STALE_CLEARED, "stale_cleared",				\
	  "remembered 4-tuples cleared by a SYN without the option")	\
	X(SYNACK_ECHOED, "synack_echoed", "SYN-ACKs given the option")	\
	X(SYNACK_RTX_ECHOED, "synack_rtx_echoed",			\
	  "of which retransmissions (echoed from the table)")		\
	X(SYNACK_SIGNED, "synack_signed",				\
	  "SYN-ACKs left without it: they carry option 19 or 29")	\
	X(SYNACK_NO_ROOM, "synack_no_room",				\
	  "SYN-ACKs sent without it: doff would pass 15")		\
	X(SYNACK_TOO_BIG, "synack_too_big",				\
	  "SYN-ACKs with data sent without it: MTU")			\
	X(SYNACK_NOMEM, "synack_nomem",					\
	  "SYN-ACKs sent without it: skb unwritable/no memory")		\
	X(DISABLED, "disabled",						\
	  "SYNs with the option ignored: disabled in this netns")	\
	X(OPT_MALFORMED, "opt_malformed",				\
	  "option walks ended on a bad length")				\
	X(OPT_BAD_LEN, "opt_bad_len",					\
	  "redirect options with a wrong length for the segment's "	\
	  "family (ignored)")						\
	X(HDR_INVALID, "hdr_invalid",					\
	  "TCP segments with a truncated header or bogus doff")		\
	X(FRAGMENT, "fragment",						\
	  "IP fragments, IPv6 packets with a fragment header, skipped")	\
	X(TABLE_FULL, "table_full",					\
	  "echoed SYN-ACKs not remembered for retransmission: table "	\
	  "full (live entries are never evicted)")

#define CRAB_EP_ENUM_CLIENT(e, n, h) CRAB_CLIENT_##e,
#define CRAB_EP_ENUM_SERVER(e, n, h) CRAB_SERVER_##e,
enum crab_client_counter { CRAB_CLIENT_COUNTERS(CRAB_EP_ENUM_CLIENT) CRAB_CLIENT__MAX };
enum crab_server_counter { CRAB_SERVER_COUNTERS(CRAB_EP_ENUM_SERVER) CRAB_SERVER__MAX };
#undef CRAB_EP_ENUM_CLIENT
#undef CRAB_EP_ENUM_SERVER

/* For a table of names in /proc order: { CRAB_CLIENT_COUNTERS(CRAB_EP_NAME) } */
#define CRAB_EP_NAME(e, n, h) n,

/*
 * Option kinds the redirect option must not use: the ones IANA's "TCP
 * Option Kind Numbers" registry assigns (0-30 and 34, with the obsolete,
 * the released 25 and the "known unauthorized use" 31-33, 70, 76-78), 69
 * (TCP-ENO), 172 and 174 (AccECN). 253 and 254 are the RFC 6994 shared
 * experimental kinds, usable only with an experiment identifier: this
 * project implements that form on 254 (opt_exid), so 253 is refused too.
 * Returns what the kind is, or NULL when it may be used (42, the published
 * prototype's kind, and the other unassigned ones; 254 in RFC 6994 form).
 */
static inline const char *crab_ep_kind_refused(unsigned int kind)
{
	static const char *const low[] = {
		"EOL", "NOP", "MSS", "window scale", "SACK permitted", "SACK",
		"echo", "echo reply", "timestamps", "partial order permitted",
		"partial order profile", "CC", "CC.NEW", "CC.ECHO",
		"alternate checksum request", "alternate checksum data",
		"Skeeter", "Bubba", "trailer checksum", "TCP-MD5", "SCPS",
		"selective NAK", "record boundaries", "corruption experienced",
		"SNAP", "released (25)", "compression filter",
		"quick-start response", "user timeout", "TCP-AO", "MPTCP",
		"reserved, known unauthorized use", "reserved, known unauthorized use",
		"reserved, known unauthorized use", "TCP Fast Open cookie",
	};

	if (kind <= 34)
		return low[kind];
	switch (kind) {
	case 69:
		return "TCP-ENO";
	case 70: case 76: case 77: case 78:
		return "reserved, known unauthorized use";
	case 172: case 174:
		return "AccECN";
	case 253:
		return "RFC 6994 experiment 1 (use 254 with opt_exid)";
	}
	return kind > 254 ? "not a TCP option kind" : (const char *)0;
}

#endif /* CRAB_EP_H */
