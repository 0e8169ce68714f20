#include "quantsim/export/quantized_weights_file.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cstring>
#include <filesystem>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/json_nesting.h"
#include "quantsim/core/sha256.h"

// The bin file stores float32 and the codes' bytes as this machine lays them out; the format says little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "quantized weights files are written little-endian");

namespace quantsim {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "quant-sim quantized weights";
constexpr int kVersion = 1;

// ---- writing ----

std::string float_bytes(const at::Tensor& t) {
  const at::Tensor dense = t.to(at::kCPU, at::kFloat).contiguous();
  return std::string(reinterpret_cast<const char*>(dense.data_ptr<float>()), dense.numel() * sizeof(float));
}

json append_section(std::string& bin, const std::string& bytes, const char* encoding) {
  json section = {{"encoding", encoding}, {"offset", bin.size()}, {"bytes", bytes.size()}};
  bin += bytes;
  return section;
}

std::vector<double> channel_values(const at::Tensor& column) {
  const at::Tensor flat = column.to(at::kCPU, at::kDouble).reshape({-1}).contiguous();
  return {flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel()};
}

json corrections_json(const CorrectionSteps& steps) {
  json list = json::array();
  if (steps.variance) {
    const std::vector<double> ratio = channel_values(steps.variance->ratio);
    const at::Tensor spread = steps.variance->has_spread.to(at::kCPU).reshape({-1}).contiguous();
    json ratios = json::array();
    for (size_t c = 0; c < ratio.size(); ++c) {
      ratios.push_back(spread[static_cast<int64_t>(c)].item<bool>() ? json(ratio[c]) : json(nullptr));
    }
    list.push_back({{"step", "variance"}, {"q_mean", channel_values(steps.variance->q_mean)}, {"ratio", ratios}});
  }
  if (steps.mean) {
    list.push_back({{"step", "mean"},
                    {"q_mean", channel_values(steps.mean->q_mean)},
                    {"target_mean", channel_values(steps.mean->target_mean)}});
  }
  return list;
}

json layer_json(const WeightRecord& layer, std::string& bin) {
  json entry = {{"name", layer.name}, {"kind", to_string(layer.kind)}, {"bits", layer.bits}};
  if (layer.packed) {
    const PackedWeight& p = *layer.packed;
    entry["shape"] = p.shape;
    entry["weight"] = append_section(bin, p.codes, "codes");
    entry["code_bits"] = p.code_bits;
    entry["levels"] = p.levels;
    entry["scale"] = p.scale;
    entry["zero_point"] = p.zero_point;
  } else {
    entry["shape"] = layer.float_weight.sizes().vec();
    entry["weight"] = append_section(bin, float_bytes(layer.float_weight), "float32");
  }
  entry["corrections"] = corrections_json(layer.corrections);
  entry["bias"] = layer.bias.defined() ? append_section(bin, float_bytes(layer.bias), "float32") : json(nullptr);
  return entry;
}

// ---- reading ----

struct IndexReader {
  std::string index_path;
  std::string bin;

  [[noreturn]] void fail(const std::string& what) const { throw UserError(fmt::format("{}: {}", index_path, what)); }

  std::string section(const json& s, const std::string& encoding) const {
    const auto offset = s.at("offset").get<size_t>();
    const auto bytes = s.at("bytes").get<size_t>();
    if (s.at("encoding").get<std::string>() != encoding) fail("a section is not " + encoding);
    if (offset > bin.size() || bytes > bin.size() - offset) fail("a section lies outside the bin file");
    return bin.substr(offset, bytes);
  }

  at::Tensor float_tensor(const json& s, const std::vector<int64_t>& shape) const {
    const std::string bytes = section(s, "float32");
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
    if (bytes.size() != static_cast<size_t>(t.numel()) * sizeof(float)) fail("a float32 section has the wrong size");
    std::memcpy(t.data_ptr<float>(), bytes.data(), bytes.size());
    return t;
  }
};

// ceil(total code bits / 8): every element of grid entry e takes code_bits[e] bits.
size_t packed_code_bytes(const PackedWeight& p) {
  int64_t numel = 1;
  for (int64_t d : p.shape) numel *= d;
  const auto entries = static_cast<int64_t>(p.code_bits.size());
  uint64_t bits = 0;
  for (int b : p.code_bits) bits += static_cast<uint64_t>(b) * static_cast<uint64_t>(numel / entries);
  return static_cast<size_t>((bits + 7) / 8);
}

at::Tensor column(const std::vector<double>& values) {
  return at::tensor(values, at::TensorOptions().dtype(at::kDouble)).reshape({-1, 1});
}

CorrectionSteps corrections_from_json(const json& list, const IndexReader& reader) {
  CorrectionSteps steps;
  for (const json& step : list) {
    const std::string kind = step.at("step").get<std::string>();
    if (kind == "variance") {
      std::vector<double> ratio;
      std::vector<uint8_t> spread;
      for (const json& r : step.at("ratio")) {
        spread.push_back(r.is_null() ? 0 : 1);
        ratio.push_back(r.is_null() ? 1.0 : r.get<double>());
      }
      const at::Tensor has_spread = at::tensor(spread, at::TensorOptions().dtype(at::kByte)).to(at::kBool);
      steps.variance = VarianceCorrection{column(step.at("q_mean").get<std::vector<double>>()), column(ratio),
                                          has_spread.reshape({-1, 1})};
    } else if (kind == "mean") {
      steps.mean = MeanCorrection{column(step.at("q_mean").get<std::vector<double>>()),
                                  column(step.at("target_mean").get<std::vector<double>>())};
    } else {
      reader.fail("unknown correction step '" + kind + "'");
    }
  }
  return steps;
}

WeightRecord layer_from_json(const json& entry, const IndexReader& reader) {
  WeightRecord layer;
  layer.name = entry.at("name").get<std::string>();
  layer.kind = entry.at("kind").get<std::string>() == "linear" ? LayerKind::kLinear : LayerKind::kConv;
  layer.bits = entry.at("bits").get<int>();
  const auto shape = entry.at("shape").get<std::vector<int64_t>>();
  const json& weight = entry.at("weight");
  if (weight.at("encoding").get<std::string>() == "codes") {
    PackedWeight p;
    p.shape = shape;
    p.codes = reader.section(weight, "codes");
    p.code_bits = entry.at("code_bits").get<std::vector<int>>();
    p.levels = entry.at("levels").get<std::vector<int64_t>>();
    p.scale = entry.at("scale").get<std::vector<float>>();
    p.zero_point = entry.at("zero_point").get<std::vector<int64_t>>();
    const size_t entries = p.scale.size();
    if (entries == 0 || p.code_bits.size() != entries || p.levels.size() != entries || p.zero_point.size() != entries ||
        (entries != 1 && (shape.empty() || static_cast<size_t>(shape[0]) != entries))) {
      reader.fail("layer " + layer.name + ": per-channel lists do not match its shape");
    }
    for (int bits : p.code_bits) {
      if (bits < 1 || bits > 16) reader.fail("layer " + layer.name + ": a code width is outside 1..16");
    }
    if (p.codes.size() != packed_code_bytes(p)) reader.fail("layer " + layer.name + ": codes have the wrong size");
    layer.packed = std::move(p);
  } else {
    layer.float_weight = reader.float_tensor(weight, shape);
  }
  layer.corrections = corrections_from_json(entry.at("corrections"), reader);
  const json& bias = entry.at("bias");
  if (!bias.is_null()) layer.bias = reader.float_tensor(bias, {bias.at("bytes").get<int64_t>() / 4});
  return layer;
}

}  // namespace

void write_quantized_weights(const std::string& bin_path, const std::string& index_path,
                             const std::vector<WeightRecord>& layers, const json& source) {
  std::string bin;
  json entries = json::array();
  for (const WeightRecord& layer : layers) entries.push_back(layer_json(layer, bin));
  write_file_atomically(bin_path, bin);
  const json index = {{"format", kFormat},
                      {"version", kVersion},
                      {"bin", std::filesystem::path(bin_path).filename().string()},
                      {"bin_bytes", bin.size()},
                      {"bin_sha256", sha256_file(bin_path)},
                      {"source", source},
                      {"layers", entries}};
  write_file_atomically(index_path, index.dump() + "\n");
}

std::vector<WeightRecord> read_quantized_weights(const std::string& index_path) {
  IndexReader reader{index_path, {}};
  try {
    const std::string text = read_file(index_path);
    check_json_nesting(text, index_path);
    const json index = json::parse(text);
    if (index.at("format") != kFormat || index.at("version") != kVersion) {
      reader.fail(fmt::format("not a {} file of version {}", kFormat, kVersion));
    }
    const std::string bin_path =
        (std::filesystem::path(index_path).parent_path() / index.at("bin").get<std::string>()).string();
    reader.bin = read_file(bin_path);
    if (reader.bin.size() != index.at("bin_bytes").get<size_t>() ||
        sha256_file(bin_path) != index.at("bin_sha256").get<std::string>()) {
      reader.fail(bin_path + " is not the bin file this index was written with (size or SHA-256 differs)");
    }
    std::vector<WeightRecord> layers;
    for (const json& entry : index.at("layers")) layers.push_back(layer_from_json(entry, reader));
    return layers;
  } catch (const json::exception& e) {
    reader.fail(std::string("malformed index (") + e.what() + ")");
  }
}

at::Tensor grid_weight(const WeightRecord& record) {
  return record.packed ? unpack_weight(*record.packed) : record.float_weight;
}

at::Tensor folded_weight(const WeightRecord& record) {
  return apply_correction_steps(grid_weight(record), record.corrections);
}

}  // namespace quantsim
