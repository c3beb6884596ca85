// SPDX-License-Identifier: GPL-2.0-only
// Raw IPv4/TCP packets for crab-syngen (bench/loadgen/README.md): what a
// client's stack would send to VIP:port, built by hand so a packet-train
// generator can offer an LB more packets per second than closed-loop
// connections can. The packet builder is the shared one
// (userspace/common/crab/pktbuild.hpp); this header adds the connection
// train. Header-only so the unit test (test_pktbuild.cpp) checks exactly
// what the tool sends.
#pragma once

#include <crab/pktbuild.hpp>

namespace crab::bench {

using namespace crab::pkt;

// The client->server packets of one connection, as a train of 1 + k
// packets on one 4-tuple: SYN (MSS, with the redirect option when
// @crab_opt), ACK, then alternately a data segment (PSH|ACK, @payload
// bytes) and a pure ACK, and FIN|ACK, ACK to close (k >= 3: ..., FIN, ACK;
// k == 2: ACK, FIN; k == 1: ACK). Sequence numbers follow the client's
// side; the acknowledgement numbers assume the server's ISN is 0 (the
// generator never sees the server's answer).
struct TrainStep {
	uint8_t flags;
	uint16_t payload;
};

inline TrainStep train_step(unsigned i, unsigned k, uint16_t payload)
{
	if (i == 0)
		return {kTcpSyn, 0};
	if (i == 1)
		return {kTcpAck, 0};
	if (k >= 3 && i == k)
		return {kTcpAck, 0};
	if (i == (k >= 3 ? k - 1 : k))
		return {static_cast<uint8_t>(kTcpFin | kTcpAck), 0};
	return (i % 2 == 0) ? TrainStep{static_cast<uint8_t>(kTcpPsh | kTcpAck), payload} : TrainStep{kTcpAck, 0};
}

} // namespace crab::bench
