#include "quantsim/app/flag_combinations.h"

#include <fmt/format.h>

#include "quantsim/app/cli.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/message_text.h"

namespace quantsim {
namespace {

// What a run does, as far as the flags' effects go.
struct RunShape {
  bool collect;                // -sm collect: statistics only, nothing quantized or evaluated
  bool activations;            // activations quantized
  bool weights;                // weights quantized
  bool activation_allocation;  // -baa in effect
  bool weight_allocation;      // -baw in effect
};

// Why a quantization flag changes nothing in this run, or "" when it does change something.
using Inertness = std::string (*)(const Config&, const RunShape&);

std::string needs_quantized_activations(const Config&, const RunShape& run) {
  return run.activations ? "" : "activations are not quantized (no --qtype, or --qtype f32)";
}

std::string needs_quantized_weights(const Config&, const RunShape& run) {
  return run.weights ? "" : "weights are not quantized (-qw f32)";
}

std::string needs_activation_allocation_target(const Config&, const RunShape& run) {
  return run.activation_allocation ? "" : "it sets the target of -baa, which is not in effect";
}

std::string needs_weight_allocation_target(const Config&, const RunShape& run) {
  return run.weight_allocation ? "" : "it sets the target of -baw, which is not in effect";
}

// Bit allocation applies to per-channel sites and weights of at most 4 bits, unless --ba-any-bits
// (docs/QUANTIZATION.md, section 3); the first and last layers have --first-last-bits.
bool allocation_applies_at(int bits, const Config& c) {
  return c.ba_any_bits || bits <= 4 || (c.first_last_bits != 0 && c.first_last_bits <= 4);
}

std::string allocation_inertness(int bits, bool per_channel, const char* per_channel_flag, const Config& c) {
  if (!per_channel) return fmt::format("bit allocation applies to per-channel {} only", per_channel_flag);
  if (!allocation_applies_at(bits, c)) return "bit allocation applies at 4 bits or fewer unless --ba-any-bits";
  return "";
}

std::string needs_activation_allocation(const Config& c, const RunShape& run) {
  if (!run.activations) return needs_quantized_activations(c, run);
  return allocation_inertness(c.act_bits, c.per_channel_activations, "activations (-pcq_a)", c);
}

std::string needs_weight_allocation(const Config& c, const RunShape& run) {
  if (!run.weights) return needs_quantized_weights(c, run);
  return allocation_inertness(c.weight_bits, c.per_channel_weights, "weights (-pcq_w)", c);
}

std::string needs_bit_allocation(const Config&, const RunShape& run) {
  return run.activation_allocation || run.weight_allocation ? "" : "there is no bit allocation (-baa/-baw)";
}

std::string needs_something_clipped(const Config& c, const RunShape& run) {
  if (c.clipping.kind == Clipping::Kind::kNone || run.activations || (c.clip_weights && run.weights)) return "";
  return "activations are not quantized and --clip-weights is not given";
}

std::string needs_quantized_statistics_use(const Config& c, const RunShape& run) {
  return c.stats_mode != StatsMode::kUse || run.activations || run.weights ? "" : "nothing is quantized";
}

std::string needs_something_quantized(const Config&, const RunShape& run) {
  return run.activations || run.weights ? "" : "nothing is quantized";
}

std::string needs_empirical_bias_correction(const Config& c, const RunShape& run) {
  if (!c.empirical_bias_correction) return "it sets the images of --bias-correction empirical, which is not given";
  return needs_something_quantized(c, run);
}

struct QuantizationFlag {
  const char* key;
  Inertness inert;
};

// Every flag that only shapes quantization. The FP32 baseline given one of them is refused: the user asked for
// quantization and would read an FP32 accuracy as its result.
const QuantizationFlag kQuantizationFlags[] = {
    {"pcq_a", needs_quantized_activations},
    {"pcq_w", needs_quantized_weights},
    {"baa", needs_activation_allocation},
    {"baw", needs_weight_allocation},
    {"bata", needs_activation_allocation_target},
    {"batw", needs_weight_allocation_target},
    {"bam", needs_bit_allocation},
    {"bap", needs_bit_allocation},
    {"ba-any-bits", needs_bit_allocation},
    {"bcw", needs_quantized_weights},
    {"vcw", needs_quantized_weights},
    {"clip-weights", needs_quantized_weights},
    {"clipping", needs_something_clipped},
    {"sm", needs_quantized_statistics_use},
    {"bias-correction", needs_something_quantized},
    {"bias-correction-samples", needs_empirical_bias_correction},
};

RunShape run_shape(const Config& c) {
  RunShape run{};
  run.collect = c.stats_mode == StatsMode::kCollect;
  run.activations = !run.collect && c.act_bits != 0;
  run.weights = !run.collect && c.weight_bits != 0;
  run.activation_allocation = c.bit_alloc_activations && needs_activation_allocation(c, run).empty();
  run.weight_allocation = c.bit_alloc_weights && needs_weight_allocation(c, run).empty();
  return run;
}

// "-sm use", "-c/--clipping laplace", "-pcq_w": the flag as given.
std::string as_given(const GivenFlags& given, const std::string& key) {
  const std::string& value = given.at(key);
  return value == "true" ? flag_label(key) : fmt::format("{} {}", flag_label(key), abbreviated(value, 40));
}

// -sm collect runs the FP32 model over calibration images and writes statistics, nothing else.
std::vector<std::string> check_collect(const GivenFlags& given) {
  for (const char* key : {"save-logits", "shard"}) {
    if (given.count(key)) {
      throw UserError(
          fmt::format("flag {}: -sm collect evaluates nothing; give it to the evaluation run", flag_label(key)));
    }
  }
  std::vector<std::string> ignored;
  for (const char* key : {"qtype", "qweight", "arith"}) {
    if (given.count(key)) ignored.push_back(as_given(given, key));
  }
  for (const QuantizationFlag& flag : kQuantizationFlags) {
    if (given.count(flag.key) && std::string(flag.key) != "sm") ignored.push_back(as_given(given, flag.key));
  }
  std::vector<std::string> warnings;
  if (!ignored.empty()) {
    warnings.push_back(fmt::format("-sm collect only collects statistics; {} ignored (give them to the -sm use run)",
                                   fmt::join(ignored, ", ")));
  }
  if (given.count("subset")) {
    warnings.push_back("-ss/--subset has no effect with -sm collect: -cs sets the number of calibration images");
  }
  return warnings;
}

}  // namespace

std::vector<std::string> check_flag_combinations(const Config& config, const GivenFlags& given) {
  const RunShape run = run_shape(config);
  if (run.collect) return check_collect(given);
  if (config.empirical_bias_correction && (run.activations || run.weights) && config.calib_data.empty()) {
    throw UserError("flag --bias-correction empirical: give --calib-data, the images it measures the shifts on "
                    "(never the evaluation images)");
  }
  // Without --qtype and -qw the run is the FP32 baseline. An explicit `-qw f32 --qtype f32` asks for the float
  // graph knowingly: its inert flags are only warned about.
  const bool fp32_baseline = !given.count("qtype") && !given.count("qweight");
  std::vector<std::string> warnings;
  for (const QuantizationFlag& flag : kQuantizationFlags) {
    if (!given.count(flag.key)) continue;
    const std::string reason = flag.inert(config, run);
    if (reason.empty()) continue;
    if (fp32_baseline) {
      throw UserError(fmt::format("flag {}: this is the FP32 baseline (no --qtype, no -qw), which it does not "
                                  "change; give --qtype/-qw intN to quantize",
                                  as_given(given, flag.key)));
    }
    warnings.push_back(fmt::format("flag {} has no effect: {}", as_given(given, flag.key), reason));
  }
  return warnings;
}

}  // namespace quantsim
