#include "quantsim/app/cli.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <cxxopts.hpp>

#include "quantsim/app/flag_combinations.h"
#include "quantsim/app/option_checks.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/message_text.h"
#include "quantsim/data/preprocess.h"
#include "quantsim/data/shard.h"
#include "quantsim/passes/gpfq_weights.h"
#include "quantsim/passes/layer_report.h"
#include "quantsim/quant/bit_allocation.h"

namespace quantsim {
namespace {

// Long flags that the public code spells with one dash. cxxopts would read `-pcq_w` as a bundle of short flags,
// so these are rewritten to `--pcq_w` before parsing.
constexpr std::array kSingleDashLongFlags = {"pcq_w", "pcq_a", "qw",  "baa", "baw", "bam", "bap", "bata",
                                             "batw",  "bcw",   "vcw", "sm",  "sk",  "cs",  "sh",  "ss"};

// cxxopts reports a flag by its first long name, which for "qw,qweight" and "ss,subset" is the short form.
std::string canonical_key(const std::string& key) {
  if (key == "qw") return "qweight";
  if (key == "ss") return "subset";
  return key;
}

std::vector<std::string> normalize_legacy_flags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  for (const auto& arg : args) {
    if (arg.size() > 2 && arg[0] == '-' && arg[1] != '-') {
      const std::string name = arg.substr(1,
                                          arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 1);
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
    ("output", "the logits of a model returning a tuple, list or dict: INDEX or KEY (field name) of the element "
               "(default: the first 2-D tensor)", cxxopts::value<std::string>())
    ("resize", "resize shorter side to N (0: none; default from the sidecar, else 256)", cxxopts::value<std::string>())
    ("crop", "center crop N (0: none; default from the sidecar, else 224)", cxxopts::value<std::string>())
    ("mean", "per-channel mean, e.g. 0.485,0.456,0.406", cxxopts::value<std::string>())
    ("std", "per-channel std (positive), e.g. 0.229,0.224,0.225", cxxopts::value<std::string>())
    ("interpolation", "bilinear (antialiased, as PIL) or nearest", cxxopts::value<std::string>());
  options.add_options("Execution")
    ("b,batch-size", "batch size", cxxopts::value<std::string>()->default_value("256"))
    ("j,workers", "image decoding threads", cxxopts::value<std::string>()->default_value("4"))
    ("device", "cpu | cuda[:k] (default: cuda when available)", cxxopts::value<std::string>())
    ("no-progress", "no progress bar")
    ("max-bad-images", "fail when more than this share (0..1) of images cannot be decoded", cxxopts::value<std::string>()->default_value("0.01"));
  options.add_options("Quantization")
    ("qtype", "activation bits: intN | f32 (without --qtype and -qw the run is FP32)", cxxopts::value<std::string>())
    ("qw,qweight", "weight bits: intN | f32 (default int8 once --qtype is given)", cxxopts::value<std::string>())
    ("pcq_w", "per-channel weights")
    ("pcq_a", "per-channel activations")
    ("c,clipping", "activation clipping: no | laplace | gaus | Nstd | mse | percentile:P | entropy", cxxopts::value<std::string>()->default_value("no"))
    ("clip-weights", "clip weights too (default off, as in the paper)")
    ("baa", "bit allocation for activations")
    ("baw", "bit allocation for weights")
    ("bam", "bit allocation rounding: round | ceil", cxxopts::value<std::string>()->default_value("round"))
    ("bap", "bit allocation statistic: gaus | laplace", cxxopts::value<std::string>()->default_value("gaus"))
    ("bata", "bit allocation target for activations (average bits, 1..8)", cxxopts::value<std::string>())
    ("batw", "bit allocation target for weights (average bits, 1..8)", cxxopts::value<std::string>())
    ("ba-any-bits", "allow bit allocation above 4 bits")
    ("bcw", "weight bias (mean) correction")
    ("vcw", "weight variance correction")
    ("act-sites", "outputs (paper mode) | inputs (deploy mode)", cxxopts::value<std::string>()->default_value("outputs"))
    ("first-last-bits", "bits of the first and last layer: N | f32", cxxopts::value<std::string>()->default_value("8"))
    ("weight-method", "weight quantizer: rtn (round to nearest) | gpfq (greedy path following) | adaround (learned rounding); gpfq and adaround learn from calibration images", cxxopts::value<std::string>()->default_value("rtn"))
    ("gpfq-scale", "GPFQ alphabet scale C: delta = C * mean(max|w|) / 2^(b-1)", cxxopts::value<std::string>()->default_value("1.16"))
    ("gpfq-patch-prob", "share of conv patches GPFQ samples, in (0, 1]", cxxopts::value<std::string>()->default_value("0.25"))
    ("gpfq-samples", "calibration images for GPFQ (--calib-data, else --data)", cxxopts::value<std::string>()->default_value("128"))
    ("adaround-iters", "AdaRound: Adam steps per layer", cxxopts::value<std::string>()->default_value("10000"))
    ("adaround-lambda", "AdaRound: weight of the rounding regulariser, >= 0", cxxopts::value<std::string>()->default_value("0.01"))
    ("adaround-beta", "AdaRound: regulariser exponent START:END, annealed after the warm-up", cxxopts::value<std::string>()->default_value("20:2"))
    ("adaround-warmup", "AdaRound: share of the iterations without the regulariser, in [0, 1)", cxxopts::value<std::string>()->default_value("0.2"))
    ("adaround-lr", "AdaRound: Adam learning rate, > 0", cxxopts::value<std::string>()->default_value("0.001"))
    ("adaround-batch", "AdaRound: calibration images per batch", cxxopts::value<std::string>()->default_value("32"))
    ("adaround-samples", "AdaRound: calibration images of --calib-data", cxxopts::value<std::string>()->default_value("1024"))
    ("adaround-patch-prob", "AdaRound: share of conv patches kept, in (0, 1]", cxxopts::value<std::string>()->default_value("0.25"))
    ("cle", "cross-layer equalization + high-bias absorption of the FP32 weights before quantizing (Nagel et al. 2019)")
    ("bias-correction", "none | empirical: subtract each layer's mean output shift E[W~x~] - E[Wx], measured on --calib-data with activations quantized (unlike -bcw, which corrects the weights' mean without data)", cxxopts::value<std::string>()->default_value("none"))
    ("bias-correction-samples", "calibration images for --bias-correction empirical", cxxopts::value<std::string>()->default_value("256"))
    ("arith", "float (fake quantization in float32) | int (deploy mode, static ranges: the network on integer codes "
              "as integer hardware runs it; top-1 is the integer path's, the float path's is recorded beside it)",
     cxxopts::value<std::string>()->default_value("float"))
    ("arith-report", "with --arith int: write each quantized tensor's gap between the integer and the float path "
                     "to FILE.csv or FILE.json", cxxopts::value<std::string>());
  options.add_options("Statistics")
    ("sm", "statistics mode: collect | use | no", cxxopts::value<std::string>()->default_value("no"))
    ("sk", "min/max statistic: mean (of per-batch extremes) | max", cxxopts::value<std::string>()->default_value("mean"))
    ("stats-dir", "statistics folder", cxxopts::value<std::string>()->default_value("~/aciq_data/statistics"))
    ("cs", "calibration images (default 5120 or all)", cxxopts::value<std::string>());
  options.add_options("Evaluation")
    ("sh", "shuffle (seeded) before taking the subset")
    ("ss,subset", "evaluate the first N images", cxxopts::value<std::string>())
    ("seed", "seed of the shuffle (0..2^64-1)", cxxopts::value<std::string>()->default_value("0"))
    ("results", "results file (default <stats-dir>/../results.jsonl)", cxxopts::value<std::string>())
    ("save-logits", "write the logits of the evaluated images to FILE.npy", cxxopts::value<std::string>())
    ("layer-report", "write each site's and weight's range, bits and error against FP32 to FILE.json or FILE.csv",
     cxxopts::value<std::string>())
    ("stability", "after the run, K reruns with every static activation range scaled by 1 + (a seeded few float32 "
     "ulps); records the spread of top-1", cxxopts::value<std::string>())
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

// A path the system can open: ENAMETOOLONG would otherwise surface deep in the run as a filesystem exception.
void check_path_length(const std::string& flag, const std::string& path) {
  if (path.size() >= PATH_MAX) {
    throw UserError(fmt::format("flag {}: the path is {} characters long; the system limit is {}", flag, path.size(),
                                PATH_MAX - 1));
  }
  for (const auto& part : std::filesystem::path(path)) {
    if (part.native().size() > NAME_MAX) {
      throw UserError(fmt::format("flag {}: the path has a {}-character name '{}'; the system limit is {}", flag,
                                  part.native().size(), abbreviated(part.native()), NAME_MAX));
    }
  }
}

// Flag values are read as text and converted here, not by cxxopts, so that every bad value is reported with the
// flag it was given to (cxxopts only says "Argument '-1' failed to parse").
class FlagValues {
 public:
  explicit FlagValues(const cxxopts::ParseResult& r) : r_(r) {}

  bool given(const std::string& key) const { return r_.count(key) > 0; }
  // The value given, else the flag's default.
  std::string text(const std::string& key) const { return r_[key].as<std::string>(); }
  std::optional<std::string> optional_text(const std::string& key) const {
    return given(key) ? std::optional<std::string>(text(key)) : std::nullopt;
  }
  // A path flag, with ~ expanded; "" when not given and without default.
  std::string path(const std::string& key) const {
    if (!given(key) && !r_[key].has_default()) return "";
    const std::string path = expand_user(text(key));
    check_path_length(flag_label(key), path);
    return path;
  }

  // Typed values: every occurrence of a repeated flag is checked (the last one counts, so that a sweep's model
  // arguments can override its common ones), and the default when the flag is not given.
  int64_t integer(const std::string& key, int64_t lo, int64_t hi) const {
    int64_t result = 0;
    for (const std::string& value : values(key)) result = integer_of(key, value, lo, hi);
    return result;
  }
  std::optional<int64_t> optional_integer(const std::string& key, int64_t lo, int64_t hi) const {
    if (!given(key)) return std::nullopt;
    return integer(key, lo, hi);
  }
  uint64_t unsigned_integer(const std::string& key) const {
    uint64_t result = 0;
    for (const std::string& value : values(key)) {
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
      if (error != std::errc() || end != value.data() + value.size()) bad_value(key, value, "an integer in 0..2^64-1");
    }
    return result;
  }
  double real(const std::string& key) const {
    double result = 0.0;
    for (const std::string& value : values(key)) result = real_of(key, value, value);
    return result;
  }
  // One number `number` out of the flag's value `whole` (e.g. START of START:END); finite only.
  static double real_part(const std::string& key, const std::string& number, const std::string& whole) {
    return real_of(key, number, whole);
  }
  std::optional<double> optional_real(const std::string& key) const {
    if (!given(key)) return std::nullopt;
    return real(key);
  }
  // "0.5,0.5,0.5" -> {0.5, 0.5, 0.5}.
  std::optional<std::vector<double>> optional_reals(const std::string& key) const {
    if (!given(key)) return std::nullopt;
    std::vector<double> reals;
    for (const std::string& value : values(key)) {
      reals.clear();
      size_t start = 0;
      while (true) {
        const size_t comma = value.find(',', start);
        reals.push_back(real_of(key, value.substr(start, comma - start), value));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    return reals;
  }

 private:
  // Every value given to the flag, in order; just the default when it is not given.
  std::vector<std::string> values(const std::string& key) const {
    if (!given(key)) return {text(key)};
    std::vector<std::string> all;
    for (const cxxopts::KeyValue& argument : r_.arguments()) {
      if (canonical_key(argument.key()) == canonical_key(key)) all.push_back(argument.value());
    }
    return all;
  }

  [[noreturn]] static void bad_value(const std::string& key, const std::string& value, const std::string& expected) {
    throw UserError(fmt::format("flag {}: '{}' is not {}", flag_label(key), abbreviated(value), expected));
  }

  static std::string range_text(int64_t lo, int64_t hi) {
    if (hi == std::numeric_limits<int64_t>::max()) {
      return lo == 1 ? "a positive integer" : lo == 0 ? "a non-negative integer" : fmt::format("an integer >= {}", lo);
    }
    return fmt::format("an integer in {}..{}", lo, hi);
  }

  static int64_t integer_of(const std::string& key, const std::string& value, int64_t lo, int64_t hi) {
    int64_t result = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
    if (error != std::errc() || end != value.data() + value.size() || result < lo || result > hi) {
      bad_value(key, value, range_text(lo, hi));
    }
    return result;
  }

  // One number of `whole` (the flag's value, for the message); finite only.
  static double real_of(const std::string& key, const std::string& number, const std::string& whole) {
    const char* begin = number.c_str();
    char* end = nullptr;
    const double result = std::strtod(begin, &end);
    const bool whole_text = !number.empty() && !std::isspace(static_cast<unsigned char>(number[0])) &&
                            end == begin + number.size();
    if (!whole_text || !std::isfinite(result)) bad_value(key, whole, "a finite number");
    return result;
  }

  const cxxopts::ParseResult& r_;
};

// A choice flag's value by the choice's name table (quant/choices.h); the error lists every name it accepts.
template <typename Enum>
Enum choice_value(const std::string& flag, const std::string& value) {
  if (const std::optional<Enum> choice = parse_choice<Enum>(value)) return *choice;
  throw UserError(fmt::format("flag {}: '{}' is not one of {}", flag, abbreviated(value), accepted_names<Enum>()));
}

// -c/--clipping: a name of the table, Nstd or percentile:P.
Clipping clipping_value(const std::string& value) {
  if (const std::optional<Clipping> clipping = parse_clipping(value)) return *clipping;
  throw UserError(fmt::format("flag -c/--clipping: '{}' is not one of {}, Nstd, percentile:P", abbreviated(value),
                              canonical_names<Clipping::Kind>()));
}

// Largest thread count -j accepts: far above any machine's cores, below where thread creation fails.
constexpr int64_t kMaxWorkers = 1024;

void fill_model_and_data(const FlagValues& v, Config& c) {
  if (v.given("arch")) {
    c.arch = v.text("arch");
    check_path_length("-a/--arch", c.arch + ".pt");  // the model's file name, and its statistics folder
  }
  c.model_path = v.path("model");
  c.models_dir = v.path("models-dir");
  c.data = v.path("data");
  c.synsets = v.path("synsets");
  c.calib_data = v.path("calib-data");
  if (v.given("output")) c.output = v.text("output");
  c.preprocess.resize_shorter_side = v.optional_integer("resize", 0, kMaxImageSide);
  c.preprocess.center_crop = v.optional_integer("crop", 0, kMaxImageSide);
  c.preprocess.mean = v.optional_reals("mean");
  c.preprocess.std = v.optional_reals("std");
  c.preprocess.interpolation = v.optional_text("interpolation");
  for (const char* flag : {"mean", "std"}) {
    const auto& values = std::string(flag) == "mean" ? c.preprocess.mean : c.preprocess.std;
    if (values && values->size() != 3) throw UserError(fmt::format("flag --{}: needs 3 comma-separated values", flag));
  }
  apply_overrides(PreprocessSpec{}, c.preprocess);  // refuses a non-positive std or an unknown interpolation now
}

void fill_execution(const FlagValues& v, Config& c) {
  c.batch_size = static_cast<int>(v.integer("batch-size", 1, std::numeric_limits<int>::max()));
  c.workers = static_cast<int>(v.integer("workers", 1, kMaxWorkers));
  if (v.given("device")) {
    c.device = v.text("device");
    if (!std::regex_match(c.device, std::regex("cpu|cuda(:[0-9]{1,4})?"))) {
      throw UserError(fmt::format("flag --device: '{}' is not cpu or cuda[:k]", abbreviated(c.device)));
    }
  }
  c.progress = !v.given("no-progress");
  c.max_bad_image_share = v.real("max-bad-images");
  if (c.max_bad_image_share < 0.0 || c.max_bad_image_share > 1.0) {
    throw UserError(fmt::format("flag --max-bad-images: {} is not a share in [0, 1]", v.text("max-bad-images")));
  }
}

// AdaRound's settings; check_adaround_config (option_checks.h) refuses bad values and what does not combine.
void fill_adaround(const FlagValues& v, Config& c) {
  constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();
  c.adaround_iters = v.integer("adaround-iters", 1, kUnbounded);
  c.adaround_lambda = v.real("adaround-lambda");
  const std::string beta = v.text("adaround-beta");
  const size_t colon = beta.find(':');
  if (colon == std::string::npos) {
    throw UserError(fmt::format("flag --adaround-beta: '{}' is not START:END", abbreviated(beta)));
  }
  c.adaround_beta_start = FlagValues::real_part("adaround-beta", beta.substr(0, colon), beta);
  c.adaround_beta_end = FlagValues::real_part("adaround-beta", beta.substr(colon + 1), beta);
  c.adaround_warmup = v.real("adaround-warmup");
  c.adaround_lr = v.real("adaround-lr");
  c.adaround_batch = v.integer("adaround-batch", 1, kUnbounded);
  c.adaround_samples = v.integer("adaround-samples", 1, kUnbounded);
  c.adaround_patch_prob = v.real("adaround-patch-prob");
  AdaroundFlagsGiven given;
  for (const char* flag : {"adaround-iters", "adaround-lambda", "adaround-beta", "adaround-warmup", "adaround-lr",
                           "adaround-batch", "adaround-samples", "adaround-patch-prob"}) {
    if (v.given(flag) && given.first.empty()) given.first = std::string("--") + flag;
  }
  check_adaround_config(c, given);
}

// --weight-method and its GPFQ settings; checks_gpfq_config (gpfq_weights.h) refuses what does not combine.
void fill_weight_method(const FlagValues& v, Config& c) {
  c.weight_method = choice_value<WeightMethod>("--weight-method", v.text("weight-method"));
  c.gpfq_scale = v.real("gpfq-scale");
  c.gpfq_patch_prob = v.real("gpfq-patch-prob");
  c.gpfq_samples = v.integer("gpfq-samples", 1, std::numeric_limits<int64_t>::max());
  check_gpfq_config(c, {v.given("gpfq-scale"), v.given("gpfq-patch-prob"), v.given("gpfq-samples")});
  fill_adaround(v, c);
  // --cle and --bias-correction (docs/QUANTIZATION.md, section 14); flag_combinations.cpp refuses bad combinations.
  c.cross_layer_equalization = v.given("cle");
  const std::string correction = v.text("bias-correction");
  if (correction != "none" && correction != "empirical") {
    throw UserError(fmt::format("flag --bias-correction: '{}' is not none or empirical", abbreviated(correction)));
  }
  c.empirical_bias_correction = correction == "empirical";
  c.bias_correction_samples = v.integer("bias-correction-samples", 1, std::numeric_limits<int64_t>::max());
  c.arith = choice_value<ArithChoice>("--arith", v.text("arith"));
  c.arith_report = v.path("arith-report");
}

// -bata / -batw: an average the allocation can reach, between the fewest and the most bits it gives a channel.
std::optional<double> bit_target(const FlagValues& v, const std::string& key) {
  const std::optional<double> target = v.optional_real(key);
  if (target && (*target < kMinAllocatedBits || *target > kMaxAllocatedBits)) {
    throw UserError(fmt::format("flag {}: {} is outside the bits a channel can get ({}..{})", flag_label(key),
                                v.text(key), kMinAllocatedBits, kMaxAllocatedBits));
  }
  return target;
}

void fill_quantization(const FlagValues& v, Config& c) {
  // As in the public code: a run without --qtype is the FP32 baseline; -qw's default int8 applies once quantization
  // is asked for, and -qw alone quantizes only the weights.
  const bool quantizing = v.given("qtype") || v.given("qweight");
  c.act_bits = v.given("qtype") ? parse_bit_width("--qtype", v.text("qtype")) : 0;
  c.weight_bits = v.given("qweight") ? parse_bit_width("-qw/--qweight", v.text("qweight")) : (quantizing ? 8 : 0);
  c.per_channel_weights = v.given("pcq_w");
  c.per_channel_activations = v.given("pcq_a");
  c.clipping = clipping_value(v.text("clipping"));
  c.clip_weights = v.given("clip-weights");
  c.bit_alloc_activations = v.given("baa");
  c.bit_alloc_weights = v.given("baw");
  c.bit_alloc_rounding = choice_value<BitRounding>("-bam", v.text("bam"));
  c.bit_alloc_prior = choice_value<Prior>("-bap", v.text("bap"));
  c.bit_alloc_target_activations = bit_target(v, "bata");
  c.bit_alloc_target_weights = bit_target(v, "batw");
  c.ba_any_bits = v.given("ba-any-bits");
  c.bias_correct_weights = v.given("bcw");
  c.variance_correct_weights = v.given("vcw");
  c.act_sites = choice_value<ActSites>("--act-sites", v.text("act-sites"));
  const std::string first_last = v.text("first-last-bits");
  c.first_last_bits = parse_bit_width(
      "--first-last-bits", std::isdigit(static_cast<unsigned char>(first_last[0])) ? "int" + first_last : first_last);
  fill_weight_method(v, c);
}

void fill_statistics_and_evaluation(const FlagValues& v, Config& c) {
  constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();
  c.stats_mode = choice_value<StatsMode>("-sm", v.text("sm"));
  c.stats_kind = choice_value<StatsKind>("-sk", v.text("sk"));
  c.stats_dir = v.path("stats-dir");
  c.calib_size = v.optional_integer("cs", 1, kUnbounded);
  c.shuffle = v.given("sh");
  c.subset = v.optional_integer("subset", 1, kUnbounded);
  c.seed = v.unsigned_integer("seed");
  c.results = v.given("results") ? v.path("results")
                                 : (std::filesystem::path(c.stats_dir).parent_path() / "results.jsonl").string();
  c.save_logits = v.path("save-logits");
  if (v.given("shard")) c.shard = parse_shard("--shard", v.text("shard"));
  c.export_path = v.path("export");
  if (v.given("label")) c.label = v.text("label");
  if (v.given("sweep-key")) c.sweep_key = v.text("sweep-key");
  c.layer_report = v.path("layer-report");
  check_layer_report_option(c);
  if (v.given("stability")) c.stability = *v.optional_integer("stability", 1, kMaxStabilityReruns);
  check_stability_option(c);
  check_histogram_clipping(c);
}

// A value given as '' is never what was meant: a path flag would read the current folder, a name would be blank.
void refuse_empty_values(const cxxopts::ParseResult& r) {
  for (const cxxopts::KeyValue& argument : r.arguments()) {
    if (argument.value().empty()) throw UserError(fmt::format("flag {}: empty value", flag_label(argument.key())));
  }
}

// Words longer than any path could be: refused before cxxopts sees them, naming their position.
void refuse_overlong_arguments(const std::vector<std::string>& args) {
  constexpr size_t kMaxArgumentLength = PATH_MAX + 64;  // "--flag=" and a path of the system's maximum length
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].size() > kMaxArgumentLength) {
      throw UserError(fmt::format("command-line argument {} ('{}') is {} characters long; the limit is {}", i + 1,
                                  abbreviated(args[i]), args[i].size(), kMaxArgumentLength));
    }
  }
}

}  // namespace

int parse_bit_width(const std::string& flag, const std::string& value) {
  if (value == "f32" || value == "fp32") return 0;
  std::smatch match;
  if (std::regex_match(value, match, std::regex("int([0-9]{1,2})"))) {
    const int bits = std::stoi(match[1]);
    if (bits >= 1 && bits <= 16) return bits;
  }
  throw UserError(fmt::format("flag {}: '{}' is not intN (N in 1..16) or f32", flag, abbreviated(value)));
}

std::string flag_label(const std::string& given_key) {
  const std::string key = canonical_key(given_key);
  static const std::map<std::string, std::string> kShortForms = {
      {"arch", "a"},     {"batch-size", "b"}, {"workers", "j"}, {"clipping", "c"},
      {"qweight", "qw"}, {"subset", "ss"},    {"help", "h"}};
  const auto short_form = kShortForms.find(key);
  if (short_form != kShortForms.end()) return fmt::format("-{}/--{}", short_form->second, key);
  const bool single_dash = std::find(kSingleDashLongFlags.begin(), kSingleDashLongFlags.end(), key) !=
                           kSingleDashLongFlags.end();
  return (single_dash ? "-" : "--") + key;
}

ParsedCommandLine parse_command_line(const std::vector<std::string>& args) {
  refuse_overlong_arguments(args);
  cxxopts::Options options = make_options();
  std::vector<std::string> normalized = normalize_legacy_flags(args);
  std::vector<char*> argv;
  std::string program = "quant-sim";
  argv.push_back(program.data());
  for (auto& a : normalized) argv.push_back(a.data());
  ParsedCommandLine parsed;
  try {
    const cxxopts::ParseResult r = options.parse(static_cast<int>(argv.size()), argv.data());
    if (!r.unmatched().empty()) {
      throw UserError(fmt::format("unexpected argument '{}'", abbreviated(r.unmatched().front())));
    }
    parsed.help = r.count("help") > 0;
    parsed.version = r.count("version") > 0;
    parsed.help_text = options.help();
    if (parsed.help || parsed.version) return parsed;
    refuse_empty_values(r);
    const FlagValues values(r);
    fill_model_and_data(values, parsed.config);
    fill_execution(values, parsed.config);
    fill_quantization(values, parsed.config);
    fill_statistics_and_evaluation(values, parsed.config);
    if (!parsed.config.export_path.empty()) check_export_config(parsed.config);
    check_arith_options(parsed.config);
    std::map<std::string, std::string> given;
    for (const cxxopts::KeyValue& argument : r.arguments()) given[canonical_key(argument.key())] = argument.value();
    parsed.warnings = check_flag_combinations(parsed.config, given);
  } catch (const cxxopts::exceptions::exception& e) {
    throw UserError(fmt::format("bad command line: {} (see quant-sim --help)", abbreviated(e.what(), 200)));
  }
  return parsed;
}

}  // namespace quantsim
