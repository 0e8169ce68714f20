#include "graph_preparation.h"

#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/frozen_conv_folding.h>
#include <torch/csrc/jit/passes/remove_dropout.h>
#include <torch/csrc/jit/passes/remove_mutation.h>

#include "cross_layer_equalization.h"
#include "op_classes.h"
#include "op_rule.h"
#include "quantsim/core/errors.h"
#include "quantsim/graph/torchscript_loading.h"

namespace quantsim::graph {
namespace {

torch::jit::Module freeze(torch::jit::Module& module, const std::string& model_path) {
  module.eval();
  try {
    // Inlines every method call (recording module instance names on each node's call stack) and turns parameters
    // and buffers into graph constants.
    return torch::jit::freeze_module(module);
  } catch (const c10::Error& e) {
    throw UserError("cannot prepare model " + model_path + ": freezing failed (" + first_line(e) + ")");
  }
}

void simplify(std::shared_ptr<torch::jit::Graph>& graph, bool fold_batch_norm,
              std::unordered_map<const torch::jit::Node*, FoldedBatchNorm>* batch_norms) {
  torch::jit::removeDropout(graph);  // identity in eval mode
  // relu_ -> relu, add_ -> add where provably equivalent: site ops can then return new tensors without later
  // in-place ops writing into what a handler observed.
  torch::jit::RemoveTensorMutation(graph);
  // docs/QUANTIZATION.md, section 4: BN directly following a conv is folded into its weight and bias before anything is
  // quantized.
  // Cross-layer equalization's high-bias absorption needs the BN's gamma and beta, which folding drops.
  if (batch_norms) *batch_norms = record_batch_norms(*graph);
  if (fold_batch_norm) torch::jit::FoldFrozenConvBatchnorm(graph);
  torch::jit::EliminateDeadCode(graph);
}

// `self.a.b.weight` -> "a.b"; nullopt when the name is not an attribute path made by freezing.
c10::optional<std::string> owner_path(const std::string& debug_name) {
  const std::string prefix = "self.";
  if (debug_name.compare(0, prefix.size(), prefix) != 0) return c10::nullopt;
  const auto last_dot = debug_name.rfind('.');
  const std::string attribute = debug_name.substr(last_dot + 1);
  // A numeric tail is LibTorch's suffix for a clashing debug name, not an attribute.
  if (attribute.empty() || attribute.find_first_not_of("0123456789") == std::string::npos) return c10::nullopt;
  if (last_dot + 1 == prefix.size()) return std::string();  // a weight of the top-level module
  return debug_name.substr(prefix.size(), last_dot - prefix.size());
}

// Must run right after freezing: BN folding replaces the weight constants and their names.
std::unordered_map<const torch::jit::Node*, std::string> record_layer_paths(const torch::jit::Graph& graph) {
  std::unordered_map<const torch::jit::Node*, std::string> paths;
  for (const torch::jit::Node* node : graph.nodes()) {
    if (!is_layer_node(node) || node->inputs().size() < 2) continue;
    if (auto path = owner_path(node->input(1)->debugName())) paths[node] = *path;
  }
  return paths;
}

}  // namespace

FrozenModel freeze_for_quantization(torch::jit::Module module, const std::string& model_path, bool fold_batch_norm,
                                    const EqualizationRequest& equalization) {
  if (!module.find_method("forward")) throw UserError("model " + model_path + " has no forward method");
  FrozenModel frozen{freeze(module, model_path), nullptr, {}, {}};
  frozen.graph = frozen.module.get_method("forward").graph();
  frozen.layer_paths = record_layer_paths(*frozen.graph);
  std::unordered_map<const torch::jit::Node*, FoldedBatchNorm> batch_norms;
  simplify(frozen.graph, fold_batch_norm, equalization.equalize ? &batch_norms : nullptr);
  check_quantizable_ops(*frozen.graph->block(), model_path);
  if (equalization.equalize) {
    frozen.equalization = equalize_cross_layer(*frozen.graph, batch_norms, equalization.absorb_high_bias);
    torch::jit::EliminateDeadCode(frozen.graph);  // the replaced constants and activations
  }
  return frozen;
}

}  // namespace quantsim::graph
