// GPFQ on one layer, side by side in one run: the blocked algorithm of quant-sim (gpfq.cpp) at several block sizes
// against the paper's loop done literally (three rank-one passes over the [m, o] error U per input column). Shapes
// are those tiny_darknet's layers get with 128 calibration images and 25 % of the conv patches, plus a depthwise
// layer of mobilenet_v2_q. Medians over repetitions taken in round-robin order, so that noise from a shared machine
// hits every contender alike. Ratios: literal loop time / contender time.
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_support.h"
#include "quantsim/app/runtime_info.h"
#include "quantsim/quant/gpfq.h"

using quantsim::bench_support::median;

namespace {

constexpr int kRepetitions = 3;

struct Shape {
  const char* name;
  int64_t groups, m, n, o;
};

struct Contender {
  std::string name;
  std::function<at::Tensor()> run;
  std::vector<double> seconds;
  at::Tensor result;
};

at::Tensor literal_loop(const at::Tensor& x, const at::Tensor& x_tilde, const at::Tensor& w,
                        const quantsim::GpfqAlphabet& alphabet) {
  at::Tensor u = at::zeros({x.size(0), x.size(1), w.size(1)}, x.options());
  at::Tensor q = at::empty_like(w);
  for (int64_t t = 0; t < w.size(2); ++t) {
    const at::Tensor x_t = x.select(2, t), x_tilde_t = x_tilde.select(2, t), w_t = w.select(2, t);
    u.add_(x_t.unsqueeze(2) * w_t.unsqueeze(1));
    const at::Tensor norm = (x_tilde_t * x_tilde_t).sum(1, true);            // [G, 1]
    const at::Tensor inner = at::bmm(x_tilde_t.unsqueeze(1), u).squeeze(1);  // [G, o]
    const at::Tensor q_t = quantsim::gpfq_round(at::where(norm > 0, inner / norm, w_t), alphabet);
    u.sub_(x_tilde_t.unsqueeze(2) * q_t.unsqueeze(1));
    q.select(2, t).copy_(q_t);
  }
  return q;
}

void run_shape(const Shape& s) {
  at::manual_seed(0);
  const at::Tensor x = at::randn({s.groups, s.m, s.n}).relu_();
  const at::Tensor x_tilde = x + 0.05 * at::randn_like(x);
  const at::Tensor w = at::randn({s.groups, s.o, s.n});
  const quantsim::GpfqAlphabet alphabet = quantsim::gpfq_alphabet(w, 4, 1.16, false);
  std::vector<Contender> contenders;
  contenders.push_back({"literal loop", [&] { return literal_loop(x, x_tilde, w, alphabet); }, {}, {}});
  for (int64_t block : {8, 16, 32, 64}) {
    contenders.push_back({"blocked b=" + std::to_string(block),
                          [&, block] { return quantsim::gpfq_quantize(x, x_tilde, w, alphabet, block); },
                          {},
                          {}});
  }
  for (int rep = 0; rep < kRepetitions; ++rep) {
    for (Contender& c : contenders) {
      const auto start = std::chrono::steady_clock::now();
      c.result = c.run();
      c.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  const double literal = median(contenders.front().seconds);
  std::printf("%s: G=%lld m=%lld n=%lld o=%lld\n", s.name, static_cast<long long>(s.groups),
              static_cast<long long>(s.m), static_cast<long long>(s.n), static_cast<long long>(s.o));
  for (const Contender& c : contenders) {
    const double differing = (c.result != contenders.front().result).to(at::kDouble).mean().item<double>();
    std::printf("  %-14s %8.3f s  %5.2fx  (weights differing from the literal loop: %.4f %%)\n", c.name.c_str(),
                median(c.seconds), literal / median(c.seconds), 100.0 * differing);
  }
}

}  // namespace

int main() {
  // Timings depend on the BLAS and thread counts: every benchmark names them first.
  std::printf("host: %s\n", quantsim::describe(quantsim::runtime_info()).c_str());
  const std::vector<Shape> shapes = {
      {"tiny_darknet conv2 (3x3, 16->32)", 1, 401164, 144, 32},
      {"tiny_darknet conv8 (3x3, 32->256)", 1, 25263, 288, 256},
      {"tiny_darknet conv12 (3x3, 64->512)", 1, 6253, 576, 512},
      {"mobilenet_v2_q depthwise (3x3, 144 groups)", 144, 25000, 9, 1},
  };
  for (const Shape& shape : shapes) run_shape(shape);
  return 0;
}
