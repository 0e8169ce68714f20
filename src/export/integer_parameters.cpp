#include "quantsim/export/integer_parameters.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/export/model_export.h"
#include "quantsim/graph/site_handler.h"
#include "quantsim/quant/fixed_point.h"

namespace quantsim {
namespace {

using nlohmann::json;

// Every site's tensor on the probe (and, for unsigned sites, the tensor entering its ReLU-like op), on the CPU.
class SiteRecorder : public SiteHandler {
 public:
  at::Tensor on_site(int64_t site_id, const at::Tensor& x) override {
    values[site_id] = x.detach().to(at::kCPU, at::kFloat).clone();
    return x;
  }
  void on_pre_activation(int64_t site_id, const at::Tensor& x) override {
    pre_activations[site_id] = x.detach().to(at::kCPU, at::kFloat).clone();
  }
  std::map<int64_t, at::Tensor> values;
  std::map<int64_t, at::Tensor> pre_activations;
};

// The float output of `layer` on `input` with the weight the model computes with now.
std::optional<at::Tensor> layer_output(const PreparedModel& model, const Layer& layer, const at::Tensor& input) {
  const at::Tensor w = model.layer_weight(layer.index).to(at::kCPU, at::kFloat);
  const at::Tensor b = layer.bias.defined() ? layer.bias.to(at::kCPU, at::kFloat) : at::Tensor();
  if (layer.kind == LayerKind::kLinear) return at::linear(input, w, b);
  if (layer.stride.empty() || layer.transposed) return std::nullopt;
  return at::convolution(input, w, b, layer.stride, layer.padding, layer.dilation, false,
                         std::vector<int64_t>(layer.stride.size(), 0), layer.groups);
}

bool same_values(const at::Tensor& a, const at::Tensor& b) {
  if (!a.sizes().equals(b.sizes())) return false;
  const double magnitude = a.abs().max().item<double>();
  return at::allclose(a, b, 1e-4, 1e-5 * magnitude + 1e-30);
}

// Where a layer's output directly becomes a site's tensor.
struct OutputSite {
  int64_t site_id = -1;
  std::string activation;                                // the fused ReLU-like op, empty when none
  double lo = -std::numeric_limits<double>::infinity();  // its real bounds
  double hi = std::numeric_limits<double>::infinity();
};

std::optional<OutputSite> direct_output_site(const PreparedModel& model, const at::Tensor& y,
                                             const SiteRecorder& recorder) {
  for (const Site& site : model.sites()) {
    if (site.is_unsigned) {
      const auto pre = recorder.pre_activations.find(site.id);
      const auto value = recorder.values.find(site.id);
      if (pre == recorder.pre_activations.end() || value == recorder.values.end() || !same_values(y, pre->second)) {
        continue;
      }
      OutputSite out{site.id, site.activation, 0.0, std::numeric_limits<double>::infinity()};
      // The upper bound shows where the activation cut the pre-activation (relu6/hardtanh); unseen: none on the probe.
      const at::Tensor cut = pre->second.gt(value->second);
      if (cut.any().item<bool>()) out.hi = value->second.masked_select(cut).max().item<double>();
      return out;
    }
    const auto value = recorder.values.find(site.id);
    if (value != recorder.values.end() && same_values(y, value->second)) return OutputSite{site.id, "", 0.0, 0.0};
  }
  return std::nullopt;
}

// A real bound as a code: rint(bound / scale) + zero_point in float32, as the fake quantizer computes codes.
int32_t code_of_bound(double bound, const ActivationCodes& codes) {
  if (std::isinf(bound)) return bound < 0 ? 0 : codes.max_code();
  const float q = std::nearbyint(static_cast<float>(bound) / codes.scale) + static_cast<float>(codes.zero_point);
  return static_cast<int32_t>(std::min(std::max(q, 0.0f), static_cast<float>(codes.max_code())));
}

json codes_json(const Site& site, const ActivationCodes& codes) {
  return {{"site", site.name}, {"scale", codes.scale}, {"zero_point", codes.zero_point}, {"bits", codes.bits}};
}

json layer_integer_json(const PreparedModel& model, const IntegerProgram& program, const Layer& layer,
                        const SiteRecorder& recorder, const std::map<int64_t, int64_t>& input_site) {
  if (static_cast<size_t>(layer.index) >= program.layers.size()) {
    throw UserError(fmt::format("integer export: no integer form of layer '{}' in the program", layer.name));
  }
  const IntegerLayer& il = program.layers[static_cast<size_t>(layer.index)];
  const auto in = input_site.find(layer.index);
  if (in == input_site.end()) {
    throw UserError(
        fmt::format("integer export: layer '{}' reads no activation site (deploy mode has one)", layer.name));
  }
  const Site& in_site = model.sites().at(static_cast<size_t>(in->second));
  json entry = {{"input", codes_json(in_site, il.input)},
                {"weight_scale", il.weight_scales},
                {"weight_zero_point", il.weight_zero_points},
                {"weight_bits", il.weight_bits},
                {"bias_int32", il.bias},
                {"accumulator_scale", il.accumulator_scales},
                {"output", nullptr}};
  const auto input_value = recorder.values.find(in_site.id);
  const std::optional<at::Tensor> y =
      input_value == recorder.values.end() ? std::nullopt : layer_output(model, layer, input_value->second);
  const std::optional<OutputSite> out = y ? direct_output_site(model, *y, recorder) : std::nullopt;
  const std::optional<ActivationCodes> out_codes = out ? program.sites.at(static_cast<size_t>(out->site_id))
                                                       : std::optional<ActivationCodes>();
  if (!out || !out_codes) {
    entry["output_note"] = layer.last ? "the accumulators are the logits (times accumulator_scale)"
                                      : "other ops (a residual add, a pool, a non-fusable activation, padding, ...) "
                                        "come before the next site: it requantizes from accumulator_scale";
    return entry;
  }
  std::vector<int32_t> multipliers, exponents;
  for (double scale : il.accumulator_scales) {
    FixedPointMultiplier m;
    try {
      m = quantize_multiplier(scale / static_cast<double>(out_codes->scale));
    } catch (const std::invalid_argument&) {
      throw UserError(fmt::format("integer export: layer '{}': its accumulator scale {:g} over site '{}''s scale {:g} "
                                  "has no fixed-point multiplier",
                                  layer.name, scale, model.sites()[out->site_id].name, out_codes->scale));
    }
    multipliers.push_back(m.multiplier);
    exponents.push_back(m.exponent);
  }
  const Site& site = model.sites().at(static_cast<size_t>(out->site_id));
  json output = codes_json(site, *out_codes);
  output["activation"] = out->activation.empty() ? json(nullptr) : json(out->activation);
  const int32_t lo = out->activation.empty() ? 0 : code_of_bound(out->lo, *out_codes);
  const int32_t hi = out->activation.empty() ? out_codes->max_code() : std::max(code_of_bound(out->hi, *out_codes), lo);
  output["clamp"] = {lo, hi};
  output["multiplier"] = multipliers;
  output["exponent"] = exponents;
  entry["output"] = output;
  return entry;
}

}  // namespace

json integer_parameters_json(const PreparedModel& model, const IntegerProgram& program, const at::Tensor& probe) {
  if (program.layers.size() != model.layers().size()) {
    throw UserError(fmt::format("integer export: the program has {} layers, the model {}", program.layers.size(),
                                model.layers().size()));
  }
  SiteRecorder recorder;
  {
    ScopedSiteHandler scope(recorder);
    model.forward(probe.to(model.device()));
  }
  std::map<int64_t, int64_t> input_site;  // layer -> the site it reads
  json sites = json::array();
  for (const Site& site : model.sites()) {
    for (int64_t layer : site.layers) input_site[layer] = site.id;
    const size_t id = static_cast<size_t>(site.id);
    if (id < program.sites.size() && program.sites[id]) {
      const ActivationCodes& c = *program.sites[id];
      sites.push_back({{"name", site.name}, {"scale", c.scale}, {"zero_point", c.zero_point}, {"bits", c.bits}});
    }
  }
  json layers = json::array();
  for (const Layer& layer : model.layers())
    layers.push_back(layer_integer_json(model, program, layer, recorder, input_site));
  const json index = {
      {"arithmetic", "int"},
      {"sites", sites},
      {"conventions",
       {{"activation_codes", "q = clamp(rint(x / scale) + zero_point, 0, 2^bits - 1), x = (q - zero_point) * scale"},
        {"weight_codes", "w = (k - weight_zero_point[c]) * weight_scale[c], the packed codes of the weights section"},
        {"accumulator", "acc[c] = sum (q_x - input.zero_point) * (k - weight_zero_point[c]) + bias_int32[c] in int32, "
                        "real value acc[c] * accumulator_scale[c]; padding holds input.zero_point"},
        {"requantize", "clamp(zero_point + RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc * 2^max(e, 0), "
                       "m), max(-e, 0)), clamp[0], clamp[1]) with m = multiplier[c], e = exponent[c] (gemmlowp's "
                       "OutputStageScaleInt32ByFixedPointAndExponentPC; multipliers from TFLite's QuantizeMultiplier)"},
        {"bias", "bias_int32[c] = rint(b[c] / accumulator_scale[c]) (half to even)"}}}};
  return {{"index", index}, {"layers", layers}};
}

void export_integer_parameters(const std::string& path, const PreparedModel& model, const IntegerProgram& program,
                               const at::Tensor& probe) {
  const ExportPaths paths = export_paths(path);
  json index;
  try {
    index = json::parse(read_file(paths.weights_index));
  } catch (const json::exception& e) {
    throw UserError(fmt::format("{}: not a weights index ({})", paths.weights_index, e.what()));
  }
  json& layers = index.at("layers");
  if (layers.size() != model.layers().size()) {
    throw UserError(fmt::format("{}: indexes {} layers, the model has {}", paths.weights_index, layers.size(),
                                model.layers().size()));
  }
  for (const Layer& layer : model.layers()) {
    if (layers.at(static_cast<size_t>(layer.index)).at("name") != layer.name) {
      throw UserError(fmt::format("{}: layer {} is not '{}'", paths.weights_index, layer.index, layer.name));
    }
  }
  const json integer = integer_parameters_json(model, program, probe);
  index["integer"] = integer.at("index");
  for (size_t i = 0; i < layers.size(); ++i) layers[i]["integer"] = integer.at("layers")[i];
  write_file_atomically(paths.weights_index, index.dump() + "\n");
}

}  // namespace quantsim
