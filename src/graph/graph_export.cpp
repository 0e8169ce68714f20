#include "graph_export.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/csrc/jit/api/function_impl.h>
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

// The element at `step` of `container`, inserted before the graph's return.
Value* insert_element(torch::jit::Graph& graph, Value* container, const OutputStep& step) {
  const c10::TypePtr& type = container->type();
  switch (step.kind) {
    case OutputStep::Kind::kTupleIndex: {
      const c10::TupleTypePtr tuple = type->cast<c10::TupleType>();
      if (!tuple || step.index >= static_cast<int64_t>(tuple->elements().size())) break;
      Value* index = graph.insertConstant(step.index);
      return graph.insertNode(graph.createTupleIndex(container, index, tuple->elements()[step.index]))->output();
    }
    case OutputStep::Kind::kListIndex:
      if (type->kind() != c10::TypeKind::ListType) break;
      return graph.insert(c10::aten::__getitem__, {container, step.index});
    case OutputStep::Kind::kStringKey:
    case OutputStep::Kind::kIntKey: {
      const c10::DictTypePtr dict = type->cast<c10::DictType>();
      const bool string_key = step.kind == OutputStep::Kind::kStringKey;
      if (!dict || dict->getKeyType()->kind() != (string_key ? c10::TypeKind::StringType : c10::TypeKind::IntType)) {
        break;
      }
      return string_key ? graph.insert(c10::aten::__getitem__, {container, step.key})
                        : graph.insert(c10::aten::__getitem__, {container, step.index});
    }
  }
  throw std::invalid_argument(
      fmt::format("fake_quantized_module: output path step {} does not fit type {}", path_text({step}), type->str()));
}

// Makes `method` return the tensor at `path` in what it returns now.
void return_only(torch::jit::Method method, const OutputPath& path) {
  torch::jit::GraphFunction& function = torch::jit::toGraphFunction(method.function());
  torch::jit::Graph& graph = *function.graph();
  torch::jit::WithInsertPoint guard(graph.return_node());
  Value* value = graph.outputs().at(0);
  for (const OutputStep& step : path) value = insert_element(graph, value, step);
  // A named tuple's field is typed Optional[Tensor] (googlenet's aux logits share the type); the chosen one holds a
  // tensor, as select_logits checked.
  if (!value->type()->isSubtypeOf(*c10::TensorType::get()))
    value = graph.insertUncheckedCast(value, c10::TensorType::get());
  graph.return_node()->replaceInput(0, value);
  function.setSchema(function.getSchema().cloneWithReturns({c10::Argument("", c10::TensorType::get())}));
}

}  // namespace

torch::jit::Module fake_quantized_module(const torch::jit::Module& frozen_module,
                                         const std::vector<std::optional<QuantParams>>& site_params,
                                         const OutputPath& output_path) {
  // clone() copies the methods' graphs (their tensor constants still shared), so the live model stays instrumented.
  torch::jit::Module exported = frozen_module.clone();
  const std::shared_ptr<torch::jit::Graph> graph = exported.get_method("forward").graph();
  std::vector<Node*> sites;
  collect_site_nodes(*graph->block(), sites);
  for (Node* node : sites) replace_site_node(*graph, node, site_params);
  if (!output_path.empty()) return_only(exported.get_method("forward"), output_path);
  torch::jit::EliminateDeadCode(graph);  // the site codes' constants, and what computed only the unused outputs
  copy_constants_to_cpu(*graph->block());
  return exported;
}

}  // namespace quantsim::graph
