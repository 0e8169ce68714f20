// -ss / -cs selections: the head of the canonical order, or of the seeded permutation of
// docs/QUANTIZATION.md, section 7.
#include <gtest/gtest.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/splitmix64.h"
#include "quantsim/data/dataset.h"

namespace quantsim {
namespace {

std::vector<int64_t> labels_of(const std::vector<LabeledImage>& images) {
  std::vector<int64_t> labels;
  for (const LabeledImage& image : images) labels.push_back(image.label);
  return labels;
}

std::vector<LabeledImage> numbered(int n) {
  std::vector<LabeledImage> images;
  for (int i = 0; i < n; ++i) images.push_back({std::to_string(i), i});
  return images;
}

TEST(SelectImages, SubsetTakesTheHeadOfTheCanonicalOrder) {
  EXPECT_EQ(labels_of(select_images(numbered(5), 3, false, 0)), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(select_images(numbered(5), std::nullopt, false, 0).size(), 5u);
  EXPECT_EQ(select_images(numbered(5), 50, false, 0).size(), 5u);
  EXPECT_THROW(select_images(numbered(5), 0, false, 0), UserError);
}

// docs/QUANTIZATION.md, section 7 written out independently of splitmix64.h.
std::vector<int64_t> spec_permutation(int n, uint64_t seed) {
  std::vector<int64_t> list(n);
  for (int i = 0; i < n; ++i) list[i] = i;
  uint64_t state = seed;
  auto next = [&state] {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  for (int i = n - 1; i >= 1; --i) std::swap(list[i], list[next() % (i + 1)]);
  return list;
}

TEST(SelectImages, ShuffleIsTheSpecPermutationHead) {
  for (uint64_t seed : {0ULL, 1ULL, 42ULL, 0xFFFFFFFFFFFFFFFFULL}) {
    const std::vector<int64_t> expected = spec_permutation(100, seed);
    EXPECT_EQ(labels_of(select_images(numbered(100), 10, true, seed)),
              std::vector<int64_t>(expected.begin(), expected.begin() + 10))
        << "seed " << seed;
  }
}

TEST(SelectImages, ShuffleKnownSmallCase) {
  // Seed 0, n = 3, derived by hand from the formula of docs/QUANTIZATION.md, section 7:
  //   next() #1 = 0xE220A8397B1DCDAF, i = 2: j = that % 3 = 1 -> swap(list[2], list[1]) -> [0, 2, 1]
  //   next() #2 = 0x6E789E6AA1B965F4, i = 1: j = that % 2 = 0 -> swap(list[1], list[0]) -> [2, 0, 1]
  EXPECT_EQ(SplitMix64(0).next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(labels_of(select_images(numbered(3), std::nullopt, true, 0)), (std::vector<int64_t>{2, 0, 1}));
}

}  // namespace
}  // namespace quantsim
