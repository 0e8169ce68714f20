// Histogram range methods (-c mse | percentile:P | entropy), their histograms and their place in statistics files
// (docs/QUANTIZATION.md, sections 2 and 6).
#include "quantsim/quant/range_methods.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "quantsim/core/errors.h"
#include "quantsim/quant/fake_quant.h"
#include "quantsim/quant/histogram.h"
#include "quantsim/quant/quant_params.h"
#include "quantsim/quant/statistics_store.h"

namespace quantsim {
namespace {

enum class Shape { kLaplace, kGauss, kUniform };

std::vector<float> samples(Shape shape, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> exponential(1.0);
  std::normal_distribution<double> normal(0.3, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 2.0);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) {
    switch (shape) {
      case Shape::kLaplace: v = static_cast<float>(0.2 + (sign(rng) ? 1 : -1) * exponential(rng)); break;
      case Shape::kGauss: v = static_cast<float>(normal(rng)); break;
      case Shape::kUniform: v = static_cast<float>(uniform(rng)); break;
    }
  }
  return x;
}

at::Tensor column(const std::vector<float>& x) {
  return at::tensor(x, at::TensorOptions().dtype(at::kFloat)).view({static_cast<int64_t>(x.size()), 1});
}

// The per-tensor histogram of `x` as a collect would bin it (limit = max |x|).
Histogram histogram_of(const std::vector<float>& x) {
  double limit = 0.0;
  for (float v : x) limit = std::max(limit, std::abs(static_cast<double>(v)));
  HistogramAccumulator accumulator(limit, {limit});
  accumulator.observe(column(x));
  return accumulator.histograms().per_tensor;
}

double measured_mse(const at::Tensor& x, const ClipRange& range, int bits) {
  const at::Tensor q = fake_quant_per_tensor(x, static_cast<float>(range.lo), static_cast<float>(range.hi), bits);
  return (q.to(at::kDouble) - x.to(at::kDouble)).square().mean().item<double>();
}

TEST(RangeMethods, MseClippingBeatsEveryOtherClippingValueOnAGrid) {
  for (const Shape shape : {Shape::kLaplace, Shape::kGauss, Shape::kUniform}) {
    for (const Signedness signedness : {Signedness::kSigned, Signedness::kUnsigned}) {
      std::vector<float> x = samples(shape, 200000, 11 + static_cast<int>(shape));
      if (signedness == Signedness::kUnsigned) {
        for (float& v : x) v = std::max(v, 0.0f);  // a post-ReLU tensor
      }
      const at::Tensor tensor = column(x);
      const double min = *std::min_element(x.begin(), x.end()), max = *std::max_element(x.begin(), x.end());
      const Histogram histogram = histogram_of(x);
      for (int bits = 2; bits <= 8; ++bits) {
        const double t = mse_clipping_value(histogram, min, max, bits, signedness);
        const double chosen = measured_mse(tensor, histogram_clip_range(t, min, max, signedness), bits);
        double best_on_grid = std::numeric_limits<double>::infinity();
        double best_t = 0.0;
        for (int g = 1; g <= 300; ++g) {
          const double grid_t = histogram.limit * g / 300.0;
          const double error = measured_mse(tensor, histogram_clip_range(grid_t, min, max, signedness), bits);
          if (error < best_on_grid) best_on_grid = error, best_t = grid_t;
        }
        // The histogram's expected MSE (uniform within 2048-per-side bins) against the measured one: within 0.5 %.
        EXPECT_LE(chosen, best_on_grid * 1.005)
            << "shape " << static_cast<int>(shape) << " unsigned " << (signedness == Signedness::kUnsigned) << " bits "
            << bits << ": T " << t << " vs grid's best " << best_t;
        // Clipping matters: at low bits the chosen T is well inside the range.
        if (bits <= 3 && shape != Shape::kUniform) {
          EXPECT_LT(t, 0.8 * histogram.limit) << bits;
        }
      }
    }
  }
}

TEST(RangeMethods, ExpectedMseMatchesTheMeasuredMse) {
  const std::vector<float> x = samples(Shape::kGauss, 200000, 5);
  const Histogram histogram = histogram_of(x);
  for (int bits : {2, 4, 8}) {
    const ClipRange range{-2.0, 2.5};
    const double measured = measured_mse(column(x), range, bits);
    EXPECT_NEAR(expected_quantization_mse(histogram, range, bits), measured, 0.01 * measured) << bits;
  }
}

TEST(RangeMethods, PercentileEqualsTheSortedArrayPercentileWithinOneBin) {
  for (const Shape shape : {Shape::kLaplace, Shape::kGauss, Shape::kUniform}) {
    const std::vector<float> x = samples(shape, 100001, 3);
    const Histogram histogram = histogram_of(x);
    std::vector<double> sorted;
    for (float v : x) sorted.push_back(std::abs(static_cast<double>(v)));
    std::sort(sorted.begin(), sorted.end());
    for (const double p : {50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
      // Nearest rank: the smallest value with at least P % of all values at or below it.
      const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
      const double expected = sorted[std::max<size_t>(rank, 1) - 1];
      EXPECT_NEAR(percentile_clipping_value(histogram, p), expected, histogram.bin_width())
          << static_cast<int>(shape) << " P " << p;
    }
  }
  EXPECT_THROW(percentile_clipping_value(histogram_of({1.0f}), 0.0), UserError);
}

// The talk's procedure, written out directly: P = bins 0..i-1 plus the outliers in bin i-1; Q = the same bins (no
// outliers) summed into L groups of i / L bins (the last taking the remainder) and spread evenly over the bins whose
// P is non-empty; both smoothed (empty bins 1e-4, paid for evenly by the non-empty ones); argmin of KL(P || Q), the
// first on ties; threshold = i * bin width.
double reference_entropy_threshold(const std::vector<double>& bins, double width, int levels) {
  const int n = static_cast<int>(bins.size());
  double best = INFINITY;
  int best_i = n;
  for (int i = levels; i <= n; ++i) {
    std::vector<double> p(bins.begin(), bins.begin() + i);
    for (int k = i; k < n; ++k) p[i - 1] += bins[k];
    const int merged = i / levels;
    std::vector<int> group(i);
    for (int k = 0; k < i; ++k) group[k] = std::min(k / merged, levels - 1);
    std::vector<double> group_sum(levels, 0.0), group_nonzero(levels, 0.0);
    for (int k = 0; k < i; ++k) {
      group_sum[group[k]] += bins[k];
      if (p[k] > 0) group_nonzero[group[k]] += 1;
    }
    std::vector<double> q(i, 0.0);
    for (int k = 0; k < i; ++k) {
      if (p[k] > 0) q[k] = group_sum[group[k]] / group_nonzero[group[k]];
    }
    const auto smoothed = [](std::vector<double> v) {
      const double zeros = static_cast<double>(std::count(v.begin(), v.end(), 0.0));
      const double nonzeros = static_cast<double>(v.size()) - zeros;
      for (double& e : v) e = e == 0 ? 1e-4 : e - 1e-4 * zeros / nonzeros;
      return v;
    };
    const bool q_empty = std::all_of(q.begin(), q.end(), [](double v) { return v == 0; });
    if (q_empty) continue;
    p = smoothed(p);
    q = smoothed(q);
    double sp = 0, sq = 0;
    for (int k = 0; k < i; ++k) sp += p[k], sq += q[k];
    double kl = 0;
    for (int k = 0; k < i; ++k) kl += p[k] / sp * std::log((p[k] / sp) / (q[k] / sq));
    if (kl < best) best = kl, best_i = i;
  }
  return best_i * width;
}

TEST(RangeMethods, EntropyMatchesAStraightforwardImplementationOfTheTalk) {
  // A known histogram: Laplace-shaped counts with a bump, a few empty bins and a long sparse tail; 2 * 512 bins.
  Histogram histogram;
  histogram.limit = 10.0;
  histogram.counts.assign(1024, 0);
  std::mt19937_64 rng(1);
  for (int j = 0; j < 512; ++j) {
    const double density = 1e5 * std::exp(-j / 40.0) + (j > 200 && j < 230 ? 300 : 0);
    const int64_t count = j > 300 ? (rng() % 7 == 0 ? 1 + static_cast<int64_t>(rng() % 3) : 0)
                                  : static_cast<int64_t>(density) + static_cast<int64_t>(rng() % 5);
    const bool empty = j % 37 == 5;
    histogram.counts[static_cast<size_t>(512 + j)] = empty ? 0 : count;
    histogram.counts[static_cast<size_t>(511 - j)] = empty ? 0 : count / 3;
  }
  std::vector<double> folded = histogram.abs_counts();
  folded[0] = folded[1];  // the zero bin takes its neighbour's count, as in pytorch-quantization
  for (int bits = 2; bits <= 8; ++bits) {
    for (const Signedness signedness : {Signedness::kSigned, Signedness::kUnsigned}) {
      const int levels = 1 << (signedness == Signedness::kUnsigned ? bits : bits - 1);
      const double expected = levels >= 512 ? histogram.limit
                                            : reference_entropy_threshold(folded, histogram.bin_width(), levels);
      EXPECT_DOUBLE_EQ(entropy_clipping_value(histogram, bits, signedness), expected) << bits;
    }
  }
  // A spike of exact zeros (a post-ReLU tensor) does not move T: the zero bin is replaced by its neighbour's count.
  Histogram spiked = histogram;
  spiked.counts[512] += 50 * histogram.total();
  for (int bits = 2; bits <= 6; ++bits) {
    EXPECT_DOUBLE_EQ(entropy_clipping_value(spiked, bits, Signedness::kUnsigned),
                     entropy_clipping_value(histogram, bits, Signedness::kUnsigned))
        << bits;
  }
  // Fewer bits clip harder.
  EXPECT_LT(entropy_clipping_value(histogram, 3, Signedness::kSigned),
            entropy_clipping_value(histogram, 8, Signedness::kSigned));
}

TEST(RangeMethods, RangesStayWithinTheExtremes) {
  EXPECT_EQ(histogram_clip_range(2.0, -0.5, 5.0, Signedness::kSigned).lo, -0.5);
  EXPECT_EQ(histogram_clip_range(2.0, -0.5, 5.0, Signedness::kSigned).hi, 2.0);
  EXPECT_EQ(histogram_clip_range(2.0, -3.0, 1.0, Signedness::kSigned).lo, -2.0);
  EXPECT_EQ(histogram_clip_range(2.0, 0.0, 1.0, Signedness::kUnsigned).hi, 1.0);
  EXPECT_EQ(histogram_clip_range(0.5, 0.0, 1.0, Signedness::kUnsigned).hi, 0.5);
}

TEST(RangeMethods, HistogramsBinEveryValueOncePerTensorAndChannel) {
  const at::Tensor batch = at::randn({3, 4, 5, 5}) * at::arange(1, 5, at::kFloat).view({1, 4, 1, 1});
  const at::Tensor reach = batch.abs().amax({0, 2, 3}).to(at::kDouble);
  std::vector<double> limits(reach.data_ptr<double>(), reach.data_ptr<double>() + 4);
  HistogramAccumulator cpu(batch.abs().max().item<double>(), limits, 64, 16);
  cpu.observe(batch);
  HistogramAccumulator aten(batch.abs().max().item<double>(), limits, 64, 16);
  aten.observe(batch.to(at::kDouble));  // not float32: the ATen path
  EXPECT_EQ(cpu.histograms().per_tensor.total(), 300);
  EXPECT_EQ(cpu.histograms().per_tensor.counts, aten.histograms().per_tensor.counts);
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_EQ(cpu.histograms().per_channel[c].total(), 75);
    EXPECT_EQ(cpu.histograms().per_channel[c].counts, aten.histograms().per_channel[c].counts) << c;
  }
}

TEST(RangeMethods, CountsEncodingRoundTripsAndRefusesBadText) {
  const std::vector<int64_t> counts = {0, 0, 0, 5, 1, 0, 127, 128, 1LL << 40, 0, 0, 3, 0};
  EXPECT_EQ(decode_counts(encode_counts(counts), counts.size()), counts);
  EXPECT_EQ(decode_counts(encode_counts(std::vector<int64_t>(4096, 0)), 4096), std::vector<int64_t>(4096, 0));
  EXPECT_LT(encode_counts(std::vector<int64_t>(4096, 0)).size(), 8u);
  EXPECT_THROW(decode_counts(encode_counts(counts), counts.size() + 1), std::invalid_argument);
  EXPECT_THROW(decode_counts(encode_counts(counts), counts.size() - 1), std::invalid_argument);
  for (const char* bad : {"A", "!!!!", "////", "gA=="}) EXPECT_THROW(decode_counts(bad, 3), std::invalid_argument);
}

// A statistics file with one site of shape [2, 3] over 4 images, histograms included.
Statistics statistics_with_histograms() {
  Statistics statistics;
  statistics.metadata = {"ab", "m.pt", "m", "outputs", "d", 4, 2, false, "0", "now"};
  at::Tensor values = at::randn({4, 2, 3});
  SiteStatistics site{"conv", {2, 3}, dynamic_batch_stats(values)};
  StatsAccumulator accumulator;
  accumulator.collect_histograms();
  accumulator.observe(values);
  accumulator.finish_first_pass();
  accumulator.observe_abs_deviation(values);
  site.stats = accumulator.finish();
  statistics.sites.push_back(site);
  return statistics;
}

TEST(RangeMethods, HistogramsRoundTripThroughTheStatisticsFile) {
  const Statistics statistics = statistics_with_histograms();
  const Statistics loaded = statistics_from_json(statistics_to_json(statistics), "s.json");
  ASSERT_TRUE(loaded.sites[0].stats.histograms);
  const SiteHistograms& a = *statistics.sites[0].stats.histograms;
  const SiteHistograms& b = *loaded.sites[0].stats.histograms;
  EXPECT_EQ(a.per_tensor.limit, b.per_tensor.limit);
  EXPECT_EQ(a.per_tensor.counts, b.per_tensor.counts);
  EXPECT_EQ(b.per_tensor.total(), 24);
  ASSERT_EQ(b.per_channel.size(), 2u);
  for (size_t c = 0; c < 2; ++c) {
    EXPECT_EQ(a.per_channel[c].limit, b.per_channel[c].limit);
    EXPECT_EQ(a.per_channel[c].counts, b.per_channel[c].counts);
  }
}

std::string load_error(const nlohmann::json& document) {
  try {
    statistics_from_json(document.dump(), "s.json");
  } catch (const UserError& error) {
    return error.what();
  }
  return "";
}

TEST(RangeMethods, InvalidHistogramsAreRefusedOnLoad) {
  const nlohmann::json original = nlohmann::json::parse(statistics_to_json(statistics_with_histograms()));
  const auto changed = [&](auto change) {
    nlohmann::json document = original;
    change(document["sites"][0]);
    return load_error(document);
  };
  EXPECT_EQ(changed([](nlohmann::json&) {}), "");
  // One count more: the sum is not the values seen.
  EXPECT_NE(changed([](nlohmann::json& site) {
              std::vector<int64_t> counts = decode_counts(site["histogram"]["counts"], 4096);
              counts[2048] += 1;
              site["histogram"]["counts"] = encode_counts(counts);
            }).find("sum to 25, the statistics saw 24 values"),
            std::string::npos);
  EXPECT_NE(changed([](nlohmann::json& site) { site["histogram"]["limit"] = 1e-3; }).find("below max(|min|, |max|)"),
            std::string::npos);
  EXPECT_NE(changed([](nlohmann::json& site) {
              site["per_channel_histogram"]["counts"][1] = "%%%%";
            }).find("per_channel_histogram[1].counts"),
            std::string::npos);
  EXPECT_NE(changed([](nlohmann::json& site) { site["per_channel_histogram"]["bins"] = 7; }).find("odd"),
            std::string::npos);
  EXPECT_NE(changed([](nlohmann::json& site) {
              site["per_channel_histogram"]["limit"] = {1.0};
            }).find("should list 2 channels"),
            std::string::npos);
  // Counts moved to a bin far beyond the extremes.
  EXPECT_NE(changed([](nlohmann::json& site) { site["histogram"]["limit"] = 1e3; }).find("outside [min, max]"),
            std::string::npos);
}

TEST(RangeMethods, VersionOneStatisticsAreRefusedAsHavingNoHistograms) {
  nlohmann::json document = nlohmann::json::parse(statistics_to_json(statistics_with_histograms()));
  document["schema_version"] = 1;
  const std::string error = load_error(document);
  EXPECT_NE(error.find("s.json: statistics schema version 1 has no histograms"), std::string::npos) << error;
  EXPECT_NE(error.find("run -sm collect again"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(RangeMethods, QuantParamsUseTheHistogramsOrSayTheyAreMissing) {
  const Statistics statistics = statistics_with_histograms();
  TensorQuantRequest request;
  request.bits = 4;
  request.stats_kind = StatsKind::kMax;
  for (const char* method : {"mse", "entropy", "percentile:90"}) {
    request.clipping = *parse_clipping(method);
    for (bool per_channel : {false, true}) {
      request.per_channel = per_channel;
      const QuantParams params = compute_quant_params(request, statistics.sites[0].stats, nullptr);
      const TensorStats& s = statistics.sites[0].stats.per_tensor;
      if (!per_channel) {
        EXPECT_GE(params.range.lo, s.min) << method;
        EXPECT_LE(params.range.hi, s.max) << method;
      } else {
        EXPECT_EQ(params.lo.size(), 2u);
      }
    }
    ChannelwiseStats without = statistics.sites[0].stats;
    without.histograms.reset();
    try {
      compute_quant_params(request, without, nullptr);
      ADD_FAILURE() << method;
    } catch (const UserError& error) {
      EXPECT_NE(std::string(error.what()).find("needs the histograms"), std::string::npos);
    }
  }
}

TEST(RangeMethods, ClippingNamesParseAndPrint) {
  EXPECT_EQ(parse_clipping("mse")->kind, Clipping::Kind::kMse);
  EXPECT_EQ(parse_clipping("entropy")->kind, Clipping::Kind::kEntropy);
  const std::optional<Clipping> p = parse_clipping("percentile:99.99");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, Clipping::Kind::kPercentile);
  EXPECT_EQ(p->percentile, 99.99);
  EXPECT_EQ(to_string(*p), "percentile:99.99");
  EXPECT_EQ(to_string(*parse_clipping("percentile:100")), "percentile:100");
  for (const char* bad :
       {"percentile:", "percentile:0", "percentile:100.5", "percentile:-1", "percentile:1e2", "percentile", "mse:3"}) {
    EXPECT_FALSE(parse_clipping(bad)) << bad;
  }
}

}  // namespace
}  // namespace quantsim
