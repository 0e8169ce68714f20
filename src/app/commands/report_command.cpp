#include "quantsim/app/commands/report_command.h"

#include <cstdio>

#include <fmt/format.h>

#include "quantsim/app/commands/subcommand_args.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/results/results_table.h"

namespace quantsim {
namespace {

TableFormat parse_table_format(const std::string& value) {
  if (value == "table") return TableFormat::kTable;
  if (value == "csv") return TableFormat::kCsv;
  if (value == "markdown" || value == "md") return TableFormat::kMarkdown;
  throw UserError(fmt::format("flag --format: '{}' is not one of table, csv, markdown", value));
}

cxxopts::Options report_options() {
  cxxopts::Options options("quant-sim report", "Prints the table of top-1 accuracies of a results file.");
  options.custom_help("RESULTS.jsonl [--format table|csv|markdown] [--ci] [--stability] [--arith] [--out FILE]");
  options.add_options()("results", "results file", cxxopts::value<std::string>())(
      "format", "table | csv | markdown", cxxopts::value<std::string>()->default_value("table"))(
      "ci", "show the 95% Wilson interval of each top-1: 61.46 [58.78, 64.07]")(
      "stability", "show top-1's range over --stability reruns where measured: (stability 61.23-62.31)")(
      "arith", "show the float path's top-1 beside an --arith int run's: 61.10 (float 61.23)")(
      "out", "write the table to FILE (atomically; '-', a FIFO or a device: in place) instead of stdout",
      cxxopts::value<std::string>())("h,help", "print this help");
  return options;
}

}  // namespace

int run_report_command(const std::vector<std::string>& args) {
  cxxopts::Options options = report_options();
  const cxxopts::ParseResult r = parse_subcommand_args(options, "results", args);
  if (printed_help(options, r)) return 0;
  const TableFormat format = parse_table_format(r["format"].as<std::string>());
  const std::string path = expand_user(r["results"].as<std::string>());
  const std::string text = render_results_table(
      build_results_table(read_results_file(path), {r.count("ci") > 0, r.count("stability") > 0, r.count("arith") > 0}),
      format);
  if (r.count("out")) {
    write_output_file(expand_user(r["out"].as<std::string>()), text);
  } else {
    std::fputs(text.c_str(), stdout);
  }
  return 0;
}

}  // namespace quantsim
