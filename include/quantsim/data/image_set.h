#pragma once
// The images one pass of a run reads, and how each becomes a tensor.
#include <string>
#include <vector>

#include "quantsim/data/dataset.h"
#include "quantsim/data/preprocess.h"

namespace quantsim {

struct ImageSet {
  std::string root;                  // the dataset folder, for messages
  std::vector<LabeledImage> images;  // in the order they are read
  PreprocessSpec spec;
};

}  // namespace quantsim
