// Quantized weights as packed integer codes: exact round trips of the affine quantizer's grid at every bit width,
// per tensor and per channel, with bit allocation, a GPFQ-style grid of 2^b + 1 levels, and refusals.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <stdexcept>

#include "quantsim/core/bit_packing.h"
#include "quantsim/quant/weight_packing.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {
namespace {

Layer conv_layer(int64_t out_channels, uint64_t seed) {
  at::manual_seed(seed);
  Layer layer;
  layer.name = "conv";
  // Channels of different scales and offsets, so that per-channel grids differ.
  layer.original_weight = at::randn({out_channels, 3, 3, 3}) *
                              at::linspace(0.01, 1.5, out_channels).reshape({out_channels, 1, 1, 1}) +
                          at::linspace(-0.2, 0.3, out_channels).reshape({out_channels, 1, 1, 1});
  return layer;
}

WeightQuantOptions options(int bits, bool per_channel) {
  WeightQuantOptions o;
  o.bits = bits;
  o.first_last_bits = bits;
  o.per_channel = per_channel;
  return o;
}

void expect_exact_round_trip(const QuantizedWeight& q, const std::string& what) {
  const PackedWeight packed = pack_weight(q.grid_weight, q.grid);
  EXPECT_TRUE(at::equal(unpack_weight(packed), q.grid_weight)) << what;
  uint64_t code_bits = 0;
  const int64_t per_entry = q.grid_weight.numel() / static_cast<int64_t>(packed.code_bits.size());
  for (int b : packed.code_bits) code_bits += static_cast<uint64_t>(b * per_entry);
  EXPECT_EQ(packed.codes.size(), (code_bits + 7) / 8) << what;
}

TEST(WeightPacking, SpecQuantizerGridRoundTripsExactlyAtEveryWidth) {
  for (int bits = 1; bits <= 8; ++bits) {
    for (bool per_channel : {false, true}) {
      const Layer layer = conv_layer(7, static_cast<uint64_t>(bits));  // 7 * 27 elements: not a multiple of 8
      const QuantizedWeight q = quantize_layer_weight(layer, options(bits, per_channel));
      ASSERT_EQ(q.grid.step.size(), per_channel ? 7u : 1u);
      EXPECT_FALSE(at::equal(q.grid_weight, layer.original_weight));  // really quantized
      const std::string what = std::to_string(bits) + (per_channel ? " bits per channel" : " bits per tensor");
      expect_exact_round_trip(q, what);
      const PackedWeight packed = pack_weight(q.grid_weight, q.grid);
      for (int b : packed.code_bits) EXPECT_EQ(b, bits) << what;
    }
  }
}

TEST(WeightPacking, BitAllocatedChannelsUseTheirOwnWidths) {
  WeightQuantOptions o = options(4, true);
  o.bit_allocation.enabled = true;
  const QuantizedWeight q = quantize_layer_weight(conv_layer(16, 3), o);
  const PackedWeight packed = pack_weight(q.grid_weight, q.grid);
  EXPECT_NE(*std::min_element(packed.code_bits.begin(), packed.code_bits.end()),
            *std::max_element(packed.code_bits.begin(), packed.code_bits.end()));
  for (size_t c = 0; c < packed.code_bits.size(); ++c) EXPECT_EQ(packed.code_bits[c], q.params.channel_bits[c]);
  expect_exact_round_trip(q, "bit allocation");
}

TEST(WeightPacking, GridWithMoreLevelsThanBitsTakesOneBitMore) {
  // A GPFQ-style grid: 2^b + 1 levels -2^(b-1) d .. 2^(b-1) d, so codes need b + 1 bits.
  const int b = 3;
  const float delta = 0.125f;
  WeightGrid grid{{-4 * delta}, {delta}, {(1 << b) + 1}};
  at::manual_seed(11);
  const at::Tensor levels = at::arange(-4, 5, at::TensorOptions().dtype(at::kFloat)) * delta;
  const at::Tensor weight = levels.index({at::randint(0, 9, {5, 11}, at::TensorOptions().dtype(at::kLong))});
  const PackedWeight packed = pack_weight(weight, grid);
  EXPECT_EQ(packed.code_bits, std::vector<int>{b + 1});
  EXPECT_EQ(packed.zero_point, std::vector<int64_t>{4});
  EXPECT_TRUE(at::equal(unpack_weight(packed), weight));
}

TEST(WeightPacking, AllZeroChannelWithAnEmptyRangePacks) {
  Layer layer = conv_layer(3, 1);
  layer.original_weight[1].zero_();  // range [0, 0]: the quantizer leaves it as it is
  const QuantizedWeight q = quantize_layer_weight(layer, options(4, true));
  EXPECT_EQ(q.grid.step[1], 0.0f);
  expect_exact_round_trip(q, "zero channel");
}

TEST(WeightPacking, RefusesWeightsOffTheGridAndGridsOfTheWrongSize) {
  const QuantizedWeight q = quantize_layer_weight(conv_layer(4, 5), options(4, true));
  EXPECT_THROW(pack_weight(q.grid_weight + 1e-3, q.grid), std::invalid_argument);
  WeightGrid wrong = q.grid;
  wrong.step.pop_back();
  EXPECT_THROW(pack_weight(q.grid_weight, wrong), std::invalid_argument);
}

TEST(WeightPacking, CodeWidthForLevels) {
  EXPECT_EQ(code_bits_for_levels(1), 1);
  EXPECT_EQ(code_bits_for_levels(2), 1);
  EXPECT_EQ(code_bits_for_levels(16), 4);
  EXPECT_EQ(code_bits_for_levels(17), 5);
  EXPECT_EQ(code_bits_for_levels(256), 8);
}

}  // namespace
}  // namespace quantsim
