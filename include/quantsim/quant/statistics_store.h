#pragma once
// Statistics files (docs/QUANTIZATION.md, section 6): what `-sm collect` writes and `-sm use` reads.
//
// One JSON file per model and activation-site mode, at <stats-dir>/<arch>/<act-sites>.json, so that collecting
// `--act-sites outputs` never overwrites `--act-sites inputs`. Files are written atomically (temp file + rename):
// an interrupted run leaves the previous statistics intact. Doubles round-trip exactly (shortest representation
// that parses back to the same double; non-finite values are written as the strings "nan", "inf", "-inf", so that a
// collect that met them leaves a file that shows them; loading refuses them).
//
//   collect: Statistics stats{metadata, sites};
//            save_statistics(stats, statistics_path(cfg.stats_dir, cfg.arch, cfg.act_sites));
//   use:     const std::string path = statistics_path(cfg.stats_dir, cfg.arch, cfg.act_sites);
//            const Statistics stats = load_statistics(path, cfg.arch);
//            check_compatible(stats, path, model_sha256, model_sites, cfg.act_sites);
//            const SiteStatistics& site = stats.site("layer1.0.conv1");
#include <cstdint>
#include <string>
#include <vector>

#include "quantsim/quant/choices.h"
#include "quantsim/quant/stats_accumulator.h"

namespace quantsim {

// Bumped whenever the file layout changes; files of another version are refused.
// Version 2 added the histograms of every site (docs/QUANTIZATION.md, section 6); version 1 files are refused with
// the advice to collect again.
constexpr int kStatisticsSchemaVersion = 2;

struct StatisticsMetadata {
  std::string model_sha256;  // lower-case hex SHA-256 of the model file
  std::string model_path;
  std::string arch;
  std::string act_sites;     // "outputs" or "inputs" (to_string(ActSites))
  std::string calib_data;    // calibration set path
  int64_t calib_images = 0;  // images in the statistics
  int64_t batch_size = 0;    // -b of the collect run: min_batch_mean / max_batch_mean depend on it
  // --cle: collected on the equalised model (JSON "cle"; absent = false).
  bool cross_layer_equalization = false;
  std::string tool_version;  // quant-sim version that collected them; save_statistics fills it when empty
  std::string created;       // UTC, ISO 8601 (e.g. "2024-05-01T12:00:00Z"); save_statistics fills it when empty
};

// The shape of one site's tensor for a single image, e.g. {C, H, W} or {C}.
struct SiteShape {
  std::string name;
  std::vector<int64_t> shape;
};

struct SiteStatistics {
  std::string name;            // stable site name (docs/QUANTIZATION.md, section 4), e.g. "layer1.0.conv1" or
                               // "layer1.0.conv1:pre_relu"
  std::vector<int64_t> shape;  // per image; shape[0] is the number of channels
  ChannelwiseStats stats;      // with histograms for sites, none for ":pre_relu" entries
};

struct Statistics {
  StatisticsMetadata metadata;
  std::vector<SiteStatistics> sites;  // in the order the sites were observed
  // The file they were read from, so that errors raised later from their values (clipping, bit allocation, ranges)
  // can name it; empty for statistics made in memory. Not written to the file.
  std::string source;

  // Throws UserError when no site has this name.
  const SiteStatistics& site(const std::string& name) const;
};

// Bounds a statistics file must respect before anything sized from it is allocated: a site's shape has 1 to
// kMaxSiteDims dimensions, each at least 1, at most kMaxSiteChannels channels (shape[0]) and at most
// kMaxSiteElements values per image.
constexpr size_t kMaxSiteDims = 8;
constexpr int64_t kMaxSiteChannels = int64_t{1} << 20;
constexpr int64_t kMaxSiteElements = int64_t{1} << 40;
// Bounds of a site's histograms: at most kMaxHistogramBins bins per tensor or channel, and at most
// kMaxSiteHistogramCounts counts over all channels of a site (checked before decoding them).
constexpr int64_t kMaxHistogramBins = int64_t{1} << 16;
constexpr int64_t kMaxSiteHistogramCounts = int64_t{1} << 25;

// <stats_dir>/<arch>/<act-sites>.json, with a leading "~/" of stats_dir expanded.
std::string statistics_path(const std::string& stats_dir, const std::string& arch, ActSites act_sites);

// Atomically replaces the file at `path`. Throws UserError naming the path when it cannot be written.
void save_statistics(const Statistics& statistics, const std::string& path);

// Throws UserError naming the path when the file is missing ("no statistics for <arch> ...; run with -sm collect
// first"), unreadable, not valid JSON, of another schema version, or inconsistent (e.g. a per-channel list whose
// length is not the site's channel count). Every value is validated on load, naming the site and the field of the
// first bad one: shapes within the bounds above (checked before any allocation sized from them), integer counts,
// numbers a double can hold, and statistics a real collect can produce: every value finite, min <= max,
// min_batch_mean <= max_batch_mean, std >= 0 and b >= 0; histograms (where present) with an even number of bins
// within the bounds above, a finite limit >= max(|min|, |max|), counts that decode to non-negative integers summing
// to the values seen (calib_images times the values per image of the tensor or channel), and no non-empty bin
// outside [min, max] by more than a bin. The result's `source` is `path`.
Statistics load_statistics(const std::string& path, const std::string& arch);

// The JSON text that save_statistics writes / load_statistics reads (and validates, as load_statistics); `path`
// names the source in errors and becomes the result's `source`.
std::string statistics_to_json(const Statistics& statistics);
Statistics statistics_from_json(const std::string& text, const std::string& path);

// Refuses (UserError naming `path` and the first difference) statistics of another --act-sites mode, of another
// model file (SHA-256 differs), or of another site list (names and per-image shapes, in order).
void check_compatible(const Statistics& statistics, const std::string& path, const std::string& model_sha256,
                      const std::vector<SiteShape>& model_sites, ActSites act_sites);

}  // namespace quantsim
