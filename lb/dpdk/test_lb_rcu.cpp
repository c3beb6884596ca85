// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the reader bookkeeping and grace periods of RcuPtr
// (core/rcu.hpp): registrations are bounded, wrong (un)registrations and
// unbalanced online/offline are detected and counted, a reader that stops
// reporting cannot hang the writer (timeout, counted, named) and the
// object it may still read is not freed until a later grace period.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "rcu.hpp"

using namespace crab::lb_dpdk;
using namespace std::chrono_literals;

namespace {

// Counts destructions, and remembers it was destroyed (a reader that
// still holds it checks `alive`).
struct Obj {
    static inline std::atomic<int> destroyed{0};
    int v;
    std::atomic<bool> alive{true};
    explicit Obj(int x) : v(x) {}
    ~Obj()
    {
        alive = false;
        destroyed++;
    }
};

}  // namespace

TEST(RcuReaders, RegistrationIsBoundedAndCounted)
{
    RcuPtr<Obj, 4> p(std::make_unique<Obj>(0));
    RcuReader r[5];
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(p.register_reader(r[i]), i);
    EXPECT_EQ(p.register_reader(r[4]), -1);  // a fifth: refused, no slot overrun
    EXPECT_EQ(p.register_reader(r[0]), -1);  // twice: refused
    RcuStats s = p.stats();
    EXPECT_EQ(s.readers, 4u);
    EXPECT_EQ(s.register_fail, 2u);
    // A slot freed is reused.
    EXPECT_TRUE(p.unregister_reader(2));
    EXPECT_EQ(p.register_reader(r[4]), 2);
    EXPECT_EQ(p.stats().readers, 4u);
}

TEST(RcuReaders, BadUnregistrationsAreRefusedAndCounted)
{
    RcuPtr<Obj, 4> p(std::make_unique<Obj>(0));
    RcuReader r;
    int id = p.register_reader(r);
    ASSERT_EQ(id, 0);
    EXPECT_FALSE(p.unregister_reader(-1));
    EXPECT_FALSE(p.unregister_reader(4));
    EXPECT_FALSE(p.unregister_reader(1));  // never registered
    p.online(r);
    EXPECT_FALSE(p.unregister_reader(id));  // still online: would stop being waited for
    p.offline(r);
    EXPECT_TRUE(p.unregister_reader(id));
    EXPECT_FALSE(p.unregister_reader(id));  // twice: the count must not go below zero
    RcuStats s = p.stats();
    EXPECT_EQ(s.unregister_fail, 5u);
    EXPECT_EQ(s.readers, 0u);
}

TEST(RcuReaders, UnbalancedOnlineOfflineIsCounted)
{
    RcuPtr<Obj, 4> p(std::make_unique<Obj>(0));
    RcuReader r;
    ASSERT_EQ(p.register_reader(r), 0);
    p.offline(r);  // offline while offline
    p.online(r);
    p.online(r);  // online twice
    p.offline(r);
    EXPECT_EQ(p.stats().reader_errors, 2u);
    EXPECT_TRUE(p.publish(std::make_unique<Obj>(1), 100ms).ok);
}

// Registered readers that never went online (an lcore never launched) or
// went offline (stopped) are not waited for.
TEST(RcuGrace, NeverStartedOrStoppedReadersDoNotBlock)
{
    RcuPtr<Obj, 4> p(std::make_unique<Obj>(0));
    RcuReader never, stopped;
    ASSERT_GE(p.register_reader(never), 0);
    ASSERT_GE(p.register_reader(stopped), 0);
    p.online(stopped);
    p.offline(stopped);
    // Waiting for either would end in the timeout, not ok.
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(p.publish(std::make_unique<Obj>(1), 10000ms).ok);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5000ms);
}

// A reader online and stuck inside a read (a stalled lcore): publish()
// returns after the timeout naming it, counted; the old object is kept
// while the reader may use it and freed by the next complete grace period.
TEST(RcuGrace, StuckReaderTimesOutAndItsObjectIsKept)
{
    Obj::destroyed = 0;
    RcuPtr<Obj, 4> p(std::make_unique<Obj>(1));
    RcuReader other, stuck;
    ASSERT_EQ(p.register_reader(other), 0);
    ASSERT_EQ(p.register_reader(stuck), 1);
    p.online(stuck);
    const Obj* held = p.read();  // never reports quiescent from here

    auto fut = std::async(std::launch::async, [&] { return p.publish(std::make_unique<Obj>(2), 200ms); });
    if (fut.wait_for(5s) != std::future_status::ready) {
        // Let the writer finish so the test can end, then fail.
        p.quiescent(stuck);
        fut.wait();
        FAIL() << "publish() waited more than 5 s for a stuck reader (timeout 200 ms)";
    }
    RcuWait w = fut.get();
    EXPECT_FALSE(w.ok);
    EXPECT_EQ(w.stuck, 1);
    EXPECT_TRUE(held->alive.load());  // not freed under the reader
    EXPECT_EQ(held->v, 1);
    EXPECT_EQ(Obj::destroyed.load(), 0);
    RcuStats s = p.stats();
    EXPECT_EQ(s.timeouts, 1u);
    EXPECT_EQ(s.deferred, 1u);
    EXPECT_EQ(p.read()->v, 2);  // the new object is published

    // The writer can refuse a change up front while it is stuck.
    RcuWait q = p.quiesce(50ms);
    EXPECT_FALSE(q.ok);
    EXPECT_EQ(q.stuck, 1);
    EXPECT_EQ(p.stats().timeouts, 2u);

    // The reader moves on (reports between its reads again): the next
    // grace period frees both old objects.
    auto fut2 = std::async(std::launch::async, [&] { return p.publish(std::make_unique<Obj>(3), 5000ms); });
    while (fut2.wait_for(1ms) != std::future_status::ready)
        p.quiescent(stuck);
    EXPECT_TRUE(fut2.get().ok);
    EXPECT_EQ(Obj::destroyed.load(), 2);
    EXPECT_EQ(p.stats().deferred, 0u);
    p.offline(stuck);
}

// A reader that keeps reporting is waited for: the old object outlives
// every read that may have started before the swap.
TEST(RcuGrace, ActiveReaderIsWaitedForNotTimedOut)
{
    Obj::destroyed = 0;
    RcuPtr<Obj, 4> p(std::make_unique<Obj>(0));
    RcuReader r;
    ASSERT_EQ(p.register_reader(r), 0);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bad{0};
    std::thread t([&] {
        p.online(r);
        while (!stop.load()) {
            const Obj* o = p.read();
            for (int i = 0; i < 100; i++)
                if (!o->alive.load())
                    bad++;
            p.quiescent(r);
        }
        p.offline(r);
    });
    for (int i = 1; i <= 200; i++)
        EXPECT_TRUE(p.publish(std::make_unique<Obj>(i), 60000ms).ok);
    stop = true;
    t.join();
    EXPECT_EQ(bad.load(), 0u);
    EXPECT_EQ(p.stats().timeouts, 0u);
    EXPECT_EQ(Obj::destroyed.load(), 200);
}
