// Results files are read through one checked reader (read_results_file, ResultRecord::from_json): an impossible line
// stops merge, report, gate and sweep with one line naming the file, the line and the field; a line torn by an
// interrupted write is skipped when it is the last one; appends are all-or-nothing. Also the gate's baseline checks.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "quantsim/app/commands/app.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "quantsim/results/accuracy_gate.h"
#include "quantsim/results/result_record.h"
#include "quantsim/results/results_file.h"
#include "quantsim/results/results_log.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;
using nlohmann::json;

namespace {

// A line as a quantized run writes it: 3 of 10 images right at top-1, 7 at top-5.
json good_line(const std::string& shard = "") {
  return {{"top1", 30.0},
          {"top5", 70.0},
          {"top1_correct", 3},
          {"top5_correct", 7},
          {"images", 10},
          {"bad_images", 0},
          {"images_per_second", 10.0},
          {"model", "/m/net.pt"},
          {"model_name", "net"},
          {"model_sha256", "abc"},
          {"data", "/d"},
          {"precision", "W4A4"},
          {"mode", "static"},
          {"times", {{"evaluate_s", 1.0}}},
          {"config",
           {{"qtype", "int4"},
            {"pcq_w", true},
            {"clipping", "no"},
            {"act_sites", "outputs"},
            {"label", "aciq"},
            {"shard", shard.empty() ? json(nullptr) : json(shard)},
            {"sweep_key", "net/W4A4/aciq/1"}}}};
}

json fp32_line() {
  json line = good_line();
  line["precision"] = "FP32";
  line["mode"] = "fp32";
  line["config"]["qtype"] = "f32";
  line["config"]["label"] = "fp32";
  line["config"]["sweep_key"] = "net/FP32/fp32/1";
  return line;
}

// The error line of a command, which must be its only output.
void expect_one_line_error(const CommandResult& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.exit_code, kExitUserError) << r.output;
  EXPECT_EQ(r.output.rfind("quant-sim: error: ", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  for (const auto& needle : needles) {
    EXPECT_NE(r.output.find(needle), std::string::npos) << needle << " in " << r.output;
  }
}

// One class of impossible line: how it is made from a good line (as text, for what JSON values cannot hold) and what
// its error must name.
struct ImpossibleLine {
  std::string name;
  std::function<std::string(json)> make;
  std::string field;  // text the error names, after "FILE:2: "
};

void PrintTo(const ImpossibleLine& line, std::ostream* out) { *out << line.name; }

std::string with(json line, const std::string& key, const json& value) {
  line[key] = value;
  return line.dump();
}

std::string with_config(json line, const std::string& key, const json& value) {
  line["config"][key] = value;
  return line.dump();
}

std::string with_top1_text(json line, const std::string& text) {
  line["top1"] = 12345.5;
  std::string dumped = line.dump();
  dumped.replace(dumped.find("12345.5"), 7, text);
  return dumped;
}

const std::vector<ImpossibleLine> kImpossibleLines = {
    {"Top1CorrectAboveImages", [](json l) { return with(l, "top1_correct", 11); }, "top1_correct: 11 is more than"},
    {"Top5CorrectAboveImages", [](json l) { return with(l, "top5_correct", 12); }, "top5_correct: 12 is more than"},
    {"NegativeCount", [](json l) { return with(l, "top1_correct", -1); }, "top1_correct: must be an integer"},
    {"ZeroImages",
     [](json l) {
       for (const char* key : {"top1", "top5", "top1_correct", "top5_correct", "images"}) l[key] = 0;
       return l.dump();
     },
     "images: must be an integer from 1"},
    {"PercentInconsistentWithCounts", [](json l) { return with(l, "top1", 50.0); }, "top1: 50 does not match"},
    {"PercentAbove100", [](json l) { return with(l, "top5", 170.0); }, "top5: 170.0 is not a percentage"},
    {"Top5CorrectBelowTop1Correct", [](json l) { return with(l, "top5_correct", 2); }, "top5_correct: 2 is less"},
    {"Top5PercentBelowTop1", [](json l) { return with(l, "top5", 20.0); }, "top5: 20 is less than top1"},
    {"CountOfWrongType", [](json l) { return with(l, "images", 10.5); }, "images: must be an integer"},
    {"PercentOfWrongType", [](json l) { return with(l, "top1", "30"); }, "top1: \"30\" is not a percentage"},
    {"ConfigFlagOfWrongType", [](json l) { return with_config(l, "pcq_w", "yes"); }, "config.pcq_w: must be true"},
    {"ConfigOfWrongType", [](json l) { return with(l, "config", "int4"); }, "config: must be an object"},
    {"MissingModelName",
     [](json l) {
       l.erase("model_name");
       return l.dump();
     },
     "no \"model_name\""},
    {"NumberOutOfRange", [](json l) { return with_top1_text(l, "1e400"); }, "1e400' (after the key \"top1\")"},
    {"IntegerOutOfRange", [](json l) { return with(l, "images", uint64_t{1} << 60); }, "images: must be an integer"},
    {"OverLongString", [](json l) { return with(l, "model_name", std::string(5000, 'x')); },
     "model_name: a string of 5000 bytes"},
    {"MalformedShard", [](json l) { return with_config(l, "shard", "3/2"); }, "config.shard: '3/2' is not K/N"},
    {"EmptyShard", [](json l) { return with_config(l, "shard", ""); }, "config.shard: '' is not K/N"},
};

// A folder with, for each reader, a file whose line 2 is the line under test: merge.jsonl (after the other shard of
// its run), plain.jsonl (after an FP32 line), a gate baseline and a sweep file whose results are plain.jsonl.
class ResultsValidation : public ::testing::TestWithParam<ImpossibleLine> {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("results_validation");
    std::ofstream(path("baseline.json")) << R"({"entries": [{"model": "net", "method": "FP32", "top1": 30,
                                                             "tolerance": 1, "images": 10}]})";
    std::ofstream(path("sweep.json")) << R"({"models": [{"name": "net", "model": "net.pt", "data": "val"}],
      "weight_bits": [4], "act_bits": [4], "methods": {"aciq": ["-pcq_w"]}})";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Line 2 of merge.jsonl is shard 2/2, of plain.jsonl an unsharded run; `make` turns the good line into the tested.
  void write_files(const std::function<std::string(json)>& make) const {
    std::ofstream(path("merge.jsonl")) << good_line("1/2").dump() << "\n" << make(good_line("2/2")) << "\n";
    std::ofstream(path("plain.jsonl")) << fp32_line().dump() << "\n" << make(good_line()) << "\n";
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // Each reader as `quant-sim` runs it: merge, report, gate and the sweep's --list.
  std::vector<std::string> merge_args() const { return {"merge", path("merge.jsonl")}; }
  std::vector<std::string> report_args() const { return {"report", path("plain.jsonl")}; }
  std::vector<std::string> gate_args() const {
    return {"gate", path("plain.jsonl"), "--baseline", path("baseline.json")};
  }
  std::vector<std::string> sweep_args() const {
    return {"sweep", path("sweep.json"), "--results", path("plain.jsonl"), "--list"};
  }
  std::vector<std::vector<std::string>> readers() const {
    return {merge_args(), report_args(), gate_args(), sweep_args()};
  }

  static CommandResult run(const std::vector<std::string>& args) {
    std::string line;
    for (const std::string& arg : args) line += arg + " ";
    return run_subcommand(line);
  }
  // The reader run in this process (fast enough for every class of line): its UserError, or "no error".
  static std::string error_in_process(const std::vector<std::string>& args) {
    std::vector<char*> argv{const_cast<char*>("quant-sim")};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    try {
      run_app(static_cast<int>(argv.size()), argv.data());
    } catch (const UserError& e) {
      return e.what();
    }
    return "no error";
  }

  std::string dir_;
};

TEST_F(ResultsValidation, GoodLinesAreReadByEveryReader) {
  write_files([](const json& line) { return line.dump(); });
  const CommandResult merged = run(merge_args());
  EXPECT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_EQ(read_results_file(path("merge.jsonl")).back().record["top1_correct"], 6);
  const CommandResult table = run(report_args());
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("W4A4 aciq"), std::string::npos) << table.output;
  const CommandResult gated = run(gate_args());
  EXPECT_EQ(gated.exit_code, 0) << gated.output;
  const CommandResult list = run(sweep_args());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("of 2 configurations done"), std::string::npos) << list.output;
}

TEST_F(ResultsValidation, ImpossibleLineIsOneLineOnStderrAndExitTwo) {
  write_files([](json line) { return with(line, "top1_correct", 11); });
  const std::string merge_file = read_file(path("merge.jsonl"));
  for (const std::vector<std::string>& reader : readers()) {
    const std::string file = reader == merge_args() ? "merge.jsonl" : "plain.jsonl";
    expect_one_line_error(run(reader), {path(file) + ":2: top1_correct: 11 is more than images (10)"});
  }
  EXPECT_EQ(read_file(path("merge.jsonl")), merge_file) << "merge appended from an impossible line";
}

TEST_P(ResultsValidation, ImpossibleLineIsRefusedByEveryReader) {
  write_files(GetParam().make);
  const std::string merge_file = read_file(path("merge.jsonl"));
  for (const std::vector<std::string>& reader : readers()) {
    const std::string error = error_in_process(reader);
    const std::string file = reader == merge_args() ? "merge.jsonl" : "plain.jsonl";
    EXPECT_EQ(error.rfind(path(file) + ":2: ", 0), 0u) << reader[0] << ": " << error;
    EXPECT_NE(error.find(GetParam().field), std::string::npos) << reader[0] << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << reader[0] << ": " << error;
  }
  EXPECT_EQ(read_file(path("merge.jsonl")), merge_file) << "merge appended from an impossible line";
}

INSTANTIATE_TEST_SUITE_P(Class, ResultsValidation, ::testing::ValuesIn(kImpossibleLines),
                         [](const ::testing::TestParamInfo<ImpossibleLine>& info) { return info.param.name; });

TEST(ResultRecord, ReadsTheFieldsOfAGoodLine) {
  const ResultRecord r = ResultRecord::from_json(good_line("1/2"), "f:1");
  EXPECT_EQ(r.model_name, "net");
  EXPECT_EQ(r.precision, "W4A4");
  EXPECT_EQ(r.top1, 30.0);
  EXPECT_EQ(r.top5, 70.0);
  EXPECT_EQ(r.images, 10);
  EXPECT_EQ(r.top1_correct, 3);
  EXPECT_EQ(r.top5_correct, 7);
  EXPECT_EQ(r.shard, "1/2");
  EXPECT_EQ(r.sweep_key, "net/W4A4/aciq/1");
  // The shortest line quant-sim's readers accept: what a user may write by hand for a table.
  const ResultRecord minimal = ResultRecord::from_json({{"model_name", "m"}, {"top1", 1}, {"config", json::object()}},
                                                       "f:2");
  EXPECT_EQ(minimal.precision, "FP32");
  EXPECT_FALSE(minimal.images.has_value());
}

TEST(ResultRecord, NonFiniteNumberInMemoryIsNamed) {
  json line = good_line();
  line["times"]["evaluate_s"] = std::numeric_limits<double>::quiet_NaN();
  try {
    ResultRecord::from_json(line, "f:7");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "f:7: times.evaluate_s: not a finite number");
  }
}

TEST(ResultRecord, AnImpossibleRecordIsNeverAppended) {
  const std::string dir = fresh_temp_dir("append_impossible");
  json line = good_line();
  line["top1_correct"] = 11;
  try {
    append_result(dir + "/r.jsonl", line);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), (dir + "/r.jsonl: the line to append: top1_correct: 11 is more than images (10)").c_str());
  }
  EXPECT_FALSE(fs::exists(dir + "/r.jsonl"));
  fs::remove_all(dir);
}

// A shard count no run could have (10^9 shards) is a missing shard, found without walking 1..N.
TEST(ResultsValidationMerge, AHugeShardCountIsAMissingShardNotAnAllocation) {
  const std::string dir = fresh_temp_dir("huge_shard_count");
  std::ofstream(dir + "/r.jsonl") << good_line("1/999999999").dump() << "\n";
  expect_one_line_error(run_subcommand("merge " + dir + "/r.jsonl"), {"is missing shard 2/999999999"});
  fs::remove_all(dir);
}

// Torn lines: what a crash or a full disk left behind before appends were all-or-nothing.

class TornLines : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_temp_dir("torn_lines"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path() const { return dir_ + "/r.jsonl"; }
  std::string torn() const { return good_line().dump().substr(0, 40); }
  std::string dir_;
};

TEST_F(TornLines, TornLastLineIsSkippedWithAWarning) {
  std::ofstream(path()) << fp32_line().dump() << "\n" << good_line().dump() << "\n" << torn();
  EXPECT_EQ(read_results_file(path()).size(), 2u);
  const CommandResult r = run_command("{ " + std::string(QUANTSIM_BINARY_DIR) + "/quant-sim report " + path() + " > " +
                                      dir_ + "/table.txt; }");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "quant-sim: warning: " + path() +
                          ":3: skipping a torn last line (not valid JSON and no newline at its end: a write was "
                          "interrupted)\n");
  EXPECT_NE(read_file(dir_ + "/table.txt").find("W4A4 aciq"), std::string::npos);
}

TEST_F(TornLines, LastLineWithoutNewlineButWholeIsRead) {
  std::ofstream(path()) << fp32_line().dump() << "\n" << good_line().dump();
  EXPECT_EQ(read_results_file(path()).size(), 2u);
}

TEST_F(TornLines, LastLineWithANumberOutOfRangeIsRefusedNotSkipped) {
  std::string line = good_line().dump();
  line.replace(line.find("\"top1\":30.0"), 11, "\"top1\":1e400");
  std::ofstream(path()) << fp32_line().dump() << "\n" << line;  // no '\n': but a whole line, not a torn one
  EXPECT_THROW(read_results_file(path()), UserError);
}

TEST_F(TornLines, TornMiddleLineIsRefused) {
  std::ofstream(path()) << fp32_line().dump() << "\n" << torn() << "\n" << good_line().dump() << "\n";
  expect_one_line_error(run_subcommand("report " + path()), {path() + ":2: not valid JSON"});
}

TEST_F(TornLines, AppendAfterATornLineStartsANewLine) {
  std::ofstream(path()) << fp32_line().dump() << "\n" << torn();
  append_line_locked(path(), good_line().dump());
  EXPECT_EQ(read_file(path()), fp32_line().dump() + "\n" + torn() + "\n" + good_line().dump() + "\n");
}

TEST_F(TornLines, AResultAppendedAfterATornLineSetsItAsideAndKeepsTheFileReadable) {
  std::ofstream(path()) << fp32_line().dump() << "\n" << torn();
  append_result(path(), good_line());
  EXPECT_EQ(read_file(path()), fp32_line().dump() + "\n" + good_line().dump() + "\n");
  EXPECT_EQ(read_file(path() + ".torn"), torn() + "\n");  // nothing is lost
  EXPECT_EQ(read_results_file(path()).size(), 2u);
}

TEST_F(TornLines, AResultAppendedAfterAWholeLineWithoutNewlineKeepsThatLine) {
  std::ofstream(path()) << fp32_line().dump();
  append_result(path(), good_line());
  EXPECT_EQ(read_file(path()), fp32_line().dump() + "\n" + good_line().dump() + "\n");
  EXPECT_FALSE(fs::exists(path() + ".torn"));
}

// Appends `line` to `path` in a child process whose file size limit is `limit` bytes (RLIMIT_FSIZE, SIGXFSZ ignored),
// so that write() fails with EFBIG part-way, as on a full disk. Returns the child's exit code: 0 when the append threw
// a UserError naming the file, 1 when it threw another message, 2 when it did not throw.
int append_with_file_size_limit(const std::string& path, const std::string& line, rlim_t limit) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit fsize{limit, limit};
    ::setrlimit(RLIMIT_FSIZE, &fsize);
    try {
      append_line_locked(path, line);
    } catch (const UserError& e) {
      const std::string message = e.what();
      ::_exit(message.find(path) == 0 && message.find("not appended") != std::string::npos ? 0 : 1);
    }
    ::_exit(2);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(TornLines, FailedAppendLeavesTheFileByteIdentical) {
  for (const std::string& before : {fp32_line().dump() + "\n", fp32_line().dump() + "\n" + torn()}) {
    std::ofstream(path(), std::ios::trunc) << before;
    // Room for a few bytes more than the file holds: the line is written in part before write() fails.
    EXPECT_EQ(append_with_file_size_limit(path(), good_line().dump(), before.size() + 16), 0);
    EXPECT_EQ(read_file(path()), before);
  }
}

// The gate's baseline file.

std::string baseline_error(const json& entry) {
  try {
    parse_gate_baseline({{"entries", {entry}}}, "b.json");
  } catch (const UserError& e) {
    return e.what();
  }
  return "no error";
}

TEST(GateBaselineValidation, ImpossibleEntriesAreNamed) {
  const json good = {{"model", "m"}, {"method", "FP32"}, {"top1", 70.0}, {"tolerance", 1.0}, {"images", 10}};
  EXPECT_EQ(baseline_error(good), "no error");
  const auto with_entry = [&](const std::string& key, const json& value) {
    json entry = good;
    entry[key] = value;
    return baseline_error(entry);
  };
  EXPECT_EQ(with_entry("tolerance", -0.5), "b.json: entries[0]: \"tolerance\" must be a finite number of points, not "
                                           "negative");
  EXPECT_EQ(with_entry("tolerance", std::numeric_limits<double>::infinity()),
            "b.json: entries[0]: \"tolerance\" must be a finite number of points, not negative");
  EXPECT_EQ(with_entry("top1", 120.0), "b.json: entries[0]: \"top1\" must be a percentage in [0, 100], not 120.0");
  EXPECT_EQ(with_entry("top1", -1), "b.json: entries[0]: \"top1\" must be a percentage in [0, 100], not -1");
  EXPECT_EQ(with_entry("images", 0), "b.json: entries[0]: \"images\" must be a positive integer, not 0");
  EXPECT_EQ(with_entry("images", -3), "b.json: entries[0]: \"images\" must be a positive integer, not -3");
  EXPECT_EQ(with_entry("images", 2.5), "b.json: entries[0]: \"images\" must be a positive integer, not 2.5");
}

TEST(GateBaselineValidation, TheSameCellTwiceIsRefused) {
  const json entry = {{"model", "net"}, {"method", "FP32"}, {"top1", 30}, {"tolerance", 1}, {"images", 10}};
  try {
    parse_gate_baseline({{"entries", {entry, entry}}}, "b.json");
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "b.json: entries[1]: net: FP32 is already entries[0]");
  }
}

TEST(GateBaselineValidation, BadBaselineFileIsOneLineNamingIt) {
  const std::string dir = fresh_temp_dir("gate_baseline_validation");
  std::ofstream(dir + "/r.jsonl") << fp32_line().dump() << "\n";
  std::ofstream(dir + "/huge.json") << R"({"entries": [{"model": "net", "method": "FP32", "top1": 30,
                                                        "tolerance": 1e400}]})";
  std::ofstream(dir + "/above.json") << R"({"entries": [{"model": "net", "method": "FP32", "top1": 130,
                                                         "tolerance": 1}]})";
  expect_one_line_error(run_subcommand("gate " + dir + "/r.jsonl --baseline " + dir + "/huge.json"),
                        {dir + "/huge.json: not valid JSON", "1e400"});
  expect_one_line_error(run_subcommand("gate " + dir + "/r.jsonl --baseline " + dir + "/above.json"),
                        {dir + "/above.json: entries[0]: \"top1\""});
  fs::remove_all(dir);
}

}  // namespace
