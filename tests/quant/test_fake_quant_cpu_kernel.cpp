// The CPU pointer kernels (kernels/cpu) on their own: any split of the element range, any alignment, the streaming
// path for large calls, and every instruction-set variant, all bit-identical to the scalar reference.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "cpu/fake_quant_cpu.h"
#include "cpu/fake_quant_cpu_spans.h"
#include "reference/fake_quant_reference.h"
#include "reference/fake_quant_test_inputs.h"

namespace quantsim::kernels {
namespace {

using reference::bits_of;
using reference::FakeQuantInputs;
using reference::QuantRange;

struct ChannelSetup {
  std::vector<float> lo, hi;
  std::vector<int32_t> bits;
  std::vector<float> scale, zero_point, q_max;

  ChannelQuantParams view() const { return {scale.data(), zero_point.data(), q_max.data()}; }
};

ChannelSetup random_channels(FakeQuantInputs& inputs, int64_t channels) {
  ChannelSetup s;
  for (int64_t c = 0; c < channels; ++c) {
    const QuantRange r = inputs.range();
    const AffineQuantParams p = make_affine_quant_params(r.lo, r.hi, r.bits);
    s.lo.push_back(r.lo);
    s.hi.push_back(r.hi);
    s.bits.push_back(r.bits);
    s.scale.push_back(p.scale);
    s.zero_point.push_back(p.zero_point);
    s.q_max.push_back(p.q_max);
  }
  return s;
}

// Index of the first element whose bits differ, or -1.
int64_t first_mismatch(const float* a, const float* b, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    if (bits_of(a[k]) != bits_of(b[k])) return k;
  }
  return -1;
}

TEST(FakeQuantCpuKernel, ReportsItsInstructionSet) {
  const std::string isa = fake_quant_cpu_isa();
  EXPECT_TRUE(isa == "avx2" || isa == "scalar") << isa;
  __builtin_cpu_init();
  EXPECT_EQ(isa == "avx2", __builtin_cpu_supports("avx2") != 0);
}

// The per-channel kernel covers [outer, C, inner] in arbitrary pieces; rows and channel runs cut anywhere.
TEST(FakeQuantCpuKernel, AnySplitOfTheRangeGivesTheReference) {
  FakeQuantInputs inputs(11);
  for (const int64_t inner : {1, 2, 7, 8, 9, 33}) {
    const int64_t channels = 1 + static_cast<int64_t>(inputs.rng()() % 40);
    const int64_t outer = 1 + static_cast<int64_t>(inputs.rng()() % 5);
    const ChannelSetup s = random_channels(inputs, channels);
    const int64_t n = outer * channels * inner;
    std::vector<float> x(n), expected(n), actual(n);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t c = (k / inner) % channels;
      x[k] = inputs.value({s.lo[c], s.hi[c], s.bits[c]});
    }
    reference::fake_quant_per_channel(x.data(), expected.data(), outer, channels, inner, s.lo.data(), s.hi.data(),
                                      s.bits.data());
    int64_t begin = 0;
    while (begin < n) {
      const int64_t end = std::min<int64_t>(n, begin + 1 + static_cast<int64_t>(inputs.rng()() % 50));
      fake_quant_per_channel_cpu(x.data(), actual.data(), begin, end, channels, inner, s.view());
      begin = end;
    }
    EXPECT_EQ(first_mismatch(actual.data(), expected.data(), n), -1) << "inner " << inner << " channels " << channels;
  }
}

// Above 4 Mi elements a call uses non-temporal stores, which need an aligned body: try every misalignment.
TEST(FakeQuantCpuKernel, LargeCallsAtEveryAlignment) {
  FakeQuantInputs inputs(12);
  const QuantRange r{-3.0f, 1.5f, 6};
  const int64_t n = (int64_t{1} << 22) + 13;
  std::vector<float> x(n + 8), expected(n + 8), out(n + 8);
  for (auto& v : x) v = inputs.value(r);
  for (int64_t k = 0; k < n + 8; ++k) expected[k] = reference::fake_quant(x[k], r.lo, r.hi, r.bits);
  const AffineQuantParams p = make_affine_quant_params(r.lo, r.hi, r.bits);
  for (int64_t shift = 0; shift < 8; shift += 3) {
    std::fill(out.begin(), out.end(), 0.0f);
    fake_quant_per_tensor_cpu(x.data() + shift, out.data() + (7 - shift), 0, n, p);
    EXPECT_EQ(first_mismatch(out.data() + (7 - shift), expected.data() + shift, n), -1) << "shift " << shift;
  }
}

// Every instruction-set variant this CPU can run, on both span shapes, against the reference.
TEST(FakeQuantCpuKernel, EveryInstructionSetMatchesTheReference) {
  std::vector<SpanKernels> variants = {scalar_span_kernels()};
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) variants.push_back(avx2_span_kernels());
  FakeQuantInputs inputs(13);
  for (const SpanKernels& k : variants) {
    for (int trial = 0; trial < 200; ++trial) {
      const int64_t n = static_cast<int64_t>(inputs.rng()() % 70);
      const QuantRange r = inputs.range();
      std::vector<float> x(n), expected(n), actual(n);
      for (int64_t j = 0; j < n; ++j) x[j] = inputs.value(r);
      for (int64_t j = 0; j < n; ++j) expected[j] = reference::fake_quant(x[j], r.lo, r.hi, r.bits);
      k.uniform(x.data(), actual.data(), n, make_affine_quant_params(r.lo, r.hi, r.bits), trial % 2 == 0);
      k.finish_streaming();
      EXPECT_EQ(first_mismatch(actual.data(), expected.data(), n), -1) << k.isa << " uniform trial " << trial;

      const ChannelSetup s = random_channels(inputs, n + 3);
      for (int64_t j = 0; j < n; ++j) x[j] = inputs.value({s.lo[j + 3], s.hi[j + 3], s.bits[j + 3]});
      for (int64_t j = 0; j < n; ++j)
        expected[j] = reference::fake_quant(x[j], s.lo[j + 3], s.hi[j + 3], s.bits[j + 3]);
      k.channel_run(x.data(), actual.data(), n, s.view(), 3, false);
      EXPECT_EQ(first_mismatch(actual.data(), expected.data(), n), -1) << k.isa << " channel run trial " << trial;
    }
  }
}

}  // namespace
}  // namespace quantsim::kernels
