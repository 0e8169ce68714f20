#pragma once
// What one run reads, resolved from the Config: the model file (and its sidecar), the preprocessing, the dataset and
// the images to evaluate or calibrate on.
#include <optional>
#include <string>
#include <vector>

#include "quantsim/config.h"
#include "quantsim/dataset.h"
#include "quantsim/model_sidecar.h"
#include "quantsim/preprocess.h"

namespace quantsim {

struct ModelFile {
  std::string path;
  std::string name;     // -a, else the file's stem
  std::string sha256;
  std::optional<ModelSidecar> sidecar;
};

// --model PATH, else <models-dir>/<arch>.pt. Throws UserError when neither is given or the file is missing.
ModelFile resolve_model_file(const Config& config);

// The images of `data_root` with labels from --synsets, else the sidecar's class-order file, else the dataset's own.
// Throws UserError naming the sidecar when the class-order file it names is not found: sorted folder names would
// give other labels.
Dataset load_labelled_dataset(const std::string& data_root, const Config& config, const ModelFile& model);

// "cpu" or "cuda[:k]": --device, else cuda when LibTorch sees a GPU. Throws UserError for cuda without a GPU.
std::string resolve_device(const Config& config);

}  // namespace quantsim
