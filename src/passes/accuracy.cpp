#include "quantsim/passes/accuracy.h"

#include <ATen/ATen.h>

#include "quantsim/core/percent.h"

namespace quantsim {

at::Tensor rank_of_targets(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor scores = logits.to(at::kFloat);
  const at::Tensor index = targets.to(at::kLong).unsqueeze(1);
  const at::Tensor target_score = scores.gather(1, index);
  const at::Tensor classes = at::arange(scores.size(1), index.options()).unsqueeze(0);
  const at::Tensor before = (scores > target_score).logical_or((scores == target_score).logical_and(classes < index));
  return before.sum(1);
}

void TopKAccuracy::add(const at::Tensor& logits, const at::Tensor& targets) {
  const at::Tensor rank = rank_of_targets(logits, targets);
  images_ += rank.size(0);
  top1_ += (rank < 1).sum().item<int64_t>();
  top5_ += (rank < 5).sum().item<int64_t>();
}

double TopKAccuracy::top1_percent() const { return percent(top1_, images_); }
double TopKAccuracy::top5_percent() const { return percent(top5_, images_); }

}  // namespace quantsim
