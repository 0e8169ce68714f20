#include "quantsim/app/commands/inspect_command.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "quantsim/app/commands/subcommand_args.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/message_text.h"
#include "quantsim/graph/prepared_model.h"

namespace quantsim {
namespace {

// Printed after the flags by --help.
constexpr const char* kInspectExitStatusHelp =
    "\nPrints the quantized layers (conv/linear), the activation sites of each mode and the ops left in float\n"
    "(docs/QUANTIZATION.md, section 4).\n"
    "\nExit status:\n"
    "  0  printed\n"
    "  2  bad input: a flag, or a missing, unreadable or refused model\n"
    "  1  internal error\n";

// What inspect reports of one model: layers and float ops do not depend on the site mode, sites do.
struct ModeSites {
  ActSites mode = ActSites::kOutputs;
  std::vector<Site> sites;
};

struct Inspection {
  std::string model;
  std::vector<Layer> layers;
  std::vector<FloatOp> float_ops;
  std::vector<ModeSites> modes;
};

cxxopts::Options inspect_options() {
  cxxopts::Options options("quant-sim inspect", "Lists what quant-sim quantizes in a model and what stays float.");
  options.custom_help("MODEL [--act-sites outputs|inputs|both] [--json]");
  // clang-format off
  options.add_options()
    ("model", "TorchScript model file", cxxopts::value<std::string>())
    ("act-sites", "sites of which mode: outputs (paper mode), inputs (deploy mode) or both",
     cxxopts::value<std::string>()->default_value("both"))
    ("json", "write one JSON document to stdout instead of text")
    ("h,help", "print this help");
  // clang-format on
  return options;
}

std::vector<ActSites> parse_modes(const std::string& value) {
  if (value == "outputs") return {ActSites::kOutputs};
  if (value == "inputs") return {ActSites::kInputs};
  if (value == "both") return {ActSites::kOutputs, ActSites::kInputs};
  throw UserError(
      fmt::format("quant-sim inspect: flag --act-sites: '{}' is not one of outputs, inputs, both", abbreviated(value)));
}

Inspection inspect_model(const std::string& path, const std::vector<ActSites>& modes) {
  Inspection inspection;
  inspection.model = path;
  for (ActSites mode : modes) {
    PrepareOptions options;
    options.act_sites = mode;
    options.instrument = false;  // the sites are listed either way
    const PreparedModel model = PreparedModel::load(path, options);
    if (inspection.modes.empty()) {
      inspection.layers = model.layers();
      inspection.float_ops = model.float_ops();
    }
    inspection.modes.push_back({mode, model.sites()});
  }
  return inspection;
}

// How many float ops of each kind, the most frequent first (ties in graph order).
std::vector<std::pair<std::string, int64_t>> float_op_counts(const std::vector<FloatOp>& ops) {
  std::vector<std::pair<std::string, int64_t>> counts;
  std::map<std::string, size_t> position;
  for (const FloatOp& op : ops) {
    const auto [it, inserted] = position.emplace(op.op, counts.size());
    if (inserted) counts.emplace_back(op.op, 0);
    ++counts[it->second].second;
  }
  std::stable_sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return counts;
}

int64_t count_layers(const std::vector<Layer>& layers, LayerKind kind) {
  return std::count_if(layers.begin(), layers.end(), [kind](const Layer& layer) { return layer.kind == kind; });
}

std::string mode_title(ActSites mode) {
  return mode == ActSites::kOutputs ? "paper mode (--act-sites outputs)" : "deploy mode (--act-sites inputs)";
}

std::vector<std::string> site_layer_names(const Site& site, const std::vector<Layer>& layers) {
  std::vector<std::string> names;
  for (int64_t index : site.layers) names.push_back(layers.at(static_cast<size_t>(index)).name);
  return names;
}

// ---- text ----

// Rows of cells as left-aligned columns, two spaces apart, each line indented by two.
std::string text_columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t i = 0; i < row.size(); ++i) line += fmt::format("{:<{}}  ", row[i], widths[i]);
    text += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";  // no trailing blanks
  }
  return text;
}

std::string first_last_text(const Layer& layer) {
  if (layer.first && layer.last) return "first, last";
  return layer.first ? "first" : layer.last ? "last" : "";
}

std::string summary_text(const Inspection& in) {
  std::vector<std::string> modes;
  for (const ModeSites& mode : in.modes) {
    modes.push_back(
        fmt::format("{} in {} mode", mode.sites.size(), mode.mode == ActSites::kOutputs ? "paper" : "deploy"));
  }
  return fmt::format("{}: {} quantized layers ({} conv, {} linear); sites: {}; {} ops left in float\n", in.model,
                     in.layers.size(), count_layers(in.layers, LayerKind::kConv),
                     count_layers(in.layers, LayerKind::kLinear), fmt::join(modes, ", "), in.float_ops.size());
}

std::string layers_text(const std::vector<Layer>& layers) {
  std::vector<std::vector<std::string>> rows = {
      {"index", "name", "op", "kind", "weight shape", "groups", "first/last"}};
  for (const Layer& layer : layers) {
    rows.push_back({std::to_string(layer.index), layer.name, layer.op, to_string(layer.kind),
                    fmt::format("[{}]", fmt::join(layer.original_weight.sizes(), ", ")), std::to_string(layer.groups),
                    first_last_text(layer)});
  }
  return fmt::format("\nquantized layers (conv/linear), in execution order: {}\n", layers.size()) + text_columns(rows);
}

// Paper mode quantizes a conv's output after its ReLU-like op: "aten::conv2d + aten::relu".
std::string producer_text(const Site& site) {
  return site.activation.empty() || site.activation == site.producer ? site.producer
                                                                     : site.producer + " + " + site.activation;
}

std::string sites_text(const ModeSites& mode, const std::vector<Layer>& layers) {
  const bool paper = mode.mode == ActSites::kOutputs;
  std::vector<std::vector<std::string>> rows = {
      {"id", "name", "kind", "sign", "producer", paper ? "output of" : "input of", "first_last"}};
  for (const Site& site : mode.sites) {
    const std::vector<std::string> names = site_layer_names(site, layers);
    rows.push_back({std::to_string(site.id), site.name, to_string(site.kind), site.is_unsigned ? "unsigned" : "signed",
                    producer_text(site), names.empty() ? "-" : fmt::format("{}", fmt::join(names, ", ")),
                    site.first_last ? (site.is_logits ? "yes (logits)" : "yes") : ""});
  }
  return fmt::format("\nsites, {}: {}\n", mode_title(mode.mode), mode.sites.size()) + text_columns(rows);
}

std::string float_ops_text(const std::vector<FloatOp>& ops) {
  std::vector<std::string> counts;
  for (const auto& [op, count] : float_op_counts(ops)) counts.push_back(fmt::format("{} x {}", op, count));
  std::vector<std::vector<std::string>> rows = {{"op", "module path"}};
  for (const FloatOp& op : ops) rows.push_back({op.op, op.module_path.empty() ? "(top level)" : op.module_path});
  if (ops.empty()) return "\nops left in float: none\n";
  return fmt::format("\nops left in float: {} ({})\n", ops.size(), fmt::join(counts, ", ")) + text_columns(rows);
}

std::string inspection_text(const Inspection& in) {
  std::string text = summary_text(in) + layers_text(in.layers);
  for (const ModeSites& mode : in.modes) text += sites_text(mode, in.layers);
  return text + float_ops_text(in.float_ops);
}

// ---- JSON ----

nlohmann::ordered_json layer_json(const Layer& layer) {
  return {{"index", layer.index},
          {"name", layer.name},
          {"op", layer.op},
          {"kind", to_string(layer.kind)},
          {"weight_shape", layer.original_weight.sizes().vec()},
          {"groups", layer.groups},
          {"first", layer.first},
          {"last", layer.last}};
}

nlohmann::ordered_json site_json(const Site& site, const std::vector<Layer>& layers) {
  return {{"id", site.id},
          {"name", site.name},
          {"kind", to_string(site.kind)},
          {"unsigned", site.is_unsigned},
          {"activation", site.activation},
          {"producer", site.producer},
          {"layers", site.layers},
          {"layer_names", site_layer_names(site, layers)},
          {"first_last", site.first_last},
          {"logits", site.is_logits},
          {"per_channel_allowed", site.per_channel_allowed}};
}

nlohmann::ordered_json summary_json(const Inspection& in) {
  nlohmann::ordered_json sites = nlohmann::ordered_json::object();
  for (const ModeSites& mode : in.modes) sites[to_string(mode.mode)] = mode.sites.size();
  return {{"layers", in.layers.size()},
          {"conv", count_layers(in.layers, LayerKind::kConv)},
          {"linear", count_layers(in.layers, LayerKind::kLinear)},
          {"sites", sites},
          {"float_ops", in.float_ops.size()}};
}

nlohmann::ordered_json inspection_json(const Inspection& in) {
  nlohmann::ordered_json json = {{"model", in.model}, {"summary", summary_json(in)}};
  json["layers"] = nlohmann::ordered_json::array();
  for (const Layer& layer : in.layers) json["layers"].push_back(layer_json(layer));
  json["sites"] = nlohmann::ordered_json::object();
  for (const ModeSites& mode : in.modes) {
    auto& list = json["sites"][to_string(mode.mode)] = nlohmann::ordered_json::array();
    for (const Site& site : mode.sites) list.push_back(site_json(site, in.layers));
  }
  json["float_ops"] = nlohmann::ordered_json::array();
  for (const FloatOp& op : in.float_ops) json["float_ops"].push_back({{"op", op.op}, {"module_path", op.module_path}});
  json["float_op_counts"] = nlohmann::ordered_json::array();
  for (const auto& [op, count] : float_op_counts(in.float_ops)) {
    json["float_op_counts"].push_back({{"op", op}, {"count", count}});
  }
  return json;
}

}  // namespace

int run_inspect_command(const std::vector<std::string>& args) {
  cxxopts::Options options = inspect_options();
  const cxxopts::ParseResult r = parse_subcommand_args(options, "model", args);
  if (printed_help(options, r)) {
    std::fputs(kInspectExitStatusHelp, stdout);
    return 0;
  }
  const std::vector<ActSites> modes = parse_modes(r["act-sites"].as<std::string>());
  const Inspection inspection = inspect_model(expand_user(r["model"].as<std::string>()), modes);
  if (r.count("json")) {
    // A path that is not UTF-8 must not make the document unwritable.
    const std::string json = inspection_json(inspection).dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::fputs((json + "\n").c_str(), stdout);
  } else {
    std::fputs(inspection_text(inspection).c_str(), stdout);
  }
  return 0;
}

}  // namespace quantsim
