#pragma once
// The model file a run loads, as the run resolved it (app/run_inputs.h), with its sidecar when it has one.
#include <optional>
#include <string>

#include "quantsim/data/model_sidecar.h"

namespace quantsim {

struct ModelFile {
  std::string path;
  std::string name;  // -a, else the file's stem
  std::string sha256;
  std::optional<ModelSidecar> sidecar;
};

}  // namespace quantsim
