#pragma once
// Wall time of a step, for the timings runs print and record.
#include <chrono>

namespace quantsim {

// Seconds since `start`.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace quantsim
