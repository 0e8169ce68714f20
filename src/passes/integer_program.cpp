#include "quantsim/passes/integer_program.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/quant/integer_layer.h"

namespace quantsim {
namespace {

// The site whose tensor layer `index` reads (deploy mode: Site::layers lists the layers a site feeds).
const Site* input_site(const PreparedModel& model, int64_t index) {
  for (const Site& site : model.sites()) {
    for (const int64_t layer : site.layers) {
      if (layer == index) return &site;
    }
  }
  return nullptr;
}

std::optional<ActivationCodes> site_codes(const Site& site, const ActivationQuantizer::SiteState& state) {
  if (!state.decided) return std::nullopt;  // not reached by the forward that decided the ranges
  if (state.bits == 0) {
    throw UserError(fmt::format("--arith int: site '{}' stays float (--first-last-bits f32); integer hardware "
                                "computes on codes: give --first-last-bits N",
                                site.name));
  }
  if (state.params.per_channel) {
    throw UserError(fmt::format("--arith int: site '{}' gets a scale per channel (-pcq_a); integer kernels take one "
                                "scale and zero point per activation tensor: drop -pcq_a",
                                site.name));
  }
  try {
    return activation_codes(state.params);
  } catch (const UserError& e) {
    throw UserError(fmt::format("--arith int: site '{}': {}", site.name, e.what()));
  }
}

}  // namespace

void check_integer_site_mode(const PreparedModel& model) {
  if (model.options().act_sites == ActSites::kInputs || model.layers().empty()) return;
  throw UserError(fmt::format("--arith int needs --act-sites inputs: in paper mode (--act-sites outputs) the input of "
                              "layer '{}' stays float, and integer hardware multiplies codes only",
                              model.layers().front().name));
}

void check_integer_weights(const PreparedModel& model, const std::vector<QuantizedWeight>& weights) {
  for (const Layer& layer : model.layers()) {
    const QuantizedWeight& weight = weights.at(static_cast<size_t>(layer.index));
    if (weight.bits == 0 || !weight.grid_weight.defined()) {
      throw UserError(fmt::format("--arith int: layer '{}' keeps float weights (-qw f32 or --first-last-bits f32); "
                                  "integer hardware multiplies weight codes",
                                  layer.name));
    }
    if (!at::equal(weight.weight.to(weight.grid_weight.device()), weight.grid_weight)) {
      throw UserError(fmt::format("--arith int: layer '{}' computes with weights off their integer grid (-bcw/-vcw "
                                  "correct them after rounding); integer hardware has only the grid's codes: drop "
                                  "-bcw/-vcw",
                                  layer.name));
    }
  }
}

IntegerProgram build_integer_program(const PreparedModel& model, const std::vector<QuantizedWeight>& weights,
                                     const ActivationQuantizer& quantizer) {
  check_integer_site_mode(model);
  check_integer_weights(model, weights);
  IntegerProgram program;
  const auto& states = quantizer.states();
  for (const Site& site : model.sites()) program.sites.push_back(site_codes(site, states.at(site.id)));
  for (const Layer& layer : model.layers()) {
    const Site* site = input_site(model, layer.index);
    const std::optional<ActivationCodes>* input = site ? &program.sites.at(site->id) : nullptr;
    if (input == nullptr || !input->has_value()) {
      // Not reached by the deciding forward (or reading no site): forward_integer refuses it if it ever runs.
      IntegerLayer placeholder;
      placeholder.index = layer.index;
      placeholder.name = layer.name;
      placeholder.kind = layer.kind;
      program.layers.push_back(std::move(placeholder));
      continue;
    }
    program.layers.push_back(integer_layer(layer, weights.at(static_cast<size_t>(layer.index)), **input));
  }
  return program;
}

}  // namespace quantsim
