#include "site_instrumentation.h"

#include "quantsim/graph/site_handler.h"

namespace quantsim::graph {
namespace {

using torch::jit::Node;
using torch::jit::Value;

// The first node that may read `value`: right after its producer, or the graph's first node for a graph input.
Node* insertion_point_after(torch::jit::Graph& graph, Value* value) {
  Node* producer = value->node();
  return producer->kind() == c10::prim::Param ? graph.block()->nodes().front() : producer->next();
}

void instrument_value(torch::jit::Graph& graph, const SitePlan& plan) {
  Node* before = insertion_point_after(graph, plan.value);
  torch::jit::WithInsertPoint guard(before);
  Node* site = create_site_node(graph, plan.value, encode_site_call(plan.site.id, SiteRole::kValue));
  site->insertBefore(before);
  plan.value->replaceAllUsesAfterNodeWith(site, site->output());
}

void instrument_pre_activation(torch::jit::Graph& graph, const SitePlan& plan) {
  torch::jit::WithInsertPoint guard(plan.activation);
  // The activation's current input, not plan.pre_activation: another site may already have replaced that tensor.
  Node* site = create_site_node(graph, plan.activation->input(0),
                                encode_site_call(plan.site.id, SiteRole::kPreActivation));
  site->insertBefore(plan.activation);
  plan.activation->replaceInput(0, site->output());  // only the activation: other readers keep the raw tensor
}

}  // namespace

Node* create_site_node(torch::jit::Graph& graph, Value* x, int64_t code) {
  Value* code_value = graph.insertConstant(code);
  Node* node = graph.create(c10::Symbol::fromQualString(kSiteOpName), {x, code_value}, 1);
  node->output()->setType(x->type());
  node->copyMetadata(x->node());  // source range and call stack of the producer, for error messages
  return node;
}

void insert_site_ops(torch::jit::Graph& graph, const std::vector<SitePlan>& plans) {
  for (const SitePlan& plan : plans) {
    if (plan.pre_activation != nullptr) instrument_pre_activation(graph, plan);
    instrument_value(graph, plan);
  }
}

}  // namespace quantsim::graph
