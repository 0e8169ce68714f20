// The op rule (docs/QUANTIZATION.md, section 4): conv and linear are the quantized layers, every other op runs in float
// and is listed by PreparedModel::float_ops(), products outside conv/linear are refused, and preparing a graph changes
// no FP32 result except through BatchNorm folding.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "graph_test_support.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/graph/torchscript_loading.h"

namespace quantsim {
namespace {

bool lists_float_op(const PreparedModel& model, const std::string& op, const std::string& module_path) {
  return std::any_of(model.float_ops().begin(), model.float_ops().end(),
                     [&](const FloatOp& f) { return f.op == op && f.module_path == module_path; });
}

bool lists_op(const PreparedModel& model, const std::string& op) {
  return std::any_of(model.float_ops().begin(), model.float_ops().end(), [&](const FloatOp& f) { return f.op == op; });
}

at::Tensor original_logits(const std::string& path, const at::Tensor& x) {
  torch::jit::Module module = graph::load_torchscript(path);
  module.eval();
  return graph::run_classifier(module, x, path);
}

TEST(OpRule, ActivationThatIsNotReluLikeRunsInFloatAndIsListed) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("sigmoid_net"), "torchvision fixtures");
  const PreparedModel paper = PreparedModel::load(path, {ActSites::kOutputs});
  ASSERT_EQ(paper.layers().size(), 2u);
  EXPECT_TRUE(lists_float_op(paper, "aten::sigmoid", "head.act"));
  // Paper mode quantizes the conv's output; the sigmoid after it is not ReLU-like, so the site stays signed.
  EXPECT_FALSE(graph_test::site_named(paper, "head.conv").is_unsigned);
  EXPECT_TRUE(paper.sites()[0].activation.empty());
  // Deploy mode quantizes what the linear reads: the flattened sigmoid output.
  const PreparedModel deploy = PreparedModel::load(path, {ActSites::kInputs});
  ASSERT_EQ(deploy.sites().size(), 2u);
  EXPECT_EQ(deploy.sites()[1].producer, "aten::flatten");
}

TEST(OpRule, MatmulByAConstantWeightIsALinearLayer) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("weight_matmul"), "torchvision fixtures");
  PreparedModel model = PreparedModel::load(path, {ActSites::kInputs});
  ASSERT_EQ(model.layers().size(), 2u);
  const Layer& matmul = model.layers()[1];
  EXPECT_EQ(matmul.name, "head");
  EXPECT_EQ(matmul.op, "aten::matmul");
  EXPECT_EQ(matmul.kind, LayerKind::kLinear);
  EXPECT_FALSE(matmul.bias.defined());
  // As a linear's weight: [out, in], the transpose of the module's proj [in, out].
  EXPECT_EQ(matmul.original_weight.sizes(), (std::vector<int64_t>{3, 4 * 6 * 6}));
  EXPECT_EQ(model.sites()[1].layers, std::vector<int64_t>{1});
  const at::Tensor x = graph_test::test_input(2, 3, 8, 8);
  EXPECT_TRUE(model.forward(x).equal(original_logits(path, x)));
  // A weight set through the layer is the one the matmul multiplies by.
  const at::Tensor rounded = matmul.original_weight.mul(4).round().div(4);
  model.set_layer_weight(1, rounded);
  PrepareOptions plain{ActSites::kInputs, false};
  plain.fold_batch_norm = false;
  const PreparedModel conv_only = PreparedModel::load(path, plain);
  const at::Tensor features = at::flatten(
      at::conv2d(x, conv_only.layers()[0].original_weight, conv_only.layers()[0].bias), 1);
  EXPECT_TRUE(at::allclose(model.forward(x), at::matmul(features, rounded.t()), 1e-5, 1e-5));
  EXPECT_FALSE(at::allclose(model.forward(x), original_logits(path, x), 1e-6, 1e-6));
}

TEST(OpRule, TensorsOfLinearsAreNeverPerChannel) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("token_linear"), "torchvision fixtures");
  const at::Tensor tokens = at::zeros({2, 36, 6});  // what the linear reads: [N, tokens, features]
  const PreparedModel paper = PreparedModel::load(path, {ActSites::kOutputs});
  EXPECT_TRUE(graph_test::site_named(paper, "conv").per_channel_allowed);
  EXPECT_FALSE(site_allows_per_channel(graph_test::site_named(paper, "mlp"), tokens));
  const PreparedModel deploy = PreparedModel::load(path, {ActSites::kInputs});
  ASSERT_EQ(deploy.sites().size(), 3u);
  EXPECT_TRUE(deploy.sites()[0].per_channel_allowed);  // the image, read by the conv
  EXPECT_FALSE(site_allows_per_channel(deploy.sites()[1], tokens));
  EXPECT_TRUE(lists_op(deploy, "aten::gelu"));
  EXPECT_TRUE(lists_op(deploy, "aten::transpose"));
}

TEST(OpRule, FloatOpsAreEveryTensorOpButTheLayers) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("resnet18"), "torchvision fixtures");
  const PreparedModel model = PreparedModel::load(path);
  for (const FloatOp& op : model.float_ops()) {
    EXPECT_NE(op.op, "aten::conv2d");
    EXPECT_NE(op.op, "aten::linear");
    EXPECT_NE(op.op, "aten::batch_norm") << "folded BatchNorm listed as a float op";
    EXPECT_EQ(op.op.rfind("prim::", 0), std::string::npos) << op.op;
  }
  EXPECT_TRUE(lists_float_op(model, "aten::max_pool2d", "maxpool"));
  EXPECT_TRUE(lists_float_op(model, "aten::relu", "layer1.0.relu"));
  EXPECT_TRUE(lists_op(model, "aten::add"));
  EXPECT_TRUE(lists_op(model, "aten::flatten"));
}

TEST(OpRule, BatchNormAfterSomethingElseThanAConvStaysFloat) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("pre_activation"), "torchvision fixtures");
  const PreparedModel model = PreparedModel::load(path);
  EXPECT_EQ(model.count_nodes("aten::batch_norm"), 1);
  EXPECT_TRUE(lists_float_op(model, "aten::batch_norm", "bn"));
  const at::Tensor x = graph_test::test_input(2, 3, 12, 12);
  EXPECT_TRUE(model.forward(x).equal(original_logits(path, x)));
}

TEST(OpRule, PreparedGraphEqualsTheOriginalModuleBitForBitWithoutFolding) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("conv_bn_net"), "torchvision fixtures");
  const at::Tensor x = graph_test::test_input(2, 3, 16, 16);
  const at::Tensor expected = original_logits(path, x);
  for (ActSites mode : {ActSites::kOutputs, ActSites::kInputs}) {
    PrepareOptions options{mode};
    options.fold_batch_norm = false;
    const PreparedModel model = PreparedModel::load(path, options);
    EXPECT_GT(model.count_nodes("aten::batch_norm"), 0);
    EXPECT_TRUE(lists_float_op(model, "aten::batch_norm", "block.bn1"));
    EXPECT_TRUE(model.forward(x).equal(expected)) << to_string(mode);
  }
  // Folding re-associates the float arithmetic of conv and BatchNorm: close, not equal.
  const at::Tensor folded = PreparedModel::load(path).forward(x);
  EXPECT_LE((folded - expected).abs().max().item<double>(), 1e-4 * expected.abs().max().item<double>());
}

}  // namespace
}  // namespace quantsim
