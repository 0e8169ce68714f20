#pragma once
// Random but reproducible inputs that stress the quantizer of docs/QUANTIZATION.md, section 1: ranges from every regime
// (straddling zero, all-positive, all-negative, empty, tiny enough for the step to underflow, huge) and values that sit
// on the decision boundaries (exact half steps), on the grid, outside the range, and special (+-0, +-inf, NaN with
// payloads, subnormals, raw bit patterns). Plain C++ so that both the LibTorch tests and the CUDA kernel test use it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>

namespace quantsim::reference {

struct QuantRange {
  float lo;
  float hi;
  int bits;
};

inline float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint32_t bits_of(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

class FakeQuantInputs {
 public:
  explicit FakeQuantInputs(uint64_t seed) : rng_(seed) {}

  int bits() { return std::uniform_int_distribution<int>(1, 16)(rng_); }

  QuantRange range() {
    const int bits_value = bits();
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    const float magnitude = std::ldexp(1.0f, std::uniform_int_distribution<int>(-20, 20)(rng_));
    const float a = unit(rng_) * magnitude;
    const float b = unit(rng_) * magnitude;
    switch (std::uniform_int_distribution<int>(0, 9)(rng_)) {
      case 0: return {std::fabs(a), std::fabs(a) + std::fabs(b), bits_value};                      // all positive
      case 1: return {-std::fabs(a) - std::fabs(b), -std::fabs(a), bits_value};                    // all negative
      case 2: return {a, a, bits_value};                                                           // lo == hi
      case 3: return {0.0f, 0.0f, bits_value};                                                     // empty range
      case 4: return {-1e-44f, 1e-44f, bits_value};                                                // step may underflow
      case 5: return {-3e37f * std::fabs(unit(rng_)), 3e37f * std::fabs(unit(rng_)), bits_value};  // huge
      case 6: return {-0.0f, std::fabs(b), bits_value};                                            // signed zero lo
      case 7: return {std::fabs(a), -std::fabs(b), bits_value};                                    // lo > hi: [0, 0]
      default: return {std::min(a, b), std::max(a, b), bits_value};                                // straddles zero
    }
  }

  // A value to quantize with range r: mostly near the range, often on a half step or the grid, sometimes special.
  float value(const QuantRange& r) {
    const float lo = std::min(r.lo, 0.0f);
    const float hi = std::max(r.hi, 0.0f);
    const float q_max = static_cast<float>((1 << r.bits) - 1);
    const float scale = (hi - lo) / q_max;
    const float width = std::max(hi - lo, std::numeric_limits<float>::min());
    std::uniform_real_distribution<float> around(lo - 0.5f * width, hi + 0.5f * width);
    std::uniform_int_distribution<int> step(-2, static_cast<int>(q_max) + 2);
    const float zp = std::nearbyint(-lo / (scale > 0.0f ? scale : 1.0f));
    switch (std::uniform_int_distribution<int>(0, 15)(rng_)) {
      case 0: return (static_cast<float>(step(rng_)) - zp + 0.5f) * scale;  // half way between two steps
      case 1: return (static_cast<float>(step(rng_)) - zp) * scale;         // on the grid
      case 2: return special();
      case 3: return float_from_bits(static_cast<uint32_t>(rng_()));  // any bit pattern
      default: return around(rng_);
    }
  }

  float special() {
    constexpr float kSpecials[] = {0.0f,
                                   -0.0f,
                                   std::numeric_limits<float>::infinity(),
                                   -std::numeric_limits<float>::infinity(),
                                   std::numeric_limits<float>::quiet_NaN(),
                                   -std::numeric_limits<float>::quiet_NaN(),
                                   std::numeric_limits<float>::denorm_min(),
                                   -std::numeric_limits<float>::denorm_min(),
                                   std::numeric_limits<float>::max(),
                                   std::numeric_limits<float>::lowest()};
    const auto i = std::uniform_int_distribution<size_t>(0, std::size(kSpecials))(rng_);
    if (i == std::size(kSpecials)) return float_from_bits(0x7fc00000u | (static_cast<uint32_t>(rng_()) & 0x3fffffu));
    return kSpecials[i];
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

}  // namespace quantsim::reference
