#pragma once
// Fast CPU fake-quant (docs/QUANTIZATION.md, section 1) behind a plain pointer API: no LibTorch, no threads of its own.
// Each call handles one range of elements, so a caller parallelizes by splitting [0, n) (e.g. with at::parallel_for).
// Results are bit-identical to kernels/reference/fake_quant_reference.h for every input, whatever the instruction set.
// x and out may be the same pointer (in place); otherwise they must not overlap.
#include <cstdint>

#include "common/affine_quantizer.h"

namespace quantsim::kernels {

// out[k] = fake_quant(x[k]) for k in [begin, end), one quantizer for all.
void fake_quant_per_tensor_cpu(const float* x, float* out, int64_t begin, int64_t end, const AffineQuantParams& params);

// x and out are laid out as [outer, channels, inner] (row-major); element k belongs to channel (k / inner) % channels.
// Handles the elements k in [begin, end) of that flat order.
void fake_quant_per_channel_cpu(const float* x, float* out, int64_t begin, int64_t end, int64_t channels, int64_t inner,
                                const ChannelQuantParams& params);

// The instruction set the kernels use on this machine ("avx2" or "scalar"), chosen once at startup.
const char* fake_quant_cpu_isa();

}  // namespace quantsim::kernels
