#include "quantsim/results/accuracy_gate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/percent.h"
#include "quantsim/results/comparison_stats.h"
#include "quantsim/results/result_record.h"
#include "quantsim/results/results_table.h"

namespace quantsim {
namespace {

using Cell = std::pair<std::string, std::string>;  // (model, method)

// Floating-point slack, so that a drop of exactly the tolerance (e.g. 76.44 -> 75.44 with 1.0) passes.
constexpr double kSlack = 1e-9;

struct MeasuredCell {
  double top1 = 0.0;
  std::optional<int64_t> images;
  const std::optional<PerImageCorrectness>* per_image = nullptr;
};

// The report's cells, last line winning; `order` lists them in order of first appearance.
std::map<Cell, MeasuredCell> measured_cells(const std::vector<ResultLine>& results,
                                            std::vector<Cell>* order = nullptr) {
  std::map<Cell, MeasuredCell> cells;
  for (const ResultLine& line : results) {
    const ResultRecord& record = line.fields;
    if (!record.shard.empty()) continue;  // part of a run: only merged lines count
    const Cell cell{record.model_name, method_label(record)};
    if (order != nullptr && cells.count(cell) == 0) order->push_back(cell);
    cells[cell] = {record.top1, record.images, &record.per_image};
  }
  return cells;
}

GateVerdict verdict_of(const GateEntry& entry, const MeasuredCell& measured, std::optional<double>& p_value) {
  if (entry.images && measured.images != entry.images) return GateVerdict::kOtherImages;
  const bool beyond_tolerance = entry.top1 - measured.top1 > entry.tolerance + kSlack;
  if (entry.rule == GateRule::kTolerance) return beyond_tolerance ? GateVerdict::kDropped : GateVerdict::kOk;
  if (measured.per_image == nullptr || !*measured.per_image) return GateVerdict::kNoPerImage;
  const PerImageCorrectness& now = **measured.per_image;
  if (!same_images(*entry.per_image, now)) return GateVerdict::kOtherImages;
  const DiscordantPairs pairs = discordant_top1(*entry.per_image, now);
  p_value = mcnemar_exact_p(pairs.only_a, pairs.only_b);
  const bool significant_drop = pairs.only_a > pairs.only_b && *p_value < entry.alpha;
  const bool fails = entry.rule == GateRule::kSignificant ? significant_drop : significant_drop && beyond_tolerance;
  return fails ? GateVerdict::kDropped : GateVerdict::kOk;
}

const char* verdict_name(GateVerdict verdict) {
  switch (verdict) {
    case GateVerdict::kOk: return "ok";
    case GateVerdict::kDropped: return "DROPPED";
    case GateVerdict::kMissing: return "MISSING";
    case GateVerdict::kOtherImages: return "OTHER IMAGES";
    case GateVerdict::kNoPerImage: return "NO PER-IMAGE DATA";
  }
  return "?";
}

std::string number_or_dash(const std::optional<double>& value, const char* format) {
  return value ? fmt::format(fmt::runtime(format), *value) : "-";
}

// The verdict with what explains it: the image counts when they differ.
std::string verdict_text(const GateCheck& check) {
  if (check.p_value) {
    return fmt::format("{} ({} rule, McNemar p = {:.3g}, alpha {})", verdict_name(check.verdict),
                       gate_rule_name(check.baseline.rule), *check.p_value, check.baseline.alpha);
  }
  if (check.verdict != GateVerdict::kOtherImages || !check.baseline.images) return verdict_name(check.verdict);
  return fmt::format("{} ({} images, baseline {})", verdict_name(check.verdict),
                     check.measured_images ? std::to_string(*check.measured_images) : "?", *check.baseline.images);
}

// One baseline entry; `where` ("FILE: entries[I]") names it in errors. A baseline that cannot be met or cannot fail
// (a top-1 above 100, an infinite or negative tolerance, no images) is refused rather than compared against.
GateEntry parse_gate_entry(const nlohmann::json& raw, const std::string& where) {
  const auto fail = [&](const std::string& what) { throw UserError(fmt::format("{}: {}", where, what)); };
  if (!raw.is_object()) fail("not an object");
  for (const char* key : {"model", "method"}) {
    if (!raw.contains(key) || !raw[key].is_string()) fail(fmt::format("\"{}\" must be a string", key));
  }
  for (const char* key : {"top1", "tolerance"}) {
    if (!raw.contains(key) || !raw[key].is_number()) fail(fmt::format("\"{}\" must be a number", key));
  }
  GateEntry entry{raw["model"], raw["method"], raw["top1"], raw["tolerance"], std::nullopt};
  if (!is_json_percentage(raw["top1"])) {
    fail("\"top1\" must be a percentage in [0, 100], not " + json_excerpt(raw["top1"]));
  }
  if (!std::isfinite(entry.tolerance) || entry.tolerance < 0) {
    fail("\"tolerance\" must be a finite number of points, not negative");
  }
  if (raw.contains("images")) {
    entry.images = json_count(raw["images"]);
    if (!entry.images || *entry.images < 1) {
      fail("\"images\" must be a positive integer, not " + json_excerpt(raw["images"]));
    }
  }
  if (raw.contains("rule")) {
    const std::optional<GateRule> rule = raw["rule"].is_string() ? parse_gate_rule(raw["rule"].get<std::string>())
                                                                 : std::nullopt;
    if (!rule) fail("\"rule\" must be \"tolerance\", \"significant\" or \"both\", not " + json_excerpt(raw["rule"]));
    entry.rule = *rule;
  }
  if (raw.contains("alpha")) {
    if (!raw["alpha"].is_number() || !(raw["alpha"].get<double>() > 0.0 && raw["alpha"].get<double>() < 1.0)) {
      fail("\"alpha\" must be a number in (0, 1), not " + json_excerpt(raw["alpha"]));
    }
    entry.alpha = raw["alpha"].get<double>();
  }
  if (raw.contains("per_image")) entry.per_image = per_image_from_json(raw["per_image"], where);
  if (entry.rule != GateRule::kTolerance && !entry.per_image) {
    fail(fmt::format("rule \"{}\" needs the baseline run's \"per_image\" (quant-sim gate --write-baseline --rule {} "
                     "writes it)",
                     gate_rule_name(entry.rule), gate_rule_name(entry.rule)));
  }
  if (entry.per_image) {
    const double per_image_top1 = percent(entry.per_image->top1_correct(), entry.per_image->images());
    if ((entry.images && *entry.images != entry.per_image->images()) || std::abs(per_image_top1 - entry.top1) > 0.005) {
      fail(fmt::format("\"per_image\" ({} images, top-1 {:.4f}%) is not the run of \"top1\" and \"images\"",
                       entry.per_image->images(), per_image_top1));
    }
  }
  return entry;
}

}  // namespace

std::optional<GateRule> parse_gate_rule(const std::string& name) {
  if (name == "tolerance") return GateRule::kTolerance;
  if (name == "significant") return GateRule::kSignificant;
  if (name == "both") return GateRule::kBoth;
  return std::nullopt;
}

const char* gate_rule_name(GateRule rule) {
  switch (rule) {
    case GateRule::kTolerance: return "tolerance";
    case GateRule::kSignificant: return "significant";
    case GateRule::kBoth: return "both";
  }
  return "?";
}

std::vector<GateEntry> parse_gate_baseline(const nlohmann::json& baseline, const std::string& path) {
  if (!baseline.is_object() || !baseline.contains("entries") || !baseline["entries"].is_array()) {
    throw UserError(fmt::format("{}: a baseline is an object with a list \"entries\"", path));
  }
  std::vector<GateEntry> entries;
  std::map<Cell, size_t> seen;  // a cell checked twice would pass or fail on whichever tolerance came first
  for (size_t i = 0; i < baseline["entries"].size(); ++i) {
    entries.push_back(parse_gate_entry(baseline["entries"][i], fmt::format("{}: entries[{}]", path, i)));
    const auto [first, fresh] = seen.emplace(Cell{entries.back().model, entries.back().method}, i);
    if (!fresh) {
      throw UserError(fmt::format("{}: entries[{}]: {}: {} is already entries[{}]", path, i, entries.back().model,
                                  entries.back().method, first->second));
    }
  }
  return entries;
}

std::vector<GateCheck> check_accuracy_gate(const std::vector<GateEntry>& baseline,
                                           const std::vector<ResultLine>& results) {
  const std::map<Cell, MeasuredCell> cells = measured_cells(results);
  std::vector<GateCheck> checks;
  for (const GateEntry& entry : baseline) {
    GateCheck check{entry, std::nullopt, std::nullopt, std::nullopt, GateVerdict::kMissing};
    const auto it = cells.find({entry.model, entry.method});
    if (it != cells.end()) {
      check.measured_top1 = it->second.top1;
      check.measured_images = it->second.images;
      check.verdict = verdict_of(entry, it->second, check.p_value);
    }
    checks.push_back(std::move(check));
  }
  return checks;
}

int64_t failed_checks(const std::vector<GateCheck>& checks) {
  return std::count_if(checks.begin(), checks.end(), [](const GateCheck& c) { return c.verdict != GateVerdict::kOk; });
}

std::string render_gate_checks(const std::vector<GateCheck>& checks) {
  std::vector<std::string> names;
  size_t width = std::string("entry").size();
  for (const GateCheck& check : checks) {
    names.push_back(check.baseline.model + ": " + check.baseline.method);
    width = std::max(width, names.back().size());
  }
  std::string out = fmt::format("{:<{}}  {:>8}  {:>8}  {:>7}  {:>9}  {}\n", "entry", width, "baseline", "measured",
                                "change", "tolerance", "verdict");
  for (size_t i = 0; i < checks.size(); ++i) {
    const GateCheck& check = checks[i];
    // Rounded as printed, and + 0.0 turns -0 into 0: the baseline keeps 4 decimals, so "-0.00" would be noise.
    const std::optional<double> change =
        check.measured_top1
            ? std::optional<double>(std::round((*check.measured_top1 - check.baseline.top1) * 100) / 100 + 0.0)
            : std::nullopt;
    out += fmt::format("{:<{}}  {:>8.2f}  {:>8}  {:>7}  {:>9.2f}  {}\n", names[i], width, check.baseline.top1,
                       number_or_dash(check.measured_top1, "{:.2f}"), number_or_dash(change, "{:+.2f}"),
                       check.baseline.tolerance, verdict_text(check));
  }
  return out;
}

std::vector<GateEntry> baseline_from_results(const std::vector<ResultLine>& results,
                                             const std::vector<GateEntry>& previous, double default_tolerance,
                                             GateRule default_rule) {
  std::vector<Cell> order;
  const std::map<Cell, MeasuredCell> cells = measured_cells(results, &order);
  std::vector<GateEntry> entries;
  for (const Cell& cell : order) {
    const auto old = std::find_if(previous.begin(), previous.end(),
                                  [&](const GateEntry& e) { return e.model == cell.first && e.method == cell.second; });
    const MeasuredCell& measured = cells.at(cell);
    GateEntry entry{cell.first, cell.second, measured.top1, old == previous.end() ? default_tolerance : old->tolerance,
                    measured.images};
    entry.rule = old == previous.end() ? default_rule : old->rule;
    entry.alpha = old == previous.end() ? entry.alpha : old->alpha;
    if (entry.rule != GateRule::kTolerance) {
      if (!*measured.per_image) {
        throw UserError(fmt::format("{}: {}: rule \"{}\" needs per-image correctness, and its results line has none "
                                    "(rerun it with this quant-sim)",
                                    cell.first, cell.second, gate_rule_name(entry.rule)));
      }
      entry.per_image = *measured.per_image;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

nlohmann::ordered_json gate_entries_to_json(const std::vector<GateEntry>& entries) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const GateEntry& entry : entries) {
    // Four decimals: exact enough against tolerances of tenths of a point, and readable in review.
    nlohmann::ordered_json item = {{"model", entry.model},
                                   {"method", entry.method},
                                   {"top1", std::round(entry.top1 * 1e4) / 1e4},
                                   {"tolerance", entry.tolerance}};
    if (entry.images) item["images"] = *entry.images;
    if (entry.rule != GateRule::kTolerance) {  // a tolerance entry is written as before this field existed
      item["rule"] = gate_rule_name(entry.rule);
      item["alpha"] = entry.alpha;
    }
    if (entry.per_image) item["per_image"] = per_image_to_json(*entry.per_image);
    list.push_back(std::move(item));
  }
  return list;
}

}  // namespace quantsim
