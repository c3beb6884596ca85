// SPDX-License-Identifier: GPL-2.0-only
#include "stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

namespace crab::bench {

// ---- histogram ---------------------------------------------------------------

size_t LatencyHistogram::bucket_of(uint64_t ns)
{
	if (ns < 2 * kSub)
		return static_cast<size_t>(ns);
	unsigned e = 63 - static_cast<unsigned>(std::countl_zero(ns)); // >= kSubBits + 1
	unsigned shift = e - kSubBits;
	uint64_t top = ns >> shift; // in [kSub, 2*kSub)
	return static_cast<size_t>(shift) * kSub + static_cast<size_t>(top);
}

uint64_t LatencyHistogram::bucket_lower(size_t b)
{
	if (b < kSub)
		return b;
	unsigned shift = static_cast<unsigned>(b / kSub) - 1;
	return (kSub + b % kSub) << shift;
}

uint64_t LatencyHistogram::bucket_upper(size_t b)
{
	if (b < kSub)
		return b + 1;
	unsigned shift = static_cast<unsigned>(b / kSub) - 1;
	uint64_t lo = bucket_lower(b);
	uint64_t w = uint64_t{1} << shift;
	return lo > UINT64_MAX - w ? UINT64_MAX : lo + w;
}

void LatencyHistogram::record(uint64_t ns)
{
	counts_[bucket_of(ns)]++;
	total_++;
	min_ = std::min(min_, ns);
	max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram &o)
{
	for (size_t i = 0; i < kBuckets; i++)
		counts_[i] += o.counts_[i];
	total_ += o.total_;
	min_ = std::min(min_, o.min_);
	max_ = std::max(max_, o.max_);
}

uint64_t LatencyHistogram::percentile(double p) const
{
	if (total_ == 0)
		return 0;
	auto rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(total_)));
	rank = std::clamp<uint64_t>(rank, 1, total_);
	uint64_t seen = 0;
	for (size_t b = 0; b < kBuckets; b++) {
		seen += counts_[b];
		if (seen >= rank) {
			uint64_t lo = bucket_lower(b), hi = bucket_upper(b);
			uint64_t mid = lo + (hi - lo) / 2;
			return std::clamp(mid, min_, max_);
		}
	}
	return max_;
}

void LatencyHistogram::for_each(const std::function<void(uint64_t, uint64_t, uint64_t)> &fn) const
{
	for (size_t b = 0; b < kBuckets; b++)
		if (counts_[b])
			fn(bucket_lower(b), bucket_upper(b), counts_[b]);
}

// ---- percentiles ---------------------------------------------------------------

uint64_t percentile_sorted(std::span<const uint64_t> sorted, double p)
{
	if (sorted.empty())
		return 0;
	auto n = static_cast<double>(sorted.size());
	auto rank = static_cast<long long>(std::ceil(p * n - 1e-9)); // np exact for p*n integral
	rank = std::clamp<long long>(rank, 1, static_cast<long long>(sorted.size()));
	return sorted[static_cast<size_t>(rank - 1)];
}

RankInterval percentile_ci_ranks(size_t n, double p)
{
	RankInterval r;
	double np = static_cast<double>(n) * p;
	double h = 1.96 * std::sqrt(np * (1.0 - p));
	r.j = static_cast<long long>(std::floor(np - h));
	r.k = static_cast<long long>(std::ceil(np + h)) + 1;
	r.valid = n > 0 && r.j >= 1 && r.k <= static_cast<long long>(n);
	return r;
}

// ---- ADF -----------------------------------------------------------------------

double mackinnon_5pct_constant(size_t nobs)
{
	double t = static_cast<double>(nobs);
	return -2.86154 - 2.8903 / t - 4.234 / (t * t) - 40.040 / (t * t * t);
}

int adf_default_lags(size_t n)
{
	return std::min(8, static_cast<int>(std::floor(std::cbrt(static_cast<double>(n)))));
}

namespace {

// Solve A x = b for symmetric positive definite A (k x k, row-major) by
// Cholesky; false when A is not positive definite (a singular design).
bool cholesky_solve(std::vector<long double> a, size_t k, std::vector<long double> &x)
{
	for (size_t j = 0; j < k; j++) {
		long double d = a[j * k + j];
		for (size_t m = 0; m < j; m++)
			d -= a[j * k + m] * a[j * k + m];
		if (!(d > 1e-18L * std::max<long double>(1.0L, std::fabs(a[j * k + j]))))
			return false;
		d = std::sqrt(d);
		a[j * k + j] = d;
		for (size_t i = j + 1; i < k; i++) {
			long double s = a[i * k + j];
			for (size_t m = 0; m < j; m++)
				s -= a[i * k + m] * a[j * k + m];
			a[i * k + j] = s / d;
		}
	}
	// L y = b, then L^T x = y
	for (size_t i = 0; i < k; i++) {
		long double s = x[i];
		for (size_t m = 0; m < i; m++)
			s -= a[i * k + m] * x[m];
		x[i] = s / a[i * k + i];
	}
	for (size_t i = k; i-- > 0;) {
		long double s = x[i];
		for (size_t m = i + 1; m < k; m++)
			s -= a[m * k + i] * x[m];
		x[i] = s / a[i * k + i];
	}
	return true;
}

} // namespace

AdfResult adf_test(std::span<const double> y_in, int lags)
{
	AdfResult r;
	r.lags = std::max(0, lags);
	size_t n = y_in.size();
	auto L = static_cast<size_t>(r.lags);
	size_t k = L + 2; // constant, y_{t-1}, L lagged differences
	if (n < L + k + 10)
		return r;
	// Demeaning changes neither g nor its t-ratio (the constant absorbs it)
	// and keeps the normal equations well conditioned.
	double mean = std::accumulate(y_in.begin(), y_in.end(), 0.0) / static_cast<double>(n);
	std::vector<double> y(n), dy(n, 0.0);
	for (size_t i = 0; i < n; i++)
		y[i] = y_in[i] - mean;
	for (size_t i = 1; i < n; i++)
		dy[i] = y[i] - y[i - 1];

	std::vector<long double> xtx(k * k, 0.0L), xty(k, 0.0L);
	std::vector<double> row(k);
	auto fill = [&](size_t t) {
		row[0] = 1.0;
		row[1] = y[t - 1];
		for (size_t i = 1; i <= L; i++)
			row[1 + i] = dy[t - i];
	};
	for (size_t t = L + 1; t < n; t++) {
		fill(t);
		for (size_t a = 0; a < k; a++) {
			xty[a] += static_cast<long double>(row[a]) * dy[t];
			for (size_t b = 0; b <= a; b++)
				xtx[a * k + b] += static_cast<long double>(row[a]) * row[b];
		}
	}
	for (size_t a = 0; a < k; a++)
		for (size_t b = a + 1; b < k; b++)
			xtx[a * k + b] = xtx[b * k + a];
	r.nobs = n - 1 - L;

	std::vector<long double> beta = xty;
	if (!cholesky_solve(xtx, k, beta))
		return r;
	std::vector<long double> e1(k, 0.0L);
	e1[1] = 1.0L;
	if (!cholesky_solve(xtx, k, e1)) // e1 := column 1 of (X'X)^-1
		return r;
	long double sse = 0;
	for (size_t t = L + 1; t < n; t++) {
		fill(t);
		long double fit = 0;
		for (size_t a = 0; a < k; a++)
			fit += beta[a] * row[a];
		long double e = dy[t] - fit;
		sse += e * e;
	}
	long double s2 = sse / static_cast<long double>(r.nobs - k);
	long double var = s2 * e1[1];
	if (!(var > 0))
		return r;
	r.statistic = static_cast<double>(beta[1] / std::sqrt(var));
	r.critical_5pct = mackinnon_5pct_constant(r.nobs);
	r.stationary = r.statistic < r.critical_5pct;
	r.valid = std::isfinite(r.statistic);
	return r;
}

// ---- rank autocorrelation --------------------------------------------------------

RankAutocorr rank_autocorr_lag1(std::span<const double> x)
{
	RankAutocorr r;
	size_t n = x.size();
	if (n < 3)
		return r;
	std::vector<size_t> idx(n);
	std::iota(idx.begin(), idx.end(), 0);
	std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
	std::vector<double> rank(n);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && x[idx[j + 1]] == x[idx[i]])
			j++;
		double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
		for (size_t m = i; m <= j; m++)
			rank[idx[m]] = avg;
		i = j + 1;
	}
	long double ma = 0, mb = 0;
	for (size_t t = 0; t + 1 < n; t++) {
		ma += rank[t];
		mb += rank[t + 1];
	}
	ma /= static_cast<long double>(n - 1);
	mb /= static_cast<long double>(n - 1);
	long double sab = 0, saa = 0, sbb = 0;
	for (size_t t = 0; t + 1 < n; t++) {
		long double a = rank[t] - ma, b = rank[t + 1] - mb;
		sab += a * b;
		saa += a * a;
		sbb += b * b;
	}
	if (!(saa > 0 && sbb > 0))
		return r; // constant series: no ranks to correlate
	r.rho = static_cast<double>(sab / std::sqrt(saa * sbb));
	r.threshold = 1.96 / std::sqrt(static_cast<double>(n));
	r.independent = std::fabs(r.rho) <= r.threshold;
	r.valid = true;
	return r;
}

// ---- Anderson-Darling --------------------------------------------------------------

AdResult anderson_darling_exponential(std::span<const double> x_in, double rate)
{
	AdResult r;
	size_t n = x_in.size();
	if (n < 5 || !(rate > 0))
		return r;
	std::vector<double> x(x_in.begin(), x_in.end());
	std::sort(x.begin(), x.end());
	// ln F(x) = ln(1 - e^{-rate x}) via expm1; ln(1 - F(x)) = -rate x exactly.
	// F(0) = 0 has ln -inf: floor it, a zero gap is a real misfit and must
	// weigh heavily but finitely.
	constexpr double kLnFloor = -745.0;
	long double s = 0;
	for (size_t i = 0; i < n; i++) {
		double lnf = std::log(-std::expm1(-rate * std::max(x[i], 0.0)));
		if (!std::isfinite(lnf) || lnf < kLnFloor)
			lnf = kLnFloor;
		double ln1mf = -rate * std::max(x[n - 1 - i], 0.0);
		s += static_cast<long double>(2 * i + 1) * (lnf + ln1mf);
	}
	r.statistic = static_cast<double>(-static_cast<long double>(n) - s / static_cast<long double>(n));
	r.ok = r.statistic < r.critical_5pct;
	r.valid = std::isfinite(r.statistic);
	return r;
}

} // namespace crab::bench
