// Cost of the statistics and quantization passes against FP32 inference of the same images and model, measured
// side by side in one run (rounds A B C D E, A B C D E, ..., medians): FP32 forward of the original module, collect
// pass 1 and pass 2 (instrumented, observing every site), and the W4A4 use pass (per-channel, Laplace clipping,
// bit allocation, bias correction; static ranges from the statistics just collected). Images are decoded once
// beforehand so that only the model side is timed. Prints seconds per image and the ratios to FP32 with the
// targets: each collect pass <= 1.3x, the whole collect <= 2.3x, the use pass <= 1.5x.
//
//   bench_passes [--data DIR] [--rounds 3] [-b 32] [--resnet50 PATH.pt]
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
#include "quantsim/passes/statistics_collector.h"
#include "quantsim/quant/weight_quantization.h"

namespace fs = std::filesystem;
using namespace quantsim;

using quantsim::bench_support::decode;
using quantsim::bench_support::median;
using quantsim::bench_support::time_seconds;
using quantsim::bench_support::Workload;

namespace {

Config w4a4_config() {
  Config c;
  c.act_bits = 4;
  c.weight_bits = 4;
  c.per_channel_weights = c.per_channel_activations = true;
  c.clipping.kind = Clipping::Kind::kLaplace;
  c.bit_alloc_activations = c.bit_alloc_weights = c.bias_correct_weights = true;
  return c;
}

void bench(const Workload& w, int rounds) {
  torch::InferenceMode inference;
  torch::jit::Module fp32 = torch::jit::load(w.model);
  fp32.eval();
  PreparedModel prepared = PreparedModel::load(w.model, {ActSites::kOutputs});
  PreparedModel quantized = PreparedModel::load(w.model, {ActSites::kOutputs});
  const Config config = w4a4_config();
  for (const Layer& layer : quantized.layers()) {
    quantized.set_layer_weight(layer.index, quantize_layer_weight(layer, weight_quant_options(config)).weight);
  }
  Statistics statistics;
  std::unique_ptr<ActivationQuantizer> quantizer;
  std::vector<double> t_fp32, t_pass1, t_pass2, t_use;
  for (int r = 0; r <= rounds; ++r) {  // round 0 warms up and produces the statistics
    const double fp32_s = time_seconds([&] {
      for (const auto& b : w.batches) fp32.forward({b});
    });
    StatisticsCollector collector(prepared.sites());
    double pass1_s = 0, pass2_s = 0;
    {
      ScopedSiteHandler scope(collector);
      pass1_s = time_seconds([&] {
        for (const auto& b : w.batches) prepared.forward(b);
      });
      collector.start_second_pass();
      pass2_s = time_seconds([&] {
        for (const auto& b : w.batches) prepared.forward(b);
      });
    }
    if (r == 0) {
      statistics.sites = collector.finish();
      quantizer = std::make_unique<ActivationQuantizer>(quantized.sites(), activation_quant_options(config),
                                                        &statistics);
    }
    const double use_s = time_seconds([&] {
      ScopedSiteHandler scope(*quantizer);
      for (const auto& b : w.batches) quantized.forward(b);
    });
    if (r == 0) continue;
    t_fp32.push_back(fp32_s);
    t_pass1.push_back(pass1_s);
    t_pass2.push_back(pass2_s);
    t_use.push_back(use_s);
  }
  const double fp32_s = median(t_fp32), pass1_s = median(t_pass1), pass2_s = median(t_pass2), use_s = median(t_use);
  const double per_image = 1e3 / static_cast<double>(w.images);
  std::printf("%-28s %5lld images  ms/image: fp32 %.2f  collect-1 %.2f  collect-2 %.2f  use-W4A4 %.2f\n",
              w.label.c_str(), static_cast<long long>(w.images), fp32_s * per_image, pass1_s * per_image,
              pass2_s * per_image, use_s * per_image);
  std::printf("%-28s ratios to fp32: collect-1 %.2fx (<=1.3)  collect-2 %.2fx (<=1.3)  whole collect %.2fx (<=2.3)  "
              "use %.2fx (<=1.5)\n",
              "", pass1_s / fp32_s, pass2_s / fp32_s, (pass1_s + pass2_s) / fp32_s, use_s / fp32_s);
}

}  // namespace

int main(int argc, char** argv) {
  // Timings depend on the BLAS and thread counts: every benchmark names them first.
  std::printf("host: %s\n", quantsim::describe(quantsim::runtime_info()).c_str());
  std::string data = std::getenv("QUANTSIM_DATA") ? std::getenv("QUANTSIM_DATA") : "../shared/data";
  std::string resnet50;
  int rounds = 3, batch_size = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--data") data = value;
    else if (flag == "--rounds") rounds = std::stoi(value);
    else if (flag == "-b") batch_size = std::stoi(value);
    else if (flag == "--resnet50") resnet50 = value;
    else {
      std::fprintf(stderr, "bench_passes: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::printf("bench_passes: %d rounds after a warm-up round, medians; %d intra-op threads\n", rounds,
              at::get_num_threads());
  std::vector<Workload> workloads;
  if (fs::exists(fs::path(data) / "models")) {
    const std::string m = data + "/models/";
    workloads.push_back({"resnet8_cifar10", m + "resnet8_cifar10.pt",
                         decode(m + "resnet8_cifar10.pt", data + "/cifar10/test", 512, batch_size), 512});
    workloads.push_back({"tiny_darknet", m + "tiny_darknet.pt",
                         decode(m + "tiny_darknet.pt", data + "/imagenet/val1300", 64, batch_size), 64});
  } else {
    std::printf("shared data not found at %s: shared models skipped\n", data.c_str());
  }
  if (!resnet50.empty()) {
    std::vector<at::Tensor> batches;
    if (fs::exists(fs::path(data) / "imagenet/val1300")) {
      batches = decode(resnet50, data + "/imagenet/val1300", 64, batch_size);
    } else {  // no real images: uniform noise of the same shape
      torch::manual_seed(0);
      for (int i = 0; i < 64; i += batch_size)
        batches.push_back(torch::rand({std::min(batch_size, 64 - i), 3, 224, 224}));
    }
    workloads.push_back({"resnet50 (random weights)", resnet50, batches, 64});
  }
  for (const Workload& w : workloads) bench(w, rounds);
  return 0;
}
