// The "cle" field of a statistics file's metadata (docs/QUANTIZATION.md, section 14.1): written, read back, absent
// meaning false, and a value that is not true/false refused.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "quantsim/core/errors.h"
#include "quantsim/quant/statistics_store.h"

using namespace quantsim;

namespace {

Statistics tiny_statistics(bool cle) {
  Statistics statistics;
  statistics.metadata.model_sha256 = std::string(64, 'a');
  statistics.metadata.model_path = "/models/m.pt";
  statistics.metadata.arch = "m";
  statistics.metadata.act_sites = "inputs";
  statistics.metadata.calib_data = "/data/calib";
  statistics.metadata.calib_images = 4;
  statistics.metadata.batch_size = 2;
  statistics.metadata.cross_layer_equalization = cle;
  SiteStatistics site{"input", {3}, {}};
  site.stats.per_tensor.min = -1.0;
  site.stats.per_tensor.max = 1.0;
  for (int c = 0; c < 3; ++c) site.stats.per_channel.push_back(site.stats.per_tensor);
  statistics.sites.push_back(site);
  return statistics;
}

TEST(StatisticsCle, WrittenAndReadBack) {
  for (bool cle : {false, true}) {
    const std::string text = statistics_to_json(tiny_statistics(cle));
    EXPECT_EQ(nlohmann::json::parse(text)["metadata"]["cle"], cle);
    EXPECT_EQ(statistics_from_json(text, "memory").metadata.cross_layer_equalization, cle);
  }
}

TEST(StatisticsCle, AbsentMeansWithoutAndAWrongTypeIsRefused) {
  nlohmann::json document = nlohmann::json::parse(statistics_to_json(tiny_statistics(true)));
  document["metadata"].erase("cle");
  EXPECT_FALSE(statistics_from_json(document.dump(), "memory").metadata.cross_layer_equalization);
  document["metadata"]["cle"] = "yes";
  try {
    statistics_from_json(document.dump(), "memory");
    ADD_FAILURE() << "accepted cle = \"yes\"";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("metadata.cle"), std::string::npos) << e.what();
  }
}

}  // namespace
