#pragma once
// Which graph nodes matter to quantization: layers, ReLU-like activations, pools, shape queries.
#include <torch/csrc/jit/ir/ir.h>

#include <string>

namespace quantsim::graph {

// conv (aten::conv1d/2d/3d, aten::_convolution), aten::linear, or a weight matmul (below).
bool is_layer_node(const torch::jit::Node* node);
// aten::matmul(x, W) with W a constant 2-D tensor [in, out] and x an activation: a linear layer without bias whose
// weight is stored transposed.
bool is_weight_matmul(const torch::jit::Node* node);
bool is_conv_node(const torch::jit::Node* node);

// relu, relu6, hardtanh with min_val exactly 0, clamp with a constant min exactly 0 (in-place variants included).
// Their output is non-negative, so a site reading it is unsigned (docs/QUANTIZATION.md, section 4). LeakyReLU is not
// ReLU-like.
bool is_relu_like(const torch::jit::Node* node);

// max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d (and their 1d/3d forms).
bool is_pool_node(const torch::jit::Node* node);

// Uses that only read metadata (size, dim, ...), not values: they do not count as consumers of a tensor.
bool is_shape_query(const torch::jit::Node* node);

// True when some output is a Tensor: compute nodes, as opposed to int/bool/list plumbing.
bool produces_tensor(const torch::jit::Node* node);

// `aten::relu_` -> "relu": the op name used in fallback site names (`relu_3`).
std::string op_base_name(const torch::jit::Node* node);

}  // namespace quantsim::graph
