#include "quantsim/graph/prepared_model.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include <fmt/format.h>

#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "graph_export.h"
#include "graph_preparation.h"
#include "integer_interpreter.h"
#include "layer_discovery.h"
#include "node_naming.h"
#include "op_rule.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/graph/torchscript_loading.h"
#include "site_discovery.h"
#include "site_instrumentation.h"
#include "site_op.h"

namespace quantsim {

struct PreparedModel::Impl {
  std::string path;
  PrepareOptions options;
  graph::FrozenModel frozen;
  std::vector<graph::LayerNode> layer_nodes;
  std::vector<Layer> layers;  // public view of layer_nodes[i].layer
  std::vector<Site> sites;
  std::vector<FloatOp> float_ops;
  c10::Device device{c10::kCPU};
  // Compiled lazily, once the graph is final; dropped when constants move to another device.
  mutable std::mutex code_mutex;
  mutable std::shared_ptr<torch::jit::Code> code;
  // Where forward() last found the logits in the graph's output (what save_fake_quantized returns).
  mutable std::mutex output_mutex;
  mutable std::optional<graph::OutputPath> output_path;

  std::shared_ptr<torch::jit::Code> compiled() const {
    std::lock_guard<std::mutex> lock(code_mutex);
    if (!code) code = std::make_shared<torch::jit::Code>(frozen.graph, "forward");
    return code;
  }
};

namespace {

void move_constants(torch::jit::Block& block, const c10::Device& device) {
  for (torch::jit::Node* node : block.nodes()) {
    if (node->kind() == c10::prim::Constant && node->hasAttribute(c10::attr::value) &&
        node->kindOf(c10::attr::value) == torch::jit::AttributeKind::t) {
      node->t_(c10::attr::value, node->t(c10::attr::value).to(device));
    }
    for (torch::jit::Block* inner : node->blocks()) move_constants(*inner, device);
  }
}

int64_t count_kind(const torch::jit::Block& block, c10::Symbol kind) {
  int64_t count = 0;
  for (const torch::jit::Node* node : block.nodes()) {
    count += node->kind() == kind;
    for (const torch::jit::Block* inner : node->blocks()) count += count_kind(*inner, kind);
  }
  return count;
}

std::string shape_text(at::IntArrayRef sizes) { return fmt::format("[{}]", fmt::join(sizes, ", ")); }

}  // namespace

PreparedModel PreparedModel::load(const std::string& path, const PrepareOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->frozen = graph::freeze_for_quantization(graph::load_torchscript(path), path, options.fold_batch_norm,
                                                {options.cross_layer_equalization, options.high_bias_absorption});
  torch::jit::Graph& graph = *impl->frozen.graph;
  const graph::OpIndexNamer namer(graph);  // before any node is added: names must not depend on instrumentation
  impl->layer_nodes = graph::find_layers(graph, namer, impl->frozen.layer_paths, path);
  torch::jit::EliminateDeadCode(impl->frozen.graph);  // the shared weight constants the layers no longer read
  for (const graph::LayerNode& node : impl->layer_nodes) impl->layers.push_back(node.layer);
  impl->float_ops = graph::find_float_ops(*graph.block());
  std::vector<graph::SitePlan> plans = graph::find_sites(graph, impl->layer_nodes, namer, options.act_sites);
  for (const graph::SitePlan& plan : plans) impl->sites.push_back(plan.site);
  if (options.instrument) graph::insert_site_ops(graph, plans);
  return PreparedModel(std::move(impl));
}

PreparedModel::PreparedModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PreparedModel::PreparedModel(PreparedModel&&) noexcept = default;
PreparedModel& PreparedModel::operator=(PreparedModel&&) noexcept = default;
PreparedModel::~PreparedModel() = default;

const std::string& PreparedModel::path() const { return impl_->path; }
const PrepareOptions& PreparedModel::options() const { return impl_->options; }
const std::vector<Layer>& PreparedModel::layers() const { return impl_->layers; }
const std::vector<Site>& PreparedModel::sites() const { return impl_->sites; }
const std::vector<FloatOp>& PreparedModel::float_ops() const { return impl_->float_ops; }
const CrossLayerEqualizationSummary& PreparedModel::equalization() const { return impl_->frozen.equalization; }
c10::Device PreparedModel::device() const { return impl_->device; }

void PreparedModel::set_layer_weight(int64_t index, const at::Tensor& weight) {
  at::Tensor& live = impl_->layer_nodes.at(static_cast<size_t>(index)).live_weight;
  if (!weight.sizes().equals(live.sizes())) {
    throw std::invalid_argument(fmt::format("set_layer_weight: layer '{}' has weight shape {}, got {}",
                                            impl_->layers[index].name, shape_text(live.sizes()),
                                            shape_text(weight.sizes())));
  }
  at::NoGradGuard no_grad;
  live.copy_(weight);  // in place: the compiled graph holds this very tensor as a constant
}

at::Tensor PreparedModel::layer_weight(int64_t index) const {
  return impl_->layer_nodes.at(static_cast<size_t>(index)).live_weight;
}

bool PreparedModel::layer_takes_bias(int64_t index) const {
  const graph::LayerNode& node = impl_->layer_nodes.at(static_cast<size_t>(index));
  return !node.weight_transposed && node.node->inputs().size() > 2;
}

void PreparedModel::set_layer_bias(int64_t index, const at::Tensor& bias) {
  if (!layer_takes_bias(index)) {
    throw std::invalid_argument(fmt::format("set_layer_bias: layer '{}' has no bias input", impl_->layers[index].name));
  }
  graph::LayerNode& node = impl_->layer_nodes.at(static_cast<size_t>(index));
  const at::Tensor& weight = node.live_weight;
  if (bias.dim() != 1 || bias.size(0) != weight.size(0)) {
    throw std::invalid_argument(fmt::format("set_layer_bias: layer '{}' has {} output channels, got bias shape {}",
                                            node.layer.name, weight.size(0), shape_text(bias.sizes())));
  }
  std::lock_guard<std::mutex> lock(impl_->code_mutex);
  const at::Tensor value = bias.detach().to(weight.device(), weight.scalar_type()).clone(at::MemoryFormat::Contiguous);
  // A new constant of its own: the old one may be shared with other layers by constant pooling.
  torch::jit::WithInsertPoint guard(node.node);
  torch::jit::Value* constant = impl_->frozen.graph->insertConstant(value);
  constant->setDebugName(node.layer.name + ".bias");
  node.node->replaceInput(2, constant);
  node.layer.bias = value;
  impl_->layers[static_cast<size_t>(index)].bias = value;
  impl_->code.reset();  // the compiled constant table holds the old bias
}

void PreparedModel::to(const c10::Device& device) {
  std::lock_guard<std::mutex> lock(impl_->code_mutex);
  move_constants(*impl_->frozen.graph->block(), device);
  for (graph::LayerNode& node : impl_->layer_nodes) {
    node.live_weight = graph::live_weight_of(node, node.weight_constant->t(c10::attr::value));
    node.layer.original_weight = node.layer.original_weight.to(device);
    if (node.layer.bias.defined()) node.layer.bias = node.layer.bias.to(device);
    impl_->layers[node.layer.index] = node.layer;
  }
  impl_->device = device;
  impl_->code.reset();  // the compiled constant table still holds the old tensors
}

at::Tensor PreparedModel::forward(const at::Tensor& input) const {
  std::shared_ptr<torch::jit::Code> code = impl_->compiled();
  torch::jit::Stack stack{impl_->frozen.module._ivalue(), input};
  at::NoGradGuard no_grad;
  graph::take_site_handler_error();  // forget a failure of an earlier, unrelated call
  try {
    const graph::TupleOutputWarningFilter quiet;
    torch::jit::InterpreterState(*code).run(stack);
  } catch (const std::exception& e) {
    if (std::exception_ptr handler_error = graph::take_site_handler_error()) std::rethrow_exception(handler_error);
    // Otherwise an op refused the input (wrong channel count or size) or the model raised.
    graph::throw_forward_failure(impl_->path, input.sizes(), e);
  }
  graph::SelectedOutput selected = graph::select_logits(stack.back(), impl_->options.output, impl_->path);
  std::lock_guard<std::mutex> lock(impl_->output_mutex);
  impl_->output_path = std::move(selected.path);
  return selected.logits;
}

at::Tensor PreparedModel::forward_integer(const at::Tensor& input, const IntegerProgram& program,
                                          IntegerCodeObserver* observer) const {
  graph::IntegerGraph graph;
  graph.graph = impl_->frozen.graph.get();
  for (const graph::LayerNode& node : impl_->layer_nodes) {
    graph.layer_of[node.node] = node.layer.index;
    graph.layer_names.push_back(node.layer.name);
  }
  graph.sites = &impl_->sites;
  graph.model_path = impl_->path;
  const graph::TupleOutputWarningFilter quiet;
  const c10::IValue output = graph::run_integer_graph(graph, {impl_->frozen.module._ivalue(), input}, program,
                                                      observer);
  return graph::select_logits(output, impl_->options.output, impl_->path).logits;
}

void PreparedModel::save_fake_quantized(const std::string& path,
                                        const std::vector<std::optional<QuantParams>>& site_params) const {
  if (site_params.size() != impl_->sites.size()) {
    throw std::invalid_argument(
        fmt::format("save_fake_quantized: {} site parameters for {} sites", site_params.size(), impl_->sites.size()));
  }
  std::optional<graph::OutputPath> output_path;
  {
    std::lock_guard<std::mutex> lock(impl_->output_mutex);
    output_path = impl_->output_path;
  }
  const bool returns_tensor = impl_->frozen.graph->outputs().at(0)->type()->isSubtypeOf(*c10::TensorType::get());
  if (!output_path && !returns_tensor) {
    throw std::logic_error("save_fake_quantized: run forward first, so that the logits' place in the output is known");
  }
  std::ostringstream bytes;
  graph::fake_quantized_module(impl_->frozen.module, site_params, output_path.value_or(graph::OutputPath{}))
      .save(bytes);
  write_file_atomically(path, bytes.str());
}

int64_t PreparedModel::count_nodes(const std::string& kind) const {
  return count_kind(*impl_->frozen.graph->block(), c10::Symbol::fromQualString(kind));
}

bool site_allows_per_channel(const Site& site, const at::Tensor& x) {
  if (!site.per_channel_allowed || x.dim() < 3) return false;
  int64_t spatial = 1;
  for (int64_t d = 2; d < x.dim(); ++d) spatial *= x.size(d);
  return spatial > 1;
}

void check_logits_shape(const at::Tensor& output, int64_t batch, int64_t num_classes) {
  const bool ok = output.dim() == 2 && output.size(0) == batch && (num_classes <= 0 || output.size(1) == num_classes);
  if (!ok) {
    const std::string expected = num_classes > 0 ? fmt::format(" = [{}, {}]", batch, num_classes) : "";
    throw UserError(
        fmt::format("model output has shape {}; expected [N, classes]{}", shape_text(output.sizes()), expected));
  }
}

}  // namespace quantsim
