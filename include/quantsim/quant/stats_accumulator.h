#pragma once
// Statistics of one observed activation tensor (docs/QUANTIZATION.md, sections 2 and 6), per tensor and per channel
// (axis 1; for an [N, C] tensor a channel is a column).
//
// `-sm collect` runs two passes over the same calibration images (batching may differ between them):
//   pass 1, observe(batch):                min, max, per-batch extremes, mean and population std;
//   pass 2, observe_abs_deviation(batch):  b = mean(|x - mu|), which needs the final mu of pass 1, and (with
//                                          collect_histograms) the histograms, whose bins need the extremes.
// mean, std and b are exact (double accumulation, two-pass deviations within each image, Chan merging across
// images) and independent of the batch size; min_batch_mean / max_batch_mean are the equal-weight mean over batches
// of the per-batch extremes and so depend on the batching of pass 1, as in the public code's `-sk mean`.
//
// `-sm no` uses dynamic_batch_stats(batch): the same statistics over one batch alone.
//
//   StatsAccumulator acc;
//   for (const auto& batch : calibration) acc.observe(batch);
//   acc.finish_first_pass();
//   for (const auto& batch : calibration) acc.observe_abs_deviation(batch);
//   const ChannelwiseStats stats = acc.finish();
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "quantsim/quant/histogram.h"
#include "quantsim/quant/tensor_stats.h"

namespace quantsim {
namespace stats_detail {
struct PlaneMoments;
struct PlaneAbsDeviations;
}  // namespace stats_detail

struct ChannelwiseStats {
  TensorStats per_tensor;                // over all values of the tensor
  std::vector<TensorStats> per_channel;  // one per channel (size(1) of the observed tensor)
  // Per tensor and per channel, over [-max|x|, max|x|] (histogram.h); only where collected (collect_histograms).
  std::optional<SiteHistograms> histograms;
};

// Accepts float32 tensors of shape [N, C, ...] on any device (CPU float32 takes a vectorized kernel; other
// devices and dtypes are reduced with ATen in double). Every batch must have the same per-image shape. Misuse
// (wrong shape, wrong phase, a second pass over a different number of images) throws std::logic_error: it is a
// bug in the caller, not a user error.
class StatsAccumulator {
 public:
  // Also histograms of the values (for the histogram range methods), binned in pass 2 over the extremes of pass 1.
  // Call before finish_first_pass.
  void collect_histograms() { collect_histograms_ = true; }
  // Pass 1: every calibration batch once.
  void observe(const at::Tensor& batch);
  // Ends pass 1; fixes the means that pass 2 measures deviations from.
  void finish_first_pass();
  // Pass 2: the same calibration images again, in any batching.
  void observe_abs_deviation(const at::Tensor& batch);
  // The statistics, after pass 2 has seen as many images as pass 1.
  ChannelwiseStats finish() const;

  // Shape of one image's tensor, e.g. {C, H, W}; empty before the first batch.
  const std::vector<int64_t>& sample_shape() const { return sample_shape_; }

 private:
  // Running moments of one channel. Values are combined with Chan's parallel formula, never as sum of squares.
  struct ChannelMoments {
    int64_t count = 0;
    double sum = 0.0;
    double m2 = 0.0;  // sum of squared deviations from the running mean
    double min = 0.0;
    double max = 0.0;
    double sum_of_batch_min = 0.0;
    double sum_of_batch_max = 0.0;
    double abs_dev_from_channel_mean = 0.0;  // pass 2
    double abs_dev_from_tensor_mean = 0.0;   // pass 2
  };
  enum class Phase { kFirstPass, kSecondPass };

  friend ChannelwiseStats dynamic_batch_stats(const at::Tensor& batch);

  void check_batch(const at::Tensor& batch, const char* caller);
  void observe_moments(const stats_detail::PlaneMoments& planes);
  void observe_deviations(const stats_detail::PlaneAbsDeviations& planes, int64_t images);
  // Both passes over a single batch that does not take the CPU kernel, reduced on its device (dynamic ranges).
  void observe_on_device(const at::Tensor& batch);
  TensorStats channel_stats(const ChannelMoments& channel) const;
  TensorStats tensor_stats() const;

  Phase phase_ = Phase::kFirstPass;
  std::vector<int64_t> sample_shape_;
  std::vector<ChannelMoments> channels_;
  int64_t batches_ = 0;
  int64_t images_first_pass_ = 0;
  int64_t images_second_pass_ = 0;
  double sum_of_batch_min_ = 0.0;  // per tensor: the batch's minimum over all channels
  double sum_of_batch_max_ = 0.0;
  std::vector<double> channel_means_;  // fixed by finish_first_pass
  double tensor_mean_ = 0.0;
  bool collect_histograms_ = false;
  HistogramAccumulator histograms_;  // set up by finish_first_pass when collect_histograms_
};

// Statistics of a single batch (`-sm no`, dynamic ranges): mean, std and b over the batch alone (b about the
// batch's own mean); min_batch_mean / max_batch_mean equal min / max. A batch that is not float32 on the CPU (a CUDA
// activation) is reduced on its own device and only its per-image, per-channel sums come to the host, in one
// transfer; b is then measured from the means as computed on the device (equal to the CPU's up to rounding).
ChannelwiseStats dynamic_batch_stats(const at::Tensor& batch);

}  // namespace quantsim
