#include "quantsim/app/config_json.h"

#include <fmt/format.h>

#include "quantsim/data/shard.h"

namespace quantsim {
namespace {

std::string bits_name(int bits) { return bits == 0 ? "f32" : fmt::format("int{}", bits); }

std::string clipping_name(const Clipping& c) {
  switch (c.kind) {
    case Clipping::Kind::kNone: return "no";
    case Clipping::Kind::kLaplace: return "laplace";
    case Clipping::Kind::kGauss: return "gaus";
    case Clipping::Kind::kNStd: return fmt::format("{}std", c.n_std);
  }
  return "?";
}

template <typename T>
nlohmann::json optional_json(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json config_to_json(const Config& c) {
  static const char* kStatsModes[] = {"no", "collect", "use"};
  return {
      {"arch", c.arch},
      {"model", c.model_path},
      {"models_dir", c.models_dir},
      {"data", c.data},
      {"synsets", c.synsets},
      {"calib_data", c.calib_data},
      {"resize", optional_json(c.preprocess.resize_shorter_side)},
      {"crop", optional_json(c.preprocess.center_crop)},
      {"mean", optional_json(c.preprocess.mean)},
      {"std", optional_json(c.preprocess.std)},
      {"interpolation", optional_json(c.preprocess.interpolation)},
      {"batch_size", c.batch_size},
      {"workers", c.workers},
      {"device", c.device},
      {"qtype", bits_name(c.act_bits)},
      {"qweight", bits_name(c.weight_bits)},
      {"pcq_w", c.per_channel_weights},
      {"pcq_a", c.per_channel_activations},
      {"clipping", clipping_name(c.clipping)},
      {"clip_weights", c.clip_weights},
      {"baa", c.bit_alloc_activations},
      {"baw", c.bit_alloc_weights},
      {"bam", c.bit_alloc_rounding == BitRounding::kRound ? "round" : "ceil"},
      {"bap", c.bit_alloc_prior == Prior::kGauss ? "gaus" : "laplace"},
      {"bata", optional_json(c.bit_alloc_target_activations)},
      {"batw", optional_json(c.bit_alloc_target_weights)},
      {"ba_any_bits", c.ba_any_bits},
      {"bcw", c.bias_correct_weights},
      {"vcw", c.variance_correct_weights},
      {"act_sites", c.act_sites == ActSites::kOutputs ? "outputs" : "inputs"},
      {"first_last_bits", bits_name(c.first_last_bits)},
      {"weight_method", c.weight_method == WeightMethod::kGpfq ? "gpfq" : "rtn"},
      {"gpfq_scale", c.gpfq_scale},
      {"gpfq_patch_prob", c.gpfq_patch_prob},
      {"gpfq_samples", c.gpfq_samples},
      {"sm", kStatsModes[static_cast<int>(c.stats_mode)]},
      {"sk", c.stats_kind == StatsKind::kMean ? "mean" : "max"},
      {"stats_dir", c.stats_dir},
      {"cs", optional_json(c.calib_size)},
      {"sh", c.shuffle},
      {"subset", optional_json(c.subset)},
      {"seed", c.seed},
      {"results", c.results},
      {"save_logits", c.save_logits},
      {"export", c.export_path},
      {"layer_report", c.layer_report},
      {"max_bad_images", c.max_bad_image_share},
      {"shard", c.shard ? nlohmann::json(shard_name(*c.shard)) : nlohmann::json(nullptr)},
      {"label", c.label},
      {"sweep_key", c.sweep_key},
  };
}

}  // namespace quantsim
