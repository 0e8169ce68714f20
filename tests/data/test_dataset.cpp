// Dataset layouts, canonical order, labels, selections and their errors.
#include "quantsim/data/dataset.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "data_test_util.h"
#include "quantsim/core/errors.h"

#ifdef QUANTSIM_WITH_OPENCV  // these tests write images with OpenCV

namespace quantsim {
namespace {
using testing::TempDir;
using testing::write_image;
using testing::write_text;

std::vector<std::string> file_names(const std::vector<LabeledImage>& images) {
  std::vector<std::string> names;
  for (const LabeledImage& image : images) names.push_back(std::filesystem::path(image.path).filename().string());
  return names;
}

std::vector<int64_t> labels_of(const std::vector<LabeledImage>& images) {
  std::vector<int64_t> labels;
  for (const LabeledImage& image : images) labels.push_back(image.label);
  return labels;
}

// Five classes listed, three present, written out of synset order so that folder order != synset order would show.
class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_text(dir / "synsets.txt", "n04\nn01\nn03 some words\nn00\nn02\n");
    const cv::Mat image = testing::random_bgr(8, 6, 1);
    write_image(dir / "n00/b.jpg", image);
    write_image(dir / "n00/a.JPEG", image);
    write_image(dir / "n00/B.png", image);  // 'B' < 'a' bytewise
    write_image(dir / "n03/z.jpg", image);
    write_image(dir / "n04/c.jpg", image);
    write_text(dir / "n04/notes.txt", "not an image");
  }
  TempDir dir;
};

TEST_F(ImageFolderTest, LabelsAreLinesOfSynsetsAndOrderIsSynsetThenBytewiseName) {
  const Dataset dataset = load_dataset(dir.path().string());
  EXPECT_EQ(dataset.layout, "image-folder");
  EXPECT_EQ(dataset.class_order_file, dir / "synsets.txt");
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"n04", "n01", "n03", "n00", "n02"}));
  EXPECT_EQ(file_names(dataset.images), (std::vector<std::string>{"c.jpg", "z.jpg", "B.png", "a.JPEG", "b.jpg"}));
  EXPECT_EQ(labels_of(dataset.images), (std::vector<int64_t>{0, 2, 3, 3, 3}));
}

TEST_F(ImageFolderTest, ExplicitClassOrderFileWins) {
  write_text(dir / "other.txt", "n00\nn01\nn02\nn03\nn04\n");
  DatasetOptions options;
  options.class_order_file = dir / "other.txt";
  const Dataset dataset = load_dataset(dir.path().string(), options);
  EXPECT_EQ(labels_of(dataset.images), (std::vector<int64_t>{0, 0, 0, 3, 4}));
}

TEST_F(ImageFolderTest, SynsetsInParentFolderAreFound) {
  TempDir parent;
  write_text(parent / "synsets.txt", "x\nn03\n");
  write_image(parent / "val_subset/n03/q.jpg", testing::random_bgr(4, 4, 2));
  const Dataset dataset = load_dataset(parent / "val_subset");
  ASSERT_EQ(dataset.images.size(), 1u);
  EXPECT_EQ(dataset.images[0].label, 1);
}

TEST_F(ImageFolderTest, WithoutSynsetsFoldersAreEnumeratedSorted) {
  std::filesystem::remove(dir / "synsets.txt");
  const Dataset dataset = load_dataset(dir.path().string());
  EXPECT_TRUE(dataset.class_order_file.empty());
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"n00", "n03", "n04"}));
  EXPECT_EQ(labels_of(dataset.images), (std::vector<int64_t>{0, 0, 0, 1, 2}));
  // Three enumerated folders cannot be a 5-class model's labels.
  EXPECT_THROW(check_labels_fit(dataset, 5), UserError);
  EXPECT_NO_THROW(check_labels_fit(dataset, 3));
}

TEST_F(ImageFolderTest, FolderMissingFromSynsetsIsAnErrorNamingIt) {
  write_image(dir / "n99/x.jpg", testing::random_bgr(4, 4, 3));
  try {
    load_dataset(dir.path().string());
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'n99'"), std::string::npos) << e.what();
  }
}

TEST_F(ImageFolderTest, ValSubfolderIsUsedWhenPresent) {
  TempDir top;
  write_text(top / "synsets.txt", "n00\nn01\n");
  write_image(top / "val/n01/a.jpg", testing::random_bgr(4, 4, 4));
  write_image(top / "train/n00/a.jpg", testing::random_bgr(4, 4, 4));
  const Dataset dataset = load_dataset(top.path().string());
  EXPECT_EQ(dataset.root, top / "val");
  ASSERT_EQ(dataset.images.size(), 1u);
  EXPECT_EQ(dataset.images[0].label, 1);
}

TEST_F(ImageFolderTest, LabelsBeyondModelClassesNameTheClass) {
  EXPECT_NO_THROW(check_labels_fit(load_dataset(dir.path().string()), 5));
  write_text(dir / "synsets.txt", "n04\nn01\nn03\nn00\n");  // four lines: n00 has index 3
  const Dataset dataset = load_dataset(dir.path().string());
  try {
    check_labels_fit(dataset, 5);  // the file has 4 classes, the model 5
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("4 classes"), std::string::npos) << e.what();
  }
  Dataset no_file = dataset;
  no_file.class_order_file.clear();
  no_file.layout = "val.txt";
  try {
    check_labels_fit(no_file, 3);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'n00'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("index 3"), std::string::npos) << e.what();
  }
}

TEST(DatasetErrors, MissingRootNamesIt) {
  try {
    load_dataset("/nonexistent/quantsim/data");
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/quantsim/data"), std::string::npos);
  }
}

TEST(DatasetErrors, EmptyDatasetIsAnError) {
  TempDir dir;
  std::filesystem::create_directories(dir / "n00");
  write_text(dir / "n00/readme.txt", "no images here");
  try {
    load_dataset(dir.path().string());
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("no images"), std::string::npos) << e.what();
  }
}

TEST(DatasetErrors, FlatFolderWithoutGroundTruthIsAnError) {
  TempDir dir;
  write_image(dir / "a.jpg", testing::random_bgr(4, 4, 5));
  EXPECT_THROW(load_dataset(dir.path().string()), UserError);
}

TEST(DatasetErrors, BadClassOrderFiles) {
  TempDir dir;
  write_text(dir / "dup.txt", "a\nb\na\n");
  write_text(dir / "blank.txt", "a\n\nb\n");
  EXPECT_THROW(read_class_order(dir / "dup.txt"), UserError);
  EXPECT_THROW(read_class_order(dir / "blank.txt"), UserError);
  EXPECT_THROW(read_class_order(dir / "missing.txt"), UserError);
  write_text(dir / "ok.txt", "a\nb x y\r\n\n");
  EXPECT_EQ(read_class_order(dir / "ok.txt"), (std::vector<std::string>{"a", "b"}));
}

class FlatFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"img_3.JPEG", "img_1.JPEG", "img_2.JPEG"}) {
      write_image(dir / name, testing::random_bgr(5, 5, 6));
    }
    write_text(dir / "synsets.txt", "n00\nn01\nn02\n");
  }
  TempDir dir;
};

TEST_F(FlatFolderTest, ValTxtKeepsFileOrderAndSkipsAbsentFiles) {
  write_text(dir / "val.txt", "img_2.JPEG 1\nimg_9.JPEG 0\n\nimg_3.JPEG 2\r\nimg_1.JPEG 0\n");
  const Dataset dataset = load_dataset(dir.path().string());
  EXPECT_EQ(dataset.layout, "val.txt");
  EXPECT_EQ(file_names(dataset.images), (std::vector<std::string>{"img_2.JPEG", "img_3.JPEG", "img_1.JPEG"}));
  EXPECT_EQ(labels_of(dataset.images), (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(dataset.listed_but_missing, 1);
}

TEST_F(FlatFolderTest, BadValTxtLineNamesFileAndLine) {
  write_text(dir / "val.txt", "img_2.JPEG 1\nimg_3.JPEG two\n");
  try {
    load_dataset(dir.path().string());
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("val.txt:2"), std::string::npos) << e.what();
  }
}

TEST_F(FlatFolderTest, UnreadableGroundTruthIsAnError) {
  DatasetOptions options;
  options.ground_truth = dir / "no_such_val.txt";
  EXPECT_THROW(load_dataset(dir.path().string(), options), UserError);
}

TEST_F(FlatFolderTest, LocSolutionCsvInParentFolder) {
  // Kaggle layout: <top>/LOC_val_solution.csv beside <top>/val/ (found through the val/ rule and the parent).
  TempDir top;
  for (const char* name : {"img_1.JPEG", "img_2.JPEG"})
    write_image(top / ("val/" + std::string(name)), testing::random_bgr(5, 5, 7));
  write_text(top / "LOC_val_solution.csv",
             "ImageId,PredictionString\nimg_2,n02 1 2 3 4 n02 5 6 7 8\nimg_1,n00 1 2 3 4\nimg_7,n01 1 1 1 1\n");
  write_text(top / "synsets.txt", "n00\nn01\nn02\n");
  const Dataset dataset = load_dataset(top.path().string());
  EXPECT_EQ(dataset.layout, "LOC_val_solution.csv");
  EXPECT_EQ(file_names(dataset.images), (std::vector<std::string>{"img_2.JPEG", "img_1.JPEG"}));
  EXPECT_EQ(labels_of(dataset.images), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(dataset.listed_but_missing, 1);
}

TEST_F(FlatFolderTest, LocSolutionCsvUnknownWnidIsAnError) {
  write_text(dir / "LOC_val_solution.csv", "ImageId,PredictionString\nimg_1,n77 1 2 3 4\n");
  try {
    load_dataset(dir.path().string());
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'n77'"), std::string::npos) << e.what();
  }
}

TEST_F(FlatFolderTest, LocSolutionCsvNeedsClassOrder) {
  std::filesystem::remove(dir / "synsets.txt");
  write_text(dir / "LOC_val_solution.csv", "ImageId,PredictionString\nimg_1,n00 1 2 3 4\n");
  EXPECT_THROW(load_dataset(dir.path().string()), UserError);
}

}  // namespace
}  // namespace quantsim

#endif  // QUANTSIM_WITH_OPENCV
