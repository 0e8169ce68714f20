#include "quantsim/evaluation.h"

#include <chrono>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "quantsim/prepared_model.h"
#include "quantsim/run_support.h"

namespace quantsim {
EvaluationResult evaluate(BatchSource& source, const Forward& forward, const EvaluationOptions& options) {
  EvaluationResult result;
  std::vector<at::Tensor> kept;
  const auto start = std::chrono::steady_clock::now();
  while (auto batch = source.next()) {
    const auto forward_start = std::chrono::steady_clock::now();
    const at::Tensor logits = forward(batch->images).to(at::kCPU);
    result.forward_seconds += seconds_since(forward_start);
    check_logits_shape(logits, batch->images.size(0), options.num_classes);
    result.accuracy.add(logits, batch->labels);
    if (options.keep_logits) kept.push_back(logits.to(at::kFloat));
  }
  result.seconds = seconds_since(start);
  if (options.keep_logits && !kept.empty()) result.logits = at::cat(kept);
  return result;
}

}  // namespace quantsim
