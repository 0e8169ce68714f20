// `quant-sim sweep` end to end on generated models and images: every configuration once, resumption after a kill
// or from a pre-seeded results file, and two processes sharing one sweep.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "quantsim/core/atomic_file.h"
#include "quantsim/results/results_file.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

constexpr size_t kConfigurations = 2 * (1 + 2 * 2);  // 2 models x (FP32 + 2 bit pairs x 2 methods)

class SweepEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(std::string("sweep_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    save_small_cnn(dir_ + "/cnn.pt", 4);
    save_tiny_classifier(dir_ + "/tiny.pt", 4);
    make_image_folder(dir_ + "/images", {"a", "b", "c", "d"}, 6);
    write_sweep("images");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_sweep(const std::string& tiny_data) const {
    std::ofstream(dir_ + "/sweep.json") << R"({
      "models": [{"name": "cnn", "model": "cnn.pt", "data": "images"},
                 {"name": "tiny", "model": "tiny.pt", "data": ")"
                                        << tiny_data << R"("}],
      "weight_bits": [8, 4], "act_bits": [4],
      "methods": {"rtn": [], "aciq": ["-pcq_w", "-c", "laplace", "-bcw"]},
      "common": ["--resize", "0", "--crop", "0", "-b", "5"]})";
  }
  CommandResult sweep(const std::string& extra = "") const {
    return run_subcommand("sweep " + sweep_file() + " " + extra);
  }
  std::string sweep_file() const { return dir_ + "/sweep.json"; }
  std::string results() const { return dir_ + "/results.jsonl"; }

  // How many results lines each sweep key has.
  std::map<std::string, int> key_counts() const {
    std::map<std::string, int> counts;
    if (!fs::exists(results())) return counts;
    for (const ResultLine& line : read_results_file(results())) ++counts[line.record["config"]["sweep_key"]];
    return counts;
  }
  void expect_each_configuration_once() const {
    const std::map<std::string, int> counts = key_counts();
    EXPECT_EQ(counts.size(), kConfigurations);
    for (const auto& [key, count] : counts) EXPECT_EQ(count, 1) << key;
  }

  std::string dir_;
};

int ran_count(const std::string& output) {
  std::smatch match;
  return std::regex_search(output, match, std::regex("(\\d+) ran")) ? std::stoi(match[1]) : -1;
}

int count_of(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(SweepEndToEnd, RunsEveryConfigurationOnceAndARerunSkipsThemAll) {
  const CommandResult first = sweep();
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(ran_count(first.output), static_cast<int>(kConfigurations)) << first.output;
  expect_each_configuration_once();
  EXPECT_EQ(count_of(first.output, "collected statistics of"), 2) << first.output;  // once per model
  EXPECT_TRUE(fs::exists(dir_ + "/statistics"));

  const CommandResult again = sweep();
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(ran_count(again.output), 0) << again.output;
  EXPECT_NE(again.output.find(std::to_string(kConfigurations) + " already done"), std::string::npos);
  EXPECT_EQ(read_results_file(results()).size(), kConfigurations);
}

TEST_F(SweepEndToEnd, ReportRowsAreTheMethodNames) {
  ASSERT_EQ(sweep().exit_code, 0);
  const CommandResult report = run_subcommand("report " + results() + " --format csv");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  for (const char* row : {"\nFP32,", "\nW8A4 rtn,", "\nW8A4 aciq,", "\nW4A4 rtn,", "\nW4A4 aciq,"}) {
    EXPECT_NE(report.output.find(row), std::string::npos) << row << " in\n" << report.output;
  }
  EXPECT_EQ(report.output.substr(0, report.output.find('\n')), "method,cnn (outputs),tiny (outputs)");
}

TEST_F(SweepEndToEnd, PreSeededResultsAreNotRunAgain) {
  const CommandResult list = sweep("--list");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(list.output, match, std::regex("pending +(cnn/W4A4/aciq/\\w+)"))) << list.output;
  const std::string seeded = match[1];
  append_line_locked(results(), nlohmann::json{{"model_name", "cnn"},
                                               {"precision", "W4A4"},
                                               {"top1", 1.0},
                                               {"config", {{"sweep_key", seeded}, {"label", "aciq"}}}}
                                    .dump());
  EXPECT_NE(sweep("--list").output.find("done     " + seeded), std::string::npos);

  const CommandResult resumed = sweep();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(ran_count(resumed.output), static_cast<int>(kConfigurations) - 1) << resumed.output;
  expect_each_configuration_once();
  EXPECT_EQ(read_results_file(results()).front().record["top1"], 1.0);  // the seeded line was kept as it was
}

TEST_F(SweepEndToEnd, ResumesAfterBeingKilled) {
  // Killed (SIGKILL, no clean-up) as soon as its first results line is written; the rerun does only the rest.
  const std::string command = std::string(QUANTSIM_BINARY_DIR) + "/quant-sim sweep " + sweep_file() + " > " + dir_ +
                              "/killed.log 2>&1 & pid=$!; for i in $(seq 3000); do [ -s " + results() +
                              " ] && break; sleep 0.01; done; kill -9 $pid; wait $pid";
  run_command("bash -c '" + command + "'");
  const size_t done_before = read_results_file(results()).size();
  ASSERT_GE(done_before, 1u) << read_file(dir_ + "/killed.log");

  const CommandResult resumed = sweep();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(ran_count(resumed.output), static_cast<int>(kConfigurations - done_before)) << resumed.output;
  expect_each_configuration_once();
}

TEST_F(SweepEndToEnd, TwoProcessesRunEachConfigurationExactlyOnce) {
  const std::string binary = std::string(QUANTSIM_BINARY_DIR) + "/quant-sim sweep " + sweep_file();
  const CommandResult both = run_command("bash -c '" + binary + " > " + dir_ + "/a.log 2>&1 & a=$!; " + binary + " > " +
                                         dir_ + "/b.log 2>&1 & b=$!; wait $a && wait $b'");
  const std::string logs = read_file(dir_ + "/a.log") + read_file(dir_ + "/b.log");
  ASSERT_EQ(both.exit_code, 0) << logs;
  expect_each_configuration_once();
  EXPECT_EQ(ran_count(read_file(dir_ + "/a.log")) + ran_count(read_file(dir_ + "/b.log")),
            static_cast<int>(kConfigurations))
      << logs;
  EXPECT_EQ(count_of(logs, "collected statistics of"), 2) << logs;  // the other process waited and reused them
}

TEST_F(SweepEndToEnd, AFailingConfigurationDoesNotStopTheOthers) {
  write_sweep("no-such-folder");
  const CommandResult r = sweep();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("quant-sim: error: sweep " + sweep_file() + ": 5 of 10 configurations failed (first: tiny/"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(key_counts().size(), kConfigurations / 2);  // every cnn configuration ran
}

TEST_F(SweepEndToEnd, BadSweepFileIsOneLineNamingIt) {
  std::ofstream(sweep_file()) << R"({"models": [], "methods": {}})";
  const CommandResult r = sweep();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "quant-sim: error: sweep " + sweep_file() +
                          ": models: must be a non-empty list of {\"name\", \"model\", \"data\"} objects\n");
}

}  // namespace
