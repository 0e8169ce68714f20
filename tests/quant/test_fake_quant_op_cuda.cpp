// The fake-quant ops on CUDA tensors against the same ops on CPU tensors, bit for bit (docs/QUANTIZATION.md, section
// 1), through LibTorch's dispatch: the path the use pass takes on a GPU (tests/cuda checks the pointer kernels alone).
// Compiled only against a CUDA LibTorch (QUANTSIM_TORCH_CUDA); skips when LibTorch sees no GPU.
#ifdef QUANTSIM_TORCH_CUDA
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <vector>

#include "fake_quant_test_support.h"
#include "quantsim/quant/fake_quant.h"

namespace quantsim {
namespace {

using testing::bitwise_equal;
using testing::ChannelRanges;
using testing::FakeQuantInputs;
using testing::QuantRange;

class FakeQuantOpCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "LibTorch sees no CUDA GPU; CUDA ops not checked";
  }
};

TEST_F(FakeQuantOpCuda, PerTensorMatchesCpu) {
  FakeQuantInputs inputs(31);
  for (int trial = 0; trial < 200; ++trial) {
    const auto shape = testing::random_shape(inputs.rng(), 0, 4, 9);
    const QuantRange r = inputs.range();
    const at::Tensor x = testing::random_tensor(inputs, shape, r);
    const at::Tensor gpu = fake_quant_per_tensor(x.to(at::kCUDA), r.lo, r.hi, r.bits);
    ASSERT_TRUE(gpu.is_cuda());
    EXPECT_TRUE(bitwise_equal(gpu.cpu(), fake_quant_per_tensor(x, r.lo, r.hi, r.bits)))
        << "trial " << trial << " range [" << r.lo << ", " << r.hi << "] bits " << r.bits << " shape " << x.sizes();
  }
}

TEST_F(FakeQuantOpCuda, PerChannelMatchesCpu) {
  FakeQuantInputs inputs(32);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t axis = trial % 2;
    const auto shape = testing::random_shape(inputs.rng(), axis + 1, 4, 9);
    const ChannelRanges r = testing::random_channel_ranges(inputs, shape[axis]);
    const at::Tensor x = testing::random_channel_tensor(inputs, shape, axis, r);
    const at::Tensor cpu = fake_quant_per_channel(x, r.lo, r.hi, r.bits, axis);
    // Ranges on the CPU (as the use pass keeps them) and on the GPU give the same result.
    EXPECT_TRUE(bitwise_equal(fake_quant_per_channel(x.to(at::kCUDA), r.lo, r.hi, r.bits, axis).cpu(), cpu))
        << "trial " << trial << " axis " << axis << " shape " << x.sizes();
    EXPECT_TRUE(bitwise_equal(
        fake_quant_per_channel(x.to(at::kCUDA), r.lo.to(at::kCUDA), r.hi.to(at::kCUDA), r.bits.to(at::kCUDA), axis)
            .cpu(),
        cpu))
        << "trial " << trial << " (ranges on the GPU)";
  }
}

// Special values only (+-0, +-inf, NaN payloads, denormals...), per tensor and per channel, in a channels-last layout.
TEST_F(FakeQuantOpCuda, SpecialValuesAndChannelsLast) {
  FakeQuantInputs inputs(33);
  for (int trial = 0; trial < 50; ++trial) {
    at::Tensor x = at::empty({2, 5, 3, 7}, at::kFloat);
    for (int64_t k = 0; k < x.numel(); ++k) x.data_ptr<float>()[k] = inputs.special();
    x = x.contiguous(at::MemoryFormat::ChannelsLast);
    const QuantRange r = inputs.range();
    EXPECT_TRUE(bitwise_equal(fake_quant_per_tensor(x.to(at::kCUDA), r.lo, r.hi, r.bits).cpu(),
                              fake_quant_per_tensor(x, r.lo, r.hi, r.bits)))
        << "trial " << trial;
    const ChannelRanges cr = testing::random_channel_ranges(inputs, 5);
    EXPECT_TRUE(bitwise_equal(fake_quant_per_channel(x.to(at::kCUDA), cr.lo, cr.hi, cr.bits, 1).cpu(),
                              fake_quant_per_channel(x, cr.lo, cr.hi, cr.bits, 1)))
        << "trial " << trial;
  }
}

}  // namespace
}  // namespace quantsim
#endif  // QUANTSIM_TORCH_CUDA
