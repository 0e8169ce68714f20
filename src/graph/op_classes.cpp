#include "op_classes.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>

#include <algorithm>
#include <array>

namespace quantsim::graph {
namespace {

using torch::jit::Node;

// `aten::relu_` and `aten::relu` are the same op for classification.
bool kind_is(const Node* node, std::initializer_list<const char*> names) {
  const std::string kind = node->kind().toQualString();
  return std::any_of(names.begin(), names.end(),
                     [&](const char* name) { return kind == name || kind == std::string(name) + "_"; });
}

// The number a constant scalar input holds, if it is one.
c10::optional<double> constant_number(const torch::jit::Value* value) {
  auto ivalue = torch::jit::toIValue(value);
  if (!ivalue || !(ivalue->isInt() || ivalue->isDouble())) return c10::nullopt;
  return ivalue->toScalar().toDouble();
}

}  // namespace

bool is_conv_node(const Node* node) {
  return kind_is(node, {"aten::conv1d", "aten::conv2d", "aten::conv3d", "aten::_convolution"});
}

bool is_weight_matmul(const Node* node) {
  if (node->kind().toQualString() != std::string("aten::matmul")) return false;
  auto weight = torch::jit::toIValue(node->input(1));
  return weight && weight->isTensor() && weight->toTensor().dim() == 2 && !torch::jit::toIValue(node->input(0));
}

bool is_layer_node(const Node* node) {
  return is_conv_node(node) || node->kind().toQualString() == std::string("aten::linear") || is_weight_matmul(node);
}

bool is_relu_like(const Node* node) {
  if (kind_is(node, {"aten::relu", "aten::relu6"})) return true;
  if (kind_is(node, {"aten::hardtanh", "aten::clamp"}) && node->inputs().size() >= 2) {
    // hardtanh(x, min_val, max_val) and clamp(x, min, max) with min exactly 0 are ReLU with an upper bound.
    auto min = constant_number(node->input(1));
    if (min) return *min == 0.0;
    // clamp(x, 0, bound) with per-channel tensors, as cross-layer equalization writes ReLU6.
    auto tensor = torch::jit::toIValue(node->input(1));
    return tensor && tensor->isTensor() && tensor->toTensor().numel() > 0 &&
           tensor->toTensor().eq(0).all().item<bool>();
  }
  return false;
}

bool is_pool_node(const Node* node) {
  return kind_is(
      node, {"aten::max_pool1d", "aten::max_pool2d", "aten::max_pool3d", "aten::avg_pool1d", "aten::avg_pool2d",
             "aten::avg_pool3d", "aten::adaptive_avg_pool1d", "aten::adaptive_avg_pool2d", "aten::adaptive_avg_pool3d",
             "aten::adaptive_max_pool1d", "aten::adaptive_max_pool2d", "aten::adaptive_max_pool3d"});
}

bool is_shape_query(const Node* node) {
  return kind_is(node, {"aten::size", "aten::dim", "aten::len", "aten::numel", "prim::shape", "prim::device",
                        "prim::dtype", "prim::layout", "aten::is_floating_point"});
}

bool produces_tensor(const Node* node) {
  return std::any_of(node->outputs().begin(), node->outputs().end(),
                     [](const torch::jit::Value* v) { return v->type()->kind() == c10::TypeKind::TensorType; });
}

std::string op_base_name(const Node* node) {
  std::string name = node->kind().toUnqualString();
  // In-place variants end in a single `_` (relu_); dunder names (__and__) are left alone.
  if (name.size() > 1 && name.back() == '_' && name[name.size() - 2] != '_') name.pop_back();
  return name;
}

}  // namespace quantsim::graph
