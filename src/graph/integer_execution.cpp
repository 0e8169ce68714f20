// PreparedModel::forward_integer's interpreter (integer_interpreter.h; docs/QUANTIZATION.md, section 16).
#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>
#include <variant>

#include "integer_interpreter.h"
#include "integer_ops.h"
#include "integer_tensor.h"
#include "node_naming.h"
#include "op_classes.h"
#include "quantsim/core/errors.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/graph/torchscript_loading.h"

namespace quantsim::graph {
namespace {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;

using IntegerList = std::vector<IntegerTensor>;  // prim::ListConstruct of integer tensors, for aten::cat
using Entry = std::variant<c10::IValue, IntegerTensor, IntegerList>;

bool kind_in(const Node* node, std::initializer_list<const char*> names) {
  const std::string kind = node->kind().toQualString();
  return std::any_of(names.begin(), names.end(), [&](const char* name) { return kind == name; });
}

const c10::Symbol& site_symbol() {
  static const c10::Symbol symbol = c10::Symbol::fromQualString(kSiteOpName);
  return symbol;
}

bool is_site_value_call(const Node* node) {
  if (node->kind() != site_symbol()) return false;
  auto code = torch::jit::toIValue(node->input(1));
  return code && code->isInt() && code->toInt() % 2 == static_cast<int64_t>(SiteRole::kValue);
}

// The bounds of relu, relu6, hardtanh, clamp, clamp_min and clamp_max with constant (or None) bounds: numbers are
// what a site can apply as a clamp of its codes.
std::optional<std::pair<c10::IValue, c10::IValue>> relu_like_bounds(const Node* node) {
  if (kind_in(node, {"aten::relu", "aten::relu_"})) return std::make_pair(c10::IValue(0.0), c10::IValue());
  if (kind_in(node, {"aten::relu6", "aten::relu6_"})) return std::make_pair(c10::IValue(0.0), c10::IValue(6.0));
  if (kind_in(node, {"aten::clamp_min", "aten::clamp_min_", "aten::clamp_max", "aten::clamp_max_"}) &&
      node->inputs().size() == 2) {
    auto bound = torch::jit::toIValue(node->input(1));
    if (!bound) return std::nullopt;
    const bool is_min = kind_in(node, {"aten::clamp_min", "aten::clamp_min_"});
    return is_min ? std::make_pair(*bound, c10::IValue()) : std::make_pair(c10::IValue(), *bound);
  }
  if (kind_in(node,
              {"aten::hardtanh", "aten::hardtanh_", "aten::clamp", "aten::clamp_", "aten::clip", "aten::clip_"}) &&
      node->inputs().size() == 3) {
    auto lo = torch::jit::toIValue(node->input(1));
    auto hi = torch::jit::toIValue(node->input(2));
    if (lo && hi) return std::make_pair(*lo, *hi);
  }
  return std::nullopt;
}

bool is_number_or_none(const c10::IValue& v) { return v.isNone() || v.isInt() || v.isDouble(); }

double bound_value(const c10::IValue& v, double none) { return v.isNone() ? none : v.toScalar().toDouble(); }

// A fused clamp's real bound as a code: rint(bound / scale) + zero_point in float32, as the fake quantizer computes
// the code of the clamped value, kept within [0, max_code].
int32_t code_of_bound(double bound, const ActivationCodes& codes) {
  if (std::isinf(bound)) return bound < 0 ? 0 : codes.max_code();
  const float q = std::nearbyint(static_cast<float>(bound) / codes.scale);
  const double code = static_cast<double>(q) + codes.zero_point;
  return static_cast<int32_t>(std::clamp(code, 0.0, static_cast<double>(codes.max_code())));
}

class Interpreter {
 public:
  Interpreter(const IntegerGraph& graph, const IntegerProgram& program, IntegerCodeObserver* observer)
      : graph_(graph), program_(program), observer_(observer) {}

  c10::IValue run(const std::vector<c10::IValue>& inputs) {
    const Block& block = *graph_.graph->block();
    if (inputs.size() != block.inputs().size()) {
      throw std::invalid_argument(
          fmt::format("forward_integer: the graph takes {} inputs, got {}", block.inputs().size(), inputs.size()));
    }
    if (inputs.back().isTensor()) {
      input_shape_ = inputs.back().toTensor().sizes().vec();
      input_device_ = inputs.back().toTensor().device();
    }
    for (size_t i = 0; i < inputs.size(); ++i) env_[block.inputs()[i]] = inputs[i];
    plan_releases(block);
    run_block(block, true);
    std::vector<c10::IValue> outputs;
    for (const Value* output : block.outputs()) outputs.push_back(output_ivalue(output));
    return outputs.size() == 1 ? outputs[0] : c10::IValue(c10::ivalue::Tuple::create(std::move(outputs)));
  }

 private:
  // ---- environment ----

  // For each top-level node, the values whose last reader it is (nested blocks count as their top-level node): they
  // are dropped after it runs, so that a deep network does not keep every activation alive.
  void plan_releases(const Block& block) {
    std::unordered_map<const Value*, const Node*> last_reader;
    for (const Node* node : block.nodes()) record_reads(node, node, last_reader);
    for (const Value* output : block.outputs()) last_reader.erase(output);
    for (const auto& [value, node] : last_reader) releases_[node].push_back(value);
  }

  static void record_reads(const Node* node, const Node* top, std::unordered_map<const Value*, const Node*>& out) {
    for (const Value* input : node->inputs()) out[input] = top;
    for (const Block* inner : node->blocks()) {
      for (const Node* nested : inner->nodes()) record_reads(nested, top, out);
      for (const Value* output : inner->outputs()) out[output] = top;
    }
  }

  const Entry& entry(const Value* value) const {
    auto it = env_.find(value);
    if (it == env_.end()) throw std::logic_error("forward_integer: a value was read before it was computed");
    return it->second;
  }

  bool is_integer(const Value* value) const { return !std::holds_alternative<c10::IValue>(entry(value)); }

  const c10::IValue& ivalue(const Node* node, size_t i) const {
    const Entry& e = entry(node->input(i));
    if (const auto* v = std::get_if<c10::IValue>(&e)) return *v;
    refuse(node, fmt::format("has no integer form: its argument {} is an integer tensor", i));
  }

  const IntegerTensor& integer(const Node* node, size_t i) const {
    const Entry& e = entry(node->input(i));
    if (const auto* x = std::get_if<IntegerTensor>(&e)) return *x;
    refuse(node,
           fmt::format("has no integer form: it mixes an integer tensor with a float or non-tensor argument {}", i));
  }

  // A value leaving the graph: integer tensors dequantized to float32, on the input's device (as forward() returns).
  c10::IValue output_ivalue(const Value* value) const {
    const Entry& e = entry(value);
    if (const auto* x = std::get_if<IntegerTensor>(&e)) return dequantize(*x).to(input_device_);
    if (const auto* list = std::get_if<IntegerList>(&e)) {
      c10::List<at::Tensor> tensors;
      for (const IntegerTensor& x : *list) tensors.push_back(dequantize(x).to(input_device_));
      return tensors;
    }
    return std::get<c10::IValue>(e);
  }

  // ---- messages ----

  std::string describe(const Node* node) const {
    auto layer = graph_.layer_of.find(node);
    if (layer != graph_.layer_of.end()) {
      return fmt::format("layer '{}' ({})", graph_layer_name(layer->second), node->kind().toQualString());
    }
    const std::string path = module_path(node);
    const std::string where = path.empty() ? "in the top-level forward" : fmt::format("in module '{}'", path);
    const std::string source = source_location(node);
    return fmt::format("{} {}{}", node->kind().toQualString(), where, source.empty() ? "" : " (" + source + ")");
  }

  std::string graph_layer_name(int64_t index) const { return graph_.layer_names.at(static_cast<size_t>(index)); }

  [[noreturn]] void refuse(const Node* node, const std::string& why) const {
    throw UserError(fmt::format("model {}: --arith int: {} {}", graph_.model_path, describe(node), why));
  }

  const Site& site(int64_t id) const { return graph_.sites->at(static_cast<size_t>(id)); }

  // ---- execution ----

  void run_block(const Block& block, bool top_level) {
    for (const Node* node : block.nodes()) {
      run_node(node);
      if (!top_level) continue;
      auto released = releases_.find(node);
      if (released == releases_.end()) continue;
      for (const Value* value : released->second) env_.erase(value);
    }
  }

  void run_node(const Node* node) {
    if (node->kind() == c10::prim::Constant) {
      env_[node->output()] = *torch::jit::toIValue(node->output());
    } else if (node->kind() == site_symbol()) {
      run_site(node);
    } else if (graph_.layer_of.count(node) > 0) {
      run_layer(node);
    } else if (node->kind() == c10::prim::If || node->kind() == c10::prim::Loop) {
      run_control_flow(node);
    } else if (std::any_of(node->inputs().begin(), node->inputs().end(),
                           [&](const Value* v) { return is_integer(v); })) {
      run_integer_node(node);
    } else {
      run_jit(node);
    }
  }

  // A node without integer inputs, as the JIT interpreter runs it.
  void run_jit(const Node* node) {
    if (node->kind() == c10::prim::GetAttr) {
      env_[node->output()] = ivalue(node, 0).toObjectRef().getAttr(node->s(c10::attr::name));
      return;
    }
    torch::jit::Stack stack;
    for (size_t i = 0; i < node->inputs().size(); ++i) stack.push_back(ivalue(node, i));
    bool done = false;
    try {
      done = run_container_op(node, stack);
    } catch (const std::exception& e) {
      throw_forward_failure(graph_.model_path, input_shape_, e);
    }
    if (!done) run_operation(node, stack);
    for (size_t i = 0; i < node->outputs().size(); ++i) env_[node->output(i)] = std::move(stack[i]);
  }

  // The container ops the JIT interpreter runs as instructions, not operators (LibTorch does not export its
  // implementations), and prim::RaiseException: `stack` holds the inputs and gets the outputs. False for any other
  // node.
  static bool run_container_op(const Node* node, torch::jit::Stack& stack) {
    const c10::Symbol kind = node->kind();
    if (kind == c10::prim::ListConstruct) {
      c10::impl::GenericList list(node->output()->type()->expectRef<c10::ListType>().getElementType());
      for (c10::IValue& v : stack) list.push_back(std::move(v));
      stack = {c10::IValue(std::move(list))};
    } else if (kind == c10::prim::TupleConstruct) {
      auto type = node->output()->type()->cast<c10::TupleType>();
      c10::IValue tuple = type && type->name() ? c10::ivalue::Tuple::createNamed(std::move(stack), type)
                                               : c10::ivalue::Tuple::create(std::move(stack));
      stack = {std::move(tuple)};
    } else if (kind == c10::prim::DictConstruct) {
      const auto& type = node->output()->type()->expectRef<c10::DictType>();
      c10::impl::GenericDict dict(type.getKeyType(), type.getValueType());
      for (size_t i = 0; i + 1 < stack.size(); i += 2) dict.insert_or_assign(stack[i], stack[i + 1]);
      stack = {c10::IValue(std::move(dict))};
    } else if (kind == c10::prim::TupleUnpack) {
      const std::vector<c10::IValue> elements = stack.at(0).toTupleRef().elements().vec();
      stack = elements;
    } else if (kind == c10::prim::ListUnpack) {
      const std::vector<c10::IValue> elements = stack.at(0).toListRef().vec();
      stack = elements;
    } else if (kind == c10::prim::TupleIndex) {
      const auto& elements = stack.at(0).toTupleRef().elements();
      int64_t index = stack.at(1).toInt();
      if (index < 0) index += static_cast<int64_t>(elements.size());
      c10::IValue element = elements.at(static_cast<size_t>(index));
      stack = {std::move(element)};
    } else if (kind == c10::prim::RaiseException) {
      // raise / assert in the model: fail as forward() does, with the model's message.
      std::string message = !stack.empty() && stack[0].isString() ? stack[0].toStringRef() : "exception raised";
      if (stack.size() > 1 && stack[1].isString()) {
        std::string type = stack[1].toStringRef();
        if (type.rfind("builtins.", 0) == 0) type = type.substr(9);
        message = type + ": " + message;
      }
      throw std::runtime_error(message);
    } else if (kind == c10::prim::Uninitialized) {
      stack = {c10::IValue()};
    } else if (kind == c10::prim::unchecked_cast) {
      // the value itself
    } else {
      return false;
    }
    return true;
  }

  void run_operation(const Node* node, torch::jit::Stack& stack) const {
    try {
      node->getOperation()(stack);
    } catch (const UserError&) {
      throw;
    } catch (const std::exception& e) {  // an op refused its input, or the model raised
      throw_forward_failure(graph_.model_path, input_shape_, e);
    }
    if (stack.size() != node->outputs().size()) {
      throw std::logic_error(fmt::format("forward_integer: {} left {} values for {} outputs",
                                         node->kind().toQualString(), stack.size(), node->outputs().size()));
    }
  }

  // The node's op with argument 0 replaced by `x` (the other arguments as the graph gives them): its first output.
  at::Tensor apply_with(const Node* node, const at::Tensor& x) const {
    torch::jit::Stack stack{x};
    for (size_t i = 1; i < node->inputs().size(); ++i) stack.push_back(ivalue(node, i));
    run_operation(node, stack);
    return stack[0].toTensor();
  }

  void run_site(const Node* node) {
    const int64_t code = torch::jit::toIValue(node->input(1))->toInt();
    const int64_t id = code / 2;
    if (code % 2 == static_cast<int64_t>(SiteRole::kPreActivation)) {  // observation only
      env_[node->output()] = entry(node->input(0));
      return;
    }
    if (static_cast<size_t>(id) >= program_.sites.size() || !program_.sites[id]) {
      throw UserError(fmt::format("model {}: --arith int: site '{}' has no integer codes (it would stay float)",
                                  graph_.model_path, site(id).name));
    }
    const ActivationCodes& codes = *program_.sites[id];
    at::Tensor q;
    const Entry& in = entry(node->input(0));
    const auto* float_input = std::get_if<c10::IValue>(&in);
    if (std::holds_alternative<IntegerList>(in) || (float_input != nullptr && !float_input->isTensor())) {
      refuse(node, "reads no tensor");
    }
    try {
      if (const auto* x = std::get_if<IntegerTensor>(&in)) {
        const IntegerTensor acc = to_accumulator(*x);
        int32_t lo = 0, hi = codes.max_code();
        if (x->fused_clamp) {
          lo = std::min(code_of_bound(x->fused_clamp->lo, codes), codes.max_code());
          hi = std::max(code_of_bound(x->fused_clamp->hi, codes), lo);
        }
        q = requantize_accumulators(acc.values, acc.scales, codes, lo, hi);
      } else {
        // The integer path computes on the CPU (the fixed-point kernels are CPU code); float ops before the first
        // site ran where the model lives.
        q = quantize_to_codes(float_input->toTensor().to(at::kCPU, at::kFloat), codes);
      }
    } catch (const UserError& e) {
      throw UserError(fmt::format("model {}: --arith int: site '{}': {}", graph_.model_path, site(id).name, e.what()));
    } catch (const std::invalid_argument& e) {
      throw UserError(fmt::format("model {}: --arith int: site '{}': cannot quantize to its codes: {}",
                                  graph_.model_path, site(id).name, e.what()));
    }
    if (observer_ != nullptr) observer_->on_site_codes(id, q);
    env_[node->output()] = codes_tensor(std::move(q), codes, id);
  }

  void run_layer(const Node* node) {
    const int64_t index = graph_.layer_of.at(node);
    if (static_cast<size_t>(index) >= program_.layers.size()) {
      throw std::invalid_argument(fmt::format("forward_integer: no integer layer {}", index));
    }
    const IntegerLayer& layer = program_.layers[static_cast<size_t>(index)];
    const Entry& in = entry(node->input(0));
    const auto* x = std::get_if<IntegerTensor>(&in);
    if (x == nullptr || !x->is_codes()) {
      refuse(node, fmt::format("has no integer form here: its input is {}, not an activation site's codes (integer "
                               "layers need quantized inputs: deploy mode, --act-sites inputs)",
                               x == nullptr ? "a float tensor" : "int32 accumulators"));
    }
    if (x->codes.scale != layer.input.scale || x->codes.zero_point != layer.input.zero_point ||
        x->codes.bits != layer.input.bits) {
      throw std::invalid_argument(fmt::format(
          "forward_integer: layer '{}' was built for input codes (scale {}, zero point {}, {} bits), site '{}' gives "
          "(scale {}, zero point {}, {} bits)",
          layer.name, layer.input.scale, layer.input.zero_point, layer.input.bits, site(x->site_id).name,
          x->codes.scale, x->codes.zero_point, x->codes.bits));
    }
    for (size_t i = 1; i < node->inputs().size(); ++i) {
      if (is_integer(node->input(i))) refuse(node, "has an integer tensor as its weight or bias");
    }
    if (layer.kind == LayerKind::kLinear && x->values.dim() != 2) {
      // Its output channels would be the last axis, where accumulator scales are kept on axis 1.
      refuse(node, fmt::format("has no integer form here: it reads a {}-dimensional tensor (integer linear layers "
                               "read [N, features])",
                               x->values.dim()));
    }
    at::Tensor acc;
    try {
      acc = accumulate(layer, x->values);
    } catch (const UserError&) {
      throw;
    } catch (const std::exception& e) {
      throw_forward_failure(graph_.model_path, input_shape_, e);
    }
    env_[node->output()] = accumulator_tensor(std::move(acc), layer.accumulator_scales);
  }

  // prim::If and prim::Loop on plain values (e.g. a shape check) run as the JIT runs them; integer tensors do not
  // enter control flow (integer hardware runs a fixed graph).
  void run_control_flow(const Node* node) {
    for (const Value* input : node->inputs()) {
      if (is_integer(input)) refuse(node, "has no integer form: an integer tensor enters control flow");
    }
    for (const Block* inner : node->blocks()) refuse_integer_reads(node, *inner);
    if (node->kind() == c10::prim::If) {
      const Block& taken = *node->blocks()[ivalue(node, 0).toBool() ? 0 : 1];
      run_block(taken, false);
      for (size_t i = 0; i < node->outputs().size(); ++i) env_[node->output(i)] = entry(taken.outputs()[i]);
      return;
    }
    const Block& body = *node->blocks()[0];
    const int64_t trips = ivalue(node, 0).toInt();
    bool go_on = ivalue(node, 1).toBool();
    std::vector<Entry> carried;
    for (size_t i = 2; i < node->inputs().size(); ++i) carried.push_back(entry(node->input(i)));
    for (int64_t trip = 0; go_on && trip < trips; ++trip) {
      env_[body.inputs()[0]] = c10::IValue(trip);
      for (size_t i = 0; i < carried.size(); ++i) env_[body.inputs()[i + 1]] = carried[i];
      run_block(body, false);
      go_on = std::get<c10::IValue>(entry(body.outputs()[0])).toBool();
      for (size_t i = 0; i < carried.size(); ++i) carried[i] = entry(body.outputs()[i + 1]);
    }
    for (size_t i = 0; i < carried.size(); ++i) env_[node->output(i)] = carried[i];
  }

  void refuse_integer_reads(const Node* control, const Block& block) const {
    for (const Node* node : block.nodes()) {
      for (const Value* input : node->inputs()) {
        auto it = env_.find(input);
        if (it != env_.end() && !std::holds_alternative<c10::IValue>(it->second)) {
          refuse(control, "has no integer form: an integer tensor enters control flow");
        }
      }
      for (const Block* inner : node->blocks()) refuse_integer_reads(control, *inner);
    }
  }

  // Whether `value`'s one reader is a site: a ReLU-like op producing it can be fused into that site's clamp.
  static bool only_read_by_site(const Value* value) {
    return value->uses().size() == 1 && is_site_value_call(value->uses()[0].user);
  }

  static bool only_returned(const Value* value) {
    return std::all_of(value->uses().begin(), value->uses().end(), [](const torch::jit::Use& use) {
      return use.user->kind() == c10::prim::Return && use.user->owningBlock() == use.user->owningGraph()->block();
    });
  }

  void set(const Node* node, IntegerTensor x) { env_[node->output()] = std::move(x); }

  void run_integer_node(const Node* node) {
    try {
      dispatch_integer(node);
    } catch (const IntegerOpError& e) {
      refuse(node, e.what());
    } catch (const UserError&) {
      throw;
    } catch (const std::exception& e) {  // an op refused the shapes, as it would in float
      throw_forward_failure(graph_.model_path, input_shape_, e);
    }
  }

  void dispatch_integer(const Node* node) {
    if (auto bounds = relu_like_bounds(node)) {
      const IntegerTensor& x = integer(node, 0);
      if (is_number_or_none(bounds->first) && is_number_or_none(bounds->second) && only_read_by_site(node->output())) {
        IntegerTensor fused = to_accumulator(x);
        fused.fused_clamp = FusedClamp{bound_value(bounds->first, -INFINITY), bound_value(bounds->second, INFINITY)};
        set(node, std::move(fused));
      } else {
        set(node, clamp_accumulators(x, bounds->first, bounds->second));
      }
      return;
    }
    if (kind_in(node, {"aten::leaky_relu", "aten::leaky_relu_"})) {
      set(node, leaky_relu(integer(node, 0), ivalue(node, 1).toScalar().toDouble()));
      return;
    }
    if (kind_in(node, {"aten::add", "aten::add_"})) {
      const c10::IValue& alpha = ivalue(node, 2);
      if (alpha.toScalar().toDouble() != 1.0) throw IntegerOpError("has no integer form for alpha != 1");
      if (!is_integer(node->input(1))) throw IntegerOpError("has no integer form with a float or scalar operand");
      set(node, add(integer(node, 0), integer(node, 1)));
      return;
    }
    if (kind_in(node, {"aten::cat", "aten::concat"})) {
      const auto* list = std::get_if<IntegerList>(&entry(node->input(0)));
      if (list == nullptr) throw IntegerOpError("has no integer form for this list");
      set(node, concatenate(*list, ivalue(node, 1).toInt()));
      return;
    }
    if (node->kind() == c10::prim::ListConstruct) {
      run_list_construct(node);
      return;
    }
    if (node->kind() == c10::prim::TupleConstruct && only_returned(node->output())) {
      std::vector<c10::IValue> elements;
      for (const Value* input : node->inputs()) elements.push_back(output_ivalue(input));
      env_[node->output()] = c10::ivalue::Tuple::create(std::move(elements));
      return;
    }
    if (kind_in(node, {"aten::max_pool1d", "aten::max_pool2d", "aten::max_pool3d"})) {
      set(node, move_values(
                    integer(node, 0), [&](const at::Tensor& t) { return apply_with(node, t); }, true, false,
                    ChannelAxis::kKept));
      return;
    }
    if (kind_in(node, {"aten::avg_pool2d"})) {
      run_avg_pool2d(node);
      return;
    }
    if (kind_in(node, {"aten::adaptive_avg_pool2d"})) {
      run_adaptive_avg_pool2d(node);
      return;
    }
    if (kind_in(node, {"aten::mean"})) {
      run_mean(node);
      return;
    }
    if (kind_in(node, {"aten::pad", "aten::constant_pad_nd"})) {
      run_pad(node);
      return;
    }
    if (kind_in(node,
                {"aten::flatten", "aten::view", "aten::reshape", "aten::squeeze", "aten::unsqueeze", "aten::permute",
                 "aten::transpose", "aten::contiguous", "aten::clone", "aten::detach", "aten::t", "aten::unflatten"})) {
      for (size_t i = 1; i < node->inputs().size(); ++i) {
        if (is_integer(node->input(i))) throw IntegerOpError("has no integer form with two integer tensors");
      }
      set(node, move_values(
                    integer(node, 0), [&](const at::Tensor& t) { return apply_with(node, t); }, false, false,
                    ChannelAxis::kMoved));
      return;
    }
    if (kind_in(node, {"aten::dropout", "aten::dropout_", "aten::feature_dropout", "aten::alpha_dropout"})) {
      if (ivalue(node, 2).toBool()) throw IntegerOpError("has no integer form in training mode");
      set(node, integer(node, 0));
      return;
    }
    if (is_shape_query(node) && node->inputs().size() >= 1 && !is_integer_beyond_first(node)) {
      // Shape only: the integer tensor has the float tensor's shape.
      torch::jit::Stack stack{std::get<IntegerTensor>(entry(node->input(0))).values};
      for (size_t i = 1; i < node->inputs().size(); ++i) stack.push_back(ivalue(node, i));
      run_operation(node, stack);
      for (size_t i = 0; i < node->outputs().size(); ++i) env_[node->output(i)] = std::move(stack[i]);
      return;
    }
    throw IntegerOpError("has no integer form (integer hardware cannot run it on quantized tensors)");
  }

  bool is_integer_beyond_first(const Node* node) const {
    if (!std::holds_alternative<IntegerTensor>(entry(node->input(0)))) return true;
    for (size_t i = 1; i < node->inputs().size(); ++i) {
      if (is_integer(node->input(i))) return true;
    }
    return false;
  }

  void run_list_construct(const Node* node) {
    if (only_returned(node->output())) {
      c10::List<at::Tensor> tensors;
      for (const Value* input : node->inputs()) {
        const c10::IValue v = output_ivalue(input);
        if (!v.isTensor()) throw IntegerOpError("has no integer form for a list of tensors and other values");
        tensors.push_back(v.toTensor());
      }
      env_[node->output()] = tensors;
      return;
    }
    IntegerList list;
    for (const Value* input : node->inputs()) {
      const auto* x = std::get_if<IntegerTensor>(&entry(input));
      if (x == nullptr) throw IntegerOpError("has no integer form for a list mixing integer and float tensors");
      list.push_back(*x);
    }
    env_[node->output()] = std::move(list);
  }

  void run_avg_pool2d(const Node* node) {
    // avg_pool2d(self, kernel_size, stride=[], padding=0, ceil_mode=False, count_include_pad=True,
    //            divisor_override=None)
    std::vector<int64_t> kernel = ivalue(node, 1).toIntVector();
    std::vector<int64_t> stride = ivalue(node, 2).toIntVector();
    if (stride.empty()) stride = kernel;
    const c10::IValue& divisor = ivalue(node, 6);
    set(node, average_pool2d(integer(node, 0), kernel, stride, ivalue(node, 3).toIntVector(), ivalue(node, 4).toBool(),
                             ivalue(node, 5).toBool(),
                             divisor.isNone() ? std::nullopt : std::optional<int64_t>(divisor.toInt())));
  }

  void run_adaptive_avg_pool2d(const Node* node) {
    const IntegerTensor& x = integer(node, 0);
    const std::vector<int64_t> out = ivalue(node, 1).toIntVector();
    const int64_t h = x.values.size(-2), w = x.values.size(-1);
    if (out.size() != 2) throw IntegerOpError("has no integer form for this output size");
    if (out[0] == 1 && out[1] == 1) {
      set(node, spatial_mean(x, true));
      return;
    }
    if (out[0] <= 0 || out[1] <= 0 || h % out[0] != 0 || w % out[1] != 0) {
      throw IntegerOpError(fmt::format("has no integer form for output size [{}, {}] of a {}x{} input (windows of "
                                       "different sizes)",
                                       out[0], out[1], h, w));
    }
    const std::vector<int64_t> kernel{h / out[0], w / out[1]};
    set(node, average_pool2d(x, kernel, kernel, {0, 0}, false, true, std::nullopt));
  }

  void run_mean(const Node* node) {
    // mean.dim(self, dim, keepdim=False, *, dtype=None); mean(self, *, dtype) over everything has no integer form.
    const IntegerTensor& x = integer(node, 0);
    if (node->inputs().size() < 3 || !ivalue(node, 1).isIntList()) {
      throw IntegerOpError("has no integer form over all axes (it mixes channels of different scales)");
    }
    if (node->inputs().size() > 3 && !ivalue(node, 3).isNone()) {
      throw IntegerOpError("has no integer form with a dtype");
    }
    const int64_t rank = x.values.dim();
    std::set<int64_t> dims;
    for (int64_t d : ivalue(node, 1).toIntVector()) dims.insert(d < 0 ? d + rank : d);
    std::set<int64_t> spatial;
    for (int64_t d = 2; d < rank; ++d) spatial.insert(d);
    if (dims != spatial || spatial.empty()) {
      throw IntegerOpError("has no integer form over these axes (only over all spatial axes 2..)");
    }
    set(node, spatial_mean(x, ivalue(node, 2).toBool()));
  }

  void run_pad(const Node* node) {
    // pad(self, pad, mode="constant", value=None); constant_pad_nd(self, pad, value=0)
    const bool is_pad = kind_in(node, {"aten::pad"});
    if (is_pad && ivalue(node, 2).toStringRef() != "constant") {
      throw IntegerOpError(fmt::format("has no integer form in mode '{}'", ivalue(node, 2).toStringRef()));
    }
    const c10::IValue& value = ivalue(node, is_pad ? 3 : 2);
    if (!value.isNone() && value.toScalar().toDouble() != 0.0) {
      throw IntegerOpError("has no integer form for a pad value other than 0");
    }
    const std::vector<int64_t> pad = ivalue(node, 1).toIntVector();
    const IntegerTensor& x = integer(node, 0);
    // The pad list runs from the last axis backwards, two entries per axis: axis 1 is padded from entry 2 * (dim - 2).
    const bool spatial_only = static_cast<int64_t>(pad.size()) <= 2 * (x.values.dim() - 2);
    set(node, move_values(
                  x, [&](const at::Tensor& t) { return at::constant_pad_nd(t, pad, 0); }, false, true,
                  spatial_only ? ChannelAxis::kKept : ChannelAxis::kMoved));
  }

  const IntegerGraph& graph_;
  const IntegerProgram& program_;
  IntegerCodeObserver* observer_;
  std::vector<int64_t> input_shape_;
  c10::Device input_device_{c10::kCPU};
  std::unordered_map<const Value*, Entry> env_;
  std::unordered_map<const Node*, std::vector<const Value*>> releases_;
};

}  // namespace

c10::IValue run_integer_graph(const IntegerGraph& graph, const std::vector<c10::IValue>& inputs,
                              const IntegerProgram& program, IntegerCodeObserver* observer) {
  at::NoGradGuard no_grad;
  return Interpreter(graph, program, observer).run(inputs);
}

}  // namespace quantsim::graph
