#include "quantsim/app.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/script.h>

#include "../graph/torchscript_loading.h"
#include "quantsim/batch_loader.h"
#include "quantsim/cli.h"
#include "quantsim/errors.h"
#include "quantsim/evaluation.h"
#include "quantsim/npy_writer.h"
#include "quantsim/results_log.h"
#include "quantsim/rgb_image.h"
#include "quantsim/run_inputs.h"

namespace quantsim {
namespace {

void check_bad_images(const BatchLoader& loader, double max_share) {
  const int64_t bad = loader.bad_count();
  if (bad == 0) return;
  const BadImage first = loader.bad_images().front();
  const std::string summary = fmt::format("{} of {} images could not be decoded (first: {}: {})", bad, loader.total(),
                                          first.path, first.reason);
  if (static_cast<double>(bad) > max_share * static_cast<double>(loader.total())) {
    throw UserError(summary + fmt::format("; more than --max-bad-images {}", max_share));
  }
  std::fprintf(stderr, "quant-sim: warning: %s; they were skipped\n", summary.c_str());
}

// The sidecar's output.num_classes, else what the model says for one real image; either way the model's output is
// checked to be [N, classes] before the run starts.
int64_t count_model_classes(const ModelFile& model, const Forward& forward, const std::vector<LabeledImage>& images,
                            const PreprocessSpec& spec) {
  const int64_t declared = model.sidecar && model.sidecar->num_classes ? *model.sidecar->num_classes : 0;
  for (const LabeledImage& image : images) {
    at::Tensor x;
    try {
      x = preprocess_image(image.path, spec).unsqueeze(0);
    } catch (const ImageDecodeError&) {
      continue;  // counted and reported by the batch loader
    }
    const at::Tensor logits = forward(x);
    check_logits_shape(logits, 1, declared, model.path);
    return logits.size(1);
  }
  return declared;
}

nlohmann::json result_record(const Config& config, const ModelFile& model, const Dataset& dataset,
                             const EvaluationResult& result, const std::string& device, const std::string& mode,
                             int64_t bad_images) {
  return {{"top1", result.accuracy.top1_percent()},
          {"top5", result.accuracy.top5_percent()},
          {"images", result.accuracy.images()},
          {"bad_images", bad_images},
          {"images_per_second", result.images_per_second()},
          {"model", model.path},
          {"model_name", model.name},
          {"model_sha256", model.sha256},
          {"data", dataset.root},
          {"mode", mode},
          {"device", device},
          {"times", {{"evaluate_s", result.seconds}, {"forward_s", result.forward_seconds}}},
          {"config", config_to_json(config)},
          {"version", QUANTSIM_VERSION},
          {"timestamp", utc_timestamp()}};
}

int run_evaluation(const Config& config) {
  const ModelFile model = resolve_model_file(config);
  const std::string device = resolve_device(config);
  torch::jit::Module module = graph::load_torchscript(model.path);
  module.eval();
  module.to(torch::Device(device));

  const Dataset dataset = load_labelled_dataset(config.data, config, model);
  const PreprocessSpec spec = resolve_preprocess(model.sidecar, config.preprocess);
  std::vector<LabeledImage> images = select_images(dataset.images, config.subset, config.shuffle, config.seed);
  torch::InferenceMode inference;
  const Forward forward = [&](const at::Tensor& x) {
    return module.forward({x.to(torch::Device(device))}).toTensor();
  };
  const int64_t num_classes = count_model_classes(model, forward, images, spec);
  check_labels_fit(dataset, num_classes);

  std::fprintf(stderr, "quant-sim: %s (sha256 %.12s) on %s: %zu images, %s, device %s\n", model.name.c_str(),
               model.sha256.c_str(), dataset.root.c_str(), images.size(), describe(spec).c_str(), device.c_str());
  BatchLoader loader(std::move(images), spec, {config.batch_size, config.workers, 2, config.progress, "evaluate"});
  const EvaluationResult result = evaluate(loader, forward, {num_classes, !config.save_logits.empty()});
  check_bad_images(loader, config.max_bad_image_share);
  if (result.accuracy.images() == 0) throw UserError(fmt::format("{}: no image could be evaluated", dataset.root));

  std::printf("FP32: top-1 %.2f%%  top-5 %.2f%%  (%lld images, %.1f images/s)\n", result.accuracy.top1_percent(),
              result.accuracy.top5_percent(), static_cast<long long>(result.accuracy.images()),
              result.images_per_second());
  if (!config.save_logits.empty()) write_npy_float32(config.save_logits, result.logits);
  append_result(config.results, result_record(config, model, dataset, result, device, "fp32", loader.bad_count()));
  return 0;
}

}  // namespace

int run_app(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const ParsedCommandLine parsed = parse_command_line(args);
  if (parsed.help) {
    std::fputs(parsed.help_text.c_str(), stdout);
    return 0;
  }
  if (parsed.version) {
    std::printf("quant-sim %s\n", QUANTSIM_VERSION);
    return 0;
  }
  return run_evaluation(parsed.config);
}

}  // namespace quantsim
