#include "quantsim/results/result_record.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/percent.h"
#include "quantsim/data/shard.h"
#include "quantsim/results/comparison_stats.h"

namespace quantsim {
namespace {

using nlohmann::json;

// Lines are flat but for "config" and "times"; anything much deeper is not a results line.
constexpr int kMaxDepth = 16;

// How far a recorded percentage may be from the one its counts give: half the last digit the report prints, so
// that a hand-rounded line passes and a line whose percentage and counts tell different stories does not.
constexpr double kPercentSlack = 0.005;

[[noreturn]] void refuse(const std::string& where, const std::string& field, const std::string& what) {
  throw UserError(fmt::format("{}: {}: {}", where, field, what));
}

std::string field_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Every value at any depth: strings and keys no longer than kMaxResultStringBytes, numbers finite.
void check_values(const json& value, const std::string& field, const std::string& where, int depth) {
  if (depth > kMaxDepth) refuse(where, field, "nested too deeply for a results line");
  if (value.is_string() && value.get_ref<const std::string&>().size() > kMaxResultStringBytes) {
    refuse(where, field,
           fmt::format("a string of {} bytes, longer than the {} a results line may hold",
                       value.get_ref<const std::string&>().size(), kMaxResultStringBytes));
  }
  if (value.is_number_float() && !std::isfinite(value.get<double>())) refuse(where, field, "not a finite number");
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      if (key.size() > kMaxResultStringBytes) {
        refuse(where, field_path(field, key.substr(0, 32) + "..."), "a key longer than a results line may hold");
      }
      check_values(item, field_path(field, key), where, depth + 1);
    }
  }
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) check_values(value[i], fmt::format("{}[{}]", field, i), where, depth + 1);
  }
}

// object[key] when it is there and not null.
const json* present(const json& object, const std::string& key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

const json& required(const json& object, const std::string& key, const std::string& where) {
  const json* value = present(object, key);
  if (value == nullptr) throw UserError(fmt::format("{}: no \"{}\" in this results line", where, key));
  return *value;
}

// A string field: `fallback` when absent, or when null and `null_allowed` (readers use json::value, which refuses a
// null where they expect a string).
std::string string_field(const json& object, const std::string& key, const std::string& field, const std::string& where,
                         const std::string& fallback = "", bool null_allowed = false) {
  const auto it = object.find(key);
  if (it == object.end() || (null_allowed && it->is_null())) return fallback;
  if (!it->is_string()) refuse(where, field, "must be a string, not " + json_excerpt(*it));
  return it->get<std::string>();
}

void check_bool_field(const json& object, const std::string& key, const std::string& field, const std::string& where) {
  const auto it = object.find(key);
  if (it != object.end() && !it->is_boolean()) refuse(where, field, "must be true or false, not " + json_excerpt(*it));
}

std::optional<double> percent_field(const json& object, const std::string& key, const std::string& where) {
  const json* value = present(object, key);
  if (value == nullptr) return std::nullopt;
  if (!is_json_percentage(*value)) refuse(where, key, json_excerpt(*value) + " is not a percentage in [0, 100]");
  return value->get<double>();
}

std::optional<int64_t> count_field(const json& object, const std::string& key, int64_t minimum,
                                   const std::string& where) {
  const json* value = present(object, key);
  if (value == nullptr) return std::nullopt;
  const std::optional<int64_t> count = json_count(*value);
  if (!count || *count < minimum) {
    refuse(where, key, fmt::format("must be an integer from {} to 2^53, not {}", minimum, json_excerpt(*value)));
  }
  return count;
}

// The options readers interpret (method_label, the report's columns, merge, sweep) have the types quant-sim writes.
void check_config(const json& config, const std::string& where) {
  for (const char* key : {"pcq_w", "pcq_a", "baa", "baw", "bcw", "vcw"}) {
    check_bool_field(config, key, field_path("config", key), where);
  }
  for (const char* key : {"qtype", "clipping", "weight_method", "act_sites", "arith"}) {
    string_field(config, key, field_path("config", key), where);
  }
  string_field(config, "label", "config.label", where, "", /*null_allowed=*/true);
}

// A percentage agrees with its count: top1 is percent(top1_correct, images), as TopKAccuracy computes it.
void check_percent_matches(const std::optional<double>& recorded, const std::optional<int64_t>& correct, int64_t images,
                           const std::string& name, const std::string& where) {
  if (!recorded || !correct) return;
  const double expected = percent(*correct, images);
  if (std::abs(*recorded - expected) > kPercentSlack) {
    refuse(where, name,
           fmt::format("{} does not match {}_correct / images = {} / {} ({:.4f}%)", *recorded, name, *correct, images,
                       expected));
  }
}

// Hits are hits among the evaluated images, and a top-5 hit includes every top-1 hit.
void check_counts(const ResultRecord& r, const std::string& where) {
  if (!r.images) {
    if (r.top1_correct) refuse(where, "top1_correct", "given without \"images\"");
    if (r.top5_correct) refuse(where, "top5_correct", "given without \"images\"");
    return;
  }
  for (const auto& [name, count] : {std::pair{"top1_correct", r.top1_correct}, {"top5_correct", r.top5_correct}}) {
    if (count && *count > *r.images) refuse(where, name, fmt::format("{} is more than images ({})", *count, *r.images));
  }
  if (r.top1_correct && r.top5_correct && *r.top5_correct < *r.top1_correct) {
    refuse(where, "top5_correct", fmt::format("{} is less than top1_correct ({})", *r.top5_correct, *r.top1_correct));
  }
  check_percent_matches(r.top1, r.top1_correct, *r.images, "top1", where);
  check_percent_matches(r.top5, r.top5_correct, *r.images, "top5", where);
}

// "top1_ci95"/"top5_ci95": [lo, hi], the Wilson interval of the counts (within the slack of a printed percentage).
std::optional<std::pair<double, double>> ci_field(const json& record, const char* key, const char* count_key,
                                                  const std::optional<int64_t>& hits,
                                                  const std::optional<int64_t>& images, const std::string& where) {
  const json* value = present(record, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_array() || value->size() != 2 || !is_json_percentage((*value)[0]) ||
      !is_json_percentage((*value)[1])) {
    refuse(where, key, "must be [lo, hi] in percent, not " + json_excerpt(*value));
  }
  if (!hits || !images) refuse(where, key, fmt::format("given without \"{}\" and \"images\"", count_key));
  const auto [lo, hi] = wilson_interval_percent(*hits, *images);
  const double got_lo = (*value)[0].get<double>();
  const double got_hi = (*value)[1].get<double>();
  if (std::abs(got_lo - lo) > kPercentSlack || std::abs(got_hi - hi) > kPercentSlack) {
    refuse(where, key,
           fmt::format("[{}, {}] is not the 95% Wilson interval of {} = {} of {} images ([{:.4f}, {:.4f}])", got_lo,
                       got_hi, count_key, *hits, *images, lo, hi));
  }
  return std::pair{got_lo, got_hi};
}

void check_per_image(ResultRecord& r, const json& record, const std::string& where) {
  const json* value = present(record, "per_image");
  if (value == nullptr) return;
  r.per_image = per_image_from_json(*value, where);
  if (!r.images || !r.top1_correct || !r.top5_correct) {
    refuse(where, "per_image", "given without \"images\", \"top1_correct\" and \"top5_correct\"");
  }
  if (r.per_image->images() != *r.images) {
    refuse(where, "per_image.images", fmt::format("{} is not images ({})", r.per_image->images(), *r.images));
  }
  if (r.per_image->top1_correct() != *r.top1_correct || r.per_image->top5_correct() != *r.top5_correct) {
    refuse(where, "per_image",
           fmt::format("holds {} top-1 and {} top-5 hits, not top1_correct {} and top5_correct {}",
                       r.per_image->top1_correct(), r.per_image->top5_correct(), *r.top1_correct, *r.top5_correct));
  }
}

// "stability" (stability_json): counts of the reruns, and the percentages and spread they give.
void check_stability(ResultRecord& r, const json& record, const std::string& where) {
  const json* value = present(record, "stability");
  if (value == nullptr) return;
  if (!value->is_object()) refuse(where, "stability", "must be an object, not " + json_excerpt(*value));
  if (!r.images || !r.top1_correct) refuse(where, "stability", "given without \"images\" and \"top1_correct\"");
  const json* counts = present(*value, "top1_correct");
  if (counts == nullptr || !counts->is_array() || counts->empty()) {
    refuse(where, "stability.top1_correct", "must be a non-empty list of counts");
  }
  std::vector<int64_t> hits;
  for (const json& count : *counts) {
    const std::optional<int64_t> c = json_count(count);
    if (!c || *c > *r.images) {
      refuse(where, "stability.top1_correct", json_excerpt(count) + " is not a count of at most images");
    }
    hits.push_back(*c);
  }
  const json* ulps = present(*value, "ulps");
  const std::optional<int64_t> u = ulps == nullptr ? std::nullopt : json_count(*ulps);
  if (!u || *u < 1 || *u > (1 << 20)) refuse(where, "stability.ulps", "must be an integer from 1 to 2^20");
  const json expected = stability_json(*r.top1_correct, *r.images, hits, static_cast<int>(*u));
  const auto close = [](const json& got, const json& want) {
    return got.is_number() && std::abs(got.get<double>() - want.get<double>()) <= kPercentSlack;
  };
  for (const auto& [key, want] : expected.items()) {
    const json* got = present(*value, key);
    bool same = got != nullptr;
    if (same && want.is_number_float()) {
      same = close(*got, want);
    } else if (same && key == "top1") {
      same = got->is_array() && got->size() == want.size();
      for (size_t i = 0; same && i < want.size(); ++i) same = close((*got)[i], want[i]);
    } else if (same) {
      same = *got == want;
    }
    if (!same) refuse(where, "stability." + key, "does not match the counts (expected " + json_excerpt(want) + ")");
  }
  r.stability_top1_correct = std::move(hits);
  r.stability_ulps = static_cast<int>(*u);
}

// Share `share_key` of `object` agrees with numerator / denominator (within a printed share's rounding).
void check_share(const json& object, const char* share_key, int64_t numerator, int64_t denominator,
                 const std::string& field, const std::string& where) {
  const json* share = present(object, share_key);
  if (share == nullptr) return;
  const double expected = denominator > 0 ? static_cast<double>(numerator) / denominator : 0.0;
  if (!share->is_number() || std::abs(share->get<double>() - expected) > 1e-6) {
    refuse(where, field_path(field, share_key),
           fmt::format("{} is not {} / {} ({})", json_excerpt(*share), numerator, denominator, expected));
  }
}

// --arith int: "arith", the float path's scores (as top1/top5 are checked) and "arith_gap" (ArithGapSummary).
void check_arith(ResultRecord& r, const json& record, const std::string& where) {
  r.arith = string_field(record, "arith", "arith", where, "", /*null_allowed=*/true);
  if (!r.arith.empty() && r.arith != "int" && r.arith != "float") {
    refuse(where, "arith", fmt::format("'{}' is not int or float", r.arith));
  }
  if (r.arith == "float") r.arith.clear();  // the default, as the line spelled it (kept in other_fields)
  r.float_top1 = percent_field(record, "float_top1", where);
  r.float_top5 = percent_field(record, "float_top5", where);
  r.float_top1_correct = count_field(record, "float_top1_correct", 0, where);
  r.float_top5_correct = count_field(record, "float_top5_correct", 0, where);
  const json* gap = present(record, "arith_gap");
  const bool any_float = r.float_top1 || r.float_top5 || r.float_top1_correct || r.float_top5_correct || gap;
  if (any_float && r.arith != "int") {
    refuse(where, r.float_top1 ? "float_top1" : "arith_gap", "given without \"arith\": \"int\"");
  }
  if (r.float_top1 && r.float_top5 && *r.float_top5 < *r.float_top1) {
    refuse(where, "float_top5", fmt::format("{} is less than float_top1 ({})", *r.float_top5, *r.float_top1));
  }
  if ((r.float_top1_correct || r.float_top5_correct) && !r.images) {
    refuse(where, "float_top1_correct", "given without \"images\"");
  }
  if (r.images) {
    for (const auto& [name, count] :
         {std::pair{"float_top1_correct", r.float_top1_correct}, {"float_top5_correct", r.float_top5_correct}}) {
      if (count && *count > *r.images) {
        refuse(where, name, fmt::format("{} is more than images ({})", *count, *r.images));
      }
    }
    if (r.float_top1_correct && r.float_top5_correct && *r.float_top5_correct < *r.float_top1_correct) {
      refuse(where, "float_top5_correct",
             fmt::format("{} is less than float_top1_correct ({})", *r.float_top5_correct, *r.float_top1_correct));
    }
    check_percent_matches(r.float_top1, r.float_top1_correct, *r.images, "float_top1", where);
    check_percent_matches(r.float_top5, r.float_top5_correct, *r.images, "float_top5", where);
  }
  if (gap == nullptr) return;
  if (!gap->is_object()) refuse(where, "arith_gap", "must be an object, not " + json_excerpt(*gap));
  ArithGapSummary summary;
  for (const auto& [key, count] : {std::pair{"codes_compared", &summary.codes_compared},
                                   {"codes_differing", &summary.codes_differing},
                                   {"max_step_difference", &summary.max_step_difference},
                                   {"top1_differs", &summary.top1_differs}}) {
    const json* value = present(*gap, key);
    const std::optional<int64_t> c = value == nullptr ? std::nullopt : json_count(*value);
    if (!c) refuse(where, field_path("arith_gap", key), "must be an integer from 0 to 2^53");
    *count = *c;
  }
  if (summary.codes_differing > summary.codes_compared) {
    refuse(where, "arith_gap.codes_differing",
           fmt::format("{} is more than codes_compared ({})", summary.codes_differing, summary.codes_compared));
  }
  if (r.images && summary.top1_differs > *r.images) {
    refuse(where, "arith_gap.top1_differs",
           fmt::format("{} is more than images ({})", summary.top1_differs, *r.images));
  }
  check_share(*gap, "codes_differing_share", summary.codes_differing, summary.codes_compared, "arith_gap", where);
  if (r.images) check_share(*gap, "top1_differs_share", summary.top1_differs, *r.images, "arith_gap", where);
  r.arith_gap = summary;
}

void check_times(const json& record, const std::string& where) {
  if (const json* times = present(record, "times"); times != nullptr) {
    if (!times->is_object()) refuse(where, "times", "must be an object of seconds, not " + json_excerpt(*times));
    for (const auto& [phase, seconds] : times->items()) {
      if (!seconds.is_number() || seconds.get<double>() < 0) {
        refuse(where, "times." + phase, "must be a number of seconds, not " + json_excerpt(seconds));
      }
    }
  }
  if (const json* rate = present(record, "images_per_second"); rate != nullptr) {
    if (!rate->is_number() || rate->get<double>() < 0) {
      refuse(where, "images_per_second", "must be a non-negative number, not " + json_excerpt(*rate));
    }
  }
}

std::string shard_field(const json& config, const std::string& where) {
  const std::string shard = string_field(config, "shard", "config.shard", where, "", /*null_allowed=*/true);
  if (shard.empty() && config.contains("shard") && !config.at("shard").is_null()) {
    refuse(where, "config.shard", "'' is not K/N with 1 <= K <= N (an unsharded run has null)");
  }
  if (shard.empty()) return shard;
  try {
    parse_shard("config.shard", shard);
  } catch (const UserError&) {
    refuse(where, "config.shard", fmt::format("'{}' is not K/N with 1 <= K <= N", shard));
  }
  return shard;
}

template <typename T>
void put(json& line, const char* key, const std::optional<T>& value) {
  if (value) line[key] = *value;
}

// config[key] = value; an empty value (none) turns a key that names one into null, and leaves an absent, null or
// empty key as the line spelled it.
void put_config_string(json& config, const char* key, const std::string& value) {
  if (!value.empty()) {
    config[key] = value;
    return;
  }
  const auto it = config.find(key);
  if (it != config.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) *it = nullptr;
}

// The fields of `r` that hold a value (not absent, null, "" or the default "FP32"), as their keys in a line: what
// to_json writes over other_fields, and what from_json takes out of it.
json typed_fields(const ResultRecord& r) {
  json line = json::object();
  line["model_name"] = r.model_name;
  if (r.precision != "FP32") line["precision"] = r.precision;
  if (!r.mode.empty()) line["mode"] = r.mode;
  line["top1"] = r.top1;
  put(line, "top5", r.top5);
  put(line, "images", r.images);
  put(line, "top1_correct", r.top1_correct);
  put(line, "top5_correct", r.top5_correct);
  put(line, "bad_images", r.bad_images);
  if (r.top1_ci95) line["top1_ci95"] = {r.top1_ci95->first, r.top1_ci95->second};
  if (r.top5_ci95) line["top5_ci95"] = {r.top5_ci95->first, r.top5_ci95->second};
  if (r.per_image) line["per_image"] = per_image_to_json(*r.per_image);
  if (r.stability_top1_correct && r.top1_correct && r.images) {
    line["stability"] = stability_json(*r.top1_correct, *r.images, *r.stability_top1_correct, r.stability_ulps);
  }
  if (!r.arith.empty()) line["arith"] = r.arith;
  put(line, "float_top1", r.float_top1);
  put(line, "float_top5", r.float_top5);
  put(line, "float_top1_correct", r.float_top1_correct);
  put(line, "float_top5_correct", r.float_top5_correct);
  if (r.arith_gap) {
    const ArithGapSummary& g = *r.arith_gap;
    const auto share = [](int64_t part, int64_t whole) { return whole > 0 ? static_cast<double>(part) / whole : 0.0; };
    line["arith_gap"] = {{"codes_compared", g.codes_compared},
                         {"codes_differing", g.codes_differing},
                         {"codes_differing_share", share(g.codes_differing, g.codes_compared)},
                         {"max_step_difference", g.max_step_difference},
                         {"top1_differs", g.top1_differs},
                         {"top1_differs_share", share(g.top1_differs, r.images.value_or(0))}};
  }
  put(line, "times", r.times);
  put(line, "images_per_second", r.images_per_second);
  put(line, "merged_from", r.merged_from);
  put(line, "model_sha256", r.model_sha256);
  put(line, "data", r.data);
  put(line, "version", r.version);
  put(line, "timestamp", r.timestamp);
  json config = r.config.is_object() ? r.config : json::object();
  put_config_string(config, "shard", r.shard);
  put_config_string(config, "sweep_key", r.sweep_key);
  line["config"] = std::move(config);
  return line;
}

}  // namespace

ResultRecord ResultRecord::from_json(const json& record, const std::string& where) {
  if (!record.is_object()) throw UserError(fmt::format("{}: not a JSON object", where));
  check_values(record, "", where, 0);
  ResultRecord r;
  r.config = required(record, "config", where);
  if (!r.config.is_object()) refuse(where, "config", "must be an object, not " + json_excerpt(r.config));
  check_config(r.config, where);
  r.shard = shard_field(r.config, where);
  r.sweep_key = string_field(r.config, "sweep_key", "config.sweep_key", where, "", /*null_allowed=*/true);

  required(record, "model_name", where);
  r.model_name = string_field(record, "model_name", "model_name", where);
  if (r.model_name.empty()) refuse(where, "model_name", "must not be empty");
  for (const auto& [key, field] : {std::pair<const char*, std::optional<std::string>*>{"model", nullptr},
                                   {"model_sha256", &r.model_sha256},
                                   {"data", &r.data},
                                   {"device", nullptr},
                                   {"version", &r.version},
                                   {"timestamp", &r.timestamp}}) {
    const std::string value = string_field(record, key, key, where, "", /*null_allowed=*/true);
    if (field != nullptr && present(record, key) != nullptr) *field = value;
  }
  r.precision = string_field(record, "precision", "precision", where, "FP32");
  r.mode = string_field(record, "mode", "mode", where);
  check_times(record, where);
  if (const json* times = present(record, "times"); times != nullptr) {
    r.times.emplace();
    for (const auto& [phase, seconds] : times->items()) (*r.times)[phase] = seconds.get<double>();
  }
  if (const json* rate = present(record, "images_per_second"); rate != nullptr) {
    r.images_per_second = rate->get<double>();
  }

  required(record, "top1", where);
  r.top1 = *percent_field(record, "top1", where);
  r.top5 = percent_field(record, "top5", where);
  if (r.top5 && *r.top5 < r.top1) {
    refuse(where, "top5", fmt::format("{} is less than top1 ({})", *r.top5, r.top1));
  }
  r.images = count_field(record, "images", 1, where);
  r.top1_correct = count_field(record, "top1_correct", 0, where);
  r.top5_correct = count_field(record, "top5_correct", 0, where);
  r.bad_images = count_field(record, "bad_images", 0, where);
  r.merged_from = count_field(record, "merged_from", 1, where);
  check_counts(r, where);
  r.top1_ci95 = ci_field(record, "top1_ci95", "top1_correct", r.top1_correct, r.images, where);
  r.top5_ci95 = ci_field(record, "top5_ci95", "top5_correct", r.top5_correct, r.images, where);
  check_per_image(r, record, where);
  check_stability(r, record, where);
  check_arith(r, record, where);

  r.other_fields = record;
  const json typed = typed_fields(r);
  for (auto field = typed.begin(); field != typed.end(); ++field) r.other_fields.erase(field.key());
  return r;
}

json ResultRecord::to_json() const {
  json line = other_fields.is_object() ? other_fields : json::object();
  line.update(typed_fields(*this));
  return line;
}

json ci95_json(int64_t hits, int64_t images) {
  const auto [lo, hi] = wilson_interval_percent(hits, images);
  return json::array({lo, hi});
}

json stability_json(int64_t top1_correct, int64_t images, const std::vector<int64_t>& rerun_top1_correct, int ulps) {
  json percents = json::array();
  std::vector<double> all{percent(top1_correct, images)};
  for (const int64_t hits : rerun_top1_correct) {
    all.push_back(percent(hits, images));
    percents.push_back(all.back());
  }
  double mean = 0.0;
  for (const double p : all) mean += p / static_cast<double>(all.size());
  double squares = 0.0;
  for (const double p : all) squares += (p - mean) * (p - mean);
  return {{"reruns", rerun_top1_correct.size()},
          {"ulps", ulps},
          {"top1_correct", rerun_top1_correct},
          {"top1", percents},
          {"top1_min", *std::min_element(all.begin(), all.end())},
          {"top1_max", *std::max_element(all.begin(), all.end())},
          {"top1_std", std::sqrt(squares / static_cast<double>(all.size() - 1))}};
}

std::optional<int64_t> json_count(const json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t count = value.get<uint64_t>();
    if (count > static_cast<uint64_t>(kMaxResultCount)) return std::nullopt;
    return static_cast<int64_t>(count);
  }
  if (!value.is_number_integer()) return std::nullopt;
  const int64_t count = value.get<int64_t>();
  if (count < 0 || count > kMaxResultCount) return std::nullopt;
  return count;
}

bool is_json_percentage(const json& value) {
  if (!value.is_number()) return false;
  const double percent = value.get<double>();
  return std::isfinite(percent) && percent >= 0.0 && percent <= 100.0;
}

std::string json_excerpt(const json& value) {
  constexpr size_t kLength = 40;
  const std::string text = value.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  return text.size() <= kLength ? text : text.substr(0, kLength) + "...";
}

}  // namespace quantsim
