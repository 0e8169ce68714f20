#pragma once
// docs/QUANTIZATION.md, section 1, written out one line per formula line, element by element, for tests to compare the
// fast kernels against. Deliberately shares no code with the kernels (see kernels/common/affine_quantizer.h).
//
// Two behaviours beyond the formula, fixed here and matched by every kernel (docs/QUANTIZATION.md, section 1):
//  - NaN in the input comes back unchanged, bit for bit (payload and sign), so that CPU and CUDA agree exactly.
//  - A range so narrow that its step (hi' - lo') / (2^M - 1) underflows float32 to zero is treated like an empty
//    range (output = input); the formula would otherwise divide by zero and return NaN for every element.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace quantsim::reference {

inline float fake_quant(float x, float lo, float hi, int bits) {
  const float lo_p = std::min(lo, 0.0f);
  const float hi_p = std::max(hi, 0.0f);
  if (hi_p - lo_p == 0.0f) return x;
  const float q_max = static_cast<float>((1 << bits) - 1);
  const float scale = (hi_p - lo_p) / q_max;
  if (scale == 0.0f) return x;
  if (std::isnan(x)) return x;
  const float zp = std::nearbyint(-lo_p / scale);
  const float q = std::clamp(std::nearbyint(x / scale) + zp, 0.0f, q_max);
  return (q - zp) * scale;
}

// x laid out as [outer, channels, inner] (row-major); channel c uses lo[c], hi[c], bits[c].
inline void fake_quant_per_channel(const float* x, float* out, int64_t outer, int64_t channels, int64_t inner,
                                   const float* lo, const float* hi, const int32_t* bits) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (o * channels + c) * inner + i;
        out[k] = fake_quant(x[k], lo[c], hi[c], bits[c]);
      }
    }
  }
}

}  // namespace quantsim::reference
