#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>
#include <vector>

#include "quantsim/app/cli.h"
#include "quantsim/app/config_json.h"
#include "quantsim/core/atomic_file.h"
#include "quantsim/results/results_log.h"

using namespace quantsim;

TEST(ResultsLog, ConfigHoldsEveryOption) {
  const Config c = parse_command_line({"-a", "r", "--qtype", "int4", "-pcq_a", "-c", "gaus"}).config;
  const nlohmann::json j = config_to_json(c);
  EXPECT_EQ(j["qtype"], "int4");
  EXPECT_EQ(j["pcq_a"], true);
  EXPECT_EQ(j["clipping"], "gaus");
  EXPECT_EQ(j["act_sites"], "outputs");
  EXPECT_TRUE(j.contains("seed"));
}

TEST(ResultsLog, ConcurrentAppendsNeverInterleave) {
  const auto path = std::filesystem::temp_directory_path() / "quantsim_test_results.jsonl";
  std::filesystem::remove(path);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        append_result(path.string(), {{"model_name", "w" + std::to_string(t)},
                                      {"top1", 0.0},
                                      {"config", {{"i", i}}},
                                      {"pad", std::string(500, 'x')}});
      }
    });
  }
  for (auto& w : writers) w.join();
  std::istringstream lines(read_file(path.string()));
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    EXPECT_NO_THROW(nlohmann::json::parse(line));
    ++count;
  }
  EXPECT_EQ(count, 200);
  std::filesystem::remove(path);
}

TEST(ResultsLog, TimestampIsIsoUtc) {
  const std::string ts = utc_timestamp();
  ASSERT_EQ(ts.size(), 20u);
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
}
