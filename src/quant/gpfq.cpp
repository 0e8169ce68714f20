#include "quantsim/quant/gpfq.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace quantsim {
namespace {

// Input columns handled per block. Inside a block the greedy walk updates only a [b, o] matrix; the [m, o] error U
// is brought up to date once per block by two matrix products, so the cost is that of a few GEMMs over the samples
// instead of 3n rank-one passes over U (which are memory-bound). The products cost about 2mn(2b + 3o) flops: the
// two block Gram matrices (2b) against the work on U (3o).
constexpr int64_t kDefaultBlockColumns = 16;

void check_shapes(const at::Tensor& x, const at::Tensor& x_tilde, const at::Tensor& weight,
                  const GpfqAlphabet& alphabet) {
  const bool ok = x.dim() == 3 && x_tilde.sizes().equals(x.sizes()) && weight.dim() == 3 &&
                  weight.size(0) == x.size(0) && weight.size(2) == x.size(2) && alphabet.step.dim() == 2 &&
                  alphabet.step.size(0) == weight.size(0) && alphabet.step.size(1) == weight.size(1);
  if (!ok) {
    throw std::invalid_argument(fmt::format(
        "gpfq_quantize: expected x, x_tilde [G, m, n], weight [G, o, n], step [G, o]; got x [{}], x_tilde [{}], "
        "weight [{}], step [{}]",
        fmt::join(x.sizes(), ", "), fmt::join(x_tilde.sizes(), ", "), fmt::join(weight.sizes(), ", "),
        fmt::join(alphabet.step.sizes(), ", ")));
  }
}

// One block of input columns [t0, t0 + b): returns its quantized columns [G, o, b] and updates `u` ([G, m, o]).
//
// With P = X~_blockᵀ U (before the block), A = X~_blockᵀ X_block and S = X~_blockᵀ X~_block, the value <X~_t, U>
// of the loop at column j of the block is P[j] + sum_{i <= j} A[j, i] w_i - sum_{i < j} S[j, i] q_i: row j of P is
// brought up to date column by column, exactly as U would be, but in the small [b, o] space.
at::Tensor quantize_block(const at::Tensor& x_block, const at::Tensor& x_tilde_block, const at::Tensor& w_block,
                          const GpfqAlphabet& alphabet, at::Tensor& u, bool update_u) {
  const int64_t b = w_block.size(2);
  const at::Tensor x_tilde_t = x_tilde_block.transpose(1, 2);  // [G, b, m]
  at::Tensor p = at::bmm(x_tilde_t, u);                        // [G, b, o]
  const at::Tensor a = at::bmm(x_tilde_t, x_block);            // [G, b, b]
  const at::Tensor s = at::bmm(x_tilde_t, x_tilde_block);      // [G, b, b]
  const at::Tensor norms = s.diagonal(0, 1, 2);                // [G, b]: ||X~_t||^2
  at::Tensor q_block = at::empty_like(w_block);
  for (int64_t j = 0; j < b; ++j) {
    const at::Tensor w_j = w_block.select(2, j);  // [G, o]
    p.narrow(1, j, b - j).add_(a.narrow(1, j, b - j).select(2, j).unsqueeze(2) * w_j.unsqueeze(1));
    const at::Tensor norm = norms.select(1, j).unsqueeze(1);  // [G, 1]
    const at::Tensor target = at::where(norm > 0, p.select(1, j) / norm, w_j);
    const at::Tensor q_j = gpfq_round(target, alphabet);
    q_block.select(2, j).copy_(q_j);
    if (j + 1 < b) {
      p.narrow(1, j + 1, b - j - 1).sub_(s.narrow(1, j + 1, b - j - 1).select(2, j).unsqueeze(2) * q_j.unsqueeze(1));
    }
  }
  if (update_u) {
    u.baddbmm_(x_block, w_block.transpose(1, 2));
    u.baddbmm_(x_tilde_block, q_block.transpose(1, 2), /*beta=*/1, /*alpha=*/-1);
  }
  return q_block;
}

}  // namespace

GpfqAlphabet gpfq_alphabet(const at::Tensor& weight, int bits, double scale, bool per_neuron) {
  if (bits < 1 || bits > 16) throw std::invalid_argument(fmt::format("gpfq_alphabet: bits {} not in 1..16", bits));
  if (weight.dim() != 3) throw std::invalid_argument("gpfq_alphabet: weight must be [G, o, n]");
  GpfqAlphabet alphabet;
  alphabet.half_levels = int64_t{1} << (bits - 1);
  const double factor = scale / static_cast<double>(alphabet.half_levels);
  const at::Tensor max_abs = weight.abs().amax(2);  // [G, o]
  alphabet.step = per_neuron ? max_abs * factor : at::full_like(max_abs, max_abs.mean().item<double>() * factor);
  return alphabet;
}

at::Tensor gpfq_round(const at::Tensor& values, const GpfqAlphabet& alphabet) {
  const at::Tensor step = values.dim() == 3 ? alphabet.step.unsqueeze(2) : alphabet.step;
  const at::Tensor usable = step > 0;
  const at::Tensor safe_step = at::where(usable, step, at::ones_like(step));
  const double k = static_cast<double>(alphabet.half_levels);
  const at::Tensor levels = at::clamp(at::round(values / safe_step), -k, k);  // round half to even
  return at::where(usable, levels * safe_step, at::zeros_like(values)).to(values.scalar_type());
}

at::Tensor gpfq_quantize(const at::Tensor& x, const at::Tensor& x_tilde, const at::Tensor& weight,
                         const GpfqAlphabet& alphabet, int64_t block_columns) {
  check_shapes(x, x_tilde, weight, alphabet);
  const int64_t block = block_columns > 0 ? block_columns : kDefaultBlockColumns;
  const int64_t n = x.size(2);
  const at::Tensor w = weight.to(x.scalar_type());
  at::Tensor q = at::empty_like(w);
  at::Tensor u = at::zeros({x.size(0), x.size(1), w.size(1)}, x.options());
  for (int64_t t0 = 0; t0 < n; t0 += block) {
    const int64_t b = std::min(block, n - t0);
    // Contiguous copies of the block's columns: BLAS is several times slower on the strided views.
    q.narrow(2, t0, b).copy_(quantize_block(x.narrow(2, t0, b).contiguous(), x_tilde.narrow(2, t0, b).contiguous(),
                                            w.narrow(2, t0, b), alphabet, u, /*update_u=*/t0 + b < n));
  }
  return q.to(weight.scalar_type());
}

}  // namespace quantsim
