#pragma once
// The interpreter behind PreparedModel::forward_integer (docs/QUANTIZATION.md, section 16), defined in
// integer_execution.cpp: walks the prepared graph's nodes in order, keeping per value either an IValue (floats,
// ints, lists, float tensors) or an IntegerTensor (integer_tensor.h). Nodes without an integer input run through the
// JIT's operations; nodes with one run their integer form (integer_ops.h), or are refused.
#include <torch/csrc/jit/ir/ir.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "quantsim/graph/activation_site.h"
#include "quantsim/graph/integer_execution.h"

namespace quantsim::graph {

struct IntegerGraph {
  const torch::jit::Graph* graph = nullptr;                       // frozen, instrumented with `quantsim::site` ops
  std::unordered_map<const torch::jit::Node*, int64_t> layer_of;  // conv/linear node -> Layer::index
  std::vector<std::string> layer_names;                           // by Layer::index
  const std::vector<Site>* sites = nullptr;
  std::string model_path;  // for messages
};

// Runs `graph` on `inputs` (the graph's inputs: the module object, then the image batch). Returns the graph's output
// with every integer tensor in it dequantized to float32. Throws UserError for a node with no integer form (naming
// it, its module path and why), a missing site or layer in `program`, or a failing op (as PreparedModel::forward).
c10::IValue run_integer_graph(const IntegerGraph& graph, const std::vector<c10::IValue>& inputs,
                              const IntegerProgram& program, IntegerCodeObserver* observer);

}  // namespace quantsim::graph
