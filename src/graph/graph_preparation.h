#pragma once
// From a loaded TorchScript module to the graph quant-sim instruments: eval mode, frozen (weights become constants),
// dropout removed, in-place ops made functional, BatchNorm folded into the preceding conv, ops checked
// against the rule of op_rule.h, and optionally cross-layer equalised (cross_layer_equalization.h).
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "quantsim/graph/prepared_model.h"

namespace quantsim::graph {

struct FrozenModel {
  torch::jit::Module module;                 // the frozen clone; its forward graph is `graph`
  std::shared_ptr<torch::jit::Graph> graph;  // inlined, every node keeps its module call stack
  // Module path of each conv/linear node, from the attribute path freezing gave its weight
  // (`self.layer1.0.conv2.weight` -> `layer1.0.conv2`). Unlike the call stack, which records only the last attribute
  // of a chain such as `self.expanded_conv.depthwise.forward(x)` (mobilenet_v2_q), it is always complete.
  // Missing for a layer whose weight is not a module attribute; empty for one owned by the top-level module.
  std::unordered_map<const torch::jit::Node*, std::string> layer_paths;
  CrossLayerEqualizationSummary equalization;  // all zero without EqualizationRequest::equalize
};

struct EqualizationRequest {
  bool equalize = false;
  bool absorb_high_bias = true;
};

// Deliberately not torch::jit::freeze's full optimization: that also concatenates linears and folds conv+add/mul,
// which would change which tensors exist. Only the passes that keep every conv/linear/activation as its own node run.
// `fold_batch_norm` false keeps every BatchNorm as its own float op. Throws UserError (naming `model_path`) when
// freezing fails or an op that cannot be simulated remains (op_rule.h).
// `equalization` runs cross-layer equalization after folding (docs/QUANTIZATION.md, section 14.1).
FrozenModel freeze_for_quantization(torch::jit::Module module, const std::string& model_path, bool fold_batch_norm,
                                    const EqualizationRequest& equalization = {});

}  // namespace quantsim::graph
