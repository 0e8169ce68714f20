#include "quantsim/app/sweep/sweep_plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "quantsim/app/cli.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/json_integer.h"
#include "quantsim/core/json_nesting.h"
#include "quantsim/core/message_text.h"
#include "quantsim/core/sha256.h"
#include "quantsim/quant/statistics_store.h"

namespace quantsim {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// Flags the sweep derives from the file's own fields; repeating them in a flag list would contradict the file.
const std::set<std::string> kSweepOwnedFlags = {
    "model",     "a",     "arch", "models-dir", "data",  "calib-data",  "stats-dir", "results", "label",
    "sweep-key", "qtype", "qw",   "qweight",    "shard", "save-logits", "h",         "help",    "version"};

// Where the file's entries are resolved and named in messages.
struct FileContext {
  std::string source;
  fs::path base_dir;

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw UserError(fmt::format("sweep {}: {}: {}", source, where, what));
  }
};

struct ModelEntry {
  std::string name;
  Json raw;  // as written, for the configuration keys
  std::string model, data, calib_data;
  std::string cache;  // "cache": the image cache of `data` every run reads (built by the sweep when absent)
  std::vector<std::string> args;
};

struct Method {
  std::string name;
  std::vector<std::string> flags;
};

// Bits as the sweep file writes them: 1..16, or 32 for "not quantized".
struct Precision {
  int weight_bits = 32;
  int act_bits = 32;
};

struct Cell {
  const Method* method;
  Precision precision;
};

void check_keys(const FileContext& ctx, const Json& object, const std::string& where,
                const std::set<std::string>& allowed) {
  if (!object.is_object()) ctx.fail(where, "must be a JSON object");
  for (const auto& item : object.items()) {
    if (allowed.count(item.key()) == 0) ctx.fail(where, fmt::format("unknown key \"{}\"", item.key()));
  }
}

std::string string_field(const FileContext& ctx, const Json& object, const std::string& key, const std::string& where,
                         bool required) {
  if (!object.contains(key)) {
    if (required) ctx.fail(where, fmt::format("missing \"{}\"", key));
    return "";
  }
  if (!object[key].is_string() || object[key].get<std::string>().empty()) {
    ctx.fail(where + "." + key, "must be a non-empty string");
  }
  return object[key].get<std::string>();
}

// Longest model or method name: it becomes part of a folder name (with a hash) and of every results key.
constexpr size_t kMaxNameLength = 100;

// A name that goes into file names and results keys.
std::string checked_name(const FileContext& ctx, const std::string& name, const std::string& where) {
  if (name.size() > kMaxNameLength) {
    ctx.fail(where, fmt::format("'{}' is longer than {} characters", abbreviated(name), kMaxNameLength));
  }
  if (!std::regex_match(name, std::regex("[A-Za-z0-9._+-]+"))) {
    ctx.fail(where, fmt::format("'{}' must be letters, digits and . _ + - only", abbreviated(name)));
  }
  return name;
}

// "--flag=value" -> "flag"; "-pcq_w" -> "pcq_w"; a value (or a negative number) -> "".
std::string flag_name(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-' || std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.') return "";
  const size_t start = arg[1] == '-' ? 2 : 1;
  return arg.substr(start, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - start);
}

std::vector<std::string> flag_list(const FileContext& ctx, const Json& value, const std::string& where, bool method) {
  if (!value.is_array()) ctx.fail(where, "must be a list of command-line words, e.g. [\"-c\", \"laplace\"]");
  std::vector<std::string> flags;
  for (const Json& word : value) {
    if (word.is_string()) {
      flags.push_back(word.get<std::string>());
    } else if (word.is_number_integer() || (word.is_number_float() && std::isfinite(word.get<double>()))) {
      flags.push_back(word.dump());
    } else {
      ctx.fail(where, fmt::format("{} is not a string or a finite number", abbreviated(word.dump())));
    }
    const std::string name = flag_name(flags.back());
    if (kSweepOwnedFlags.count(name) || (!method && name == "sm")) {
      ctx.fail(where, fmt::format("{} is set by the sweep itself{}", flags.back(),
                                  name == "sm" ? " (a method may say -sm no for dynamic ranges)" : ""));
    }
  }
  return flags;
}

// "${VAR}" -> the environment variable's value.
std::string expand_variables(const FileContext& ctx, const std::string& text, const std::string& where) {
  static const std::regex kVariable(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
  std::string out;
  auto begin = std::sregex_iterator(text.begin(), text.end(), kVariable);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const char* value = std::getenv((*it)[1].str().c_str());
    if (value == nullptr || *value == '\0') {
      ctx.fail(where, fmt::format("environment variable {} is not set", (*it)[1].str()));
    }
    out += text.substr(last, static_cast<size_t>(it->position()) - last) + value;
    last = static_cast<size_t>(it->position() + it->length());
  }
  return out + text.substr(last);
}

std::string resolve_path(const FileContext& ctx, const std::string& raw, const std::string& where) {
  const fs::path path = expand_user(expand_variables(ctx, raw, where));
  return (path.is_absolute() ? path : ctx.base_dir / path).lexically_normal().string();
}

int parse_bits(const FileContext& ctx, const Json& value, const std::string& where) {
  // json_int64 rather than get<int>(), which would read 2^32 + 8 as 8.
  const std::optional<int64_t> bits = json_int64(value);
  if (!bits || !(*bits == 32 || (*bits >= 1 && *bits <= 16))) {
    ctx.fail(where, fmt::format("{} is not a bit width (1..16, or 32 for not quantized)", abbreviated(value.dump())));
  }
  return static_cast<int>(*bits);
}

std::vector<int> bits_list(const FileContext& ctx, const Json& file, const std::string& key) {
  if (!file.contains(key) || !file[key].is_array() || file[key].empty()) {
    ctx.fail(key, "must be a non-empty list of bit widths, e.g. [8, 4]");
  }
  std::vector<int> bits;
  for (size_t i = 0; i < file[key].size(); ++i) {
    bits.push_back(parse_bits(ctx, file[key][i], fmt::format("{}[{}]", key, i)));
  }
  return bits;
}

std::vector<ModelEntry> read_models(const FileContext& ctx, const Json& file) {
  if (!file.contains("models") || !file["models"].is_array() || file["models"].empty()) {
    ctx.fail("models", "must be a non-empty list of {\"name\", \"model\", \"data\"} objects");
  }
  std::vector<ModelEntry> models;
  std::set<std::string> names;
  for (size_t i = 0; i < file["models"].size(); ++i) {
    const Json& raw = file["models"][i];
    const std::string where = fmt::format("models[{}]", i);
    check_keys(ctx, raw, where, {"name", "model", "data", "calib_data", "cache", "args"});
    ModelEntry entry;
    entry.name = checked_name(ctx, string_field(ctx, raw, "name", where, true), where + ".name");
    if (!names.insert(entry.name).second) ctx.fail(where + ".name", fmt::format("'{}' is repeated", entry.name));
    entry.raw = raw;
    // Results from the cache equal those from the images: naming a cache keeps the configurations' keys (and their
    // finished runs).
    entry.raw.erase("cache");
    entry.model = resolve_path(ctx, string_field(ctx, raw, "model", where, true), where + ".model");
    entry.data = resolve_path(ctx, string_field(ctx, raw, "data", where, true), where + ".data");
    const std::string calib = string_field(ctx, raw, "calib_data", where, false);
    if (!calib.empty()) entry.calib_data = resolve_path(ctx, calib, where + ".calib_data");
    const std::string cache = string_field(ctx, raw, "cache", where, false);
    if (!cache.empty()) entry.cache = resolve_path(ctx, cache, where + ".cache");
    if (raw.contains("args")) entry.args = flag_list(ctx, raw["args"], where + ".args", false);
    models.push_back(std::move(entry));
  }
  return models;
}

std::vector<Method> read_methods(const FileContext& ctx, const Json& file) {
  std::vector<Method> methods;
  if (!file.contains("methods")) return methods;
  if (!file["methods"].is_object()) ctx.fail("methods", "must map method names to flag lists");
  for (const auto& item : file["methods"].items()) {
    const std::string where = "methods." + item.key();
    methods.push_back({checked_name(ctx, item.key(), where), flag_list(ctx, item.value(), where, true)});
  }
  return methods;
}

const Method& find_method(const FileContext& ctx, const std::vector<Method>& methods, const std::string& name,
                          const std::string& where) {
  for (const Method& method : methods) {
    if (method.name == name) return method;
  }
  ctx.fail(where, fmt::format("no method \"{}\" in \"methods\"", name));
}

void check_quantized(const FileContext& ctx, const Precision& precision, const std::string& where) {
  if (precision.weight_bits == 32 && precision.act_bits == 32) {
    ctx.fail(where, "32-bit weights and activations is the FP32 baseline: use \"fp32\": true");
  }
}

// The grid (weight_bits x act_bits x methods), or the explicit "configurations" list.
std::vector<Cell> read_cells(const FileContext& ctx, const Json& file, const std::vector<Method>& methods) {
  std::vector<Cell> cells;
  if (file.contains("configurations")) {
    if (file.contains("weight_bits") || file.contains("act_bits")) {
      ctx.fail("configurations", "give either \"configurations\" or the \"weight_bits\" x \"act_bits\" grid");
    }
    if (!file["configurations"].is_array()) ctx.fail("configurations", "must be a list");
    for (size_t i = 0; i < file["configurations"].size(); ++i) {
      const Json& raw = file["configurations"][i];
      const std::string where = fmt::format("configurations[{}]", i);
      check_keys(ctx, raw, where, {"method", "weight_bits", "act_bits"});
      for (const char* key : {"weight_bits", "act_bits"}) {
        if (!raw.contains(key)) ctx.fail(where, fmt::format("missing \"{}\"", key));
      }
      const Precision precision{parse_bits(ctx, raw["weight_bits"], where + ".weight_bits"),
                                parse_bits(ctx, raw["act_bits"], where + ".act_bits")};
      check_quantized(ctx, precision, where);
      cells.push_back(
          {&find_method(ctx, methods, string_field(ctx, raw, "method", where, true), where + ".method"), precision});
    }
    return cells;
  }
  if (methods.empty()) return cells;
  const std::vector<int> weight_bits = bits_list(ctx, file, "weight_bits");
  const std::vector<int> act_bits = bits_list(ctx, file, "act_bits");
  for (int w : weight_bits) {
    for (int a : act_bits) {
      check_quantized(ctx, {w, a}, fmt::format("W{}A{}", w, a));
      for (const Method& method : methods) cells.push_back({&method, {w, a}});
    }
  }
  return cells;
}

std::string bits_flag(int bits) { return bits == 32 ? "f32" : fmt::format("int{}", bits); }

// The first characters of a SHA-256 of `identity`: objects are re-read unordered, so that the order of keys in the
// file does not matter, only what they say.
std::string short_hash(const Json& identity, size_t length) {
  return sha256_hex(nlohmann::json::parse(identity.dump()).dump()).substr(0, length);
}

// What the sweep needs to build every run of one model entry.
struct ModelRuns {
  const FileContext& ctx;
  const ModelEntry& model;
  const std::vector<std::string>& common;
  std::string stats_dir;  // this model entry's own statistics folder
  std::string results;

  // The flags of every run of this entry; `folder`: read the images from "data" even when a cache is named.
  std::vector<std::string> base_args(bool folder = false) const {
    const std::string& data = model.cache.empty() || folder ? model.data : model.cache;
    std::vector<std::string> args = {"--model",     model.model, "--data",    data,
                                     "--stats-dir", stats_dir,   "--results", results};
    if (!model.calib_data.empty()) args.insert(args.end(), {"--calib-data", model.calib_data});
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), model.args.begin(), model.args.end());
    return args;
  }

  Config parse(const std::vector<std::string>& args, const std::string& what) const {
    try {
      return parse_command_line(args).config;
    } catch (const UserError& e) {
      ctx.fail(fmt::format("{} of model {}", what, model.name), e.what());
    }
  }

  // The build of this entry's image cache: the whole dataset (it then serves every -ss, -sh and -cs), with the
  // model's preprocessing and the flags' overrides.
  std::optional<SweepCache> cache() const {
    if (model.cache.empty()) return std::nullopt;
    Config build = parse(base_args(/*folder=*/true), "the image cache");
    build.subset.reset();
    return SweepCache{model.cache, build};
  }

  SweepRun fp32() const {
    const Json identity = {{"model", model.raw}, {"common", common}, {"method", "fp32"}};
    SweepRun run{
        fmt::format("{}/FP32/fp32/{}", model.name, short_hash(identity, 10)), model.name, "fp32", {}, {}, cache()};
    std::vector<std::string> args = base_args();
    args.insert(args.end(), {"--label", "fp32", "--sweep-key", run.key});
    run.evaluation = parse(args, "the FP32 baseline");
    return run;
  }

  SweepRun quantized(const Cell& cell) const {
    const Method& method = *cell.method;
    const std::string precision = fmt::format("W{}A{}", cell.precision.weight_bits, cell.precision.act_bits);
    const Json identity = {{"model", model.raw},
                           {"common", common},
                           {"weight_bits", cell.precision.weight_bits},
                           {"act_bits", cell.precision.act_bits},
                           {"method", method.name},
                           {"flags", method.flags}};
    SweepRun run{fmt::format("{}/{}/{}/{}", model.name, precision, method.name, short_hash(identity, 10)),
                 model.name,
                 method.name,
                 {},
                 {},
                 cache()};
    std::vector<std::string> args = base_args();
    args.insert(args.end(), {"--label", method.name, "--sweep-key", run.key, "--qtype",
                             bits_flag(cell.precision.act_bits), "-qw", bits_flag(cell.precision.weight_bits)});
    const bool method_sets_mode = std::any_of(method.flags.begin(), method.flags.end(),
                                              [](const std::string& f) { return flag_name(f) == "sm"; });
    if (!method_sets_mode) args.insert(args.end(), {"-sm", "use"});
    args.insert(args.end(), method.flags.begin(), method.flags.end());
    const std::string what = fmt::format("method {} at {}", method.name, precision);
    run.evaluation = parse(args, what);
    if (run.evaluation.stats_mode == StatsMode::kCollect) ctx.fail(what, "-sm collect is the sweep's own business");
    if (run.evaluation.stats_mode == StatsMode::kUse) {
      // --cle needs statistics of the equalised model (docs/QUANTIZATION.md, section 14.1): a folder of their own.
      const bool cle = run.evaluation.cross_layer_equalization;
      if (cle) run.evaluation.stats_dir = (fs::path(stats_dir) / "cle").string();
      run.collect = collect(run.evaluation.act_sites, cle);
    }
    return run;
  }

  // The statistics of this model entry for one --act-sites mode: the common and model flags only, so that every
  // method shares them.
  Config collect(ActSites act_sites, bool cle = false) const {
    std::vector<std::string> args = base_args();
    args.insert(args.end(), {"--act-sites", to_string(act_sites), "-sm", "collect"});
    if (!cle) return parse(args, "the statistics collection");
    args.push_back("--cle");
    Config config = parse(args, "the statistics collection");
    config.stats_dir = (fs::path(stats_dir) / "cle").string();
    return config;
  }
};

}  // namespace

SweepPlan sweep_plan_from_json(const Json& file, const std::string& base_dir, const std::string& source,
                               const SweepOutputs& outputs) {
  const FileContext ctx{source, fs::path(base_dir)};
  check_keys(ctx, file, "top level",
             {"models", "fp32", "weight_bits", "act_bits", "methods", "configurations", "common", "stats_dir",
              "results", "description"});
  const std::vector<ModelEntry> models = read_models(ctx, file);
  const std::vector<Method> methods = read_methods(ctx, file);
  const std::vector<Cell> cells = read_cells(ctx, file, methods);
  const std::vector<std::string> common = file.contains("common") ? flag_list(ctx, file["common"], "common", false)
                                                                  : std::vector<std::string>{};
  if (file.contains("fp32") && !file["fp32"].is_boolean()) ctx.fail("fp32", "must be true or false");
  const bool fp32 = file.value("fp32", true);
  if (!fp32 && cells.empty()) ctx.fail("top level", "no configuration: give \"methods\" or \"fp32\": true");

  const auto output = [&](const std::string& override_path, const std::string& key, const std::string& fallback) {
    if (!override_path.empty()) return override_path;
    return resolve_path(ctx, file.contains(key) ? string_field(ctx, file, key, "top level", true) : fallback, key);
  };
  SweepPlan plan{source, output(outputs.results, "results", "results.jsonl"), {}};
  const std::string stats_dir = output(outputs.stats_dir, "stats_dir", "statistics");
  for (const ModelEntry& model : models) {
    // Statistics depend on the model entry and the common flags (-b, -cs, calibration data): each such combination
    // gets a folder of its own, so that editing them collects afresh instead of using stale ranges.
    const Json collect_identity = {{"model", model.raw}, {"common", common}};
    const std::string model_stats =
        (fs::path(stats_dir) / (model.name + "-" + short_hash(collect_identity, 8))).string();
    const ModelRuns runs{ctx, model, common, model_stats, plan.results};
    if (fp32) plan.runs.push_back(runs.fp32());
    for (const Cell& cell : cells) plan.runs.push_back(runs.quantized(cell));
  }
  return plan;
}

SweepPlan load_sweep_plan(const std::string& path, const SweepOutputs& outputs) {
  Json file;
  const std::string text = read_file(path);
  check_json_nesting(text, "sweep " + path);
  try {
    file = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number such as 1e400
    throw UserError(fmt::format("sweep {}: not valid JSON: {}", path, e.what()));
  }
  const fs::path base = fs::absolute(path).parent_path();
  return sweep_plan_from_json(file, base.string(), path, outputs);
}

}  // namespace quantsim
