#pragma once
// The range(s) and bit width(s) with which one tensor is fake-quantized, computed from its statistics with ACIQ
// clipping (docs/QUANTIZATION.md, section 2) and per-channel bit allocation (docs/QUANTIZATION.md, section 3). Shared
// by weights and activations, static (-sm use) and dynamic (-sm no) ranges.
#include <vector>

#include <ATen/core/Tensor.h>

#include "quantsim/quant/clipping.h"
#include "quantsim/quant/quant_options.h"
#include "quantsim/quant/stats_accumulator.h"

namespace quantsim {

struct QuantParams {
  bool per_channel = false;
  int bits = 0;                   // per tensor: the bit width; per channel: the target before allocation
  ClipRange range;                // per tensor
  std::vector<float> lo, hi;      // per channel
  std::vector<int> channel_bits;  // per channel (after bit allocation, if any)
};

struct TensorQuantRequest {
  int bits = 8;
  bool per_channel = false;
  Signedness signedness = Signedness::kSigned;
  Clipping clipping;  // kNone: the full [min, max]
  BitAllocationOptions bit_allocation;
  StatsKind stats_kind = StatsKind::kMean;
};

// `value`: statistics of the tensor that is quantized. `pre_activation`: for unsigned sites, statistics of the
// tensor entering the ReLU (its mean, sigma and b drive clipping and bit allocation); nullptr for signed ones.
// Throws UserError when a range comes out non-finite in float32 (lo, hi or the width of the range including 0;
// naming the channel) or a statistic is unusable for clipping or bit allocation. The message does not know the
// tensor: callers add the site or layer (and the statistics file).
QuantParams compute_quant_params(const TensorQuantRequest& request, const ChannelwiseStats& value,
                                 const ChannelwiseStats* pre_activation);

// The statistic bit allocation weighs channel i by: sigma_i (-bap gaus) or b_i (-bap laplace).
std::vector<double> bit_allocation_weights(const std::vector<TensorStats>& channels, Prior prior);

// The per-channel quantizer table of `params` (fake_quant_channel_params) on `device`. To a CUDA device it is copied
// from pinned memory without blocking the host.
at::Tensor quant_params_table(const QuantParams& params, const at::Device& device);

// Fake-quantizes `x` with `params`; per-channel along `axis`. The per-channel quantizer table is computed and moved
// to x's device once and kept in `cache` (pass the same cache for every call with the same params; reset it when
// the params change): later calls compute and copy nothing.
struct QuantParamTensors {
  at::Tensor channel_params;  // per channel: quant_params_table(params, x.device())
};
at::Tensor apply_quant_params(const at::Tensor& x, const QuantParams& params, int64_t axis, QuantParamTensors& cache);

}  // namespace quantsim
