#pragma once
// The option structs of the lower layers, filled from a run's Config: the quantizers', GPFQ's and the layer
// report's. The lower layers never see a Config; this is where its fields are read for them.
#include "quantsim/app/config.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/adaround_weights.h"
#include "quantsim/passes/gpfq_weights.h"
#include "quantsim/passes/layer_report_recorder.h"
#include "quantsim/quant/quant_options.h"

namespace quantsim {

// How the model is prepared: --act-sites, and --output (which element of the model's output is the logits).
PrepareOptions prepare_options(const Config& config);
ActivationQuantOptions activation_quant_options(const Config& config);
WeightQuantOptions weight_quant_options(const Config& config);
GpfqOptions gpfq_options(const Config& config);
AdaRoundRunOptions adaround_options(const Config& config);
LayerReportOptions layer_report_options(const Config& config);

// Short name of a configuration for humans: "FP32", "W4A4", "W8A32"...
std::string precision_label(const Config& config);

}  // namespace quantsim
