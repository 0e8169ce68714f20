#pragma once
// The site handler of the use (-sm use, static ranges from a statistics file) and dynamic (-sm no, ranges from each
// batch itself) passes: fake-quantizes every activation site as docs/QUANTIZATION.md, sections 2-4 say.
#include <cstdint>
#include <string>
#include <vector>

#include "quantsim/graph/activation_site.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/quant/quant_params.h"
#include "quantsim/quant/statistics_store.h"

namespace quantsim {

// Suffix of the statistics entry that holds the pre-activation tensor of an unsigned site.
inline constexpr const char* kPreActivationSuffix = ":pre_relu";

// --stability reruns: each static range's lo/hi scaled by range_perturbation(seed, site, ulps). ulps 0: ranges as
// computed. (Kept beside the quantizer rather than in ActivationQuantOptions: only the activation pass uses it.)
struct RangePerturbation {
  int ulps = 0;
  uint64_t seed = 0;
};

// The factor --stability scales a static site's range by (docs/QUANTIZATION.md, section 15): 1 + m * 2^-23 with m
// uniform in [-ulps, ulps], drawn by splitmix64 from `seed` and the site's id, so that every site moves
// independently and the same seed moves it the same way in every shard and process. 1 when ulps is 0.
double range_perturbation(uint64_t seed, int64_t site_id, int ulps);

// Bits of a site: pooling sites 8 (paper mode), the logits and first/last sites --first-last-bits, others --qtype;
// 0 when activations stay float.
int site_bits(const Site& site, const ActivationQuantOptions& options);

class ActivationQuantizer : public SiteHandler {
 public:
  // `statistics` null: dynamic ranges. Otherwise it must hold every site (and the pre-activation entry of every
  // unsigned site); it must outlive the quantizer.
  ActivationQuantizer(const std::vector<Site>& sites, const ActivationQuantOptions& options,
                      const Statistics* statistics, RangePerturbation perturbation = {});

  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override;
  void on_pre_activation(int64_t site_id, const at::Tensor& x) override;

  // Per site: the bits and, once the site ran with static ranges, the parameters used (for reports).
  struct SiteState {
    int bits = 0;
    bool decided = false;  // static ranges computed (on the first batch, when the tensor's shape is known)
    QuantParams params;
    QuantParamTensors tensors;
    const SiteStatistics* value_stats = nullptr;  // static mode
    const SiteStatistics* pre_stats = nullptr;    // static mode, unsigned sites
    ChannelwiseStats batch_pre_stats;             // dynamic mode, unsigned sites: this batch's pre-activation
  };
  const std::vector<SiteState>& states() const { return states_; }

  // What compute_quant_params is asked for at `site` (public for reports that re-derive clipping values).
  TensorQuantRequest request_for(const Site& site, int bits, bool per_channel) const;

 private:
  // compute_quant_params for `site`; its UserError (a non-finite range, an unusable statistic) is rethrown naming
  // the site and the statistics file (or the batch, for dynamic ranges). Dynamic ranges of a batch whose activations
  // hold NaN or inf are refused first, naming the site.
  QuantParams site_params(const Site& site, int bits, bool per_channel, const ChannelwiseStats& value,
                          const ChannelwiseStats* pre) const;

  const std::vector<Site>& sites_;
  const ActivationQuantOptions options_;
  const RangePerturbation perturbation_;
  const bool dynamic_;
  const std::string statistics_source_;  // the statistics file, for errors; empty for dynamic ranges
  std::vector<SiteState> states_;
};

}  // namespace quantsim
