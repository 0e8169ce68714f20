#pragma once
// What PreparedModel::forward_integer computes with (docs/QUANTIZATION.md, section 16): the network executed on
// integer codes in deploy mode (--act-sites inputs), as integer hardware runs it.
//
// Between a conv/linear and the next activation site, values stay int32 "accumulator-domain" tensors with a real
// scale per channel (axis 1) and no zero point: the conv/linear accumulators with their bias, and what elementwise
// ops, pooling, padding and concatenation make of them (each done in integer arithmetic). At a site the tensor is
// requantized to that site's uint codes with a fixed-point multiplier (fixed_point.h); conv/linear layers read only
// site codes. Code tensors read by anything but a conv/linear enter the accumulator domain as (q - zero_point) at the
// site's scale. The logits are the last accumulator-domain tensor times its scales, in float32.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "quantsim/quant/integer_layer.h"

namespace quantsim {

struct IntegerProgram {
  std::vector<std::optional<ActivationCodes>> sites;  // by Site::id; every site the graph reaches needs codes
  std::vector<IntegerLayer> layers;                   // by Layer::index
};

// Receives every site's codes (int32, the site tensor's shape) as forward_integer produces them, in graph order.
class IntegerCodeObserver {
 public:
  virtual ~IntegerCodeObserver() = default;
  virtual void on_site_codes(int64_t site_id, const at::Tensor& codes) = 0;
};

}  // namespace quantsim
