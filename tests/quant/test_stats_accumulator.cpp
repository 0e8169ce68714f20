// StatsAccumulator and dynamic_batch_stats against a direct double-precision computation over the concatenated
// calibration data.
#include "quantsim/quant/stats_accumulator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace quantsim {
namespace {

// Direct reference: every statistic of `values` (one row per channel, or one row for the whole tensor) in double.
std::vector<TensorStats> reference_rows(const at::Tensor& rows) {
  const at::Tensor x = rows.to(at::kDouble);
  const at::Tensor mean = x.mean(1, /*keepdim=*/true);
  const at::Tensor std = (x - mean).square().mean(1).sqrt();
  const at::Tensor b = (x - mean).abs().mean(1);
  const at::Tensor min = std::get<0>(x.min(1));
  const at::Tensor max = std::get<0>(x.max(1));
  std::vector<TensorStats> stats(static_cast<size_t>(x.size(0)));
  for (int64_t r = 0; r < x.size(0); ++r) {
    TensorStats& s = stats[static_cast<size_t>(r)];
    s.mean = mean[r][0].item<double>();
    s.std = std[r].item<double>();
    s.b = b[r].item<double>();
    s.min = min[r].item<double>();
    s.max = max[r].item<double>();
  }
  return stats;
}

// Channel c's values of an [N, C, ...] tensor as row c.
at::Tensor channel_rows(const at::Tensor& data) { return data.transpose(0, 1).reshape({data.size(1), -1}); }

// Equal-weight mean over batches of the batches' extremes, per channel and per tensor.
struct BatchExtremes {
  std::vector<double> channel_min, channel_max;
  double tensor_min = 0.0, tensor_max = 0.0;
};

BatchExtremes reference_batch_extremes(const at::Tensor& data, int64_t batch_size) {
  const auto batches = data.split(batch_size, 0);
  const auto count = static_cast<double>(batches.size());
  BatchExtremes extremes;
  extremes.channel_min.assign(static_cast<size_t>(data.size(1)), 0.0);
  extremes.channel_max.assign(static_cast<size_t>(data.size(1)), 0.0);
  for (const at::Tensor& batch : batches) {
    const at::Tensor rows = channel_rows(batch).to(at::kDouble);
    for (int64_t c = 0; c < data.size(1); ++c) {
      extremes.channel_min[static_cast<size_t>(c)] += rows[c].min().item<double>() / count;
      extremes.channel_max[static_cast<size_t>(c)] += rows[c].max().item<double>() / count;
    }
    extremes.tensor_min += batch.min().item<double>() / count;
    extremes.tensor_max += batch.max().item<double>() / count;
  }
  return extremes;
}

ChannelwiseStats accumulate(const at::Tensor& data, int64_t batch_size) {
  StatsAccumulator accumulator;
  for (const at::Tensor& batch : data.split(batch_size, 0)) accumulator.observe(batch);
  accumulator.finish_first_pass();
  // The second pass deliberately uses another batching: b must not depend on it.
  for (const at::Tensor& batch : data.split(batch_size + 3, 0)) accumulator.observe_abs_deviation(batch);
  return accumulator.finish();
}

void expect_relatively_near(double actual, double expected, double relative, const char* what) {
  EXPECT_NEAR(actual, expected, relative * std::abs(expected) + 1e-12) << what;
}

void expect_moments_near(const TensorStats& actual, const TensorStats& expected, double relative) {
  expect_relatively_near(actual.mean, expected.mean, relative, "mean");
  expect_relatively_near(actual.std, expected.std, relative, "std");
  expect_relatively_near(actual.b, expected.b, relative, "b");
  EXPECT_EQ(actual.min, expected.min);
  EXPECT_EQ(actual.max, expected.max);
}

void expect_matches_reference(const ChannelwiseStats& stats, const at::Tensor& data, double relative) {
  const std::vector<TensorStats> channels = reference_rows(channel_rows(data));
  ASSERT_EQ(stats.per_channel.size(), channels.size());
  for (size_t c = 0; c < channels.size(); ++c) {
    SCOPED_TRACE("channel " + std::to_string(c));
    expect_moments_near(stats.per_channel[c], channels[c], relative);
  }
  SCOPED_TRACE("per tensor");
  expect_moments_near(stats.per_tensor, reference_rows(data.reshape({1, -1}))[0], relative);
}

// Channels with different offsets and scales, so that per-channel and per-tensor statistics really differ.
at::Tensor calibration_data(std::vector<int64_t> shape, double offset = 0.0) {
  at::manual_seed(42);
  const int64_t channels = shape[1];
  std::vector<int64_t> channel_shape(shape.size(), 1);
  channel_shape[1] = channels;
  const at::Tensor scale = at::linspace(0.5, 3.0, channels, at::kFloat).view(channel_shape);
  const at::Tensor shift = at::linspace(-2.0, 2.0, channels, at::kFloat).view(channel_shape);
  return at::randn(shape, at::kFloat) * scale + shift + offset;
}

TEST(StatsAccumulator, MatchesDirectComputationForNchw) {
  const at::Tensor data = calibration_data({40, 5, 9, 7});  // plane of 63 values: vector loop and tail
  expect_matches_reference(accumulate(data, 16), data, 1e-9);
}

TEST(StatsAccumulator, MatchesDirectComputationForLargePlanesSplitAcrossThreads) {
  const at::Tensor data = calibration_data({6, 8, 56, 56});
  expect_matches_reference(accumulate(data, 4), data, 1e-9);
}

TEST(StatsAccumulator, MatchesDirectComputationForNcColumns) {
  const at::Tensor data = calibration_data({50, 6});
  const ChannelwiseStats stats = accumulate(data, 8);
  expect_matches_reference(stats, data, 1e-9);
  // A column is a channel: channel 2 is exactly data[:, 2].
  EXPECT_EQ(stats.per_channel[2].max, data.select(1, 2).max().item<double>());
}

TEST(StatsAccumulator, PerTensorBUsesTheTensorMeanNotTheChannelMeans) {
  // Two constant channels, -1 and +1: each channel has b = 0, the tensor b = 1 about its mean 0.
  const at::Tensor data = at::cat({at::full({4, 1, 3, 3}, -1.0f), at::full({4, 1, 3, 3}, 1.0f)}, 1);
  const ChannelwiseStats stats = accumulate(data, 2);
  EXPECT_EQ(stats.per_channel[0].b, 0.0);
  EXPECT_EQ(stats.per_channel[1].std, 0.0);
  EXPECT_DOUBLE_EQ(stats.per_tensor.b, 1.0);
  EXPECT_DOUBLE_EQ(stats.per_tensor.std, 1.0);
  EXPECT_DOUBLE_EQ(stats.per_tensor.mean, 0.0);
}

TEST(StatsAccumulator, IndependentOfBatchSizeExceptBatchExtremes) {
  const at::Tensor data = calibration_data({64, 4, 6, 6});
  const ChannelwiseStats whole = accumulate(data, 64);
  for (const int64_t batch_size : {1, 7, 64}) {
    SCOPED_TRACE("batch size " + std::to_string(batch_size));
    const ChannelwiseStats stats = accumulate(data, batch_size);
    for (size_t c = 0; c < stats.per_channel.size(); ++c) {
      expect_moments_near(stats.per_channel[c], whole.per_channel[c], 1e-9);
    }
    expect_moments_near(stats.per_tensor, whole.per_tensor, 1e-9);

    const BatchExtremes extremes = reference_batch_extremes(data, batch_size);
    for (size_t c = 0; c < stats.per_channel.size(); ++c) {
      expect_relatively_near(stats.per_channel[c].min_batch_mean, extremes.channel_min[c], 1e-12, "channel min");
      expect_relatively_near(stats.per_channel[c].max_batch_mean, extremes.channel_max[c], 1e-12, "channel max");
    }
    expect_relatively_near(stats.per_tensor.min_batch_mean, extremes.tensor_min, 1e-12, "tensor min");
    expect_relatively_near(stats.per_tensor.max_batch_mean, extremes.tensor_max, 1e-12, "tensor max");
  }
  // With one batch, the mean of batch extremes is the global extreme; with 64 batches it is well inside.
  EXPECT_EQ(whole.per_tensor.max_batch_mean, whole.per_tensor.max);
  EXPECT_LT(accumulate(data, 1).per_tensor.max_batch_mean, whole.per_tensor.max);
}

TEST(StatsAccumulator, AccurateStdFarFromZero) {
  // mean 1e4, std ~1: a float sum of squares would lose every digit of the variance.
  const at::Tensor data = calibration_data({32, 3, 16, 16}, 1e4);
  const ChannelwiseStats stats = accumulate(data, 5);
  expect_matches_reference(stats, data, 1e-9);
  EXPECT_NEAR(stats.per_channel[0].std, 0.5, 0.02);
  EXPECT_NEAR(stats.per_channel[0].mean, 1e4 - 2.0, 0.05);
}

TEST(StatsAccumulator, NonContiguousBatchGivesTheSameStatistics) {
  const at::Tensor data = calibration_data({8, 3, 5, 5});
  const at::Tensor channels_last = data.contiguous(at::MemoryFormat::ChannelsLast);
  ASSERT_FALSE(channels_last.is_contiguous());
  const ChannelwiseStats expected = accumulate(data, 8);
  const ChannelwiseStats actual = accumulate(channels_last, 8);
  for (size_t c = 0; c < expected.per_channel.size(); ++c) {
    expect_moments_near(actual.per_channel[c], expected.per_channel[c], 0.0);
  }
}

TEST(StatsAccumulator, DoubleInputTakesTheAtenPathWithTheSameResults) {
  const at::Tensor data = calibration_data({12, 4, 7, 5});
  const ChannelwiseStats from_float = accumulate(data, 5);
  const ChannelwiseStats from_double = accumulate(data.to(at::kDouble), 5);
  for (size_t c = 0; c < from_float.per_channel.size(); ++c) {
    expect_moments_near(from_double.per_channel[c], from_float.per_channel[c], 1e-12);
    EXPECT_EQ(from_double.per_channel[c].min_batch_mean, from_float.per_channel[c].min_batch_mean);
  }
  expect_moments_near(from_double.per_tensor, from_float.per_tensor, 1e-12);
}

// The counts show in what they govern: pass 2 must see the 10 images of pass 1, and the batch-mean extremes are
// equal-weight means over the 3 batches.
TEST(StatsAccumulator, ReportsShapeAndCounts) {
  StatsAccumulator accumulator;
  const at::Tensor data = calibration_data({10, 3, 4, 2});
  const std::vector<at::Tensor> batches = data.split(4, 0);
  for (const at::Tensor& batch : batches) accumulator.observe(batch);
  EXPECT_EQ(accumulator.sample_shape(), (std::vector<int64_t>{3, 4, 2}));
  accumulator.finish_first_pass();
  accumulator.observe_abs_deviation(data.narrow(0, 0, 9));
  EXPECT_THROW(accumulator.finish(), std::logic_error);
  accumulator.observe_abs_deviation(data.narrow(0, 9, 1));
  const ChannelwiseStats stats = accumulator.finish();
  double sum_of_batch_min = 0.0;
  for (const at::Tensor& batch : batches) sum_of_batch_min += batch.min().item<double>();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_NEAR(stats.per_tensor.min_batch_mean, sum_of_batch_min / 3.0, 1e-12);
}

TEST(StatsAccumulator, RefusesMisuse) {
  const at::Tensor data = calibration_data({6, 3, 4, 4});
  StatsAccumulator accumulator;
  EXPECT_THROW(accumulator.finish_first_pass(), std::logic_error);  // nothing observed
  EXPECT_THROW(accumulator.observe_abs_deviation(data), std::logic_error);
  EXPECT_THROW(accumulator.observe(at::zeros({5})), std::invalid_argument);
  accumulator.observe(data);
  EXPECT_THROW(accumulator.observe(at::zeros({6, 3, 4, 5})), std::invalid_argument);
  accumulator.finish_first_pass();
  EXPECT_THROW(accumulator.observe(data), std::logic_error);
  accumulator.observe_abs_deviation(data.slice(0, 0, 3));
  EXPECT_THROW(accumulator.finish(), std::logic_error);  // the second pass saw 3 of 6 images
  accumulator.observe_abs_deviation(data.slice(0, 3, 6));
  EXPECT_NO_THROW(accumulator.finish());
}

TEST(DynamicBatchStats, AreTheStatisticsOfTheBatchAlone) {
  const at::Tensor batch = calibration_data({16, 4, 6, 6});
  const ChannelwiseStats stats = dynamic_batch_stats(batch);
  expect_matches_reference(stats, batch, 1e-9);
  EXPECT_EQ(stats.per_tensor.min_batch_mean, stats.per_tensor.min);
  EXPECT_EQ(stats.per_channel[3].max_batch_mean, stats.per_channel[3].max);
}

// A batch that is not float32 on the CPU (as a CUDA activation) is reduced with tensor ops on its own device, both
// passes at once; a double CPU batch takes that path here. It must give what the host computation gives: the CPU
// kernel's statistics of the float batch, and the two-pass accumulator's of the same double batch.
TEST(DynamicBatchStats, ReducedOnTheDeviceLikeTheHostComputation) {
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{16, 4, 6, 6}, std::vector<int64_t>{9, 5}}) {
    const at::Tensor batch = calibration_data(shape, /*offset=*/3.0);
    const ChannelwiseStats host = dynamic_batch_stats(batch);
    const ChannelwiseStats device = dynamic_batch_stats(batch.to(at::kDouble));
    StatsAccumulator two_passes;
    two_passes.observe(batch.to(at::kDouble));
    two_passes.finish_first_pass();
    two_passes.observe_abs_deviation(batch.to(at::kDouble));
    const ChannelwiseStats old_device = two_passes.finish();
    ASSERT_EQ(device.per_channel.size(), host.per_channel.size());
    for (size_t c = 0; c < host.per_channel.size(); ++c) {
      SCOPED_TRACE("channel " + std::to_string(c));
      expect_moments_near(device.per_channel[c], host.per_channel[c], 1e-12);
      expect_moments_near(device.per_channel[c], old_device.per_channel[c], 1e-14);
      EXPECT_EQ(device.per_channel[c].max_batch_mean, host.per_channel[c].max);
    }
    expect_moments_near(device.per_tensor, host.per_tensor, 1e-12);
    expect_moments_near(device.per_tensor, old_device.per_tensor, 1e-14);
    expect_matches_reference(device, batch, 1e-9);
  }
}

}  // namespace
}  // namespace quantsim
