// Input pipeline throughput: decode + preprocess on -j threads feeding the model's forward pass (what the
// evaluation loop does) against the forward pass alone on pre-decoded tensors. A ratio near 1 means decoding is
// hidden behind inference; well below 1, decoding is the bottleneck. Also prints top-1/top-5 of the images run,
// which with --all is the FP32 parity check against the shared data's README.
//
//   bench_pipeline [--data DIR] [-b 32] [-j 4] [--imagenet-images 256] [--cifar-images 2000] [--all]
//                  [--models tiny_darknet,resnet8_cifar10]
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "quantsim/app/runtime_info.h"
#include "quantsim/core/errors.h"
#include "quantsim/data/batch_loader.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/model_sidecar.h"

namespace fs = std::filesystem;
using quantsim::Batch;

namespace {

struct Options {
  std::string data;
  int batch_size = 32;
  int workers = 4;
  int64_t imagenet_images = 256;
  int64_t cifar_images = 2000;
  bool all = false;
  std::vector<std::string> models = {"tiny_darknet", "resnet8_cifar10"};
};

std::string default_data_dir() {
  if (const char* env = std::getenv("QUANTSIM_DATA"); env && *env) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  // <project>/<build>/bench/bench_pipeline -> <project>/../shared/data
  for (const fs::path& candidate : {fs::path("../shared/data"), exe.parent_path() / "../../../shared/data"}) {
    if (fs::is_directory(candidate)) return fs::canonical(candidate).string();
  }
  return "../shared/data";
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) parts.push_back(part);
  return parts;
}

Options parse(int argc, char** argv) {
  Options o;
  o.data = default_data_dir();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw quantsim::UserError(arg + ": missing value");
      return argv[++i];
    };
    if (arg == "--data") o.data = value();
    else if (arg == "-b" || arg == "--batch-size") o.batch_size = std::stoi(value());
    else if (arg == "-j" || arg == "--workers") o.workers = std::stoi(value());
    else if (arg == "--imagenet-images") o.imagenet_images = std::stoll(value());
    else if (arg == "--cifar-images") o.cifar_images = std::stoll(value());
    else if (arg == "--all") o.all = true;
    else if (arg == "--models") o.models = split_commas(value());
    else throw quantsim::UserError("unknown option " + arg + " (see the comment at the top of bench_pipeline.cpp)");
  }
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Top-1 / top-5 hits; ties go to the lower class index (docs/QUANTIZATION.md, section 7).
struct Accuracy {
  int64_t top1 = 0, top5 = 0, images = 0;
  void add(const torch::Tensor& logits, const torch::Tensor& labels) {
    const torch::Tensor values = logits.contiguous().to(torch::kFloat32);
    const int64_t classes = values.size(1);
    for (int64_t n = 0; n < values.size(0); ++n) {
      const float* row = values.data_ptr<float>() + n * classes;
      const int64_t label = labels[n].item<int64_t>();
      int64_t better = 0;  // classes ranked before the label
      for (int64_t c = 0; c < classes; ++c) better += row[c] > row[label] || (row[c] == row[label] && c < label);
      top1 += better == 0;
      top5 += better < 5;
      ++images;
    }
  }
  double percent(int64_t hits) const { return images ? 100.0 * hits / images : 0.0; }
};

struct Workload {
  std::string model;
  std::string dataset;
  int64_t images;
};

void run(const Options& o, const Workload& w) {
  const std::string model_path = o.data + "/models/" + w.model + ".pt";
  const std::string root = o.data + "/" + w.dataset;
  if (!fs::exists(model_path) || !fs::is_directory(root)) {
    std::cout << w.model << ": skipped (" << model_path << " or " << root << " not found)\n";
    return;
  }
  const std::optional<quantsim::ModelSidecar> sidecar = quantsim::read_model_sidecar(model_path);
  const quantsim::PreprocessSpec spec = quantsim::resolve_preprocess(sidecar, {});
  quantsim::DatasetOptions dataset_options;
  if (sidecar) {
    dataset_options.class_order_file = quantsim::resolve_class_order_file(
        sidecar->class_order_file, {root, fs::path(sidecar->path).parent_path().string()});
  }
  const quantsim::Dataset dataset = quantsim::load_dataset(root, dataset_options);
  if (sidecar && sidecar->num_classes) quantsim::check_labels_fit(dataset, *sidecar->num_classes);
  const std::vector<quantsim::LabeledImage> images = quantsim::select_images(
      dataset.images, o.all ? std::nullopt : std::optional<int64_t>(w.images), false, 0);

  torch::jit::Module module = torch::jit::load(model_path);
  module.eval();
  torch::NoGradGuard no_grad;
  auto forward = [&module](const torch::Tensor& x) { return module.forward({x}).toTensor(); };

  quantsim::BatchLoaderOptions loader_options;
  loader_options.batch_size = o.batch_size;
  loader_options.workers = o.workers;
  loader_options.progress_label = w.model;

  // Decode everything up front (timed on its own: the loader's ceiling), warm up the JIT's profiling runs, then
  // time the forward pass alone on the decoded tensors.
  std::vector<Batch> decoded;
  auto start = std::chrono::steady_clock::now();
  {
    quantsim::BatchLoader loader(images, spec, loader_options);
    while (std::optional<Batch> batch = loader.next()) decoded.push_back(std::move(*batch));
  }
  const double decode_seconds = seconds_since(start);
  for (int i = 0; i < 3; ++i) forward(decoded.front().images);
  start = std::chrono::steady_clock::now();
  for (const Batch& batch : decoded) forward(batch.images);
  const double forward_seconds = seconds_since(start);

  // The pipeline: decoding on workers overlapping with forward in this thread.
  Accuracy accuracy;
  int64_t bad = 0;
  start = std::chrono::steady_clock::now();
  {
    quantsim::BatchLoader loader(images, spec, loader_options);
    while (std::optional<Batch> batch = loader.next()) accuracy.add(forward(batch->images), batch->labels);
    bad = loader.bad_count();
  }
  const double pipeline_seconds = seconds_since(start);

  const double n = static_cast<double>(accuracy.images);
  std::printf("%-16s %-18s %5lld img  pipeline %8.1f img/s  forward only %8.1f img/s  ratio %.2f  "
              "(decode only %.1f img/s)  top1 %.2f top5 %.2f  bad %lld  (b=%d, j=%d, %d intra-op threads, %s)\n",
              w.model.c_str(), w.dataset.c_str(), static_cast<long long>(accuracy.images), n / pipeline_seconds,
              n / forward_seconds, forward_seconds / pipeline_seconds, n / decode_seconds,
              accuracy.percent(accuracy.top1), accuracy.percent(accuracy.top5), static_cast<long long>(bad),
              o.batch_size, o.workers, at::get_num_threads(), quantsim::describe(spec).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // Timings depend on the BLAS and thread counts: every benchmark names them first.
  std::printf("host: %s\n", quantsim::describe(quantsim::runtime_info()).c_str());
  try {
    const Options o = parse(argc, argv);
    if (!fs::is_directory(o.data)) {
      std::cout << "bench_pipeline: no data at " << o.data << " (pass --data or set QUANTSIM_DATA); skipped\n";
      return 0;
    }
    for (const std::string& model : o.models) {
      if (model == "resnet8_cifar10") run(o, {model, "cifar10/test", o.cifar_images});
      else run(o, {model, "imagenet/val1300", o.imagenet_images});
    }
  } catch (const quantsim::UserError& e) {
    std::cerr << "bench_pipeline: " << e.what() << "\n";
    return quantsim::kExitUserError;
  }
  return 0;
}
