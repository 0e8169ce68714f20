#include "quantsim/quant/quant_params.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/quant/bit_allocation.h"
#include "quantsim/quant/fake_quant.h"
#include "quantsim/quant/range_methods.h"

namespace quantsim {
namespace {

// Clipping of one tensor or channel at `bits`. The histogram methods look at the quantized tensor's own histogram
// (post-ReLU for unsigned sites); ACIQ takes the prior of an unsigned site from its pre-ReLU statistics.
ClipRange range_for(const TensorQuantRequest& request, const TensorStats& value, const TensorStats* pre, int bits,
                    const Histogram* histogram) {
  const RangeStats value_stats = range_stats(value, request.stats_kind);
  if (is_histogram_method(request.clipping)) {
    if (histogram == nullptr) {
      throw UserError(fmt::format("-c {} needs the histograms of a statistics file (schema version 2, -sm collect), "
                                  "these statistics have none",
                                  to_string(request.clipping)));
    }
    return histogram_method_range(request.clipping, *histogram, value_stats.min, value_stats.max, bits,
                                  request.signedness);
  }
  if (request.signedness == Signedness::kUnsigned && pre != nullptr) {
    return unsigned_clip_range(request.clipping, range_stats(*pre, request.stats_kind), value_stats.max, bits);
  }
  return signed_clip_range(request.clipping, value_stats, bits);
}

QuantParams per_tensor_params(const TensorQuantRequest& request, const ChannelwiseStats& value,
                              const ChannelwiseStats* pre) {
  QuantParams params;
  params.bits = request.bits;
  params.range = range_for(request, value.per_tensor, pre ? &pre->per_tensor : nullptr, request.bits,
                           value.histograms ? &value.histograms->per_tensor : nullptr);
  return params;
}

QuantParams per_channel_params(const TensorQuantRequest& request, const ChannelwiseStats& value,
                               const ChannelwiseStats* pre) {
  QuantParams params;
  params.per_channel = true;
  params.bits = request.bits;
  const size_t channels = value.per_channel.size();
  const std::vector<TensorStats>& shape_stats = pre != nullptr ? pre->per_channel : value.per_channel;
  if (request.bit_allocation.applies(request.bits, true)) {
    const double target = request.bit_allocation.target.value_or(request.bits);
    params.channel_bits = allocate_bits(bit_allocation_weights(shape_stats, request.bit_allocation.prior), target,
                                        request.bit_allocation.rounding);
  } else {
    params.channel_bits.assign(channels, request.bits);
  }
  params.lo.resize(channels);
  params.hi.resize(channels);
  for (size_t c = 0; c < channels; ++c) {
    const ClipRange r = range_for(request, value.per_channel[c], pre ? &pre->per_channel[c] : nullptr,
                                  params.channel_bits[c],
                                  value.histograms ? &value.histograms->per_channel[c] : nullptr);
    params.lo[c] = static_cast<float>(r.lo);
    params.hi[c] = static_cast<float>(r.hi);
  }
  return params;
}

// What the fake-quant op accepts: lo and hi finite in float32, and the width of the range including 0 too, so that
// the step is neither inf nor NaN.
bool usable_float_range(float lo, float hi) {
  const float width = std::max(hi, 0.0f) - std::min(lo, 0.0f);
  return std::isfinite(lo) && std::isfinite(hi) && std::isfinite(width);
}

// Non-finite statistics (NaN or inf activations or weights, overflowing values) give non-finite ranges: refused here,
// where they are computed, rather than by the fake-quant op, which cannot say where they came from.
void check_usable_ranges(const QuantParams& params) {
  if (!params.per_channel) {
    if (!usable_float_range(static_cast<float>(params.range.lo), static_cast<float>(params.range.hi))) {
      throw UserError(
          fmt::format("quantization range [{}, {}] is not finite in float32", params.range.lo, params.range.hi));
    }
    return;
  }
  for (size_t c = 0; c < params.lo.size(); ++c) {
    if (!usable_float_range(params.lo[c], params.hi[c])) {
      throw UserError(fmt::format("quantization range [{}, {}] of channel {} is not finite in float32", params.lo[c],
                                  params.hi[c], c));
    }
  }
}

}  // namespace

std::vector<double> bit_allocation_weights(const std::vector<TensorStats>& channels, Prior prior) {
  std::vector<double> weights;
  weights.reserve(channels.size());
  for (const TensorStats& s : channels) weights.push_back(prior == Prior::kGauss ? s.std : s.b);
  return weights;
}

QuantParams compute_quant_params(const TensorQuantRequest& request, const ChannelwiseStats& value,
                                 const ChannelwiseStats* pre_activation) {
  QuantParams params = request.per_channel ? per_channel_params(request, value, pre_activation)
                                           : per_tensor_params(request, value, pre_activation);
  check_usable_ranges(params);
  return params;
}

at::Tensor quant_params_table(const QuantParams& params, const at::Device& device) {
  const auto floats = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor table = fake_quant_channel_params(
      at::tensor(params.lo, floats), at::tensor(params.hi, floats),
      at::tensor(std::vector<int32_t>(params.channel_bits.begin(), params.channel_bits.end()),
                 at::TensorOptions().dtype(at::kInt)));
  if (device.is_cpu()) return table;
  // From pinned memory a non-blocking copy is truly asynchronous: it is queued on the current stream ahead of the
  // kernels that read the table, and the host never waits for the device (docs/QUANTIZATION.md, section 4).
  return table.pin_memory().to(device, /*non_blocking=*/true);
}

at::Tensor apply_quant_params(const at::Tensor& x, const QuantParams& params, int64_t axis, QuantParamTensors& cache) {
  if (!params.per_channel) {
    return fake_quant_per_tensor(x, static_cast<float>(params.range.lo), static_cast<float>(params.range.hi),
                                 params.bits);
  }
  if (!cache.channel_params.defined() || cache.channel_params.device() != x.device()) {
    cache.channel_params = quant_params_table(params, x.device());
  }
  return fake_quant_per_channel(x, cache.channel_params, axis);
}

}  // namespace quantsim
