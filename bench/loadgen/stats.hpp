// SPDX-License-Identifier: GPL-2.0-only
//
// Statistics of the CRAB load generator (BENCHMARKING.md): a log-linear
// latency histogram, exact percentiles and their order-statistic confidence
// interval, and the checks a sample series must pass before it is trusted
// (ADF stationarity, Spearman rank autocorrelation, Anderson-Darling fit of
// inter-arrival times to the requested exponential distribution).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace crab::bench {

// Log-linear histogram of nanosecond values. Values below 256 ns get one
// bucket each; above, every power of two is split into 128 equal buckets, so
// a bucket is never wider than 1/128 (0.78 %) of its lower bound.
class LatencyHistogram {
public:
	static constexpr unsigned kSubBits = 7;                   // 128 sub-buckets
	static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
	static constexpr size_t kBuckets = (64 - kSubBits + 1) * kSub; // to 2^64 ns

	LatencyHistogram() : counts_(kBuckets, 0) {}

	static size_t bucket_of(uint64_t ns);
	static uint64_t bucket_lower(size_t b);
	// Exclusive upper bound (saturates at UINT64_MAX for the last bucket).
	static uint64_t bucket_upper(size_t b);

	void record(uint64_t ns);
	void merge(const LatencyHistogram &o);
	uint64_t count() const { return total_; }
	uint64_t min() const { return min_; }
	uint64_t max() const { return max_; }
	// Nearest-rank percentile, reported as the bucket's midpoint (clamped to
	// [min, max]); p in [0, 1].
	uint64_t percentile(double p) const;
	// Calls fn(bucket_lower_ns, bucket_upper_ns, count) for non-empty buckets.
	void for_each(const std::function<void(uint64_t, uint64_t, uint64_t)> &fn) const;

private:
	std::vector<uint64_t> counts_;
	uint64_t total_ = 0;
	uint64_t min_ = UINT64_MAX;
	uint64_t max_ = 0;
};

// Nearest-rank percentile of ascending samples: the ceil(n*p)-th (1-based).
uint64_t percentile_sorted(std::span<const uint64_t> sorted, double p);

// 95 % confidence interval of percentile p from n i.i.d. samples, as 1-based
// ranks of the sorted samples (Le Boudec, "Performance Evaluation of Computer
// and Communication Systems", Thm. 2.1; BENCHMARKING.md):
//   j = floor(np - 1.96 sqrt(np(1-p))),  k = ceil(np + 1.96 sqrt(np(1-p))) + 1.
// valid is false when j < 1 or k > n: too few samples for that percentile.
struct RankInterval {
	bool valid = false;
	long long j = 0;
	long long k = 0;
};
RankInterval percentile_ci_ranks(size_t n, double p);

// Augmented Dickey-Fuller test, regression with a constant:
//   dy_t = a + g*y_{t-1} + sum_{i=1..lags} d_i*dy_{t-i} + e_t
// statistic = t-ratio of g; H0 (unit root) is rejected, i.e. the series is
// called stationary, when statistic < MacKinnon's 5 % critical value.
struct AdfResult {
	bool valid = false;  // false: too few observations or singular design
	double statistic = 0;
	double critical_5pct = 0;
	int lags = 0;
	size_t nobs = 0;     // observations in the regression
	bool stationary = false;
};
AdfResult adf_test(std::span<const double> y, int lags);
// "A few lags": floor(cbrt(n)), at most 8.
int adf_default_lags(size_t n);
// MacKinnon (2010) response surface, constant and no trend, one variable,
// 5 %: -2.86154 - 2.8903/T - 4.234/T^2 - 40.040/T^3.
double mackinnon_5pct_constant(size_t nobs);

// Spearman rank autocorrelation at lag 1: the Pearson correlation of the
// (average-)ranks r_t and r_{t+1}. Under independence it is ~N(0, 1/n);
// independent is |rho| <= 1.96/sqrt(n).
struct RankAutocorr {
	bool valid = false;
	double rho = 0;
	double threshold = 0;
	bool independent = false;
};
RankAutocorr rank_autocorr_lag1(std::span<const double> x);

// Anderson-Darling test of x against the fully specified exponential
// distribution F(x) = 1 - exp(-rate*x). Critical value for a fully specified
// distribution (case 0) at 5 %: 2.492. ok = statistic < critical.
struct AdResult {
	bool valid = false;
	double statistic = 0;
	double critical_5pct = 2.492;
	bool ok = false;
};
AdResult anderson_darling_exponential(std::span<const double> x, double rate);

} // namespace crab::bench
