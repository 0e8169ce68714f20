// A write that fails (full disk, /dev/full, a path that cannot be written) is an error with one line on stderr and a
// non-zero exit, never a lost table with exit 0: standard output of every command, and merge's and report's --out.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

std::string line_of(const std::string& model, const std::string& shard) {
  const nlohmann::json shard_value = shard.empty() ? nlohmann::json(nullptr) : nlohmann::json(shard);
  const nlohmann::json config = {{"qtype", "f32"}, {"shard", shard_value}};
  return nlohmann::json{{"model_name", model}, {"precision", "FP32"}, {"top1", 50.0}, {"top5", 100.0},
                        {"top1_correct", 1},   {"top5_correct", 2},   {"images", 2},  {"model_sha256", "abc"},
                        {"data", "/d"},        {"config", config}}
      .dump();
}

class StdoutErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("stdout_errors");
    std::ofstream(results()) << line_of("net", "") << "\n"
                             << line_of("net", "1/2") << "\n"
                             << line_of("net", "2/2") << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string results() const { return dir_ + "/r.jsonl"; }
  // quant-sim ARGS with its standard output sent to `out`; the result holds what it wrote on stderr.
  static CommandResult with_stdout_to(const std::string& args, const std::string& out) {
    return run_command("{ " + std::string(QUANTSIM_BINARY_DIR) + "/quant-sim " + args + " > " + out + "; }");
  }

  std::string dir_;
};

void expect_one_line_error(const CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, kExitUserError) << r.output;
  EXPECT_EQ(r.output.rfind("quant-sim: error: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
}

TEST_F(StdoutErrors, ReportToAFullDevice) {
  for (const char* format : {"table", "csv", "markdown"}) {
    const CommandResult r = with_stdout_to("report " + results() + " --format " + format, "/dev/full");
    EXPECT_EQ(r.output, "quant-sim: error: writing standard output: No space left on device\n") << format;
    EXPECT_EQ(r.exit_code, kExitUserError);
  }
}

TEST_F(StdoutErrors, LongReportToAFullDevice) {
  // More than stdio's buffer, so that a write fails before the final flush too.
  std::ofstream out(results());
  for (int i = 0; i < 500; ++i) out << line_of("model_with_a_long_name_" + std::to_string(i), "") << "\n";
  out.close();
  expect_one_line_error(with_stdout_to("report " + results(), "/dev/full"), "writing standard output");
}

TEST_F(StdoutErrors, EveryCommandChecksItsOutput) {
  expect_one_line_error(with_stdout_to("--version", "/dev/full"), "writing standard output");
  expect_one_line_error(with_stdout_to("merge " + results() + " --out " + dir_ + "/merged.jsonl", "/dev/full"),
                        "writing standard output");
  EXPECT_EQ(with_stdout_to("report " + results(), dir_ + "/table.txt").exit_code, 0);  // and succeeds otherwise
}

TEST_F(StdoutErrors, MergeOutToAFullDevice) {
  expect_one_line_error(run_subcommand("merge " + results() + " --out /dev/full"),
                        "/dev/full: write failed: No space left on device");
}

TEST_F(StdoutErrors, MergeOutToAPathThatCannotBeWritten) {
  const std::string before = read_file(results());
  fs::create_directory(dir_ + "/folder");
  expect_one_line_error(run_subcommand("merge " + results() + " --out " + dir_ + "/folder"), dir_ + "/folder");
  expect_one_line_error(run_subcommand("merge " + results() + " --out " + results() + "/sub.jsonl"),
                        results() + "/sub.jsonl");
  EXPECT_EQ(read_file(results()), before);
}

TEST_F(StdoutErrors, ReportOutToAPathThatCannotBeWritten) {
  expect_one_line_error(run_subcommand("report " + results() + " --out " + results() + "/table.csv"),
                        results() + "/table.csv");
}

}  // namespace
