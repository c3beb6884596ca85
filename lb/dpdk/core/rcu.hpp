// SPDX-License-Identifier: GPL-2.0-only
// Publication of immutable snapshots to the data path (docs/PROTOCOL.md 5: a packet is
// decided by the old set or the new one, never a mix). The writer builds a
// new object, swaps one pointer, then waits until every online reader has
// passed a quiescent state (between two bursts) before freeing the old
// one: quiescent-state-based reclamation with a grace-period token, as
// rte_rcu_qsbr does, without tying the core to DPDK.
//
// Readers are registered, at most MaxReaders of them (a registration past
// that fails and is counted, an unregistration of a reader that is not
// registered, or still online, fails and is counted). Each reader's state
// (RcuReader) lives where its owner puts it: the DPDK app keeps it in the
// worker lcore's own memory, so the data path writes only lcore-local
// cache lines. The writer waits for a grace period at most a given time: a
// reader that went online and then stopped reporting (a stalled or dead
// lcore) cannot hang it. On a timeout the writer reports which reader it
// waited for, counts it, and keeps the old object (it is freed by the next
// grace period that completes, or by the destructor): a registered reader
// may still be using it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace crab::lb_dpdk {

// One reader's state: written by its reader only (online, quiescent,
// offline), read by the writer. A cache line of its own.
struct alignas(64) RcuReader {
    std::atomic<uint64_t> seen{0};     // last grace-period token seen at a quiescent state
    std::atomic<uint32_t> online{0};   // 1 while it may hold a pointer
    std::atomic<uint32_t> errors{0};   // online twice / offline while offline
};

// Counters of the reader bookkeeping and of the grace periods.
struct RcuStats {
    uint64_t register_fail = 0;    // registration refused: MaxReaders registered already
    uint64_t unregister_fail = 0;  // not registered, or still online
    uint64_t reader_errors = 0;    // online twice / offline while offline (all readers)
    uint64_t timeouts = 0;         // grace periods that did not complete in time
    uint64_t deferred = 0;         // old objects waiting for a grace period now
    unsigned readers = 0;          // registered now
};

// The outcome of waiting for a grace period.
struct RcuWait {
    bool ok = true;
    int stuck = -1;  // the first reader id that did not report in time
};

template <typename T, unsigned MaxReaders = 128>
class RcuPtr {
public:
    using Clock = std::chrono::steady_clock;
    // Long against a burst (microseconds) or a descheduled lcore on a
    // loaded machine, short enough that an edit (two grace periods) is
    // answered within crabctl's 5 s socket timeout.
    static constexpr std::chrono::milliseconds kDefaultTimeout{2000};

    explicit RcuPtr(std::unique_ptr<T> init) : p_(init.release()) {}
    ~RcuPtr()
    {
        // The owner stops its readers first; nothing is waited for here.
        delete p_.load();
        for (T* o : retired_)
            delete o;
    }
    RcuPtr(const RcuPtr&) = delete;
    RcuPtr& operator=(const RcuPtr&) = delete;

    // ---- reader registration (control plane, before the reader runs) ----

    // Registers @r (the caller keeps it alive until unregistered); returns
    // its id, or -1 when MaxReaders are registered already (counted).
    int register_reader(RcuReader& r)
    {
        std::lock_guard<std::mutex> lk(wmu_);
        for (unsigned i = 0; i < MaxReaders; i++)
            if (slots_[i] == &r) {
                stats_.register_fail++;  // registered twice: one slot is enough
                return -1;
            }
        for (unsigned i = 0; i < MaxReaders; i++)
            if (!slots_[i]) {
                r.online.store(0, std::memory_order_relaxed);
                slots_[i] = &r;
                stats_.readers++;
                return static_cast<int>(i);
            }
        stats_.register_fail++;
        return -1;
    }

    // False (counted) for an id that is not registered, or whose reader is
    // still online: the writer would stop waiting for a reader that may
    // still hold a pointer.
    bool unregister_reader(int id)
    {
        std::lock_guard<std::mutex> lk(wmu_);
        if (id < 0 || static_cast<unsigned>(id) >= MaxReaders || !slots_[id] ||
            slots_[id]->online.load(std::memory_order_acquire)) {
            stats_.unregister_fail++;
            return false;
        }
        slots_[id] = nullptr;
        stats_.readers--;
        return true;
    }

    // ---- data path --------------------------------------------------------

    // Read once per burst, between online()/quiescent() calls.
    const T* read() const { return p_.load(std::memory_order_acquire); }

    // "Holds no pointer read before this call."
    void quiescent(RcuReader& r) const
    {
        r.seen.store(token_.load(std::memory_order_acquire), std::memory_order_release);
    }

    // From now on the reader may read; the writer waits for it. The fence
    // orders the online store before the reader's next read() against the
    // writer's swap before its check of `online` (both sides fence).
    void online(RcuReader& r)
    {
        if (r.online.load(std::memory_order_relaxed))
            r.errors.fetch_add(1, std::memory_order_relaxed);
        r.seen.store(token_.load(std::memory_order_acquire), std::memory_order_relaxed);
        r.online.store(1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    // The reader holds no pointer any more and is not waited for.
    void offline(RcuReader& r)
    {
        if (!r.online.load(std::memory_order_relaxed))
            r.errors.fetch_add(1, std::memory_order_relaxed);
        r.online.store(0, std::memory_order_release);
    }

    // ---- writer -----------------------------------------------------------

    // Serialises writers (telemetry threads) so they cannot interleave.
    std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(pmu_); }
    const T* current() const { return p_.load(std::memory_order_acquire); }

    // Waits for a grace period without publishing anything: whether every
    // online reader reports within @timeout. Lets a writer refuse a change
    // up front while a reader is stuck, rather than publish and then be
    // unable to free.
    RcuWait quiesce(std::chrono::milliseconds timeout = kDefaultTimeout)
    {
        std::lock_guard<std::mutex> lk(wmu_);
        return synchronize(timeout);
    }

    // Swaps in @next, waits for a grace period (at most @timeout) and frees
    // the old object. On a timeout the old object is kept (deferred) and
    // counted; the next grace period that completes frees it.
    RcuWait publish(std::unique_ptr<T> next, std::chrono::milliseconds timeout = kDefaultTimeout)
    {
        std::lock_guard<std::mutex> lk(wmu_);
        T* old = p_.exchange(next.release(), std::memory_order_acq_rel);
        retired_.push_back(old);
        return synchronize(timeout);
    }

    RcuStats stats() const
    {
        std::lock_guard<std::mutex> lk(wmu_);
        RcuStats s = stats_;
        s.deferred = retired_.size();
        for (const RcuReader* r : slots_)
            if (r)
                s.reader_errors += r->errors.load(std::memory_order_relaxed);
        return s;
    }

private:
    // Under wmu_. A new token is published after the swap (release): a
    // reader that reports it has read the token, so its later read()s see
    // the new pointer. A reader that is offline holds nothing.
    RcuWait synchronize(std::chrono::milliseconds timeout)
    {
        const uint64_t t = token_.fetch_add(1, std::memory_order_acq_rel) + 1;
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const auto deadline = Clock::now() + timeout;
        RcuWait w;
        for (unsigned i = 0; i < MaxReaders && w.ok; i++) {
            const RcuReader* r = slots_[i];
            if (!r)
                continue;
            while (r->online.load(std::memory_order_acquire) && r->seen.load(std::memory_order_acquire) < t) {
                if (Clock::now() >= deadline) {
                    w = RcuWait{false, static_cast<int>(i)};
                    break;
                }
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
        }
        if (!w.ok) {
            stats_.timeouts++;
            return w;
        }
        // Every object retired before this grace period started is free.
        for (T* o : retired_)
            delete o;
        retired_.clear();
        return w;
    }

    std::atomic<T*> p_;
    std::atomic<uint64_t> token_{0};
    std::array<RcuReader*, MaxReaders> slots_{};
    std::vector<T*> retired_;
    RcuStats stats_;
    mutable std::mutex wmu_;  // slots, retired list, stats, grace periods
    std::mutex pmu_;          // writers' edit sequence (lock())
};

}  // namespace crab::lb_dpdk
