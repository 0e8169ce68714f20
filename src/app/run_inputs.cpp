#include "quantsim/app/run_inputs.h"

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <torch/cuda.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/sha256.h"
#include "quantsim/data/shard.h"

namespace quantsim {
namespace fs = std::filesystem;

namespace {

// The class-order file a sidecar names, found beside the data or the model (see resolve_class_order_file). A file
// that is named but not found stops the run: falling back to the folder order would give wrong labels silently.
std::string sidecar_class_order_file(const ModelSidecar& sidecar, const std::string& data_root,
                                     const std::string& model_path) {
  const std::string model_dir = fs::path(model_path).parent_path().string();
  const std::string found = resolve_class_order_file(sidecar.class_order_file, {data_root, model_dir});
  if (found.empty()) {
    throw UserError(fmt::format("{}: output.class_order_file '{}' not found beside the data ({}) or the model ({}), "
                                "nor in a folder above them; fix the sidecar or give --synsets",
                                sidecar.path, sidecar.class_order_file, data_root,
                                model_dir.empty() ? "." : model_dir));
  }
  return found;
}

// The class names the run's labels would come from (--synsets, else the sidecar's class-order file when it is found
// here) must be the cache's: its labels are line numbers in them.
void check_cache_class_order(const ImageCache& cache, const Config& config, const ModelFile& model) {
  std::string file = config.synsets;
  if (file.empty() && model.sidecar && !model.sidecar->class_order_file.empty()) {
    file = resolve_class_order_file(model.sidecar->class_order_file,
                                    {cache.info().data_root, fs::path(model.path).parent_path().string()});
  }
  if (file.empty() || read_class_order(file) == cache.info().class_names) return;
  throw UserError(
      fmt::format("{}: its labels follow another class order ({}) than {}; rebuild the cache with this "
                  "model or --synsets",
                  cache.path(),
                  cache.info().class_order_file.empty() ? "sorted folder names" : cache.info().class_order_file, file));
}

}  // namespace

RunData load_run_data(const std::string& path, const Config& config, const ModelFile& model,
                      const PreprocessSpec& spec) {
  if (!is_image_cache_file(path)) return {load_labelled_dataset(path, config, model), nullptr};
  std::shared_ptr<const ImageCache> cache = ImageCache::open(path);
  check_image_cache_preprocess(*cache, spec);
  if (check_image_cache_sources(*cache) == SourceCheck::kSourcesAbsent) {
    std::fprintf(stderr,
                 "quant-sim: note: %s: its source folder %s is not here; the cache was not checked against "
                 "its images\n",
                 path.c_str(), cache->info().data_root.c_str());
  }
  check_cache_class_order(*cache, config, model);
  return {cache->dataset(), cache};
}

EvaluationInputs evaluation_inputs(const Config& config, const ModelFile& model) {
  const PreprocessSpec spec = resolve_preprocess(model.sidecar, config.preprocess);
  RunData data = load_run_data(config.data, config, model, spec);
  std::vector<LabeledImage> images =
      data.cache ? select_cached_images(*data.cache, config.subset, config.shuffle, config.seed)
                 : select_images(data.dataset.images, config.subset, config.shuffle, config.seed);
  if (config.shard) images = take_shard(std::move(images), *config.shard);
  const std::string root = data.dataset.root;
  return {std::move(data.dataset), ImageSet{root, std::move(images), spec, data.cache}};
}

ModelFile resolve_model_file(const Config& config) {
  ModelFile model;
  if (!config.model_path.empty()) {
    model.path = config.model_path;
  } else if (!config.arch.empty()) {
    model.path = (fs::path(config.models_dir) / (config.arch + ".pt")).string();
  } else {
    throw UserError("no model given: use -a NAME (reads <models-dir>/NAME.pt) or --model PATH");
  }
  std::error_code ec;  // a link loop or dangling link exists: sha256_file says what it is
  if (!fs::exists(fs::symlink_status(model.path, ec))) {
    throw UserError(fmt::format("{}: model file not found", model.path));
  }
  if (fs::is_directory(model.path, ec)) throw UserError(fmt::format("{}: is a folder, not a model file", model.path));
  model.name = config.arch.empty() ? fs::path(model.path).stem().string() : config.arch;
  model.sha256 = sha256_file(model.path);
  model.sidecar = read_model_sidecar(model.path);
  return model;
}

Dataset load_labelled_dataset(const std::string& data_root, const Config& config, const ModelFile& model) {
  DatasetOptions options;
  if (!config.synsets.empty()) {
    options.class_order_file = config.synsets;
  } else if (model.sidecar && !model.sidecar->class_order_file.empty()) {
    options.class_order_file = sidecar_class_order_file(*model.sidecar, data_root, model.path);
  }
  return load_dataset(data_root, options);
}

std::string resolve_device(const Config& config) {
  if (config.device.empty()) return torch::cuda::is_available() ? "cuda" : "cpu";
  if (config.device.rfind("cuda", 0) == 0 && !torch::cuda::is_available()) {
    throw UserError(fmt::format("--device {}: no CUDA device is available to this build of quant-sim", config.device));
  }
  return config.device;
}

ImageSet calibration_images(const Config& config, const ModelFile& model, std::optional<int64_t> count,
                            const std::string& flag) {
  const PreprocessSpec spec = resolve_preprocess(model.sidecar, config.preprocess);
  const RunData data = load_run_data(config.calib_data.empty() ? config.data : config.calib_data, config, model, spec);
  return {data.dataset.root,
          data.cache ? select_cached_images(*data.cache, count, config.shuffle, config.seed, flag)
                     : select_images(data.dataset.images, count, config.shuffle, config.seed, flag),
          spec, data.cache};
}

}  // namespace quantsim
