// The quantsim fake-quant ops (CPU) against the scalar reference of docs/QUANTIZATION.md, section 1, bit for bit.
#include "quantsim/quant/fake_quant.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/affine_quantizer.h"
#include "fake_quant_test_support.h"
#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

using testing::bitwise_equal;
using testing::ChannelRanges;
using testing::FakeQuantInputs;
using testing::QuantRange;

constexpr float kInf = std::numeric_limits<float>::infinity();

at::Tensor floats(std::vector<float> values) { return at::tensor(at::ArrayRef<float>(values), at::kFloat); }

ChannelRanges channel_ranges(std::vector<float> lo, std::vector<float> hi, std::vector<int32_t> bits) {
  return {floats(lo), floats(hi), at::tensor(at::ArrayRef<int32_t>(bits), at::kInt)};
}

at::Tensor per_channel(const at::Tensor& x, const ChannelRanges& r, int64_t axis) {
  return fake_quant_per_channel(x, r.lo, r.hi, r.bits, axis);
}

// With [0, 15] at 4 bits the step is exactly 1 and the zero point 0, so x / scale == x.
TEST(FakeQuantOp, RoundsHalfToEven) {
  const at::Tensor x = floats({0.5f, 1.5f, 2.5f, 3.5f, 14.5f, 0.49999997f, 2.5000002f});
  const at::Tensor expected = floats({0.0f, 2.0f, 2.0f, 4.0f, 14.0f, 0.0f, 3.0f});
  EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor(x, 0.0f, 15.0f, 4), expected));
  EXPECT_TRUE(bitwise_equal(testing::reference_per_tensor(x, {0.0f, 15.0f, 4}), expected));
}

// [-8, 7] at 4 bits: step 1, zero point 8; negative half steps round to even too, and values clamp to [-8, 7].
TEST(FakeQuantOp, RoundsNegativeHalvesToEvenAndClamps) {
  const at::Tensor x = floats({-0.5f, -1.5f, -2.5f, -7.5f, 6.5f, 7.5f, 100.0f, -100.0f});
  const at::Tensor expected = floats({0.0f, -2.0f, -2.0f, -8.0f, 6.0f, 7.0f, 7.0f, -8.0f});
  EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor(x, -8.0f, 7.0f, 4), expected));
}

TEST(FakeQuantOp, PerTensorMatchesReferenceOnRandomInputs) {
  FakeQuantInputs inputs(1);
  for (int trial = 0; trial < 400; ++trial) {
    const auto shape = testing::random_shape(inputs.rng(), 0, 4, 9);
    const QuantRange r = inputs.range();
    const at::Tensor x = testing::random_tensor(inputs, shape, r);
    EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor(x, r.lo, r.hi, r.bits), testing::reference_per_tensor(x, r)))
        << "trial " << trial << " range [" << r.lo << ", " << r.hi << "] bits " << r.bits << " shape " << x.sizes();
  }
}

TEST(FakeQuantOp, PerChannelMatchesReferenceOnRandomInputs) {
  FakeQuantInputs inputs(2);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t axis = trial % 2;
    const auto shape = testing::random_shape(inputs.rng(), axis + 1, 4, 9);
    const ChannelRanges r = testing::random_channel_ranges(inputs, shape[axis]);
    const at::Tensor x = testing::random_channel_tensor(inputs, shape, axis, r);
    EXPECT_TRUE(bitwise_equal(per_channel(x, r, axis), testing::reference_per_channel(x, r, axis)))
        << "trial " << trial << " axis " << axis << " shape " << x.sizes();
  }
}

// Big enough to be split across threads, with chunk borders inside channel rows.
TEST(FakeQuantOp, LargeTensorsMatchReference) {
  FakeQuantInputs inputs(3);
  const ChannelRanges r = testing::random_channel_ranges(inputs, 37);
  const at::Tensor x = testing::random_channel_tensor(inputs, {5, 37, 61, 67}, 1, r);
  EXPECT_TRUE(bitwise_equal(per_channel(x, r, 1), testing::reference_per_channel(x, r, 1)));
  const QuantRange range{-1.25f, 3.0f, 5};
  const at::Tensor y = testing::random_tensor(inputs, {1 << 20}, range);
  EXPECT_TRUE(
      bitwise_equal(fake_quant_per_tensor(y, range.lo, range.hi, range.bits), testing::reference_per_tensor(y, range)));
}

TEST(FakeQuantOp, NonContiguousInputs) {
  FakeQuantInputs inputs(4);
  const QuantRange r{-2.0f, 5.0f, 3};
  const at::Tensor base = testing::random_tensor(inputs, {6, 10, 7}, r);
  const std::vector<at::Tensor> views = {base.transpose(0, 2), base.slice(1, 1, 9, 3), base.select(2, 4),
                                         base.slice(0, 0, 1).expand({4, 10, 7}), base.permute({1, 2, 0})};
  for (const at::Tensor& view : views) {
    EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor(view, r.lo, r.hi, r.bits), testing::reference_per_tensor(view, r)))
        << "view " << view.sizes() << " strides " << view.strides();
    const ChannelRanges cr = testing::random_channel_ranges(inputs, view.size(1));
    EXPECT_TRUE(bitwise_equal(per_channel(view, cr, 1), testing::reference_per_channel(view, cr, 1)))
        << "view " << view.sizes() << " strides " << view.strides();
  }
}

// Dense inputs in any dimension order come back in the same memory format; inner == 1 for axis 1 here.
TEST(FakeQuantOp, ChannelsLastInputsKeepTheirLayout) {
  FakeQuantInputs inputs(5);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t channels = 1 + trial * 3;
    const ChannelRanges r = testing::random_channel_ranges(inputs, channels);
    const at::Tensor x =
        testing::random_channel_tensor(inputs, {3, channels, 5, 4}, 1, r).contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor y = per_channel(x, r, 1);
    EXPECT_EQ(y.strides(), x.strides());
    EXPECT_TRUE(bitwise_equal(y, testing::reference_per_channel(x, r, 1))) << "channels " << channels;
    const ChannelRanges r0 = testing::random_channel_ranges(inputs, 3);
    EXPECT_TRUE(bitwise_equal(per_channel(x, r0, 0), testing::reference_per_channel(x, r0, 0)));
    const QuantRange pr = inputs.range();
    const at::Tensor z = fake_quant_per_tensor(x, pr.lo, pr.hi, pr.bits);
    EXPECT_EQ(z.strides(), x.strides());
    EXPECT_TRUE(bitwise_equal(z, testing::reference_per_tensor(x, pr)));
  }
}

TEST(FakeQuantOp, EmptyTensors) {
  const at::Tensor x = at::empty({0, 3, 4}, at::kFloat);
  EXPECT_EQ(fake_quant_per_tensor(x, -1.0f, 1.0f, 8).sizes(), x.sizes());
  const ChannelRanges r = channel_ranges({-1, -1, -1}, {1, 1, 1}, {2, 4, 8});
  EXPECT_EQ(per_channel(x, r, 1).sizes(), x.sizes());
  const ChannelRanges none = channel_ranges({}, {}, {});
  EXPECT_EQ(per_channel(x, none, 0).sizes(), x.sizes());
}

// lo' == hi' == 0 (including lo > hi on one side of zero) leaves every element as it is, NaN and inf included.
TEST(FakeQuantOp, EmptyRangeIsIdentity) {
  FakeQuantInputs inputs(6);
  const at::Tensor x = testing::random_tensor(inputs, {257}, {-3.0f, 3.0f, 4});
  EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor(x, 0.0f, 0.0f, 8), x));
  EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor(x, 3.0f, -2.0f, 8), x));
  const at::Tensor m = x.reshape({1, 257});
  const ChannelRanges dead = channel_ranges({0.0f}, {-0.0f}, {3});
  EXPECT_TRUE(bitwise_equal(per_channel(m, dead, 0), m));
}

// A constant tensor with lo == hi == c quantizes with range [0, c]: c lands on the top of the grid.
TEST(FakeQuantOp, ConstantTensor) {
  for (const float c : {3.7f, -0.3f, 1e-3f}) {
    const at::Tensor x = at::full({4, 5}, c, at::kFloat);
    for (const int bits : {1, 4, 8, 16}) {
      const at::Tensor y = fake_quant_per_tensor(x, c, c, bits);
      EXPECT_TRUE(bitwise_equal(y, testing::reference_per_tensor(x, {c, c, bits})));
      const float step = std::fabs(c) / static_cast<float>((1 << bits) - 1);
      EXPECT_LE((y - x).abs().max().item<float>(), 0.5f * step + 1e-6f * std::fabs(c)) << c << " " << bits;
    }
  }
}

// An all-negative range keeps zero in range (hi' = 0): outputs are <= 0 and within half a step of x inside it.
TEST(FakeQuantOp, AllNegativeRange) {
  const QuantRange r{-5.0f, -1.0f, 4};
  const at::Tensor x = at::rand({1000}, at::kFloat) * -5.0f;
  const at::Tensor y = fake_quant_per_tensor(x, r.lo, r.hi, r.bits);
  EXPECT_TRUE(bitwise_equal(y, testing::reference_per_tensor(x, r)));
  EXPECT_LE(y.max().item<float>(), 0.0f);
  EXPECT_LE((y - x).abs().max().item<float>(), 0.5f * 5.0f / 15.0f + 1e-6f);
}

TEST(FakeQuantOp, InfinitiesClampToRangeEnds) {
  const at::Tensor x = floats({kInf, -kInf});
  // [-1, 3] at 2 bits: step 4/3, zero point rint(0.75) = 1, ends -(4/3) and 2 * (4/3).
  const float step = 4.0f / 3.0f;
  const at::Tensor y = fake_quant_per_tensor(x, -1.0f, 3.0f, 2);
  EXPECT_EQ(y[0].item<float>(), (3.0f - 1.0f) * step);
  EXPECT_EQ(y[1].item<float>(), (0.0f - 1.0f) * step);
  const ChannelRanges r = channel_ranges({-1.0f, -4.0f}, {3.0f, 0.0f}, {2, 3});
  const at::Tensor yc = per_channel(at::stack({x, x}), r, 0);
  EXPECT_TRUE(bitwise_equal(yc[0], y));
  EXPECT_EQ(yc[1][0].item<float>(), 0.0f);
  EXPECT_EQ(yc[1][1].item<float>(), (0.0f - 7.0f) * (4.0f / 7.0f));  // [-4, 0] at 3 bits: zero point 7
}

TEST(FakeQuantOp, NaNPropagatesBitForBit) {
  const std::vector<uint32_t> nan_bits = {0x7fc00000u, 0xffc00000u, 0x7fc12345u, 0xffd00001u};
  std::vector<float> values;
  for (const uint32_t b : nan_bits) values.push_back(reference::float_from_bits(b));
  for (int k = 0; k < 13; ++k) values.push_back(reference::float_from_bits(nan_bits[k % 4]));  // vector path too
  const at::Tensor x = floats(values);
  EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor(x, -1.0f, 1.0f, 8), x));
  const at::Tensor m = x.reshape({1, -1});
  EXPECT_TRUE(bitwise_equal(per_channel(m, channel_ranges({-1.0f}, {1.0f}, {3}), 0), m));
}

TEST(FakeQuantOp, DifferentBitsPerChannel) {
  const ChannelRanges r = channel_ranges({-1, -1, -1, -1}, {1, 1, 1, 1}, {1, 2, 8, 16});
  const at::Tensor x = at::rand({4, 3000}, at::kFloat) * 2.0f - 1.0f;
  const at::Tensor y = per_channel(x, r, 0);
  EXPECT_TRUE(bitwise_equal(y, testing::reference_per_channel(x, r, 0)));
  for (int c = 0; c < 4; ++c) {  // channel c uses at most 2^bits distinct values
    const int64_t distinct = std::get<0>(at::_unique(y[c])).numel();
    EXPECT_LE(distinct, int64_t{1} << r.bits[c].item<int>()) << "channel " << c;
  }
  EXPECT_GT(std::get<0>(at::_unique(y[3])).numel(), 256);  // 16 bits really is finer than 8
}

TEST(FakeQuantOp, OutVariantsAndInPlace) {
  FakeQuantInputs inputs(9);
  const QuantRange r{-0.7f, 2.0f, 5};
  const at::Tensor x = testing::random_tensor(inputs, {3, 4, 50}, r);
  const at::Tensor expected = testing::reference_per_tensor(x, r);
  at::Tensor out = at::empty_like(x);
  EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor_out(x, r.lo, r.hi, r.bits, out), expected));
  EXPECT_TRUE(bitwise_equal(out, expected));
  at::Tensor transposed_out = at::empty({50, 4, 3}, at::kFloat).permute({2, 1, 0});
  fake_quant_per_tensor_out(x, r.lo, r.hi, r.bits, transposed_out);
  EXPECT_TRUE(bitwise_equal(transposed_out, expected));
  at::Tensor in_place = x.clone();
  fake_quant_per_tensor_out(in_place, r.lo, r.hi, r.bits, in_place);
  EXPECT_TRUE(bitwise_equal(in_place, expected));

  const ChannelRanges cr = testing::random_channel_ranges(inputs, 4);
  at::Tensor channel_out = x.clone();
  fake_quant_per_channel_out(channel_out, cr.lo, cr.hi, cr.bits, 1, channel_out);
  EXPECT_TRUE(bitwise_equal(channel_out, testing::reference_per_channel(x, cr, 1)));
}

TEST(FakeQuantOp, NegativeAxisCountsFromTheEnd) {
  FakeQuantInputs inputs(10);
  const ChannelRanges r = testing::random_channel_ranges(inputs, 6);
  const at::Tensor x = testing::random_channel_tensor(inputs, {2, 6}, 1, r);
  EXPECT_TRUE(bitwise_equal(per_channel(x, r, -1), per_channel(x, r, 1)));
}

TEST(FakeQuantOp, RejectsBadArguments) {
  const at::Tensor x = at::zeros({2, 3}, at::kFloat);
  EXPECT_THROW(fake_quant_per_tensor(x.to(at::kDouble), -1, 1, 8), UserError);
  EXPECT_THROW(fake_quant_per_tensor(x.to(at::kHalf), -1, 1, 8), UserError);
  EXPECT_THROW(fake_quant_per_tensor(x, -1, 1, 0), UserError);
  EXPECT_THROW(fake_quant_per_tensor(x, -1, 1, 17), UserError);
  EXPECT_THROW(fake_quant_per_tensor(x, std::nanf(""), 1, 8), UserError);
  EXPECT_THROW(fake_quant_per_tensor(x, -kInf, 1, 8), UserError);
  EXPECT_THROW(fake_quant_per_tensor(x, -3e38f, 3e38f, 8), UserError);  // width overflows float32

  const ChannelRanges ok = channel_ranges({-1, -1, -1}, {1, 1, 1}, {4, 4, 4});
  EXPECT_NO_THROW(per_channel(x, ok, 1));
  EXPECT_THROW(per_channel(x, ok, 0), UserError);  // 2 channels on axis 0, 3 ranges
  EXPECT_THROW(per_channel(x, ok, 2), UserError);  // no axis 2
  EXPECT_THROW(per_channel(x, ok, -3), UserError);
  EXPECT_THROW(fake_quant_per_channel(x, ok.lo, ok.hi, ok.bits.to(at::kFloat), 1), UserError);
  EXPECT_THROW(fake_quant_per_channel(x, ok.lo.to(at::kDouble), ok.hi, ok.bits, 1), UserError);
  EXPECT_THROW(fake_quant_per_channel(x, ok.lo.reshape({3, 1}), ok.hi, ok.bits, 1), UserError);
  EXPECT_THROW(per_channel(x, channel_ranges({-1, -1, -1}, {1, 1, 1}, {4, 0, 4}), 1), UserError);
  EXPECT_THROW(per_channel(x, channel_ranges({-1, -1, -1}, {1, kInf, 1}, {4, 4, 4}), 1), UserError);

  at::Tensor wrong_shape = at::empty({3, 2}, at::kFloat);
  EXPECT_THROW(fake_quant_per_tensor_out(x, -1, 1, 8, wrong_shape), UserError);
  try {
    fake_quant_per_tensor(x, -1, 1, 17);
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("bits"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

// The table overload is the lo/hi/bits one with the parameters computed beforehand: bit for bit the same result, on
// every layout the op accepts, through the plain and the out variants.
TEST(FakeQuantOp, PrecomputedChannelParamsGiveTheSameResult) {
  FakeQuantInputs inputs(11);
  const ChannelRanges r = testing::random_channel_ranges(inputs, 5);
  const at::Tensor table = fake_quant_channel_params(r.lo, r.hi, r.bits);
  EXPECT_EQ(table.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_TRUE(table.is_cpu());
  const at::Tensor x = testing::random_channel_tensor(inputs, {4, 5, 7, 9}, 1, r);
  const at::Tensor expected = per_channel(x, r, 1);
  EXPECT_TRUE(bitwise_equal(expected, testing::reference_per_channel(x, r, 1)));
  EXPECT_TRUE(bitwise_equal(fake_quant_per_channel(x, table, 1), expected));
  EXPECT_TRUE(bitwise_equal(fake_quant_per_channel(x, table, -3), expected));
  const at::Tensor channels_last = x.contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(bitwise_equal(fake_quant_per_channel(channels_last, table, 1), expected));
  EXPECT_TRUE(bitwise_equal(fake_quant_per_channel(x.transpose(2, 3), table, 1), expected.transpose(2, 3)));
  at::Tensor in_place = x.clone();
  fake_quant_per_channel_out(in_place, table, 1, in_place);
  EXPECT_TRUE(bitwise_equal(in_place, expected));
  // The table holds the grid of make_affine_quant_params: scale, zero point, largest level.
  const kernels::AffineQuantParams first = kernels::make_affine_quant_params(
      r.lo[0].item<float>(), r.hi[0].item<float>(), r.bits[0].item<int>());
  EXPECT_EQ(table[0][0].item<float>(), first.scale);
  EXPECT_EQ(table[1][0].item<float>(), first.zero_point);
  EXPECT_EQ(table[2][0].item<float>(), first.q_max);
}

TEST(FakeQuantOp, RejectsBadChannelParams) {
  const at::Tensor x = at::zeros({2, 3, 4}, at::kFloat);
  const ChannelRanges ok = channel_ranges({-1, -1, -1}, {1, 1, 1}, {4, 4, 4});
  const at::Tensor table = fake_quant_channel_params(ok.lo, ok.hi, ok.bits);
  EXPECT_NO_THROW(fake_quant_per_channel(x, table, 1));
  EXPECT_THROW(fake_quant_per_channel(x, table, 0), UserError);      // 2 channels on axis 0
  EXPECT_THROW(fake_quant_per_channel(x, table.t(), 1), UserError);  // [3, 3] but not contiguous
  EXPECT_THROW(fake_quant_per_channel(x, table[0], 1), UserError);   // one row only
  EXPECT_THROW(fake_quant_per_channel(x, table.to(at::kDouble), 1), UserError);
  EXPECT_THROW(fake_quant_per_channel(x.to(at::kDouble), table, 1), UserError);
  EXPECT_THROW(fake_quant_channel_params(ok.lo, ok.hi, ok.bits.to(at::kFloat)), UserError);
  EXPECT_THROW(fake_quant_channel_params(ok.lo[0], ok.hi, ok.bits), UserError);  // no dimension
  EXPECT_THROW(fake_quant_channel_params(ok.lo, floats({1, kInf, 1}), ok.bits), UserError);
  EXPECT_THROW(fake_quant_channel_params(ok.lo, ok.hi.narrow(0, 0, 2), ok.bits), UserError);
}

TEST(FakeQuantOp, RegisteredInTheQuantsimNamespace) {
  for (const char* name : {"quantsim::fake_quant_per_tensor", "quantsim::fake_quant_per_channel"}) {
    EXPECT_TRUE(c10::Dispatcher::singleton().findSchema({name, ""}).has_value()) << name;
    EXPECT_TRUE(c10::Dispatcher::singleton().findSchema({name, "out"}).has_value()) << name;
  }
  for (const char* overload : {"params", "params_out"}) {
    EXPECT_TRUE(c10::Dispatcher::singleton().findSchema({"quantsim::fake_quant_per_channel", overload}).has_value())
        << overload;
  }
}

}  // namespace
}  // namespace quantsim
