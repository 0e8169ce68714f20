#pragma once
// A run's --export: the quantized model written with the run's settings (export/model_export.h), then its size report
// on stdout. With --arith int (`program` given) the weights index also gets the integer parameters of the program
// (export/integer_parameters.h).
#include <vector>

#include <ATen/core/Tensor.h>

#include "quantsim/app/config.h"
#include "quantsim/data/model_file.h"
#include "quantsim/graph/integer_execution.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

void export_for_run(const Config& config, const ModelFile& source, const PreparedModel& model,
                    ActivationQuantizer& activations, const std::vector<QuantizedWeight>& weights,
                    const at::Tensor& probe, const IntegerProgram* program = nullptr);

}  // namespace quantsim
