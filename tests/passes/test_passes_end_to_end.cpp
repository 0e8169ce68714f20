// Collect and use passes on the quant-sim binary: exact FP32 when nothing is quantized, static ranges from a
// statistics file, and the statistics faults of docs/QUANTIZATION.md, section 6.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "quantsim/core/atomic_file.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

extern char** environ;
namespace fs = std::filesystem;
using namespace quantsim::testing;

namespace {

// Starts quant-sim in its own process (no shell, so SIGINT is not ignored as it is for background shell jobs).
pid_t spawn_quant_sim(const std::string& arguments) {
  std::vector<std::string> words{std::string(QUANTSIM_BINARY_DIR) + "/quant-sim", "--no-progress"};
  std::istringstream in(arguments);
  for (std::string w; in >> w;) words.push_back(w);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

class Passes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = dir_ + "/cnn.pt";
    save_small_cnn(model_, 4);
    data_ = dir_ + "/data";
    make_image_folder(data_, {"a", "b", "c", "d"}, 6);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string args(const std::string& extra) const {
    return "--model " + model_ + " --data " + data_ + " --stats-dir " + dir_ + "/stats --results " + dir_ +
           "/results.jsonl --resize 0 --crop 0 -b 5 " + extra;
  }
  std::string stats_file(const std::string& mode = "outputs") const { return dir_ + "/stats/cnn/" + mode + ".json"; }

  std::string dir_, model_, data_;
};

TEST_F(Passes, FloatQuantizationIsExactlyFp32) {
  ASSERT_EQ(run_quant_sim(args("--save-logits " + dir_ + "/fp32.npy")).exit_code, 0);
  ASSERT_EQ(run_quant_sim(args("-sm no --qtype f32 -qw f32 --save-logits " + dir_ + "/f32.npy")).exit_code, 0);
  EXPECT_EQ(quantsim::read_file(dir_ + "/fp32.npy"), quantsim::read_file(dir_ + "/f32.npy"));
}

TEST_F(Passes, CollectThenUseInBothSiteModes) {
  for (const std::string mode : {"outputs", "inputs"}) {
    const CommandResult collect = run_quant_sim(args("-sm collect --act-sites " + mode));
    ASSERT_EQ(collect.exit_code, 0) << collect.output;
    ASSERT_TRUE(fs::exists(stats_file(mode)));
    const CommandResult use = run_quant_sim(
        args("-sm use --act-sites " + mode + " --qtype int4 -qw int4 -pcq_w -pcq_a -c laplace -baa -baw -bcw"));
    ASSERT_EQ(use.exit_code, 0) << use.output;
    EXPECT_NE(use.output.find("W4A4 (static ranges, act-sites " + mode + ")"), std::string::npos) << use.output;
  }
  EXPECT_TRUE(fs::exists(stats_file("outputs")));  // collecting inputs did not overwrite outputs
}

TEST_F(Passes, QuantizationChangesTheLogits) {
  ASSERT_EQ(run_quant_sim(args("--save-logits " + dir_ + "/fp32.npy")).exit_code, 0);
  ASSERT_EQ(run_quant_sim(args("-sm no --qtype int2 -qw int2 --save-logits " + dir_ + "/q.npy")).exit_code, 0);
  EXPECT_NE(quantsim::read_file(dir_ + "/fp32.npy"), quantsim::read_file(dir_ + "/q.npy"));
}

TEST_F(Passes, UseWithoutStatisticsSaysToCollectFirst) {
  const CommandResult r = run_quant_sim(args("-sm use --qtype int8"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("-sm collect"), std::string::npos) << r.output;
}

TEST_F(Passes, UseWithAnotherModelsStatisticsIsRefused) {
  ASSERT_EQ(run_quant_sim(args("-sm collect")).exit_code, 0);
  save_small_cnn(model_, 4, /*seed=*/9);  // same name and structure, other weights
  const CommandResult r = run_quant_sim(args("-sm use --qtype int8"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("SHA-256"), std::string::npos) << r.output;
}

TEST_F(Passes, UseWithCorruptStatisticsIsRefused) {
  ASSERT_EQ(run_quant_sim(args("-sm collect")).exit_code, 0);
  const std::string good = quantsim::read_file(stats_file());
  std::ofstream(stats_file(), std::ios::trunc) << good.substr(0, good.size() / 2);
  const CommandResult r = run_quant_sim(args("-sm use --qtype int8"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(stats_file()), std::string::npos) << r.output;
}

TEST_F(Passes, InterruptedCollectLeavesThePreviousStatisticsIntact) {
  ASSERT_EQ(run_quant_sim(args("-sm collect")).exit_code, 0);
  const std::string before = quantsim::read_file(stats_file());
  make_image_folder(data_, {"a", "b", "c", "d"}, 100, /*seed=*/5);  // with --resize 512: a long run to interrupt
  for (int signal : {SIGINT, SIGKILL}) {
    const pid_t pid = spawn_quant_sim(args("-sm collect --resize 512"));
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "collect finished before it could be interrupted";
    ::kill(pid, signal);
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status)) << "signal " << signal;
    EXPECT_EQ(quantsim::read_file(stats_file()), before) << "signal " << signal;
  }
}

}  // namespace
