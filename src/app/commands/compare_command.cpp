#include "quantsim/app/commands/compare_command.h"

#include <cstdio>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "quantsim/app/commands/subcommand_args.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/core/message_text.h"
#include "quantsim/results/comparison_stats.h"
#include "quantsim/results/results_table.h"

namespace quantsim {
namespace {

// A run as the command line named it, with its line.
struct NamedRun {
  std::string spec;  // as given, for messages
  std::vector<ResultLine> lines;
  const ResultLine* line = nullptr;
};

// "model: row", the cell of the report (and of the gate) a line fills.
std::string cell_name(const ResultRecord& record) { return record.model_name + ": " + method_label(record); }

bool names_line(const ResultRecord& record, const std::string& name) {
  return record.sweep_key == name || record.config.value("label", nlohmann::json()) == name ||
         method_label(record) == name || cell_name(record) == name;
}

// FILE, FILE:LINE or FILE#NAME; a path that exists as given is always FILE.
NamedRun resolve_run(const std::string& spec) {
  NamedRun run{spec, {}, nullptr};
  const std::string path = expand_user(spec);
  std::string file = path;
  std::string name;
  int line_number = 0;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    const size_t hash = path.find('#');
    std::smatch match;
    if (hash != std::string::npos && std::filesystem::exists(path.substr(0, hash), ec)) {
      file = path.substr(0, hash);
      name = path.substr(hash + 1);
      if (name.empty()) throw UserError(fmt::format("quant-sim compare: '{}': no name after '#'", abbreviated(spec)));
    } else if (std::regex_match(path, match, std::regex("(.*):([0-9]{1,9})"))) {
      file = match[1];
      line_number = std::stoi(match[2]);
    }
  }
  run.lines = read_results_file(file);
  run.line = &select_result_line(run.lines, file, name, line_number);
  return run;
}

// The runs (cells) among `candidates`, each once, for messages.
std::string list_cells(const std::vector<const ResultLine*>& candidates) {
  std::vector<std::string> cells;
  for (const ResultLine* line : candidates) {
    const std::string cell = cell_name(line->fields);
    if (std::find(cells.begin(), cells.end(), cell) == cells.end()) cells.push_back(cell);
  }
  std::string text;
  for (size_t i = 0; i < cells.size() && i < 4; ++i) text += (i ? "; " : "") + cells[i];
  return cells.size() > 4 ? fmt::format("{}; and {} more", text, cells.size() - 4) : text;
}

size_t count_cells(const std::vector<const ResultLine*>& candidates) {
  std::vector<std::string> cells;
  for (const ResultLine* line : candidates) {
    const std::string cell = cell_name(line->fields);
    if (std::find(cells.begin(), cells.end(), cell) == cells.end()) cells.push_back(cell);
  }
  return cells.size();
}

// "resnet8_cifar10: W4A8 -c mse (r.jsonl:3)".
std::string describe(const NamedRun& run) { return fmt::format("{} ({})", cell_name(run.line->fields), run.spec); }

std::string accuracy_text(const ResultRecord& r) {
  const auto [lo, hi] = wilson_interval_percent(*r.top1_correct, *r.images);
  return fmt::format("top-1 {:.2f}% (95% CI {:.2f}-{:.2f}), {} images", r.top1, lo, hi, *r.images);
}

void check_per_image(const NamedRun& run, const char* which) {
  if (run.line->fields.per_image) return;
  throw UserError(fmt::format("quant-sim compare: {} ({}) has no per-image correctness (a line of an older "
                              "quant-sim, a merge of shards without it, or a run that skipped bad images); rerun it",
                              which, abbreviated(run.spec)));
}

cxxopts::Options compare_options() {
  cxxopts::Options options("quant-sim compare", "Paired McNemar test of top-1 between two runs on the same images.");
  options.custom_help("A B [--alpha P]   (A, B: FILE | FILE:LINE | FILE#NAME)");
  // clang-format off
  options.add_options()
    ("runs", "the two results lines", cxxopts::value<std::vector<std::string>>())
    ("alpha", "significance level of the two-sided test", cxxopts::value<std::string>()->default_value("0.05"))
    ("h,help", "print this help");
  // clang-format on
  return options;
}

}  // namespace

const ResultLine& select_result_line(const std::vector<ResultLine>& lines, const std::string& file,
                                     const std::string& name, int line_number) {
  if (line_number > 0) {
    for (const ResultLine& line : lines) {
      if (line.line_number == line_number) return line;
    }
    throw UserError(fmt::format("{}:{}: no results line there", file, line_number));
  }
  std::vector<const ResultLine*> candidates;
  for (const ResultLine& line : lines) {
    if (line.fields.shard.empty() && (name.empty() || names_line(line.fields, name))) candidates.push_back(&line);
  }
  if (candidates.empty()) {
    throw UserError(name.empty() ? fmt::format("{}: no unsharded results line", file)
                                 : fmt::format("{}: no unsharded line is named '{}' (a sweep key, --label, report "
                                               "row or 'model: row')",
                                               file, abbreviated(name)));
  }
  if (count_cells(candidates) > 1) {
    throw UserError(fmt::format("{}{}: {} runs match ({}); name one as FILE:LINE or FILE#'model: row'", file,
                                name.empty() ? "" : "#" + abbreviated(name), count_cells(candidates),
                                list_cells(candidates)));
  }
  return *candidates.back();  // the last line of the cell, as `quant-sim report` shows it
}

int run_compare_command(const std::vector<std::string>& args) {
  cxxopts::Options options = compare_options();
  const cxxopts::ParseResult r = parse_subcommand_args(options, "runs", args);
  if (printed_help(options, r)) return 0;
  const std::vector<std::string> specs = r["runs"].as<std::vector<std::string>>();
  if (specs.size() != 2) {
    throw UserError(fmt::format("quant-sim compare: give two results lines A B, not {}", specs.size()));
  }
  const double alpha = subcommand_non_negative_real(options, r, "alpha");
  if (!(alpha > 0.0 && alpha < 1.0)) {
    throw UserError(fmt::format("quant-sim compare: flag --alpha: {} is not in (0, 1)", alpha));
  }
  const NamedRun a = resolve_run(specs[0]);
  const NamedRun b = resolve_run(specs[1]);
  check_per_image(a, "A");
  check_per_image(b, "B");
  const ResultRecord& ra = a.line->fields;
  const ResultRecord& rb = b.line->fields;
  if (!same_images(*ra.per_image, *rb.per_image)) {
    throw UserError(fmt::format("quant-sim compare: A and B were evaluated on different images ({} images, order "
                                "{:.12} vs {} images, order {:.12}); a paired test needs the same images in the "
                                "same order",
                                ra.per_image->images(), ra.per_image->order.hex(), rb.per_image->images(),
                                rb.per_image->order.hex()));
  }
  const DiscordantPairs pairs = discordant_top1(*ra.per_image, *rb.per_image);
  const double p = mcnemar_exact_p(pairs.only_a, pairs.only_b);
  const bool significant = p < alpha;
  std::printf("A  %s: %s\n", describe(a).c_str(), accuracy_text(ra).c_str());
  std::printf("B  %s: %s\n", describe(b).c_str(), accuracy_text(rb).c_str());
  std::printf("discordant images: %lld right only in A, %lld right only in B (%lld agree)\n",
              static_cast<long long>(pairs.only_a), static_cast<long long>(pairs.only_b),
              static_cast<long long>(*ra.images - pairs.only_a - pairs.only_b));
  std::printf("McNemar exact two-sided p = %.4g: B - A = %+.2f points of top-1, %s at alpha %g\n", p,
              100.0 * static_cast<double>(pairs.only_b - pairs.only_a) / static_cast<double>(*ra.images),
              significant ? "SIGNIFICANT" : "not significant", alpha);
  return 0;
}

}  // namespace quantsim
