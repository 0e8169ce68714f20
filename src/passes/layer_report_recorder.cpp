#include "quantsim/passes/layer_report_recorder.h"

#include <algorithm>
#include <stdexcept>

#include "quantsim/quant/weight_quantization.h"

namespace quantsim {
namespace {

ErrorFigures figures(const QuantErrorAccumulator& error) { return {error.mse(), error.sqnr_db()}; }

// The FP32 twin of `quantized`: same file and site mode, so the same sites in the same order.
PreparedModel load_reference(const PreparedModel& quantized) {
  PreparedModel reference = PreparedModel::load(quantized.path(), quantized.options());
  reference.to(quantized.device());
  const std::vector<Site>& a = reference.sites();
  const std::vector<Site>& b = quantized.sites();
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i >= a.size() || i >= b.size() || a[i].name != b[i].name) {
      throw std::logic_error("layer report: the FP32 reference model has other sites than the quantized one");
    }
  }
  return reference;
}

// The ranges and bits are those the run's weight quantizer used (`quantized`); the error is measured on the weight
// the model really computes with (`used`), against FP32 (its local error is the same: nothing upstream changes a
// weight). Clipping (alpha) exists only for round-to-nearest with --clip-weights.
LayerReportEntry weight_entry(const Layer& layer, const QuantizedWeight& quantized, const at::Tensor& used,
                              const WeightQuantOptions& options, bool round_to_nearest) {
  LayerReportEntry entry;
  entry.kind = "weight";
  entry.name = layer.name;
  entry.index = layer.index;
  entry.type = to_string(layer.kind);
  entry.bits = quantized.bits;
  if (quantized.bits != 0) {
    entry.params = summarize_quant_params(quantized.params);
    if (round_to_nearest) {
      summarize_clipping(*entry.params, weight_quant_request(quantized.params.bits, options), quantized.params,
                         weight_statistics(layer.original_weight), nullptr);
    }
  }
  QuantErrorAccumulator error;
  error.add(layer.original_weight, used);
  entry.error = figures(error);
  entry.local_error = entry.error;
  entry.values = error.count();
  return entry;
}

}  // namespace

LayerReportRecorder::LayerReportRecorder(const LayerReportOptions& options, const ModelFile& model,
                                         const PreparedModel& quantized, ActivationQuantizer& quantizer,
                                         const std::vector<QuantizedWeight>& weights)
    : quantized_(quantized),
      quantizer_(quantizer),
      dynamic_(options.dynamic_ranges),
      reference_(load_reference(quantized)),
      reference_values_(quantized.sites().size()),
      sites_(quantized.sites().size()) {
  header_.model = model.path;
  header_.model_sha256 = model.sha256;
  header_.precision = options.precision;
  header_.act_sites = to_string(options.act_sites);
  header_.ranges = dynamic_ ? "dynamic" : "static";
  for (const Layer& layer : quantized.layers()) {
    weight_entries_.push_back(weight_entry(layer, weights.at(layer.index), quantized.layer_weight(layer.index),
                                           options.weights, options.round_to_nearest));
  }
}

at::Tensor LayerReportRecorder::forward(const at::Tensor& input) {
  {
    ScopedSiteHandler scope(reference_values_);
    reference_.forward(input);
  }
  header_.images += input.size(0);
  at::Tensor logits;
  {
    ScopedSiteHandler scope(*this);
    logits = quantized_.forward(input);
  }
  reference_values_.clear();
  return logits;
}

void LayerReportRecorder::reset() {
  header_.images = 0;
  sites_.assign(sites_.size(), SiteRecord());
}

void LayerReportRecorder::on_pre_activation(int64_t site_id, const at::Tensor& x) {
  quantizer_.on_pre_activation(site_id, x);
}

at::Tensor LayerReportRecorder::on_site(int64_t site_id, const at::Tensor& x) {
  const at::Tensor q = quantizer_.on_site(site_id, x);
  SiteRecord& record = sites_.at(static_cast<size_t>(site_id));
  record.error.add(reference_values_.take(site_id), q);
  record.local_error.add(x, q);
  // Static ranges are decided once; dynamic ones change with every batch.
  const bool quantized = quantizer_.states()[site_id].bits != 0;
  if (quantized && (dynamic_ || record.params.empty())) {
    record.params.add(summarize_site(quantized_.sites()[site_id], x));
  }
  return q;
}

// The parameters the quantizer just used at `site`, whose input was `x`; alpha from the same statistics it used.
QuantParamsSummary LayerReportRecorder::summarize_site(const Site& site, const at::Tensor& x) const {
  const ActivationQuantizer::SiteState& state = quantizer_.states()[site.id];
  QuantParamsSummary summary = summarize_quant_params(state.params);
  const TensorQuantRequest request = quantizer_.request_for(site, state.bits, state.params.per_channel);
  if (request.clipping.kind == Clipping::Kind::kNone) return summary;
  if (dynamic_) {
    summarize_clipping(summary, request, state.params, dynamic_batch_stats(x),
                       site.is_unsigned ? &state.batch_pre_stats : nullptr);
  } else {
    summarize_clipping(summary, request, state.params, state.value_stats->stats,
                       state.pre_stats != nullptr ? &state.pre_stats->stats : nullptr);
  }
  return summary;
}

LayerReport LayerReportRecorder::report() const {
  LayerReport report = header_;
  for (const Site& site : quantized_.sites()) {
    const SiteRecord& record = sites_[site.id];
    LayerReportEntry entry;
    entry.kind = "activation";
    entry.name = site.name;
    entry.index = site.id;
    entry.type = to_string(site.kind);
    entry.is_unsigned = site.is_unsigned;
    entry.bits = quantizer_.states()[site.id].bits;
    if (!record.params.empty()) entry.params = record.params.mean();
    entry.error = figures(record.error);
    entry.local_error = figures(record.local_error);
    entry.values = record.error.count();
    report.entries.push_back(std::move(entry));
  }
  report.entries.insert(report.entries.end(), weight_entries_.begin(), weight_entries_.end());
  return report;
}

}  // namespace quantsim
