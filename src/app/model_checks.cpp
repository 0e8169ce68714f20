#include "quantsim/app/model_checks.h"

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/graph/prepared_model.h"

namespace quantsim {
namespace {

// check_logits_shape with the model file named in the error.
void check_model_output(const at::Tensor& logits, int64_t batch, int64_t num_classes, const std::string& model_path) {
  try {
    check_logits_shape(logits, batch, num_classes);
  } catch (const UserError& e) {
    throw UserError(fmt::format("{}: {}", model_path, e.what()));
  }
}

}  // namespace

void check_model_classes(const ModelFile& model, const at::Tensor& logits) {
  check_model_output(logits, 1, 0, model.path);
  if (model.sidecar && model.sidecar->num_classes && *model.sidecar->num_classes != logits.size(1)) {
    throw UserError(fmt::format("{}: output.num_classes is {}, but model {} gives {} logits", model.sidecar->path,
                                *model.sidecar->num_classes, model.path, logits.size(1)));
  }
}

int64_t count_model_classes(const ModelFile& model, const Forward& forward, const ImageSet& images) {
  const at::Tensor logits = forward(first_decodable_image(images)).to(at::kCPU);
  check_model_classes(model, logits);
  return logits.size(1);
}

}  // namespace quantsim
