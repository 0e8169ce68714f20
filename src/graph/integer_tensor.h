#pragma once
// A tensor of the integer path (docs/QUANTIZATION.md, section 16): a site's uint codes, or int32 values of the
// "accumulator domain" with a real scale per channel and no zero point.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "quantsim/quant/integer_layer.h"

namespace quantsim::graph {

// Real bounds of a ReLU-like op whose only consumer is a site: applied there as a clamp of the codes (TFLite's fused
// activation), which equals clamping the real value first because rounding is monotone.
// Why an op cannot run on integer tensors (no integer form for these arguments, an int32 overflow). The interpreter
// turns it into a UserError naming the op and its module.
class IntegerOpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FusedClamp {
  double lo = 0.0;  // -inf: none
  double hi = 0.0;  // +inf: none
};

struct IntegerTensor {
  enum class Domain { kCodes, kAccumulator };
  Domain domain = Domain::kAccumulator;
  at::Tensor values;  // int32
  // kCodes: the codes' quantizer; real value (q - zero_point) * scale.
  ActivationCodes codes;
  int64_t site_id = -1;  // kCodes: the site that produced them
  // kAccumulator: real value values * scales[c], c the index along axis 1; one entry: the same for every channel.
  std::vector<double> scales;
  std::optional<FusedClamp> fused_clamp;  // kAccumulator only, only on a value whose one consumer is a site

  bool is_codes() const { return domain == Domain::kCodes; }
};

IntegerTensor codes_tensor(at::Tensor codes, const ActivationCodes& params, int64_t site_id);
IntegerTensor accumulator_tensor(at::Tensor values, std::vector<double> scales);

// Codes enter the accumulator domain as (q - zero_point) at the site's scale; accumulator tensors come back as they
// are (a fused clamp must have been applied: it belongs to the site).
IntegerTensor to_accumulator(const IntegerTensor& x);

// The real values in float32: (q - zero_point) * scale, or values * scales[c] (computed in double, then rounded).
at::Tensor dequantize(const IntegerTensor& x);

// One scale per index of axis 1 (a single scale repeated), or the single scale when every channel has the same.
std::vector<double> expanded_scales(const std::vector<double>& scales, int64_t channels);
std::vector<double> collapsed_scales(const std::vector<double>& scales);

// The scales as a double tensor broadcastable against `like` ([1, C, 1, ...], or a scalar tensor for one scale).
at::Tensor scale_tensor(const std::vector<double>& scales, const at::Tensor& like);

// int64 or double values that hold exact integers -> int32; throws IntegerOpError when one falls outside the int32
// range (integer hardware would wrap or saturate there).
at::Tensor checked_int32(const at::Tensor& exact);

}  // namespace quantsim::graph
