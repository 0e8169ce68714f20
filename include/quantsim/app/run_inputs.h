#pragma once
// What one run reads, resolved from the Config: the model file (and its sidecar), the preprocessing, the dataset and
// the images to evaluate or calibrate on.
#include <optional>
#include <string>
#include <vector>

#include "quantsim/app/config.h"
#include "quantsim/data/dataset.h"
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

// "cpu" or "cuda[:k]": --device, else cuda when LibTorch sees a GPU. Throws UserError for cuda without a GPU.
std::string resolve_device(const Config& config);

// The calibration images of this run: the first `count` (all when unset) of --calib-data, else --data, in the
// evaluation's order (the seeded permutation with -sh), with their preprocessing. What -sm collect and GPFQ learn
// from; `flag` names the count in errors.
ImageSet calibration_images(const Config& config, const ModelFile& model, std::optional<int64_t> count,
                            const std::string& flag);

}  // namespace quantsim
