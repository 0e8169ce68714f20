#include "graph_export.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <stdexcept>

#include "quantsim/graph/site_handler.h"

namespace quantsim::graph {
namespace {

using torch::jit::Node;
using torch::jit::Value;

void collect_site_nodes(torch::jit::Block& block, std::vector<Node*>& found) {
  static const c10::Symbol site_op = c10::Symbol::fromQualString(kSiteOpName);
  for (Node* node : block.nodes()) {
    if (node->kind() == site_op) found.push_back(node);
    for (torch::jit::Block* inner : node->blocks()) collect_site_nodes(*inner, found);
  }
}

// The same values the in-process quantizer passes (apply_quant_params): float32 ranges, int32 bits, CPU tensors.
Value* insert_fake_quant(torch::jit::Graph& graph, Value* x, const QuantParams& params) {
  // The in-process quantizer fake-quantizes x.contiguous(); the op keeps its input's strides, which later ops see.
  Value* dense = graph.insert(c10::aten::contiguous, {x});
  if (!params.per_channel) {
    static const c10::Symbol per_tensor = c10::Symbol::fromQualString("quantsim::fake_quant_per_tensor");
    return graph.insert(per_tensor,
                        {dense, static_cast<double>(static_cast<float>(params.range.lo)),
                         static_cast<double>(static_cast<float>(params.range.hi)), static_cast<int64_t>(params.bits)});
  }
  static const c10::Symbol per_channel = c10::Symbol::fromQualString("quantsim::fake_quant_per_channel");
  const auto floats = at::TensorOptions().dtype(at::kFloat);
  const std::vector<int32_t> bits(params.channel_bits.begin(), params.channel_bits.end());
  return graph.insert(per_channel, {dense, at::tensor(params.lo, floats), at::tensor(params.hi, floats),
                                    at::tensor(bits, at::TensorOptions().dtype(at::kInt)), int64_t{1}});
}

void replace_site_node(torch::jit::Graph& graph, Node* node,
                       const std::vector<std::optional<QuantParams>>& site_params) {
  const int64_t code = torch::jit::constant_as<int64_t>(node->input(1)).value();
  const int64_t site_id = code / 2;
  if (site_id < 0 || site_id >= static_cast<int64_t>(site_params.size())) {
    throw std::invalid_argument(
        fmt::format("fake_quantized_module: site {} has no parameters ({} given)", site_id, site_params.size()));
  }
  Value* x = node->input(0);
  Value* replacement = x;
  const bool is_value = code % 2 == static_cast<int64_t>(SiteRole::kValue);
  if (is_value && site_params[site_id]) {
    torch::jit::WithInsertPoint guard(node);
    replacement = insert_fake_quant(graph, x, *site_params[site_id]);
  }
  node->output()->replaceAllUsesWith(replacement);
  node->destroy();
}

void copy_constants_to_cpu(torch::jit::Block& block) {
  for (Node* node : block.nodes()) {
    if (node->kind() == c10::prim::Constant && node->hasAttribute(c10::attr::value) &&
        node->kindOf(c10::attr::value) == torch::jit::AttributeKind::t) {
      node->t_(c10::attr::value, node->t(c10::attr::value).to(at::kCPU, /*non_blocking=*/false, /*copy=*/true));
    }
    for (torch::jit::Block* inner : node->blocks()) copy_constants_to_cpu(*inner);
  }
}

}  // namespace

torch::jit::Module fake_quantized_module(const torch::jit::Module& frozen_module,
                                         const std::vector<std::optional<QuantParams>>& site_params) {
  // clone() copies the methods' graphs (their tensor constants still shared), so the live model stays instrumented.
  torch::jit::Module exported = frozen_module.clone();
  const std::shared_ptr<torch::jit::Graph> graph = exported.get_method("forward").graph();
  std::vector<Node*> sites;
  collect_site_nodes(*graph->block(), sites);
  for (Node* node : sites) replace_site_node(*graph, node, site_params);
  torch::jit::EliminateDeadCode(graph);  // the site codes' constants
  copy_constants_to_cpu(*graph->block());
  return exported;
}

}  // namespace quantsim::graph
