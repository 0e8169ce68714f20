#pragma once
// The size report of --export: per layer, the bytes of its FP32 weights and bias against what the compact weights
// file needs for them, and the totals, as an aligned table.
#include <cstdint>
#include <string>
#include <vector>

#include "quantsim/export/quantized_weights_file.h"

namespace quantsim {

struct LayerSize {
  std::string name;
  std::string bits;         // code width: "4", "2-7 (mean 4.00)" under bit allocation, "f32" when left float
  bool wide_grid = false;   // levels not a power of two (e.g. GPFQ's 2^b + 1): codes take ceil(log2(levels)) bits
  int64_t parameters = 0;   // weight and bias elements
  int64_t fp32_bytes = 0;   // 4 bytes per weight and bias element
  int64_t code_bytes = 0;   // packed codes (float32 weights when left float)
  int64_t param_bytes = 0;  // float32 scale and int32 zero point per grid entry, a byte per entry for varying
                            // widths, and 2 float64 per output channel per correction step
  int64_t bias_bytes = 0;   // float32, as in FP32
  int64_t quantized_bytes() const { return code_bytes + param_bytes + bias_bytes; }
};

LayerSize layer_size(const WeightRecord& layer);

// One row per layer, then the total; ends with a newline.
std::string format_size_report(const std::vector<LayerSize>& layers);

}  // namespace quantsim
