#pragma once
// The ops quant-sim knows how to treat. Anything else would silently escape quantization, so it is refused.
#include <torch/csrc/jit/ir/ir.h>

#include <string>

namespace quantsim::graph {

// Throws UserError naming the first unsupported op, its module path and source location, and the model file.
// Supported: conv, linear, batch_norm, relu/relu6/leaky_relu/hardtanh/clamp, max/avg/adaptive pooling, add, cat,
// flatten/view/reshape/contiguous, mean, pad, dropout; plus all prim:: plumbing and aten:: ops that produce no tensor
// (size asserts, int arithmetic). Nested blocks (prim::If) are checked too.
void check_supported_ops(const torch::jit::Block& block, const std::string& model_path);

}  // namespace quantsim::graph
