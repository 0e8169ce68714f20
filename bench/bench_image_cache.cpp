// Decode once: the same sweep of K configurations (FP32 and dynamic-range W8A8, W4A8, W4A4, ... as quant-sim runs
// them, in this process) read from the image folder, then from an image cache built once (docs/CACHE.md). Prints
// each pass's time, the cache build's, and the ratio folder / (build + cache); the top-1 of every configuration
// must be equal both ways, or the benchmark fails.
//
//   bench_image_cache [--data DIR] [--model M.pt] [--subset N] [-k K] [-j 4] [-b 256]
//   (defaults: $QUANTSIM_DATA or ../shared/data: cifar10/test, models/resnet8_cifar10.pt, all images, K = 4)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "quantsim/app/cli.h"
#include "quantsim/app/runs.h"
#include "quantsim/core/errors.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  std::string data, model, subset;
  int k = 4;
  std::string workers = "4", batch = "256";
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The precision flags of configuration i: FP32, then W8A8, W4A8, W4A4, W8A4, W6A6, ... (dynamic ranges).
std::vector<std::string> configuration(int i) {
  static const std::vector<std::vector<std::string>> kFlags = {{},
                                                               {"--qtype", "int8", "-qw", "int8"},
                                                               {"--qtype", "int8", "-qw", "int4"},
                                                               {"--qtype", "int4", "-qw", "int4"},
                                                               {"--qtype", "int4", "-qw", "int8"},
                                                               {"--qtype", "int6", "-qw", "int6"},
                                                               {"--qtype", "int5", "-qw", "int5"},
                                                               {"--qtype", "int3", "-qw", "int8"}};
  return kFlags.at(static_cast<size_t>(i) % kFlags.size());
}

// Runs the K configurations on `data`; returns the seconds and appends their top-1 (from the results file).
double sweep(const Options& o, const std::string& data, const std::string& results, std::vector<double>* top1) {
  fs::remove(results);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < o.k; ++i) {
    std::vector<std::string> args = {"--model", o.model,   "--data", data,    "--results",    results,
                                     "-j",      o.workers, "-b",     o.batch, "--no-progress"};
    if (!o.subset.empty()) args.insert(args.end(), {"-ss", o.subset});
    for (const std::string& flag : configuration(i)) args.push_back(flag);
    quantsim::run_evaluation(quantsim::parse_command_line(args).config);
  }
  const double seconds = seconds_since(start);
  std::ifstream in(results);
  for (std::string line; std::getline(in, line);) top1->push_back(nlohmann::json::parse(line).at("top1"));
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("QUANTSIM_DATA");
  // As the tests: $QUANTSIM_DATA, else ../shared/data beside the checkout.
  const std::string shared = env != nullptr && *env != '\0'
                                 ? std::string(env)
                                 : (fs::path(__FILE__).parent_path() / "../../shared/data").lexically_normal().string();
  Options o{shared + "/cifar10/test", shared + "/models/resnet8_cifar10.pt", ""};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--data") o.data = value;
    else if (flag == "--model") o.model = value;
    else if (flag == "--subset") o.subset = value;
    else if (flag == "-k") o.k = std::stoi(value);
    else if (flag == "-j") o.workers = value;
    else if (flag == "-b") o.batch = value;
    else {
      std::fprintf(stderr, "bench_image_cache: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    const std::string dir = (fs::temp_directory_path() / ("bench_image_cache." + std::to_string(::getpid()))).string();
    fs::create_directories(dir);
    const std::string cache = dir + "/images.qsc";

    std::vector<double> from_folder, from_cache;
    const double folder_s = sweep(o, o.data, dir + "/folder.jsonl", &from_folder);
    std::vector<std::string> build_args = {"--model", o.model, "--data", o.data, "-j", o.workers, "--no-progress"};
    if (!o.subset.empty()) build_args.insert(build_args.end(), {"-ss", o.subset});
    const auto start = std::chrono::steady_clock::now();
    quantsim::run_cache_build(quantsim::parse_command_line(build_args).config, cache);
    const double build_s = seconds_since(start);
    const double cache_s = sweep(o, cache, dir + "/cache.jsonl", &from_cache);
    const auto bytes = fs::file_size(cache);
    fs::remove_all(dir);

    std::printf("\n%d configurations of %s on %s%s\n", o.k, fs::path(o.model).stem().c_str(), o.data.c_str(),
                o.subset.empty() ? "" : (" (-ss " + o.subset + ")").c_str());
    std::printf("  from the image folder:  %8.2f s\n", folder_s);
    std::printf("  cache build (once):     %8.2f s  (%.1f MB)\n", build_s, static_cast<double>(bytes) / 1e6);
    std::printf("  from the cache:         %8.2f s\n", cache_s);
    std::printf("  ratio folder / cache:   %8.2f x   (folder / (build + cache): %.2f x)\n", folder_s / cache_s,
                folder_s / (build_s + cache_s));
    if (from_folder != from_cache || static_cast<int>(from_folder.size()) != o.k) {
      std::fprintf(stderr, "bench_image_cache: top-1 differs between the folder and the cache\n");
      return 1;
    }
    std::printf("  top-1 equal in all %d configurations\n", o.k);
  } catch (const quantsim::UserError& e) {
    std::fprintf(stderr, "bench_image_cache: %s\n", e.what());
    return 2;
  }
  return 0;
}
