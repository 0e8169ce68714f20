// Cross-layer equalization and high-bias absorption (docs/QUANTIZATION.md, section 14.1): exact in FP32 without
// absorption, equalised ranges, the chains it refuses, and mobilenet_v2_q's depthwise ReLU6 chains.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <string>

#include "graph_test_support.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/quant/weight_quantization.h"
#include "support/fixtures.h"

namespace quantsim {
namespace {

// Channel magnitudes spread over ~e^{+-3}, so that equalization has work to do.
at::Tensor spread_weight(std::vector<int64_t> shape) {
  at::Tensor w = at::randn(shape);
  std::vector<int64_t> per_channel(shape.size(), 1);
  per_channel[0] = shape[0];
  return w * at::exp(at::randn(per_channel) * 1.5);
}

void add_batch_norm(torch::jit::Module& module, const std::string& name, int64_t channels) {
  module.register_parameter(name + "_g", at::rand({channels}) + 0.2, false);
  // Some large positive shifts: channels whose pre-activation rarely falls below beta - 3 gamma (absorbable).
  module.register_parameter(name + "_b", at::randn({channels}) + 1.0, false);
  module.register_buffer(name + "_m", at::randn({channels}) * 0.1);
  module.register_buffer(name + "_v", at::rand({channels}) + 0.5);
}

// conv1 3->8 3x3 pad 1, BN, ReLU -> conv2 8->16 1x1, BN, clamp(0, 6) -> dw 16 3x3 pad 1, BN, clamp(0, 6)
// -> conv4 16->8 1x1, BN, ReLU, read twice (conv5a and conv5b: no chain) -> sum -> mean -> linear 8->4.
// Chains: conv1-conv2, conv2-dw, dw-conv4. Absorption: conv1-conv2 and dw-conv4 (1x1, no padding); conv2-dw pads.
std::string save_chain_model(const std::string& dir) {
  torch::manual_seed(7);
  torch::jit::Module module("ChainModel");
  module.register_parameter("w1", spread_weight({8, 3, 3, 3}) * 0.3, false);
  module.register_parameter("w2", spread_weight({16, 8, 1, 1}) * 0.3, false);
  module.register_parameter("w3", spread_weight({16, 1, 3, 3}) * 0.3, false);
  module.register_parameter("w4", spread_weight({8, 16, 1, 1}) * 0.3, false);
  module.register_parameter("w5a", spread_weight({8, 8, 1, 1}) * 0.3, false);
  module.register_parameter("w5b", spread_weight({8, 8, 3, 3}) * 0.3, false);
  module.register_parameter("wl", at::randn({4, 8}) * 0.3, false);
  module.register_parameter("bl", at::randn({4}) * 0.1, false);
  add_batch_norm(module, "n1", 8);
  add_batch_norm(module, "n2", 16);
  add_batch_norm(module, "n3", 16);
  add_batch_norm(module, "n4", 8);
  module.define(R"(
def forward(self, x):
    y = torch.conv2d(x, self.w1, None, [1, 1], [1, 1])
    y = torch.relu(torch.batch_norm(y, self.n1_g, self.n1_b, self.n1_m, self.n1_v, False, 0.1, 1e-5, False))
    y = torch.conv2d(y, self.w2)
    y = torch.clamp(torch.batch_norm(y, self.n2_g, self.n2_b, self.n2_m, self.n2_v, False, 0.1, 1e-5, False), 0.0, 6.0)
    y = torch.conv2d(y, self.w3, None, [1, 1], [1, 1], [1, 1], 16)
    y = torch.clamp(torch.batch_norm(y, self.n3_g, self.n3_b, self.n3_m, self.n3_v, False, 0.1, 1e-5, False), 0.0, 6.0)
    y = torch.conv2d(y, self.w4)
    y = torch.relu(torch.batch_norm(y, self.n4_g, self.n4_b, self.n4_m, self.n4_v, False, 0.1, 1e-5, False))
    z = torch.conv2d(y, self.w5a) + torch.conv2d(y, self.w5b, None, [1, 1], [1, 1])
    return torch.linear(torch.mean(z, [2, 3]), self.wl, self.bl)
)");
  const std::string path = dir + "/chain.pt";
  module.save(path);
  return path;
}

PreparedModel load(const std::string& path, bool equalize, bool absorb, ActSites sites = ActSites::kOutputs) {
  PrepareOptions options;
  options.act_sites = sites;
  options.cross_layer_equalization = equalize;
  options.high_bias_absorption = absorb;
  return PreparedModel::load(path, options);
}

double relative_difference(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

at::Tensor output_ranges(const at::Tensor& w) { return w.abs().reshape({w.size(0), -1}).amax(1); }

// Per input channel of a grouped conv weight [out, in/groups, k...].
at::Tensor input_ranges(const at::Tensor& w, int64_t groups) {
  const int64_t in_per_group = w.size(1);
  const at::Tensor grouped = w.abs().reshape({groups, w.size(0) / groups, in_per_group, -1});
  return grouped.amax({1, 3}).reshape({groups * in_per_group});
}

class CrossLayerEqualization : public ::testing::Test {
 protected:
  void SetUp() override { path_ = save_chain_model(testing::fresh_temp_dir("cle")); }
  std::string path_;
};

TEST_F(CrossLayerEqualization, LeavesFp32LogitsUnchangedWithoutAbsorption) {
  const PreparedModel plain = load(path_, false, false);
  const PreparedModel equalised = load(path_, true, false);
  const CrossLayerEqualizationSummary& summary = equalised.equalization();
  EXPECT_EQ(summary.pairs, 3);
  EXPECT_EQ(summary.per_channel_clamps, 2);  // both clamp(0, 6) became per-channel bounds
  EXPECT_EQ(summary.absorbed_pairs, 0);
  EXPECT_GT(summary.sweeps, 1);
  EXPECT_EQ(equalised.count_nodes("aten::batch_norm"), 0);
  for (ActSites sites : {ActSites::kOutputs, ActSites::kInputs}) {
    const at::Tensor x = graph_test::test_input(4, 3, 12, 12);
    const at::Tensor expected = load(path_, false, false, sites).forward(x);
    const at::Tensor got = load(path_, true, false, sites).forward(x);
    EXPECT_LT(relative_difference(got, expected), 1e-5) << to_string(sites);
  }
  // The weights did change: the test above is not comparing a model with itself.
  EXPECT_GT(relative_difference(equalised.layers()[0].original_weight, plain.layers()[0].original_weight), 1e-2);
}

TEST_F(CrossLayerEqualization, EqualisesTheRangesOfEveryPair) {
  const PreparedModel plain = load(path_, false, false);
  const PreparedModel equalised = load(path_, true, false);
  const std::vector<Layer>& before = plain.layers();
  const std::vector<Layer>& after = equalised.layers();
  ASSERT_EQ(after.size(), 7u);
  for (int64_t first : {0, 1, 2}) {
    const at::Tensor r1 = output_ranges(after[first].original_weight);
    const at::Tensor r2 = input_ranges(after[first + 1].original_weight, after[first + 1].groups);
    EXPECT_LT(((r1 - r2).abs() / r2).max().item<double>(), 1e-4) << "pair starting at layer " << first;
    const at::Tensor r1_before = output_ranges(before[first].original_weight);
    const at::Tensor r2_before = input_ranges(before[first + 1].original_weight, before[first + 1].groups);
    EXPECT_GT(((r1_before - r2_before).abs() / r2_before).max().item<double>(), 0.5);
  }
  // conv4's output is read by two convs: conv4 is no first layer of a pair, conv5a/b and the linear are untouched.
  for (size_t i = 4; i < 7; ++i) EXPECT_TRUE(at::equal(after[i].original_weight, before[i].original_weight)) << i;
}

TEST_F(CrossLayerEqualization, AbsorbsHighBiasesOnlyWhereTheNextLayerDoesNotPad) {
  const PreparedModel equalised = load(path_, true, false);
  const PreparedModel absorbed = load(path_, true, true);
  const CrossLayerEqualizationSummary& summary = absorbed.equalization();
  EXPECT_EQ(summary.absorbed_pairs, 2);        // conv1 -> conv2, dw -> conv4
  EXPECT_EQ(summary.not_absorbed_padding, 1);  // conv2 -> dw (padding 1)
  const std::vector<Layer>& a = absorbed.layers();
  const std::vector<Layer>& e = equalised.layers();
  // The first layer's bias went down by c >= 0, the next one's up by W2 c.
  const at::Tensor c = e[0].bias - a[0].bias;
  EXPECT_GE(c.min().item<double>(), 0.0);
  EXPECT_GT(c.max().item<double>(), 0.0);
  const at::Tensor w2c = e[1].original_weight.reshape({16, 8}).matmul(c);
  EXPECT_LT(relative_difference(a[1].bias - e[1].bias, w2c), 1e-5);
  // dw -> conv4 absorbed too; conv2 kept its own bias (its pair pads), so it changed only by conv1's W2 c above.
  EXPECT_GE((e[2].bias - a[2].bias).min().item<double>(), 0.0);
  EXPECT_GT((e[2].bias - a[2].bias).max().item<double>(), 0.0);
}

// What equalization is for: with channel ranges spread over orders of magnitude, per-tensor weight quantization of the
// equalised model is closer to FP32 than of the original (conv5a/b and the linear, not in a pair, keep their error).
TEST_F(CrossLayerEqualization, ReducesPerTensorWeightQuantizationError) {
  const at::Tensor x = graph_test::test_input(4, 3, 12, 12);
  const at::Tensor fp32 = load(path_, false, false).forward(x);
  WeightQuantOptions options;
  options.bits = 6;
  options.first_last_bits = 6;
  auto quantized_error = [&](bool equalize) {
    PreparedModel model = load(path_, equalize, false);
    for (const Layer& layer : model.layers()) {
      model.set_layer_weight(layer.index, quantize_layer_weight(layer, options).weight);
    }
    return relative_difference(model.forward(x), fp32);
  };
  const double plain = quantized_error(false);
  const double equalised = quantized_error(true);
  EXPECT_LT(equalised, 0.9 * plain) << "plain " << plain << ", equalised " << equalised;
}

TEST(CrossLayerEqualizationRealModels, MobilenetV2LogitsUnchanged) {
  QUANTSIM_REQUIRE_PATH(path, graph_test::real_model_path("mobilenet_v2_q"), "mobilenet_v2_q");
  const at::Tensor x = graph_test::test_input(2, 3, 224, 224);
  const at::Tensor expected = load(path, false, false).forward(x);
  const PreparedModel equalised = load(path, true, false);
  // 17 blocks: the expand/dw/project chains (the first block has no expand conv).
  EXPECT_GE(equalised.equalization().pairs, 30);
  EXPECT_GE(equalised.equalization().per_channel_clamps, 30);
  EXPECT_LT(relative_difference(equalised.forward(x), expected), 1e-4);
  // With absorption the logits move only where a pre-activation falls below beta - 3 gamma: same top-1 here.
  const at::Tensor absorbed = load(path, true, true).forward(x);
  EXPECT_TRUE(at::equal(absorbed.argmax(1), expected.argmax(1)));
}

}  // namespace
}  // namespace quantsim
