#include "quantsim/passes/evaluation.h"

#include <chrono>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/stopwatch.h"
#include "quantsim/graph/prepared_model.h"

namespace quantsim {
namespace {

// "path (position 7 in evaluation order)", or "the image at position 7 in evaluation order" without a name.
std::string describe_image(int64_t position, const std::vector<std::string>& names) {
  if (position >= 0 && position < static_cast<int64_t>(names.size())) {
    return fmt::format("image {} (position {} in evaluation order)", names[static_cast<size_t>(position)], position);
  }
  return fmt::format("the image at position {} in evaluation order", position);
}

// Positions of a batch's rows: its indices, or for a source that gives none, the rows counted in order.
std::vector<int64_t> row_positions(const Batch& batch, int64_t images_before) {
  if (!batch.indices.empty()) return batch.indices;
  std::vector<int64_t> positions(static_cast<size_t>(batch.images.size(0)));
  for (size_t i = 0; i < positions.size(); ++i) positions[i] = images_before + static_cast<int64_t>(i);
  return positions;
}

}  // namespace

void check_finite_logits(const at::Tensor& logits, const std::vector<int64_t>& positions,
                         const EvaluationOptions& options) {
  const at::Tensor finite = at::isfinite(logits);
  if (finite.all().item<bool>()) return;
  const at::Tensor bad_rows = finite.all(1).logical_not().nonzero();
  const int64_t row = bad_rows[0][0].item<int64_t>();
  const int64_t column = finite[row].logical_not().nonzero()[0][0].item<int64_t>();
  const double value = logits[row][column].item<double>();
  const int64_t position = row < static_cast<int64_t>(positions.size()) ? positions[static_cast<size_t>(row)] : row;
  throw UserError(fmt::format("{}: the logits of {} are not finite ({} for class {}); check the model's weights "
                              "and the preprocessing (--mean/--std)",
                              options.model_name.empty() ? "model" : options.model_name,
                              describe_image(position, options.image_names), value, column));
}

EvaluationResult evaluate(BatchSource& source, const Forward& forward, const EvaluationOptions& options) {
  EvaluationResult result;
  std::vector<at::Tensor> kept;
  const auto start = std::chrono::steady_clock::now();
  while (auto batch = source.next()) {
    const auto forward_start = std::chrono::steady_clock::now();
    const at::Tensor logits = forward(batch->images).to(at::kCPU);
    result.forward_seconds += seconds_since(forward_start);
    check_logits_shape(logits, batch->images.size(0), options.num_classes);
    const std::vector<int64_t> positions = row_positions(*batch, result.accuracy.images());
    check_finite_logits(logits, positions, options);
    result.accuracy.add(logits, batch->labels, positions);
    if (options.keep_logits) kept.push_back(logits.to(at::kFloat));
  }
  result.seconds = seconds_since(start);
  if (options.keep_logits && !kept.empty()) result.logits = at::cat(kept);
  return result;
}

}  // namespace quantsim
