#include "layer_discovery.h"

#include <torch/csrc/jit/ir/constants.h>

#include <fmt/format.h>

#include <map>

#include "op_classes.h"
#include "quantsim/core/errors.h"

namespace quantsim::graph {
namespace {

using torch::jit::Node;

void refuse_layers_in_control_flow(const torch::jit::Block& block, const std::string& model_path, bool nested) {
  for (const Node* node : block.nodes()) {
    if (nested && is_layer_node(node)) {
      throw UserError(fmt::format("model {}: {} in module '{}' sits inside control flow (prim::If/Loop), which "
                                  "quant-sim does not support",
                                  model_path, node->kind().toQualString(), module_path(node)));
    }
    for (const torch::jit::Block* inner : node->blocks()) refuse_layers_in_control_flow(*inner, model_path, true);
  }
}

at::Tensor constant_tensor(const torch::jit::Value* value) {
  auto ivalue = torch::jit::toIValue(value);
  return ivalue && ivalue->isTensor() ? ivalue->toTensor() : at::Tensor();
}

int64_t groups_of(const Node* node) {
  if (!is_conv_node(node)) return 1;
  auto groups = node->get(c10::Symbol::attr("groups"));
  return groups && groups->isInt() ? groups->toInt() : 1;
}

// A constant integer-list argument of a conv node (stride, padding, dilation), or empty.
std::vector<int64_t> int_list_argument(const Node* node, const char* name) {
  if (!node->schema().argumentIndexWithName(name)) return {};
  auto value = node->get(c10::Symbol::attr(name));
  return value && value->isIntList() ? value->toIntVector() : std::vector<int64_t>{};
}

void fill_conv_geometry(const Node* node, Layer& layer) {
  if (!is_conv_node(node)) return;
  layer.stride = int_list_argument(node, "stride");
  layer.padding = int_list_argument(node, "padding");
  layer.dilation = int_list_argument(node, "dilation");
  if (!node->schema().argumentIndexWithName("transposed")) return;  // only aten::_convolution has one
  auto transposed = node->get(c10::Symbol::attr("transposed"));
  layer.transposed = transposed && transposed->isBool() && transposed->toBool();
}

// Names every layer by module path, disambiguating paths that several layers share.
std::vector<std::string> layer_names(const std::vector<Node*>& nodes, const OpIndexNamer& namer,
                                     const std::unordered_map<const Node*, std::string>& layer_paths) {
  std::vector<std::string> paths;
  std::map<std::string, int> uses;
  for (const Node* node : nodes) {
    auto known = layer_paths.find(node);
    paths.push_back(known != layer_paths.end() ? known->second : module_path(node));
    ++uses[paths.back()];
  }
  std::map<std::string, int> seen;
  std::vector<std::string> names;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string& path = paths[i];
    if (path.empty()) {
      names.push_back(namer.name(nodes[i]));
    } else if (uses[path] > 1) {
      names.push_back(path + "#" + std::to_string(seen[path]++));
    } else {
      names.push_back(path);
    }
  }
  return names;
}

// Moves the weight into a constant node of its own (frozen graphs may share equal constants between layers).
void give_private_weight(torch::jit::Graph& graph, LayerNode& entry) {
  torch::jit::WithInsertPoint guard(entry.node);
  const at::Tensor& weight = entry.layer.original_weight;
  const at::Tensor constant_value = (entry.weight_transposed ? weight.t() : weight).clone(at::MemoryFormat::Contiguous);
  torch::jit::Value* constant = graph.insertConstant(constant_value);
  constant->setDebugName(entry.layer.name + ".weight");
  entry.node->replaceInput(1, constant);
  entry.weight_constant = constant->node();
  entry.live_weight = live_weight_of(entry, constant_value);
}

}  // namespace

at::Tensor live_weight_of(const LayerNode& layer, const at::Tensor& constant) {
  return layer.weight_transposed ? constant.t() : constant;
}

std::vector<LayerNode> find_layers(torch::jit::Graph& graph, const OpIndexNamer& namer,
                                   const std::unordered_map<const Node*, std::string>& layer_paths,
                                   const std::string& model_path) {
  refuse_layers_in_control_flow(*graph.block(), model_path, false);
  std::vector<Node*> nodes;
  for (Node* node : graph.nodes()) {
    if (is_layer_node(node)) nodes.push_back(node);
  }
  const std::vector<std::string> names = layer_names(nodes, namer, layer_paths);
  std::vector<LayerNode> layers;
  for (size_t i = 0; i < nodes.size(); ++i) {
    LayerNode entry;
    entry.node = nodes[i];
    Layer& layer = entry.layer;
    layer.index = static_cast<int64_t>(i);
    layer.name = names[i];
    layer.kind = is_conv_node(nodes[i]) ? LayerKind::kConv : LayerKind::kLinear;
    layer.op = nodes[i]->kind().toQualString();
    layer.first = i == 0;
    layer.last = i + 1 == nodes.size();
    layer.groups = groups_of(nodes[i]);
    fill_conv_geometry(nodes[i], layer);
    at::Tensor weight = constant_tensor(nodes[i]->input(1));
    if (!weight.defined()) {
      throw UserError(
          fmt::format("model {}: the weight of layer '{}' is not a constant after freezing", model_path, layer.name));
    }
    entry.weight_transposed = is_weight_matmul(nodes[i]);
    // A weight matmul computes x @ W with W [in, out]; as a layer its weight is W^T [out, in], as a linear's.
    layer.original_weight = live_weight_of(entry, weight).clone(at::MemoryFormat::Contiguous);
    if (nodes[i]->inputs().size() > 2) layer.bias = constant_tensor(nodes[i]->input(2));
    give_private_weight(graph, entry);
    layers.push_back(std::move(entry));
  }
  return layers;
}

}  // namespace quantsim::graph
