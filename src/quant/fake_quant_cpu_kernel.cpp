// CPU backend of the quantsim fake-quant ops: checks and layout from fake_quant_common, the work split over threads
// with at::parallel_for, each thread running the pointer kernels of kernels/cpu/fake_quant_cpu.h on its range.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "cpu/fake_quant_cpu.h"
#include "fake_quant_common.h"

namespace quantsim {
namespace {

using fake_quant_detail::compute_into;

// Elements per task: large enough to amortize scheduling, small enough to split a 1 MB tensor across cores.
constexpr int64_t kGrainElements = int64_t{1} << 15;

at::Tensor& per_tensor_out_cpu(const at::Tensor& x, double lo, double hi, int64_t bits, at::Tensor& out) {
  const kernels::AffineQuantParams params = fake_quant_detail::per_tensor_params(x, lo, hi, bits);
  compute_into(x, out, [&](const at::Tensor& src, at::Tensor& dst) {
    const float* in = src.data_ptr<float>();
    float* result = dst.data_ptr<float>();
    at::parallel_for(0, src.numel(), kGrainElements, [&](int64_t begin, int64_t end) {
      kernels::fake_quant_per_tensor_cpu(in, result, begin, end, params);
    });
  });
  return out;
}

at::Tensor per_tensor_cpu(const at::Tensor& x, double lo, double hi, int64_t bits) {
  at::Tensor out = fake_quant_detail::empty_output(x);
  return per_tensor_out_cpu(x, lo, hi, bits, out);
}

// `params`: a checked table on the CPU (fake_quant_common's channel_params_table).
at::Tensor& per_channel_table_out_cpu(const at::Tensor& x, const at::Tensor& params, int64_t axis, at::Tensor& out) {
  const kernels::ChannelQuantParams view = fake_quant_detail::channel_params_view(params);
  const int64_t channel_axis = fake_quant_detail::normalized_axis(x, axis);
  compute_into(x, out, [&](const at::Tensor& src, at::Tensor& dst) {
    const fake_quant_detail::ChannelLayout layout = fake_quant_detail::channel_layout(src, channel_axis);
    const float* in = src.data_ptr<float>();
    float* result = dst.data_ptr<float>();
    at::parallel_for(0, src.numel(), kGrainElements, [&](int64_t begin, int64_t end) {
      kernels::fake_quant_per_channel_cpu(in, result, begin, end, layout.channels, layout.inner, view);
    });
  });
  return out;
}

at::Tensor& per_channel_out_cpu(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits,
                                int64_t axis, at::Tensor& out) {
  return per_channel_table_out_cpu(x, fake_quant_detail::per_channel_params(x, lo, hi, bits, axis), axis, out);
}

at::Tensor per_channel_cpu(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits,
                           int64_t axis) {
  at::Tensor out = fake_quant_detail::empty_output(x);
  return per_channel_out_cpu(x, lo, hi, bits, axis, out);
}

at::Tensor& per_channel_params_out_cpu(const at::Tensor& x, const at::Tensor& params, int64_t axis, at::Tensor& out) {
  fake_quant_detail::check_params_table(x, params, axis);
  return per_channel_table_out_cpu(x, params, axis, out);
}

at::Tensor per_channel_params_cpu(const at::Tensor& x, const at::Tensor& params, int64_t axis) {
  fake_quant_detail::check_params_table(x, params, axis);
  at::Tensor out = fake_quant_detail::empty_output(x);
  return per_channel_table_out_cpu(x, params, axis, out);
}

}  // namespace

TORCH_LIBRARY_IMPL(quantsim, CPU, m) {
  m.impl("fake_quant_per_tensor", TORCH_FN(per_tensor_cpu));
  m.impl("fake_quant_per_tensor.out", TORCH_FN(per_tensor_out_cpu));
  m.impl("fake_quant_per_channel", TORCH_FN(per_channel_cpu));
  m.impl("fake_quant_per_channel.out", TORCH_FN(per_channel_out_cpu));
  m.impl("fake_quant_per_channel.params", TORCH_FN(per_channel_params_cpu));
  m.impl("fake_quant_per_channel.params_out", TORCH_FN(per_channel_params_out_cpu));
}

}  // namespace quantsim
