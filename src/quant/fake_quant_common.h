#pragma once
// Internal to the fake-quant ops (src/quant/fake_quant_*.cpp): argument checks, quantizer parameters and memory
// layout, shared by the CPU and CUDA backends so that both accept and compute exactly the same things.
#include <ATen/core/Tensor.h>

#include <functional>

#include "common/affine_quantizer.h"

namespace quantsim::fake_quant_detail {

// The memory of a dense tensor seen as [outer, channels, inner] around one axis.
struct ChannelLayout {
  int64_t outer;
  int64_t channels;
  int64_t inner;
};

// Checks dtype (float32), bits and a finite range; throws c10::TypeError / c10::ValueError naming the problem.
kernels::AffineQuantParams per_tensor_params(const at::Tensor& x, double lo, double hi, int64_t bits);

// Checks lo, hi and bits (one dimension, `channels` entries each, any device) and returns a float32 CPU tensor
// [3, channels] holding, per channel, the rows scale, zero_point, q_max (kernels::ChannelQuantParams views its rows).
at::Tensor channel_params_table(const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits, int64_t channels);

// Checks x and axis, then channel_params_table for x.size(axis) channels.
at::Tensor per_channel_params(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits,
                              int64_t axis);

// Checks x (float32), axis and a table from channel_params_table: float32, contiguous, [3, x.size(axis)], on x's
// device. Its values are not checked again: they were when the table was made.
void check_params_table(const at::Tensor& x, const at::Tensor& params, int64_t axis);

kernels::ChannelQuantParams channel_params_view(const at::Tensor& params);

// axis in [-dim, dim) normalized to [0, dim).
int64_t normalized_axis(const at::Tensor& x, int64_t axis);

// Layout of a non-overlapping, dense tensor (any dimension order: contiguous, channels-last, ...) around `axis`.
ChannelLayout channel_layout(const at::Tensor& dense, int64_t axis);

// A fresh output for x: same sizes and strides when x is non-overlapping and dense, otherwise contiguous.
at::Tensor empty_output(const at::Tensor& x);

// Runs compute(src, dst) over the elements in memory order, where src is x (or a contiguous copy when x is not
// dense) and dst has src's strides: `out` itself when it matches, otherwise a temporary copied into `out`.
void compute_into(const at::Tensor& x, at::Tensor& out,
                  const std::function<void(const at::Tensor& src, at::Tensor& dst)>& compute);

}  // namespace quantsim::fake_quant_detail
