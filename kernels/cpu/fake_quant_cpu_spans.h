#pragma once
// Internal to kernels/cpu: the innermost loops, one implementation per instruction set, picked at runtime by
// fake_quant_cpu.cpp. A "span" is a run of consecutive elements that either share one quantizer (uniform) or walk
// consecutive channels (x[j] is channel first_channel + j, used when inner == 1, e.g. channels-last activations).
#include <cstdint>

#include "common/affine_quantizer.h"

namespace quantsim::kernels {

struct SpanKernels {
  const char* isa;
  void (*uniform)(const float* x, float* out, int64_t n, const AffineQuantParams& params, bool streaming);
  void (*channel_run)(const float* x, float* out, int64_t n, const ChannelQuantParams& params, int64_t first_channel,
                      bool streaming);
  // Orders non-temporal stores before the caller returns (no-op where none are used).
  void (*finish_streaming)();
};

SpanKernels scalar_span_kernels();
// Only callable when the CPU supports AVX2.
SpanKernels avx2_span_kernels();

}  // namespace quantsim::kernels
