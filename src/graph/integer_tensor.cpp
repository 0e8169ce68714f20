#include "integer_tensor.h"

#include <ATen/ATen.h>

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace quantsim::graph {

IntegerTensor codes_tensor(at::Tensor codes, const ActivationCodes& params, int64_t site_id) {
  IntegerTensor x;
  x.domain = IntegerTensor::Domain::kCodes;
  x.values = std::move(codes);
  x.codes = params;
  x.site_id = site_id;
  return x;
}

IntegerTensor accumulator_tensor(at::Tensor values, std::vector<double> scales) {
  IntegerTensor x;
  x.domain = IntegerTensor::Domain::kAccumulator;
  x.values = std::move(values);
  x.scales = collapsed_scales(scales);
  return x;
}

IntegerTensor to_accumulator(const IntegerTensor& x) {
  if (!x.is_codes()) return x;
  // (q - zp) of codes in [0, 2^16 - 1] cannot overflow int32.
  return accumulator_tensor(x.values - x.codes.zero_point, {static_cast<double>(x.codes.scale)});
}

at::Tensor dequantize(const IntegerTensor& x) {
  if (x.is_codes()) {
    // As the fake quantizer computes x_hat: (q - zero_point) * scale in float32.
    return (x.values - x.codes.zero_point).to(at::kFloat) * x.codes.scale;
  }
  return (x.values.to(at::kDouble) * scale_tensor(x.scales, x.values)).to(at::kFloat);
}

std::vector<double> expanded_scales(const std::vector<double>& scales, int64_t channels) {
  if (scales.size() == 1) return std::vector<double>(static_cast<size_t>(channels), scales[0]);
  return scales;
}

std::vector<double> collapsed_scales(const std::vector<double>& scales) {
  if (scales.size() > 1 && std::all_of(scales.begin(), scales.end(), [&](double s) { return s == scales[0]; })) {
    return {scales[0]};
  }
  return scales;
}

at::Tensor scale_tensor(const std::vector<double>& scales, const at::Tensor& like) {
  at::Tensor t = at::tensor(scales, at::TensorOptions().dtype(at::kDouble).device(like.device()));
  if (scales.size() == 1) return t.reshape({});
  std::vector<int64_t> shape(static_cast<size_t>(std::max<int64_t>(like.dim(), 2)), 1);
  shape[1] = static_cast<int64_t>(scales.size());
  return t.view(shape);
}

at::Tensor checked_int32(const at::Tensor& exact) {
  if (exact.numel() > 0) {
    const double lo = exact.min().item<double>();
    const double hi = exact.max().item<double>();
    if (lo < std::numeric_limits<int32_t>::min() || hi > std::numeric_limits<int32_t>::max()) {
      throw IntegerOpError(fmt::format("overflows int32 (a value of {:.0f})", lo < 0 && -lo > hi ? lo : hi));
    }
  }
  return exact.to(at::kInt);
}

}  // namespace quantsim::graph
