#include "quantsim/activation_quantizer.h"

#include "quantsim/prepared_model.h"

namespace quantsim {

int site_bits(const Site& site, const ActivationQuantOptions& options) {
  if (options.bits == 0) return 0;  // --qtype f32 turns every site off, pools and logits included
  if (site.kind == SiteKind::kPoolOutput) return 8;
  return effective_bits(options.bits, options.first_last_bits, site.first_last || site.is_logits);
}

ActivationQuantizer::ActivationQuantizer(const std::vector<Site>& sites, const ActivationQuantOptions& options,
                                         const Statistics* statistics)
    : sites_(sites), options_(options), dynamic_(statistics == nullptr), states_(sites.size()) {
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
  // Pooling sites are never clipped (SPEC section 2).
  if (site.kind != SiteKind::kPoolOutput) request.clipping = options_.clipping;
  request.bit_allocation = options_.bit_allocation;
  request.stats_kind = options_.stats_kind;
  return request;
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
    state.params = compute_quant_params(request_for(site, state.bits, per_channel), value,
                                        site.is_unsigned ? &state.batch_pre_stats : nullptr);
    state.tensors = {};
  } else if (!state.decided) {
    state.params = compute_quant_params(request_for(site, state.bits, per_channel), state.value_stats->stats,
                                        state.pre_stats ? &state.pre_stats->stats : nullptr);
    state.decided = true;
  }
  return apply_quant_params(x.contiguous(), state.params, /*axis=*/1, state.tensors);
}

}  // namespace quantsim
