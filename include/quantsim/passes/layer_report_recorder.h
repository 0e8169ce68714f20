#pragma once
// Measures a quantized evaluation for --layer-report. Each batch first goes through an FP32 copy of the prepared
// model, whose site values are kept (SiteValueRecorder); then through the quantized model with this recorder
// installed as the site handler: it lets the run's ActivationQuantizer quantize every site and compares the result
// with the site's input (local error) and with the FP32 network's value of the site (accumulated error). Weights
// are measured once, at construction. Only runs with --layer-report pay for the second forward and the memory of
// one batch's site values.
//
//   LayerReportRecorder recorder(options, model_file, quantized_model, quantizer, weights);  // weights already set
//   logits = recorder.forward(batch);                                               // for every batch
//   write_layer_report(config.layer_report, recorder.report());
#include <cstdint>
#include <vector>

#include "quantsim/data/model_file.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/passes/layer_report.h"
#include "quantsim/passes/site_value_recorder.h"
#include "quantsim/quant/quant_error.h"
#include "quantsim/quant/quant_options.h"
#include "quantsim/quant/quant_params_summary.h"
#include "quantsim/quant/weight_quantization.h"

namespace quantsim {

// What the report says about the run, and how its weights were quantized (to measure each layer's weight error).
struct LayerReportOptions {
  std::string precision;  // "W4A4", ...
  ActSites act_sites = ActSites::kOutputs;
  bool dynamic_ranges = false;   // -sm no: activation ranges change with every batch
  WeightQuantOptions weights;    // the round-to-nearest weight quantizer's settings
  bool round_to_nearest = true;  // false: the weights came from GPFQ or AdaRound
};

class LayerReportRecorder : public SiteHandler {
 public:
  // `quantized` (its weights already set) and `quantizer` (its activation quantizer) must outlive the recorder;
  // `weights`: what the run's weight quantizer produced for each layer (ranges, bits), by layer index.
  LayerReportRecorder(const LayerReportOptions& options, const ModelFile& model, const PreparedModel& quantized,
                      ActivationQuantizer& quantizer, const std::vector<QuantizedWeight>& weights);

  // The quantized model's logits for `input` (on the model's device), measuring every site on the way.
  at::Tensor forward(const at::Tensor& input);
  // Forgets the activation measurements so far (e.g. of a probe image); the weights' stay.
  void reset();

  LayerReport report() const;

  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override;
  void on_pre_activation(int64_t site_id, const at::Tensor& x) override;

 private:
  struct SiteRecord {
    QuantErrorAccumulator error;        // against the FP32 network
    QuantErrorAccumulator local_error;  // against the site's own input
    QuantParamsSummaryMean params;      // static ranges: the one set used; dynamic: one per batch
  };
  QuantParamsSummary summarize_site(const Site& site, const at::Tensor& x) const;

  const PreparedModel& quantized_;
  ActivationQuantizer& quantizer_;
  const bool dynamic_;
  LayerReport header_;  // everything but the entries
  PreparedModel reference_;
  SiteValueRecorder reference_values_;
  std::vector<SiteRecord> sites_;
  std::vector<LayerReportEntry> weight_entries_;
};

}  // namespace quantsim
