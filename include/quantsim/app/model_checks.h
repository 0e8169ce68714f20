#pragma once
// Checks of a model's output before a run spends time on it: one decodable image through the model, its logits
// [1, classes], and the class count against the model's sidecar. Shared by the evaluation and collect runs.
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "quantsim/data/dataset.h"
#include "quantsim/data/image_set.h"
#include "quantsim/data/model_file.h"
#include "quantsim/data/preprocess.h"
#include "quantsim/passes/evaluation.h"

namespace quantsim {

// Runs the first decodable image through `forward`: checks the output is [1, classes] (the sidecar's count when it
// has one) and returns the number of classes.
int64_t count_model_classes(const ModelFile& model, const Forward& forward, const ImageSet& images);

// check_logits_shape (prepared_model.h) on a [1, classes] output, naming the model file, then the sidecar's
// output.num_classes against it (naming the sidecar).
void check_model_classes(const ModelFile& model, const at::Tensor& logits);

}  // namespace quantsim
