// Statistics files: JSON layout, atomic save, validated load, compatibility check. See statistics_store.h.
#include "quantsim/statistics_store.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "quantsim/atomic_file.h"
#include "quantsim/errors.h"
#include "quantsim/utc_timestamp.h"

namespace quantsim {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormatName = "quant-sim statistics";

// A statistics file that parses as JSON but does not hold what it should.
class MalformedStatistics : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StatField {
  const char* name;
  double TensorStats::*member;
};
constexpr StatField kStatFields[] = {
    {"min", &TensorStats::min},   {"max", &TensorStats::max},   {"min_batch_mean", &TensorStats::min_batch_mean},
    {"max_batch_mean", &TensorStats::max_batch_mean},           {"mean", &TensorStats::mean},
    {"std", &TensorStats::std},   {"b", &TensorStats::b},
};

// JSON has no NaN or infinity; nlohmann would write them as null, which would not read back.
json number_to_json(double value) {
  if (std::isfinite(value)) return value;
  if (std::isnan(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

double number_from_json(const json& value, const std::string& what) {
  if (value.is_number()) return value.get<double>();
  if (value == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (value == "inf") return std::numeric_limits<double>::infinity();
  if (value == "-inf") return -std::numeric_limits<double>::infinity();
  throw MalformedStatistics(what + " is not a number");
}

const json& member(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) throw MalformedStatistics(where + " is not an object");
  const auto found = object.find(key);
  if (found == object.end()) throw MalformedStatistics(fmt::format("{} has no \"{}\"", where, key));
  return *found;
}

std::string duplicate_site_name(const std::vector<SiteStatistics>& sites) {
  std::set<std::string> seen;
  for (const SiteStatistics& site : sites) {
    if (!seen.insert(site.name).second) return site.name;
  }
  return {};
}

json tensor_stats_to_json(const TensorStats& stats) {
  json object = json::object();
  for (const StatField& field : kStatFields) object[field.name] = number_to_json(stats.*field.member);
  return object;
}

// Per-channel statistics are stored field by field ({"min": [...], "max": [...], ...}): compact and easy to plot.
json channel_stats_to_json(const std::vector<TensorStats>& channels) {
  json object = json::object();
  for (const StatField& field : kStatFields) {
    json values = json::array();
    for (const TensorStats& channel : channels) values.push_back(number_to_json(channel.*field.member));
    object[field.name] = std::move(values);
  }
  return object;
}

TensorStats tensor_stats_from_json(const json& object, const std::string& where) {
  TensorStats stats;
  for (const StatField& field : kStatFields) {
    stats.*field.member = number_from_json(member(object, field.name, where), where + "." + field.name);
  }
  return stats;
}

std::vector<TensorStats> channel_stats_from_json(const json& object, size_t channels, const std::string& where) {
  std::vector<TensorStats> stats(channels);
  for (const StatField& field : kStatFields) {
    const std::string what = where + "." + field.name;
    const json& values = member(object, field.name, where);
    if (!values.is_array() || values.size() != channels) {
      throw MalformedStatistics(fmt::format("{} should list {} channels", what, channels));
    }
    for (size_t c = 0; c < channels; ++c) stats[c].*field.member = number_from_json(values[c], what);
  }
  return stats;
}

json metadata_to_json(const StatisticsMetadata& metadata) {
  return json{{"model_sha256", metadata.model_sha256},
              {"model_path", metadata.model_path},
              {"arch", metadata.arch},
              {"act_sites", metadata.act_sites},
              {"calib_data", metadata.calib_data},
              {"calib_images", metadata.calib_images},
              {"batch_size", metadata.batch_size},
              {"tool_version", metadata.tool_version.empty() ? QUANTSIM_VERSION : metadata.tool_version},
              {"created", metadata.created.empty() ? utc_timestamp() : metadata.created}};
}

StatisticsMetadata metadata_from_json(const json& object) {
  const std::string where = "metadata";
  StatisticsMetadata metadata;
  metadata.model_sha256 = member(object, "model_sha256", where).get<std::string>();
  metadata.model_path = member(object, "model_path", where).get<std::string>();
  metadata.arch = member(object, "arch", where).get<std::string>();
  metadata.act_sites = member(object, "act_sites", where).get<std::string>();
  metadata.calib_data = member(object, "calib_data", where).get<std::string>();
  metadata.calib_images = member(object, "calib_images", where).get<int64_t>();
  metadata.batch_size = member(object, "batch_size", where).get<int64_t>();
  metadata.tool_version = member(object, "tool_version", where).get<std::string>();
  metadata.created = member(object, "created", where).get<std::string>();
  return metadata;
}

json site_to_json(const SiteStatistics& site) {
  return json{{"name", site.name},
              {"shape", site.shape},
              {"per_tensor", tensor_stats_to_json(site.stats.per_tensor)},
              {"per_channel", channel_stats_to_json(site.stats.per_channel)}};
}

SiteStatistics site_from_json(const json& object, size_t index) {
  SiteStatistics site;
  site.name = member(object, "name", fmt::format("site {}", index)).get<std::string>();
  const std::string where = fmt::format("site '{}'", site.name);
  site.shape = member(object, "shape", where).get<std::vector<int64_t>>();
  if (site.shape.empty() || site.shape[0] < 0) {
    throw MalformedStatistics(fmt::format("{} has shape {}, expected [C, ...]", where, site.shape));
  }
  site.stats.per_tensor = tensor_stats_from_json(member(object, "per_tensor", where), where + ".per_tensor");
  site.stats.per_channel = channel_stats_from_json(member(object, "per_channel", where),
                                                   static_cast<size_t>(site.shape[0]), where + ".per_channel");
  return site;
}

// The format marker and version come first, so that another file or another version gets its own message.
void check_format(const json& document, const std::string& path) {
  if (!document.is_object() || document.value("format", json()) != kFormatName) {
    throw UserError(fmt::format("{}: not a quant-sim statistics file", path));
  }
  const json version = document.value("schema_version", json());
  if (version != kStatisticsSchemaVersion) {
    throw UserError(fmt::format("{}: statistics schema version {}, this quant-sim ({}) reads version {}; run with "
                                "-sm collect to rewrite it",
                                path, version.dump(), QUANTSIM_VERSION, kStatisticsSchemaVersion));
  }
}

Statistics parse_statistics(const json& document) {
  Statistics statistics;
  statistics.metadata = metadata_from_json(member(document, "metadata", "file"));
  const json& sites = member(document, "sites", "file");
  if (!sites.is_array()) throw MalformedStatistics("\"sites\" is not a list");
  for (size_t i = 0; i < sites.size(); ++i) statistics.sites.push_back(site_from_json(sites[i], i));
  const std::string duplicate = duplicate_site_name(statistics.sites);
  if (!duplicate.empty()) throw MalformedStatistics(fmt::format("site '{}' appears twice", duplicate));
  return statistics;
}

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

void check_sites(const std::vector<SiteStatistics>& stored, const std::vector<SiteShape>& model_sites,
                 const std::string& path) {
  const std::string advice = "run with -sm collect to recollect";
  const size_t common = std::min(stored.size(), model_sites.size());
  for (size_t i = 0; i < common; ++i) {
    if (stored[i].name != model_sites[i].name) {
      throw UserError(fmt::format("{}: sites differ: site {} is '{}' in the statistics but '{}' in the model; {}",
                                  path, i, stored[i].name, model_sites[i].name, advice));
    }
    if (stored[i].shape != model_sites[i].shape) {
      throw UserError(fmt::format("{}: sites differ: site '{}' has shape {} in the statistics but {} in the model; {}",
                                  path, stored[i].name, shape_text(stored[i].shape),
                                  shape_text(model_sites[i].shape), advice));
    }
  }
  if (model_sites.size() > common) {
    throw UserError(fmt::format("{}: sites differ: the model has site '{}' that the statistics lack; {}", path,
                                model_sites[common].name, advice));
  }
  if (stored.size() > common) {
    throw UserError(fmt::format("{}: sites differ: the statistics have site '{}' that the model lacks; {}", path,
                                stored[common].name, advice));
  }
}

}  // namespace

const SiteStatistics& Statistics::site(const std::string& name) const {
  for (const SiteStatistics& candidate : sites) {
    if (candidate.name == name) return candidate;
  }
  throw UserError(fmt::format("statistics of {} have no site '{}'", metadata.arch, name));
}

std::string act_sites_name(ActSites act_sites) { return act_sites == ActSites::kInputs ? "inputs" : "outputs"; }

std::string statistics_path(const std::string& stats_dir, const std::string& arch, ActSites act_sites) {
  // The arch names a folder: it must not climb out of stats_dir or nest.
  if (arch.empty() || arch == "." || arch == ".." || arch.find('/') != std::string::npos) {
    throw UserError(fmt::format("-a/--arch: '{}' cannot name a statistics folder", arch));
  }
  return (fs::path(expand_user(stats_dir)) / arch / (act_sites_name(act_sites) + ".json")).string();
}

std::string statistics_to_json(const Statistics& statistics) {
  const std::string duplicate = duplicate_site_name(statistics.sites);
  if (!duplicate.empty()) throw std::invalid_argument("statistics list site '" + duplicate + "' twice");
  json sites = json::array();
  for (const SiteStatistics& site : statistics.sites) sites.push_back(site_to_json(site));
  const json document{{"format", kFormatName},
                      {"schema_version", kStatisticsSchemaVersion},
                      {"metadata", metadata_to_json(statistics.metadata)},
                      {"sites", std::move(sites)}};
  // nlohmann writes doubles in the shortest form that parses back to the same value. Paths need not be UTF-8:
  // replace invalid bytes rather than fail the whole save.
  return document.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

Statistics statistics_from_json(const std::string& text, const std::string& path) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& error) {
    const std::string reason = text.empty() ? "the file is empty" : error.what();
    throw UserError(fmt::format("{}: corrupt statistics file ({}); run with -sm collect to rewrite it", path, reason));
  }
  check_format(document, path);
  try {
    return parse_statistics(document);
  } catch (const MalformedStatistics& error) {
    throw UserError(fmt::format("{}: corrupt statistics file ({}); run with -sm collect to rewrite it", path,
                                error.what()));
  } catch (const json::exception& error) {
    throw UserError(fmt::format("{}: corrupt statistics file ({}); run with -sm collect to rewrite it", path,
                                error.what()));
  }
}

void save_statistics(const Statistics& statistics, const std::string& path) {
  write_file_atomically(path, statistics_to_json(statistics));
}

Statistics load_statistics(const std::string& path, const std::string& arch) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) {
    throw UserError(fmt::format("no statistics for {} at {}; run with -sm collect first", arch, path));
  }
  if (!fs::is_regular_file(status)) throw UserError(fmt::format("{}: not a statistics file (not a regular file)", path));
  return statistics_from_json(read_file(path), path);
}

void check_compatible(const Statistics& statistics, const std::string& path, const std::string& model_sha256,
                      const std::vector<SiteShape>& model_sites, ActSites act_sites) {
  const StatisticsMetadata& stored = statistics.metadata;
  if (stored.act_sites != act_sites_name(act_sites)) {
    throw UserError(fmt::format("{}: statistics were collected with --act-sites {}, this run uses --act-sites {}",
                                path, stored.act_sites, act_sites_name(act_sites)));
  }
  if (stored.model_sha256 != model_sha256) {
    throw UserError(fmt::format("{}: statistics belong to another model file (SHA-256 {}, collected from {}); this "
                                "model's SHA-256 is {}; run with -sm collect to recollect",
                                path, stored.model_sha256, stored.model_path, model_sha256));
  }
  check_sites(statistics.sites, model_sites, path);
}

}  // namespace quantsim
