#pragma once
// Finds the conv and linear layers of a prepared graph and gives each weight its own constant node.
#include <torch/csrc/jit/ir/ir.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "node_naming.h"
#include "quantsim/quant/model_layer.h"

namespace quantsim::graph {

struct LayerNode {
  Layer layer;
  torch::jit::Node* node = nullptr;  // the conv/linear node
  // The weight the graph computes with: the value of a prim::Constant owned by this layer alone. Replacing its
  // contents in place (copy_) changes what the model computes, also after the graph has been compiled, because the
  // interpreter's constant table holds this same tensor.
  at::Tensor live_weight;
  torch::jit::Node* weight_constant = nullptr;
  // A weight matmul's constant is W [in, out]; live_weight is its transposed view [out, in], the layout of
  // Layer::original_weight, so that writing the view writes the constant.
  bool weight_transposed = false;
};

// The tensor a layer's live weight views in its constant (transposed for a weight matmul).
at::Tensor live_weight_of(const LayerNode& layer, const at::Tensor& constant);

// Layers in graph order with stable names: the module path (from `layer_paths`, see FrozenModel, else the node's
// call stack), or `<op>_<k>` when there is none; a module path reached by several layers (a module called twice)
// gets `#<j>` appended, j counting its calls in graph order.
// Throws UserError for a layer inside control flow or one whose weight is not a constant after freezing.
std::vector<LayerNode> find_layers(torch::jit::Graph& graph, const OpIndexNamer& namer,
                                   const std::unordered_map<const torch::jit::Node*, std::string>& layer_paths,
                                   const std::string& model_path);

}  // namespace quantsim::graph
