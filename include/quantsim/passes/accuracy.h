#pragma once
// Top-1 / top-5 accuracy with the tie rule of docs/QUANTIZATION.md, section 7: a tie in the logits is broken towards
// the lower class index.
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace quantsim {

// Rank of each target class in its row of logits [N, C]: the number of classes ranked before it, i.e. with a larger
// logit, or an equal logit and a lower index. The prediction is top-k correct when rank < k. The logits must be
// finite: every comparison with NaN is false, so a NaN row would rank its target first (evaluate() refuses them
// beforehand, see check_finite_logits in evaluation.h).
at::Tensor rank_of_targets(const at::Tensor& logits, const at::Tensor& targets);

class TopKAccuracy {
 public:
  void add(const at::Tensor& logits, const at::Tensor& targets);
  // Also records, per image, whether it was top-1 / top-5 correct at its position in evaluation order
  // (`positions[i]` of row i, as Batch::indices gives them; see top1_hits).
  void add(const at::Tensor& logits, const at::Tensor& targets, const std::vector<int64_t>& positions);
  int64_t images() const { return images_; }
  int64_t top1_correct() const { return top1_; }
  int64_t top5_correct() const { return top5_; }
  double top1_percent() const;
  double top5_percent() const;
  // Per image by position in evaluation order, for `quant-sim compare` (docs/QUANTIZATION.md, section 15): true
  // where that image was a hit. Positions no batch gave (images that could not be decoded) stay false; the plain
  // add() records nothing here.
  const std::vector<bool>& top1_hits() const { return top1_hits_; }
  const std::vector<bool>& top5_hits() const { return top5_hits_; }

 private:
  std::vector<bool> top1_hits_;
  std::vector<bool> top5_hits_;
  int64_t images_ = 0;
  int64_t top1_ = 0;
  int64_t top5_ = 0;
};

}  // namespace quantsim
