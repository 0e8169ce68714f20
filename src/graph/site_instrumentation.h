#pragma once
// Inserts `quantsim::site` calls into a prepared graph, one per site (two for an unsigned site).
#include <torch/csrc/jit/ir/ir.h>

#include <vector>

#include "site_discovery.h"

namespace quantsim::graph {

// For every site:
//   value:  %q = quantsim::site(%v, 2*id)      right after %v is produced; every later use of %v reads %q.
//   unsigned sites also: %o = quantsim::site(%pre, 2*id+1) right before the ReLU-like op, which then reads %o
//           (observation only: SiteHandler::on_pre_activation cannot change the tensor).
// The op is registered with conservative alias analysis, so graph passes neither drop nor reorder it.
void insert_site_ops(torch::jit::Graph& graph, const std::vector<SitePlan>& plans);

// Creates one `quantsim::site(x, code)` node (not inserted), for insert_site_ops and tests.
torch::jit::Node* create_site_node(torch::jit::Graph& graph, torch::jit::Value* x, int64_t code);

}  // namespace quantsim::graph
