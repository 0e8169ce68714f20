#pragma once
// A prepared (frozen, BN-folded, instrumented) model turned back into a standalone TorchScript module whose graph
// computes what the instrumented graph computes under a static-range fake-quantizing SiteHandler.
#include <torch/csrc/jit/api/module.h>

#include <optional>
#include <vector>

#include "quantsim/graph/model_output.h"
#include "quantsim/quant/quant_params.h"

namespace quantsim::graph {

// A copy of `frozen_module` (whose forward is the instrumented graph) in which, for site id s,
//   %q = quantsim::site(%x, 2s)   becomes  %q = quantsim::fake_quant_per_tensor|per_channel(aten::contiguous(%x), ...)
// with site_params[s] as constants (axis 1 when per channel), or %x itself when site_params[s] is nullopt; the
// pre-activation observations quantsim::site(%x, 2s+1) become %x. Tensor constants (the weights the layers compute
// with now, the per-channel ranges) are copied to the CPU, so that the module does not share them with the live one.
// When `output_path` is not empty (the model returns a tuple, list or dict), the copy returns just the tensor at that
// path (select_logits' path), its forward's schema saying Tensor, and what computed only the other elements is
// dropped. Throws std::invalid_argument when a site id has no entry in site_params, or the path does not fit the
// type of the graph's output.
torch::jit::Module fake_quantized_module(const torch::jit::Module& frozen_module,
                                         const std::vector<std::optional<QuantParams>>& site_params,
                                         const OutputPath& output_path = {});

}  // namespace quantsim::graph
