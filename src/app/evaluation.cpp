#include "quantsim/evaluation.h"

#include <chrono>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "quantsim/errors.h"
#include "quantsim/run_support.h"

namespace quantsim {
void check_logits_shape(const at::Tensor& logits, int64_t batch, int64_t num_classes, const std::string& model) {
  const bool ok = logits.dim() == 2 && logits.size(0) == batch && (num_classes <= 0 || logits.size(1) == num_classes)
                  && at::isFloatingType(logits.scalar_type());
  if (!ok) {
    throw UserError(fmt::format("{}: model output has shape [{}] ({}); expected [{}, {}] logits", model,
                                fmt::join(logits.sizes().vec(), ", "), c10::toString(logits.scalar_type()), batch,
                                num_classes > 0 ? std::to_string(num_classes) : "classes"));
  }
}

EvaluationResult evaluate(BatchSource& source, const Forward& forward, const EvaluationOptions& options) {
  EvaluationResult result;
  std::vector<at::Tensor> kept;
  const auto start = std::chrono::steady_clock::now();
  while (auto batch = source.next()) {
    const auto forward_start = std::chrono::steady_clock::now();
    const at::Tensor logits = forward(batch->images).to(at::kCPU);
    result.forward_seconds += seconds_since(forward_start);
    check_logits_shape(logits, batch->images.size(0), options.num_classes, "model");
    result.accuracy.add(logits, batch->labels);
    if (options.keep_logits) kept.push_back(logits.to(at::kFloat));
  }
  result.seconds = seconds_since(start);
  if (options.keep_logits && !kept.empty()) result.logits = at::cat(kept);
  return result;
}

}  // namespace quantsim
