#include "quantsim/app/commands/gate_command.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "quantsim/app/commands/subcommand_args.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/json_nesting.h"
#include "quantsim/results/accuracy_gate.h"

namespace quantsim {
namespace {

// Printed after the flags by --help: CI and scripts tell a regression from a broken run by the exit status.
constexpr const char* kGateExitStatusHelp =
    "\nExit status:\n"
    "  0  every entry is within its tolerance (or --write-baseline wrote the baseline)\n"
    "  3  accuracy dropped: an entry dropped by more than its tolerance (or, by its rule,\n"
    "     significantly), is missing, was evaluated on other images, or lacks the\n"
    "     per-image correctness its rule needs\n"
    "  2  bad input: a flag, or a missing or malformed results or baseline file\n"
    "  1  internal error\n";

cxxopts::Options gate_options() {
  cxxopts::Options options("quant-sim gate", "Compares top-1 of a results file with a baseline, entry by entry.");
  options.custom_help("RESULTS.jsonl --baseline FILE [--write-baseline [--tolerance T] [--rule R]]");
  // clang-format off
  options.add_options()
    ("results", "results file", cxxopts::value<std::string>())
    ("baseline", "baseline file (JSON: {\"entries\": [{model, method, top1, tolerance, images}]})",
     cxxopts::value<std::string>())
    ("write-baseline", "write the baseline from the results instead of checking (keeps known tolerances)")
    ("tolerance", "tolerance of new entries with --write-baseline, in points of top-1",
     cxxopts::value<std::string>()->default_value("1.0"))
    ("rule", "rule of new entries with --write-baseline: tolerance | significant (McNemar drop at the entry's alpha, "
     "0.05) | both (beyond the tolerance and significant); the per-image rules store the run's per-image correctness",
     cxxopts::value<std::string>()->default_value("tolerance"))
    ("h,help", "print this help");
  // clang-format on
  return options;
}

nlohmann::ordered_json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  check_json_nesting(text, path);
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number out of range such as 1e400
    throw UserError(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

// The baseline as JSON with one entry per line, so that a change of the baseline reads as a one-line diff.
std::string baseline_file_text(const nlohmann::ordered_json& file) {
  std::string text = "{";
  const char* separator = "\n";
  for (const auto& item : file.items()) {
    text += separator + fmt::format("  {}: ", nlohmann::json(item.key()).dump());
    separator = ",\n";
    if (item.key() != "entries") {
      text += item.value().dump();
      continue;
    }
    text += "[";
    for (size_t i = 0; i < item.value().size(); ++i) text += (i ? ",\n    " : "\n    ") + item.value()[i].dump();
    text += "\n  ]";
  }
  return text + "\n}\n";
}

int write_baseline(const std::string& baseline_path, const std::string& results_path, double tolerance, GateRule rule) {
  nlohmann::ordered_json file = {{"description", "top-1 baseline of the accuracy gate; tolerances in points"}};
  std::vector<GateEntry> previous;
  if (std::filesystem::exists(baseline_path)) {
    file = read_json_file(baseline_path);
    previous = parse_gate_baseline(nlohmann::json::parse(file.dump()), baseline_path);
  }
  const std::vector<GateEntry> entries = baseline_from_results(read_results_file(results_path), previous, tolerance,
                                                               rule);
  if (entries.empty()) throw UserError(fmt::format("{}: no results line to make a baseline of", results_path));
  file["entries"] = gate_entries_to_json(entries);
  write_file_atomically(baseline_path, baseline_file_text(file));
  std::printf("wrote %zu entries to %s\n", entries.size(), baseline_path.c_str());
  return 0;
}

}  // namespace

int run_gate_command(const std::vector<std::string>& args) {
  cxxopts::Options options = gate_options();
  const cxxopts::ParseResult r = parse_subcommand_args(options, "results", args);
  if (printed_help(options, r)) {
    std::fputs(kGateExitStatusHelp, stdout);
    return 0;
  }
  if (r.count("baseline") == 0) throw UserError("quant-sim gate: missing --baseline FILE (see quant-sim gate --help)");
  const std::string results_path = expand_user(r["results"].as<std::string>());
  const std::string baseline_path = expand_user(r["baseline"].as<std::string>());
  const double tolerance = subcommand_non_negative_real(options, r, "tolerance");
  const std::optional<GateRule> rule = parse_gate_rule(r["rule"].as<std::string>());
  if (!rule) {
    throw UserError(fmt::format("quant-sim gate: flag --rule: '{}' is not tolerance, significant or both",
                                r["rule"].as<std::string>()));
  }
  if (r.count("rule") && !r.count("write-baseline")) {
    throw UserError("quant-sim gate: flag --rule: only with --write-baseline (a baseline entry's \"rule\" decides)");
  }
  if (r.count("write-baseline")) return write_baseline(baseline_path, results_path, tolerance, *rule);

  const std::vector<GateEntry> baseline = parse_gate_baseline(
      nlohmann::json::parse(read_json_file(baseline_path).dump()), baseline_path);
  if (baseline.empty()) throw UserError(fmt::format("{}: the baseline has no entries", baseline_path));
  const std::vector<GateCheck> checks = check_accuracy_gate(baseline, read_results_file(results_path));
  std::fputs(render_gate_checks(checks).c_str(), stdout);
  const int64_t failed = failed_checks(checks);
  if (failed == 0) {
    std::printf("accuracy gate: passed (%zu entries within tolerance of %s)\n", checks.size(), baseline_path.c_str());
    return 0;
  }
  std::printf("accuracy gate: FAILED: %ld of %zu entries dropped below their tolerance, are missing or were "
              "evaluated on other images (baseline %s, results %s)\n",
              static_cast<long>(failed), checks.size(), baseline_path.c_str(), results_path.c_str());
  return kExitAccuracyDropped;
}

}  // namespace quantsim
