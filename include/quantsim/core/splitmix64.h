#pragma once
// The seeded generator and shuffle of docs/QUANTIZATION.md, section 7, identical in every implementation.
#include <cstdint>
#include <utility>
#include <vector>

namespace quantsim {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Fisher-Yates: for i = n-1 down to 1, j = next() % (i + 1), swap.
template <typename T>
void seeded_shuffle(std::vector<T>& items, uint64_t seed) {
  SplitMix64 rng(seed);
  for (size_t i = items.size(); i-- > 1;) {
    const size_t j = static_cast<size_t>(rng.next() % (i + 1));
    std::swap(items[i], items[j]);
  }
}

}  // namespace quantsim
