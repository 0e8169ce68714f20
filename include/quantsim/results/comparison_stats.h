#pragma once
// The statistics of comparing accuracies (docs/QUANTIZATION.md, section "Statistics of comparisons"): the Wilson
// score interval of one accuracy (Wilson 1927) and the exact McNemar test of two runs on the same images
// (McNemar 1947).
#include <cstdint>
#include <utility>

namespace quantsim {

// z of a two-sided 95% interval: the 0.975 quantile of the standard normal distribution.
constexpr double kZ95 = 1.959963984540054;

// The Wilson score interval of `hits` successes in `trials` (trials >= 1), in percent: [lo, hi] within [0, 100].
// Unlike the normal ("Wald") interval it is never empty at 0 or all hits and never leaves [0, 100].
std::pair<double, double> wilson_interval_percent(int64_t hits, int64_t trials, double z = kZ95);

// McNemar's test on paired outcomes: `b` images only run A got right, `c` only run B got right. The exact two-sided
// p-value of the binomial test of b against Binomial(b + c, 1/2): min(1, 2 P(X <= min(b, c))); 1 when b + c = 0.
// Each term from lgamma, so it is accurate to about 1e-10 relative for any count a results line may hold.
double mcnemar_exact_p(int64_t b, int64_t c);

}  // namespace quantsim
