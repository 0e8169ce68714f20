// Sweep files: the grid or list of configurations they describe, their keys, and the errors they get.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "quantsim/app/sweep/sweep_plan.h"
#include "quantsim/core/errors.h"
#include "quantsim/quant/statistics_store.h"

using namespace quantsim;
using Json = nlohmann::ordered_json;

namespace {

Json sweep_file(const std::string& extra = "") {
  return Json::parse(R"({
    "models": [{"name": "net", "model": "models/net.pt", "data": "val", "calib_data": "/abs/calib",
                "args": ["-cs", "64"]},
               {"name": "other", "model": "other.pt", "data": "val"}],
    "weight_bits": [8, 4], "act_bits": [8, 4],
    "methods": {"rtn": [], "aciq": ["-pcq_w", "-pcq_a", "-c", "laplace", "-baa", "-baw", "-bcw"],
                "dyn": ["-sm", "no"]},
    "common": ["--subset", 100])" +
                     extra + "}");
}

SweepPlan plan_of(const Json& file) { return sweep_plan_from_json(file, "/sweeps", "s.json"); }

std::string error_of(const Json& file) {
  try {
    plan_of(file);
  } catch (const UserError& e) {
    return e.what();
  }
  return "no error";
}

TEST(SweepPlan, GridIsModelsTimesBitsTimesMethodsPlusFp32) {
  const SweepPlan plan = plan_of(sweep_file());
  ASSERT_EQ(plan.runs.size(), 2u * (1 + 4 * 3));
  EXPECT_EQ(plan.runs[0].method, "fp32");
  EXPECT_EQ(plan.runs[0].evaluation.act_bits, 0);
  EXPECT_EQ(plan.runs[0].evaluation.weight_bits, 0);
  EXPECT_FALSE(plan.runs[0].collect);
  // The file's order: weight bits, then activation bits, then methods as written (not sorted).
  EXPECT_EQ(plan.runs[1].method, "rtn");
  EXPECT_EQ(plan.runs[2].method, "aciq");
  EXPECT_EQ(plan.runs[3].method, "dyn");
  EXPECT_EQ(plan.runs[4].evaluation.act_bits, 4);
  EXPECT_EQ(plan.runs[4].evaluation.weight_bits, 8);
  EXPECT_EQ(plan.runs[12].evaluation.weight_bits, 4);
  EXPECT_EQ(plan.runs[13].model, "other");
}

TEST(SweepPlan, RunsCarryTheirFlagsLabelAndKey) {
  const SweepPlan plan = plan_of(sweep_file());
  const SweepRun& aciq = plan.runs[2];
  EXPECT_EQ(aciq.evaluation.label, "aciq");
  EXPECT_EQ(aciq.evaluation.sweep_key, aciq.key);
  EXPECT_EQ(aciq.key.rfind("net/W8A8/aciq/", 0), 0u) << aciq.key;
  EXPECT_TRUE(aciq.evaluation.per_channel_weights);
  EXPECT_TRUE(aciq.evaluation.bias_correct_weights);
  EXPECT_EQ(aciq.evaluation.clipping.kind, Clipping::Kind::kLaplace);
  EXPECT_EQ(aciq.evaluation.stats_mode, StatsMode::kUse);
  EXPECT_EQ(aciq.evaluation.subset, 100);
  EXPECT_EQ(aciq.evaluation.calib_size, 64);
  EXPECT_EQ(aciq.evaluation.results, "/sweeps/results.jsonl");
}

// --output is a model's own flag (which element of its output is the logits): every run of that model, the statistics
// collection included, carries it, and the other model's runs do not.
TEST(SweepPlan, ModelArgsCarryTheOutputChoiceToEveryRunOfThatModel) {
  Json file = sweep_file();
  file["models"][0]["args"] = {"--output", "logits"};
  const SweepPlan plan = plan_of(file);
  for (const SweepRun& run : plan.runs) {
    SCOPED_TRACE(run.key);
    EXPECT_EQ(run.evaluation.output, run.model == "net" ? "logits" : "");
    if (run.collect) {
      EXPECT_EQ(run.collect->output, run.evaluation.output);
    }
  }
}

TEST(SweepPlan, PathsAreRelativeToTheSweepFile) {
  const SweepRun run = plan_of(sweep_file()).runs[1];
  EXPECT_EQ(run.evaluation.model_path, "/sweeps/models/net.pt");
  EXPECT_EQ(run.evaluation.data, "/sweeps/val");
  EXPECT_EQ(run.evaluation.calib_data, "/abs/calib");
  EXPECT_EQ(run.evaluation.stats_dir.rfind("/sweeps/statistics/net-", 0), 0u) << run.evaluation.stats_dir;
}

TEST(SweepPlan, EnvironmentVariablesInPaths) {
  ::setenv("QUANTSIM_SWEEP_TEST_ROOT", "/data/root", 1);
  Json file = sweep_file();
  file["models"][0]["data"] = "${QUANTSIM_SWEEP_TEST_ROOT}/val";
  EXPECT_EQ(plan_of(file).runs[0].evaluation.data, "/data/root/val");
  ::unsetenv("QUANTSIM_SWEEP_TEST_ROOT");
  EXPECT_NE(error_of(file).find("environment variable QUANTSIM_SWEEP_TEST_ROOT is not set"), std::string::npos);
}

TEST(SweepPlan, StaticRunsShareOneCollectionPerModelAndSiteMode) {
  const SweepPlan plan = plan_of(sweep_file());
  const SweepRun& rtn = plan.runs[1];
  const SweepRun& aciq = plan.runs[2];
  const SweepRun& dynamic = plan.runs[3];
  ASSERT_TRUE(rtn.collect && aciq.collect);
  EXPECT_FALSE(dynamic.collect);  // -sm no: ranges from each batch
  EXPECT_EQ(dynamic.evaluation.stats_mode, StatsMode::kNo);
  EXPECT_EQ(rtn.collect->stats_mode, StatsMode::kCollect);
  EXPECT_EQ(rtn.collect->stats_dir, aciq.collect->stats_dir);
  EXPECT_EQ(rtn.collect->stats_dir, rtn.evaluation.stats_dir);
  EXPECT_EQ(rtn.collect->calib_size, 64);
  EXPECT_NE(plan.runs[14].collect->stats_dir, rtn.collect->stats_dir);  // the other model's own folder

  Json inputs = sweep_file();
  inputs["methods"]["aciq"].push_back("--act-sites");
  inputs["methods"]["aciq"].push_back("inputs");
  const SweepRun deploy = plan_of(inputs).runs[2];
  ASSERT_TRUE(deploy.collect);
  EXPECT_EQ(deploy.collect->act_sites, ActSites::kInputs);  // its own statistics file (inputs.json)
}

TEST(SweepPlan, KeysAreDistinctAndStable) {
  const SweepPlan plan = plan_of(sweep_file());
  std::set<std::string> keys;
  for (const SweepRun& run : plan.runs) keys.insert(run.key);
  EXPECT_EQ(keys.size(), plan.runs.size());

  // The same configurations written with the model entry's keys in another order, and from another folder.
  Json reordered = sweep_file();
  reordered["models"][0] = Json::parse(
      R"({"args": ["-cs", "64"], "data": "val", "calib_data": "/abs/calib", "model": "models/net.pt", "name": "net"})");
  const SweepPlan moved = sweep_plan_from_json(reordered, "/elsewhere", "s.json");
  EXPECT_EQ(moved.runs[2].key, plan.runs[2].key);

  Json edited = sweep_file();
  edited["methods"]["aciq"].push_back("-vcw");
  const SweepPlan changed = plan_of(edited);
  EXPECT_NE(changed.runs[2].key, plan.runs[2].key);  // other flags: another configuration, run again
  EXPECT_EQ(changed.runs[1].key, plan.runs[1].key);  // the others are untouched
}

TEST(SweepPlan, ExplicitConfigurationsAndNoFp32) {
  const Json file = Json::parse(R"({
    "models": [{"name": "net", "model": "net.pt", "data": "val"}], "fp32": false,
    "methods": {"rtn": [], "aciq": ["-c", "laplace"]},
    "configurations": [{"method": "rtn", "weight_bits": 8, "act_bits": 8},
                       {"method": "aciq", "weight_bits": 4, "act_bits": 32}]})");
  const SweepPlan plan = plan_of(file);
  ASSERT_EQ(plan.runs.size(), 2u);
  EXPECT_EQ(plan.runs[1].key.rfind("net/W4A32/aciq/", 0), 0u) << plan.runs[1].key;
  EXPECT_EQ(plan.runs[1].evaluation.act_bits, 0);
  EXPECT_EQ(plan.runs[1].evaluation.weight_bits, 4);
}

TEST(SweepPlan, OutputsCanBeOverridden) {
  const SweepPlan plan = sweep_plan_from_json(sweep_file(), "/sweeps", "s.json", {"/tmp/r.jsonl", "/tmp/stats"});
  EXPECT_EQ(plan.results, "/tmp/r.jsonl");
  EXPECT_EQ(plan.runs[1].evaluation.results, "/tmp/r.jsonl");
  EXPECT_EQ(plan.runs[1].evaluation.stats_dir.rfind("/tmp/stats/net-", 0), 0u);
}

TEST(SweepPlan, MistakesAreNamed) {
  const auto expect_error = [](const Json& file, const std::string& expected) {
    const std::string error = error_of(file);
    EXPECT_NE(error.find("sweep s.json: "), std::string::npos) << error;
    EXPECT_NE(error.find(expected), std::string::npos) << error;
  };
  Json owned = sweep_file();
  owned["methods"]["aciq"].push_back("--qtype=int2");
  expect_error(owned, "methods.aciq: --qtype=int2 is set by the sweep itself");
  Json sm_common = sweep_file();
  sm_common["common"].push_back("-sm");
  expect_error(sm_common, "common: -sm is set by the sweep itself");
  expect_error(sweep_file(R"(, "result": "typo.jsonl")"), "top level: unknown key \"result\"");
  Json repeated = sweep_file();
  repeated["models"][1]["name"] = "net";
  expect_error(repeated, "models[1].name: 'net' is repeated");
  Json bad_flag = sweep_file();
  bad_flag["methods"]["rtn"].push_back("--no-such-flag");
  expect_error(bad_flag, "method rtn at W8A8 of model net");
  Json bits = sweep_file();
  bits["act_bits"][1] = 0;
  expect_error(bits, "act_bits[1]: 0 is not a bit width");
  expect_error(Json::parse(R"({"models": [{"name": "n", "model": "m.pt", "data": "d"}],
                               "methods": {"x": []}, "configurations": [{"method": "y", "weight_bits": 8,
                               "act_bits": 8}]})"),
               "configurations[0].method: no method \"y\"");
  Json collect = sweep_file();
  collect["methods"]["dyn"] = Json::parse(R"(["-sm", "collect"])");
  expect_error(collect, "-sm collect");
}

}  // namespace
