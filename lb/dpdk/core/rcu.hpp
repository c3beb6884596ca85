// SPDX-License-Identifier: GPL-2.0-only
// Publication of immutable snapshots to the data path (docs/PROTOCOL.md 5: a packet is
// decided by the old set or the new one, never a mix). The writer builds a
// new object, swaps one pointer, then waits until every registered reader
// has passed a quiescent state (between two bursts) before freeing the old
// one: quiescent-state-based reclamation, as rte_rcu_qsbr does, without
// tying the core to DPDK.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace crab::lbd {

template <typename T, unsigned MaxReaders = 128>
class RcuPtr {
public:
    explicit RcuPtr(std::unique_ptr<T> init) : p_(init.release()) {}
    ~RcuPtr() { delete p_.load(); }
    RcuPtr(const RcuPtr&) = delete;
    RcuPtr& operator=(const RcuPtr&) = delete;

    // Data path: read once per burst, between online()/quiescent() calls.
    const T* read() const { return p_.load(std::memory_order_acquire); }

    // Reader id r reports "holds no pointer from before this call".
    void quiescent(unsigned r) { rd_[r].seq.fetch_add(1, std::memory_order_release); }
    void online(unsigned r)
    {
        rd_[r].seq.fetch_add(1, std::memory_order_release);
        rd_[r].online.store(true, std::memory_order_release);
    }
    void offline(unsigned r) { rd_[r].online.store(false, std::memory_order_release); }

    // Control plane: the object the next readers see. Serialised by a mutex
    // so concurrent writers (telemetry threads) cannot interleave.
    std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(wmu_); }
    const T* current() const { return p_.load(std::memory_order_acquire); }

    void publish(std::unique_ptr<T> next)
    {
        T* old = p_.exchange(next.release(), std::memory_order_acq_rel);
        synchronize();
        delete old;
    }

private:
    void synchronize()
    {
        std::array<uint64_t, MaxReaders> snap;
        for (unsigned r = 0; r < MaxReaders; r++)
            snap[r] = rd_[r].seq.load(std::memory_order_acquire);
        for (unsigned r = 0; r < MaxReaders; r++) {
            while (rd_[r].online.load(std::memory_order_acquire) &&
                   rd_[r].seq.load(std::memory_order_acquire) == snap[r])
                std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }

    struct alignas(64) Reader {
        std::atomic<uint64_t> seq{0};
        std::atomic<bool> online{false};
    };
    std::atomic<T*> p_;
    std::array<Reader, MaxReaders> rd_{};
    std::mutex wmu_;
};

}  // namespace crab::lbd
