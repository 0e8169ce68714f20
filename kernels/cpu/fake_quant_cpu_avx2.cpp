// AVX2 span kernels: 8 floats per step with true IEEE division (vdivps) and exact round-half-to-even (vroundps), so
// they match the scalar quantizer bit for bit. Functions carry target("avx2") instead of the whole file being built
// with -mavx2: the inline helpers this file includes from headers then stay baseline code, and no AVX instruction can
// leak into a copy the linker might pick for a CPU without AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/fake_quant_cpu_spans.h"

#define QUANTSIM_AVX2 __attribute__((target("avx2")))

namespace quantsim::kernels {
namespace {

constexpr int64_t kLanes = 8;

QUANTSIM_AVX2 inline __m256 fake_quant8(__m256 x, __m256 scale, __m256 zero_point, __m256 q_max) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 steps = _mm256_round_ps(_mm256_div_ps(x, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 q = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(steps, zero_point), zero), q_max);
  const __m256 y = _mm256_mul_ps(_mm256_sub_ps(q, zero_point), scale);
  // NaN inputs and identity quantizers (scale == 0) return x itself; max/min above would have turned NaN into 0.
  const __m256 keep_input = _mm256_or_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q), _mm256_cmp_ps(scale, zero, _CMP_EQ_OQ));
  return _mm256_blendv_ps(y, x, keep_input);
}

// Lanes [0, n) set, n in [0, 8].
QUANTSIM_AVX2 inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Every element under one quantizer.
struct UniformLanes {
  __m256 scale, zero_point, q_max;

  QUANTSIM_AVX2 __m256 apply(__m256 x, int64_t /*offset*/) const { return fake_quant8(x, scale, zero_point, q_max); }
  QUANTSIM_AVX2 __m256 apply_partial(__m256 x, int64_t /*offset*/, __m256i /*mask*/) const {
    return fake_quant8(x, scale, zero_point, q_max);
  }
};

// Element j under channel j's quantizer (arrays already offset to the run's first channel).
struct ChannelLanes {
  const float* scale;
  const float* zero_point;
  const float* q_max;

  QUANTSIM_AVX2 __m256 apply(__m256 x, int64_t j) const {
    return fake_quant8(x, _mm256_loadu_ps(scale + j), _mm256_loadu_ps(zero_point + j), _mm256_loadu_ps(q_max + j));
  }
  // Masked-off lanes load scale 0, i.e. the identity quantizer: harmless, and never stored.
  QUANTSIM_AVX2 __m256 apply_partial(__m256 x, int64_t j, __m256i mask) const {
    return fake_quant8(x, _mm256_maskload_ps(scale + j, mask), _mm256_maskload_ps(zero_point + j, mask),
                       _mm256_maskload_ps(q_max + j, mask));
  }
};

template <class Lanes>
QUANTSIM_AVX2 inline void run_partial(const float* x, float* out, int64_t j, int64_t n, const Lanes& lanes) {
  const __m256i mask = first_lanes(n);
  const __m256 y = lanes.apply_partial(_mm256_maskload_ps(x + j, mask), j, mask);
  _mm256_maskstore_ps(out + j, mask, y);
}

template <class Lanes>
QUANTSIM_AVX2 void run_span(const float* x, float* out, int64_t n, const Lanes& lanes, bool streaming) {
  int64_t j = 0;
  if (streaming) {
    // Non-temporal stores need 32-byte aligned addresses: peel the unaligned head.
    const auto misalignment = static_cast<int64_t>(reinterpret_cast<uintptr_t>(out) % 32) / 4;
    const int64_t head = misalignment == 0 ? 0 : std::min<int64_t>(n, kLanes - misalignment);
    if (head > 0) run_partial(x, out, 0, head, lanes);
    for (j = head; j + kLanes <= n; j += kLanes) {
      _mm256_stream_ps(out + j, lanes.apply(_mm256_loadu_ps(x + j), j));
    }
  } else {
    for (; j + kLanes <= n; j += kLanes) {
      _mm256_storeu_ps(out + j, lanes.apply(_mm256_loadu_ps(x + j), j));
    }
  }
  if (j < n) run_partial(x, out, j, n - j, lanes);
}

QUANTSIM_AVX2 void uniform_avx2(const float* x, float* out, int64_t n, const AffineQuantParams& params,
                                bool streaming) {
  const UniformLanes lanes{_mm256_set1_ps(params.scale), _mm256_set1_ps(params.zero_point),
                           _mm256_set1_ps(params.q_max)};
  run_span(x, out, n, lanes, streaming);
}

QUANTSIM_AVX2 void channel_run_avx2(const float* x, float* out, int64_t n, const ChannelQuantParams& params,
                                    int64_t first_channel, bool streaming) {
  const ChannelLanes lanes{params.scale + first_channel, params.zero_point + first_channel,
                           params.q_max + first_channel};
  run_span(x, out, n, lanes, streaming);
}

void store_fence() { _mm_sfence(); }

}  // namespace

SpanKernels avx2_span_kernels() { return SpanKernels{"avx2", uniform_avx2, channel_run_avx2, store_fence}; }

}  // namespace quantsim::kernels
