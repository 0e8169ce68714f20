#pragma once
// A quantized weight as integer codes on its grid (weight_quantization.h), bit-packed (bit_packing.h): what
// --export stores instead of float32 weights, and its exact inverse.
//
// Grid entry e (one per output channel when per channel, else one for the whole tensor) has a step (scale), an
// integer zero point z = -offset / step, a level count and a code width ceil(log2(levels)) (the quantizer's bits for
// the affine quantizer's 2^bits levels; one more for a grid of 2^b + 1 levels such as GPFQ's). Element i of the
// row-major weight lies in entry e(i) and is stored as code k = round(w / step) + z, in element order, each code at its
// entry's width; its float32 value is (float(k) - float(z)) * step, the fake quantizer's own formula.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

struct PackedWeight {
  std::vector<int64_t> shape;
  std::vector<int> code_bits;       // per grid entry
  std::vector<int64_t> levels;      // per grid entry
  std::vector<float> scale;         // per grid entry (the step)
  std::vector<int64_t> zero_point;  // per grid entry
  std::string codes;                // packed, ceil(sum of code widths / 8) bytes
};

// ceil(log2(levels)) for levels >= 2; 1 for a single level.
int code_bits_for_levels(int64_t levels);

// Codes of `grid_weight` (float32, output channels on axis 0) on `grid` (one entry, or one per output channel).
// Throws std::invalid_argument when the grid does not fit the weight's shape or an element is not exactly a grid
// value: the export would otherwise not rebuild what the model computes with.
PackedWeight pack_weight(const at::Tensor& grid_weight, const WeightGrid& grid);

// The float32 CPU weight the codes stand for: equal, element for element, to the grid_weight that was packed.
at::Tensor unpack_weight(const PackedWeight& packed);

}  // namespace quantsim
