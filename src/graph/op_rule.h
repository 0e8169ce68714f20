#pragma once
// The rule that decides what happens to each op of a prepared graph (docs/QUANTIZATION.md, section 4): conv and
// linear are the quantized layers; every other aten op runs in float; the few ops that would make the simulation wrong
// without saying so are refused.
#include <torch/csrc/jit/ir/ir.h>

#include <string>
#include <vector>

#include "quantsim/graph/float_op.h"

namespace quantsim::graph {

// Throws UserError naming the first refused op, its module path and source location, and the model file. Refused:
// ops outside the aten:: and prim:: namespaces (custom or already-quantized ops, which quant-sim cannot see into)
// and the products that are not quantized layers (matmul of two activations, mm, bmm, einsum, ...), which would
// multiply by a weight or an activation that no quantizer sees. Nested blocks (prim::If, prim::Loop) are checked too.
void check_quantizable_ops(const torch::jit::Block& block, const std::string& model_path);

// Every op that computes a tensor and is not a quantized layer, in graph order, nested blocks included: what the
// simulated network runs in float.
std::vector<FloatOp> find_float_ops(const torch::jit::Block& block);

}  // namespace quantsim::graph
