// --weight-method gpfq and its flags: parsing, defaults, one-line errors for bad values and combinations GPFQ does
// not define, and the method's place in results lines and report rows.
#include <gtest/gtest.h>

#include "quantsim/app/cli.h"
#include "quantsim/app/config_json.h"
#include "quantsim/core/errors.h"
#include "quantsim/results/results_log.h"
#include "quantsim/results/results_table.h"

using namespace quantsim;

namespace {

Config parse(std::vector<std::string> args) { return parse_command_line(args).config; }

TEST(GpfqCli, DefaultsAndValues) {
  const Config rtn = parse({"-qw", "int4"});
  EXPECT_EQ(rtn.weight_method, WeightMethod::kRtn);
  EXPECT_DOUBLE_EQ(rtn.gpfq_scale, 1.16);
  EXPECT_DOUBLE_EQ(rtn.gpfq_patch_prob, 0.25);
  EXPECT_EQ(rtn.gpfq_samples, 128);
  const Config gpfq = parse({"-qw", "int3", "--weight-method", "gpfq", "--gpfq-scale", "1.5", "--gpfq-patch-prob", "1",
                             "--gpfq-samples", "64", "-pcq_w", "-bcw", "--qtype", "int8"});
  EXPECT_EQ(gpfq.weight_method, WeightMethod::kGpfq);
  EXPECT_DOUBLE_EQ(gpfq.gpfq_scale, 1.5);
  EXPECT_DOUBLE_EQ(gpfq.gpfq_patch_prob, 1.0);
  EXPECT_EQ(gpfq.gpfq_samples, 64);
}

TEST(GpfqCli, BadValuesAndCombinationsGetOneLineErrorsNamingTheFlag) {
  const std::vector<std::string> gpfq = {"-qw", "int4", "--weight-method", "gpfq"};
  const auto with_gpfq = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), gpfq.begin(), gpfq.end());
    return extra;
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-qw", "int4", "--weight-method", "optimal"}, "--weight-method"},
      {with_gpfq({"--gpfq-scale", "0"}), "--gpfq-scale"},
      {with_gpfq({"--gpfq-scale", "-1"}), "--gpfq-scale"},
      {with_gpfq({"--gpfq-patch-prob", "0"}), "--gpfq-patch-prob"},
      {with_gpfq({"--gpfq-patch-prob", "1.5"}), "--gpfq-patch-prob"},
      {with_gpfq({"--gpfq-samples", "0"}), "--gpfq-samples"},
      {with_gpfq({"--gpfq-samples", "many"}), "many"},
      {{"-qw", "int4", "--gpfq-scale", "2"}, "--gpfq-scale"},  // without --weight-method gpfq
      {{"-qw", "int4", "--gpfq-samples", "16"}, "--gpfq-samples"},
      {{"--weight-method", "gpfq"}, "-qw intN"},  // nothing quantized
      {{"--qtype", "int4", "-qw", "f32", "--weight-method", "gpfq"}, "--weight-method gpfq"},
      {with_gpfq({"-pcq_w", "-baw"}), "-baw"},
      {with_gpfq({"--clip-weights", "-c", "laplace"}), "--clip-weights"},
  };
  for (const auto& [args, needle] : cases) {
    try {
      parse(args);
      ADD_FAILURE() << "accepted: " << ::testing::PrintToString(args);
    } catch (const UserError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(needle), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
}

TEST(GpfqCli, ResultsConfigAndReportRowNameTheMethod) {
  const Config gpfq = parse({"-qw", "int4", "--weight-method", "gpfq", "--gpfq-samples", "32"});
  const nlohmann::json config = config_to_json(gpfq);
  EXPECT_EQ(config.at("weight_method"), "gpfq");
  EXPECT_EQ(config.at("gpfq_samples"), 32);
  EXPECT_DOUBLE_EQ(config.at("gpfq_scale").get<double>(), 1.16);
  EXPECT_DOUBLE_EQ(config.at("gpfq_patch_prob").get<double>(), 0.25);
  EXPECT_EQ(config_to_json(parse({"-qw", "int4"})).at("weight_method"), "rtn");

  const nlohmann::json line = {{"precision", "W4A32"}, {"mode", "dynamic"}, {"config", config}};
  EXPECT_EQ(method_label(line), "W4A32 --weight-method gpfq");
  nlohmann::json rtn_line = line;
  rtn_line["config"] = config_to_json(parse({"-qw", "int4"}));
  EXPECT_EQ(method_label(rtn_line), "W4A32");  // distinct rows, so neither hides the other
}

}  // namespace
