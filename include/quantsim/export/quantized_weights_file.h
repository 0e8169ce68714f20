#pragma once
// The compact weights file of --export: integer weight codes packed at their bit widths, with the scales, zero
// points and corrections needed to rebuild, bit for bit, the weights the exported model computes with.
//
// Two files: <stem>.qweights.bin holds raw sections back to back (packed codes, see weight_packing.h and
// bit_packing.h; float32 weights of layers left float; float32 biases; floats little-endian), and
// <stem>.qweights.json indexes it:
//   {"format": "quant-sim quantized weights", "version": 1, "bin": "<stem>.qweights.bin", "bin_bytes": N,
//    "bin_sha256": "...", "source": {...}, "layers": [
//      {"name": "layer1.0.conv1", "kind": "conv", "shape": [16, 16, 3, 3], "bits": 4,
//       "weight": {"encoding": "codes" | "float32", "offset": B, "bytes": N},
//       "code_bits": [...], "levels": [...], "scale": [...], "zero_point": [...],   (per grid entry; "codes" only)
//       "corrections": [{"step": "variance", "q_mean": [...], "ratio": [... | null]},
//                       {"step": "mean", "q_mean": [...], "target_mean": [...]}],  (per output channel, float64)
//       "bias": {"encoding": "float32", "offset": B, "bytes": N} | null}, ...]}
// Rebuilding a layer: w = (code - zero_point) * scale in float32 (the grid weight), then each correction step in
// order as weight_correction.h writes it (float64 per output channel, rounded to float32 after each step; a null
// ratio leaves that channel as it is).
#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "quantsim/quant/model_layer.h"
#include "quantsim/quant/weight_correction.h"
#include "quantsim/quant/weight_packing.h"

namespace quantsim {

struct WeightRecord {
  std::string name;
  LayerKind kind = LayerKind::kConv;
  int bits = 0;                        // the quantizer's bits (0: left float)
  std::optional<PackedWeight> packed;  // the codes; nullopt when the weight stayed float
  at::Tensor float_weight;             // float32, only when not packed
  CorrectionSteps corrections;         // replayed on the grid weight
  at::Tensor bias;                     // float32; undefined when the layer has none
};

// Writes both files atomically; `source` (provenance: model, settings) is stored as the index's "source".
void write_quantized_weights(const std::string& bin_path, const std::string& index_path,
                             const std::vector<WeightRecord>& layers, const nlohmann::json& source);

// Reads an index and its bin file back. Throws UserError naming the file when either is missing, malformed, or the
// bin file's size or SHA-256 differs from the index's.
std::vector<WeightRecord> read_quantized_weights(const std::string& index_path);

// The weight before corrections (the grid weight; the float weight when not packed) and the weight the layer
// computes with (corrections replayed).
at::Tensor grid_weight(const WeightRecord& record);
at::Tensor folded_weight(const WeightRecord& record);

}  // namespace quantsim
