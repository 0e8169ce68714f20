// Sidecar fields of the wrong type or out of range are one-line errors naming the sidecar and the field, and a
// class-order file the sidecar names must be found: falling back to sorted folder names gives wrong labels silently.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data_test_util.h"
#include "quantsim/app/run_inputs.h"
#include "quantsim/core/errors.h"
#include "quantsim/data/model_sidecar.h"

namespace quantsim {
namespace {
using testing::TempDir;
using testing::write_text;

// read_model_sidecar on `json` throws a one-line UserError naming net.json and every needle.
void expect_sidecar_error(const std::string& json, const std::vector<std::string>& needles) {
  TempDir dir;
  write_text(dir / "net.json", json);
  try {
    read_model_sidecar(dir / "net.pt");
    ADD_FAILURE() << "accepted: " << json;
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(dir / "net.json"), std::string::npos) << message;
    for (const std::string& needle : needles) EXPECT_NE(message.find(needle), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(SidecarValidation, OutputThatIsNotAnObjectIsRefused) {
  expect_sidecar_error(R"({"output": "classes.txt"})", {"output", "an object"});
  expect_sidecar_error(R"({"output": [10, "classes.txt"]})", {"output", "an object"});
  expect_sidecar_error(R"({"output": null})", {"output", "an object"});  // not read as "no output section"
  expect_sidecar_error(R"({"preprocess": null})", {"preprocess", "an object"});
}

TEST(SidecarValidation, ClassOrderFileThatIsNotAStringIsRefused) {
  expect_sidecar_error(R"({"output": {"class_order_file": 42}})", {"output.class_order_file"});
  expect_sidecar_error(R"({"output": {"class_order_file": ["classes.txt"]}})", {"output.class_order_file"});
  expect_sidecar_error(R"({"output": {"class_order_file": ""}})", {"output.class_order_file"});
}

TEST(SidecarValidation, FieldsOfTheWrongTypeAreRefusedNamingTheField) {
  expect_sidecar_error(R"({"preprocess": [224]})", {"preprocess", "an object"});
  expect_sidecar_error(R"({"preprocess": {"interpolation": 2}})", {"preprocess.interpolation"});
  expect_sidecar_error(R"({"preprocess": {"center_crop": "224"}})", {"preprocess.center_crop"});
  expect_sidecar_error(R"({"preprocess": {"resize_shorter_side": 256.5}})", {"preprocess.resize_shorter_side"});
  expect_sidecar_error(R"({"preprocess": {"mean": "0.5"}})", {"preprocess.mean"});
  expect_sidecar_error(R"({"output": {"num_classes": "10"}})", {"output.num_classes"});
}

TEST(SidecarValidation, SizesOf2To31AndBeyondAreRefusedNotWrappedAround) {
  for (const std::string size : {"2147483648", "4294967520", "18446744073709551615", "65537", "-1"}) {
    expect_sidecar_error(R"({"preprocess": {"center_crop": )" + size + "}}", {"preprocess.center_crop", size});
    expect_sidecar_error(R"({"preprocess": {"resize_shorter_side": )" + size + "}}",
                         {"preprocess.resize_shorter_side"});
  }
  expect_sidecar_error(R"({"output": {"num_classes": 18446744073709551615}})", {"output.num_classes"});
}

TEST(SidecarValidation, NonPositiveStdIsRefused) {
  expect_sidecar_error(R"({"preprocess": {"std": [0.2, 0, 0.2]}})", {"preprocess.std"});
  expect_sidecar_error(R"({"preprocess": {"std": -0.5}})", {"preprocess.std"});
}

TEST(SidecarValidation, NullMeansAbsentAndTheLargestSizeIsAccepted) {
  TempDir dir;
  write_text(dir / "net.json", R"({"preprocess": {"center_crop": 65536, "interpolation": null, "mean": null},
      "output": {"class_order_file": null, "num_classes": null}})");
  const std::optional<ModelSidecar> sidecar = read_model_sidecar(dir / "net.pt");
  ASSERT_TRUE(sidecar);
  EXPECT_EQ(sidecar->preprocess.center_crop, 65536);
  EXPECT_TRUE(sidecar->class_order_file.empty());
  EXPECT_FALSE(sidecar->num_classes);
}

// A folder dataset whose classes are listed out of alphabetical order, and a model whose sidecar names the list.
class SidecarClassOrder : public ::testing::Test {
 protected:
  void SetUp() override {
    write_text(dir / "data/order.txt", "zebra\napple\n");  // "apple" is class 1, not 0 as sorted folders would say
    write_text(dir / "data/apple/1.png", "not decoded here");
    write_text(dir / "data/zebra/1.png", "not decoded here");
    model.path = dir / "models/net.pt";
  }

  // The dataset as a run loads it, with the sidecar `json`.
  Dataset load_with_sidecar(const std::string& json) {
    write_text(dir / "models/net.json", json);
    model.sidecar = read_model_sidecar(model.path);
    return load_labelled_dataset(dir / "data", Config{}, model);
  }

  TempDir dir;
  ModelFile model;
};

TEST_F(SidecarClassOrder, NamedFileIsUsedForTheLabels) {
  const Dataset dataset = load_with_sidecar(R"({"output": {"class_order_file": "order.txt"}})");
  EXPECT_EQ(dataset.class_order_file, dir / "data/order.txt");
  ASSERT_EQ(dataset.images.size(), 2u);
  for (const LabeledImage& image : dataset.images) {
    const bool apple = image.path.find("apple") != std::string::npos;
    EXPECT_EQ(image.label, apple ? 1 : 0) << image.path;
  }
}

TEST_F(SidecarClassOrder, MissingNamedFileStopsTheRunNamingSidecarAndField) {
  try {
    load_with_sidecar(R"({"output": {"class_order_file": "imagenet/synsets.txt"}})");
    FAIL() << "fell back to sorted folders";
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(dir / "models/net.json"), std::string::npos) << message;
    EXPECT_NE(message.find("output.class_order_file"), std::string::npos) << message;
    EXPECT_NE(message.find("imagenet/synsets.txt"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST_F(SidecarClassOrder, SynsetsFlagOverridesTheSidecar) {
  write_text(dir / "flag_order.txt", "apple\nzebra\n");
  write_text(dir / "models/net.json", R"({"output": {"class_order_file": "missing.txt"}})");
  model.sidecar = read_model_sidecar(model.path);
  Config config;
  config.synsets = dir / "flag_order.txt";
  const Dataset dataset = load_labelled_dataset(dir / "data", config, model);
  EXPECT_EQ(dataset.class_order_file, dir / "flag_order.txt");
}

}  // namespace
}  // namespace quantsim
