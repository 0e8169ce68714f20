#pragma once
// --layer-report FILE: for every activation site and every conv/linear weight, the range and bit
// widths it was quantized with and its error against FP32. FILE's extension picks the format: .json (one object,
// an "entries" array) or .csv (one row per entry, header first). Definitions: docs/QUANTIZATION.md.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/quant/quant_params_summary.h"

namespace quantsim {

struct ErrorFigures {
  double mse = 0.0;
  std::optional<double> sqnr_db;  // nullopt: infinite (no error) or undefined (zero reference)
};

struct LayerReportEntry {
  std::string kind;   // "activation" or "weight"
  std::string name;   // the site's or layer's stable name
  int64_t index = 0;  // Site::id or Layer::index
  std::string
      type;  // activation: the site kind ("layer_output", "pool_output", "layer_input"); weight: "conv"/"linear"
  bool is_unsigned = false;                  // activation sites after a ReLU-like op
  int bits = 0;                              // the nominal bit width; 0: left float
  std::optional<QuantParamsSummary> params;  // nullopt when left float
  // Activations: the site's tensor in the quantized network against the same site in the FP32 network (the error
  // accumulated up to and including this site). Weights: the weight computed with against the FP32 weight.
  ErrorFigures error;
  // Activations: this site's quantizer alone, Q(x) against x. Weights: the same as `error`.
  ErrorFigures local_error;
  int64_t values = 0;  // how many values `error` sums over
};

struct LayerReport {
  std::string model;  // model file path
  std::string model_sha256;
  std::string precision;                  // "W4A4"...
  std::string act_sites;                  // "outputs" or "inputs"
  std::string ranges;                     // "static" or "dynamic"
  int64_t images = 0;                     // images the activation figures cover
  std::vector<LayerReportEntry> entries;  // activation sites in site order, then weights in layer order
};

enum class LayerReportFormat { kJson, kCsv };

// The format of FILE from its extension (case-insensitive); UserError for anything but .json and .csv.
LayerReportFormat layer_report_format(const std::string& path);

nlohmann::ordered_json layer_report_json(const LayerReport& report);  // keys in CSV column order
// Columns as the JSON entry keys; empty cells for null; bits_histogram as "2:10;4:54".
std::string layer_report_csv(const LayerReport& report);

// Writes `report` to `path` atomically in the format of its extension.
void write_layer_report(const std::string& path, const LayerReport& report);

}  // namespace quantsim
