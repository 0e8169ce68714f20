#pragma once
// Fake quantization (quantize then dequantize) with the affine quantizer of docs/QUANTIZATION.md, section 1, through
// the registered LibTorch ops quantsim::fake_quant_per_tensor / quantsim::fake_quant_per_channel (so CPU and CUDA
// tensors both work, and TorchScript graphs can call the same ops).
//
// Behaviour common to all functions:
//  - x must be float32; the result has x's shape and dtype. When x is non-overlapping and dense (contiguous,
//    channels-last, any permutation) the result has x's strides, otherwise it is contiguous.
//  - NaN comes back unchanged (bit for bit); +-inf clamps to the range ends; an empty range (lo' == hi' == 0), or one
//    so narrow that its step underflows float32, leaves x unchanged.
//  - Bad arguments (dtype, shapes, bits outside 1..16, non-finite lo/hi, bad axis) throw quantsim::UserError with a
//    one-line message.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace quantsim {

// One range [lo, hi] and `bits` (1..16) for the whole tensor.
at::Tensor fake_quant_per_tensor(const at::Tensor& x, float lo, float hi, int bits);

// One range and bit width per index of `axis` (0: weights' output channels, 1: NCHW / NC activations; negative
// counts from the end): lo, hi float32 [C], bits int32 (or int64) [C], where C = x.size(axis); any device.
at::Tensor fake_quant_per_channel(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi,
                                  const at::Tensor& bits, int64_t axis);

// Per-channel parameters computed once: fake_quant_channel_params checks lo, hi and bits as fake_quant_per_channel
// does and returns the quantizer table (float32 [3, C] on the CPU: scale, zero point and largest level per channel).
// Move it to x's device once and pass it to the overload below as often as needed: that call computes and copies
// nothing, so on a CUDA device it only enqueues its kernel (no host round trip). It gives bit for bit the result of
// fake_quant_per_channel(x, lo, hi, bits, axis). A table of the wrong shape or device throws UserError.
at::Tensor fake_quant_channel_params(const at::Tensor& lo, const at::Tensor& hi, const at::Tensor& bits);
at::Tensor fake_quant_per_channel(const at::Tensor& x, const at::Tensor& params, int64_t axis);

// The same, writing into a preallocated `out` of x's shape (float32, x's device); out may be x itself (in place)
// but must not otherwise overlap it. Fastest when out has x's strides.
at::Tensor& fake_quant_per_tensor_out(const at::Tensor& x, float lo, float hi, int bits, at::Tensor& out);
at::Tensor& fake_quant_per_channel_out(const at::Tensor& x, const at::Tensor& lo, const at::Tensor& hi,
                                       const at::Tensor& bits, int64_t axis, at::Tensor& out);
at::Tensor& fake_quant_per_channel_out(const at::Tensor& x, const at::Tensor& params, int64_t axis, at::Tensor& out);

}  // namespace quantsim
