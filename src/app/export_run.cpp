#include "quantsim/app/export_run.h"

#include <cstdio>

#include <fmt/format.h>

#include "quantsim/app/config_json.h"
#include "quantsim/app/run_options.h"
#include "quantsim/export/integer_parameters.h"
#include "quantsim/export/model_export.h"

namespace quantsim {

void export_for_run(const Config& config, const ModelFile& source, const PreparedModel& model,
                    ActivationQuantizer& activations, const std::vector<QuantizedWeight>& weights,
                    const at::Tensor& probe, const IntegerProgram* program) {
  nlohmann::json settings = config_to_json(config);
  settings["precision"] = precision_label(config);
  const ExportInputs inputs{source, model,   activations, weights, weight_quant_options(config).corrections,
                            probe,  settings};
  const std::vector<LayerSize> sizes = export_quantized_model(config.export_path, inputs);
  const ExportPaths paths = export_paths(config.export_path);
  if (program != nullptr) export_integer_parameters(config.export_path, model, *program, probe);
  std::printf("exported %s and %s (%s%s)\n%s", paths.model.c_str(), paths.weights_bin.c_str(),
              precision_label(config).c_str(),
              program != nullptr ? fmt::format(", integer parameters in {}", paths.weights_index).c_str() : "",
              format_size_report(sizes).c_str());
  std::fflush(stdout);
}

}  // namespace quantsim
