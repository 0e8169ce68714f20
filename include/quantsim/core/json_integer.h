#pragma once
// Reading integers from JSON files without wrap-around: nlohmann's get<int>() silently truncates 2^40 or 2^64 - 1,
// which turns an out-of-range value in a file into a plausible small one.
#include <cstdint>
#include <limits>
#include <optional>

namespace quantsim {

// The value when it is a JSON integer that fits in int64, else nullopt (floats, strings, 2^63 and above).
template <typename Json>
std::optional<int64_t> json_int64(const Json& value) {
  if (value.is_number_unsigned()) {
    const auto u = value.template get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.template get<int64_t>();
  return std::nullopt;
}

// The value when it is a JSON integer in [lo, hi], else nullopt.
template <typename Json>
std::optional<int64_t> json_int_in_range(const Json& value, int64_t lo, int64_t hi) {
  const std::optional<int64_t> v = json_int64(value);
  if (!v || *v < lo || *v > hi) return std::nullopt;
  return v;
}

}  // namespace quantsim
