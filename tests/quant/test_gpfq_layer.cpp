// GPFQ on conv layers: patches cut out of the layer input (layer_samples.h), groups kept apart, the grid and the
// corrections of the resulting QuantizedWeight (gpfq_layer.h).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <set>

#include "quantsim/core/errors.h"
#include "quantsim/quant/gpfq.h"
#include "quantsim/quant/gpfq_layer.h"
#include "quantsim/quant/layer_samples.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {
namespace {

Layer conv_layer(const at::Tensor& weight, int64_t groups, std::vector<int64_t> stride, std::vector<int64_t> padding,
                 std::vector<int64_t> dilation) {
  Layer layer;
  layer.kind = LayerKind::kConv;
  layer.op = "aten::conv2d";
  layer.name = "conv";
  layer.groups = groups;
  layer.original_weight = weight;
  layer.stride = std::move(stride);
  layer.padding = std::move(padding);
  layer.dilation = std::move(dilation);
  return layer;
}

at::Tensor all_rows(const Layer& layer, const at::Tensor& input) {
  return at::arange(input.size(0) * rows_per_image(layer, input.sizes()), at::kLong);
}

at::Tensor conv(const Layer& layer, const at::Tensor& input, const at::Tensor& weight) {
  return at::conv2d(input, weight, {}, layer.stride, layer.padding, layer.dilation, layer.groups);
}

TEST(LayerSamples, ConvPatchesAreTheRowsOfIm2col) {
  at::manual_seed(1);
  const Layer layer = conv_layer(at::randn({6, 2, 3, 2}), 2, {2, 1}, {1, 0}, {1, 2});
  const at::Tensor input = at::randn({3, 4, 9, 8});
  const at::Tensor rows = layer_input_rows(layer, input, all_rows(layer, input));  // [G, m, n]
  // im2col: [N, C * kh * kw, L] -> [N * L, G, C/G * kh * kw] -> [G, N * L, n]
  const at::Tensor columns = at::im2col(input, {3, 2}, layer.dilation, layer.padding, layer.stride);
  const at::Tensor expected = columns.transpose(1, 2).reshape({-1, 2, 2 * 3 * 2}).permute({1, 0, 2});
  ASSERT_EQ(rows.sizes(), expected.sizes());
  EXPECT_TRUE(at::equal(rows, expected));
  // The rows times the grouped weight give the convolution's output.
  const at::Tensor products = at::bmm(rows, grouped_weight_matrix(layer).transpose(1, 2));  // [G, N*L, O/G]
  const at::Tensor output = conv(layer, input, layer.original_weight);                      // [N, O, Ho, Wo]
  const at::Tensor as_rows = output.permute({0, 2, 3, 1}).reshape({-1, 2, 3}).permute({1, 0, 2});
  EXPECT_TRUE(at::allclose(products, as_rows, 1e-4, 1e-5));
}

TEST(LayerSamples, LinearRowsAreTheInputRows) {
  Layer layer;
  layer.kind = LayerKind::kLinear;
  layer.original_weight = at::randn({4, 5});
  const at::Tensor input = at::randn({3, 5});
  EXPECT_EQ(rows_per_image(layer, input.sizes()), 1);
  const at::Tensor rows = layer_input_rows(layer, input, at::tensor(std::vector<int64_t>{2, 0}));
  EXPECT_TRUE(at::equal(rows, at::stack({input[2], input[0]}).unsqueeze(0)));
}

TEST(LayerSamples, NoKeptRowIsAnEmptyMatrixAndGpfqRoundsToNearest) {
  // Sampling may keep no patch of a small map (a squeeze-and-excitation conv on a 1x1 input, 2 images, p = 0.25).
  at::manual_seed(2);
  const Layer layer = conv_layer(at::randn({6, 2, 3, 2}), 2, {2, 1}, {1, 0}, {1, 2});
  const at::Tensor input = at::randn({2, 4, 9, 8});
  const at::Tensor rows = layer_input_rows(layer, input, at::empty({0}, at::kLong));
  EXPECT_EQ(rows.sizes(), (std::vector<int64_t>{2, 0, 2 * 3 * 2}));
  GpfqLayerOptions options;
  options.bits = 4;
  const QuantizedWeight q = gpfq_layer_weight(layer, rows, rows, options);
  EXPECT_TRUE(at::isfinite(q.weight).all().item<bool>());
  EXPECT_EQ(q.weight.sizes(), layer.original_weight.sizes());
}

TEST(LayerSamples, SamplingIsSeededPerLayerAndImage) {
  const std::vector<int64_t> a = sampled_image_rows(10000, 0.25, 7, 3, 5);
  EXPECT_EQ(a, sampled_image_rows(10000, 0.25, 7, 3, 5));
  EXPECT_NE(a, sampled_image_rows(10000, 0.25, 8, 3, 5));
  EXPECT_NE(a, sampled_image_rows(10000, 0.25, 7, 4, 5));
  EXPECT_NE(a, sampled_image_rows(10000, 0.25, 7, 3, 6));
  EXPECT_NEAR(static_cast<double>(a.size()), 2500.0, 150.0);  // 6 standard deviations
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), a.size());
  EXPECT_EQ(sampled_image_rows(7, 1.0, 7, 3, 5), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(LayerSamples, UnsupportedLayersAreRefusedByName) {
  Layer conv1d = conv_layer(at::randn({2, 3, 3}), 1, {1}, {0}, {1});
  EXPECT_THROW(check_layer_samplable(conv1d), UserError);
  Layer transposed = conv_layer(at::randn({2, 3, 3, 3}), 1, {1, 1}, {0, 0}, {1, 1});
  transposed.transposed = true;
  EXPECT_THROW(check_layer_samplable(transposed), UserError);
  Layer string_padding = conv_layer(at::randn({2, 3, 3, 3}), 1, {1, 1}, {}, {1, 1});
  try {
    check_layer_samplable(string_padding);
    FAIL() << "a conv without constant padding was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'conv'"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(check_layer_samplable(conv_layer(at::randn({2, 3, 3, 3}), 1, {1, 1}, {1, 1}, {1, 1})));
}

// A grouped conv whose inputs have strongly correlated channels (as real feature maps do).
struct GroupedConvCase {
  Layer layer;
  at::Tensor calibration, held_out;
};

GroupedConvCase grouped_conv_case() {
  at::manual_seed(2);
  const at::Tensor mixing = at::randn({8, 3});
  const auto draw = [&](int64_t n) {
    const at::Tensor sources = at::avg_pool2d(at::randn({n, 3, 14, 14}), 3, 1, 1);  // spatially smooth
    return at::einsum("ck,nkhw->nchw", {mixing, sources});
  };
  return {conv_layer(at::randn({12, 2, 3, 3}), 4, {1, 1}, {1, 1}, {1, 1}), draw(16), draw(16)};
}

TEST(GpfqLayer, GroupsAreQuantizedSeparatelyOnTheirOwnChannels) {
  const GroupedConvCase c = grouped_conv_case();
  const at::Tensor x = layer_input_rows(c.layer, c.calibration, all_rows(c.layer, c.calibration));
  GpfqLayerOptions options;
  options.bits = 3;
  const QuantizedWeight result = gpfq_layer_weight(c.layer, x, x, options);
  // Each group alone, with the layer's alphabet, on its own channels only.
  const at::Tensor w = grouped_weight_matrix(c.layer);
  const GpfqAlphabet alphabet = gpfq_alphabet(w, 3, 1.16, false);
  const at::Tensor q = result.weight.reshape({4, 3, -1});
  for (int64_t g = 0; g < 4; ++g) {
    const at::Tensor x_g = x.narrow(0, g, 1);
    const GpfqAlphabet alphabet_g{alphabet.step.narrow(0, g, 1), alphabet.half_levels};
    EXPECT_TRUE(at::equal(q.narrow(0, g, 1), gpfq_quantize(x_g, x_g, w.narrow(0, g, 1), alphabet_g))) << g;
  }
}

TEST(GpfqLayer, GroupedConvBeatsRoundToNearestOnHeldOutImages) {
  const GroupedConvCase c = grouped_conv_case();
  const at::Tensor x = layer_input_rows(c.layer, c.calibration, all_rows(c.layer, c.calibration));
  const at::Tensor exact = conv(c.layer, c.held_out, c.layer.original_weight);
  const auto error = [&](const at::Tensor& weight) {
    return ((conv(c.layer, c.held_out, weight) - exact).norm() / exact.norm()).item<double>();
  };
  for (int bits : {3, 4}) {
    GpfqLayerOptions options;
    options.bits = bits;
    WeightQuantOptions rtn;
    rtn.bits = rtn.first_last_bits = bits;
    const double gpfq_error = error(gpfq_layer_weight(c.layer, x, x, options).weight);
    const double rtn_error = error(quantize_layer_weight(c.layer, rtn).weight);
    EXPECT_LT(gpfq_error, 0.8 * rtn_error) << bits << " bits";
  }
}

TEST(GpfqLayer, ResultNamesItsGridAndRange) {
  const GroupedConvCase c = grouped_conv_case();
  const at::Tensor x = layer_input_rows(c.layer, c.calibration, all_rows(c.layer, c.calibration));
  for (bool per_channel : {false, true}) {
    GpfqLayerOptions options;
    options.bits = 4;
    options.per_channel = per_channel;
    const QuantizedWeight r = gpfq_layer_weight(c.layer, x, x, options);
    const size_t entries = per_channel ? 12 : 1;
    ASSERT_EQ(r.grid.step.size(), entries);
    ASSERT_EQ(r.grid.offset.size(), entries);
    ASSERT_EQ(r.grid.levels.size(), entries);
    EXPECT_EQ(r.bits, 4);
    EXPECT_EQ(r.params.per_channel, per_channel);
    EXPECT_TRUE(at::equal(r.weight, r.grid_weight));  // no correction asked for
    EXPECT_EQ(r.weight.sizes(), c.layer.original_weight.sizes());
    for (int64_t o = 0; o < 12; ++o) {
      const size_t e = per_channel ? static_cast<size_t>(o) : 0;
      EXPECT_EQ(r.grid.levels[e], 17);
      EXPECT_FLOAT_EQ(r.grid.offset[e], -8.0f * r.grid.step[e]);
      const at::Tensor codes = (r.grid_weight[o] - r.grid.offset[e]) / r.grid.step[e];
      EXPECT_TRUE(at::allclose(codes, at::round(codes), 0.0, 1e-3)) << "channel " << o;
      EXPECT_GE(codes.min().item<double>(), -1e-3);
      EXPECT_LE(codes.max().item<double>(), 16 + 1e-3);
    }
    if (!per_channel) {
      EXPECT_DOUBLE_EQ(r.params.range.hi, 8.0 * r.grid.step[0]);
    }
  }
}

TEST(GpfqLayer, CorrectionsApplyAfterGpfq) {
  const GroupedConvCase c = grouped_conv_case();
  const at::Tensor x = layer_input_rows(c.layer, c.calibration, all_rows(c.layer, c.calibration));
  GpfqLayerOptions options;
  options.bits = 3;
  options.corrections.bias = true;
  const QuantizedWeight r = gpfq_layer_weight(c.layer, x, x, options);
  const auto means = [](const at::Tensor& w) { return w.reshape({w.size(0), -1}).mean(1); };
  EXPECT_TRUE(at::allclose(means(r.weight), means(c.layer.original_weight), 0.0, 1e-5));
  EXPECT_FALSE(at::allclose(means(r.grid_weight), means(c.layer.original_weight), 0.0, 1e-5));
}

}  // namespace
}  // namespace quantsim
