#pragma once
// --export PATH: the quantized model of a -sm use run (or of a weights-only run) saved twice:
//   PATH                     TorchScript: quantized weights folded in, activation fake-quant ops with their static
//                            ranges as constants; `quant-sim --model PATH` (an FP32 run) computes the same logits.
//   <stem>.qweights.bin/json the integer weights packed at their bit widths (quantized_weights_file.h).
//   <stem>.json              the source model's sidecar (preprocessing, classes), when it has one.
// and a size report (size_report.h) of FP32 against quantized bytes.
#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "quantsim/data/model_file.h"
#include "quantsim/export/size_report.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/quant/weight_correction.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

struct ExportPaths {
  std::string model;          // PATH
  std::string weights_bin;    // <dir>/<stem>.qweights.bin
  std::string weights_index;  // <dir>/<stem>.qweights.json
  std::string sidecar;        // <dir>/<stem>.json
};
ExportPaths export_paths(const std::string& path);

struct ExportInputs {
  const ModelFile& source;                      // the model file the run loaded
  const PreparedModel& model;                   // with its quantized weights set
  ActivationQuantizer& activations;             // static ranges (or every site float)
  const std::vector<QuantizedWeight>& weights;  // one per layer, as set in `model`
  WeightCorrections corrections;                // those the weights were quantized with
  at::Tensor probe;                             // one input batch: runs once so that every site fixes its parameters
  nlohmann::json settings;                      // recorded in the index and the sidecar
};

// Writes the files (atomically) and returns the size report's rows. Throws UserError for a path that would
// overwrite the source model, or a quantized site without a static range.
std::vector<LayerSize> export_quantized_model(const std::string& path, const ExportInputs& inputs);

}  // namespace quantsim
