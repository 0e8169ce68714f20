#include "site_discovery.h"

#include <unordered_map>

#include "op_classes.h"

namespace quantsim::graph {
namespace {

using torch::jit::Node;
using torch::jit::Value;

// Nodes that read the tensor's values (shape queries do not count); the graph's return counts.
std::vector<Node*> tensor_consumers(const Value* value) {
  std::vector<Node*> consumers;
  for (const torch::jit::Use& use : value->uses()) {
    if (!is_shape_query(use.user)) consumers.push_back(use.user);
  }
  return consumers;
}

void make_unsigned(SitePlan& plan, Node* activation) {
  plan.site.is_unsigned = true;
  plan.site.activation = activation->kind().toQualString();
  plan.activation = activation;
  plan.pre_activation = activation->input(0);
  plan.value = activation->output(0);
}

// Paper mode, a conv/linear: its output, or the output of its ReLU when that is the output's only consumer.
SitePlan layer_output_site(const LayerNode& layer) {
  SitePlan plan;
  plan.value = layer.node->output(0);
  plan.site.kind = SiteKind::kLayerOutput;
  plan.site.name = layer.layer.name;
  plan.site.producer = layer.layer.op;
  plan.site.is_logits = layer.layer.last;
  plan.site.first_last = layer.layer.last;
  plan.site.layers = {layer.layer.index};
  plan.site.per_channel_allowed = layer.layer.kind == LayerKind::kConv;
  const std::vector<Node*> consumers = tensor_consumers(plan.value);
  if (consumers.size() == 1 && is_relu_like(consumers[0]) && consumers[0]->input(0) == plan.value) {
    make_unsigned(plan, consumers[0]);
  }
  return plan;
}

SitePlan pool_output_site(Node* pool, const OpIndexNamer& namer) {
  SitePlan plan;
  plan.value = pool->output(0);
  plan.site.kind = SiteKind::kPoolOutput;
  plan.site.name = namer.name(pool);
  plan.site.producer = pool->kind().toQualString();
  plan.site.per_channel_allowed = false;
  return plan;
}

std::vector<SitePlan> paper_sites(torch::jit::Graph& graph, const std::vector<LayerNode>& layers,
                                  const OpIndexNamer& namer) {
  std::unordered_map<const Node*, const LayerNode*> layer_of;
  for (const LayerNode& layer : layers) layer_of[layer.node] = &layer;
  std::vector<SitePlan> plans;
  for (Node* node : graph.nodes()) {
    if (auto it = layer_of.find(node); it != layer_of.end()) {
      plans.push_back(layer_output_site(*it->second));
    } else if (is_pool_node(node)) {
      plans.push_back(pool_output_site(node, namer));
    }
  }
  return plans;
}

// Deploy mode, the tensor a layer reads: named after what produced it.
SitePlan layer_input_site(Value* input, const std::unordered_map<const Node*, const LayerNode*>& layer_of,
                          const OpIndexNamer& namer) {
  SitePlan plan;
  plan.value = input;
  plan.site.kind = SiteKind::kLayerInput;
  Node* producer = input->node();
  if (producer->kind() == c10::prim::Param) {
    plan.site.name = "input";
    plan.site.producer = "input";
    return plan;
  }
  auto it = layer_of.find(producer);
  plan.site.name = it != layer_of.end() ? it->second->layer.name : namer.name(producer);
  plan.site.producer = producer->kind().toQualString();
  if (is_relu_like(producer)) make_unsigned(plan, producer);
  return plan;
}

std::vector<SitePlan> deploy_sites(const std::vector<LayerNode>& layers, const OpIndexNamer& namer) {
  std::unordered_map<const Node*, const LayerNode*> layer_of;
  for (const LayerNode& layer : layers) layer_of[layer.node] = &layer;
  std::unordered_map<const Value*, size_t> site_of_value;  // a tensor read by two layers is one site
  std::vector<SitePlan> plans;
  for (const LayerNode& layer : layers) {
    Value* input = layer.node->input(0);
    auto [it, inserted] = site_of_value.emplace(input, plans.size());
    if (inserted) plans.push_back(layer_input_site(input, layer_of, namer));
    Site& site = plans[it->second].site;
    site.layers.push_back(layer.layer.index);
    site.per_channel_allowed = site.per_channel_allowed && layer.layer.kind == LayerKind::kConv;
    site.first_last = site.first_last || layer.layer.first || layer.layer.last;
  }
  return plans;
}

}  // namespace

std::vector<SitePlan> find_sites(torch::jit::Graph& graph, const std::vector<LayerNode>& layers,
                                 const OpIndexNamer& namer, ActSites mode) {
  std::vector<SitePlan> plans = mode == ActSites::kOutputs ? paper_sites(graph, layers, namer)
                                                           : deploy_sites(layers, namer);
  for (size_t i = 0; i < plans.size(); ++i) plans[i].site.id = static_cast<int64_t>(i);
  return plans;
}

}  // namespace quantsim::graph
