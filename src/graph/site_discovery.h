#pragma once
// Where activations are observed/quantized (docs/QUANTIZATION.md, section 4), in paper (`outputs`) or deploy (`inputs`)
// mode.
#include <torch/csrc/jit/ir/ir.h>

#include <vector>

#include "layer_discovery.h"
#include "node_naming.h"
#include "quantsim/graph/activation_site.h"
#include "quantsim/quant/choices.h"

namespace quantsim::graph {

struct SitePlan {
  Site site;
  torch::jit::Value* value = nullptr;  // the tensor whose later uses get the site op's result
  // Unsigned sites: the ReLU-like node producing `value` and its input (observed before the node runs).
  torch::jit::Node* activation = nullptr;
  torch::jit::Value* pre_activation = nullptr;
};

// Sites in graph order; Site::id is the index in the result.
std::vector<SitePlan> find_sites(torch::jit::Graph& graph, const std::vector<LayerNode>& layers,
                                 const OpIndexNamer& namer, ActSites mode);

}  // namespace quantsim::graph
