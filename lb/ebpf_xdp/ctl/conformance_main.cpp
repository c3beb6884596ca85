// SPDX-License-Identifier: GPL-2.0-only
// crab-lb-xdp-conformance: the LB conformance fixtures
// (selftests/conformance/fixtures.py) through the XDP program, each case on
// a freshly loaded program (nothing pinned, no device), every frame through
// BPF_PROG_TEST_RUN; verdicts, bytes and counters compared
// (xdp_ctl.hpp run_conformance()).
//
//   crab-lb-xdp-conformance FIXTURES.json [--case NAME] [--port-mac MAC] [--json]
//                           [--ingress-dev IF]
//
// --ingress-dev: frames arrive on IF (of the current network namespace),
// whose routes and neighbour entries answer the program's bpf_fib_lookup()
// for backends without a static MAC (the fixtures' "topology"); without
// it the program runs on the loopback device and such cases fail.
//
// Exit 0 when every case passed, 1 when one failed, 2 on a usage error,
// 3 when the file or the case is missing.
#include <cstring>
#include <iostream>
#include <string>

#include "crab/common.hpp"
#include "xdp_ctl.hpp"

int main(int argc, char** argv)
{
    std::string file, only, ingress, port_mac = "02:00:00:00:00:01";  // LB_MAC of fixtures.py
    bool json_out = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if ((a == "--case" || a == "--port-mac") && i + 1 < argc)
            (a == "--case" ? only : port_mac) = argv[++i];
        else if (a == "--ingress-dev" && i + 1 < argc)
            ingress = argv[++i];
        else if (a == "--json")
            json_out = true;
        else if (a == "-h" || a == "--help") {
            std::cout << "usage: crab-lb-xdp-conformance FIXTURES.json [--case NAME] [--port-mac MAC] [--json] [--ingress-dev IF]\n";
            return 0;
        } else if (file.empty() && a[0] != '-')
            file = a;
        else {
            std::cerr << "crab-lb-xdp-conformance: unexpected argument '" << a << "'\n";
            return crab::kExitUsage;
        }
    }
    if (file.empty()) {
        std::cerr << "usage: crab-lb-xdp-conformance FIXTURES.json [--case NAME] [--port-mac MAC] [--json] [--ingress-dev IF]\n";
        return crab::kExitUsage;
    }
    try {
        crab::xdp_ctl::json out;
        int rc = crab::xdp_ctl::run_conformance(file, only, port_mac, json_out ? &out : nullptr, ingress);
        if (json_out)
            std::cout << out.dump() << "\n";
        return rc;
    } catch (const crab::Error& e) {
        std::cerr << "crab-lb-xdp-conformance: error: " << e.what() << "\n";
        return e.code();
    } catch (const std::exception& e) {
        std::cerr << "crab-lb-xdp-conformance: error: " << e.what() << "\n";
        return crab::kExitError;
    }
}
