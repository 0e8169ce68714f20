#include "quantsim/quant/weight_packing.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "quantsim/core/bit_packing.h"

namespace quantsim {
namespace {

int64_t zero_point_of(float offset, float step) {
  return step == 0.0f ? 0 : static_cast<int64_t>(std::llround(-static_cast<double>(offset) / step));
}

// The fake quantizer's dequantization, (q - zero_point) * scale in float32 (kernels/common/affine_quantizer.h).
float grid_value(int64_t code, int64_t zero_point, float scale) {
  return (static_cast<float>(code) - static_cast<float>(zero_point)) * scale;
}

void check_grid(const at::Tensor& weight, const WeightGrid& grid) {
  const size_t entries = grid.step.size();
  const bool one_entry = entries == 1;
  const bool per_channel = weight.dim() >= 1 && entries == static_cast<size_t>(weight.size(0));
  if (entries == 0 || (!one_entry && !per_channel) || grid.offset.size() != entries || grid.levels.size() != entries) {
    throw std::invalid_argument(fmt::format("pack_weight: a grid of {} entries does not fit a weight of shape [{}]",
                                            entries, fmt::join(weight.sizes(), ", ")));
  }
}

}  // namespace

int code_bits_for_levels(int64_t levels) {
  int bits = 1;
  while ((int64_t{1} << bits) < levels) ++bits;
  return bits;
}

PackedWeight pack_weight(const at::Tensor& grid_weight, const WeightGrid& grid) {
  const at::Tensor weight = grid_weight.to(at::kCPU, at::kFloat).contiguous();
  check_grid(weight, grid);
  PackedWeight packed;
  packed.shape = weight.sizes().vec();
  packed.levels = grid.levels;
  packed.scale = grid.step;
  for (size_t e = 0; e < grid.step.size(); ++e) {
    packed.code_bits.push_back(code_bits_for_levels(grid.levels[e]));
    packed.zero_point.push_back(zero_point_of(grid.offset[e], grid.step[e]));
  }
  const int64_t entries = static_cast<int64_t>(grid.step.size());
  const int64_t per_entry = entries == 1 ? weight.numel() : weight.numel() / entries;
  const float* values = weight.data_ptr<float>();
  BitWriter writer;
  for (int64_t i = 0; i < weight.numel(); ++i) {
    const int64_t e = entries == 1 ? 0 : i / per_entry;
    const float scale = packed.scale[e];
    const int64_t z = packed.zero_point[e];
    const int64_t code = scale == 0.0f ? z : std::llround(static_cast<double>(values[i]) / scale) + z;
    if (code < 0 || code >= packed.levels[e] || grid_value(code, z, scale) != values[i]) {
      throw std::invalid_argument(fmt::format("pack_weight: element {} ({}) is not a value of grid entry {} "
                                              "(offset {}, step {}, {} levels)",
                                              i, values[i], e, grid.offset[e], scale, packed.levels[e]));
    }
    writer.write(static_cast<uint32_t>(code), packed.code_bits[e]);
  }
  packed.codes = writer.bytes();
  return packed;
}

at::Tensor unpack_weight(const PackedWeight& packed) {
  at::Tensor weight = at::empty(packed.shape, at::TensorOptions().dtype(at::kFloat));
  const int64_t entries = static_cast<int64_t>(packed.scale.size());
  const int64_t per_entry = entries == 1 ? weight.numel() : weight.numel() / entries;
  float* values = weight.data_ptr<float>();
  BitReader reader(packed.codes);
  for (int64_t i = 0; i < weight.numel(); ++i) {
    const int64_t e = entries == 1 ? 0 : i / per_entry;
    values[i] = grid_value(reader.read(packed.code_bits[e]), packed.zero_point[e], packed.scale[e]);
  }
  return weight;
}

}  // namespace quantsim
