// The three real models in ../shared/data: folding, bit-exact instrumentation, and the sites of
// docs/QUANTIZATION.md, section 4.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <map>
#include <set>

#include "graph_test_support.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/site_handler.h"

namespace quantsim {
namespace {

using graph_test::find_site;

struct RealModel {
  std::string name;
  int64_t height;  // input is [N, 3, height, height]
  double scale;    // input magnitude (resnet8 reads raw 0..255 pixels)
  size_t layers;
  size_t paper_sites;
  size_t unsigned_paper_sites;
  std::string first_layer;
  std::string last_layer;
};

std::ostream& operator<<(std::ostream& out, const RealModel& model) { return out << model.name; }

class RealModels : public ::testing::TestWithParam<RealModel> {
 protected:
  std::string path_;
  void SetUp() override {
    path_ = graph_test::real_model_path(GetParam().name);
    if (path_.empty()) GTEST_SKIP() << GetParam().name << " not in the data directory; skipping";
  }
  at::Tensor input(int64_t batch = 2) const {
    return graph_test::test_input(batch, 3, GetParam().height, GetParam().height, GetParam().scale);
  }
};

size_t count_unsigned(const PreparedModel& model) {
  return std::count_if(model.sites().begin(), model.sites().end(), [](const Site& s) { return s.is_unsigned; });
}

TEST_P(RealModels, BatchNormIsFoldedAndNoOpIsFused) {
  PreparedModel model = PreparedModel::load(path_, {ActSites::kOutputs, false});
  EXPECT_EQ(model.count_nodes("aten::batch_norm"), 0);
  const int64_t layer_nodes = model.count_nodes("aten::conv2d") + model.count_nodes("aten::linear");
  EXPECT_EQ(layer_nodes, static_cast<int64_t>(GetParam().layers));
}

TEST_P(RealModels, LayersInExecutionOrderWithFirstAndLast) {
  PreparedModel model = PreparedModel::load(path_);
  const auto& layers = model.layers();
  ASSERT_EQ(layers.size(), GetParam().layers);
  EXPECT_EQ(layers.front().name, GetParam().first_layer);
  EXPECT_EQ(layers.back().name, GetParam().last_layer);
  for (const Layer& layer : layers) {
    EXPECT_EQ(layer.first, layer.index == 0) << layer.name;
    EXPECT_EQ(layer.last, layer.index + 1 == static_cast<int64_t>(layers.size())) << layer.name;
    EXPECT_TRUE(layer.original_weight.defined()) << layer.name;
    EXPECT_TRUE(model.layer_weight(layer.index).equal(layer.original_weight)) << layer.name;
  }
}

TEST_P(RealModels, FoldedModelMatchesTheOriginal) {
  torch::jit::Module original = torch::jit::load(path_);
  original.eval();
  const at::Tensor x = input();
  at::Tensor expected;
  {
    at::NoGradGuard no_grad;
    expected = original.forward({x}).toTensor();
  }
  PreparedModel folded = PreparedModel::load(path_, {ActSites::kOutputs, false});
  const at::Tensor got = folded.forward(x);
  ASSERT_EQ(got.sizes(), expected.sizes());
  // Folding BN reorders float operations: close, not equal (README: 5e-6 .. 1e-5 on these models).
  const double tolerance = 1e-4 * std::max(1.0, expected.abs().max().item<double>());
  EXPECT_LE((got - expected).abs().max().item<double>(), tolerance);
}

TEST_P(RealModels, IdentityInstrumentationIsBitExactInBothModes) {
  PreparedModel plain = PreparedModel::load(path_, {ActSites::kOutputs, false});
  const at::Tensor x = input();
  const at::Tensor expected = plain.forward(x);
  for (ActSites mode : {ActSites::kOutputs, ActSites::kInputs}) {
    PreparedModel instrumented = PreparedModel::load(path_, {mode});
    EXPECT_TRUE(instrumented.forward(x).equal(expected)) << "no handler";
    graph_test::RecordingHandler identity;
    ScopedSiteHandler scope(identity);
    EXPECT_TRUE(instrumented.forward(x).equal(expected)) << "identity handler";
  }
}

TEST_P(RealModels, HandlerSeesEverySiteOnceInOrderAndPreActivationFirst) {
  PreparedModel model = PreparedModel::load(path_);
  graph_test::RecordingHandler recorder;
  {
    ScopedSiteHandler scope(recorder);
    model.forward(input());
  }
  std::vector<int64_t> values;
  std::map<int64_t, size_t> pre_position;
  for (size_t i = 0; i < recorder.calls.size(); ++i) {
    const auto& call = recorder.calls[i];
    if (call.pre_activation) {
      pre_position[call.site_id] = i;
      continue;
    }
    values.push_back(call.site_id);
    const Site& site = model.sites().at(call.site_id);
    if (site.is_unsigned) {
      ASSERT_TRUE(pre_position.count(call.site_id)) << site.name << ": no pre-activation call";
      EXPECT_EQ(pre_position[call.site_id] + 1, i) << site.name << ": pre-activation not right before";
      EXPECT_GE(call.min, 0.0) << site.name << ": quantized tensor must be the ReLU's output";
      EXPECT_LT(recorder.calls[pre_position[call.site_id]].min, 0.0) << site.name << ": pre-ReLU should go negative";
    }
  }
  std::vector<int64_t> all_ids(model.sites().size());
  for (size_t i = 0; i < all_ids.size(); ++i) all_ids[i] = static_cast<int64_t>(i);
  EXPECT_EQ(values, all_ids);
  EXPECT_EQ(pre_position.size(), count_unsigned(model));
}

// What the handler returns is what the rest of the network computes with.
class ZeroSite : public SiteHandler {
 public:
  explicit ZeroSite(int64_t id) : id_(id) {}
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override { return site_id == id_ ? at::zeros_like(x) : x; }

 private:
  int64_t id_;
};

TEST_P(RealModels, HandlerResultReplacesTheLogits) {
  PreparedModel model = PreparedModel::load(path_);
  const auto logits = std::find_if(model.sites().begin(), model.sites().end(),
                                   [](const Site& s) { return s.is_logits; });
  ASSERT_NE(logits, model.sites().end());
  ZeroSite zero(logits->id);
  ScopedSiteHandler scope(zero);
  const at::Tensor out = model.forward(input());
  // Sites after the logits (tiny_darknet's pool) average zeros: still zero.
  EXPECT_EQ(out.abs().max().item<double>(), 0.0);
}

TEST_P(RealModels, ReplacedWeightTakesEffectAndRestores) {
  PreparedModel model = PreparedModel::load(path_, {ActSites::kOutputs, false});
  const at::Tensor x = input();
  const at::Tensor before = model.forward(x);  // compiles the graph first: replacement must still work after
  const Layer& last = model.layers().back();
  model.set_layer_weight(last.index, at::zeros_like(last.original_weight));
  const at::Tensor zeroed = model.forward(x);
  // With a zero weight the last layer outputs its bias; every image gets the same logits.
  EXPECT_TRUE(zeroed[0].equal(zeroed[1]));
  EXPECT_FALSE(zeroed.equal(before));
  EXPECT_THROW(model.set_layer_weight(last.index, at::zeros({1})), std::invalid_argument);
  model.set_layer_weight(last.index, last.original_weight);
  EXPECT_TRUE(model.forward(x).equal(before));
}

TEST_P(RealModels, DeploySitesCoverEveryLayerInputOnce) {
  PreparedModel model = PreparedModel::load(path_, {ActSites::kInputs});
  std::multiset<int64_t> covered;
  for (const Site& site : model.sites()) {
    EXPECT_EQ(site.kind, SiteKind::kLayerInput);
    covered.insert(site.layers.begin(), site.layers.end());
  }
  EXPECT_EQ(covered.size(), model.layers().size());
  EXPECT_EQ(std::set<int64_t>(covered.begin(), covered.end()).size(), model.layers().size());
  // First and last layer inputs use --first-last-bits, and only those.
  for (const Site& site : model.sites()) {
    const bool reads_first_or_last = std::any_of(site.layers.begin(), site.layers.end(), [&](int64_t i) {
      return model.layers()[i].first || model.layers()[i].last;
    });
    EXPECT_EQ(site.first_last, reads_first_or_last) << site.name;
  }
}

TEST_P(RealModels, NamesAreStableAcrossLoads) {
  for (ActSites mode : {ActSites::kOutputs, ActSites::kInputs}) {
    PreparedModel a = PreparedModel::load(path_, {mode});
    PreparedModel b = PreparedModel::load(path_, {mode});
    ASSERT_EQ(a.sites().size(), b.sites().size());
    std::set<std::string> unique;
    for (size_t i = 0; i < a.sites().size(); ++i) {
      EXPECT_EQ(a.sites()[i].name, b.sites()[i].name);
      unique.insert(a.sites()[i].name);
    }
    EXPECT_EQ(unique.size(), a.sites().size()) << "site names must be unique";
  }
}

TEST_P(RealModels, PaperSitesCountAndSignedness) {
  PreparedModel model = PreparedModel::load(path_);
  EXPECT_EQ(model.sites().size(), GetParam().paper_sites);
  EXPECT_EQ(count_unsigned(model), GetParam().unsigned_paper_sites);
  const Site* logits = find_site(model, GetParam().last_layer);
  ASSERT_NE(logits, nullptr);
  EXPECT_TRUE(logits->is_logits);
  EXPECT_TRUE(logits->first_last);
  EXPECT_FALSE(logits->is_unsigned);
  for (const Site& site : model.sites()) {
    const bool conv_output = site.kind != SiteKind::kPoolOutput &&
                             model.layers()[site.layers.front()].kind == LayerKind::kConv;
    EXPECT_EQ(site.per_channel_allowed, conv_output) << site.name;
    if (&site != logits) {
      EXPECT_FALSE(site.first_last) << site.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SharedData, RealModels,
                         ::testing::Values(RealModel{"resnet8_cifar10", 32, 64.0, 10, 11, 4, "conv1", "fc"},
                                           RealModel{"tiny_darknet", 224, 1.0, 16, 21, 0, "conv1", "conv16"},
                                           RealModel{"mobilenet_v2_q", 224, 1.0, 53, 54, 35, "Conv",
                                                     "Logits.Conv2d_1c_1x1"}),
                         [](const ::testing::TestParamInfo<RealModel>& info) { return info.param.name; });

// Model-specific expectations from the README's graph facts.

TEST(Resnet8Sites, PaperMode) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::real_model_path("resnet8_cifar10"), "resnet8_cifar10");
  PreparedModel model = PreparedModel::load(path);
  const Site* conv1 = find_site(model, "conv1");
  ASSERT_NE(conv1, nullptr);
  EXPECT_TRUE(conv1->is_unsigned);
  EXPECT_EQ(conv1->activation, "aten::relu");
  const Site* conv2 = find_site(model, "layer1.conv2");  // feeds the residual add: signed
  ASSERT_NE(conv2, nullptr);
  EXPECT_FALSE(conv2->is_unsigned);
  const Site* pool = find_site(model, "avg_pool2d_0");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->kind, SiteKind::kPoolOutput);
  EXPECT_EQ(model.sites().back().name, "fc");
  EXPECT_EQ(model.layers().back().kind, LayerKind::kLinear);
}

TEST(Resnet8Sites, DeployMode) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::real_model_path("resnet8_cifar10"), "resnet8_cifar10");
  PreparedModel model = PreparedModel::load(path, {ActSites::kInputs});
  ASSERT_EQ(model.sites().size(), 10u);  // the two stride-2 convs read a pad, their shortcuts the block input
  const Site& input = model.sites().front();
  EXPECT_EQ(input.name, "input");
  EXPECT_TRUE(input.first_last);
  EXPECT_FALSE(input.is_unsigned);
  const Site& fc_input = model.sites().back();
  EXPECT_EQ(fc_input.name, "flatten_0");
  EXPECT_TRUE(fc_input.first_last);
  const Site* relu = find_site(model, "relu_0");
  ASSERT_NE(relu, nullptr);
  EXPECT_TRUE(relu->is_unsigned);
  const Site* pad = find_site(model, "pad_0");
  ASSERT_NE(pad, nullptr);
  EXPECT_FALSE(pad->is_unsigned);
}

TEST(TinyDarknetSites, LeakyReluIsNotReluLike) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::real_model_path("tiny_darknet"), "tiny_darknet");
  for (ActSites mode : {ActSites::kOutputs, ActSites::kInputs}) {
    PreparedModel model = PreparedModel::load(path, {mode});
    EXPECT_EQ(count_unsigned(model), 0u);
  }
  PreparedModel model = PreparedModel::load(path);
  for (const char* pool : {"max_pool2d_0", "max_pool2d_3", "adaptive_avg_pool2d_0"}) {
    const Site* site = find_site(model, pool);
    ASSERT_NE(site, nullptr) << pool;
    EXPECT_EQ(site->kind, SiteKind::kPoolOutput);
  }
  EXPECT_EQ(model.sites().back().name, "adaptive_avg_pool2d_0");  // the pool after the classifier conv
}

TEST(MobilenetV2QSites, Relu6SitesAreUnsigned) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::real_model_path("mobilenet_v2_q"), "mobilenet_v2_q");
  PreparedModel model = PreparedModel::load(path);
  const Site* depthwise = find_site(model, "expanded_conv.depthwise");
  ASSERT_NE(depthwise, nullptr);
  EXPECT_TRUE(depthwise->is_unsigned);
  EXPECT_EQ(depthwise->activation, "aten::hardtanh");
  const Site* project = find_site(model, "expanded_conv_1.project");
  ASSERT_NE(project, nullptr);
  EXPECT_FALSE(project->is_unsigned);
  EXPECT_EQ(model.layers()[1].groups, 32);  // depthwise
  PreparedModel deploy = PreparedModel::load(path, {ActSites::kInputs});
  EXPECT_EQ(deploy.sites().front().name, "pad_0");  // the first conv reads the explicit TF-SAME pad
  EXPECT_TRUE(deploy.sites().front().first_last);
  EXPECT_EQ(deploy.sites().back().name, "avg_pool2d_0");  // read by the classifier conv
  EXPECT_TRUE(deploy.sites().back().first_last);
}

}  // namespace
}  // namespace quantsim
