// Torchvision architectures (random weights, see make_fixtures.py): names, folding and sites on graphs quant-sim
// will meet in practice, including in-place ReLUs, Sequential indices and shared block inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "graph_test_support.h"
#include "quantsim/graph/prepared_model.h"

namespace quantsim {
namespace {

using graph_test::find_site;

size_t count_unsigned(const PreparedModel& model) {
  return std::count_if(model.sites().begin(), model.sites().end(), [](const Site& s) { return s.is_unsigned; });
}

std::vector<std::string> layer_names(const PreparedModel& model) {
  std::vector<std::string> names;
  for (const Layer& layer : model.layers()) names.push_back(layer.name);
  return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(TorchvisionResnet18, NamesFoldingAndSites) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("resnet18"), "torchvision fixtures");
  PreparedModel model = PreparedModel::load(path);
  EXPECT_EQ(model.count_nodes("aten::batch_norm"), 0);
  EXPECT_EQ(model.count_nodes("aten::relu_"), 0) << "in-place ReLUs should have been made functional";
  const auto names = layer_names(model);
  ASSERT_EQ(names.size(), 21u);
  EXPECT_EQ(names.front(), "conv1");
  EXPECT_TRUE(contains(names, "layer1.0.conv2"));
  EXPECT_TRUE(contains(names, "layer2.0.downsample.0"));
  EXPECT_EQ(names.back(), "fc");
  // conv1 and every block's conv1 feed a ReLU; conv2 and the shortcuts feed the residual add.
  EXPECT_EQ(count_unsigned(model), 9u);
  EXPECT_TRUE(graph_test::site_named(model, "layer3.1.conv1").is_unsigned);
  EXPECT_FALSE(graph_test::site_named(model, "layer3.1.conv2").is_unsigned);
  EXPECT_NE(find_site(model, "max_pool2d_0"), nullptr);
  EXPECT_NE(find_site(model, "adaptive_avg_pool2d_0"), nullptr);
  EXPECT_EQ(model.sites().size(), 21u + 2u);
}

TEST(TorchvisionResnet18, IdentityInstrumentationIsBitExact) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("resnet18"), "torchvision fixtures");
  const at::Tensor x = graph_test::test_input(1, 3, 64, 64);
  const at::Tensor expected = PreparedModel::load(path, {ActSites::kOutputs, false}).forward(x);
  EXPECT_TRUE(PreparedModel::load(path, {ActSites::kOutputs}).forward(x).equal(expected));
  EXPECT_TRUE(PreparedModel::load(path, {ActSites::kInputs}).forward(x).equal(expected));
}

TEST(TorchvisionResnet18, DeployModeMergesTensorsReadByTwoConvs) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("resnet18"), "torchvision fixtures");
  PreparedModel model = PreparedModel::load(path, {ActSites::kInputs});
  // In layer2..4 block 0, conv1 and downsample.0 read the same tensor: 21 layers, 18 distinct inputs.
  ASSERT_EQ(model.sites().size(), 18u);
  size_t shared = 0;
  for (const Site& site : model.sites()) shared += site.layers.size() == 2;
  EXPECT_EQ(shared, 3u);
  EXPECT_EQ(model.sites().front().name, "input");
  EXPECT_EQ(model.sites().back().name, "flatten_0");
  EXPECT_NE(find_site(model, "max_pool2d_0"), nullptr);  // pools are not special in deploy mode
}

TEST(TorchvisionResnet50, StructureOnly) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("resnet50"), "torchvision fixtures");
  PreparedModel model = PreparedModel::load(path);
  EXPECT_EQ(model.count_nodes("aten::batch_norm"), 0);
  const auto names = layer_names(model);
  ASSERT_EQ(names.size(), 54u);
  EXPECT_TRUE(contains(names, "layer4.2.conv3"));
  EXPECT_TRUE(contains(names, "layer1.0.downsample.0"));
  EXPECT_TRUE(model.layers().front().first);
  EXPECT_TRUE(model.layers().back().last);
  EXPECT_EQ(model.layers().back().name, "fc");
  EXPECT_EQ(count_unsigned(model), 1u + 2u * 16u);  // stem + conv1, conv2 of each of the 16 bottlenecks
}

TEST(TorchvisionVgg16Bn, FoldsBatchNormAndDropsDropout) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("vgg16_bn"), "torchvision fixtures");
  PreparedModel model = PreparedModel::load(path);
  EXPECT_EQ(model.count_nodes("aten::batch_norm"), 0);
  EXPECT_EQ(model.count_nodes("aten::dropout") + model.count_nodes("aten::dropout_"), 0);
  ASSERT_EQ(model.layers().size(), 16u);
  EXPECT_EQ(model.layers().front().name, "features.0");
  EXPECT_EQ(model.layers().back().name, "classifier.6");
  // Every conv and the two hidden linears feed a ReLU (through BN folding and dropout removal).
  EXPECT_EQ(count_unsigned(model), 15u);
  EXPECT_TRUE(graph_test::site_named(model, "classifier.0").is_unsigned);
  EXPECT_TRUE(graph_test::site_named(model, "classifier.6").is_logits);
  EXPECT_NE(find_site(model, "max_pool2d_4"), nullptr);
}

TEST(TorchvisionMobilenetV2, Relu6AndDepthwise) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::fixture_path("mobilenet_v2"), "torchvision fixtures");
  PreparedModel model = PreparedModel::load(path);
  EXPECT_EQ(model.count_nodes("aten::batch_norm"), 0);
  ASSERT_EQ(model.layers().size(), 53u);
  EXPECT_EQ(model.layers().front().name, "features.0.0");
  EXPECT_EQ(model.layers().back().name, "classifier.1");
  EXPECT_EQ(model.layers().back().kind, LayerKind::kLinear);
  EXPECT_EQ(count_unsigned(model), 35u);
  const Site* depthwise = find_site(model, "features.2.conv.1.0");
  ASSERT_NE(depthwise, nullptr);
  EXPECT_TRUE(depthwise->is_unsigned);
  EXPECT_EQ(model.layers()[depthwise->layers.front()].groups, 96);
  EXPECT_FALSE(graph_test::site_named(model, "features.2.conv.2").is_unsigned);  // the linear bottleneck's projection
}

}  // namespace
}  // namespace quantsim
