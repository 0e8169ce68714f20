#pragma once
// The affine (GEMMLOWP-style) quantizer of docs/QUANTIZATION.md, section 1, shared by the CPU and CUDA kernels so that
// both compute the quantizer parameters and the scalar path with the very same float32 operations.
//
// Plain C++ (usable from nvcc as __host__ __device__): no LibTorch, no standard-library calls on the device path.
#include <cstdint>

#if defined(__CUDACC__)
#define QUANTSIM_HOST_DEVICE __host__ __device__
#else
#define QUANTSIM_HOST_DEVICE
#include <cmath>
#endif

namespace quantsim::kernels {

constexpr int kMinQuantBits = 1;
constexpr int kMaxQuantBits = 16;

// One quantizer: x_hat = (clamp(rint(x / scale) + zero_point, 0, q_max) - zero_point) * scale.
// scale == 0 marks the identity quantizer: the range [lo', hi'] is empty (docs/QUANTIZATION.md, section 1:
// "output = input"), or so narrow that its step underflows float32 to zero, where the formula would only produce NaN.
struct AffineQuantParams {
  float scale;
  float zero_point;  // integer-valued, in [0, q_max]
  float q_max;       // 2^bits - 1 (exact in float32 for bits <= 16)
};

// Per-channel quantizers as a structure of arrays (channel c uses scale[c], zero_point[c], q_max[c]), so that a SIMD
// kernel running across channels can load consecutive channels' parameters with one vector load.
struct ChannelQuantParams {
  const float* scale;
  const float* zero_point;
  const float* q_max;
};

QUANTSIM_HOST_DEVICE inline float divide_ieee(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);  // correctly rounded whatever -prec-div says
#else
  return a / b;
#endif
}

// Round half to even (the default rounding mode), as docs/QUANTIZATION.md, section 1 rounds.
QUANTSIM_HOST_DEVICE inline float round_half_even(float v) {
#if defined(__CUDA_ARCH__)
  return rintf(v);
#else
  return std::nearbyint(v);
#endif
}

// bits must be in [kMinQuantBits, kMaxQuantBits]; lo and hi finite (the callers check both).
QUANTSIM_HOST_DEVICE inline AffineQuantParams make_affine_quant_params(float lo, float hi, int bits) {
  const float lo_incl_zero = lo < 0.0f ? lo : 0.0f;
  const float hi_incl_zero = hi > 0.0f ? hi : 0.0f;
  const float q_max = static_cast<float>((1u << bits) - 1u);
  const float scale = divide_ieee(hi_incl_zero - lo_incl_zero, q_max);
  if (scale == 0.0f) {
    return AffineQuantParams{0.0f, 0.0f, q_max};
  }
  const float zero_point = round_half_even(divide_ieee(-lo_incl_zero, scale));
  return AffineQuantParams{scale, zero_point, q_max};
}

// The scalar quantizer: NaN comes back unchanged (payload included, so that every backend agrees bit for bit);
// +-inf divides to +-inf and clamps to the range ends.
QUANTSIM_HOST_DEVICE inline float fake_quant_value(float x, const AffineQuantParams& p) {
  if (p.scale == 0.0f || x != x) {
    return x;
  }
  float q = round_half_even(divide_ieee(x, p.scale)) + p.zero_point;
  q = q < 0.0f ? 0.0f : q;
  q = q > p.q_max ? p.q_max : q;
  return (q - p.zero_point) * p.scale;
}

}  // namespace quantsim::kernels
