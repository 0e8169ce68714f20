#include <gtest/gtest.h>

#include "quantsim/app/cli.h"
#include "quantsim/core/errors.h"

using namespace quantsim;

namespace {
Config parse(std::vector<std::string> args) { return parse_command_line(args).config; }
}  // namespace

TEST(Cli, PaperCommandLineParsesAsWritten) {
  const Config c = parse({"-a", "resnet50", "-b", "512", "-pcq_w", "-pcq_a", "-sh", "--qtype", "int4", "-qw", "int4",
                          "-c", "laplace", "-baa", "-baw", "-bcw"});
  EXPECT_EQ(c.arch, "resnet50");
  EXPECT_EQ(c.batch_size, 512);
  EXPECT_TRUE(c.per_channel_weights);
  EXPECT_TRUE(c.per_channel_activations);
  EXPECT_TRUE(c.shuffle);
  EXPECT_EQ(c.act_bits, 4);
  EXPECT_EQ(c.weight_bits, 4);
  EXPECT_EQ(c.clipping.kind, Clipping::Kind::kLaplace);
  EXPECT_TRUE(c.bit_alloc_activations);
  EXPECT_TRUE(c.bit_alloc_weights);
  EXPECT_TRUE(c.bias_correct_weights);
  EXPECT_FALSE(c.variance_correct_weights);
}

TEST(Cli, DefaultsFollowTheSpec) {
  const Config c = parse({"-a", "resnet18"});
  EXPECT_EQ(c.act_bits, 0);
  EXPECT_EQ(c.weight_bits, 0);                           // no --qtype, no -qw: the FP32 baseline
  EXPECT_EQ(parse({"--qtype", "int4"}).weight_bits, 8);  // -qw defaults to int8 once quantizing
  EXPECT_EQ(parse({"-qw", "int4"}).act_bits, 0);         // weights only
  EXPECT_EQ(c.first_last_bits, 8);
  EXPECT_EQ(c.stats_mode, StatsMode::kNo);
  EXPECT_EQ(c.stats_kind, StatsKind::kMean);
  EXPECT_EQ(c.act_sites, ActSites::kOutputs);
  EXPECT_EQ(c.bit_alloc_prior, Prior::kGauss);
  EXPECT_EQ(c.seed, 0u);
  EXPECT_FALSE(c.subset.has_value());
  EXPECT_EQ(c.results.substr(c.results.size() - 13), "results.jsonl");
}

TEST(Cli, LegacyFlagsWithValues) {
  const Config c = parse({"-sm",
                          "collect",
                          "-sk",
                          "max",
                          "-cs",
                          "100",
                          "-ss",
                          "50",
                          "-bam",
                          "ceil",
                          "-bap",
                          "laplace",
                          "-bata",
                          "3.5",
                          "-batw",
                          "2",
                          "--act-sites",
                          "inputs",
                          "--first-last-bits",
                          "f32",
                          "-c",
                          "2.5std",
                          "--seed",
                          "7",
                          "-vcw"});
  EXPECT_EQ(c.stats_mode, StatsMode::kCollect);
  EXPECT_EQ(c.stats_kind, StatsKind::kMax);
  EXPECT_EQ(*c.calib_size, 100);
  EXPECT_EQ(*c.subset, 50);
  EXPECT_EQ(c.bit_alloc_rounding, BitRounding::kCeil);
  EXPECT_EQ(c.bit_alloc_prior, Prior::kLaplace);
  EXPECT_DOUBLE_EQ(*c.bit_alloc_target_activations, 3.5);
  EXPECT_DOUBLE_EQ(*c.bit_alloc_target_weights, 2.0);
  EXPECT_EQ(c.act_sites, ActSites::kInputs);
  EXPECT_EQ(c.first_last_bits, 0);
  EXPECT_EQ(c.clipping.kind, Clipping::Kind::kNStd);
  EXPECT_DOUBLE_EQ(c.clipping.n_std, 2.5);
  EXPECT_EQ(c.seed, 7u);
  EXPECT_TRUE(c.variance_correct_weights);
}

TEST(Cli, DoubleDashSpellingsWorkToo) {
  const Config c = parse({"--pcq_w", "--subset", "10", "--qweight", "f32", "--first-last-bits", "6"});
  EXPECT_TRUE(c.per_channel_weights);
  EXPECT_EQ(*c.subset, 10);
  EXPECT_EQ(c.weight_bits, 0);
  EXPECT_EQ(c.first_last_bits, 6);
}

TEST(Cli, BadInputGetsOneLineErrorsNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--no-such-flag"}, "no-such-flag"},
      {{"--qtype", "int0"}, "--qtype"},
      {{"--qtype", "int17"}, "--qtype"},
      {{"--qtype", "float"}, "--qtype"},
      {{"-qw", "8"}, "-qw"},
      {{"-c", "cauchy"}, "-c/--clipping"},
      {{"-b", "abc"}, "abc"},
      {{"-b", "0"}, "-b/--batch-size"},
      {{"-sm", "maybe"}, "-sm"},
      {{"--act-sites", "middle"}, "--act-sites"},
      {{"--device", "tpu"}, "--device"},
      {{"--mean", "0.5,0.5"}, "--mean"},
      {{"-a"}, "missing an argument"},
      {{"stray"}, "stray"},
  };
  for (const auto& [args, needle] : cases) {
    try {
      parse(args);
      ADD_FAILURE() << "accepted: " << args.front();
    } catch (const UserError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(needle), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
}

TEST(Cli, BitWidths) {
  EXPECT_EQ(parse_bit_width("x", "int1"), 1);
  EXPECT_EQ(parse_bit_width("x", "int16"), 16);
  EXPECT_EQ(parse_bit_width("x", "f32"), 0);
  EXPECT_THROW(parse_bit_width("x", "int"), UserError);
}

TEST(Cli, StatsModeRoundTripsThroughItsNames) {
  for (const StatsMode mode : {StatsMode::kNo, StatsMode::kCollect, StatsMode::kUse}) {
    EXPECT_EQ(parse_choice<StatsMode>(to_string(mode)), mode);
    // -sm use and collect need a quantized run (an FP32 baseline refuses them).
    EXPECT_EQ(parse({"-sm", to_string(mode), "--qtype", "int8"}).stats_mode, mode);
  }
  EXPECT_EQ(accepted_names<StatsMode>(), "no, collect, use");
}

// The messages list the names of the choice's table (quant/choices.h), aliases included except for -c.
TEST(Cli, ChoiceErrorsListTheAcceptedNames) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-sm", "maybe"}, "flag -sm: 'maybe' is not one of no, collect, use"},
      {{"-sk", "min"}, "flag -sk: 'min' is not one of mean, max"},
      {{"-bam", "floor"}, "flag -bam: 'floor' is not one of round, ceil"},
      {{"-bap", "cauchy"}, "flag -bap: 'cauchy' is not one of gaus, gauss, laplace"},
      {{"--act-sites", "middle"}, "flag --act-sites: 'middle' is not one of outputs, inputs"},
      {{"--weight-method", "optimal"}, "flag --weight-method: 'optimal' is not one of rtn, gpfq, adaround"},
      {{"-c", "cauchy"},
       "flag -c/--clipping: 'cauchy' is not one of no, laplace, gaus, mse, entropy, Nstd, percentile:P"},
  };
  for (const auto& [args, message] : cases) {
    try {
      parse(args);
      ADD_FAILURE() << "accepted " << args.back();
    } catch (const UserError& e) {
      EXPECT_EQ(std::string(e.what()), message);
    }
  }
}
