#pragma once
// The accuracy regression gate: top-1 of a results file against a checked-in baseline, entry by entry, each with
// its own tolerance (CI: .ci/accuracy_baseline.json, scripts/accuracy_gate.sh).
//
//   {"description": "...",
//    "entries": [{"model": "resnet8_cifar10", "method": "W4A4 aciq", "top1": 69.9, "tolerance": 1.0,
//                 "images": 5000}, ...]}
//
// "model" is a results line's model_name and "method" its row in `quant-sim report` (method_label), so an entry is
// one cell of the report's table; when several lines give that cell, the last one counts, as in the report.
// "images" (optional) is the number of images the entry must have been evaluated on.
//
// "rule" (optional, docs/QUANTIZATION.md, section 15) says when an entry fails:
//   "tolerance" (the default)  top-1 dropped by more than "tolerance" points;
//   "significant"              top-1 dropped and McNemar's exact test against the baseline run's per-image
//                              correctness gives p < "alpha" (default 0.05): a drop chance cannot explain;
//   "both"                     both at once: a drop larger than the tolerance that is also significant.
// "significant" and "both" need the entry's "per_image" (the baseline run's, as in a results line; per_image.h),
// which --write-baseline writes for them, and a results line with per-image correctness on the same images.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/results/per_image.h"
#include "quantsim/results/results_file.h"

namespace quantsim {

enum class GateRule { kTolerance, kSignificant, kBoth };

// "tolerance" -> kTolerance, ...; nothing for another word.
std::optional<GateRule> parse_gate_rule(const std::string& name);
const char* gate_rule_name(GateRule rule);

struct GateEntry {
  GateEntry() = default;
  GateEntry(std::string model_name, std::string method_label, double top1_percent, double tolerance_points,
            std::optional<int64_t> image_count = std::nullopt)
      : model(std::move(model_name)),
        method(std::move(method_label)),
        top1(top1_percent),
        tolerance(tolerance_points),
        images(image_count) {}

  std::string model;
  std::string method;
  double top1 = 0.0;       // percent
  double tolerance = 0.0;  // percentage points top-1 may drop
  std::optional<int64_t> images;
  GateRule rule = GateRule::kTolerance;
  double alpha = 0.05;                           // significance level of the "significant" and "both" rules
  std::optional<PerImageCorrectness> per_image;  // the baseline run's; required by "significant" and "both"
};

enum class GateVerdict {
  kOk,           // within tolerance (or better)
  kDropped,      // top-1 below baseline - tolerance
  kMissing,      // no results line for the entry
  kOtherImages,  // evaluated on another number of images than the baseline's (or, by the per-image rules, others)
  kNoPerImage,   // a per-image rule, but the results line has no per-image correctness
};

struct GateCheck {
  GateEntry baseline;
  std::optional<double> measured_top1;
  std::optional<int64_t> measured_images;
  std::optional<double> p_value;  // McNemar's, for the per-image rules
  GateVerdict verdict = GateVerdict::kMissing;
};

// The entries of a baseline file's JSON; throws UserError naming `path` and the entry for a malformed one.
std::vector<GateEntry> parse_gate_baseline(const nlohmann::json& baseline, const std::string& path);

// One check per baseline entry, in the baseline's order, against the unsharded lines of `results`.
std::vector<GateCheck> check_accuracy_gate(const std::vector<GateEntry>& baseline,
                                           const std::vector<ResultLine>& results);

// How many checks did not pass (dropped, missing or on other images): the gate passes at 0.
int64_t failed_checks(const std::vector<GateCheck>& checks);

// An aligned table: entry, baseline, measured, change, tolerance, verdict; one line per check.
std::string render_gate_checks(const std::vector<GateCheck>& checks);

// Baseline entries for every cell of `results`: tolerances, rules and alphas of `previous` entries of the same cell
// are kept, new cells get `default_tolerance` and `default_rule`. Entries of a per-image rule take the results
// line's per-image correctness; UserError when it has none.
std::vector<GateEntry> baseline_from_results(const std::vector<ResultLine>& results,
                                             const std::vector<GateEntry>& previous, double default_tolerance,
                                             GateRule default_rule = GateRule::kTolerance);

// The "entries" list of a baseline file, keys in the order written above.
nlohmann::ordered_json gate_entries_to_json(const std::vector<GateEntry>& entries);

}  // namespace quantsim
