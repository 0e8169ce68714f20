#include "quantsim/run_support.h"

#include <chrono>
#include <cstdio>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "quantsim/atomic_file.h"
#include "quantsim/errors.h"
#include "quantsim/prepared_model.h"
#include "quantsim/rgb_image.h"

namespace quantsim {

void check_bad_images(const BatchLoader& loader, double max_share) {
  const int64_t bad = loader.bad_count();
  if (bad == 0) return;
  const BadImage first = loader.bad_images().front();
  // Decoders name the image in their reason, or not: name it once.
  const std::string what = first.reason.rfind(first.path, 0) == 0 ? first.reason : first.path + ": " + first.reason;
  const std::string summary =
      fmt::format("{} of {} images could not be decoded (first: {})", bad, loader.total(), what);
  if (static_cast<double>(bad) > max_share * static_cast<double>(loader.total())) {
    throw UserError(summary + fmt::format("; more than --max-bad-images {}", max_share));
  }
  std::fprintf(stderr, "quant-sim: warning: %s; they were skipped\n", summary.c_str());
}

at::Tensor first_decodable_image(const std::vector<LabeledImage>& images, const PreprocessSpec& spec) {
  for (const LabeledImage& image : images) {
    try {
      return preprocess_image(image.path, spec).unsqueeze(0);
    } catch (const ImageDecodeError&) {
      continue;  // counted and reported by the batch loader
    }
  }
  throw UserError("no image of the dataset could be decoded");
}

void check_model_output(const at::Tensor& logits, int64_t batch, int64_t num_classes, const std::string& model_path) {
  try {
    check_logits_shape(logits, batch, num_classes);
  } catch (const UserError& e) {
    throw UserError(fmt::format("{}: {}", model_path, e.what()));
  }
}

void check_model_classes(const ModelFile& model, const at::Tensor& logits) {
  check_model_output(logits, 1, 0, model.path);
  if (model.sidecar && model.sidecar->num_classes && *model.sidecar->num_classes != logits.size(1)) {
    throw UserError(fmt::format("{}: output.num_classes is {}, but model {} gives {} logits", model.sidecar->path,
                                *model.sidecar->num_classes, model.path, logits.size(1)));
  }
}

int64_t count_model_classes(const ModelFile& model, const Forward& forward, const std::vector<LabeledImage>& images,
                            const PreprocessSpec& spec) {
  const at::Tensor logits = forward(first_decodable_image(images, spec)).to(at::kCPU);
  check_model_classes(model, logits);
  return logits.size(1);
}

void check_output_destinations(const Config& config) {
  const auto check = [](const char* flag, const std::string& path, void (*check_path)(const std::string&)) {
    if (path.empty()) return;
    try {
      check_path(path);
    } catch (const UserError& e) {
      throw UserError(fmt::format("flag {}: {}", flag, e.what()));
    }
  };
  check("--results", config.results, check_append_destination);
  check("--save-logits", config.save_logits, check_write_destination);
  check("--layer-report", config.layer_report, check_write_destination);
  check("--export", config.export_path, check_write_destination);
}

std::string precision_label(const Config& config) {
  if (config.act_bits == 0 && config.weight_bits == 0) return "FP32";
  const auto bits = [](int b) { return b == 0 ? 32 : b; };
  return fmt::format("W{}A{}", bits(config.weight_bits), bits(config.act_bits));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace quantsim
