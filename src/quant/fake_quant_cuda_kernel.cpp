// CUDA backend of the quantsim fake-quant ops. Compiled only against a CUDA-enabled LibTorch (QUANTSIM_TORCH_CUDA);
// Debian's CPU LibTorch builds this file to nothing. The quantizer parameters are computed on the host by the same
// code as for the CPU backend, so both backends quantize with bit-identical parameters: per call and uploaded with a
// blocking copy for the lo/hi/bits overload, once by the caller for the `params` overload (which then only enqueues
// its kernel).
#ifdef QUANTSIM_TORCH_CUDA

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cuda/fake_quant_cuda.h"
#include "fake_quant_common.h"

namespace quantsim {
namespace {

using fake_quant_detail::compute_into;

at::Tensor& per_tensor_out_cuda(const at::Tensor& x, double lo, double hi, int64_t bits, at::Tensor& out) {
  const kernels::AffineQuantParams params = fake_quant_detail::per_tensor_params(x, lo, hi, bits);
  const c10::cuda::CUDAGuard device_guard(x.device());
  compute_into(x, out, [&](const at::Tensor& src, at::Tensor& dst) {
    C10_CUDA_CHECK(kernels::fake_quant_per_tensor_cuda(src.data_ptr<float>(), dst.data_ptr<float>(), src.numel(),
                                                       params, at::cuda::getCurrentCUDAStream()));
  });
  return out;
}

at::Tensor per_tensor_cuda(const at::Tensor& x, double lo, double hi, int64_t bits) {
  at::Tensor out = fake_quant_detail::empty_output(x);
  return per_tensor_out_cuda(x, lo, hi, bits, out);
}

// `params`: a checked table on x's device.
at::Tensor& per_channel_table_out_cuda(const at::Tensor& x, const at::Tensor& params, int64_t axis, at::Tensor& out) {
  const c10::cuda::CUDAGuard device_guard(x.device());
  const kernels::ChannelQuantParams view = fake_quant_detail::channel_params_view(params);
  const int64_t channel_axis = fake_quant_detail::normalized_axis(x, axis);
  compute_into(x, out, [&](const at::Tensor& src, at::Tensor& dst) {
    const fake_quant_detail::ChannelLayout layout = fake_quant_detail::channel_layout(src, channel_axis);
    C10_CUDA_CHECK(kernels::fake_quant_per_channel_cuda(src.data_ptr<float>(), dst.data_ptr<float>(), src.numel(),
                                                        layout.channels, layout.inner, view,
                                                        at::cuda::getCurrentCUDAStream()));
  });
  return out;
}

at::Tensor& per_channel_out_cuda(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi,
                                 const at::Tensor& bits, int64_t axis, at::Tensor& out) {
  const at::Tensor params =
      fake_quant_detail::per_channel_params(x, lo, hi, bits, axis).to(x.device(), /*non_blocking=*/false);
  return per_channel_table_out_cuda(x, params, axis, out);
}

at::Tensor per_channel_cuda(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits,
                            int64_t axis) {
  at::Tensor out = fake_quant_detail::empty_output(x);
  return per_channel_out_cuda(x, lo, hi, bits, axis, out);
}

at::Tensor& per_channel_params_out_cuda(const at::Tensor& x, const at::Tensor& params, int64_t axis, at::Tensor& out) {
  fake_quant_detail::check_params_table(x, params, axis);
  return per_channel_table_out_cuda(x, params, axis, out);
}

at::Tensor per_channel_params_cuda(const at::Tensor& x, const at::Tensor& params, int64_t axis) {
  fake_quant_detail::check_params_table(x, params, axis);
  at::Tensor out = fake_quant_detail::empty_output(x);
  return per_channel_table_out_cuda(x, params, axis, out);
}

}  // namespace

TORCH_LIBRARY_IMPL(quantsim, CUDA, m) {
  m.impl("fake_quant_per_tensor", TORCH_FN(per_tensor_cuda));
  m.impl("fake_quant_per_tensor.out", TORCH_FN(per_tensor_out_cuda));
  m.impl("fake_quant_per_channel", TORCH_FN(per_channel_cuda));
  m.impl("fake_quant_per_channel.out", TORCH_FN(per_channel_out_cuda));
  m.impl("fake_quant_per_channel.params", TORCH_FN(per_channel_params_cuda));
  m.impl("fake_quant_per_channel.params_out", TORCH_FN(per_channel_params_out_cuda));
}

}  // namespace quantsim

#endif  // QUANTSIM_TORCH_CUDA
