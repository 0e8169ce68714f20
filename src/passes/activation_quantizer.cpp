#include "quantsim/passes/activation_quantizer.h"

#include <cmath>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/splitmix64.h"
#include "quantsim/graph/prepared_model.h"

namespace quantsim {
namespace {

// A tensor with any NaN or inf has a non-finite mean (its min and max may still be finite: they skip NaN).
bool finite_values(const ChannelwiseStats* stats) {
  if (stats == nullptr) return true;
  const TensorStats& s = stats->per_tensor;
  return std::isfinite(s.mean) && std::isfinite(s.min) && std::isfinite(s.max);
}

}  // namespace

double range_perturbation(uint64_t seed, int64_t site_id, int ulps) {
  if (ulps <= 0) return 1.0;
  SplitMix64 rng(seed ^ (0xD1B54A32D192ED03ULL * static_cast<uint64_t>(site_id + 1)));
  const auto m = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(2 * ulps + 1)) - ulps;
  return 1.0 + std::ldexp(static_cast<double>(m), -23);
}

int site_bits(const Site& site, const ActivationQuantOptions& options) {
  if (options.bits == 0) return 0;  // --qtype f32 turns every site off, pools and logits included
  if (site.kind == SiteKind::kPoolOutput) return 8;
  return effective_bits(options.bits, options.first_last_bits, site.first_last || site.is_logits);
}

ActivationQuantizer::ActivationQuantizer(const std::vector<Site>& sites, const ActivationQuantOptions& options,
                                         const Statistics* statistics, RangePerturbation perturbation)
    : sites_(sites),
      options_(options),
      perturbation_(perturbation),
      dynamic_(statistics == nullptr),
      statistics_source_(statistics != nullptr ? statistics->source : ""),
      states_(sites.size()) {
  for (const Site& site : sites_) {
    SiteState& state = states_[site.id];
    state.bits = site_bits(site, options_);
    if (dynamic_ || state.bits == 0) continue;
    state.value_stats = &statistics->site(site.name);
    if (site.is_unsigned) state.pre_stats = &statistics->site(site.name + kPreActivationSuffix);
  }
}

TensorQuantRequest ActivationQuantizer::request_for(const Site& site, int bits, bool per_channel) const {
  TensorQuantRequest request;
  request.bits = bits;
  request.per_channel = per_channel;
  request.signedness = site.is_unsigned ? Signedness::kUnsigned : Signedness::kSigned;
  // Pooling sites are never clipped (docs/QUANTIZATION.md, section 2).
  if (site.kind != SiteKind::kPoolOutput) request.clipping = options_.clipping;
  request.bit_allocation = options_.bit_allocation;
  request.stats_kind = options_.stats_kind;
  return request;
}

QuantParams ActivationQuantizer::site_params(const Site& site, int bits, bool per_channel,
                                             const ChannelwiseStats& value, const ChannelwiseStats* pre) const {
  // Static statistics were validated on load; a batch's own may hold NaN, which a range from min/max would hide.
  if (dynamic_ && !(finite_values(&value) && finite_values(pre))) {
    const TensorStats& bad = finite_values(&value) ? pre->per_tensor : value.per_tensor;
    throw UserError(fmt::format("site '{}': the activations of this batch hold NaN or inf (min {}, max {}, mean {}), "
                                "so no dynamic range (-sm no) exists; check the model's weights and the "
                                "preprocessing (--mean/--std)",
                                site.name, bad.min, bad.max, bad.mean));
  }
  try {
    return compute_quant_params(request_for(site, bits, per_channel), value, pre);
  } catch (const UserError& error) {
    if (dynamic_) throw UserError(fmt::format("site '{}' (dynamic range of this batch): {}", site.name, error.what()));
    const std::string file = statistics_source_.empty() ? "statistics" : statistics_source_;
    throw UserError(fmt::format("{}: site '{}': {}", file, site.name, error.what()));
  }
}

void ActivationQuantizer::on_pre_activation(int64_t site_id, const at::Tensor& x) {
  SiteState& state = states_[site_id];
  if (dynamic_ && state.bits != 0) state.batch_pre_stats = dynamic_batch_stats(x);
}

at::Tensor ActivationQuantizer::on_site(int64_t site_id, const at::Tensor& x) {
  SiteState& state = states_[site_id];
  if (state.bits == 0) return x;
  const Site& site = sites_[site_id];
  const bool per_channel = options_.per_channel && site_allows_per_channel(site, x);
  if (dynamic_) {
    const ChannelwiseStats value = dynamic_batch_stats(x);
    state.params = site_params(site, state.bits, per_channel, value,
                               site.is_unsigned ? &state.batch_pre_stats : nullptr);
    state.tensors = {};
  } else if (!state.decided) {
    state.params = site_params(site, state.bits, per_channel, state.value_stats->stats,
                               state.pre_stats ? &state.pre_stats->stats : nullptr);
    if (perturbation_.ulps > 0) {
      const double factor = range_perturbation(perturbation_.seed, site_id, perturbation_.ulps);
      state.params.range.lo *= factor;
      state.params.range.hi *= factor;
      for (float& lo : state.params.lo) lo = static_cast<float>(lo * factor);
      for (float& hi : state.params.hi) hi = static_cast<float>(hi * factor);
    }
    state.decided = true;
  }
  return apply_quant_params(x.contiguous(), state.params, /*axis=*/1, state.tensors);
}

}  // namespace quantsim
