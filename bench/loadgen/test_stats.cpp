// SPDX-License-Identifier: GPL-2.0-only
// Unit tests of the load generator's statistics (stats.hpp). Every check can
// fail: each test has an input the statistic must reject and one it must
// accept, seeded so the result does not depend on the run.
#include "stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace crab::bench;

TEST(Histogram, BucketBoundsHoldTheValueWithin1Percent)
{
	std::mt19937_64 rng(1);
	std::vector<uint64_t> vals = {0, 1, 127, 128, 255, 256, 257, 511, 512, 1000, 999999,
				      (uint64_t{1} << 40) + 12345, UINT64_MAX / 3, UINT64_MAX};
	for (int i = 0; i < 200000; i++)
		vals.push_back(rng() >> (rng() % 64));
	size_t prev_b = 0;
	std::sort(vals.begin(), vals.end());
	for (uint64_t v : vals) {
		size_t b = LatencyHistogram::bucket_of(v);
		ASSERT_LT(b, LatencyHistogram::kBuckets) << v;
		uint64_t lo = LatencyHistogram::bucket_lower(b), hi = LatencyHistogram::bucket_upper(b);
		ASSERT_LE(lo, v);
		if (hi != UINT64_MAX) {
			ASSERT_LT(v, hi);
		}
		// The largest (integer) value of a bucket is at most 1/128 (< 1 %)
		// above its lower bound; below 256 ns a bucket holds one value.
		if (lo > 0) {
			ASSERT_LE(static_cast<double>(hi - 1 - lo) / static_cast<double>(lo), 1.0 / 128) << v;
		}
		if (v < 256) {
			ASSERT_EQ(hi - lo, 1u) << v;
		}
		ASSERT_GE(b, prev_b) << v; // monotone (vals are sorted)
		prev_b = b;
	}
	// Buckets tile the line: each upper bound is the next lower bound.
	for (size_t b = 0; b + 1 < LatencyHistogram::kBuckets; b++)
		ASSERT_EQ(LatencyHistogram::bucket_upper(b), LatencyHistogram::bucket_lower(b + 1)) << b;
}

TEST(Histogram, PercentileWithin1PercentOfExact)
{
	std::mt19937_64 rng(7);
	std::lognormal_distribution<double> d(11.0, 1.0); // ~60 us median, in ns
	LatencyHistogram h;
	std::vector<uint64_t> s;
	for (int i = 0; i < 100000; i++) {
		auto v = static_cast<uint64_t>(d(rng));
		h.record(v);
		s.push_back(v);
	}
	std::sort(s.begin(), s.end());
	for (double p : {0.5, 0.9, 0.99, 0.999}) {
		double exact = static_cast<double>(percentile_sorted(s, p));
		double approx = static_cast<double>(h.percentile(p));
		EXPECT_NEAR(approx / exact, 1.0, 0.01) << p;
	}
	EXPECT_EQ(h.count(), 100000u);
	EXPECT_EQ(h.min(), s.front());
	EXPECT_EQ(h.max(), s.back());
}

TEST(Percentile, NearestRank)
{
	std::vector<uint64_t> s(100);
	for (size_t i = 0; i < s.size(); i++)
		s[i] = i + 1; // 1..100
	EXPECT_EQ(percentile_sorted(s, 0.5), 50u);
	EXPECT_EQ(percentile_sorted(s, 0.99), 99u);
	EXPECT_EQ(percentile_sorted(s, 0.991), 100u);
	EXPECT_EQ(percentile_sorted(s, 0.0), 1u);
	EXPECT_EQ(percentile_sorted(s, 1.0), 100u);
}

TEST(Percentile, ConfidenceIntervalRanksAsInBenchmarkingMd)
{
	auto r = percentile_ci_ranks(10000, 0.99);
	EXPECT_TRUE(r.valid);
	EXPECT_EQ(r.j, 9880);
	EXPECT_EQ(r.k, 9921);
	// Median of 1000: 500 -/+ 1.96*sqrt(250)=30.99 -> 469 .. 532
	r = percentile_ci_ranks(1000, 0.5);
	EXPECT_EQ(r.j, 469);
	EXPECT_EQ(r.k, 532);
	// 100 samples cannot bound p99: k would exceed n.
	EXPECT_FALSE(percentile_ci_ranks(100, 0.99).valid);
	EXPECT_FALSE(percentile_ci_ranks(0, 0.5).valid);
}

TEST(Percentile, ConfidenceIntervalCoversTheTruePercentile)
{
	// Exponential(1): true p99 = ln(100). Over 200 seeded runs of n=2000 the
	// 95 % interval must cover it about 95 % of the time.
	double truth = std::log(100.0);
	int covered = 0, runs = 200;
	for (int run = 0; run < runs; run++) {
		std::mt19937_64 rng(1000 + run);
		std::exponential_distribution<double> d(1.0);
		std::vector<double> v(2000);
		for (auto &x : v)
			x = d(rng);
		std::sort(v.begin(), v.end());
		auto r = percentile_ci_ranks(v.size(), 0.99);
		ASSERT_TRUE(r.valid);
		if (v[r.j - 1] <= truth && truth <= v[r.k - 1])
			covered++;
	}
	EXPECT_GE(covered, 180);
	EXPECT_LE(covered, 200);
}

TEST(Adf, MacKinnonCriticalValue)
{
	EXPECT_NEAR(mackinnon_5pct_constant(100), -2.8909, 0.001);
	EXPECT_NEAR(mackinnon_5pct_constant(1000000), -2.8615, 0.0001);
	EXPECT_EQ(adf_default_lags(10000), 8);
	EXPECT_EQ(adf_default_lags(100), 4);
}

TEST(Adf, WhiteNoiseIsStationaryRandomWalkIsNot)
{
	std::mt19937_64 rng(42);
	std::normal_distribution<double> d(0.0, 1.0);
	std::vector<double> noise(2000), walk(2000);
	double w = 0;
	for (size_t i = 0; i < noise.size(); i++) {
		noise[i] = 100 + d(rng);
		w += d(rng);
		walk[i] = 100 + w;
	}
	auto a = adf_test(noise, 4);
	ASSERT_TRUE(a.valid);
	EXPECT_TRUE(a.stationary) << a.statistic;
	EXPECT_LT(a.statistic, -10.0);
	auto b = adf_test(walk, 4);
	ASSERT_TRUE(b.valid);
	EXPECT_FALSE(b.stationary) << b.statistic;
}

TEST(Adf, RandomWalkRejectedAboutFivePercentOfTheTime)
{
	// The size of the test: under H0 (unit root) the 5 % critical value
	// rejects ~5 % of seeded random walks. A wrong critical value or t-ratio
	// moves this far away.
	int rejected = 0, runs = 400;
	for (int run = 0; run < runs; run++) {
		std::mt19937_64 rng(5000 + run);
		std::normal_distribution<double> d(0.0, 1.0);
		std::vector<double> walk(300);
		double w = 0;
		for (auto &x : walk)
			x = (w += d(rng));
		auto a = adf_test(walk, 2);
		ASSERT_TRUE(a.valid);
		rejected += a.stationary;
	}
	EXPECT_GE(rejected, 6);  // 1.5 %
	EXPECT_LE(rejected, 40); // 10 %
}

TEST(Adf, StepInTheMeanIsNotStationary)
{
	// A warm-up that never ends: latency drifting linearly upwards.
	std::mt19937_64 rng(3);
	std::normal_distribution<double> d(0.0, 1.0);
	std::vector<double> v(3000);
	for (size_t i = 0; i < v.size(); i++)
		v[i] = 0.02 * static_cast<double>(i) + d(rng) + 0.5 * (i ? v[i - 1] - 0.02 * (i - 1.0) : 0);
	auto a = adf_test(v, 4);
	ASSERT_TRUE(a.valid);
	EXPECT_FALSE(a.stationary) << a.statistic;
}

TEST(Adf, DegenerateInputIsInvalid)
{
	std::vector<double> c(500, 7.0);
	EXPECT_FALSE(adf_test(c, 2).valid);
	std::vector<double> tiny(5, 1.0);
	EXPECT_FALSE(adf_test(tiny, 2).valid);
}

TEST(RankAutocorr, IidIsIndependentAr1IsNot)
{
	std::mt19937_64 rng(11);
	std::normal_distribution<double> d(0.0, 1.0);
	std::vector<double> iid(5000), ar(5000);
	double prev = 0;
	for (size_t i = 0; i < iid.size(); i++) {
		iid[i] = d(rng);
		prev = 0.3 * prev + d(rng);
		ar[i] = prev;
	}
	auto a = rank_autocorr_lag1(iid);
	ASSERT_TRUE(a.valid);
	EXPECT_TRUE(a.independent) << a.rho;
	auto b = rank_autocorr_lag1(ar);
	ASSERT_TRUE(b.valid);
	EXPECT_FALSE(b.independent) << b.rho;
	EXPECT_NEAR(b.rho, 0.3, 0.06);
	// Ranks: a monotone transform does not change the statistic.
	std::vector<double> e(ar.size());
	for (size_t i = 0; i < ar.size(); i++)
		e[i] = std::exp(ar[i]);
	EXPECT_NEAR(rank_autocorr_lag1(e).rho, b.rho, 1e-12);
}

TEST(AndersonDarling, AcceptsExponentialRejectsUniformAndWrongRate)
{
	const double rate = 500.0; // per second; gaps in seconds
	// One generator per series (seeded): under H0 a given seed exceeds the
	// 5 % critical value with probability 5 %; this one does not (the size of
	// the test is checked over many seeds below).
	std::mt19937_64 rng_e(99), rng_u(100), rng_s(101);
	std::exponential_distribution<double> ex(rate);
	std::uniform_real_distribution<double> un(0.0, 2.0 / rate); // same mean
	std::exponential_distribution<double> slow(rate * 0.9);
	std::vector<double> e(5000), u(5000), s(5000);
	for (size_t i = 0; i < e.size(); i++) {
		e[i] = ex(rng_e);
		u[i] = un(rng_u);
		s[i] = slow(rng_s);
	}
	auto a = anderson_darling_exponential(e, rate);
	ASSERT_TRUE(a.valid);
	EXPECT_TRUE(a.ok) << a.statistic;
	auto b = anderson_darling_exponential(u, rate);
	ASSERT_TRUE(b.valid);
	EXPECT_FALSE(b.ok) << b.statistic;
	auto c = anderson_darling_exponential(s, rate);
	EXPECT_FALSE(c.ok) << c.statistic;
	// Constant gaps (a periodic sender) are far from exponential.
	std::vector<double> periodic(5000, 1.0 / rate);
	EXPECT_FALSE(anderson_darling_exponential(periodic, rate).ok);
}

TEST(AndersonDarling, ExponentialRejectedAboutFivePercentOfTheTime)
{
	int rejected = 0, runs = 400;
	for (int run = 0; run < runs; run++) {
		std::mt19937_64 rng(9000 + run);
		std::exponential_distribution<double> ex(2.0);
		std::vector<double> v(500);
		for (auto &x : v)
			x = ex(rng);
		rejected += !anderson_darling_exponential(v, 2.0).ok;
	}
	EXPECT_GE(rejected, 6);
	EXPECT_LE(rejected, 40);
}
