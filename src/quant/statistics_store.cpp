// Statistics files: JSON layout, atomic save, validated load, compatibility check. See statistics_store.h.
#include "quantsim/quant/statistics_store.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/json_nesting.h"
#include "quantsim/core/utc_timestamp.h"
#include "quantsim/quant/histogram.h"

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
    {"min", &TensorStats::min},
    {"max", &TensorStats::max},
    {"min_batch_mean", &TensorStats::min_batch_mean},
    {"max_batch_mean", &TensorStats::max_batch_mean},
    {"mean", &TensorStats::mean},
    {"std", &TensorStats::std},
    {"b", &TensorStats::b},
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

// A count or size: a JSON integer (not 5e7, not 1.5) within [low, high]. Checked on the JSON value itself, because
// nlohmann's get<int64_t>() casts floats and wraps integers beyond int64 without a word.
int64_t bounded_integer(const json& value, int64_t low, int64_t high, const std::string& what) {
  if (!value.is_number_integer()) {
    throw MalformedStatistics(fmt::format("{} = {} is not an integer", what, value.dump()));
  }
  const bool in_range = value.is_number_unsigned() ? value.get<uint64_t>() <= static_cast<uint64_t>(high)
                                                   : value.get<int64_t>() <= high;
  if (!in_range || value.get<int64_t>() < low) {
    throw MalformedStatistics(
        fmt::format("{} = {} is out of range, must be in [{}, {}]", what, value.dump(), low, high));
  }
  return value.get<int64_t>();
}

// What a real collect produces: every value finite; min <= min_batch_mean <= max_batch_mean <= max and
// min <= mean <= max (averages of values never leave their range); 0 <= std, b <= max - min. Anything else would
// become a non-finite, inverted or meaningless quantization range. The bounds allow a relative 1e-9 for the rounding
// of double sums. `field` names a field of this tensor or channel, e.g. "per_channel.std[3]".
void check_tensor_stats(const TensorStats& stats, const std::function<std::string(const char*)>& field) {
  for (const StatField& f : kStatFields) {
    const double value = stats.*f.member;
    if (!std::isfinite(value)) throw MalformedStatistics(fmt::format("{} is {}, must be finite", field(f.name), value));
  }
  const auto require_ordered = [&](const char* low, double low_value, const char* high, double high_value) {
    const double slack = 1e-9 * std::max({1.0, std::abs(low_value), std::abs(high_value)});
    if (low_value > high_value + slack) {
      throw MalformedStatistics(
          fmt::format("{} = {} is above {} = {}", field(low), low_value, field(high), high_value));
    }
  };
  require_ordered("min", stats.min, "max", stats.max);
  require_ordered("min", stats.min, "min_batch_mean", stats.min_batch_mean);
  require_ordered("min_batch_mean", stats.min_batch_mean, "max_batch_mean", stats.max_batch_mean);
  require_ordered("max_batch_mean", stats.max_batch_mean, "max", stats.max);
  require_ordered("min", stats.min, "mean", stats.mean);
  require_ordered("mean", stats.mean, "max", stats.max);
  const auto require_spread = [&](const char* name, double value) {
    if (value < 0.0) throw MalformedStatistics(fmt::format("{} = {} is negative", field(name), value));
    const double range = stats.max - stats.min;
    if (value > range + 1e-9 * std::max(1.0, range)) {
      throw MalformedStatistics(fmt::format("{} = {} is wider than max - min = {}", field(name), value, range));
    }
  };
  require_spread("std", stats.std);
  require_spread("b", stats.b);
}

// nlohmann's DOM builder that also keeps the path to the value being read (sites[3].per_channel.min[17]), so that
// a number JSON text can hold but a double cannot (1e400, or an integer of 400 digits), which nlohmann refuses
// while parsing, is reported with its site and field.
class LocatingParser : public nlohmann::detail::json_sax_dom_parser<json> {
  using Base = nlohmann::detail::json_sax_dom_parser<json>;

 public:
  explicit LocatingParser(json& document) : Base(document, /*allow_exceptions=*/true) {}

  bool null() { return start_value() && Base::null(); }
  bool boolean(bool value) { return start_value() && Base::boolean(value); }
  bool number_integer(number_integer_t value) { return start_value() && Base::number_integer(value); }
  bool number_unsigned(number_unsigned_t value) { return start_value() && Base::number_unsigned(value); }
  bool number_float(number_float_t value, const string_t& text) {
    return start_value() && Base::number_float(value, text);
  }
  bool binary(binary_t& value) { return start_value() && Base::binary(value); }
  bool string(string_t& value) {
    if (path_.size() == 3 && path_[0].key == "sites" && path_[2].key == "name") site_name_ = value;
    return start_value() && Base::string(value);
  }
  bool start_object(std::size_t size) {
    start_value();
    if (path_.size() == 2 && path_[0].key == "sites") site_name_.clear();  // a new site begins
    path_.push_back({});
    return Base::start_object(size);
  }
  bool key(string_t& name) {
    path_.back().key = name;
    return Base::key(name);
  }
  bool end_object() {
    path_.pop_back();
    return Base::end_object();
  }
  bool start_array(std::size_t size) {
    start_value();
    path_.push_back({/*array=*/true, /*started=*/0, /*key=*/{}});
    return Base::start_array(size);
  }
  bool end_array() {
    path_.pop_back();
    return Base::end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& token, const Exception& error) {
    failure_ = fmt::format("{} = {}", describe_location(), token);
    return Base::parse_error(position, token, error);
  }

  // Where the parse failed and the text there, e.g. "site 'conv1' field per_channel.min[17] = 1e400".
  const std::string& failure() const { return failure_; }

 private:
  struct Level {
    bool array = false;
    size_t started = 0;  // arrays: elements begun so far
    std::string key;     // objects: the key being read
  };

  bool start_value() {
    if (!path_.empty() && path_.back().array) ++path_.back().started;
    return true;
  }

  // The value that failed has not begun: an innermost array is at element `started`, outer ones at `started - 1`.
  std::string describe_location() const {
    std::string field;
    size_t first = 0;
    std::string site;
    if (path_.size() >= 2 && path_[0].key == "sites") {
      site = site_name_.empty() ? fmt::format("site {}", path_[1].started - 1) : fmt::format("site '{}'", site_name_);
      first = 2;
    }
    for (size_t i = first; i < path_.size(); ++i) {
      const bool innermost = i + 1 == path_.size();
      if (path_[i].array) {
        field += fmt::format("[{}]", innermost ? path_[i].started : path_[i].started - 1);
      } else {
        field += (field.empty() ? "" : ".") + path_[i].key;
      }
    }
    if (field.empty()) field = "(the document)";
    return site.empty() ? "field " + field : site + " field " + field;
  }

  std::vector<Level> path_;
  std::string site_name_;  // of the site being read
  std::string failure_;
};

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

// `site` names the site in errors ("site 'conv1'"); the fields are per_tensor.min, per_tensor.max, ...
TensorStats tensor_stats_from_json(const json& object, const std::string& site) {
  const std::string where = site + " per_tensor";
  TensorStats stats;
  for (const StatField& field : kStatFields) {
    stats.*field.member = number_from_json(member(object, field.name, where), where + "." + field.name);
  }
  return stats;
}

// Every list is checked to hold `channels` entries before the channels are allocated.
std::vector<TensorStats> channel_stats_from_json(const json& object, size_t channels, const std::string& site) {
  const std::string where = site + " per_channel";
  for (const StatField& field : kStatFields) {
    const json& values = member(object, field.name, where);
    if (!values.is_array() || values.size() != channels) {
      throw MalformedStatistics(fmt::format("{}.{} should list {} channels (shape[0]), lists {}", where, field.name,
                                            channels, values.is_array() ? values.size() : 0));
    }
  }
  std::vector<TensorStats> stats(channels);
  for (const StatField& field : kStatFields) {
    const json& values = object.at(field.name);
    for (size_t c = 0; c < channels; ++c) {
      stats[c].*field.member = number_from_json(values[c], fmt::format("{}.{}[{}]", where, field.name, c));
    }
  }
  return stats;
}

// Histograms: {"bins": 2H, "limit": A, "counts": "<encode_counts>"} per tensor, and per channel the same with one
// limit and one counts text per channel (a list each).
json histogram_to_json(const Histogram& histogram) {
  return json{{"bins", histogram.counts.size()},
              {"limit", number_to_json(histogram.limit)},
              {"counts", encode_counts(histogram.counts)}};
}

json channel_histograms_to_json(const std::vector<Histogram>& channels) {
  json limits = json::array(), counts = json::array();
  for (const Histogram& h : channels) {
    limits.push_back(number_to_json(h.limit));
    counts.push_back(encode_counts(h.counts));
  }
  return json{{"bins", channels.empty() ? 0 : channels[0].counts.size()},
              {"limit", std::move(limits)},
              {"counts", std::move(counts)}};
}

int64_t histogram_bins(const json& object, const std::string& where) {
  const int64_t bins = bounded_integer(member(object, "bins", where), 2, kMaxHistogramBins, where + ".bins");
  if (bins % 2 != 0) throw MalformedStatistics(fmt::format("{}.bins = {} is odd", where, bins));
  return bins;
}

Histogram histogram_from_parts(const json& limit, const json& counts, int64_t bins, const std::string& where) {
  Histogram h;
  h.limit = number_from_json(limit, where + ".limit");
  if (!counts.is_string()) throw MalformedStatistics(where + ".counts is not a string");
  try {
    h.counts = decode_counts(counts.get<std::string>(), static_cast<size_t>(bins));
  } catch (const std::invalid_argument& error) {
    throw MalformedStatistics(fmt::format("{}.counts: {}", where, error.what()));
  }
  return h;
}

// Both histograms of a site, or none when the site has no "histogram" (":pre_relu" entries).
std::optional<SiteHistograms> histograms_from_json(const json& site, size_t channels, const std::string& where) {
  if (!site.contains("histogram")) return std::nullopt;
  SiteHistograms histograms;
  const json& tensor = member(site, "histogram", where);
  const std::string tensor_where = where + " histogram";
  histograms.per_tensor = histogram_from_parts(member(tensor, "limit", tensor_where),
                                               member(tensor, "counts", tensor_where),
                                               histogram_bins(tensor, tensor_where), tensor_where);
  const std::string channel_where = where + " per_channel_histogram";
  const json& per_channel = member(site, "per_channel_histogram", where);
  const int64_t bins = histogram_bins(per_channel, channel_where);
  if (static_cast<int64_t>(channels) > kMaxSiteHistogramCounts / bins) {
    throw MalformedStatistics(fmt::format("{}: {} channels of {} bins exceed {} counts", channel_where, channels, bins,
                                          kMaxSiteHistogramCounts));
  }
  const json& limits = member(per_channel, "limit", channel_where);
  const json& counts = member(per_channel, "counts", channel_where);
  for (const auto& [name, list] : {std::pair<const char*, const json*>{"limit", &limits}, {"counts", &counts}}) {
    if (!list->is_array() || list->size() != channels) {
      throw MalformedStatistics(fmt::format("{}.{} should list {} channels (shape[0]), lists {}", channel_where, name,
                                            channels, list->is_array() ? list->size() : 0));
    }
  }
  for (size_t c = 0; c < channels; ++c) {
    histograms.per_channel.push_back(
        histogram_from_parts(limits[c], counts[c], bins, fmt::format("{}[{}]", channel_where, c)));
  }
  return histograms;
}

// One histogram against the statistics of its tensor or channel and the number of values it should hold.
void check_histogram(const Histogram& h, const TensorStats& stats, int64_t values, const std::string& where) {
  if (!std::isfinite(h.limit) || h.limit < 0.0) {
    throw MalformedStatistics(fmt::format("{}.limit = {} is not a finite value >= 0", where, h.limit));
  }
  const double reach = std::max(std::abs(stats.min), std::abs(stats.max));
  if (h.limit < reach * (1.0 - 1e-9)) {
    throw MalformedStatistics(fmt::format("{}.limit = {} is below max(|min|, |max|) = {}", where, h.limit, reach));
  }
  int64_t sum = 0;
  int64_t first = -1, last = -1;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    if (h.counts[i] == 0) continue;
    if (h.counts[i] > std::numeric_limits<int64_t>::max() - sum) {
      throw MalformedStatistics(fmt::format("{}.counts overflow", where));
    }
    sum += h.counts[i];
    if (first < 0) first = static_cast<int64_t>(i);
    last = static_cast<int64_t>(i);
  }
  if (sum != values) {
    throw MalformedStatistics(fmt::format("{}.counts sum to {}, the statistics saw {} values", where, sum, values));
  }
  if (first < 0 || h.limit == 0.0) return;
  // Bin i covers [-limit + i w, -limit + (i + 1) w); one bin of slack for the float32 binning of edge values.
  const double w = h.bin_width();
  const double first_end = -h.limit + static_cast<double>(first + 2) * w;
  const double last_start = -h.limit + static_cast<double>(last - 1) * w;
  if (first_end < stats.min || last_start > stats.max) {
    throw MalformedStatistics(
        fmt::format("{}.counts fill bins outside [min, max] = [{}, {}]", where, stats.min, stats.max));
  }
}

// The histograms of a site (if any) against its statistics; `images` values per image and channel.
void check_site_histograms(const SiteStatistics& site, int64_t images) {
  if (!site.stats.histograms) return;
  const SiteHistograms& h = *site.stats.histograms;
  const std::string where = fmt::format("site '{}'", site.name);
  int64_t per_image = 1;
  for (size_t d = 1; d < site.shape.size(); ++d) per_image *= site.shape[d];
  const int64_t channels = site.shape.empty() ? 0 : site.shape[0];
  if (h.per_channel.size() != static_cast<size_t>(channels) || site.stats.per_channel.size() != h.per_channel.size()) {
    throw MalformedStatistics(
        fmt::format("{} has {} channel histograms for {} channels", where, h.per_channel.size(), channels));
  }
  // values = images * per_image * channels, each factor bounded (kMaxSiteElements = 2^40): refuse overflow.
  if (images > std::numeric_limits<int64_t>::max() / per_image / std::max<int64_t>(1, channels)) {
    throw MalformedStatistics(fmt::format("{}: calib_images * values per image overflows", where));
  }
  check_histogram(h.per_tensor, site.stats.per_tensor, images * per_image * channels, where + " histogram");
  for (size_t c = 0; c < h.per_channel.size(); ++c) {
    check_histogram(h.per_channel[c], site.stats.per_channel[c], images * per_image,
                    fmt::format("{} per_channel_histogram[{}]", where, c));
  }
}

// The values of one site, per tensor then channel by channel (see check_tensor_stats).
void check_site_values(const SiteStatistics& site) {
  const std::string where = fmt::format("site '{}'", site.name);
  check_tensor_stats(site.stats.per_tensor,
                     [&](const char* name) { return fmt::format("{} per_tensor.{}", where, name); });
  for (size_t c = 0; c < site.stats.per_channel.size(); ++c) {
    check_tensor_stats(site.stats.per_channel[c],
                       [&](const char* name) { return fmt::format("{} per_channel.{}[{}]", where, name, c); });
  }
}

// A per-image shape [C, ...] within the bounds of statistics_store.h, so that nothing sized from it is huge.
std::vector<int64_t> shape_from_json(const json& value, const std::string& site) {
  const std::string where = site + " shape";
  if (!value.is_array() || value.empty() || value.size() > kMaxSiteDims) {
    throw MalformedStatistics(
        fmt::format("{} is {}, expected [C, ...] with at most {} dimensions", where, value.dump(), kMaxSiteDims));
  }
  std::vector<int64_t> shape;
  int64_t elements = 1;
  for (size_t i = 0; i < value.size(); ++i) {
    const int64_t limit = i == 0 ? kMaxSiteChannels : kMaxSiteElements;
    shape.push_back(bounded_integer(value[i], 1, limit, fmt::format("{}[{}]", where, i)));
    if (shape.back() > kMaxSiteElements / elements) {
      throw MalformedStatistics(
          fmt::format("{} {} has more than {} values per image", where, value.dump(), kMaxSiteElements));
    }
    elements *= shape.back();
  }
  return shape;
}

json metadata_to_json(const StatisticsMetadata& metadata) {
  return json{{"model_sha256", metadata.model_sha256},
              {"model_path", metadata.model_path},
              {"arch", metadata.arch},
              {"act_sites", metadata.act_sites},
              {"calib_data", metadata.calib_data},
              {"calib_images", metadata.calib_images},
              {"batch_size", metadata.batch_size},
              {"cle", metadata.cross_layer_equalization},
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
  constexpr int64_t kMaxCount = std::numeric_limits<int64_t>::max();
  metadata.calib_images = bounded_integer(member(object, "calib_images", where), 1, kMaxCount, "metadata.calib_images");
  metadata.batch_size = bounded_integer(member(object, "batch_size", where), 1, kMaxCount, "metadata.batch_size");
  if (object.contains("cle")) {
    if (!object.at("cle").is_boolean()) throw MalformedStatistics("metadata.cle is not true or false");
    metadata.cross_layer_equalization = object.at("cle").get<bool>();
  }
  metadata.tool_version = member(object, "tool_version", where).get<std::string>();
  metadata.created = member(object, "created", where).get<std::string>();
  return metadata;
}

json site_to_json(const SiteStatistics& site) {
  json object{{"name", site.name},
              {"shape", site.shape},
              {"per_tensor", tensor_stats_to_json(site.stats.per_tensor)},
              {"per_channel", channel_stats_to_json(site.stats.per_channel)}};
  if (site.stats.histograms) {
    object["histogram"] = histogram_to_json(site.stats.histograms->per_tensor);
    object["per_channel_histogram"] = channel_histograms_to_json(site.stats.histograms->per_channel);
  }
  return object;
}

SiteStatistics site_from_json(const json& object, size_t index, int64_t images) {
  SiteStatistics site;
  site.name = member(object, "name", fmt::format("site {}", index)).get<std::string>();
  const std::string where = fmt::format("site '{}'", site.name);
  site.shape = shape_from_json(member(object, "shape", where), where);
  site.stats.per_tensor = tensor_stats_from_json(member(object, "per_tensor", where), where);
  site.stats.per_channel = channel_stats_from_json(member(object, "per_channel", where),
                                                   static_cast<size_t>(site.shape[0]), where);
  check_site_values(site);
  site.stats.histograms = histograms_from_json(object, static_cast<size_t>(site.shape[0]), where);
  check_site_histograms(site, images);
  return site;
}

// The format marker and version come first, so that another file or another version gets its own message.
void check_format(const json& document, const std::string& path) {
  if (!document.is_object() || document.value("format", json()) != kFormatName) {
    throw UserError(fmt::format("{}: not a quant-sim statistics file", path));
  }
  const json version = document.value("schema_version", json());
  if (version == 1) {
    throw UserError(fmt::format("{}: statistics schema version 1 has no histograms (this quant-sim reads version {}); "
                                "run -sm collect again",
                                path, kStatisticsSchemaVersion));
  }
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
  for (size_t i = 0; i < sites.size(); ++i) {
    statistics.sites.push_back(site_from_json(sites[i], i, statistics.metadata.calib_images));
  }
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
      throw UserError(fmt::format("{}: sites differ: site {} is '{}' in the statistics but '{}' in the model; {}", path,
                                  i, stored[i].name, model_sites[i].name, advice));
    }
    if (stored[i].shape != model_sites[i].shape) {
      throw UserError(fmt::format("{}: sites differ: site '{}' has shape {} in the statistics but {} in the model; {}",
                                  path, stored[i].name, shape_text(stored[i].shape), shape_text(model_sites[i].shape),
                                  advice));
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
  const std::string file = source.empty() ? "" : source + ": ";
  throw UserError(fmt::format("{}statistics of {} have no site '{}'", file, metadata.arch, name));
}

std::string statistics_path(const std::string& stats_dir, const std::string& arch, ActSites act_sites) {
  // The arch names a folder: it must not climb out of stats_dir or nest.
  if (arch.empty() || arch == "." || arch == ".." || arch.find('/') != std::string::npos) {
    throw UserError(fmt::format("-a/--arch: '{}' cannot name a statistics folder", arch));
  }
  return (fs::path(expand_user(stats_dir)) / arch / (to_string(act_sites) + ".json")).string();
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
  const auto corrupt = [&](const std::string& reason) {
    return UserError(fmt::format("{}: corrupt statistics file ({}); run with -sm collect to rewrite it", path, reason));
  };
  json document;
  if (const std::string problem = json_nesting_problem(text); !problem.empty()) throw corrupt(problem);
  LocatingParser parser(document);
  try {
    json::sax_parse(text, &parser);
  } catch (const json::parse_error& error) {
    throw corrupt(text.empty() ? "the file is empty" : error.what());
  } catch (const json::out_of_range&) {  // nlohmann's "number overflow"
    throw corrupt(parser.failure() + " does not fit a double");
  } catch (const json::exception& error) {
    throw corrupt(error.what());
  }
  check_format(document, path);
  try {
    Statistics statistics = parse_statistics(document);
    statistics.source = path;
    return statistics;
  } catch (const MalformedStatistics& error) {
    throw corrupt(error.what());
  } catch (const json::exception& error) {
    throw corrupt(error.what());
  }
}

void save_statistics(const Statistics& statistics, const std::string& path) {
  // Statistics that loading would refuse are not written: the collect stops here, naming the site, rather than
  // later when they are used.
  try {
    for (const SiteStatistics& site : statistics.sites) {
      check_site_values(site);
      check_site_histograms(site, statistics.metadata.calib_images);
    }
  } catch (const MalformedStatistics& error) {
    throw UserError(fmt::format("{}: statistics not written: {}; the calibration activations were not finite or not "
                                "consistent (check the model's weights and --mean/--std)",
                                path, error.what()));
  }
  write_file_atomically(path, statistics_to_json(statistics));
}

Statistics load_statistics(const std::string& path, const std::string& arch) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) {
    throw UserError(fmt::format("no statistics for {} at {}; run with -sm collect first", arch, path));
  }
  if (!fs::is_regular_file(status))
    throw UserError(fmt::format("{}: not a statistics file (not a regular file)", path));
  return statistics_from_json(read_file(path), path);
}

void check_compatible(const Statistics& statistics, const std::string& path, const std::string& model_sha256,
                      const std::vector<SiteShape>& model_sites, ActSites act_sites) {
  const StatisticsMetadata& stored = statistics.metadata;
  if (stored.act_sites != to_string(act_sites)) {
    throw UserError(fmt::format("{}: statistics were collected with --act-sites {}, this run uses --act-sites {}", path,
                                stored.act_sites, to_string(act_sites)));
  }
  if (stored.model_sha256 != model_sha256) {
    throw UserError(fmt::format("{}: statistics belong to another model file (SHA-256 {}, collected from {}); this "
                                "model's SHA-256 is {}; run with -sm collect to recollect",
                                path, stored.model_sha256, stored.model_path, model_sha256));
  }
  check_sites(statistics.sites, model_sites, path);
}

}  // namespace quantsim
