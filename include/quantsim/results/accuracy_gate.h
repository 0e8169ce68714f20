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
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/results/results_file.h"

namespace quantsim {

struct GateEntry {
  std::string model;
  std::string method;
  double top1 = 0.0;       // percent
  double tolerance = 0.0;  // percentage points top-1 may drop
  std::optional<int64_t> images;
};

enum class GateVerdict {
  kOk,           // within tolerance (or better)
  kDropped,      // top-1 below baseline - tolerance
  kMissing,      // no results line for the entry
  kOtherImages,  // evaluated on another number of images than the baseline's
};

struct GateCheck {
  GateEntry baseline;
  std::optional<double> measured_top1;
  std::optional<int64_t> measured_images;
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

// Baseline entries for every cell of `results`: tolerances of `previous` entries of the same cell are kept, new
// cells get `default_tolerance`.
std::vector<GateEntry> baseline_from_results(const std::vector<ResultLine>& results,
                                             const std::vector<GateEntry>& previous, double default_tolerance);

// The "entries" list of a baseline file, keys in the order written above.
nlohmann::ordered_json gate_entries_to_json(const std::vector<GateEntry>& entries);

}  // namespace quantsim
