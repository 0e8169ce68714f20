#include "cross_layer_equalization.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>

#include <cmath>
#include <optional>
#include <vector>

#include "op_classes.h"

namespace quantsim::graph {
namespace {

using torch::jit::Node;
using torch::jit::Value;

at::Tensor constant_tensor(const Value* value) {
  auto ivalue = torch::jit::toIValue(value);
  return ivalue && ivalue->isTensor() ? ivalue->toTensor() : at::Tensor();
}

std::optional<double> constant_number(const Value* value) {
  auto ivalue = torch::jit::toIValue(value);
  if (!ivalue || !(ivalue->isInt() || ivalue->isDouble())) return std::nullopt;
  return ivalue->toScalar().toDouble();
}

bool is_linear(const Node* node) { return node->kind().toQualString() == std::string("aten::linear"); }

int64_t groups_of(const Node* node) {
  if (!is_conv_node(node)) return 1;
  auto groups = node->get(c10::Symbol::attr("groups"));
  return groups && groups->isInt() ? groups->toInt() : 0;  // 0: not a constant, the node is left alone
}

bool is_transposed(const Node* node) {
  if (!node->schema().argumentIndexWithName("transposed")) return false;
  auto transposed = node->get(c10::Symbol::attr("transposed"));
  return !transposed || !transposed->isBool() || transposed->toBool();
}

// Whether the conv pads its input with zeros (then a constant added to its input is not a constant bias at the
// borders, and absorption would change the output there).
bool pads(const Node* node) {
  if (!is_conv_node(node)) return false;
  if (!node->schema().argumentIndexWithName("padding")) return true;
  auto padding = node->get(c10::Symbol::attr("padding"));
  if (!padding || !padding->isIntList())
    return padding && padding->isString() ? padding->toStringRef() != "valid" : true;
  for (int64_t p : padding->toIntVector()) {
    if (p != 0) return true;
  }
  return false;
}

// A conv or aten::linear whose weight and bias are constants we may replace.
bool is_equalizable_layer(const Node* node) {
  if (!(is_conv_node(node) || is_linear(node)) || node->inputs().size() < 3) return false;
  if (is_conv_node(node) && (groups_of(node) < 1 || is_transposed(node))) return false;
  const at::Tensor weight = constant_tensor(node->input(1));
  if (!weight.defined() || !weight.is_floating_point() || weight.dim() < 2) return false;
  const bool no_bias = node->input(2)->type()->kind() == c10::TypeKind::NoneType;
  const at::Tensor bias = constant_tensor(node->input(2));
  return no_bias || (bias.defined() && bias.dim() == 1 && bias.size(0) == weight.size(0));
}

// A layer's weight viewed per input channel: [in_channels, everything else] (a copy), for grouped convs too.
struct InputChannels {
  int64_t groups, out_per_group, in_per_group, kernel;
};

InputChannels input_layout(const at::Tensor& weight, int64_t groups) {
  const int64_t out = weight.size(0);
  return {groups, out / groups, weight.size(1), weight.numel() / (out * weight.size(1))};
}

// [g, out/g, in/g, K] view of a weight.
at::Tensor grouped_view(const at::Tensor& weight, const InputChannels& l) {
  return weight.reshape({l.groups, l.out_per_group, l.in_per_group, l.kernel});
}

at::Tensor input_channel_ranges(const at::Tensor& weight, int64_t groups) {
  const InputChannels l = input_layout(weight, groups);
  return grouped_view(weight, l).abs().amax({1, 3}).reshape({l.groups * l.in_per_group});
}

at::Tensor output_channel_ranges(const at::Tensor& weight) {
  return weight.abs().reshape({weight.size(0), -1}).amax(1);
}

// Multiplies input channel i of `weight` by scale[i].
at::Tensor scale_input_channels(const at::Tensor& weight, int64_t groups, const at::Tensor& scale) {
  const InputChannels l = input_layout(weight, groups);
  return (grouped_view(weight, l) * scale.reshape({l.groups, 1, l.in_per_group, 1})).reshape(weight.sizes());
}

// W2 applied to a constant input c: the bias a constant input shift adds to every output channel.
at::Tensor weight_times_constant(const at::Tensor& weight, int64_t groups, const at::Tensor& c) {
  const InputChannels l = input_layout(weight, groups);
  return (grouped_view(weight, l).sum(3) * c.reshape({l.groups, 1, l.in_per_group}))
      .sum(2)
      .reshape({l.groups * l.out_per_group});
}

struct LayerState {
  Node* node = nullptr;
  at::Tensor weight;  // double, current
  at::Tensor bias;    // double, current (zeros when the layer had none)
  bool had_bias = false;
  int64_t groups = 1;
  at::ScalarType type = at::kFloat;  // of the graph's constants
  bool changed = false;
  std::optional<FoldedBatchNorm> batch_norm;  // scaled along with the layer's outputs
};

struct Pair {
  size_t first, second;  // LayerState indices
  Node* activation;
  std::optional<double> upper;  // ReLU6's 6, a hardtanh/clamp maximum; nullopt for ReLU
  at::Tensor scale;             // product of every s applied so far (the first layer's outputs were divided by it)
  at::Tensor absorbed;          // c subtracted from the first layer's bias
};

// The ReLU-like node that alone reads `layer`'s output, and the layer that alone reads its result, or nulls.
std::pair<Node*, Node*> chain_after(const Node* layer) {
  const Value* out = layer->output(0);
  if (out->uses().size() != 1) return {nullptr, nullptr};
  Node* activation = out->uses()[0].user;
  if (!is_relu_like(activation) || activation->input(0) != out || activation->outputs().size() != 1) {
    return {nullptr, nullptr};
  }
  const Value* activated = activation->output(0);
  if (activated->uses().size() != 1) return {nullptr, nullptr};
  Node* next = activated->uses()[0].user;
  if (next->owningBlock() != layer->owningBlock() || !is_equalizable_layer(next) || next->input(0) != activated) {
    return {nullptr, nullptr};
  }
  return {activation, next};
}

std::optional<double> upper_bound(const Node* activation) {
  const std::string kind = activation->kind().toQualString();
  if (kind == "aten::relu6" || kind == "aten::relu6_") return 6.0;
  if (kind.rfind("aten::relu", 0) == 0) return std::nullopt;
  if (activation->inputs().size() < 3) return std::nullopt;
  return constant_number(activation->input(2));  // hardtanh max_val / clamp max (None: no bound)
}

torch::jit::Value* insert_tensor(torch::jit::Graph& graph, const at::Tensor& tensor, const Node* before) {
  torch::jit::WithInsertPoint guard(const_cast<Node*>(before));
  return graph.insertConstant(tensor);
}

// Replaces ReLU6 (or a hardtanh/clamp with upper bound) by clamp(x, 0, bound) with a per-channel bound tensor.
void make_per_channel_clamp(torch::jit::Graph& graph, const Pair& pair, const LayerState& first) {
  const at::Tensor bound = (*pair.upper / pair.scale - pair.absorbed).to(first.type);
  std::vector<int64_t> shape{bound.size(0)};
  for (int64_t d = 2; d < first.weight.dim(); ++d) shape.push_back(1);  // conv outputs [N, C, spatial...]
  Node* activation = pair.activation;
  Value* lower = insert_tensor(graph, at::zeros(shape, bound.options()), activation);
  Value* upper = insert_tensor(graph, bound.reshape(shape).contiguous(), activation);
  torch::jit::WithInsertPoint guard(activation);
  Value* clamped = graph.insert(c10::Symbol::fromQualString("aten::clamp"), {activation->input(0), lower, upper});
  Node* clamp = clamped->node();
  if (activation->callstack()) clamp->setCallStack(*activation->callstack());
  clamp->setSourceRange(activation->sourceRange());
  clamped->setType(activation->output(0)->type());
  activation->output(0)->replaceAllUsesWith(clamped);
  activation->destroy();
}

void write_back(torch::jit::Graph& graph, const LayerState& state) {
  Node* node = state.node;
  node->replaceInput(1, insert_tensor(graph, state.weight.contiguous(), node));
  node->replaceInput(2, insert_tensor(graph, state.bias.contiguous(), node));
}

}  // namespace

std::unordered_map<const Node*, FoldedBatchNorm> record_batch_norms(const torch::jit::Graph& graph) {
  std::unordered_map<const Node*, FoldedBatchNorm> found;
  for (const Node* node : graph.nodes()) {
    if (node->kind().toQualString() != std::string("aten::batch_norm") || node->inputs().size() < 3) continue;
    const Node* producer = node->input(0)->node();
    if (!is_conv_node(producer) || node->input(0)->uses().size() != 1) continue;
    const at::Tensor weight = constant_tensor(producer->input(1));
    if (!weight.defined()) continue;
    const int64_t channels = weight.size(0);
    at::Tensor gamma = constant_tensor(node->input(1));
    at::Tensor beta = constant_tensor(node->input(2));
    // None means an affine-free BN: gamma 1, beta 0.
    if (!gamma.defined()) gamma = at::ones({channels}, weight.options());
    if (!beta.defined()) beta = at::zeros({channels}, weight.options());
    if (gamma.numel() != channels || beta.numel() != channels) continue;
    found[producer] = {gamma.to(at::kDouble).reshape({channels}), beta.to(at::kDouble).reshape({channels})};
  }
  return found;
}

CrossLayerEqualizationSummary equalize_cross_layer(torch::jit::Graph& graph,
                                                   const std::unordered_map<const Node*, FoldedBatchNorm>& batch_norms,
                                                   bool absorb_high_bias) {
  CrossLayerEqualizationSummary summary;
  std::vector<LayerState> layers;
  std::unordered_map<const Node*, size_t> index_of;
  auto state_of = [&](Node* node) {
    auto [it, inserted] = index_of.emplace(node, layers.size());
    if (inserted) {
      // Scales are computed in double: float rounding would make the product condition drift over many sweeps.
      const at::Tensor weight = constant_tensor(node->input(1)).to(at::kDouble);
      const at::Tensor bias = constant_tensor(node->input(2));
      LayerState state;
      state.node = node;
      state.weight = weight;
      state.bias = bias.defined() ? bias.to(at::kDouble) : at::zeros({weight.size(0)}, weight.options());
      state.had_bias = bias.defined();
      state.groups = groups_of(node);
      state.type = constant_tensor(node->input(1)).scalar_type();
      if (auto bn = batch_norms.find(node); bn != batch_norms.end()) state.batch_norm = bn->second;
      layers.push_back(std::move(state));
    }
    return it->second;
  };

  std::vector<Pair> pairs;
  for (Node* node : graph.nodes()) {
    if (!is_equalizable_layer(node)) continue;
    auto [activation, next] = chain_after(node);
    if (!activation) continue;
    const at::Tensor w1 = constant_tensor(node->input(1));
    const at::Tensor w2 = constant_tensor(next->input(1));
    const int64_t in2 = w2.size(1) * groups_of(next);
    if (w1.size(0) != in2 || w2.size(0) % groups_of(next) != 0) continue;
    const size_t first = state_of(node);
    const size_t second = state_of(next);
    const auto channels = layers[first].weight.size(0);
    pairs.push_back({first, second, activation, upper_bound(activation), at::ones({channels}, at::kDouble),
                     at::zeros({channels}, at::kDouble)});
  }

  // Paper, section 4.1: s_i = sqrt(r1_i * r2_i) / r2_i makes both ranges sqrt(r1_i * r2_i); sweeps over all pairs
  // until no scale moves by more than 1e-8 (a layer in two pairs is pulled by both, hence the iteration).
  constexpr int kMaxSweeps = 1000;
  for (int sweep = 0; sweep < kMaxSweeps && !pairs.empty(); ++sweep) {
    double largest_step = 0.0;
    for (Pair& pair : pairs) {
      LayerState& a = layers[pair.first];
      LayerState& b = layers[pair.second];
      const at::Tensor r1 = output_channel_ranges(a.weight);
      const at::Tensor r2 = input_channel_ranges(b.weight, b.groups);
      // A channel dead on either side keeps its scale: there is nothing to balance.
      const at::Tensor live = (r1 > 0) & (r2 > 0);
      const at::Tensor s = at::where(live, at::sqrt(r1 * r2) / r2.clamp_min(1e-300), at::ones_like(r1));
      largest_step = std::max(largest_step, (s.log().abs()).max().item<double>());
      const at::Tensor column = s.reshape({s.size(0), 1});
      a.weight = (a.weight.reshape({s.size(0), -1}) / column).reshape(a.weight.sizes());
      a.bias = a.bias / s;
      if (a.batch_norm) a.batch_norm = FoldedBatchNorm{a.batch_norm->gamma / s, a.batch_norm->beta / s};
      b.weight = scale_input_channels(b.weight, b.groups, s);
      pair.scale = pair.scale * s;
      a.changed = b.changed = true;
    }
    summary.sweeps = sweep + 1;
    if (largest_step < 1e-8) break;
  }
  summary.pairs = static_cast<int64_t>(pairs.size());

  // Paper, section 4.2: c = max(0, beta - 3 gamma) of the (equalised) BN leaves ReLU(x - c) + c = ReLU(x) wherever
  // x >= c; the next layer's bias takes W2 c.
  for (Pair& pair : pairs) {
    if (!absorb_high_bias) break;
    LayerState& a = layers[pair.first];
    LayerState& b = layers[pair.second];
    if (!a.batch_norm) {
      ++summary.not_absorbed_no_batch_norm;
      continue;
    }
    if (pads(b.node)) {
      ++summary.not_absorbed_padding;
      continue;
    }
    at::Tensor c = (a.batch_norm->beta - 3.0 * a.batch_norm->gamma.abs()).clamp_min(0.0);
    // A bounded activation keeps a positive range: never absorb past its (per-channel) upper bound.
    if (pair.upper) c = at::minimum(c, *pair.upper / pair.scale);
    if (c.max().item<double>() <= 0.0) continue;
    a.bias = a.bias - c;
    b.bias = b.bias + weight_times_constant(b.weight, b.groups, c);
    pair.absorbed = c;
    a.changed = b.changed = true;
    ++summary.absorbed_pairs;
  }

  for (const LayerState& state : layers) {
    if (!state.changed) continue;
    LayerState written = state;
    written.weight = state.weight.to(state.type);
    written.bias = state.bias.to(state.type);
    write_back(graph, written);
  }
  // ReLU6 after scaling: min(max(x / s, 0), 6 / s) is exactly ReLU6(x) / s, hence the per-channel bound.
  for (const Pair& pair : pairs) {
    if (!pair.upper) continue;
    make_per_channel_clamp(graph, pair, layers[pair.first]);
    ++summary.per_channel_clamps;
  }
  return summary;
}

}  // namespace quantsim::graph
