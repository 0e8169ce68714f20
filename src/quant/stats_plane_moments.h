#pragma once
// Private building block of the statistics passes (stats_accumulator.cpp): moments of the "planes" of a batch.
// A batch of shape [N, C, ...] is viewed as N*C planes, plane (n, c) holding the S = H*W*... values of image n in
// channel c (S = 1 for an [N, C] tensor). Everything is computed per plane, so a plane's results depend only on
// that image's data, never on how the images were batched; merging planes into channels happens in double in the
// accumulator.
//
// float32 tensors on the CPU take a single-read vectorized kernel parallelized over planes; anything else (CUDA
// tensors, other dtypes) takes an ATen path that computes in double on the tensor's device.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace quantsim::stats_detail {

// Per-plane results, indexed n * channels + c.
struct PlaneMoments {
  int64_t images = 0;       // N
  int64_t channels = 0;     // C
  int64_t plane_size = 0;   // S
  std::vector<double> sum;  // sum of the plane's values
  std::vector<double> m2;   // sum of squared deviations from the plane's own mean (two-pass, in double)
  std::vector<double> min;
  std::vector<double> max;
};

// Per-plane sums of absolute deviations, indexed n * channels + c.
struct PlaneAbsDeviations {
  std::vector<double> from_channel_mean;  // sum |x - channel_means[c]|
  std::vector<double> from_tensor_mean;   // sum |x - tensor_mean|
};

// Throws std::invalid_argument for a tensor with fewer than 2 dimensions.
PlaneMoments plane_moments(const at::Tensor& batch);

// `channel_means` has one entry per channel (size(1) of the batch).
PlaneAbsDeviations plane_abs_deviations(const at::Tensor& batch, const std::vector<double>& channel_means,
                                        double tensor_mean);

// True when `batch` takes the CPU kernel (float32 on the CPU); anything else is reduced with ATen on its device.
bool takes_cpu_kernel(const at::Tensor& batch);

// Both passes over one batch at once, with ATen on the batch's own device (dynamic ranges, `-sm no`): the absolute
// deviations are measured from this batch's channel and tensor means as computed there, and every result reaches the
// host in a single transfer of 6 * N * C doubles, never the activations themselves.
struct PlaneStats {
  PlaneMoments moments;
  PlaneAbsDeviations deviations;
};
PlaneStats plane_stats_on_device(const at::Tensor& batch);

}  // namespace quantsim::stats_detail
