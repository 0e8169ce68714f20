#pragma once
// The integer form of a quantized run (docs/QUANTIZATION.md, section 16): the IntegerProgram that
// PreparedModel::forward_integer executes, built from the layers' grid weights and the activation sites' decided
// static ranges, and the checks that refuse, naming the first layer or site, what integer hardware cannot run.
#include <vector>

#include "quantsim/graph/integer_execution.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

// Throws UserError unless the model's sites are the inputs of its layers (deploy mode, --act-sites inputs): in paper
// mode the first layer reads a float tensor (the image), which integer hardware cannot multiply. Names that layer.
void check_integer_site_mode(const PreparedModel& model);

// Throws UserError naming the first layer (execution order) whose weight is float (-qw f32, --first-last-bits f32)
// or not the weight on its grid (-bcw/-vcw correct it after rounding): integer hardware multiplies grid codes only.
// `weights` by Layer::index.
void check_integer_weights(const PreparedModel& model, const std::vector<QuantizedWeight>& weights);

// The program of the model as quantized: one IntegerLayer per layer from `weights` (by Layer::index) and the codes
// of its input site, and the ActivationCodes of every site whose static range `quantizer` has decided (run a forward
// under it first; sites it has not reached get none). Throws UserError naming the first site (graph order) that stays
// float (--first-last-bits f32), was given per-channel scales (-pcq_a) or has an empty range, and for what
// integer_layer refuses; check_integer_site_mode and check_integer_weights first.
IntegerProgram build_integer_program(const PreparedModel& model, const std::vector<QuantizedWeight>& weights,
                                     const ActivationQuantizer& quantizer);

}  // namespace quantsim
