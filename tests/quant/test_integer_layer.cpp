// One conv/linear layer in integer arithmetic: activation codes equal the fake quantizer's, weight codes give back the
// grid weight exactly, accumulate() equals a naive int64 loop (zero-point padding, stride, dilation, groups), the
// output stage equals the scalar fixed-point functions, and every refusal names the layer.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "integer_test_support.h"
#include "quantsim/core/errors.h"
#include "quantsim/quant/fake_quant.h"
#include "quantsim/quant/integer_layer.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {
namespace {

using testing::RangeSide;

QuantParams tensor_params(double lo, double hi, int bits) {
  QuantParams p;
  p.bits = bits;
  p.range = ClipRange{lo, hi};
  return p;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void expect_message_contains(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no UserError; expected one containing '" << part << "'";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST(IntegerLayer, QuantizeToCodesIsTheFakeQuantizersCode) {
  at::manual_seed(2);
  struct Case {
    double lo, hi;
    int bits;
  };
  for (const Case& c : {Case{-1.3, 2.7, 8}, Case{0.0, 6.0, 4}, Case{-5.0, -0.5, 3}, Case{0.01, 0.9, 2},
                        Case{-0.7, 0.2, 7}, Case{-3.0, 3.0, 16}}) {
    const ActivationCodes codes = activation_codes(tensor_params(c.lo, c.hi, c.bits));
    ASSERT_GE(codes.zero_point, 0);
    ASSERT_LE(codes.zero_point, codes.max_code());
    // Values across and beyond the range, exact ties k + 0.5 steps, and the infinities.
    at::Tensor x = at::cat({at::rand({20000}) * (c.hi - c.lo) * 1.6 + (c.lo - 0.3 * (c.hi - c.lo)),
                            (at::randint(-40, 300, {5000}).to(at::kFloat) + 0.5f) * codes.scale,
                            at::tensor({std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                        0.0f, -0.0f, static_cast<float>(c.lo), static_cast<float>(c.hi)})});
    const at::Tensor q = quantize_to_codes(x, codes);
    const at::Tensor fq = fake_quant_per_tensor(x, static_cast<float>(c.lo), static_cast<float>(c.hi), c.bits);
    ASSERT_EQ(q.scalar_type(), at::kInt);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int32_t k = q.data_ptr<int32_t>()[i];
      ASSERT_GE(k, 0);
      ASSERT_LE(k, codes.max_code());
      const float dequantized = static_cast<float>(k - codes.zero_point) * codes.scale;
      ASSERT_TRUE(same_bits(dequantized + 0.0f, fq.data_ptr<float>()[i] + 0.0f))
          << "x=" << x.data_ptr<float>()[i] << " q=" << k << " " << dequantized << " vs " << fq.data_ptr<float>()[i];
    }
  }
}

TEST(IntegerLayer, ActivationCodesRefusals) {
  QuantParams per_channel = tensor_params(-1, 1, 8);
  per_channel.per_channel = true;
  EXPECT_THROW(activation_codes(per_channel), UserError);
  EXPECT_THROW(activation_codes(tensor_params(-1, 1, 0)), UserError);
  EXPECT_THROW(activation_codes(tensor_params(0, 0, 8)), UserError);
  const ActivationCodes codes = activation_codes(tensor_params(-1, 1, 8));
  EXPECT_THROW(quantize_to_codes(at::tensor({0.5f, std::nanf("")}), codes), UserError);
}

Layer make_layer(LayerKind kind, const at::Tensor& weight, int64_t groups = 1, std::vector<int64_t> stride = {1, 1},
                 std::vector<int64_t> padding = {0, 0}, std::vector<int64_t> dilation = {1, 1}) {
  Layer layer;
  layer.name = kind == LayerKind::kConv ? "block.conv" : "head.fc";
  layer.kind = kind;
  layer.op = kind == LayerKind::kConv ? "aten::conv2d" : "aten::linear";
  layer.groups = groups;
  if (kind == LayerKind::kConv) {
    layer.stride = std::move(stride);
    layer.padding = std::move(padding);
    layer.dilation = std::move(dilation);
  }
  layer.original_weight = weight;
  layer.bias = at::randn({weight.size(0)}) * 0.5;
  return layer;
}

TEST(IntegerLayer, WeightCodesGiveBackTheGridWeight) {
  at::manual_seed(4);
  const at::Tensor w = testing::random_weight({6, 4, 3, 3},
                                              {RangeSide::kStraddle, RangeSide::kNonNegative, RangeSide::kNonPositive});
  const ActivationCodes input = activation_codes(tensor_params(-0.5, 3.0, 8));
  for (bool per_tensor : {true, false}) {
    const QuantizedWeight q = testing::quantize_weight_with_bits(w, {3, 8, 2, 5, 4, 6}, per_tensor);
    const Layer layer = make_layer(LayerKind::kConv, w);
    const IntegerLayer il = integer_layer(layer, q, input);
    ASSERT_EQ(il.weight_zero_points.size(), 6u);
    for (int64_t c = 0; c < 6; ++c) {
      const float scale = static_cast<float>(il.weight_scales[c]);
      const at::Tensor back = (il.weight_codes[c] - il.weight_zero_points[c]).to(at::kFloat) * scale;
      EXPECT_TRUE(at::equal(back, q.grid_weight[c])) << c;
      EXPECT_GE(il.weight_codes[c].min().item<int32_t>(), 0);
      EXPECT_LT(il.weight_codes[c].max().item<int32_t>(), 1 << il.weight_bits[c]);
      EXPECT_DOUBLE_EQ(il.accumulator_scales[c], static_cast<double>(input.scale) * il.weight_scales[c]);
      EXPECT_EQ(il.bias[c],
                static_cast<int32_t>(std::nearbyint(layer.bias[c].item<double>() / il.accumulator_scales[c])));
      if (!per_tensor) {
        // Channels entirely >= 0 have zero point 0; entirely <= 0: the largest code.
        if (c % 3 == 1) {
          EXPECT_EQ(il.weight_zero_points[c], 0) << c;
        }
        if (c % 3 == 2) {
          EXPECT_EQ(il.weight_zero_points[c], (1 << il.weight_bits[c]) - 1) << c;
        }
      }
    }
  }
}

TEST(IntegerLayer, AllZeroChannelTakesTheLargestStep) {
  at::manual_seed(5);
  at::Tensor w = at::randn({3, 2, 1, 1});
  w[1].zero_();
  const QuantizedWeight q = testing::quantize_weight_with_bits(w, {4}, false);
  ASSERT_EQ(q.grid.step[1], 0.0f);
  const IntegerLayer il = integer_layer(make_layer(LayerKind::kConv, w), q, activation_codes(tensor_params(0, 1, 8)));
  EXPECT_EQ(il.weight_zero_points[1], 0);
  EXPECT_EQ(il.weight_codes[1].abs().max().item<int32_t>(), 0);
  EXPECT_EQ(il.weight_scales[1], std::max<double>(q.grid.step[0], q.grid.step[2]));
}

TEST(IntegerLayer, RefusalsNameTheLayer) {
  at::manual_seed(6);
  const at::Tensor w = at::randn({4, 3, 3, 3});
  const ActivationCodes input = activation_codes(tensor_params(0, 4, 8));
  const QuantizedWeight q = testing::quantize_weight_with_bits(w, {8}, false);
  const Layer layer = make_layer(LayerKind::kConv, w);

  QuantizedWeight float_weight;
  float_weight.weight = w;
  expect_message_contains([&] { integer_layer(layer, float_weight, input); }, "layer 'block.conv'");

  QuantizedWeight corrected = q;  // -bcw/-vcw: the layer computes with a weight off the grid
  corrected.weight = q.grid_weight * 1.01;
  expect_message_contains([&] { integer_layer(layer, corrected, input); }, "-bcw/-vcw");

  Layer transposed = layer;
  transposed.transposed = true;
  expect_message_contains([&] { integer_layer(transposed, q, input); }, "transposed");

  Layer huge_bias = layer;
  huge_bias.bias = at::full({4}, 1e9);
  expect_message_contains([&] { integer_layer(huge_bias, q, input); }, "bias of output channel 0");

  // 16-bit codes on both sides over K = 3 * 7 * 7 products can exceed int32.
  const at::Tensor w16 = at::randn({2, 3, 7, 7});
  const QuantizedWeight q16 = testing::quantize_weight_with_bits(w16, {16}, false);
  expect_message_contains(
      [&] { integer_layer(make_layer(LayerKind::kConv, w16), q16, activation_codes(tensor_params(-1, 1, 16))); },
      "may overflow int32");
  // ... but 8-bit ones cannot.
  EXPECT_NO_THROW(integer_layer(make_layer(LayerKind::kConv, w16), testing::quantize_weight_with_bits(w16, {8}, false),
                                activation_codes(tensor_params(-1, 1, 8))));

  Layer no_geometry = layer;
  no_geometry.padding.clear();
  expect_message_contains([&] { integer_layer(no_geometry, q, input); }, "geometry");
}

struct ConvShape {
  int64_t n, c_in, h, w, c_out, kh, kw, groups;
  std::vector<int64_t> stride, padding, dilation;
};

TEST(IntegerLayer, AccumulateEqualsNaiveLoop) {
  at::manual_seed(7);
  const std::vector<ConvShape> shapes = {
      {2, 3, 9, 7, 5, 3, 3, 1, {1, 1}, {1, 1}, {1, 1}},    // plain 3x3, padding
      {1, 4, 11, 10, 6, 3, 2, 2, {2, 1}, {2, 0}, {1, 2}},  // groups, stride, dilation, asymmetric kernel
      {2, 6, 8, 8, 6, 3, 3, 6, {1, 1}, {1, 1}, {1, 1}},    // depthwise
      {1, 5, 7, 9, 12, 1, 1, 1, {2, 2}, {0, 0}, {1, 1}},   // strided 1x1
      {1, 8, 6, 6, 16, 5, 5, 4, {3, 2}, {2, 3}, {2, 1}},   // large padding, grouped
  };
  int case_index = 0;
  for (const ConvShape& s : shapes) {
    for (int in_bits : {2, 5, 8}) {
      for (int32_t zx_choice : {0, 1, 2}) {  // zero point at 0, in the middle, at the largest code
        const double lo = zx_choice == 0 ? 0.0 : (zx_choice == 1 ? -1.0 : -2.0);
        const double hi = zx_choice == 2 ? 0.0 : 1.5;
        const ActivationCodes input = activation_codes(tensor_params(lo, hi, in_bits));
        const at::Tensor w = testing::random_weight(
            {s.c_out, s.c_in / s.groups, s.kh, s.kw},
            {RangeSide::kStraddle, RangeSide::kNonNegative, RangeSide::kNonPositive});
        std::vector<int> bits;
        for (int64_t c = 0; c < s.c_out; ++c) bits.push_back(2 + static_cast<int>((c + case_index) % 7));
        const bool per_tensor = case_index % 4 == 0;
        const QuantizedWeight q = testing::quantize_weight_with_bits(w, bits, per_tensor);
        const Layer layer = make_layer(LayerKind::kConv, w, s.groups, s.stride, s.padding, s.dilation);
        const IntegerLayer il = integer_layer(layer, q, input);
        const at::Tensor codes = testing::random_codes({s.n, s.c_in, s.h, s.w}, input.max_code());
        const at::Tensor acc = accumulate(il, codes);
        ASSERT_EQ(acc.scalar_type(), at::kInt);
        const at::Tensor expected = testing::naive_accumulate(il, codes);
        ASSERT_TRUE(at::equal(acc.to(at::kLong), expected)) << "case " << case_index << " in_bits " << in_bits;
        // The same without the weights integer_layer prepared, and with the float64 form GPU inputs get.
        IntegerLayer unprepared = il;
        unprepared.accumulate_weights = {};
        ASSERT_TRUE(at::equal(accumulate(unprepared, codes), acc)) << "case " << case_index;
        IntegerLayer float64 = il;
        float64.accumulate_weights = accumulate_weights(il.weight_codes, il.weight_zero_points, il.input, false);
        ASSERT_EQ(float64.accumulate_weights.digits.size(), 1u);
        ASSERT_TRUE(at::equal(accumulate(float64, codes), acc)) << "case " << case_index;
        ++case_index;
      }
    }
  }
  for (int bits : {2, 4, 8}) {
    const ActivationCodes input = activation_codes(tensor_params(-0.3, 2.0, bits));
    const at::Tensor w = testing::random_weight({7, 33}, {RangeSide::kStraddle, RangeSide::kNonPositive});
    const IntegerLayer il = integer_layer(make_layer(LayerKind::kLinear, w),
                                          testing::quantize_weight_with_bits(w, {bits}, false), input);
    const at::Tensor codes = testing::random_codes({3, 33}, input.max_code());
    ASSERT_TRUE(at::equal(accumulate(il, codes).to(at::kLong), testing::naive_accumulate(il, codes))) << bits;
  }
}

TEST(IntegerLayer, AccumulateIsExactAtTheEdgesOfEveryEnginePath) {
  // Every product at its extreme. K * 255 * 255 close to 2^31 (float32 passes on weight digits of 1 bit), 4-bit weights
  // over K * 255 > 2^24 (the float64 path), a K whose products need two digits, and one whose need a single pass.
  struct Case {
    int64_t k;
    int weight_bits;
  };
  for (const Case c : {Case{33000, 8}, Case{66000, 4}, Case{2000, 8}, Case{60, 8}}) {
    at::Tensor w = at::full({2, c.k}, 1.0f);
    w[1].fill_(-1.0f);
    w[0][0] = 0.0f;  // channel 0 on [0, 1]: zero point 0; channel 1 on [-1, 0]: zero point 2^b - 1
    w[1][0] = 0.0f;
    Layer layer = make_layer(LayerKind::kLinear, w);
    layer.bias = at::tensor({-3.0, 2.0}) * 1e-3;
    const QuantizedWeight q = testing::quantize_weight_with_bits(w, {c.weight_bits}, false);
    const ActivationCodes input = activation_codes(tensor_params(0.0, 1.0, 8));
    const IntegerLayer il = integer_layer(layer, q, input);
    at::Tensor codes = at::full({2, c.k}, 255, at::kInt);
    codes[0][1] = 254;
    codes[1] = testing::random_codes({c.k}, 255);
    const at::Tensor acc = accumulate(il, codes);
    EXPECT_TRUE(at::equal(acc.to(at::kLong), testing::naive_accumulate(il, codes))) << c.k;
    const std::vector<at::Tensor>& digits = il.accumulate_weights.digits;
    const bool float64 = c.k * 255 > (1 << 24);
    EXPECT_EQ(digits.front().scalar_type(), float64 ? at::kDouble : at::kFloat) << c.k;
    const int64_t top_code = (int64_t{1} << c.weight_bits) - 1;
    EXPECT_EQ(digits.size() > 1, !float64 && c.k * 255 * top_code > (1 << 24)) << c.k;
    const int64_t top = (int64_t{1} << c.weight_bits) - 1;
    EXPECT_EQ(acc[0][0].item<int64_t>(), (c.k - 2) * 255 * top + 254 * top + il.bias[0]) << c.k;
  }
}

TEST(IntegerLayer, RequantizeEqualsScalarOutputStage) {
  at::manual_seed(8);
  const at::Tensor acc = at::randint(-200000, 200000, {2, 5, 3, 4}, at::kInt);
  const ActivationCodes out = activation_codes(tensor_params(-1.0, 3.0, 6));
  const std::vector<double> scales = {1e-5, 3.3e-5, 7e-6, 2e-4, 1.1e-5};
  for (auto [lo, hi] : {std::pair<int32_t, int32_t>{0, out.max_code()}, {out.zero_point, out.max_code()}, {5, 40}}) {
    const at::Tensor q = requantize_accumulators(acc, scales, out, lo, hi);
    ASSERT_EQ(q.sizes(), acc.sizes());
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 5; ++c) {
        const FixedPointMultiplier m = quantize_multiplier(scales[c] / out.scale);
        for (int64_t i = 0; i < 12; ++i) {
          const int32_t a = acc[n][c].flatten()[i].item<int32_t>();
          const int32_t expected = std::clamp(out.zero_point + multiply_by_quantized_multiplier(a, m), lo, hi);
          ASSERT_EQ(q[n][c].flatten()[i].item<int32_t>(), expected);
          // and close to the real rescaling
          const double real = std::clamp(std::nearbyint(a * scales[c] / out.scale) + out.zero_point, double(lo),
                                         double(hi));
          ASSERT_LE(std::abs(expected - real), 1.0);
        }
      }
  }
  // One scale for all channels.
  const at::Tensor one = requantize_accumulators(acc, {2e-5}, out, 0, out.max_code());
  EXPECT_EQ(one[1][3][2][1].item<int32_t>(),
            std::clamp(out.zero_point + multiply_by_quantized_multiplier(acc[1][3][2][1].item<int32_t>(),
                                                                         quantize_multiplier(2e-5 / out.scale)),
                       0, out.max_code()));
  EXPECT_THROW(requantize_accumulators(acc, {1.0}, out, 3, 2), std::invalid_argument);
  EXPECT_THROW(requantize_accumulators(acc, {1e-30}, out, 0, 1), UserError);
}

}  // namespace
}  // namespace quantsim
