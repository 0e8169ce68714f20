// `quant-sim cache build`: decodes a dataset once into an image cache (docs/CACHE.md).
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "quantsim/app/run_inputs.h"
#include "quantsim/app/runs.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/stopwatch.h"
#include "quantsim/data/image_cache.h"
#include "quantsim/data/model_sidecar.h"

namespace quantsim {

ImageCacheSummary run_cache_build(const Config& config, const std::string& out) {
  const auto start = std::chrono::steady_clock::now();
  // The model only lends its sidecar (preprocessing, class order): a cache build never loads the network.
  ModelFile model;
  if (!config.model_path.empty() || !config.arch.empty()) model = resolve_model_file(config);
  if (is_image_cache_file(config.data)) {
    throw UserError(fmt::format("--data {}: is an image cache; cache build reads an image folder", config.data));
  }
  ImageCacheBuild build;
  build.data_arg = config.data;
  build.dataset = model.path.empty() ? load_dataset(config.data, DatasetOptions{config.synsets, ""})
                                     : load_labelled_dataset(config.data, config, model);
  build.spec = resolve_preprocess(model.sidecar, config.preprocess);
  const int64_t total = static_cast<int64_t>(build.dataset.images.size());
  build.selection.dataset_images = total;
  if (config.subset && *config.subset < total) {
    // A head of the run's selection: runs with the same -sh/--seed and at most this -ss read it.
    build.images = select_images(build.dataset.images, config.subset, config.shuffle, config.seed);
    build.selection.subset = config.subset;
    build.selection.shuffle = config.shuffle;
    build.selection.seed = config.seed;
  } else {
    if (config.subset) select_images(build.dataset.images, config.subset, false, 0);  // refuses -ss 0
    build.images = build.dataset.images;  // the whole dataset in canonical order serves every -ss/-sh
  }
  build.batch_size = config.batch_size;
  build.workers = config.workers;
  build.progress = config.progress;
  std::fprintf(stderr, "quant-sim: caching %zu images of %s (%s)\n", build.images.size(), build.dataset.root.c_str(),
               describe(build.spec).c_str());
  const ImageCacheSummary summary = write_image_cache(out, build);
  const double seconds = seconds_since(start);
  if (summary.bad_images > 0) {
    std::fprintf(stderr,
                 "quant-sim: warning: %lld of %lld images could not be decoded; the cache records them, and runs "
                 "apply --max-bad-images to them\n",
                 static_cast<long long>(summary.bad_images), static_cast<long long>(summary.images));
  }
  std::printf("cached %lld images of %dx%d from %s in %.1f s (%.1f images/s): %s, %.2f GB\n",
              static_cast<long long>(summary.images), summary.width, summary.height, build.dataset.root.c_str(),
              seconds, seconds > 0 ? static_cast<double>(summary.images) / seconds : 0.0, out.c_str(),
              static_cast<double>(summary.bytes) / 1e9);
  return summary;
}

}  // namespace quantsim
