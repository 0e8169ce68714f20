#pragma once
// CUDA fake-quant (docs/QUANTIZATION.md, section 1) behind a plain pointer API: device pointers in, work queued on
// `stream`, no LibTorch. Bit-identical to the CPU kernels (kernels/cpu/fake_quant_cpu.h): both run the quantizer of
// kernels/common/affine_quantizer.h with IEEE division (__fdiv_rn) and round-half-to-even (rintf).
// Returns the launch status (cudaSuccess, or the error cudaGetLastError reported); x may equal out.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "common/affine_quantizer.h"

namespace quantsim::kernels {

// out[k] = fake_quant(x[k]) for k in [0, n); params lives on the host (passed by value to the kernel).
cudaError_t fake_quant_per_tensor_cuda(const float* x, float* out, int64_t n, const AffineQuantParams& params,
                                       cudaStream_t stream);

// x and out laid out [n / (channels * inner), channels, inner]; element k uses channel (k / inner) % channels.
// The three arrays of `params` are device pointers with `channels` entries each.
cudaError_t fake_quant_per_channel_cuda(const float* x, float* out, int64_t n, int64_t channels, int64_t inner,
                                        const ChannelQuantParams& params, cudaStream_t stream);

}  // namespace quantsim::kernels
