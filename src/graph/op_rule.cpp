#include "op_rule.h"

#include <fmt/format.h>

#include <set>

#include "node_naming.h"
#include "op_classes.h"
#include "quantsim/core/errors.h"

namespace quantsim::graph {
namespace {

// Products of two tensors other than conv and linear. A weight multiplied here would stay float while the report
// claims a quantized network, so they are refused rather than run in float.
bool is_unquantized_product(const torch::jit::Node* node) {
  static const std::set<std::string> products = {"matmul",  "mm",     "bmm",      "addmm",     "addbmm",
                                                 "baddbmm", "einsum", "bilinear", "tensordot", "chain_matmul"};
  return node->kind().is_aten() && products.count(op_base_name(node)) > 0 && !is_layer_node(node);
}

std::string describe_location(const torch::jit::Node* node) {
  const std::string path = module_path(node);
  const std::string source = source_location(node);
  std::string where = path.empty() ? "in the top-level forward" : "in module '" + path + "'";
  if (!source.empty()) where += " (" + source + ")";
  return where;
}

void check_node(const torch::jit::Node* node, const std::string& model_path) {
  const std::string op = node->kind().toQualString();
  if (!node->kind().is_aten() && !node->kind().is_prim()) {
    throw UserError(fmt::format("model {}: op {} {} is not a standard aten op; quant-sim cannot see inside it to "
                                "quantize what it computes",
                                model_path, op, describe_location(node)));
  }
  if (is_unquantized_product(node)) {
    throw UserError(fmt::format("model {}: op {} {} multiplies two tensors outside conv/linear; quant-sim quantizes "
                                "conv, linear and matmul by a constant 2-D weight, and does not simulate this {}",
                                model_path, op, describe_location(node), op));
  }
}

void collect_float_ops(const torch::jit::Block& block, std::vector<FloatOp>& ops) {
  for (const torch::jit::Node* node : block.nodes()) {
    if (!node->kind().is_prim() && produces_tensor(node) && !is_layer_node(node)) {
      ops.push_back({node->kind().toQualString(), module_path(node)});
    }
    for (const torch::jit::Block* nested : node->blocks()) collect_float_ops(*nested, ops);
  }
}

}  // namespace

void check_quantizable_ops(const torch::jit::Block& block, const std::string& model_path) {
  for (const torch::jit::Node* node : block.nodes()) {
    check_node(node, model_path);
    for (const torch::jit::Block* nested : node->blocks()) check_quantizable_ops(*nested, model_path);
  }
}

std::vector<FloatOp> find_float_ops(const torch::jit::Block& block) {
  std::vector<FloatOp> ops;
  collect_float_ops(block, ops);
  return ops;
}

}  // namespace quantsim::graph
