#pragma once
// Helpers for the fake-quant op tests: random tensors shaped for a quantizer, the scalar reference applied to whole
// tensors, and bitwise comparison (NaN equals NaN only with the same bits).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "reference/fake_quant_reference.h"
#include "reference/fake_quant_test_inputs.h"

namespace quantsim::testing {

using reference::FakeQuantInputs;
using reference::QuantRange;

struct ChannelRanges {
  at::Tensor lo;    // float32 [C]
  at::Tensor hi;    // float32 [C]
  at::Tensor bits;  // int32 [C]
};

// Contiguous layout of `sizes` around axis: [outer, channels, inner].
inline void split_around(at::IntArrayRef sizes, int64_t axis, int64_t& outer, int64_t& channels, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= sizes[d];
  for (int64_t d = axis + 1; d < static_cast<int64_t>(sizes.size()); ++d) inner *= sizes[d];
  channels = sizes[axis];
}

inline at::Tensor random_tensor(FakeQuantInputs& inputs, at::IntArrayRef sizes, const QuantRange& range) {
  at::Tensor x = at::empty(sizes, at::kFloat);
  float* data = x.data_ptr<float>();
  for (int64_t k = 0; k < x.numel(); ++k) data[k] = inputs.value(range);
  return x;
}

inline ChannelRanges random_channel_ranges(FakeQuantInputs& inputs, int64_t channels) {
  ChannelRanges r{at::empty({channels}, at::kFloat), at::empty({channels}, at::kFloat),
                  at::empty({channels}, at::kInt)};
  for (int64_t c = 0; c < channels; ++c) {
    const QuantRange q = inputs.range();
    r.lo.data_ptr<float>()[c] = q.lo;
    r.hi.data_ptr<float>()[c] = q.hi;
    r.bits.data_ptr<int32_t>()[c] = q.bits;
  }
  return r;
}

inline QuantRange channel_range(const ChannelRanges& r, int64_t c) {
  return {r.lo.data_ptr<float>()[c], r.hi.data_ptr<float>()[c], r.bits.data_ptr<int32_t>()[c]};
}

// Values drawn per element from the range of the element's channel (contiguous tensor).
inline at::Tensor random_channel_tensor(FakeQuantInputs& inputs, at::IntArrayRef sizes, int64_t axis,
                                        const ChannelRanges& ranges) {
  at::Tensor x = at::empty(sizes, at::kFloat);
  int64_t outer, channels, inner;
  split_around(sizes, axis, outer, channels, inner);
  float* data = x.data_ptr<float>();
  for (int64_t k = 0; k < x.numel(); ++k) data[k] = inputs.value(channel_range(ranges, (k / inner) % channels));
  return x;
}

inline at::Tensor reference_per_tensor(const at::Tensor& x, const QuantRange& r) {
  at::Tensor src = x.contiguous();
  at::Tensor out = at::empty_like(src, at::MemoryFormat::Contiguous);
  for (int64_t k = 0; k < src.numel(); ++k) {
    out.data_ptr<float>()[k] = reference::fake_quant(src.data_ptr<float>()[k], r.lo, r.hi, r.bits);
  }
  return out;
}

inline at::Tensor reference_per_channel(const at::Tensor& x, const ChannelRanges& r, int64_t axis) {
  at::Tensor src = x.contiguous();
  at::Tensor out = at::empty_like(src, at::MemoryFormat::Contiguous);
  int64_t outer, channels, inner;
  split_around(src.sizes(), axis, outer, channels, inner);
  reference::fake_quant_per_channel(src.data_ptr<float>(), out.data_ptr<float>(), outer, channels, inner,
                                    r.lo.data_ptr<float>(), r.hi.data_ptr<float>(), r.bits.data_ptr<int32_t>());
  return out;
}

// Same shape and the same bits in every element (compared in logical order, whatever the strides).
inline ::testing::AssertionResult bitwise_equal(const at::Tensor& actual, const at::Tensor& expected) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != " << expected.sizes();
  }
  const at::Tensor a = actual.contiguous();
  const at::Tensor e = expected.contiguous();
  const float* a_data = a.data_ptr<float>();
  const float* e_data = e.data_ptr<float>();
  for (int64_t k = 0; k < a.numel(); ++k) {
    if (reference::bits_of(a_data[k]) != reference::bits_of(e_data[k])) {
      return ::testing::AssertionFailure() << "element " << k << " of " << a.numel() << ": got " << a_data[k] << " (0x"
                                           << std::hex << reference::bits_of(a_data[k]) << "), expected " << std::dec
                                           << e_data[k] << " (0x" << std::hex << reference::bits_of(e_data[k]) << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// 0 to 4 dimensions, each 0..max_size (zero sizes rare).
inline std::vector<int64_t> random_shape(std::mt19937_64& rng, int min_dims, int max_dims, int64_t max_size) {
  const int dims = std::uniform_int_distribution<int>(min_dims, max_dims)(rng);
  std::vector<int64_t> shape(dims);
  for (auto& s : shape) {
    s = std::uniform_int_distribution<int>(0, 30)(rng) == 0 ? 0
                                                            : std::uniform_int_distribution<int64_t>(1, max_size)(rng);
  }
  return shape;
}

}  // namespace quantsim::testing
