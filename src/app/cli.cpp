#include "quantsim/cli.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include <cxxopts.hpp>
#include <fmt/format.h>

#include "quantsim/atomic_file.h"
#include "quantsim/errors.h"
#include "quantsim/export_check.h"
#include "quantsim/gpfq_weights.h"
#include "quantsim/layer_report.h"
#include "quantsim/shard.h"

namespace quantsim {
namespace {

// Long flags that the public code spells with one dash. cxxopts would read `-pcq_w` as a bundle of short flags,
// so these are rewritten to `--pcq_w` before parsing.
constexpr std::array kSingleDashLongFlags = {"pcq_w", "pcq_a", "qw",   "baa", "baw", "bam", "bap", "bata", "batw",
                                             "bcw",   "vcw",   "sm",   "sk",  "cs",  "sh",  "ss"};

std::vector<std::string> normalize_legacy_flags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  for (const auto& arg : args) {
    if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') {
      const std::string name = arg.substr(1, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 1);
      if (std::find(kSingleDashLongFlags.begin(), kSingleDashLongFlags.end(), name) != kSingleDashLongFlags.end()) {
        out.push_back("-" + arg);
        continue;
      }
    }
    out.push_back(arg);
  }
  return out;
}

cxxopts::Options make_options() {
  cxxopts::Options options("quant-sim", "Post-training quantization simulator for CNNs (ACIQ, GEMMLOWP-style).");
  options.custom_help("[options]");
  // clang-format off
  options.add_options("Model and data")
    ("a,arch", "model name: <models-dir>/NAME.pt", cxxopts::value<std::string>())
    ("model", "TorchScript model file (overrides -a)", cxxopts::value<std::string>())
    ("models-dir", "folder of <arch>.pt models", cxxopts::value<std::string>()->default_value("~/aciq_data/models"))
    ("data", "dataset root (uses PATH/val when it exists)", cxxopts::value<std::string>()->default_value("~/datasets/ILSVRC2012"))
    ("synsets", "class-order file (default: <data>/synsets.txt, the model sidecar's, else sorted folders)", cxxopts::value<std::string>())
    ("calib-data", "calibration images for -sm collect (default: --data)", cxxopts::value<std::string>())
    ("resize", "resize shorter side to N (0: none; default from the sidecar, else 256)", cxxopts::value<int>())
    ("crop", "center crop N (0: none; default from the sidecar, else 224)", cxxopts::value<int>())
    ("mean", "per-channel mean, e.g. 0.485,0.456,0.406", cxxopts::value<std::vector<double>>())
    ("std", "per-channel std, e.g. 0.229,0.224,0.225", cxxopts::value<std::vector<double>>())
    ("interpolation", "bilinear (antialiased, as PIL) or nearest", cxxopts::value<std::string>());
  options.add_options("Execution")
    ("b,batch-size", "batch size", cxxopts::value<int>()->default_value("256"))
    ("j,workers", "image decoding threads", cxxopts::value<int>()->default_value("4"))
    ("device", "cpu | cuda[:k] (default: cuda when available)", cxxopts::value<std::string>())
    ("no-progress", "no progress bar")
    ("max-bad-images", "fail when more than this share of images cannot be decoded", cxxopts::value<double>()->default_value("0.01"));
  options.add_options("Quantization")
    ("qtype", "activation bits: intN | f32 (without --qtype and -qw the run is FP32)", cxxopts::value<std::string>())
    ("qw,qweight", "weight bits: intN | f32 (default int8 once --qtype is given)", cxxopts::value<std::string>())
    ("pcq_w", "per-channel weights")
    ("pcq_a", "per-channel activations")
    ("c,clipping", "activation clipping: no | laplace | gaus | Nstd", cxxopts::value<std::string>()->default_value("no"))
    ("clip-weights", "clip weights too (default off, as in the paper)")
    ("baa", "bit allocation for activations")
    ("baw", "bit allocation for weights")
    ("bam", "bit allocation rounding: round | ceil", cxxopts::value<std::string>()->default_value("round"))
    ("bap", "bit allocation statistic: gaus | laplace", cxxopts::value<std::string>()->default_value("gaus"))
    ("bata", "bit allocation target for activations (average bits)", cxxopts::value<double>())
    ("batw", "bit allocation target for weights (average bits)", cxxopts::value<double>())
    ("ba-any-bits", "allow bit allocation above 4 bits")
    ("bcw", "weight bias (mean) correction")
    ("vcw", "weight variance correction")
    ("act-sites", "outputs (paper mode) | inputs (deploy mode)", cxxopts::value<std::string>()->default_value("outputs"))
    ("first-last-bits", "bits of the first and last layer: N | f32", cxxopts::value<std::string>()->default_value("8"))
    ("weight-method", "weight quantizer: rtn (round to nearest) | gpfq (greedy path following, on calibration images)", cxxopts::value<std::string>()->default_value("rtn"))
    ("gpfq-scale", "GPFQ alphabet scale C: delta = C * mean(max|w|) / 2^(b-1)", cxxopts::value<double>()->default_value("1.16"))
    ("gpfq-patch-prob", "share of conv patches GPFQ samples, in (0, 1]", cxxopts::value<double>()->default_value("0.25"))
    ("gpfq-samples", "calibration images for GPFQ (--calib-data, else --data)", cxxopts::value<int64_t>()->default_value("128"));
  options.add_options("Statistics")
    ("sm", "statistics mode: collect | use | no", cxxopts::value<std::string>()->default_value("no"))
    ("sk", "min/max statistic: mean (of per-batch extremes) | max", cxxopts::value<std::string>()->default_value("mean"))
    ("stats-dir", "statistics folder", cxxopts::value<std::string>()->default_value("~/aciq_data/statistics"))
    ("cs", "calibration images (default 5120 or all)", cxxopts::value<int64_t>());
  options.add_options("Evaluation")
    ("sh", "shuffle (seeded) before taking the subset")
    ("ss,subset", "evaluate the first N images", cxxopts::value<int64_t>())
    ("seed", "seed of the shuffle", cxxopts::value<uint64_t>()->default_value("0"))
    ("results", "results file (default <stats-dir>/../results.jsonl)", cxxopts::value<std::string>())
    ("save-logits", "write the logits of the evaluated images to FILE.npy", cxxopts::value<std::string>())
    ("layer-report", "write each site's and weight's range, bits and error against FP32 to FILE.json or FILE.csv",
     cxxopts::value<std::string>())
    ("shard", "evaluate only shard K of N of the selected images (i % N == K-1); see quant-sim merge",
     cxxopts::value<std::string>())
    ("export", "save the quantized model: PATH (TorchScript) and <stem>.qweights.bin/.json; prints a size report",
     cxxopts::value<std::string>())
    ("label", "method name recorded in the results line (report rows use it)", cxxopts::value<std::string>())
    ("sweep-key", "sweep configuration key recorded in the results line (set by quant-sim sweep)",
     cxxopts::value<std::string>())
    ("h,help", "print this help")
    ("version", "print the version");
  // clang-format on
  return options;
}

template <typename T>
std::optional<T> optional_value(const cxxopts::ParseResult& r, const std::string& name) {
  if (r.count(name) == 0) return std::nullopt;
  return r[name].as<T>();
}

template <typename Enum, size_t N>
Enum parse_choice(const std::string& flag, const std::string& value,
                  const std::array<std::pair<const char*, Enum>, N>& choices) {
  std::string allowed;
  for (const auto& [name, e] : choices) {
    if (value == name) return e;
    allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  }
  throw UserError(fmt::format("flag {}: '{}' is not one of {}", flag, value, allowed));
}

void require_positive(const std::string& flag, int64_t value) {
  if (value <= 0) throw UserError(fmt::format("flag {}: must be positive, got {}", flag, value));
}

void fill_model_and_data(const cxxopts::ParseResult& r, Config& c) {
  if (r.count("arch")) c.arch = r["arch"].as<std::string>();
  if (r.count("model")) c.model_path = expand_user(r["model"].as<std::string>());
  c.models_dir = expand_user(r["models-dir"].as<std::string>());
  c.data = expand_user(r["data"].as<std::string>());
  if (r.count("synsets")) c.synsets = expand_user(r["synsets"].as<std::string>());
  if (r.count("calib-data")) c.calib_data = expand_user(r["calib-data"].as<std::string>());
  c.preprocess.resize_shorter_side = optional_value<int>(r, "resize");
  c.preprocess.center_crop = optional_value<int>(r, "crop");
  c.preprocess.mean = optional_value<std::vector<double>>(r, "mean");
  c.preprocess.std = optional_value<std::vector<double>>(r, "std");
  c.preprocess.interpolation = optional_value<std::string>(r, "interpolation");
  for (const char* flag : {"mean", "std"}) {
    const auto& v = std::string(flag) == "mean" ? c.preprocess.mean : c.preprocess.std;
    if (v && v->size() != 3) throw UserError(fmt::format("flag --{}: needs 3 comma-separated values", flag));
  }
}

void fill_execution(const cxxopts::ParseResult& r, Config& c) {
  c.batch_size = r["batch-size"].as<int>();
  require_positive("-b/--batch-size", c.batch_size);
  c.workers = r["workers"].as<int>();
  require_positive("-j/--workers", c.workers);
  if (r.count("device")) {
    c.device = r["device"].as<std::string>();
    if (!std::regex_match(c.device, std::regex("cpu|cuda(:[0-9]+)?")))
      throw UserError(fmt::format("flag --device: '{}' is not cpu or cuda[:k]", c.device));
  }
  c.progress = r.count("no-progress") == 0;
  c.max_bad_image_share = r["max-bad-images"].as<double>();
}

// --weight-method and its GPFQ settings; checks_gpfq_config (gpfq_weights.h) refuses what does not combine.
void fill_weight_method(const cxxopts::ParseResult& r, Config& c) {
  c.weight_method = parse_choice<WeightMethod, 2>("--weight-method", r["weight-method"].as<std::string>(),
                                                  {{{"rtn", WeightMethod::kRtn}, {"gpfq", WeightMethod::kGpfq}}});
  c.gpfq_scale = r["gpfq-scale"].as<double>();
  c.gpfq_patch_prob = r["gpfq-patch-prob"].as<double>();
  c.gpfq_samples = r["gpfq-samples"].as<int64_t>();
  check_gpfq_config(c, {r.count("gpfq-scale") > 0, r.count("gpfq-patch-prob") > 0, r.count("gpfq-samples") > 0});
}

void fill_quantization(const cxxopts::ParseResult& r, Config& c) {
  // As in the public code: a run without --qtype is the FP32 baseline; -qw's default int8 applies once quantization
  // is asked for, and -qw alone quantizes only the weights.
  const bool quantizing = r.count("qtype") > 0 || r.count("qweight") > 0;
  c.act_bits = r.count("qtype") ? parse_bit_width("--qtype", r["qtype"].as<std::string>()) : 0;
  c.weight_bits = r.count("qweight") ? parse_bit_width("-qw/--qweight", r["qweight"].as<std::string>())
                                     : (quantizing ? 8 : 0);
  c.per_channel_weights = r.count("pcq_w") > 0;
  c.per_channel_activations = r.count("pcq_a") > 0;
  c.clipping = parse_clipping(r["clipping"].as<std::string>());
  c.clip_weights = r.count("clip-weights") > 0;
  c.bit_alloc_activations = r.count("baa") > 0;
  c.bit_alloc_weights = r.count("baw") > 0;
  c.bit_alloc_rounding = parse_choice<BitRounding, 2>(
      "-bam", r["bam"].as<std::string>(), {{{"round", BitRounding::kRound}, {"ceil", BitRounding::kCeil}}});
  c.bit_alloc_prior = parse_choice<Prior, 3>(
      "-bap", r["bap"].as<std::string>(),
      {{{"gaus", Prior::kGauss}, {"gauss", Prior::kGauss}, {"laplace", Prior::kLaplace}}});
  c.bit_alloc_target_activations = optional_value<double>(r, "bata");
  c.bit_alloc_target_weights = optional_value<double>(r, "batw");
  c.ba_any_bits = r.count("ba-any-bits") > 0;
  c.bias_correct_weights = r.count("bcw") > 0;
  c.variance_correct_weights = r.count("vcw") > 0;
  c.act_sites = parse_choice<ActSites, 2>("--act-sites", r["act-sites"].as<std::string>(),
                                          {{{"outputs", ActSites::kOutputs}, {"inputs", ActSites::kInputs}}});
  const std::string first_last = r["first-last-bits"].as<std::string>();
  c.first_last_bits = parse_bit_width("--first-last-bits",
                                      std::isdigit(static_cast<unsigned char>(first_last[0])) ? "int" + first_last
                                                                                            : first_last);
  fill_weight_method(r, c);
}

void fill_statistics_and_evaluation(const cxxopts::ParseResult& r, Config& c) {
  c.stats_mode = parse_choice<StatsMode, 3>(
      "-sm", r["sm"].as<std::string>(),
      {{{"no", StatsMode::kNo}, {"collect", StatsMode::kCollect}, {"use", StatsMode::kUse}}});
  c.stats_kind = parse_choice<StatsKind, 2>("-sk", r["sk"].as<std::string>(),
                                            {{{"mean", StatsKind::kMean}, {"max", StatsKind::kMax}}});
  c.stats_dir = expand_user(r["stats-dir"].as<std::string>());
  c.calib_size = optional_value<int64_t>(r, "cs");
  if (c.calib_size) require_positive("-cs", *c.calib_size);
  c.shuffle = r.count("sh") > 0;
  c.subset = optional_value<int64_t>(r, "subset");
  if (c.subset) require_positive("-ss/--subset", *c.subset);
  c.seed = r["seed"].as<uint64_t>();
  c.results = r.count("results") ? expand_user(r["results"].as<std::string>())
                                 : (std::filesystem::path(c.stats_dir).parent_path() / "results.jsonl").string();
  if (r.count("save-logits")) c.save_logits = expand_user(r["save-logits"].as<std::string>());
  if (r.count("shard")) c.shard = parse_shard("--shard", r["shard"].as<std::string>());
  if (r.count("export")) c.export_path = expand_user(r["export"].as<std::string>());
  if (r.count("label")) c.label = r["label"].as<std::string>();
  if (r.count("sweep-key")) c.sweep_key = r["sweep-key"].as<std::string>();
  if (r.count("layer-report")) c.layer_report = expand_user(r["layer-report"].as<std::string>());
  check_layer_report_option(c);
}

}  // namespace

int parse_bit_width(const std::string& flag, const std::string& value) {
  if (value == "f32" || value == "fp32") return 0;
  std::smatch match;
  if (std::regex_match(value, match, std::regex("int([0-9]+)"))) {
    const int bits = std::stoi(match[1]);
    if (bits >= 1 && bits <= 16) return bits;
  }
  throw UserError(fmt::format("flag {}: '{}' is not intN (N in 1..16) or f32", flag, value));
}

Clipping parse_clipping(const std::string& value) {
  Clipping clipping;
  std::smatch match;
  if (value == "no") {
    clipping.kind = Clipping::Kind::kNone;
  } else if (value == "laplace") {
    clipping.kind = Clipping::Kind::kLaplace;
  } else if (value == "gaus" || value == "gauss") {
    clipping.kind = Clipping::Kind::kGauss;
  } else if (std::regex_match(value, match, std::regex("([0-9]+(\\.[0-9]*)?)std")) && std::stod(match[1]) > 0) {
    clipping.kind = Clipping::Kind::kNStd;
    clipping.n_std = std::stod(match[1]);
  } else {
    throw UserError(fmt::format("flag -c/--clipping: '{}' is not one of no, laplace, gaus, Nstd", value));
  }
  return clipping;
}

ParsedCommandLine parse_command_line(const std::vector<std::string>& args) {
  cxxopts::Options options = make_options();
  std::vector<std::string> normalized = normalize_legacy_flags(args);
  std::vector<char*> argv;
  std::string program = "quant-sim";
  argv.push_back(program.data());
  for (auto& a : normalized) argv.push_back(a.data());
  ParsedCommandLine parsed;
  try {
    const cxxopts::ParseResult r = options.parse(static_cast<int>(argv.size()), argv.data());
    if (!r.unmatched().empty()) throw UserError(fmt::format("unexpected argument '{}'", r.unmatched().front()));
    parsed.help = r.count("help") > 0;
    parsed.version = r.count("version") > 0;
    parsed.help_text = options.help();
    if (parsed.help || parsed.version) return parsed;
    fill_model_and_data(r, parsed.config);
    fill_execution(r, parsed.config);
    fill_quantization(r, parsed.config);
    fill_statistics_and_evaluation(r, parsed.config);
    if (!parsed.config.export_path.empty()) check_export_config(parsed.config);
  } catch (const cxxopts::exceptions::exception& e) {
    throw UserError(fmt::format("bad command line: {} (see quant-sim --help)", e.what()));
  }
  return parsed;
}

}  // namespace quantsim
