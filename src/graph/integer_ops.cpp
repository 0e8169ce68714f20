#include "integer_ops.h"

#include <ATen/ATen.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "quantsim/quant/fixed_point.h"

namespace quantsim::graph {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// A bound of clamp on the accumulator grid: rint(bound / scale[c]) as a double tensor broadcastable to x.
at::Tensor grid_bound(const c10::IValue& bound, const IntegerTensor& x) {
  const at::Tensor scales = scale_tensor(x.scales, x.values);
  at::Tensor real;
  if (bound.isTensor()) {
    real = bound.toTensor().to(x.values.device(), at::kDouble);
  } else {
    real = at::scalar_tensor(bound.toScalar().toDouble(), at::TensorOptions().dtype(at::kDouble));
  }
  // Bounds beyond the int32 range clamp nothing: keep them there so that the result stays exact.
  return at::round(real / scales).clamp(-static_cast<double>(kInt32Max) - 1, static_cast<double>(kInt32Max));
}

// x (accumulators) rescaled to `target` scales (per channel, each <= x's): x * (s_x / s_target) by a fixed-point
// multiplier. The multiplier's left shift saturates in int32, so it must not: that is checked first.
at::Tensor rescaled(const IntegerTensor& x, const std::vector<double>& target) {
  const int64_t channels = static_cast<int64_t>(target.size());
  const std::vector<double> from = expanded_scales(x.scales, channels);
  if (from == target) return x.values;
  std::vector<FixedPointMultiplier> multipliers;
  std::vector<int64_t> shifts;
  for (int64_t c = 0; c < channels; ++c) {
    const double ratio = from[c] / target[c];
    try {
      multipliers.push_back(quantize_multiplier(ratio));
    } catch (const std::invalid_argument&) {  // a left shift beyond 30 bits: every value but 0 overflows
      throw IntegerOpError(fmt::format("overflows int32 rescaling an operand by {:.6g} to the finer scale", ratio));
    }
    shifts.push_back(std::max(multipliers.back().exponent, 0));
  }
  if (x.values.numel() > 0) {
    // |x| * 2^shift must stay within int32 for the multiplication to be exact, as it is on hardware.
    at::Tensor magnitude = x.values.to(at::kLong).abs();
    if (channels > 1) {
      magnitude = magnitude.transpose(0, 1).reshape({channels, -1}).amax(1);
    } else {
      magnitude = magnitude.max().reshape({1});
    }
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t largest = magnitude[channels > 1 ? c : 0].item<int64_t>();
      if (largest > (kInt32Max >> shifts[c])) {
        throw IntegerOpError(fmt::format("overflows int32 rescaling an operand by {:.6g} to the finer scale "
                                         "(value {})",
                                         from[c] / target[c], largest));
      }
    }
  }
  return multiply_by_quantized_multiplier(x.values, multipliers, channels > 1 ? 1 : 0);
}

std::vector<double> finer_scales(const std::vector<double>& a, const std::vector<double>& b, int64_t channels) {
  std::vector<double> ea = expanded_scales(a, channels), eb = expanded_scales(b, channels), out;
  for (int64_t c = 0; c < channels; ++c) out.push_back(std::min(ea[c], eb[c]));
  return out;
}

int64_t channel_count(const std::vector<IntegerTensor>& xs) {
  int64_t channels = 1;
  for (const IntegerTensor& x : xs) channels = std::max<int64_t>(channels, static_cast<int64_t>(x.scales.size()));
  return channels;
}

// (sum + sign(sum) * (count / 2)) / count truncated: TFLite's reference AveragePool rounding (half away from zero).
at::Tensor rounded_quotient(const at::Tensor& sum, const at::Tensor& count) {
  const at::Tensor half = at::div(count, 2, "floor");
  const at::Tensor nudged = at::where(sum >= 0, sum + half, sum - half);
  return at::div(nudged, count, "trunc");
}

}  // namespace

IntegerTensor clamp_accumulators(const IntegerTensor& x_in, const c10::IValue& lo, const c10::IValue& hi) {
  const IntegerTensor x = to_accumulator(x_in);
  at::Tensor values = x.values.to(at::kDouble);
  if (!lo.isNone()) values = at::maximum(values, grid_bound(lo, x));
  if (!hi.isNone()) values = at::minimum(values, grid_bound(hi, x));
  return accumulator_tensor(checked_int32(values), x.scales);
}

IntegerTensor leaky_relu(const IntegerTensor& x_in, double negative_slope) {
  if (!(negative_slope >= 0.0 && negative_slope <= 1.0)) {
    throw IntegerOpError(fmt::format("has no integer form for negative_slope {} (only 0 to 1)", negative_slope));
  }
  const IntegerTensor x = to_accumulator(x_in);
  // A multiplier <= 1 has no left shift: it cannot overflow.
  FixedPointMultiplier slope;
  try {
    slope = quantize_multiplier(negative_slope);
  } catch (const std::invalid_argument&) {
    throw IntegerOpError(fmt::format("has no integer form for negative_slope {} (below a fixed-point multiplier's "
                                     "range)",
                                     negative_slope));
  }
  const at::Tensor scaled = multiply_by_quantized_multiplier(x.values, {slope}, 0);
  return accumulator_tensor(at::where(x.values < 0, scaled, x.values), x.scales);
}

IntegerTensor add(const IntegerTensor& a_in, const IntegerTensor& b_in) {
  const IntegerTensor a = to_accumulator(a_in), b = to_accumulator(b_in);
  const int64_t channels = channel_count({a, b});
  const std::vector<double> target = finer_scales(a.scales, b.scales, channels);
  const at::Tensor sum = rescaled(a, target).to(at::kLong) + rescaled(b, target).to(at::kLong);
  return accumulator_tensor(checked_int32(sum), target);
}

IntegerTensor concatenate(const std::vector<IntegerTensor>& xs_in, int64_t dim) {
  std::vector<IntegerTensor> xs;
  for (const IntegerTensor& x : xs_in) xs.push_back(to_accumulator(x));
  if (xs.empty()) throw IntegerOpError("has no integer tensor to concatenate");
  const int64_t rank = xs[0].values.dim();
  if (dim < 0) dim += rank;
  std::vector<at::Tensor> values;
  if (dim == 1) {
    std::vector<double> scales;
    for (const IntegerTensor& x : xs) {
      values.push_back(x.values);
      const std::vector<double> own = expanded_scales(x.scales, x.values.size(1));
      scales.insert(scales.end(), own.begin(), own.end());
    }
    return accumulator_tensor(at::cat(values, 1), scales);
  }
  const int64_t channels = channel_count(xs);
  std::vector<double> target = expanded_scales(xs[0].scales, channels);
  for (const IntegerTensor& x : xs) target = finer_scales(target, x.scales, channels);
  for (const IntegerTensor& x : xs) values.push_back(rescaled(x, target));
  return accumulator_tensor(at::cat(values, dim), target);
}

IntegerTensor average_pool2d(const IntegerTensor& x_in, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                             std::vector<int64_t> padding, bool ceil_mode, bool count_include_pad,
                             std::optional<int64_t> divisor_override) {
  const IntegerTensor x = to_accumulator(x_in);
  if (divisor_override && *divisor_override <= 0) throw IntegerOpError("has no integer form for a divisor <= 0");
  // Window sums of int32 values are exact in double (at most 2^31 * window < 2^53 for any sane window).
  const at::Tensor values = x.values.to(at::kDouble);
  const at::Tensor sum = at::avg_pool2d(values, kernel, stride, padding, ceil_mode, count_include_pad, 1);
  at::Tensor count;
  if (divisor_override) {
    count = at::full({}, *divisor_override, at::kLong);
  } else {
    // What each window divides by, as aten computes it for these arguments: the window's sum of ones over its mean.
    const int64_t dims = values.dim();
    const at::Tensor ones = at::ones({1, 1, values.size(dims - 2), values.size(dims - 1)}, at::kDouble);
    const at::Tensor ones_sum = at::avg_pool2d(ones, kernel, stride, padding, ceil_mode, count_include_pad, 1);
    const at::Tensor ones_mean = at::avg_pool2d(ones, kernel, stride, padding, ceil_mode, count_include_pad);
    count = at::round(ones_sum / ones_mean).to(at::kLong);
    if (dims == 3) count = count.squeeze(0);
  }
  return accumulator_tensor(checked_int32(rounded_quotient(sum.to(at::kLong), count)), x.scales);
}

IntegerTensor spatial_mean(const IntegerTensor& x_in, bool keepdim) {
  const IntegerTensor x = to_accumulator(x_in);
  std::vector<int64_t> dims;
  int64_t count = 1;
  for (int64_t d = 2; d < x.values.dim(); ++d) {
    dims.push_back(d);
    count *= x.values.size(d);
  }
  if (dims.empty() || count == 0) throw IntegerOpError("has no integer form for a tensor without spatial axes");
  const at::Tensor sum = x.values.to(at::kLong).sum(dims, keepdim);
  return accumulator_tensor(checked_int32(rounded_quotient(sum, at::full({}, count, at::kLong))), x.scales);
}

IntegerTensor move_values(const IntegerTensor& x_in, const std::function<at::Tensor(const at::Tensor&)>& op,
                          bool through_double, bool zero_fill, ChannelAxis channel_axis) {
  const IntegerTensor x = zero_fill ? to_accumulator(x_in) : x_in;
  const auto apply = [&](const at::Tensor& t) {
    if (!through_double) return op(t);
    return op(t.to(at::kDouble));
  };
  const at::Tensor moved = apply(x.values);
  const at::Tensor values = through_double ? checked_int32(moved) : moved.to(at::kInt);
  if (x.is_codes()) return codes_tensor(values, x.codes, x.site_id);
  if (x.scales.size() == 1 || channel_axis == ChannelAxis::kKept) return accumulator_tensor(values, x.scales);
  // Per-channel scales: follow each element's channel through the op (index + 1; 0 is what padding fills in).
  const int64_t channels = static_cast<int64_t>(x.scales.size());
  std::vector<int64_t> index_shape(static_cast<size_t>(x.values.dim()), 1);
  index_shape[1] = channels;
  const at::Tensor index =
      (at::arange(1, channels + 1, at::kInt).view(index_shape).expand(x.values.sizes()).contiguous());
  const at::Tensor moved_index = apply(index).to(at::kLong);
  if (moved_index.dim() < 2) throw IntegerOpError("mixes channels of different scales into one axis");
  const int64_t out_channels = moved_index.size(1);
  const at::Tensor rows = moved_index.transpose(0, 1).reshape({out_channels, -1});
  const at::Tensor highest = std::get<0>(rows.max(1));
  const at::Tensor lowest = std::get<0>(at::where(rows > 0, rows, channels + 1).min(1));
  const double finest = *std::min_element(x.scales.begin(), x.scales.end());
  std::vector<double> scales;
  for (int64_t c = 0; c < out_channels; ++c) {
    const int64_t hi = highest[c].item<int64_t>(), lo = lowest[c].item<int64_t>();
    if (hi == 0) {  // only filled-in zeros: any scale holds them
      scales.push_back(finest);
      continue;
    }
    // Conservative: every channel between the lowest and highest index must share the scale.
    for (int64_t k = lo; k < hi; ++k) {
      if (x.scales[static_cast<size_t>(k - 1)] != x.scales[static_cast<size_t>(hi - 1)]) {
        throw IntegerOpError("mixes channels of different scales along axis 1");
      }
    }
    scales.push_back(x.scales[static_cast<size_t>(hi - 1)]);
  }
  return accumulator_tensor(values, scales);
}

}  // namespace quantsim::graph
