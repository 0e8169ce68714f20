#pragma once
// Quantization of one conv/linear weight (docs/QUANTIZATION.md, sections 4 and 5): range [min, max] per tensor or per
// output channel (optionally ACIQ-clipped with --clip-weights), per-channel bit allocation, then variance and mean
// correction. Done once per run, before any image is evaluated.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "quantsim/quant/model_layer.h"
#include "quantsim/quant/quant_params.h"

namespace quantsim {

// The integer grid a quantized weight lies on, for export and reports: one entry per output channel (per-channel
// quantization) or a single entry for the whole tensor. Value of integer code k in channel c: offset[c] + k * step[c],
// 0 <= k < levels[c]. offset[c] is a whole multiple -z * step[c] of the step, and the float32 value is computed as
// (k - z) * step[c], as the fake quantizer does (`offset + k * step` may round differently); step 0 marks a channel
// the quantizer left unchanged, which is then all zeros.
struct WeightGrid {
  std::vector<float> offset;
  std::vector<float> step;
  std::vector<int64_t> levels;
};

struct QuantizedWeight {
  at::Tensor weight;       // what the layer computes with (the original weight when bits == 0)
  at::Tensor grid_weight;  // the quantized weight before -vcw/-bcw corrections, on `grid` (undefined when float)
  WeightGrid grid;         // empty when left float
  int bits = 0;            // 0: left float
  QuantParams params;      // ranges and bits used (empty when left float)
};

// The statistics of a weight per tensor and per output channel (axis 0), as the collect pass would record them.
ChannelwiseStats weight_statistics(const at::Tensor& weight);

// The request round-to-nearest makes for a weight at `bits`: signed, one "batch" whose global and batch-mean
// extremes coincide.
TensorQuantRequest weight_quant_request(int bits, const WeightQuantOptions& options);

// Throws UserError naming the layer, the count and the first non-finite value (and its output channel) when the
// layer's weight holds NaN or inf: its range, and every weight on its grid, would be meaningless.
void check_finite_weight(const Layer& layer);

// Throws UserError naming the layer when the weight it quantizes is not finite (check_finite_weight) or its range
// cannot be computed; a layer left float is returned as it is.
QuantizedWeight quantize_layer_weight(const Layer& layer, const WeightQuantOptions& options);

}  // namespace quantsim
