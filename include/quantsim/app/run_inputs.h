#pragma once
// What one run reads, resolved from the Config: the model file (and its sidecar), the preprocessing, the dataset and
// the images to evaluate or calibrate on.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quantsim/app/config.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/image_cache.h"
#include "quantsim/data/image_set.h"
#include "quantsim/data/model_file.h"
#include "quantsim/data/preprocess.h"

namespace quantsim {

// --model PATH, else <models-dir>/<arch>.pt. Throws UserError when neither is given or the file is missing.
ModelFile resolve_model_file(const Config& config);

// The images of `data_root` with labels from --synsets, else the sidecar's class-order file, else the dataset's own.
// Throws UserError naming the sidecar when the class-order file it names is not found: sorted folder names would
// give other labels.
Dataset load_labelled_dataset(const std::string& data_root, const Config& config, const ModelFile& model);

// The images a --data or --calib-data path names, labelled: an image folder (load_labelled_dataset), or an image cache
// (image_cache.h, told by its magic bytes) checked against this run: its resize/crop/interpolation must be `spec`'s,
// its sources unchanged when their folder exists here (a note says so when it does not), and its class names those
// of --synsets or of the sidecar's class-order file when that file is found. UserError otherwise.
struct RunData {
  Dataset dataset;
  std::shared_ptr<const ImageCache> cache;  // null for an image folder
};
RunData load_run_data(const std::string& path, const Config& config, const ModelFile& model,
                      const PreprocessSpec& spec);

// The evaluation images of this run: --data, then -ss/-sh/--seed and --shard, with the preprocessing.
struct EvaluationInputs {
  Dataset dataset;
  ImageSet images;
};
EvaluationInputs evaluation_inputs(const Config& config, const ModelFile& model);

// "cpu" or "cuda[:k]": --device, else cuda when LibTorch sees a GPU. Throws UserError for cuda without a GPU.
std::string resolve_device(const Config& config);

// The calibration images of this run: the first `count` (all when unset) of --calib-data, else --data, in the
// evaluation's order (the seeded permutation with -sh), with their preprocessing. What -sm collect and GPFQ learn
// from; `flag` names the count in errors.
ImageSet calibration_images(const Config& config, const ModelFile& model, std::optional<int64_t> count,
                            const std::string& flag);

}  // namespace quantsim
