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

void TopKAccuracy::add(const at::Tensor& logits, const at::Tensor& targets, const std::vector<int64_t>& positions) {
  const at::Tensor rank = rank_of_targets(logits, targets).to(at::kLong).contiguous();
  TORCH_CHECK(static_cast<int64_t>(positions.size()) == rank.size(0), "one position per row of logits");
  const int64_t* ranks = rank.data_ptr<int64_t>();
  for (size_t i = 0; i < positions.size(); ++i) {
    const auto position = static_cast<size_t>(positions[i]);
    if (position >= top1_hits_.size()) {
      top1_hits_.resize(position + 1, false);
      top5_hits_.resize(position + 1, false);
    }
    top1_hits_[position] = ranks[i] < 1;
    top5_hits_[position] = ranks[i] < 5;
    top1_ += ranks[i] < 1;
    top5_ += ranks[i] < 5;
  }
  images_ += rank.size(0);
}

double TopKAccuracy::top1_percent() const { return percent(top1_, images_); }
double TopKAccuracy::top5_percent() const { return percent(top5_, images_); }

}  // namespace quantsim
