// End to end: files that are not what they seem. A FIFO where a file is read (sidecar, model, statistics) fails at
// once with exit 2 instead of blocking, a FIFO image is a bad image; an output named through a symbolic link replaces
// the link's target and keeps the link; a FIFO or device is refused as a file that must be whole, and written in place
// as a report's --out.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "quantsim/core/atomic_file.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;

namespace {

// A command that blocks (a regression) ends with timeout's 124 instead of hanging the suite.
const std::string kDeadline = "timeout 120 ";

class SpecialFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = dir_ + "/tiny.pt";
    save_tiny_classifier(model_, 4);
    data_ = dir_ + "/data";
    make_image_folder(data_, {"a", "b", "c", "d"}, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult run(const std::string& extra) const {
    return run_command(kDeadline + QUANTSIM_BINARY_DIR + "/quant-sim --no-progress --model " + model_ + " --data " +
                       data_ + " --results " + dir_ + "/results.jsonl --stats-dir " + dir_ +
                       "/stats --resize 0 --crop 0 -b 4 " + extra);
  }

  // Exit code 2 and one "quant-sim: error:" line naming `path` and saying `what`.
  static void expect_error(const CommandResult& r, const std::string& path, const std::string& what) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    const size_t at = r.output.find("quant-sim: error: ");
    ASSERT_NE(at, std::string::npos) << r.output;
    const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    EXPECT_NE(line.find(path), std::string::npos) << line;
    EXPECT_NE(line.find(what), std::string::npos) << line;
  }

  bool has_temp_files() const {
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir_)) {
      if (entry.path().filename().string().find(".tmp.") != std::string::npos) return true;
    }
    return false;
  }

  std::string dir_, model_, data_;
};

TEST_F(SpecialFiles, AFifoSidecarFailsAtOnce) {
  ASSERT_EQ(::mkfifo((dir_ + "/tiny.json").c_str(), 0644), 0);
  expect_error(run(""), dir_ + "/tiny.json", "is a FIFO, not a regular file");
}

TEST_F(SpecialFiles, AFifoModelFailsAtOnce) {
  model_ = dir_ + "/fifo.pt";
  ASSERT_EQ(::mkfifo(model_.c_str(), 0644), 0);
  expect_error(run(""), model_, "is a FIFO, not a regular file");
}

TEST_F(SpecialFiles, AFifoStatisticsFileFailsAtOnce) {
  fs::create_directories(dir_ + "/stats/tiny");
  const std::string statistics = dir_ + "/stats/tiny/outputs.json";
  ASSERT_EQ(::mkfifo(statistics.c_str(), 0644), 0);
  expect_error(run("-sm use --qtype int8"), statistics, "not a regular file");
  expect_error(run("-sm collect"), statistics, "not a regular file");  // and is not replaced
  EXPECT_TRUE(fs::is_fifo(statistics));
}

TEST_F(SpecialFiles, AFifoImageIsABadImageNotABlock) {
  const std::string fifo = data_ + "/a/fifo.png";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  expect_error(run(""), fifo, "cannot read image (is a FIFO, not a regular file)");
  const CommandResult tolerated = run("--max-bad-images 0.5");
  EXPECT_EQ(tolerated.exit_code, 0) << tolerated.output;
  EXPECT_NE(tolerated.output.find("1 of 9 images could not be decoded (first: " + fifo), std::string::npos)
      << tolerated.output;
}

TEST_F(SpecialFiles, SaveLogitsThroughASymbolicLinkWritesItsTarget) {
  fs::create_directories(dir_ + "/kept");
  std::ofstream(dir_ + "/kept/logits.npy") << "old";
  fs::create_symlink("kept/logits.npy", dir_ + "/logits.npy");
  const CommandResult r = run("--save-logits " + dir_ + "/logits.npy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::is_symlink(dir_ + "/logits.npy"));
  EXPECT_EQ(quantsim::read_file(dir_ + "/kept/logits.npy").rfind("\x93NUMPY", 0), 0u);
  EXPECT_FALSE(has_temp_files());
}

TEST_F(SpecialFiles, SaveLogitsToAFifoOrADanglingLinkIsRefused) {
  ASSERT_EQ(::mkfifo((dir_ + "/fifo.npy").c_str(), 0644), 0);
  expect_error(run("--save-logits " + dir_ + "/fifo.npy"), dir_ + "/fifo.npy", "is a FIFO, not a regular file");
  EXPECT_TRUE(fs::is_fifo(dir_ + "/fifo.npy"));
  fs::create_symlink("missing/logits.npy", dir_ + "/dangling.npy");
  expect_error(run("--save-logits " + dir_ + "/dangling.npy"), dir_ + "/dangling.npy", "dangling symbolic link");
}

// Outputs are checked before the run evaluates anything: no accuracy line, no results line, for each output flag.
TEST_F(SpecialFiles, BadOutputsAreRefusedBeforeTheRun) {
  const std::vector<std::pair<std::string, std::string>> outputs = {
      {"--save-logits", "fifo.npy"}, {"--layer-report", "fifo.csv"}, {"--results", "fifo.jsonl"}};
  for (const auto& [flag, name] : outputs) {
    const std::string path = dir_ + "/" + name;
    ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0);
    const CommandResult r = run(flag + " " + path + (flag == "--layer-report" ? " --qtype int8 -sm no" : ""));
    expect_error(r, "flag " + flag + ": " + path, "is a FIFO");
    EXPECT_EQ(r.output.find("top-1"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/results.jsonl"));
  fs::create_directory(dir_ + "/folder.pt");
  expect_error(run("-qw int8 -sm no --export " + dir_ + "/folder.pt"), "flag --export: " + dir_ + "/folder.pt",
               "is a directory");
}

TEST_F(SpecialFiles, ReportOutWritesStandardOutputInPlace) {
  ASSERT_EQ(run("").exit_code, 0);
  const CommandResult table = run_subcommand("report " + dir_ + "/results.jsonl");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  for (const std::string out : {"-", "/dev/stdout"}) {
    const CommandResult r = run_subcommand("report " + dir_ + "/results.jsonl --out " + out);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, table.output) << out;
  }
  EXPECT_EQ(run_subcommand("report " + dir_ + "/results.jsonl --out /dev/null").exit_code, 0);
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
}

}  // namespace
