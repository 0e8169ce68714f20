#include <chrono>
#include <cstdio>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include "quantsim/app/model_checks.h"
#include "quantsim/app/run_inputs.h"
#include "quantsim/app/run_options.h"
#include "quantsim/app/runs.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/stopwatch.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/statistics_collector.h"

namespace quantsim {
namespace {

using Clock = std::chrono::steady_clock;

// The public code calibrates on up to 5120 images.
constexpr int64_t kDefaultCalibrationImages = 5120;
// Decoded calibration batches are kept for the exact second pass when they fit in this many bytes; above it the
// images are decoded again.
constexpr int64_t kCalibrationCacheBytes = int64_t{2} << 30;

struct CalibrationPasses {
  int64_t images = 0;
  double first_pass_s = 0.0;
  double second_pass_s = 0.0;
};

void run_batch(PreparedModel& model, const at::Tensor& images) { model.forward(images.to(model.device())); }

CalibrationPasses run_both_passes(PreparedModel& model, StatisticsCollector& collector, const ImageSet& images,
                                  const Config& config, const std::string& device) {
  CalibrationPasses passes;
  std::vector<at::Tensor> cache;
  int64_t cached_bytes = 0;
  bool cache_complete = true;
  ScopedSiteHandler scope(collector);
  auto start = Clock::now();
  {
    const std::unique_ptr<BatchSource> loader = read_batches(
        images,
        {config.batch_size, config.workers, 2, config.progress, "collect 1/2", PreprocessOutput::kNormalized, device});
    while (auto batch = loader->next()) {
      run_batch(model, batch->images);
      passes.images += batch->images.size(0);
      cached_bytes += batch->images.numel() * static_cast<int64_t>(sizeof(float));
      cache_complete = cache_complete && cached_bytes <= kCalibrationCacheBytes;
      if (cache_complete) cache.push_back(batch->images);
    }
    check_bad_images(*loader, config.max_bad_image_share);
  }
  passes.first_pass_s = seconds_since(start);
  collector.start_second_pass();
  start = Clock::now();
  if (cache_complete) {
    for (const at::Tensor& batch : cache) run_batch(model, batch);
  } else {
    cache.clear();
    const std::unique_ptr<BatchSource> loader = read_batches(
        images,
        {config.batch_size, config.workers, 2, config.progress, "collect 2/2", PreprocessOutput::kNormalized, device});
    while (auto batch = loader->next()) run_batch(model, batch->images);
  }
  passes.second_pass_s = seconds_since(start);
  return passes;
}

}  // namespace

int run_collect(const Config& config) {
  const ModelFile model = resolve_model_file(config);
  check_write_destination(statistics_path(config.stats_dir, model.name, config.act_sites));  // before hours of passes
  const std::string device = resolve_device(config);
  const ImageSet calibration = calibration_images(config, model, config.calib_size.value_or(kDefaultCalibrationImages),
                                                  "-cs");
  const std::vector<LabeledImage>& images = calibration.images;

  torch::InferenceMode inference;
  PreparedModel prepared = PreparedModel::load(model.path, prepare_options(config));
  prepared.to(torch::Device(device));
  check_model_classes(model, prepared.forward(first_decodable_image(calibration).to(prepared.device())).to(at::kCPU));
  std::fprintf(stderr, "quant-sim: collecting statistics of %s (%zu sites, act-sites %s) on %s: %zu images\n",
               model.name.c_str(), prepared.sites().size(), to_string(config.act_sites).c_str(),
               calibration.root.c_str(), images.size());

  StatisticsCollector collector(prepared.sites());
  const CalibrationPasses passes = run_both_passes(prepared, collector, calibration, config, device);
  if (passes.images == 0) throw UserError(fmt::format("{}: no calibration image could be decoded", calibration.root));

  Statistics statistics;
  statistics.metadata.model_sha256 = model.sha256;
  statistics.metadata.model_path = model.path;
  statistics.metadata.arch = model.name;
  statistics.metadata.act_sites = to_string(config.act_sites);
  statistics.metadata.calib_data = calibration.root;
  statistics.metadata.calib_images = passes.images;
  statistics.metadata.batch_size = config.batch_size;
  statistics.metadata.cross_layer_equalization = config.cross_layer_equalization;
  statistics.sites = collector.finish();
  const std::string path = statistics_path(config.stats_dir, model.name, config.act_sites);
  save_statistics(statistics, path);
  std::printf("collected statistics of %zu sites over %lld images in %.1f s + %.1f s: %s\n", statistics.sites.size(),
              static_cast<long long>(passes.images), passes.first_pass_s, passes.second_pass_s, path.c_str());
  return 0;
}

}  // namespace quantsim
