#pragma once
// Stable names for graph nodes (docs/QUANTIZATION.md, section 4): module paths from the inlined call stack, else
// `<op>_<k>`.
#include <torch/csrc/jit/ir/ir.h>

#include <map>
#include <string>
#include <unordered_map>

namespace quantsim::graph {

// The module path a node was inlined from, e.g. `layer1.0.conv2`, or "" when it comes from the top-level forward
// (or the graph carries no call stack). Built from the module instance names that freezing/inlining records on each
// node's call stack; calls of a module's own methods (`SELF`) add nothing.
std::string module_path(const torch::jit::Node* node);

// "file:line" of the Python source the node came from, or "" when the model carries no debug info.
std::string source_location(const torch::jit::Node* node);

// Names nodes `<op>_<k>`: op is the aten name without the in-place `_`, k the node's index among the tensor-producing
// top-level nodes of that op in graph order. Built once on the prepared graph, before site ops are inserted, so that
// names do not depend on instrumentation.
class OpIndexNamer {
 public:
  explicit OpIndexNamer(const torch::jit::Graph& graph);
  // Throws std::logic_error for a node that was not a top-level compute node of the graph.
  std::string name(const torch::jit::Node* node) const;

 private:
  std::unordered_map<const torch::jit::Node*, std::string> names_;
};

}  // namespace quantsim::graph
