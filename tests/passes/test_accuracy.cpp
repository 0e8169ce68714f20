#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quantsim/passes/accuracy.h"

using namespace quantsim;

TEST(Accuracy, RankCountsStrictlyLargerLogits) {
  const at::Tensor logits = at::tensor({0.1f, 0.9f, 0.5f, 0.7f, 0.2f, 0.3f}).reshape({1, 6});
  EXPECT_EQ(rank_of_targets(logits, at::tensor({1})).item<int64_t>(), 0);
  EXPECT_EQ(rank_of_targets(logits, at::tensor({3})).item<int64_t>(), 1);
  EXPECT_EQ(rank_of_targets(logits, at::tensor({0})).item<int64_t>(), 5);
}

TEST(Accuracy, TiesGoToTheLowerClassIndex) {
  const at::Tensor logits = at::tensor({1.0f, 2.0f, 2.0f, 2.0f}).reshape({1, 4});
  EXPECT_EQ(rank_of_targets(logits, at::tensor({1})).item<int64_t>(), 0);
  EXPECT_EQ(rank_of_targets(logits, at::tensor({2})).item<int64_t>(), 1);
  EXPECT_EQ(rank_of_targets(logits, at::tensor({3})).item<int64_t>(), 2);
}

TEST(Accuracy, TopKAgreesWithSortingOnRandomLogits) {
  at::manual_seed(3);
  const at::Tensor logits = at::randn({200, 20});
  const at::Tensor targets = at::randint(0, 20, {200});
  TopKAccuracy accuracy;
  accuracy.add(logits.slice(0, 0, 77), targets.slice(0, 0, 77));
  accuracy.add(logits.slice(0, 77), targets.slice(0, 77));
  const at::Tensor top5 = std::get<1>(logits.topk(5, 1));
  const int64_t expected_top1 = (top5.select(1, 0) == targets).sum().item<int64_t>();
  const int64_t expected_top5 = (top5 == targets.unsqueeze(1)).any(1).sum().item<int64_t>();
  EXPECT_EQ(accuracy.images(), 200);
  EXPECT_EQ(accuracy.top1_correct(), expected_top1);
  EXPECT_EQ(accuracy.top5_correct(), expected_top5);
  EXPECT_DOUBLE_EQ(accuracy.top1_percent(), 100.0 * expected_top1 / 200);
}
