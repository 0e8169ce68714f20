// Fake-quant kernel bandwidth on the GPU against a device-to-device copy (the ceiling of a read-one-write-one pass), in
// one run. Plain CUDA runtime + the pointer kernels (kernels/cuda/fake_quant_cuda.h): no LibTorch, so it builds
// wherever nvcc does. Timed with CUDA events; each figure is the median over repetitions taken in round-robin order.
// GB/s count the bytes read plus the bytes written (2 x buffer size). Prints one line per contender and the ratios,
// then one machine-readable line "bandwidth_gbs copy=X per_tensor=Y per_channel=Z" for scripts/gpu/check.sh. Exit
// status: 0 measured, 3 no GPU (one line says so), 1 a CUDA error.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "common/affine_quantizer.h"
#include "cuda/fake_quant_cuda.h"

namespace {

using quantsim::kernels::AffineQuantParams;
using quantsim::kernels::ChannelQuantParams;

constexpr int kWarmup = 3;
constexpr int kRepetitions = 15;
constexpr int kBits = 4;
// [64, 256, 64, 64] float32: 268 MB, far larger than any L2, as an activation batch of a large model.
constexpr int64_t kOuter = 64, kChannels = 256, kInner = 64 * 64;
constexpr int64_t kElements = kOuter * kChannels * kInner;

bool check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) std::fprintf(stderr, "bench_fake_quant_cuda: %s: %s\n", what, cudaGetErrorString(status));
  return status == cudaSuccess;
}

struct Contender {
  std::string name;
  std::function<cudaError_t()> run;
  std::vector<float> milliseconds;
};

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double gigabytes_per_second(const Contender& c) {
  return 2.0 * static_cast<double>(kElements) * sizeof(float) / (median(c.milliseconds) * 1e-3) / 1e9;
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("bench_fake_quant_cuda: no CUDA GPU here: skipped\n");
    return 3;
  }
  cudaDeviceProp prop{};
  if (!check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties")) return 1;

  const size_t bytes = static_cast<size_t>(kElements) * sizeof(float);
  float *x = nullptr, *out = nullptr, *scale = nullptr, *zero_point = nullptr, *q_max = nullptr;
  if (!check(cudaMalloc(reinterpret_cast<void**>(&x), bytes), "cudaMalloc") ||
      !check(cudaMalloc(reinterpret_cast<void**>(&out), bytes), "cudaMalloc") ||
      !check(cudaMalloc(reinterpret_cast<void**>(&scale), kChannels * sizeof(float)), "cudaMalloc") ||
      !check(cudaMalloc(reinterpret_cast<void**>(&zero_point), kChannels * sizeof(float)), "cudaMalloc") ||
      !check(cudaMalloc(reinterpret_cast<void**>(&q_max), kChannels * sizeof(float)), "cudaMalloc")) {
    return 1;
  }
  // Inputs: a deterministic spread over [-4, 4) (the values do not change the work a pass does).
  std::vector<float> host(kElements);
  uint32_t state = 12345u;
  for (float& v : host) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 8.0f - 4.0f;
  }
  std::vector<float> host_scale(kChannels), host_zero_point(kChannels), host_q_max(kChannels);
  for (int64_t c = 0; c < kChannels; ++c) {
    const AffineQuantParams p = quantsim::kernels::make_affine_quant_params(-4.0f + 0.01f * static_cast<float>(c), 4.0f,
                                                                            kBits);
    host_scale[c] = p.scale;
    host_zero_point[c] = p.zero_point;
    host_q_max[c] = p.q_max;
  }
  if (!check(cudaMemcpy(x, host.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy") ||
      !check(cudaMemcpy(scale, host_scale.data(), kChannels * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy") ||
      !check(cudaMemcpy(zero_point, host_zero_point.data(), kChannels * sizeof(float), cudaMemcpyHostToDevice),
             "cudaMemcpy") ||
      !check(cudaMemcpy(q_max, host_q_max.data(), kChannels * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy")) {
    return 1;
  }
  const AffineQuantParams per_tensor = quantsim::kernels::make_affine_quant_params(-4.0f, 4.0f, kBits);
  const ChannelQuantParams per_channel{scale, zero_point, q_max};

  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  if (!check(cudaStreamCreate(&stream), "cudaStreamCreate") || !check(cudaEventCreate(&start), "cudaEventCreate") ||
      !check(cudaEventCreate(&stop), "cudaEventCreate")) {
    return 1;
  }
  std::vector<Contender> contenders = {
      {"device-to-device copy (cudaMemcpyAsync)",
       [&] { return cudaMemcpyAsync(out, x, bytes, cudaMemcpyDeviceToDevice, stream); },
       {}},
      {"fake_quant_per_tensor_cuda",
       [&] { return quantsim::kernels::fake_quant_per_tensor_cuda(x, out, kElements, per_tensor, stream); },
       {}},
      {"fake_quant_per_channel_cuda (axis 1)",
       [&] {
         return quantsim::kernels::fake_quant_per_channel_cuda(x, out, kElements, kChannels, kInner, per_channel,
                                                               stream);
       },
       {}},
  };
  for (int rep = 0; rep < kWarmup + kRepetitions; ++rep) {
    for (Contender& c : contenders) {
      if (!check(cudaEventRecord(start, stream), "cudaEventRecord") || !check(c.run(), c.name.c_str()) ||
          !check(cudaEventRecord(stop, stream), "cudaEventRecord") ||
          !check(cudaEventSynchronize(stop), "cudaEventSynchronize")) {
        return 1;
      }
      float ms = 0.0f;
      if (!check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime")) return 1;
      if (rep >= kWarmup) c.milliseconds.push_back(ms);
    }
  }

  std::printf("GPU %s (%d SMs): buffer [%lld, %lld, %lld] float32 (%.0f MB), %d bits, median of %d\n", prop.name,
              prop.multiProcessorCount, static_cast<long long>(kOuter), static_cast<long long>(kChannels),
              static_cast<long long>(kInner), static_cast<double>(bytes) / 1e6, kBits, kRepetitions);
  for (const Contender& c : contenders) {
    const auto [fastest, slowest] = std::minmax_element(c.milliseconds.begin(), c.milliseconds.end());
    std::printf("  %-40s median %7.3f ms (min %7.3f, max %7.3f)  %8.1f GB/s  %.2fx copy\n", c.name.c_str(),
                median(c.milliseconds), *fastest, *slowest, gigabytes_per_second(c),
                gigabytes_per_second(c) / gigabytes_per_second(contenders[0]));
  }
  std::printf("bandwidth_gbs copy=%.1f per_tensor=%.1f per_channel=%.1f\n", gigabytes_per_second(contenders[0]),
              gigabytes_per_second(contenders[1]), gigabytes_per_second(contenders[2]));
  cudaFree(x);
  cudaFree(out);
  cudaFree(scale);
  cudaFree(zero_point);
  cudaFree(q_max);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
  return 0;
}
