// SPDX-License-Identifier: GPL-2.0-only
// The tables the XDP LB's data path indexes (active list, weighted ring,
// Maglev table), computed in the control plane from a generation's backend
// slots by the shared model (include/crab/crab_lb_model.h), the one the
// netfilter and DPDK LBs build theirs with. crabctl calls this before it
// publishes a generation; the cross-LB tests call the same function.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

extern "C" {
#include <crab/crab_lb_model.h>
#include <crab/crab_xdp.h>
}

namespace crab::xdp {

// (Re)build g.t from the valid slots of g.be: slot numbers are the ids the
// tables hold, draining backends stay in the Maglev table only. Throws
// std::invalid_argument on a set the model refuses (two slots with one
// address): crabctl never writes such a set.
inline void build_gen_tables(crab_xdp_gen& g)
{
    crab_lb_backend in[CRAB_MAX_BACKENDS]{};
    crab_lb_work work;
    uint32_t n = 0;
    for (uint32_t s = 0; s < CRAB_MAX_BACKENDS; s++) {
        const crab_xdp_backend& b = g.be[s];
        if (!(b.flags & CRAB_XDP_BE_VALID))
            continue;
        in[n++] = {{0, 0, 0, ntohl(b.dip)}, b.weight, b.state, static_cast<uint8_t>(s)};
    }
    if (crab_lb_tables_build(&g.t, &work, in, n))
        throw std::invalid_argument("backend set refused by the LB model (duplicate address)");
}

}  // namespace crab::xdp
