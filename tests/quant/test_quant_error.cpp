// The MSE / SQNR accumulator of --layer-report against a direct computation over the concatenated batches.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "quantsim/quant/quant_error.h"

namespace quantsim {
namespace {

// A reference tensor and a coarse rounding of it, standing in for a quantized tensor.
struct Pair {
  at::Tensor reference, approximation;
};

Pair make_pair(int64_t batch, double scale) {
  const at::Tensor x = at::randn({batch, 3, 4, 5}) * scale + 0.2;
  return {x, at::round(x * 4.0) / 4.0};
}

TEST(QuantError, SumsOverBatchesOfDifferentSizesMatchTheDirectComputation) {
  at::manual_seed(3);
  // Batches of different sizes and spreads: per-batch means of MSE or SQNR would differ from the totals.
  const std::vector<Pair> batches = {make_pair(2, 1.0), make_pair(7, 3.0), make_pair(1, 0.1)};
  QuantErrorAccumulator accumulator;
  std::vector<at::Tensor> xs, qs;
  for (const Pair& p : batches) {
    accumulator.add(p.reference, p.approximation);
    xs.push_back(p.reference);
    qs.push_back(p.approximation);
  }
  const at::Tensor x = at::cat(xs).to(at::kDouble);
  const at::Tensor q = at::cat(qs).to(at::kDouble);
  const double noise = (x - q).square().sum().item<double>();
  const double signal = x.square().sum().item<double>();
  ASSERT_GT(noise, 0.0);
  EXPECT_EQ(accumulator.count(), x.numel());
  // float32 squares and sums within a batch: agreement to float rounding.
  EXPECT_NEAR(accumulator.signal_energy(), signal, 1e-6 * signal);
  EXPECT_NEAR(accumulator.noise_energy(), noise, 1e-6 * noise);
  EXPECT_NEAR(accumulator.mse(), (x - q).square().mean().item<double>(), 1e-6 * accumulator.mse());
  ASSERT_TRUE(accumulator.sqnr_db().has_value());
  EXPECT_NEAR(*accumulator.sqnr_db(), 10.0 * std::log10(signal / noise), 1e-5);

  double mean_of_batch_mse = 0.0;  // what the accumulator must not compute
  for (const Pair& p : batches) {
    mean_of_batch_mse += (p.reference - p.approximation).square().mean().item<double>() / batches.size();
  }
  EXPECT_GT(std::abs(mean_of_batch_mse - accumulator.mse()), 1e-3 * accumulator.mse());
}

TEST(QuantError, NoErrorHasZeroMseAndNoFiniteSqnr) {
  QuantErrorAccumulator accumulator;
  EXPECT_EQ(accumulator.mse(), 0.0);
  EXPECT_FALSE(accumulator.sqnr_db().has_value());
  const at::Tensor x = at::arange(10, at::kFloat);
  accumulator.add(x, x.clone());
  EXPECT_EQ(accumulator.mse(), 0.0);
  EXPECT_FALSE(accumulator.sqnr_db().has_value());  // infinite
}

// The layer report starts its accumulators afresh by assigning new ones (LayerReportRecorder::reset).
TEST(QuantError, ResetForgetsEverything) {
  QuantErrorAccumulator accumulator;
  accumulator.add(at::ones({4}), at::zeros({4}));
  EXPECT_EQ(accumulator.mse(), 1.0);
  accumulator = QuantErrorAccumulator();
  EXPECT_EQ(accumulator.count(), 0);
  EXPECT_EQ(accumulator.noise_energy(), 0.0);
}

TEST(QuantError, ShapesMustAgree) {
  QuantErrorAccumulator accumulator;
  EXPECT_THROW(accumulator.add(at::ones({4}), at::ones({5})), std::invalid_argument);
}

}  // namespace
}  // namespace quantsim
