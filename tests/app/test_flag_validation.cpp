// Flags that fail to parse, fall outside their range or make no sense together are refused with exit 2 and one line
// naming the flag, on the built binary; flags that are merely inert get one warning line; the documented
// combinations (README "Using it", docs/QUANTIZATION.md) still parse without a word.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "quantsim/app/cli.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim::testing;

namespace {

// Parsing stops before any file is read, so the model and data need not exist.
const std::string kInputs = " --model /nonexistent/m.pt --data /nonexistent/data ";

// quant-sim ARGS exits 2 with exactly one line, an error naming `flag`.
void expect_refused(const std::string& args, const std::string& flag) {
  SCOPED_TRACE(args);
  const CommandResult r = run_quant_sim(kInputs + args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output.rfind("quant-sim: error: ", 0), 0u) << r.output;
  EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "not one line:\n" << r.output;
  EXPECT_NE(r.output.find(flag), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
}

TEST(FlagValidation, SeedMinusOneNamesTheFlag) { expect_refused("--seed -1", "--seed"); }

TEST(FlagValidation, NumbersThatFailToParseNameTheFlagAndValue) {
  expect_refused("--seed 99999999999999999999999", "--seed");
  expect_refused("-b 1.5", "-b/--batch-size");
  expect_refused("-b many -b 4", "'many'");  // a repeated flag: every value is checked, the last one counts
  expect_refused("-j 0", "-j/--workers");
  expect_refused("-j 100000", "-j/--workers");
  expect_refused("--subset -3", "-ss/--subset");
  expect_refused("-cs 1e3", "-cs");
  expect_refused("--resize abc", "--resize");
  expect_refused("--gpfq-scale nan --weight-method gpfq -qw int4", "--gpfq-scale");
  expect_refused("--qtype int99999999999", "--qtype");
  expect_refused("-c 1e999std", "-c/--clipping");
}

TEST(FlagValidation, SubcommandNumbersThatFailToParseNameTheFlag) {
  const std::string bin = std::string(QUANTSIM_BINARY_DIR) + "/quant-sim";
  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"gate r.jsonl --baseline b.json --write-baseline --tolerance abc", "flag --tolerance: 'abc'"},
           {"gate r.jsonl --baseline b.json --write-baseline --tolerance -1", "flag --tolerance: '-1'"},
           {"sweep s.json -j abc", "flag --workers: 'abc'"},
           {"sweep s.json -j 0", "flag --workers: '0'"}}) {
    const CommandResult r = run_command(bin + " " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(flag), std::string::npos) << args << "\n" << r.output;
  }
}

TEST(FlagValidation, MaxBadImagesOutsideZeroToOne) {
  expect_refused("--max-bad-images 1.5", "--max-bad-images");
  expect_refused("--max-bad-images -0.1", "--max-bad-images");
  expect_refused("--max-bad-images inf", "--max-bad-images");
}

TEST(FlagValidation, StdNotPositiveOrMeanStdNotFinite) {
  expect_refused("--std 0,0.2,0.2", "--std");
  expect_refused("--std -0.2,0.2,0.2", "--std");
  expect_refused("--std inf,0.2,0.2", "--std");
  expect_refused("--std 1e-300,0.2,0.2", "--std");   // positive, but 0 in float32: the input would be infinite
  expect_refused("--mean 1e308,0.2,0.2", "--mean");  // finite, but not in float32
  expect_refused("--mean nan,0.5,0.5", "--mean");
  expect_refused("--mean 1e400,0.5,0.5", "--mean");
}

TEST(FlagValidation, HugeCropOrResize) {
  expect_refused("--crop 100000", "--crop");
  expect_refused("--resize 2147483648", "--resize");
  expect_refused("--crop -1", "--crop");
}

TEST(FlagValidation, BitAllocationTargetsOutsideTheBitRange) {
  expect_refused("--qtype int4 -pcq_a -baa -bata 0", "-bata");
  expect_refused("--qtype int4 -pcq_a -baa -bata 8.5", "-bata");
  expect_refused("-qw int4 -pcq_w -baw -batw 9", "-batw");
  expect_refused("-qw int4 -pcq_w -baw -batw -1", "-batw");
}

TEST(FlagValidation, QuantizationFlagsOnTheFp32Baseline) {
  for (const std::string flag :
       {"-baa", "-baw", "-bcw", "-vcw", "-pcq_w", "-pcq_a", "--clip-weights", "--ba-any-bits"}) {
    expect_refused(flag, flag);
  }
  expect_refused("-bata 3", "-bata");
  expect_refused("-c laplace", "-c/--clipping laplace");
  expect_refused("-sm use", "-sm use");
}

TEST(FlagValidation, EvaluationOutputsWithCollect) {
  expect_refused("-sm collect --shard 1/2", "--shard");
  expect_refused("-sm collect --save-logits /tmp/l.npy", "--save-logits");
}

TEST(FlagValidation, EmptyValues) {
  for (const std::string flag : {"--data", "--model", "--results", "--synsets", "--stats-dir", "--calib-data",
                                 "--models-dir", "--save-logits", "--label", "-a"}) {
    expect_refused(flag + " ''", flag);
  }
}

TEST(FlagValidation, OverlongArgumentsAndPaths) {
  expect_refused("--data /" + std::string(300, 'a'), "--data");  // one name beyond NAME_MAX
  std::string deep;
  for (int i = 0; i < 2060; ++i) deep += "/d";  // every name short, the whole beyond PATH_MAX
  expect_refused("--results " + deep, "--results");
  expect_refused("--" + std::string(5000, 'x'), "characters long");
  expect_refused("-a " + std::string(300, 'm'), "-a/--arch");
}

// Inert flags in a sound run: one warning line each, and the run goes on.
TEST(FlagValidation, InertFlagsAreWarnedAboutOnceAndTheRunProceeds) {
  const std::string dir = fresh_temp_dir("FlagValidationWarnings");
  save_tiny_classifier(dir + "/tiny.pt", 4);
  make_image_folder(dir + "/data", {"a", "b", "c", "d"}, 1);
  const CommandResult r = run_quant_sim("--model " + dir + "/tiny.pt --data " + dir + "/data --results " + dir +
                                        "/r.jsonl --resize 0 --crop 0 -b 4 -j 1 --device cpu --qtype int4 -baa");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::string warning = "quant-sim: warning: flag -baa has no effect: bit allocation applies to per-channel";
  const size_t at = r.output.find(warning);
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(warning, at + 1), std::string::npos) << r.output;
  fs::remove_all(dir);
}

// What README and docs/QUANTIZATION.md document still parses, and without warnings where every flag acts.
TEST(FlagValidation, DocumentedCombinationsAreAccepted) {
  const std::vector<std::vector<std::string>> silent = {
      {"-sm", "use", "--qtype", "int4", "-qw", "int4", "-pcq_w", "-pcq_a", "-c", "laplace", "-baa", "-baw", "-bcw"},
      {"-sm", "no", "--qtype", "int8", "-qw", "int8"},
      {"-qw", "int4"},  // weights only
      {"--qtype", "f32", "-qw", "int4", "-sm", "use", "-pcq_w", "-bcw"},
      {"-sm", "collect", "--act-sites", "inputs", "-cs", "100", "-sh"},
      {"-qw", "int4", "--weight-method", "gpfq", "-sm", "use", "--qtype", "int8", "-sh"},
      {"-b", "128", "-b", "32"},  // a sweep's model arguments override its common ones
  };
  for (const auto& args : silent) {
    const quantsim::ParsedCommandLine parsed = quantsim::parse_command_line(args);
    EXPECT_TRUE(parsed.warnings.empty()) << args.front() << ": " << parsed.warnings.front();
  }
  // The paper's first command line: no -pcq_*, so its bit allocation is inert. Accepted, with a warning each.
  const auto paper = quantsim::parse_command_line({"--qtype", "int4", "-c", "laplace", "-baa", "-baw", "-bcw"});
  EXPECT_EQ(paper.warnings.size(), 2u);
}

}  // namespace
