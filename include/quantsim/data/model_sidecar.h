#pragma once
// The JSON file next to a model (<model>.json beside <model>.pt): its preprocessing and output description.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quantsim/data/preprocess.h"

namespace quantsim {

struct ModelSidecar {
  std::string path;                    // the JSON file read
  PreprocessSpec preprocess;           // "preprocess" keys; missing keys keep torchvision's defaults, null means none
  std::optional<int64_t> num_classes;  // "output.num_classes"
  std::string class_order_file;        // "output.class_order_file" as written in the JSON (often relative)
};

// "<dir>/<stem>.json" for "<dir>/<stem>.pt" (any extension).
std::string sidecar_path_for(const std::string& model_path);

// Reads the sidecar of `model_path`; std::nullopt when there is none. Throws UserError naming the JSON file and the
// field when it exists but is malformed: a field of the wrong type ("output" not an object, a class-order file that
// is not a string), a size outside 0..kMaxImageSide, a non-positive std. A null field counts as absent.
std::optional<ModelSidecar> read_model_sidecar(const std::string& model_path);

// The preprocessing a run uses: overrides on top of the sidecar's, or on top of torchvision's defaults.
PreprocessSpec resolve_preprocess(const std::optional<ModelSidecar>& sidecar, const PreprocessOverrides& overrides);

// Finds a class-order file named relative to some folder. Sidecars write it relative to the data collection
// ("imagenet/synsets.txt"), so an absolute path is used as is, and a relative one is tried against each anchor
// folder and then each of its parents in turn (typically the data root, e.g. .../imagenet/val1300, and the
// sidecar's folder, e.g. .../models); the first existing file wins. Empty string when none exists.
std::string resolve_class_order_file(const std::string& name, const std::vector<std::string>& anchor_dirs);

}  // namespace quantsim
