#pragma once
// The integer parameters of an integer-arithmetic run (--arith int; docs/QUANTIZATION.md, section 16), added to the
// weights index <stem>.qweights.json that export_quantized_model wrote (quantized_weights_file.h), so that an integer
// runtime can rebuild every layer without re-deriving anything:
//
//   "integer": {"arithmetic": "int", "sites": [{"name", "scale", "zero_point", "bits"}, ...],   (sites with codes)
//               "conventions": {...}}                                                            (index level)
//   each entry of "layers" gains
//   "integer": {"input": {"site", "scale", "zero_point", "bits"},
//               "weight_scale": [...], "weight_zero_point": [...], "weight_bits": [...],        (per output channel)
//               "bias_int32": [...], "accumulator_scale": [...],                                  (per output channel)
//               "output": {"site", "scale", "zero_point", "bits", "activation", "clamp": [lo, hi],
//                          "multiplier": [...], "exponent": [...]} | null,
//               "output_note": "..."}                                                             (when output is null)
//
// "output" is given where the layer's consumer site is directly the layer's output, possibly through a ReLU-like
// activation fused into the site as a code clamp (TFLite's fused activation): the int32 accumulators (bias included)
// become that site's codes as clamp(zero_point + MultiplyByQuantizedMultiplier(acc, multiplier[c], exponent[c]), lo,
// hi), gemmlowp's output stage (fixed_point.h). Otherwise (a residual add, a pool, a non-fusable activation, or the
// logits follow) "output" is null and "output_note" says so: the accumulators leave the layer at accumulator_scale.
// A channel whose weights are all zero (grid step 0) has weight_zero_point 0 and the layer's largest step as its scale
// (integer_layer.h), where the packed "scale" of the weights section keeps 0.
#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <string>

#include "quantsim/graph/integer_execution.h"
#include "quantsim/graph/prepared_model.h"

namespace quantsim {

// The "integer" objects above: {"index": <index-level object>, "layers": [<one per layer, by Layer::index>]}.
// `probe` (one input batch, any size) runs once through the float graph with the layers' current weights to find,
// numerically, which site each layer's output feeds directly (a site whose tensor equals the layer's output, or a
// ReLU-like op of it). `program` must hold one IntegerLayer per layer of `model` (by Layer::index) and codes for the
// sites the layers read. Throws UserError when it does not.
nlohmann::json integer_parameters_json(const PreparedModel& model, const IntegerProgram& program,
                                       const at::Tensor& probe);

// For `quant-sim ... --export PATH --arith int`: call after export_quantized_model(PATH, ...) wrote the weights index
// of the same run. Adds the objects above to <stem>.qweights.json (rewritten atomically; the bin file is unchanged,
// so read_quantized_weights still reads it). Throws UserError when the index is missing or names other layers.
void export_integer_parameters(const std::string& path, const PreparedModel& model, const IntegerProgram& program,
                               const at::Tensor& probe);

}  // namespace quantsim
