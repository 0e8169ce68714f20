// AdaRound for one layer (quantsim/quant/adaround.h): on a random layer with correlated inputs it reconstructs the
// output of held-out inputs better than round to nearest, its rounding variables end at 0 or 1, every weight stays on
// round to nearest's grid within one step of it, and a seed fixes the result.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "quantsim/quant/adaround.h"
#include "quantsim/quant/weight_quantization.h"

using namespace quantsim;

namespace {

constexpr int64_t kInputs = 32;
constexpr int64_t kOutputs = 16;
constexpr int64_t kImages = 64;
constexpr int64_t kRowsPerImage = 16;

Layer linear_layer(const at::Tensor& weight) {
  Layer layer;
  layer.index = 1;
  layer.name = "fc";
  layer.kind = LayerKind::kLinear;
  layer.op = "aten::linear";
  layer.original_weight = weight;
  return layer;
}

// Inputs with correlated features (as real activations are): round to nearest, which minimizes each weight's error
// alone, is then not the best rounding for the output.
struct Problem {
  at::Tensor weight, train, held_out;
};

Problem random_problem(uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  Problem p;
  p.weight = at::randn({kOutputs, kInputs}, generator) * 0.1;
  const at::Tensor mixing = at::randn({kInputs, kInputs}, generator) / std::sqrt(static_cast<double>(kInputs)) +
                            at::eye(kInputs) * 0.5;
  p.train = at::relu(at::randn({kImages * kRowsPerImage, kInputs}, generator).mm(mixing));
  p.held_out = at::relu(at::randn({kImages * kRowsPerImage, kInputs}, generator).mm(mixing));
  return p;
}

WeightQuantOptions four_bits(bool per_channel) {
  WeightQuantOptions options;
  options.bits = 4;
  options.first_last_bits = 4;
  options.per_channel = per_channel;
  return options;
}

AdaRoundOptions short_run(uint64_t seed = 0) {
  AdaRoundOptions options;
  options.iterations = 2000;
  options.batch_images = 8;
  options.seed = seed;
  return options;
}

const std::vector<int64_t> kRows(kImages, kRowsPerImage);

// Mean over rows of ||W x - W~ x||^2.
double output_error(const at::Tensor& weight, const at::Tensor& quantized, const at::Tensor& x) {
  return (x.mm(weight.t()) - x.mm(quantized.t())).pow(2).sum().item<double>() / static_cast<double>(x.size(0));
}

TEST(AdaRound, HeldOutReconstructionErrorIsBelowRoundToNearest) {
  for (const bool per_channel : {false, true}) {
    const Problem p = random_problem(per_channel ? 2 : 1);
    const Layer layer = linear_layer(p.weight);
    const QuantizedWeight rtn = quantize_layer_weight(layer, four_bits(per_channel));
    c10::InferenceMode inference;  // as quant-sim calls it
    const at::Tensor x = p.train.unsqueeze(0);
    const QuantizedWeight ada = adaround_layer_weight(layer, x, x, kRows, four_bits(per_channel), short_run());
    const double rtn_error = output_error(p.weight, rtn.weight, p.held_out);
    const double ada_error = output_error(p.weight, ada.weight, p.held_out);
    EXPECT_LT(ada_error, 0.8 * rtn_error)
        << "per_channel " << per_channel << ": AdaRound " << ada_error << ", round to nearest " << rtn_error;
  }
}

TEST(AdaRound, RoundingVariablesEndAtZeroOrOne) {
  const Problem p = random_problem(3);
  const Layer layer = linear_layer(p.weight);
  const at::Tensor x = p.train.unsqueeze(0);
  AdaRoundOutcome outcome;
  AdaRoundOptions paper;  // the paper's 10000 steps at Adam's 1e-3: V moves at most about lr per step
  paper.batch_images = 8;
  adaround_layer_weight(layer, x, x, kRows, four_bits(true), paper, &outcome);
  const at::Tensor h = outcome.rounding;
  const double inside = ((h > 0) & (h < 1)).to(at::kDouble).mean().item<double>();
  EXPECT_DOUBLE_EQ(inside, outcome.undecided);
  // beta = 2 at the end makes the regulariser a parabola whose pull towards 0 and 1 outweighs the reconstruction's
  // gradient almost everywhere; a weight whose two roundings give nearly equal output error may still sit inside.
  EXPECT_LE(inside, 0.01) << "share of soft roundings at the end";
  EXPECT_GT(outcome.initial_loss, 0.0);
  EXPECT_LT(outcome.final_loss, outcome.initial_loss) << "calibration error below round to nearest's";
}

// Every weight is a grid point (k - z) * s of round to nearest's quantizer and at most one step from its value.
void expect_on_rtn_grid(const QuantizedWeight& ada, const QuantizedWeight& rtn, int64_t channels) {
  ASSERT_EQ(ada.grid.step, rtn.grid.step);
  ASSERT_EQ(ada.grid.offset, rtn.grid.offset);
  const at::Tensor a = ada.grid_weight.reshape({channels, -1});
  const at::Tensor r = rtn.grid_weight.reshape({channels, -1});
  int64_t differing = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const size_t entry = rtn.grid.step.size() == 1 ? 0 : static_cast<size_t>(c);
    const float step = rtn.grid.step[entry];
    const float zero_point = std::nearbyint(-rtn.grid.offset[entry] / step);
    const at::Tensor codes = at::round(a[c] / step) + zero_point;
    EXPECT_TRUE(at::equal((codes - zero_point) * step, a[c])) << "channel " << c << " off the grid";
    EXPECT_GE(codes.min().item<float>(), 0.0f);
    EXPECT_LE(codes.max().item<float>(), static_cast<float>(rtn.grid.levels[entry] - 1));
    const at::Tensor steps = ((a[c] - r[c]) / step).abs();
    EXPECT_LE(steps.max().item<float>(), 1.0f + 1e-5f) << "channel " << c;
    differing += (steps > 0.5).sum().item<int64_t>();
  }
  EXPECT_GT(differing, 0) << "AdaRound changed no rounding";
}

TEST(AdaRound, WeightsStayOnTheRoundToNearestGridWithinOneStep) {
  const Problem p = random_problem(4);
  const Layer layer = linear_layer(p.weight);
  const at::Tensor x = p.train.unsqueeze(0);
  for (const bool per_channel : {false, true}) {
    const QuantizedWeight rtn = quantize_layer_weight(layer, four_bits(per_channel));
    const QuantizedWeight ada = adaround_layer_weight(layer, x, x, kRows, four_bits(per_channel), short_run());
    EXPECT_EQ(ada.bits, 4);
    EXPECT_EQ(ada.params.per_channel, per_channel);
    expect_on_rtn_grid(ada, rtn, kOutputs);
    EXPECT_TRUE(at::equal(ada.weight, ada.grid_weight)) << "no correction asked for";
  }
}

TEST(AdaRound, GroupedConvAndAnAllZeroChannel) {
  // A conv with 2 groups of 4 output channels on 3 input channels x 3 x 3 each; channel 5 is all zeros (range
  // [0, 0]: round to nearest's identity quantizer), which AdaRound must leave as it is.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  at::Tensor weight = at::randn({8, 3, 3, 3}, generator) * 0.2;
  weight[5].zero_();
  Layer layer;
  layer.kind = LayerKind::kConv;
  layer.op = "aten::conv2d";
  layer.groups = 2;
  layer.original_weight = weight;
  const at::Tensor x = at::relu(at::randn({2, kImages * kRowsPerImage, 27}, generator));
  WeightQuantOptions options = four_bits(true);
  options.corrections.bias = true;
  const QuantizedWeight rtn = quantize_layer_weight(layer, four_bits(true));
  const QuantizedWeight ada = adaround_layer_weight(layer, x, x, kRows, options, short_run());
  ASSERT_TRUE(ada.grid_weight.sizes().equals(weight.sizes()));
  EXPECT_TRUE(at::equal(ada.grid_weight[5], weight[5]));
  const at::Tensor channels = at::tensor({0, 1, 2, 3, 4, 6, 7}, at::kLong);
  QuantizedWeight ada_rest = ada, rtn_rest = rtn;
  ada_rest.grid_weight = ada.grid_weight.index_select(0, channels);
  rtn_rest.grid_weight = rtn.grid_weight.index_select(0, channels);
  for (QuantizedWeight* q : {&ada_rest, &rtn_rest}) {
    q->grid.step.erase(q->grid.step.begin() + 5);
    q->grid.offset.erase(q->grid.offset.begin() + 5);
    q->grid.levels.erase(q->grid.levels.begin() + 5);
  }
  expect_on_rtn_grid(ada_rest, rtn_rest, 7);
  EXPECT_FALSE(at::equal(ada.weight, ada.grid_weight)) << "-bcw applies after the learned rounding";
  EXPECT_TRUE(at::allclose(ada.weight.mean({1, 2, 3}), weight.mean({1, 2, 3}), 1e-5, 1e-6));
}

TEST(AdaRound, IsDeterministicForASeed) {
  const Problem p = random_problem(6);
  const Layer layer = linear_layer(p.weight);
  const at::Tensor x = p.train.unsqueeze(0);
  AdaRoundOutcome a, b, c;
  adaround_layer_weight(layer, x, x, kRows, four_bits(false), short_run(7), &a);
  adaround_layer_weight(layer, x, x, kRows, four_bits(false), short_run(7), &b);
  adaround_layer_weight(layer, x, x, kRows, four_bits(false), short_run(8), &c);
  EXPECT_TRUE(at::equal(a.weight, b.weight));
  EXPECT_TRUE(at::equal(a.rounding, b.rounding));
  EXPECT_FALSE(at::equal(a.rounding, c.rounding)) << "another seed draws other batches";
}

TEST(AdaRound, RefusesInconsistentShapes) {
  const Problem p = random_problem(7);
  const Layer layer = linear_layer(p.weight);
  const at::Tensor x = p.train.unsqueeze(0);
  EXPECT_THROW(adaround_layer_weight(layer, x, x, std::vector<int64_t>(kImages, 1), four_bits(false), short_run()),
               std::invalid_argument);
  EXPECT_THROW(adaround_layer_weight(layer, x.narrow(2, 0, 8), x.narrow(2, 0, 8), kRows, four_bits(false), short_run()),
               std::invalid_argument);
}

}  // namespace
