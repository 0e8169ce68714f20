// Throughput of the integer path (--arith int, docs/QUANTIZATION.md, section 16) against the float fake-quant path it
// is checked against, on the same model, weights, static ranges and images, measured side by side in one run (rounds
// A B, A B, ..., medians): W8A8 deploy mode (--act-sites inputs), per-channel weights, ranges from statistics just
// collected on the same images. Images are decoded once beforehand so that only the model side is timed. Prints
// images/s of each path and their ratio (integer / float), and checks that both give the same top-1 class on most
// images (a sanity check, not a test).
//
//   bench_integer [--data DIR] [--rounds 3] [-b 32]
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "bench_support.h"
#include "quantsim/app/config.h"
#include "quantsim/app/run_options.h"
#include "quantsim/app/runtime_info.h"
#include "quantsim/data/batch_loader.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/model_sidecar.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/activation_quantizer.h"
#include "quantsim/passes/integer_program.h"
#include "quantsim/passes/statistics_collector.h"
#include "quantsim/quant/weight_quantization.h"

namespace fs = std::filesystem;
using namespace quantsim;

using quantsim::bench_support::decode;
using quantsim::bench_support::median;
using quantsim::bench_support::time_seconds;
using quantsim::bench_support::Workload;

namespace {

// The done-when configuration: --act-sites inputs -sm use --qtype int8 -qw int8 -pcq_w.
Config w8a8_deploy_config() {
  Config c;
  c.act_bits = 8;
  c.weight_bits = 8;
  c.per_channel_weights = true;
  c.act_sites = ActSites::kInputs;
  c.stats_mode = StatsMode::kUse;
  c.arith = ArithChoice::kInt;
  return c;
}

void bench(const Workload& w, int rounds) {
  torch::InferenceMode inference;
  const Config config = w8a8_deploy_config();
  PreparedModel model = PreparedModel::load(w.model, prepare_options(config));
  std::vector<QuantizedWeight> weights;
  for (const Layer& layer : model.layers()) {
    weights.push_back(quantize_layer_weight(layer, weight_quant_options(config)));
    model.set_layer_weight(layer.index, weights.back().weight);
  }
  // Statistics of the FP32 model on the same images (two passes, as -sm collect).
  Statistics statistics;
  {
    StatisticsCollector collector(model.sites());
    ScopedSiteHandler scope(collector);
    PreparedModel reference = PreparedModel::load(w.model, prepare_options(config));
    for (const auto& b : w.batches) reference.forward(b);
    collector.start_second_pass();
    for (const auto& b : w.batches) reference.forward(b);
    statistics.sites = collector.finish();
  }
  ActivationQuantizer quantizer(model.sites(), activation_quant_options(config), &statistics);
  std::vector<at::Tensor> float_logits, integer_logits;
  {
    ScopedSiteHandler scope(quantizer);
    model.forward(w.batches.front());  // decides the static ranges
  }
  const IntegerProgram program = build_integer_program(model, weights, quantizer);
  std::vector<double> t_float, t_int;
  for (int r = 0; r <= rounds; ++r) {  // round 0 warms up
    const bool keep = r == 0;
    const double float_s = time_seconds([&] {
      ScopedSiteHandler scope(quantizer);
      for (const auto& b : w.batches) {
        at::Tensor logits = model.forward(b);
        if (keep) float_logits.push_back(logits);
      }
    });
    const double int_s = time_seconds([&] {
      for (const auto& b : w.batches) {
        at::Tensor logits = model.forward_integer(b, program);
        if (keep) integer_logits.push_back(logits);
      }
    });
    if (r == 0) continue;
    t_float.push_back(float_s);
    t_int.push_back(int_s);
  }
  const double float_s = median(t_float), int_s = median(t_int);
  const double images = static_cast<double>(w.images);
  const int64_t same_top1 = at::cat(float_logits).argmax(1).eq(at::cat(integer_logits).argmax(1)).sum().item<int64_t>();
  std::printf("%-18s %5lld images  images/s: float fake-quant %8.1f  integer %8.1f  ratio integer/float %.2fx  "
              "(same top-1 class on %lld)\n",
              w.label.c_str(), static_cast<long long>(w.images), images / float_s, images / int_s, float_s / int_s,
              static_cast<long long>(same_top1));
}

}  // namespace

int main(int argc, char** argv) {
  // Timings depend on the BLAS and thread counts: every benchmark names them first.
  std::printf("host: %s\n", quantsim::describe(quantsim::runtime_info()).c_str());
  std::string data = std::getenv("QUANTSIM_DATA") ? std::getenv("QUANTSIM_DATA") : "../shared/data";
  int rounds = 3, batch_size = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--data") data = value;
    else if (flag == "--rounds") rounds = std::stoi(value);
    else if (flag == "-b") batch_size = std::stoi(value);
    else {
      std::fprintf(stderr, "bench_integer: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (rounds < 1) {
    std::fprintf(stderr, "bench_integer: --rounds must be at least 1\n");
    return 2;
  }
  std::printf("bench_integer: W8A8 deploy mode, -pcq_w, static ranges; %d rounds after a warm-up round, medians; %d "
              "intra-op threads\n",
              rounds, at::get_num_threads());
  if (!fs::exists(fs::path(data) / "models")) {
    std::printf("shared data not found at %s (set QUANTSIM_DATA or --data): nothing to measure\n", data.c_str());
    return 0;
  }
  const std::string m = data + "/models/";
  const std::vector<Workload> workloads = {
      {"resnet8_cifar10", m + "resnet8_cifar10.pt",
       decode(m + "resnet8_cifar10.pt", data + "/cifar10/test", 512, batch_size), 512},
      {"tiny_darknet", m + "tiny_darknet.pt", decode(m + "tiny_darknet.pt", data + "/imagenet/val1300", 64, batch_size),
       64}};
  for (const Workload& w : workloads) bench(w, rounds);
  return 0;
}
