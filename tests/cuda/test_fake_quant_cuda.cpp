// CPU pointer kernel vs CUDA pointer kernel: bit-identical results on random and adversarial inputs
// (docs/QUANTIZATION.md, section 1 demands it). Needs no LibTorch; skips when no GPU is present.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cpu/fake_quant_cpu.h"
#include "cuda/fake_quant_cuda.h"
#include "reference/fake_quant_test_inputs.h"

namespace quantsim::kernels {
namespace {

using reference::bits_of;
using reference::FakeQuantInputs;
using reference::QuantRange;

#define ASSERT_CUDA_OK(call)                                                         \
  do {                                                                               \
    const cudaError_t status_ = (call);                                              \
    ASSERT_EQ(status_, cudaSuccess) << #call << ": " << cudaGetErrorString(status_); \
  } while (0)

// A device buffer of floats, freed on scope exit.
class DeviceFloats {
 public:
  explicit DeviceFloats(size_t n) : n_(n) {
    if (n_ > 0 && cudaMalloc(reinterpret_cast<void**>(&data_), n_ * sizeof(float)) != cudaSuccess) data_ = nullptr;
  }
  ~DeviceFloats() { cudaFree(data_); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;

  float* get() const { return data_; }
  bool ok() const { return n_ == 0 || data_ != nullptr; }
  cudaError_t upload(const std::vector<float>& host) {
    return cudaMemcpy(data_, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice);
  }
  cudaError_t download(std::vector<float>& host) const {
    return cudaMemcpy(host.data(), data_, host.size() * sizeof(float), cudaMemcpyDeviceToHost);
  }

 private:
  size_t n_;
  float* data_ = nullptr;
};

class FakeQuantCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess || devices == 0) {
      GTEST_SKIP() << "no CUDA GPU here (" << (status != cudaSuccess ? cudaGetErrorString(status) : "0 devices")
                   << "); CPU/CUDA bit-identity not checked";
    }
  }
};

int64_t first_mismatch(const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t k = 0; k < a.size(); ++k) {
    if (bits_of(a[k]) != bits_of(b[k])) return static_cast<int64_t>(k);
  }
  return -1;
}

std::string describe(const std::vector<float>& x, const std::vector<float>& cpu, const std::vector<float>& gpu,
                     int64_t k) {
  if (k < 0) return "";
  return "element " + std::to_string(k) + ": x=" + std::to_string(x[k]) + " cpu=" + std::to_string(cpu[k]) + " (bits " +
         std::to_string(bits_of(cpu[k])) + ") gpu=" + std::to_string(gpu[k]) + " (bits " +
         std::to_string(bits_of(gpu[k])) + ")";
}

TEST_F(FakeQuantCuda, PerTensorMatchesCpu) {
  FakeQuantInputs inputs(21);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t n = trial == 0 ? 0 : 1 + static_cast<int64_t>(inputs.rng()() % (trial < 290 ? 5000 : 3000000));
    const QuantRange r = inputs.range();
    const AffineQuantParams p = make_affine_quant_params(r.lo, r.hi, r.bits);
    std::vector<float> x(n), cpu(n), gpu(n);
    for (auto& v : x) v = inputs.value(r);
    fake_quant_per_tensor_cpu(x.data(), cpu.data(), 0, n, p);

    DeviceFloats dx(n), dout(n);
    ASSERT_TRUE(dx.ok() && dout.ok());
    ASSERT_CUDA_OK(dx.upload(x));
    ASSERT_CUDA_OK(fake_quant_per_tensor_cuda(dx.get(), dout.get(), n, p, nullptr));
    ASSERT_CUDA_OK(cudaDeviceSynchronize());
    ASSERT_CUDA_OK(dout.download(gpu));
    const int64_t k = first_mismatch(cpu, gpu);
    EXPECT_EQ(k, -1) << "trial " << trial << " range [" << r.lo << ", " << r.hi << "] bits " << r.bits << " "
                     << describe(x, cpu, gpu, k);
  }
}

TEST_F(FakeQuantCuda, PerChannelMatchesCpu) {
  FakeQuantInputs inputs(22);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t inner = trial % 3 == 0 ? 1 : 1 + static_cast<int64_t>(inputs.rng()() % 300);
    const int64_t channels = 1 + static_cast<int64_t>(inputs.rng()() % 70);
    const int64_t outer = 1 + static_cast<int64_t>(inputs.rng()() % 6);
    const int64_t n = outer * channels * inner;
    std::vector<float> scale(channels), zero_point(channels), q_max(channels), x(n), cpu(n), gpu(n);
    std::vector<QuantRange> ranges(channels);
    for (int64_t c = 0; c < channels; ++c) {
      ranges[c] = inputs.range();
      const AffineQuantParams p = make_affine_quant_params(ranges[c].lo, ranges[c].hi, ranges[c].bits);
      scale[c] = p.scale;
      zero_point[c] = p.zero_point;
      q_max[c] = p.q_max;
    }
    for (int64_t k = 0; k < n; ++k) x[k] = inputs.value(ranges[(k / inner) % channels]);
    fake_quant_per_channel_cpu(x.data(), cpu.data(), 0, n, channels, inner,
                               ChannelQuantParams{scale.data(), zero_point.data(), q_max.data()});

    DeviceFloats dx(n), dout(n), dscale(channels), dzp(channels), dqmax(channels);
    ASSERT_TRUE(dx.ok() && dout.ok() && dscale.ok() && dzp.ok() && dqmax.ok());
    ASSERT_CUDA_OK(dx.upload(x));
    ASSERT_CUDA_OK(dscale.upload(scale));
    ASSERT_CUDA_OK(dzp.upload(zero_point));
    ASSERT_CUDA_OK(dqmax.upload(q_max));
    ASSERT_CUDA_OK(fake_quant_per_channel_cuda(dx.get(), dout.get(), n, channels, inner,
                                               ChannelQuantParams{dscale.get(), dzp.get(), dqmax.get()}, nullptr));
    ASSERT_CUDA_OK(cudaDeviceSynchronize());
    ASSERT_CUDA_OK(dout.download(gpu));
    const int64_t k = first_mismatch(cpu, gpu);
    EXPECT_EQ(k, -1) << "trial " << trial << " [" << outer << ", " << channels << ", " << inner << "] "
                     << describe(x, cpu, gpu, k);
  }
}

// Every special value against every regime of range, in place (x == out).
TEST_F(FakeQuantCuda, SpecialValuesInPlace) {
  FakeQuantInputs inputs(23);
  for (int trial = 0; trial < 100; ++trial) {
    const QuantRange r = inputs.range();
    const AffineQuantParams p = make_affine_quant_params(r.lo, r.hi, r.bits);
    std::vector<float> x(257), cpu(257), gpu(257);
    for (auto& v : x) v = inputs.special();
    fake_quant_per_tensor_cpu(x.data(), cpu.data(), 0, 257, p);
    DeviceFloats dx(257);
    ASSERT_TRUE(dx.ok());
    ASSERT_CUDA_OK(dx.upload(x));
    ASSERT_CUDA_OK(fake_quant_per_tensor_cuda(dx.get(), dx.get(), 257, p, nullptr));
    ASSERT_CUDA_OK(cudaDeviceSynchronize());
    ASSERT_CUDA_OK(dx.download(gpu));
    const int64_t k = first_mismatch(cpu, gpu);
    EXPECT_EQ(k, -1) << "trial " << trial << " " << describe(x, cpu, gpu, k);
  }
}

}  // namespace
}  // namespace quantsim::kernels
