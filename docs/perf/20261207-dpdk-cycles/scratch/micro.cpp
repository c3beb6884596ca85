// scratch: cycles per process() over a pcap of SYNs, frames copied into an
// mbuf-like buffer first (as net_pcap does), in bursts of 32.
#include <x86intrin.h>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <memory>
#include <algorithm>
#include "lb_core.hpp"
#include "config.hpp"
using namespace crab::lb_dpdk;
int main(int argc, char** argv)
{
    int fam = atoi(argv[2]);
    FILE* fp = fopen(argv[1], "rb");
    std::vector<std::vector<uint8_t>> fr;
    uint8_t gh[24]; fread(gh, 1, 24, fp);
    uint8_t ph[16];
    while (fread(ph, 1, 16, fp) == 16) {
        uint32_t cl; memcpy(&cl, ph + 8, 4);
        std::vector<uint8_t> b(cl); fread(b.data(), 1, cl, fp); fr.push_back(b);
    }
    Config cfg; cfg.port_mac = {2, 0x70, 0x63, 0x61, 0x70, 0};
    Table t; NeighTable nt;
    ServiceSpec s = parse_service_spec(fam == 6 ? "[2001:db8:100::1]:80,policy=rr,legacy=drop" : "198.18.100.1:80,policy=rr,legacy=drop");
    service_add(t, s);
    for (int i = 1; i <= 3; i++) {
        char spec[128];
        if (fam == 6) snprintf(spec, sizeof spec, "[2001:db8:100::1]:80,2001:db8::%x,mac=02:00:00:00:00:%02x", 16 + i, i);
        else snprintf(spec, sizeof spec, "198.18.100.1:80,198.18.0.%d,mac=02:00:00:00:00:%02x", 10 + i, i);
        backend_add(t, parse_backend_spec(spec));
    }
    auto st = std::make_unique<LcoreState>();
    // 512 "mbufs" of 2176 bytes, headroom 128, cycled like a mempool cache
    const int NB = 512;
    std::vector<uint8_t> pool(NB * 2176 + 64);
    uint8_t* base = (uint8_t*)(((uintptr_t)pool.data() + 63) & ~63ul);
    long iters = atol(argv[3]);
    uint64_t best = ~0ull; size_t k = 0, slot = 0;
    for (int rep = 0; rep < 5; rep++) {
        uint64_t tot = 0, n = 0, tx = 0;
        for (long it = 0; it < iters; it++) {
            uint8_t* bufs[32]; uint32_t lens[32];
            for (int i = 0; i < 32; i++) {
                auto& b = fr[k++ % fr.size()];
                bufs[i] = base + (slot++ % NB) * 2176 + 128;
                memcpy(bufs[i], b.data(), b.size()); lens[i] = b.size();
            }
            uint64_t t0 = __rdtsc();
            for (int i = 0; i < 32; i++) {
                Frame f{bufs[i], lens[i], 128};
                tx += process(cfg, t, nt, *st, f) == Verdict::Tx;
            }
            tot += __rdtsc() - t0; n += 32;
        }
        if (tx != n) { fprintf(stderr, "tx %lu of %lu\n", tx, n); return 1; }
        best = std::min(best, tot * 100 / n);
        printf("%.2f cycles/process()\n", tot / (double)n);
    }
    printf("best %.2f\n", best / 100.0);
}
