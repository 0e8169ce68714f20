// `quant-sim cache build` and `quant-sim --data CACHE` end to end: results from the cache equal those from the image
// files to the last logit (FP32, -sm collect + use), the Python tool builds the same pixels, and bad caches or runs
// that do not fit them are refused with one line.
#include <gtest/gtest.h>
#include <utime.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/fixtures.h"
#include "support/subcommand_runner.h"

namespace quantsim {
namespace {

namespace fs = std::filesystem;
using testing::run_quant_sim;
using testing::run_subcommand;

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The pixel section of a cache file (docs/CACHE.md: offsets at bytes 56 and 64).
std::string pixel_section(const std::string& path) {
  const std::string bytes = file_bytes(path);
  if (bytes.size() < 72) return "";
  uint64_t begin = 0;
  uint64_t end = 0;
  std::memcpy(&begin, bytes.data() + 56, 8);
  std::memcpy(&end, bytes.data() + 64, 8);
  return end <= bytes.size() && begin <= end ? bytes.substr(begin, end - begin) : "";
}

// "FP32: top-1 76.44%  top-5 98.38%" from a run's output (the accuracy line without its throughput).
std::string accuracy_line(const std::string& output) {
  const size_t at = output.find("top-1");
  if (at == std::string::npos) return "";
  const size_t begin = output.rfind('\n', at) == std::string::npos ? 0 : output.rfind('\n', at) + 1;
  return output.substr(begin, output.find("images", at) - begin);
}

bool has_torchvision() {
  return std::system("/usr/bin/python3 -c 'import torchvision, numpy, PIL' > /dev/null 2>&1") == 0;
}

class RealDataCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = testing::shared_data_dir();
    if (!fs::exists(data_ + "/models/resnet8_cifar10.pt") || !fs::exists(data_ + "/imagenet/val1300")) {
      GTEST_SKIP() << "no shared data at " << data_ << " (set QUANTSIM_DATA)";
    }
    dir_ = testing::fresh_temp_dir("cache_cli_real");
  }

  // Runs `flags` on the image folder and on `cache`; both must succeed with equal accuracy lines and logits.
  void expect_same_results(const std::string& folder, const std::string& cache, const std::string& flags,
                           const std::string& tag) {
    const auto a = run_quant_sim("--data " + folder + " " + flags + " --results " + dir_ + "/r.jsonl --save-logits " +
                                 dir_ + "/" + tag + "_files.npy");
    const auto b = run_quant_sim("--data " + cache + " " + flags + " --results " + dir_ + "/r.jsonl --save-logits " +
                                 dir_ + "/" + tag + "_cache.npy");
    ASSERT_EQ(a.exit_code, 0) << a.output;
    ASSERT_EQ(b.exit_code, 0) << b.output;
    EXPECT_FALSE(accuracy_line(a.output).empty()) << a.output;
    EXPECT_EQ(accuracy_line(a.output), accuracy_line(b.output)) << tag;
    const std::string logits = file_bytes(dir_ + "/" + tag + "_files.npy");
    EXPECT_GT(logits.size(), 128u);
    EXPECT_TRUE(logits == file_bytes(dir_ + "/" + tag + "_cache.npy")) << tag << ": logits differ";
  }

  std::string data_, dir_;
};

TEST_F(RealDataCacheTest, Resnet8OnCifar10GivesTheSameLogitsFromTheCacheFp32AndStaticW8A8) {
  const std::string model = "--model " + data_ + "/models/resnet8_cifar10.pt";
  const std::string folder = data_ + "/cifar10/test";
  const std::string cache = dir_ + "/cifar.qsc";
  const auto built =
      run_subcommand("cache build --no-progress --data " + folder + " " + model + " -ss 600 --out " + cache);
  ASSERT_EQ(built.exit_code, 0) << built.output;
  EXPECT_NE(built.output.find("cached 600 images of 32x32"), std::string::npos) << built.output;
  expect_same_results(folder, cache, model + " -ss 600", "fp32");
  expect_same_results(folder, cache, model + " -ss 257 --shard 2/3 -b 50", "shard");

  // Statistics collected on the cache, then used: the same ranges, so the same quantized logits.
  for (const std::string& source : {folder, cache}) {
    const std::string stats = dir_ + (source == cache ? "/stats_cache" : "/stats_files");
    const auto collected = run_quant_sim(model + " --data " + source + " -sm collect --cs 300 --stats-dir " + stats);
    ASSERT_EQ(collected.exit_code, 0) << collected.output;
  }
  const std::string w8a8 = " --qtype int8 -qw int8 -sm use -ss 600 --results " + dir_ + "/r.jsonl --save-logits ";
  const auto a = run_quant_sim(model + " --data " + folder + " --stats-dir " + dir_ + "/stats_files" + w8a8 + dir_ +
                               "/q_files.npy");
  const auto b = run_quant_sim(model + " --data " + cache + " --stats-dir " + dir_ + "/stats_cache" + w8a8 + dir_ +
                               "/q_cache.npy");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(accuracy_line(a.output), accuracy_line(b.output));
  EXPECT_TRUE(file_bytes(dir_ + "/q_files.npy") == file_bytes(dir_ + "/q_cache.npy"));

  // The results line names the source folder as "data", and the cache beside it.
  const std::string results = file_bytes(dir_ + "/r.jsonl");
  EXPECT_NE(results.find("\"data_cache\":{\"images\":600,\"path\":\"" + cache), std::string::npos);
}

TEST_F(RealDataCacheTest, TinyDarknetOnImagenetJpegsGivesTheSameLogitsFromTheCache) {
  const std::string model = "--model " + data_ + "/models/tiny_darknet.pt";
  const std::string folder = data_ + "/imagenet/val1300";
  const std::string cache = dir_ + "/val.qsc";
  const auto built = run_subcommand("cache build --no-progress --data " + folder + " " + model +
                                    " -ss 24 -sh --seed 9"
                                    " --out " +
                                    cache);
  ASSERT_EQ(built.exit_code, 0) << built.output;
  expect_same_results(folder, cache, model + " -ss 24 -sh --seed 9 -b 8", "darknet");
  // A run that needs images the partial cache does not hold is refused, saying how to rebuild.
  const auto more = run_quant_sim(model + " --data " + cache + " -ss 25 -sh --seed 9");
  EXPECT_EQ(more.exit_code, 2);
  EXPECT_NE(more.output.find("holds 24 of the 1300 images"), std::string::npos) << more.output;
}

TEST_F(RealDataCacheTest, ThePythonToolBuildsTheSamePixelsAndQuantSimReadsIt) {
  if (!has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 with torchvision not found";
  const std::string tool = std::string("/usr/bin/python3 ") + QUANTSIM_SOURCE_DIR + "/tools/build_cache.py";
  for (const auto& [folder, model] :
       {std::pair<std::string, std::string>{"imagenet/val1300", "tiny_darknet"}, {"cifar10/test", "resnet8_cifar10"}}) {
    const std::string flags = " --data " + data_ + "/" + folder + " --model " + data_ + "/models/" + model + ".pt";
    const std::string cpp = dir_ + "/" + model + "_cpp.qsc";
    const std::string py = dir_ + "/" + model + "_py.qsc";
    const auto a = run_subcommand("cache build --no-progress" + flags + " -ss 20 --out " + cpp);
    const auto b = testing::run_command(tool + flags + " --subset 20 --workers 2 --out " + py);
    ASSERT_EQ(a.exit_code, 0) << a.output;
    ASSERT_EQ(b.exit_code, 0) << b.output;
    const std::string pixels = pixel_section(cpp);
    EXPECT_GE(pixels.size(), 20u * 3 * 32 * 32);
    EXPECT_TRUE(pixels == pixel_section(py)) << model << ": the Python-built pixels differ";
    EXPECT_EQ(file_bytes(cpp).substr(0, 208),
              file_bytes(py).substr(0, 72) + file_bytes(cpp).substr(72, 8) + file_bytes(py).substr(80, 128))
        << "headers differ beyond the metadata length";
    expect_same_results(data_ + "/" + folder, py, " --model " + data_ + "/models/" + model + ".pt -ss 20", model);
  }
}

class CacheCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_temp_dir("cache_cli");
    testing::make_image_folder(dir_ + "/data", {"a", "b", "c"}, 4, 11);
    testing::save_tiny_classifier(dir_ + "/m.pt", 3);
    cache_ = dir_ + "/c.qsc";
    const auto built =
        run_subcommand("cache build --no-progress --data " + dir_ + "/data --resize 20 --crop 16 --out " + cache_);
    ASSERT_EQ(built.exit_code, 0) << built.output;
  }
  std::string run_flags() const {
    return "--model " + dir_ + "/m.pt --data " + cache_ + " --resize 20 --crop 16 --results " + dir_ + "/r.jsonl";
  }
  std::string dir_, cache_;
};

TEST_F(CacheCliTest, ARunWithOtherPreprocessingIsRefused) {
  ASSERT_EQ(run_quant_sim(run_flags()).exit_code, 0);
  const auto r = run_quant_sim(run_flags() + " --crop 12");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("quant-sim: error: " + cache_ +
                          ": the cache holds images preprocessed with resize 20 "
                          "bilinear, crop 16, but this run"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("crop 12"), std::string::npos);
}

TEST_F(CacheCliTest, AChangedSourceImageIsRefusedAndAMissingSourceFolderOnlyNoted) {
  struct utimbuf times {
    200000, 200000
  };
  ASSERT_EQ(::utime((dir_ + "/data/b/2.png").c_str(), &times), 0);
  const auto stale = run_quant_sim(run_flags());
  EXPECT_EQ(stale.exit_code, 2);
  EXPECT_NE(stale.output.find("stale: b/2.png changed"), std::string::npos) << stale.output;
  fs::rename(dir_ + "/data", dir_ + "/moved");
  const auto carried = run_quant_sim(run_flags());
  EXPECT_EQ(carried.exit_code, 0) << carried.output;
  EXPECT_NE(carried.output.find("is not here; the cache was not checked"), std::string::npos) << carried.output;
}

TEST_F(CacheCliTest, ACorruptCacheIsOneLineNamingTheFile) {
  std::string bytes = file_bytes(cache_);
  std::ofstream(dir_ + "/cut.qsc", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const auto r = run_quant_sim("--model " + dir_ + "/m.pt --data " + dir_ + "/cut.qsc");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "quant-sim: error: " + dir_ + "/cut.qsc: not a valid image cache (truncated: " +
                          std::to_string(bytes.size() / 2) + " bytes, the header says " + std::to_string(bytes.size()) +
                          "); rebuild it with quant-sim cache build\n");
}

TEST_F(CacheCliTest, CacheBuildRefusesFlagsThatDoNotApplyAndNeedsOut) {
  const auto qw = run_subcommand("cache build --data " + dir_ + "/data -qw int4 --out " + dir_ + "/x.qsc");
  EXPECT_EQ(qw.exit_code, 2);
  EXPECT_NE(qw.output.find("flag -qw does not apply"), std::string::npos) << qw.output;
  const auto no_out = run_subcommand("cache build --data " + dir_ + "/data");
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_NE(no_out.output.find("--out FILE is required"), std::string::npos) << no_out.output;
  EXPECT_FALSE(fs::exists(dir_ + "/x.qsc"));
  const auto action = run_subcommand("cache frobnicate");
  EXPECT_EQ(action.exit_code, 2);
}

// A sweep whose model entry names a cache: built once by the first step, read by every configuration, with the
// same top-1 (and the same sweep keys) as the sweep over the folder.
TEST(SweepCacheTest, ASweepBuildsItsCacheOnceAndEveryConfigurationReadsIt) {
  const std::string dir = testing::fresh_temp_dir("sweep_cache");
  testing::save_small_cnn(dir + "/cnn.pt", 3);
  testing::make_image_folder(dir + "/images", {"a", "b", "c"}, 5, 4);
  const auto write = [&](const std::string& name, const std::string& cache) {
    std::ofstream(dir + "/" + name) << R"({"models": [{"name": "cnn", "model": "cnn.pt", "data": "images")" << cache
                                    << R"(}], "weight_bits": [8, 4], "act_bits": [8], "methods": {"rtn": []},
      "common": ["--resize", "20", "--crop", "16", "-b", "4"], "results": ")"
                                    << name << R"(.jsonl", "stats_dir": ")" << name << R"(.stats"})";
  };
  write("folder.json", "");
  write("cached.json", R"(, "cache": "images.qsc")");
  const auto folder = run_subcommand("sweep " + dir + "/folder.json");
  ASSERT_EQ(folder.exit_code, 0) << folder.output;
  const auto cached = run_subcommand("sweep " + dir + "/cached.json");
  ASSERT_EQ(cached.exit_code, 0) << cached.output;
  EXPECT_NE(cached.output.find("sweep: building the image cache " + dir + "/images.qsc"), std::string::npos)
      << cached.output;
  ASSERT_TRUE(fs::exists(dir + "/images.qsc"));
  const auto lines = [&](const std::string& name) {
    std::map<std::string, std::pair<double, std::string>> by_key;  // sweep key -> (top-1, data)
    std::ifstream in(dir + "/" + name);
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json record = nlohmann::json::parse(line);
      by_key[record["config"]["sweep_key"]] = {record["top1"].get<double>(), record["config"]["data"]};
    }
    return by_key;
  };
  const auto a = lines("folder.json.jsonl");
  const auto b = lines("cached.json.jsonl");
  ASSERT_EQ(a.size(), 3u);  // FP32, W8A8, W4A8
  ASSERT_EQ(b.size(), 3u);
  for (const auto& [key, value] : a) {
    ASSERT_TRUE(b.count(key)) << key;
    EXPECT_EQ(value.first, b.at(key).first) << key;
    EXPECT_EQ(b.at(key).second, dir + "/images.qsc");
  }
  // A second sweep with the cache in place reads it without building.
  fs::remove(dir + "/cached.json.jsonl");
  const auto again = run_subcommand("sweep " + dir + "/cached.json");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("sweep: reading the images from the cache"), std::string::npos) << again.output;
}

}  // namespace
}  // namespace quantsim
