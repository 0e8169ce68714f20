#pragma once
// Cross-layer equalization and high-bias absorption (docs/QUANTIZATION.md, section 14.1), run on the frozen, BN-folded
// graph before layers are discovered, so that every later step sees the equalised weights and biases.
#include <torch/csrc/jit/ir/ir.h>

#include <unordered_map>

#include "quantsim/graph/prepared_model.h"

namespace quantsim::graph {

// The BatchNorm folded into a conv: its scale (gamma) and shift (beta), which describe the distribution of the conv's
// folded pre-activation output (mean beta, standard deviation |gamma|), what high-bias absorption needs.
struct FoldedBatchNorm {
  at::Tensor gamma;
  at::Tensor beta;
};

// Which conv node each foldable BatchNorm follows. Run before FoldFrozenConvBatchnorm, which keeps the conv node but
// drops the BatchNorm.
std::unordered_map<const torch::jit::Node*, FoldedBatchNorm> record_batch_norms(const torch::jit::Graph& graph);

// Equalises every chain layer -> ReLU/ReLU6 -> layer of the graph and absorbs high biases where the BN is known and
// the next layer has no padding. Rewrites weight and bias constants, and ReLU6 into a per-channel clamp where the
// scaling would otherwise change it. Leaves every other structure alone.
CrossLayerEqualizationSummary equalize_cross_layer(
    torch::jit::Graph& graph, const std::unordered_map<const torch::jit::Node*, FoldedBatchNorm>& batch_norms,
    bool absorb_high_bias);

}  // namespace quantsim::graph
