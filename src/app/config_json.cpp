#include "quantsim/app/config_json.h"

#include <fmt/format.h>

#include "quantsim/data/shard.h"

namespace quantsim {
namespace {

std::string bits_name(int bits) { return bits == 0 ? "f32" : fmt::format("int{}", bits); }

template <typename T>
nlohmann::json optional_json(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json config_to_json(const Config& c) {
  nlohmann::json config = {
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
      {"clipping", to_string(c.clipping)},
      {"clip_weights", c.clip_weights},
      {"baa", c.bit_alloc_activations},
      {"baw", c.bit_alloc_weights},
      {"bam", to_string(c.bit_alloc_rounding)},
      {"bap", to_string(c.bit_alloc_prior)},
      {"bata", optional_json(c.bit_alloc_target_activations)},
      {"batw", optional_json(c.bit_alloc_target_weights)},
      {"ba_any_bits", c.ba_any_bits},
      {"bcw", c.bias_correct_weights},
      {"vcw", c.variance_correct_weights},
      {"act_sites", to_string(c.act_sites)},
      {"first_last_bits", bits_name(c.first_last_bits)},
      {"weight_method", to_string(c.weight_method)},
      {"gpfq_scale", c.gpfq_scale},
      {"gpfq_patch_prob", c.gpfq_patch_prob},
      {"gpfq_samples", c.gpfq_samples},
      {"adaround_iters", c.adaround_iters},
      {"adaround_lambda", c.adaround_lambda},
      {"adaround_beta", {c.adaround_beta_start, c.adaround_beta_end}},
      {"adaround_warmup", c.adaround_warmup},
      {"adaround_lr", c.adaround_lr},
      {"adaround_batch", c.adaround_batch},
      {"adaround_samples", c.adaround_samples},
      {"adaround_patch_prob", c.adaround_patch_prob},
      {"cle", c.cross_layer_equalization},
      {"bias_correction", c.empirical_bias_correction ? "empirical" : "none"},
      {"bias_correction_samples", c.bias_correction_samples},
      {"arith", to_string(c.arith)},
      {"arith_report", c.arith_report},
      {"sm", to_string(c.stats_mode)},
      {"sk", to_string(c.stats_kind)},
      {"stats_dir", c.stats_dir},
      {"cs", optional_json(c.calib_size)},
      {"sh", c.shuffle},
      {"subset", optional_json(c.subset)},
      {"seed", c.seed},
      {"results", c.results},
      {"save_logits", c.save_logits},
      {"export", c.export_path},
      {"layer_report", c.layer_report},
      {"stability", c.stability},
      {"max_bad_images", c.max_bad_image_share},
      {"shard", c.shard ? nlohmann::json(shard_name(*c.shard)) : nlohmann::json(nullptr)},
      {"label", c.label},
      {"sweep_key", c.sweep_key},
  };
  // Only when given: the lines of runs on models that return a plain tensor stay as they were.
  if (!c.output.empty()) config["output"] = c.output;
  return config;
}

}  // namespace quantsim
