// The quantsim::site op: identity without a handler, dispatch to the scoped handler, and kept by graph passes.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include "quantsim/graph/site_handler.h"

namespace quantsim {
namespace {

at::Tensor call_site_op(const at::Tensor& x, int64_t code) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("quantsim::site", "")
                       .typed<at::Tensor(const at::Tensor&, int64_t)>();
  return op.call(x, code);
}

class Doubler : public SiteHandler {
 public:
  std::vector<int64_t> seen_sites;
  std::vector<int64_t> seen_pre;
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    seen_sites.push_back(site_id);
    return x * 2;
  }
  void on_pre_activation(int64_t site_id, const at::Tensor& x) override {
    (void)x;
    seen_pre.push_back(site_id);
  }
};

TEST(SiteOp, IsIdentityWithoutHandler) {
  const at::Tensor x = at::arange(6, at::kFloat);
  EXPECT_TRUE(call_site_op(x, encode_site_call(3, SiteRole::kValue)).equal(x));
}

TEST(SiteOp, DecodesSiteIdAndRole) {
  Doubler doubler;
  ScopedSiteHandler scope(doubler);
  const at::Tensor x = at::ones({2});
  EXPECT_TRUE(call_site_op(x, encode_site_call(5, SiteRole::kValue)).equal(x * 2));
  // A pre-activation call only observes: the tensor passes through unchanged.
  EXPECT_TRUE(call_site_op(x, encode_site_call(7, SiteRole::kPreActivation)).equal(x));
  EXPECT_EQ(doubler.seen_sites, std::vector<int64_t>{5});
  EXPECT_EQ(doubler.seen_pre, std::vector<int64_t>{7});
}

// Which handler is installed shows in who sees a site call: site ids 1, 2, 3 at each level of nesting.
TEST(SiteOp, ScopedHandlerRestoresThePreviousOne) {
  Doubler outer;
  Doubler inner;
  const at::Tensor x = at::ones({2});
  {
    ScopedSiteHandler outer_scope(outer);
    {
      ScopedSiteHandler inner_scope(inner);
      EXPECT_TRUE(call_site_op(x, encode_site_call(1, SiteRole::kValue)).equal(x * 2));
    }
    EXPECT_TRUE(call_site_op(x, encode_site_call(2, SiteRole::kValue)).equal(x * 2));
  }
  EXPECT_TRUE(call_site_op(x, encode_site_call(3, SiteRole::kValue)).equal(x));  // no handler: identity
  EXPECT_EQ(inner.seen_sites, std::vector<int64_t>{1});
  EXPECT_EQ(outer.seen_sites, std::vector<int64_t>{2});
}

TEST(SiteOp, SurvivesDeadCodeEliminationEvenWhenUnused) {
  auto graph = std::make_shared<torch::jit::Graph>();
  torch::jit::parseIR(R"IR(
graph(%x : Tensor):
  %code : int = prim::Constant[value=0]()
  %unused : Tensor = quantsim::site(%x, %code)
  return (%x))IR",
                      graph.get());
  torch::jit::EliminateDeadCode(graph);
  int site_nodes = 0;
  for (const torch::jit::Node* node : graph->nodes()) {
    if (node->kind() == c10::Symbol::fromQualString(kSiteOpName)) {
      ++site_nodes;
      EXPECT_TRUE(node->hasSideEffects());
    }
  }
  EXPECT_EQ(site_nodes, 1);
}

}  // namespace
}  // namespace quantsim
