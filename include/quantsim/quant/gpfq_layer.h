#pragma once
// GPFQ (gpfq.h) for one conv or linear layer: its weight flattened to neurons x inputs per group, the alphabet of the
// layer, the per-channel corrections the run asks for, and the integer grid the result lies on.
#include <ATen/core/Tensor.h>

#include "quantsim/quant/model_layer.h"
#include "quantsim/quant/weight_correction.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

struct GpfqLayerOptions {
  int bits = 4;                   // 1..16: alphabet delta * {-2^(bits-1), ..., 2^(bits-1)}
  double scale = 1.16;            // C in delta = C * mean over neurons of max|w| / 2^(bits-1)
  bool per_channel = false;       // -pcq_w: delta = C * max|w| / 2^(bits-1) of each output channel
  WeightCorrections corrections;  // -vcw, -bcw: applied to the GPFQ weight
};

// The layer's weight [O, ...] as [G, O/G, n] (G = groups, n = C_in/G * kh * kw, or in_features), float32.
at::Tensor grouped_weight_matrix(const Layer& layer);

// `x`, `x_tilde`: the layer's sampled input rows in the FP32 and in the partly quantized network, [G, m, n]
// (layer_samples.h). Returns the GPFQ weight (after corrections) in the shape, dtype and device of
// layer.original_weight, grid_weight (before corrections), its grid (offset -K delta, step delta, 2K + 1 levels,
// per tensor or per output channel) and params (bits and the range [-K delta, K delta]).
QuantizedWeight gpfq_layer_weight(const Layer& layer, const at::Tensor& x, const at::Tensor& x_tilde,
                                  const GpfqLayerOptions& options);

}  // namespace quantsim
