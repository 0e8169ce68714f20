// Model sidecar JSON: preprocessing, output description, class-order file lookup.
#include "quantsim/data/model_sidecar.h"

#include <gtest/gtest.h>

#include "data_test_util.h"
#include "quantsim/core/errors.h"

namespace quantsim {
namespace {
using testing::TempDir;

TEST(ModelSidecar, ReadsPreprocessAndOutput) {
  TempDir dir;
  testing::write_text(dir / "models/net.json", R"({"preprocess": {"resize_shorter_side": null, "center_crop": 32,
      "interpolation": "bilinear", "mean": [0, 0, 0], "std": [0.00392156862745098, 0.5, 1]},
      "output": {"num_classes": 10, "class_order_file": "cifar10/classes.txt"}})");
  const std::optional<ModelSidecar> sidecar = read_model_sidecar(dir / "models/net.pt");
  ASSERT_TRUE(sidecar);
  EXPECT_EQ(sidecar->path, dir / "models/net.json");
  EXPECT_EQ(sidecar->preprocess.resize_shorter_side, 0);  // null: no resize
  EXPECT_EQ(sidecar->preprocess.center_crop, 32);
  EXPECT_EQ(sidecar->preprocess.std[1], 0.5);
  EXPECT_EQ(sidecar->num_classes, 10);
  EXPECT_EQ(sidecar->class_order_file, "cifar10/classes.txt");

  PreprocessOverrides overrides;
  overrides.center_crop = 0;
  const PreprocessSpec spec = resolve_preprocess(sidecar, overrides);
  EXPECT_EQ(spec.center_crop, 0);
  EXPECT_EQ(spec.std[0], 0.00392156862745098);
}

TEST(ModelSidecar, AbsentSidecarGivesTorchvisionDefaults) {
  TempDir dir;
  EXPECT_FALSE(read_model_sidecar(dir / "net.pt"));
  const PreprocessSpec spec = resolve_preprocess(std::nullopt, {});
  EXPECT_EQ(spec.resize_shorter_side, 256);
  EXPECT_EQ(spec.center_crop, 224);
  EXPECT_EQ(spec.interpolation, Interpolation::kBilinear);
  EXPECT_EQ(spec.mean[0], 0.485);
  EXPECT_EQ(spec.std[2], 0.225);
}

TEST(ModelSidecar, MissingKeysKeepDefaults) {
  TempDir dir;
  testing::write_text(dir / "net.json", R"({"preprocess": {"center_crop": 200}})");
  const std::optional<ModelSidecar> sidecar = read_model_sidecar(dir / "net.pt");
  ASSERT_TRUE(sidecar);
  EXPECT_EQ(sidecar->preprocess.resize_shorter_side, 256);
  EXPECT_EQ(sidecar->preprocess.center_crop, 200);
  EXPECT_FALSE(sidecar->num_classes);
  EXPECT_TRUE(sidecar->class_order_file.empty());
}

TEST(ModelSidecar, MalformedJsonNamesTheFile) {
  TempDir dir;
  testing::write_text(dir / "net.json", "{not json");
  try {
    read_model_sidecar(dir / "net.pt");
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("net.json"), std::string::npos);
  }
  testing::write_text(dir / "net.json", R"({"preprocess": {"mean": [1, 2]}})");
  EXPECT_THROW(read_model_sidecar(dir / "net.pt"), UserError);
  testing::write_text(dir / "net.json", R"({"preprocess": {"center_crop": -3}})");
  EXPECT_THROW(read_model_sidecar(dir / "net.pt"), UserError);
}

TEST(ModelSidecar, ClassOrderFileIsFoundThroughParentFolders) {
  TempDir dir;
  testing::write_text(dir / "data/imagenet/synsets.txt", "n0\n");
  std::filesystem::create_directories(dir.path() / "data/imagenet/val1300/n0");
  std::filesystem::create_directories(dir.path() / "data/models");
  const std::string expected = dir / "data/imagenet/synsets.txt";
  // From the data root (walks up to data/) and from the sidecar's folder.
  EXPECT_EQ(resolve_class_order_file("imagenet/synsets.txt", {dir / "data/imagenet/val1300"}), expected);
  EXPECT_EQ(resolve_class_order_file("imagenet/synsets.txt", {"", dir / "data/models/"}), expected);
  EXPECT_EQ(resolve_class_order_file(expected, {}), expected);
  EXPECT_EQ(resolve_class_order_file("imagenet/other.txt", {dir / "data/models"}), "");
}

}  // namespace
}  // namespace quantsim
