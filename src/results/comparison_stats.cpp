#include "quantsim/results/comparison_stats.h"

#include <algorithm>
#include <cmath>

namespace quantsim {

std::pair<double, double> wilson_interval_percent(int64_t hits, int64_t trials, double z) {
  if (trials <= 0) return {0.0, 100.0};
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(hits) / n;
  const double z2 = z * z;
  const double denominator = 1.0 + z2 / n;
  const double center = (p + z2 / (2.0 * n)) / denominator;
  const double half = z / denominator * std::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
  // At 0 and all hits the bound is 0 or 1 exactly in real arithmetic; rounding would leave 1e-17 off it.
  const double lo = hits == 0 ? 0.0 : std::max(0.0, center - half);
  const double hi = hits == trials ? 1.0 : std::min(1.0, center + half);
  return {100.0 * lo, 100.0 * hi};
}

double mcnemar_exact_p(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  const int64_t k = std::min(b, c);
  // P(X <= k) for X ~ Binomial(n, 1/2): sum of C(n, i) / 2^n, each term from lgamma, added from the largest (i = k)
  // down so that the sum loses nothing to terms far below it.
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  const double nd = static_cast<double>(n);
  double sum = 0.0;
  for (int64_t i = k; i >= 0; --i) {
    const double id = static_cast<double>(i);
    const double term = std::exp(std::lgamma(nd + 1) - std::lgamma(id + 1) - std::lgamma(nd - id + 1) + log_half_n);
    sum += term;
    if (term < sum * 1e-18) break;  // the rest cannot change the double
  }
  return std::min(1.0, 2.0 * sum);
}

}  // namespace quantsim
