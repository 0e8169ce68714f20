#include "quantsim/export/model_export.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/sha256.h"
#include "quantsim/data/model_sidecar.h"
#include "quantsim/graph/site_handler.h"

namespace quantsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool same_file_path(const std::string& a, const std::string& b) {
  std::error_code ec_a, ec_b;
  const fs::path canonical_a = fs::weakly_canonical(a, ec_a);
  const fs::path canonical_b = fs::weakly_canonical(b, ec_b);
  return ec_a || ec_b ? fs::path(a).lexically_normal() == fs::path(b).lexically_normal() : canonical_a == canonical_b;
}

void check_paths(const ExportPaths& paths, const ModelFile& source) {
  if (same_file_path(paths.model, source.path)) {
    throw UserError(fmt::format("--export {}: would overwrite the model being quantized", paths.model));
  }
  if (same_file_path(paths.sidecar, paths.model) || same_file_path(paths.sidecar, sidecar_path_for(source.path))) {
    throw UserError(
        fmt::format("--export {}: its sidecar {} would overwrite {}", paths.model, paths.sidecar,
                    same_file_path(paths.sidecar, paths.model) ? "the exported model" : "the source model's sidecar"));
  }
}

// Runs the probe once through the quantizer, which then holds every site's static parameters.
std::vector<std::optional<QuantParams>> static_site_params(const PreparedModel& model, ActivationQuantizer& activations,
                                                           const at::Tensor& probe) {
  {
    ScopedSiteHandler scope(activations);
    model.forward(probe.to(model.device()));
  }
  std::vector<std::optional<QuantParams>> params;
  for (const Site& site : model.sites()) {
    const ActivationQuantizer::SiteState& state = activations.states().at(site.id);
    if (state.bits == 0) {
      params.emplace_back();
    } else if (!state.decided) {
      throw UserError(fmt::format("--export: activation site {} has no static range to fold into the model; "
                                  "collect statistics (-sm collect) and export with -sm use",
                                  site.name));
    } else {
      params.emplace_back(state.params);
    }
  }
  return params;
}

// The layer as stored in the weights file; checks that the stored form rebuilds the weight the model computes with.
WeightRecord weight_record(const Layer& layer, const QuantizedWeight& quantized, const at::Tensor& live_weight,
                           WeightCorrections corrections) {
  WeightRecord record;
  record.name = layer.name;
  record.kind = layer.kind;
  record.bits = quantized.bits;
  if (layer.bias.defined()) record.bias = layer.bias.to(at::kCPU, at::kFloat);
  if (quantized.bits == 0) {
    record.float_weight = live_weight.to(at::kCPU, at::kFloat);
    return record;
  }
  if (quantized.grid.step.empty() || !quantized.grid_weight.defined()) {
    throw std::runtime_error(fmt::format("--export: layer {} is quantized but names no integer grid", layer.name));
  }
  const at::Tensor grid = quantized.grid_weight.to(at::kCPU, at::kFloat);
  try {
    record.packed = pack_weight(grid, quantized.grid);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(fmt::format("--export: layer {}: {}", layer.name, e.what()));
  }
  record.corrections = correction_steps(grid, layer.original_weight.to(at::kCPU, at::kFloat), corrections);
  if (!at::equal(folded_weight(record), live_weight.to(at::kCPU, at::kFloat))) {
    throw std::runtime_error(fmt::format("--export: layer {}: its codes and corrections do not rebuild the weight "
                                         "the model computes with",
                                         layer.name));
  }
  return record;
}

// The source model's sidecar (preprocessing, classes) for the exported file, with what the export changed.
void write_sidecar(const ExportPaths& paths, const ExportInputs& inputs) {
  if (!inputs.source.sidecar) return;
  json sidecar = json::parse(read_file(inputs.source.sidecar->path));
  sidecar["file"] = fs::path(paths.model).filename().string();
  sidecar["sha256"] = sha256_file(paths.model);
  sidecar["bytes"] = fs::file_size(paths.model);
  sidecar["quant_sim_export"] = {{"source_model", inputs.source.path},
                                 {"source_sha256", inputs.source.sha256},
                                 {"weights_index", fs::path(paths.weights_index).filename().string()},
                                 {"settings", inputs.settings}};
  write_file_atomically(paths.sidecar, sidecar.dump(2) + "\n");
}

}  // namespace

ExportPaths export_paths(const std::string& path) {
  const fs::path model(path);
  const fs::path stem = model.parent_path() / model.stem();
  return {path, stem.string() + ".qweights.bin", stem.string() + ".qweights.json", sidecar_path_for(path)};
}

std::vector<LayerSize> export_quantized_model(const std::string& path, const ExportInputs& inputs) {
  const ExportPaths paths = export_paths(path);
  check_paths(paths, inputs.source);
  inputs.model.save_fake_quantized(paths.model, static_site_params(inputs.model, inputs.activations, inputs.probe));

  std::vector<WeightRecord> records;
  std::vector<LayerSize> sizes;
  for (const Layer& layer : inputs.model.layers()) {
    records.push_back(weight_record(layer, inputs.weights.at(layer.index), inputs.model.layer_weight(layer.index),
                                    inputs.corrections));
    sizes.push_back(layer_size(records.back()));
  }
  const json source = {{"model", inputs.source.path},
                       {"model_sha256", inputs.source.sha256},
                       {"exported_model", fs::path(paths.model).filename().string()},
                       {"settings", inputs.settings}};
  write_quantized_weights(paths.weights_bin, paths.weights_index, records, source);
  write_sidecar(paths, inputs);
  return sizes;
}

}  // namespace quantsim
