#include "op_support.h"

#include <fmt/format.h>

#include <set>

#include "node_naming.h"
#include "op_classes.h"
#include "quantsim/core/errors.h"

namespace quantsim::graph {
namespace {

// Tensor-producing ops besides layers, activations and pools (op_base_name form: no in-place `_`).
const std::set<std::string>& supported_plain_ops() {
  static const std::set<std::string> ops = {"batch_norm",
                                            "leaky_relu",
                                            "relu",
                                            "relu6",
                                            "hardtanh",
                                            "clamp",
                                            "add",
                                            "cat",
                                            "flatten",
                                            "view",
                                            "reshape",
                                            "contiguous",
                                            "mean",
                                            "pad",
                                            "constant_pad_nd",
                                            "dropout",
                                            "feature_dropout"};
  return ops;
}

bool is_supported(const torch::jit::Node* node) {
  if (node->kind().is_prim()) return true;    // constants, lists, If/Loop (their blocks are checked), ...
  if (!node->kind().is_aten()) return false;  // custom namespaces compute things we cannot see into
  if (!produces_tensor(node)) return true;    // size asserts, int arithmetic
  return is_layer_node(node) || is_pool_node(node) || supported_plain_ops().count(op_base_name(node)) > 0;
}

std::string describe_location(const torch::jit::Node* node) {
  const std::string path = module_path(node);
  const std::string source = source_location(node);
  std::string where = path.empty() ? "in the top-level forward" : "in module '" + path + "'";
  if (!source.empty()) where += " (" + source + ")";
  return where;
}

}  // namespace

void check_supported_ops(const torch::jit::Block& block, const std::string& model_path) {
  for (const torch::jit::Node* node : block.nodes()) {
    if (!is_supported(node)) {
      throw UserError(fmt::format(
          "model {}: unsupported op {} {}; quant-sim supports conv, linear, batch_norm, relu/relu6/leaky_relu/"
          "hardtanh/clamp, max/avg/adaptive pooling, add, cat, flatten/view/reshape, mean, pad and dropout",
          model_path, node->kind().toQualString(), describe_location(node)));
    }
    for (const torch::jit::Block* nested : node->blocks()) check_supported_ops(*nested, model_path);
  }
}

}  // namespace quantsim::graph
