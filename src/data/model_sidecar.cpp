#include "quantsim/model_sidecar.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "quantsim/atomic_file.h"
#include "quantsim/errors.h"

namespace quantsim {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A size key: absent keeps `fallback`, null means "none" (0), otherwise a non-negative integer.
int read_size(const json& preprocess, const char* key, int fallback, const std::string& file) {
  if (!preprocess.contains(key)) return fallback;
  const json& value = preprocess.at(key);
  if (value.is_null()) return 0;
  if (!value.is_number_integer() || value.get<int64_t>() < 0) {
    throw UserError(fmt::format("{}: preprocess.{} must be a non-negative integer or null", file, key));
  }
  return value.get<int>();
}

std::array<double, 3> read_triple(const json& preprocess, const char* key, std::array<double, 3> fallback,
                                  const std::string& file) {
  if (!preprocess.contains(key) || preprocess.at(key).is_null()) return fallback;
  const json& value = preprocess.at(key);
  if (value.is_number()) return {value.get<double>(), value.get<double>(), value.get<double>()};
  if (!value.is_array() || value.size() != 3 || !value[0].is_number() || !value[1].is_number() ||
      !value[2].is_number()) {
    throw UserError(fmt::format("{}: preprocess.{} must be a number or a list of 3 numbers", file, key));
  }
  return {value[0].get<double>(), value[1].get<double>(), value[2].get<double>()};
}

PreprocessSpec read_preprocess(const json& root, const std::string& file) {
  PreprocessSpec spec;  // torchvision defaults for whatever the sidecar leaves out
  if (!root.contains("preprocess")) return spec;
  const json& p = root.at("preprocess");
  if (!p.is_object()) throw UserError(file + ": \"preprocess\" must be an object");
  spec.resize_shorter_side = read_size(p, "resize_shorter_side", spec.resize_shorter_side, file);
  spec.center_crop = read_size(p, "center_crop", spec.center_crop, file);
  if (p.contains("interpolation") && p.at("interpolation").is_string()) {
    spec.interpolation = parse_interpolation(p.at("interpolation").get<std::string>(), file);
  }
  spec.mean = read_triple(p, "mean", spec.mean, file);
  spec.std = read_triple(p, "std", spec.std, file);
  for (double s : spec.std) {
    if (s == 0.0) throw UserError(file + ": preprocess.std contains 0");
  }
  return spec;
}

}  // namespace

std::string sidecar_path_for(const std::string& model_path) {
  return fs::path(model_path).replace_extension(".json").string();
}

std::optional<ModelSidecar> read_model_sidecar(const std::string& model_path) {
  const std::string file = sidecar_path_for(model_path);
  if (std::error_code ec; !fs::exists(fs::symlink_status(file, ec))) return std::nullopt;  // read_file judges the rest
  json root;
  try {
    root = json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw UserError(fmt::format("{}: not valid JSON ({})", file, e.what()));
  }
  if (!root.is_object()) throw UserError(file + ": expected a JSON object");
  ModelSidecar sidecar;
  sidecar.path = file;
  sidecar.preprocess = read_preprocess(root, file);
  if (root.contains("output") && root.at("output").is_object()) {
    const json& output = root.at("output");
    if (output.contains("num_classes") && !output.at("num_classes").is_null()) {
      if (!output.at("num_classes").is_number_integer() || output.at("num_classes").get<int64_t>() <= 0) {
        throw UserError(file + ": output.num_classes must be a positive integer");
      }
      sidecar.num_classes = output.at("num_classes").get<int64_t>();
    }
    if (output.contains("class_order_file") && output.at("class_order_file").is_string()) {
      sidecar.class_order_file = output.at("class_order_file").get<std::string>();
    }
  }
  return sidecar;
}

PreprocessSpec resolve_preprocess(const std::optional<ModelSidecar>& sidecar, const PreprocessOverrides& overrides) {
  return apply_overrides(sidecar ? sidecar->preprocess : PreprocessSpec{}, overrides);
}

std::string resolve_class_order_file(const std::string& name, const std::vector<std::string>& anchor_dirs) {
  if (name.empty()) return "";
  const fs::path given(name);
  if (given.is_absolute()) return fs::exists(given) ? given.string() : "";
  for (const std::string& anchor : anchor_dirs) {
    if (anchor.empty()) continue;
    std::error_code ec;
    fs::path dir = fs::absolute(fs::path(anchor), ec).lexically_normal();
    if (ec) continue;
    if (!dir.has_filename()) dir = dir.parent_path();  // "a/b/" -> "a/b"
    while (true) {
      const fs::path candidate = dir / given;
      if (fs::is_regular_file(candidate, ec)) return candidate.string();
      if (!dir.has_parent_path() || dir.parent_path() == dir) break;
      dir = dir.parent_path();
    }
  }
  return "";
}

}  // namespace quantsim
