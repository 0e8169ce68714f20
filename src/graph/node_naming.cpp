#include "node_naming.h"

#include <torch/csrc/jit/ir/scope.h>

#include <stdexcept>

#include "op_classes.h"

namespace quantsim::graph {

std::string module_path(const torch::jit::Node* node) {
  auto callstack = node->callstack();
  if (!callstack) return "";
  std::string path;
  // vec() lists the frames from the outermost call (in the top-level forward) inwards.
  for (const auto& frame : (*callstack)->vec()) {
    const auto& module = std::get<2>(frame);
    if (!module) continue;  // a free function (F.relu), not a module
    const std::string instance = module->instance_name();
    if (instance == "SELF" || instance == "INSTANCE_NAME_UNKNOWN") continue;
    path += path.empty() ? instance : "." + instance;
  }
  return path;
}

std::string source_location(const torch::jit::Node* node) {
  auto location = node->sourceRange().file_line_col();
  if (!location) return "";
  return std::get<0>(*location) + ":" + std::to_string(std::get<1>(*location));
}

OpIndexNamer::OpIndexNamer(const torch::jit::Graph& graph) {
  std::map<std::string, int> counts;
  for (const torch::jit::Node* node : graph.nodes()) {
    if (!produces_tensor(node) || node->kind() == c10::prim::Constant) continue;
    const std::string op = op_base_name(node);
    names_[node] = op + "_" + std::to_string(counts[op]++);
  }
}

std::string OpIndexNamer::name(const torch::jit::Node* node) const {
  auto it = names_.find(node);
  if (it == names_.end()) throw std::logic_error("OpIndexNamer: node is not a top-level compute node");
  return it->second;
}

}  // namespace quantsim::graph
