// Portable span kernels: the shared scalar quantizer, element by element. Used where AVX2 is missing.
#include "cpu/fake_quant_cpu_spans.h"

namespace quantsim::kernels {
namespace {

void uniform_scalar(const float* x, float* out, int64_t n, const AffineQuantParams& params, bool /*streaming*/) {
  for (int64_t j = 0; j < n; ++j) out[j] = fake_quant_value(x[j], params);
}

void channel_run_scalar(const float* x, float* out, int64_t n, const ChannelQuantParams& params, int64_t first_channel,
                        bool /*streaming*/) {
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = first_channel + j;
    out[j] = fake_quant_value(x[j], AffineQuantParams{params.scale[c], params.zero_point[c], params.q_max[c]});
  }
}

void no_fence() {}

}  // namespace

SpanKernels scalar_span_kernels() { return SpanKernels{"scalar", uniform_scalar, channel_run_scalar, no_fence}; }

}  // namespace quantsim::kernels
