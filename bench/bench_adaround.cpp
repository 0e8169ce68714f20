// AdaRound and GPFQ, the two learned weight quantizers, side by side on every layer of resnet8_cifar10 in one run:
// the calibration time of each layer from the same sample rows (128 images of cifar10/calib, 25 % of the conv
// patches, X~ = X), AdaRound at --adaround-iters STEPS (first argument, default 500) and extrapolated to the paper's
// 10000 steps (its cost is linear in the steps). Medians over repetitions taken in round-robin order, so that noise
// from a shared machine hits both alike. Ratio: AdaRound time / GPFQ time. Data: $QUANTSIM_DATA, else
// ../shared/data beside the checkout.
#include <ATen/ATen.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_support.h"
#include "quantsim/app/cli.h"
#include "quantsim/app/run_inputs.h"
#include "quantsim/app/run_options.h"
#include "quantsim/app/runtime_info.h"
#include "quantsim/data/batch_loader.h"
#include "quantsim/data/image_set.h"
#include "quantsim/graph/prepared_model.h"
#include "quantsim/passes/layer_input_capture.h"
#include "quantsim/quant/adaround.h"
#include "quantsim/quant/gpfq_layer.h"

using quantsim::bench_support::median;

namespace {

constexpr int kRepetitions = 3;
constexpr int64_t kImages = 128;
constexpr double kPatchProbability = 0.25;
constexpr int64_t kPaperSteps = 10000;

template <typename F>
double seconds_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string data_dir() {
  if (const char* env = std::getenv("QUANTSIM_DATA")) return env;
  return std::string(QUANTSIM_BENCH_SOURCE_DIR) + "/../shared/data";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace quantsim;
  const int64_t steps = argc > 1 ? std::atoll(argv[1]) : 500;
  std::printf("host: %s\n", describe(runtime_info()).c_str());
  const std::string data = data_dir();
  const std::string model_path = data + "/models/resnet8_cifar10.pt";
  if (!std::filesystem::exists(model_path)) {
    std::printf("skipped: %s not found (set QUANTSIM_DATA)\n", model_path.c_str());
    return 0;
  }
  torch::InferenceMode inference;  // as quant-sim runs them
  const Config config = parse_command_line({"--model", model_path, "--data", data + "/cifar10/test", "--calib-data",
                                            data + "/cifar10/calib", "-sh", "--no-progress", "-qw", "int4", "-pcq_w"})
                            .config;
  const ModelFile model = resolve_model_file(config);
  const auto loader = read_batches(calibration_images(config, model, kImages, "bench"), {32, 2, 2, false, "bench"});
  CalibrationBatches batches;
  while (auto batch = loader->next()) {
    batches.images.push_back(batch->images);
    batches.image_indices.push_back(batch->indices);
  }
  PrepareOptions prepare;
  prepare.act_sites = ActSites::kInputs;
  const PreparedModel prepared = PreparedModel::load(model.path, prepare);
  const auto shapes = layer_input_shapes(prepared, batches.images.front().narrow(0, 0, 1));
  const RowSampling sampling{kPatchProbability, 0};

  WeightQuantOptions rtn = weight_quant_options(config);
  rtn.first_last_bits = 4;
  GpfqLayerOptions gpfq;
  gpfq.bits = 4;
  gpfq.per_channel = true;
  AdaRoundOptions adaround;
  adaround.iterations = steps;
  std::printf("resnet8_cifar10, W4 per channel, %lld calibration images, conv patches kept with probability %g; "
              "AdaRound at %lld steps (x%g for the paper's %lld)\n",
              static_cast<long long>(batches.image_count()), kPatchProbability, static_cast<long long>(steps),
              static_cast<double>(kPaperSteps) / static_cast<double>(steps), static_cast<long long>(kPaperSteps));
  std::printf("%-22s %4s %7s %5s %4s %10s %12s %8s %14s\n", "layer", "G", "m", "n", "o", "GPFQ s", "AdaRound s",
              "ratio", "AdaRound 10k s");
  double gpfq_total = 0.0, adaround_total = 0.0;
  for (const Layer& layer : prepared.layers()) {
    const at::Tensor x = capture_layer_inputs(prepared, {layer.index}, batches, sampling).front();
    const std::vector<int64_t> rows = sampled_rows_per_image(layer, shapes.at(static_cast<size_t>(layer.index)),
                                                             batches, sampling);
    std::vector<double> gpfq_s, adaround_s;
    for (int rep = 0; rep < kRepetitions; ++rep) {
      gpfq_s.push_back(seconds_of([&] { gpfq_layer_weight(layer, x, x, gpfq); }));
      adaround_s.push_back(seconds_of([&] { adaround_layer_weight(layer, x, x, rows, rtn, adaround); }));
    }
    const double g = median(gpfq_s), a = median(adaround_s);
    const double paper = a * static_cast<double>(kPaperSteps) / static_cast<double>(steps);
    gpfq_total += g;
    adaround_total += paper;
    std::printf("%-22s %4lld %7lld %5lld %4lld %10.3f %12.3f %7.1fx %14.1f\n", layer.name.c_str(),
                static_cast<long long>(x.size(0)), static_cast<long long>(x.size(1)), static_cast<long long>(x.size(2)),
                static_cast<long long>(layer.original_weight.size(0) / x.size(0)), g, a, a / g, paper);
  }
  std::printf("total: GPFQ %.2f s, AdaRound %.1f s at the paper's %lld steps (%.0fx)\n", gpfq_total, adaround_total,
              static_cast<long long>(kPaperSteps), adaround_total / gpfq_total);
  return 0;
}
