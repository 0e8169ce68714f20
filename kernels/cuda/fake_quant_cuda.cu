// CUDA fake-quant kernels: grid-stride loops over the flat element index, each element through the shared scalar
// quantizer (kernels/common/affine_quantizer.h), which on the device uses __fdiv_rn and rintf.
#include "cuda/fake_quant_cuda.h"

#include <algorithm>
#include <limits>

namespace quantsim::kernels {
namespace {

constexpr int kThreadsPerBlock = 256;
// Enough blocks to fill any current GPU several times over; the grid-stride loop covers the rest.
constexpr int64_t kMaxBlocks = 65536;

int blocks_for(int64_t n) {
  return static_cast<int>(std::min<int64_t>(kMaxBlocks, (n + kThreadsPerBlock - 1) / kThreadsPerBlock));
}

template <typename Index>
__global__ void per_tensor_kernel(const float* x, float* out, Index n, AffineQuantParams params) {
  const Index stride = static_cast<Index>(blockDim.x) * gridDim.x;
  for (Index k = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    out[k] = fake_quant_value(x[k], params);
  }
}

// Index is 32-bit whenever n allows: the channel of each element costs a division, and 64-bit integer division is
// emulated (slow) on the GPU.
template <typename Index>
__global__ void per_channel_kernel(const float* x, float* out, Index n, Index channels, Index inner,
                                   ChannelQuantParams params) {
  const Index stride = static_cast<Index>(blockDim.x) * gridDim.x;
  for (Index k = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const Index c = (k / inner) % channels;
    const AffineQuantParams p{__ldg(params.scale + c), __ldg(params.zero_point + c), __ldg(params.q_max + c)};
    out[k] = fake_quant_value(x[k], p);
  }
}

bool fits_32_bits(int64_t n) { return n <= static_cast<int64_t>(std::numeric_limits<uint32_t>::max()) / 2; }

}  // namespace

cudaError_t fake_quant_per_tensor_cuda(const float* x, float* out, int64_t n, const AffineQuantParams& params,
                                       cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (fits_32_bits(n)) {
    per_tensor_kernel<uint32_t>
        <<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, out, static_cast<uint32_t>(n), params);
  } else {
    per_tensor_kernel<uint64_t>
        <<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, out, static_cast<uint64_t>(n), params);
  }
  return cudaGetLastError();
}

cudaError_t fake_quant_per_channel_cuda(const float* x, float* out, int64_t n, int64_t channels, int64_t inner,
                                        const ChannelQuantParams& params, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (fits_32_bits(n)) {
    per_channel_kernel<uint32_t><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
        x, out, static_cast<uint32_t>(n), static_cast<uint32_t>(channels), static_cast<uint32_t>(inner), params);
  } else {
    per_channel_kernel<uint64_t><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
        x, out, static_cast<uint64_t>(n), static_cast<uint64_t>(channels), static_cast<uint64_t>(inner), params);
  }
  return cudaGetLastError();
}

}  // namespace quantsim::kernels
