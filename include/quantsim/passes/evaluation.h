#pragma once
// The evaluation loop: batches in, logits out, top-1/top-5 and throughput accumulated.
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "quantsim/data/batch_loader.h"
#include "quantsim/passes/accuracy.h"

namespace quantsim {

// Maps a float32 batch [N,3,H,W] (on the CPU) to logits [N, classes]. The function moves data to its device.
using Forward = std::function<at::Tensor(const at::Tensor& images)>;

struct EvaluationOptions {
  int64_t num_classes = 0;   // the logits must be [N, num_classes]
  bool keep_logits = false;  // gather the logits of every image (for --save-logits)
  std::string model_name;    // names the model in errors
  // The images by position in evaluation order (Batch::indices), to name an image in errors; when shorter, images
  // are named by their position alone.
  std::vector<std::string> image_names;
};

struct EvaluationResult {
  TopKAccuracy accuracy;
  double seconds = 0.0;          // wall time of the whole loop, decoding included
  double forward_seconds = 0.0;  // time spent in the model
  at::Tensor logits;             // [images, classes] in evaluation order, when kept
  double images_per_second() const { return seconds > 0 ? accuracy.images() / seconds : 0.0; }
};

// Runs every batch of `source` through `forward`. Throws UserError when the model's output is not [N, classes] or
// holds NaN or inf (check_finite_logits).
EvaluationResult evaluate(BatchSource& source, const Forward& forward, const EvaluationOptions& options);

// Throws UserError naming the model, the first image (path and position in evaluation order) whose row of `logits`
// holds NaN or inf, and that value. Such logits cannot be scored: every comparison with NaN is false, so a NaN row
// would rank its target first and count as correct. `positions[i]` is the position of row i (Batch::indices).
// Costs one reduction when all are finite; the bad row is searched only when one is not.
void check_finite_logits(const at::Tensor& logits, const std::vector<int64_t>& positions,
                         const EvaluationOptions& options);

}  // namespace quantsim
