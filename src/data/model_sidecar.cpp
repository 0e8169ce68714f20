#include "quantsim/data/model_sidecar.h"

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/json_integer.h"
#include "quantsim/core/json_nesting.h"

namespace quantsim {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "<file>: <field> must be <expected>, got <value>": one line naming the sidecar and the field.
[[noreturn]] void wrong_field(const std::string& file, const std::string& field, const std::string& expected,
                              const json& value) {
  std::string shown = value.dump();
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  throw UserError(fmt::format("{}: {} must be {}, got {}", file, field, expected, shown));
}

// An object member that must itself be an object when present. null is refused, not read as absent: a section
// that was meant to be there and is not would silently change the labels or the preprocessing.
const json* object_field(const json& parent, const char* key, const std::string& file) {
  if (!parent.contains(key)) return nullptr;
  if (!parent.at(key).is_object()) wrong_field(file, key, "an object", parent.at(key));
  return &parent.at(key);
}

// A size key: absent keeps `fallback`, null means "none" (0), otherwise an integer in 0..kMaxImageSide.
int read_size(const json& preprocess, const char* key, int fallback, const std::string& file) {
  if (!preprocess.contains(key)) return fallback;
  const json& value = preprocess.at(key);
  if (value.is_null()) return 0;
  const std::string field = std::string("preprocess.") + key;
  const std::optional<int64_t> size = json_int_in_range(value, 0, kMaxImageSide);
  if (!size) wrong_field(file, field, fmt::format("an integer in 0..{} or null", kMaxImageSide), value);
  return static_cast<int>(*size);
}

std::array<double, 3> read_triple(const json& preprocess, const char* key, std::array<double, 3> fallback,
                                  const std::string& file) {
  if (!preprocess.contains(key) || preprocess.at(key).is_null()) return fallback;
  const json& value = preprocess.at(key);
  const std::string field = std::string("preprocess.") + key;
  std::array<double, 3> triple{};
  if (value.is_number()) {
    triple = {value.get<double>(), value.get<double>(), value.get<double>()};
  } else if (value.is_array() && value.size() == 3 && value[0].is_number() && value[1].is_number() &&
             value[2].is_number()) {
    triple = {value[0].get<double>(), value[1].get<double>(), value[2].get<double>()};
  } else {
    wrong_field(file, field, "a number or a list of 3 numbers", value);
  }
  return triple;
}

PreprocessSpec read_preprocess(const json& root, const std::string& file) {
  PreprocessSpec spec;  // torchvision defaults for whatever the sidecar leaves out
  const json* p = object_field(root, "preprocess", file);
  if (p == nullptr) return spec;
  spec.resize_shorter_side = read_size(*p, "resize_shorter_side", spec.resize_shorter_side, file);
  spec.center_crop = read_size(*p, "center_crop", spec.center_crop, file);
  if (p->contains("interpolation") && !p->at("interpolation").is_null()) {
    if (!p->at("interpolation").is_string()) {
      wrong_field(file, "preprocess.interpolation", "\"bilinear\" or \"nearest\"", p->at("interpolation"));
    }
    spec.interpolation = parse_interpolation(p->at("interpolation").get<std::string>(),
                                             file + ": preprocess.interpolation");
  }
  spec.mean = read_triple(*p, "mean", spec.mean, file);
  spec.std = read_triple(*p, "std", spec.std, file);
  check_mean_values({spec.mean.begin(), spec.mean.end()}, file + ": preprocess.mean");
  check_std_values({spec.std.begin(), spec.std.end()}, file + ": preprocess.std");
  return spec;
}

// "output": the number of classes and the class-order file, both optional (a null field counts as absent).
void read_output(const json& root, const std::string& file, ModelSidecar& sidecar) {
  const json* output = object_field(root, "output", file);
  if (output == nullptr) return;
  if (output->contains("num_classes") && !output->at("num_classes").is_null()) {
    const json& value = output->at("num_classes");
    sidecar.num_classes = json_int_in_range(value, 1, std::numeric_limits<int64_t>::max());
    if (!sidecar.num_classes) wrong_field(file, "output.num_classes", "a positive integer", value);
  }
  if (output->contains("class_order_file") && !output->at("class_order_file").is_null()) {
    const json& value = output->at("class_order_file");
    if (!value.is_string() || value.get<std::string>().empty()) {
      wrong_field(file, "output.class_order_file", "a non-empty string (a file name)", value);
    }
    sidecar.class_order_file = value.get<std::string>();
  }
}

}  // namespace

std::string sidecar_path_for(const std::string& model_path) {
  return fs::path(model_path).replace_extension(".json").string();
}

std::optional<ModelSidecar> read_model_sidecar(const std::string& model_path) {
  const std::string file = sidecar_path_for(model_path);
  if (std::error_code ec; !fs::exists(fs::symlink_status(file, ec))) return std::nullopt;  // read_file judges the rest
  json root;
  const std::string text = read_file(file);
  check_json_nesting(text, file);
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    throw UserError(fmt::format("{}: not valid JSON ({})", file, e.what()));
  }
  if (!root.is_object()) throw UserError(file + ": expected a JSON object");
  ModelSidecar sidecar;
  sidecar.path = file;
  sidecar.preprocess = read_preprocess(root, file);
  read_output(root, file, sidecar);
  return sidecar;
}

PreprocessSpec resolve_preprocess(const std::optional<ModelSidecar>& sidecar, const PreprocessOverrides& overrides) {
  return apply_overrides(sidecar ? sidecar->preprocess : PreprocessSpec{}, overrides);
}

std::string resolve_class_order_file(const std::string& name, const std::vector<std::string>& anchor_dirs) {
  if (name.empty()) return "";
  const fs::path given(name);
  std::error_code ec;  // an unreadable or over-long candidate is simply not found
  if (given.is_absolute()) return fs::is_regular_file(given, ec) ? given.string() : "";
  for (const std::string& anchor : anchor_dirs) {
    if (anchor.empty()) continue;
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
