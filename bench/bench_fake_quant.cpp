// Fake-quant throughput, side by side in one run: quant-sim's ops against ATen's fake_quantize_*_affine and against a
// plain copy (the memory-bandwidth ceiling for a read-one-write-one pass). Medians over repetitions taken in
// round-robin order, so that noise from a shared machine hits every contender alike. Contenders that allocate their
// result pay for fresh pages (first-touch faults) as real use does; "_out" ones write into a preallocated tensor.
// A last section sets the per-channel op with a quantizer table computed once against the one taking lo/hi/bits.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_support.h"
#include "cpu/fake_quant_cpu.h"
#include "quantsim/app/runtime_info.h"
#include "quantsim/quant/fake_quant.h"

#ifdef QUANTSIM_TORCH_CUDA
#include <torch/cuda.h>
#endif

using quantsim::bench_support::median;

namespace {

constexpr int kWarmup = 3;
constexpr int kRepetitions = 9;
constexpr int kBits = 4;

struct Contender {
  std::string name;
  std::function<void()> run;
  std::vector<double> seconds;
};

// Runs every contender kWarmup + kRepetitions times, round robin; `sync` waits for queued device work.
void measure(std::vector<Contender>& contenders, const std::function<void()>& sync) {
  for (int rep = 0; rep < kWarmup + kRepetitions; ++rep) {
    for (Contender& c : contenders) {
      sync();
      const auto start = std::chrono::steady_clock::now();
      c.run();
      sync();
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      if (rep >= kWarmup) c.seconds.push_back(elapsed.count());
    }
  }
}

// GB/s counting the bytes read plus the bytes written (2 x tensor size).
double gigabytes_per_second(const Contender& c, double tensor_bytes) {
  return 2.0 * tensor_bytes / median(c.seconds) / 1e9;
}

void print_table(const std::vector<Contender>& contenders, double tensor_bytes) {
  for (const Contender& c : contenders) {
    const auto [fastest, slowest] = std::minmax_element(c.seconds.begin(), c.seconds.end());
    std::printf("  %-50s median %8.2f ms (min %7.2f, max %7.2f)  %6.2f GB/s\n", c.name.c_str(), median(c.seconds) * 1e3,
                *fastest * 1e3, *slowest * 1e3, gigabytes_per_second(c, tensor_bytes));
  }
}

void print_ratio(const char* label, const Contender& ours, const Contender& theirs, double tensor_bytes,
                 double target) {
  const double ratio = gigabytes_per_second(ours, tensor_bytes) / gigabytes_per_second(theirs, tensor_bytes);
  std::printf("  %-50s %6.2fx  (target >= %.2fx: %s)\n", label, ratio, target, ratio >= target ? "met" : "NOT met");
}

// Per-channel parameters of x along axis 1 as both quant-sim (lo, hi, bits) and ATen (scale, zero point) want them.
struct ChannelRanges {
  at::Tensor lo, hi, bits, scale, zero_point;
};

ChannelRanges channel_ranges(const at::Tensor& x) {
  ChannelRanges r;
  r.lo = x.amin({0, 2, 3}).clamp_max(0.0).contiguous();
  r.hi = x.amax({0, 2, 3}).clamp_min(0.0).contiguous();
  r.bits = at::full({x.size(1)}, kBits, at::kInt);
  const double q_max = (1 << kBits) - 1;
  r.scale = (r.hi - r.lo) / q_max;
  r.zero_point = at::round(-r.lo / r.scale).to(at::kInt);
  return r;
}

void cpu_section() {
  const at::Tensor x = at::randn({64, 256, 56, 56}, at::kFloat);
  const double bytes = static_cast<double>(x.numel()) * sizeof(float);
  at::Tensor dst = at::empty_like(x);
  at::Tensor out = at::empty_like(x);
  dst.fill_(0.0f);  // touch the pages once so that no contender pays their first-use faults
  out.fill_(0.0f);
  const ChannelRanges r = channel_ranges(x);
  const float lo = x.min().item<float>();
  const float hi = x.max().item<float>();
  const double scale = (hi - lo) / ((1 << kBits) - 1);
  const auto zero_point = static_cast<int64_t>(std::nearbyint(-lo / scale));

  std::printf("CPU: tensor 64x256x56x56 float32 (%.0f MB), %d bits, %d threads, kernel ISA %s\n", bytes / 1e6, kBits,
              at::get_num_threads(), quantsim::kernels::fake_quant_cpu_isa());
  std::vector<Contender> contenders = {
      {"copy_ into preallocated", [&] { dst.copy_(x); }, {}},
      {"quantsim per-channel (allocates)", [&] { quantsim::fake_quant_per_channel(x, r.lo, r.hi, r.bits, 1); }, {}},
      {"quantsim per-channel _out (preallocated)",
       [&] { quantsim::fake_quant_per_channel_out(x, r.lo, r.hi, r.bits, 1, out); },
       {}},
      {"ATen fake_quantize_per_channel_affine (allocates)",
       [&] { at::fake_quantize_per_channel_affine(x, r.scale, r.zero_point, 1, 0, (1 << kBits) - 1); },
       {}},
      {"quantsim per-tensor (allocates)", [&] { quantsim::fake_quant_per_tensor(x, lo, hi, kBits); }, {}},
      {"quantsim per-tensor _out (preallocated)",
       [&] { quantsim::fake_quant_per_tensor_out(x, lo, hi, kBits, out); },
       {}},
      {"ATen fake_quantize_per_tensor_affine (allocates)",
       [&] { at::fake_quantize_per_tensor_affine(x, scale, zero_point, 0, (1 << kBits) - 1); },
       {}},
  };
  measure(contenders, [] {});
  print_table(contenders, bytes);
  std::printf("ratios (throughput):\n");
  print_ratio("per-channel: quantsim / ATen (both allocate)", contenders[1], contenders[3], bytes, 3.0);
  print_ratio("per-channel: quantsim _out / copy_", contenders[2], contenders[0], bytes, 0.7);
  print_ratio("per-tensor:  quantsim / ATen (both allocate)", contenders[4], contenders[6], bytes, 3.0);
  print_ratio("per-tensor:  quantsim _out / copy_", contenders[5], contenders[0], bytes, 0.7);

  // Same quantizer, different arithmetic (ATen multiplies by 1/scale): results may differ by one step, no more.
  const at::Tensor ours = quantsim::fake_quant_per_channel(x, r.lo, r.hi, r.bits, 1);
  const at::Tensor theirs = at::fake_quantize_per_channel_affine(x, r.scale, r.zero_point, 1, 0, (1 << kBits) - 1);
  std::printf("sanity: per-channel results differ from ATen's in %.4f%% of elements\n",
              100.0 * (ours != theirs).sum().item<double>() / static_cast<double>(x.numel()));
}

// The per-site cost that a table computed once removes: on a small activation (a late ResNet stage at batch 32) the
// lo/hi/bits op recomputes the per-channel quantizer parameters every call; the params overload takes them ready.
void channel_params_section() {
  const at::Tensor x = at::randn({32, 64, 8, 8}, at::kFloat);
  const double bytes = static_cast<double>(x.numel()) * sizeof(float);
  at::Tensor out = at::empty_like(x);
  out.fill_(0.0f);
  const ChannelRanges r = channel_ranges(x);
  const at::Tensor table = quantsim::fake_quant_channel_params(r.lo, r.hi, r.bits);
  constexpr int kCalls = 100;
  std::printf("CPU: small tensor 32x64x8x8 float32 (%.2f MB), %d calls per repetition\n", bytes / 1e6, kCalls);
  std::vector<Contender> contenders = {
      {"quantsim per-channel _out, lo/hi/bits each call",
       [&] {
         for (int i = 0; i < kCalls; ++i) quantsim::fake_quant_per_channel_out(x, r.lo, r.hi, r.bits, 1, out);
       },
       {}},
      {"quantsim per-channel _out, table computed once",
       [&] {
         for (int i = 0; i < kCalls; ++i) quantsim::fake_quant_per_channel_out(x, table, 1, out);
       },
       {}},
  };
  measure(contenders, [] {});
  print_table(contenders, bytes * kCalls);
  const double ratio = median(contenders[0].seconds) / median(contenders[1].seconds);
  std::printf("  %-50s %6.2fx\n", "time: lo/hi/bits each call / table once", ratio);
}

void gpu_section() {
#ifdef QUANTSIM_TORCH_CUDA
  if (!torch::cuda::is_available()) {
    std::printf("GPU: skipped (LibTorch has CUDA but no GPU is visible)\n");
    return;
  }
  const auto options = at::TensorOptions().dtype(at::kFloat).device(at::kCUDA);
  const at::Tensor x = at::randn({64, 256, 64, 64}, options);
  const double bytes = static_cast<double>(x.numel()) * sizeof(float);
  at::Tensor dst = at::empty_like(x);
  at::Tensor out = at::empty_like(x);
  const ChannelRanges r = channel_ranges(x);
  const float lo = x.min().item<float>();
  const float hi = x.max().item<float>();
  const at::Tensor table = quantsim::fake_quant_channel_params(r.lo, r.hi, r.bits).to(x.device());
  std::printf("GPU: tensor 64x256x64x64 float32 (%.0f MB), %d bits\n", bytes / 1e6, kBits);
  std::vector<Contender> contenders = {
      {"device-to-device copy_", [&] { dst.copy_(x); }, {}},
      {"quantsim per-channel _out", [&] { quantsim::fake_quant_per_channel_out(x, r.lo, r.hi, r.bits, 1, out); }, {}},
      {"quantsim per-tensor _out", [&] { quantsim::fake_quant_per_tensor_out(x, lo, hi, kBits, out); }, {}},
      {"quantsim per-channel _out, table on the device",
       [&] { quantsim::fake_quant_per_channel_out(x, table, 1, out); },
       {}},
  };
  measure(contenders, [] { torch::cuda::synchronize(); });
  print_table(contenders, bytes);
  print_ratio("per-channel: table on the device / lo/hi/bits", contenders[3], contenders[1], bytes, 1.0);
  print_ratio("per-channel: quantsim / copy", contenders[1], contenders[0], bytes, 0.7);
  print_ratio("per-tensor:  quantsim / copy", contenders[2], contenders[0], bytes, 0.7);
#else
  std::printf("GPU: skipped (built against a LibTorch without CUDA: QUANTSIM_TORCH_CUDA is not defined)\n");
#endif
}

}  // namespace

int main() {
  // Timings depend on the BLAS and thread counts: every benchmark names them first.
  std::printf("host: %s\n", quantsim::describe(quantsim::runtime_info()).c_str());
  cpu_section();
  channel_params_section();
  gpu_section();
  return 0;
}
