// A ground-truth file that lists an image twice: the same label counts once (an image evaluated twice would weigh
// double), another label is an error naming the file, the line and the image.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data_test_util.h"
#include "quantsim/core/errors.h"
#include "quantsim/data/dataset.h"

namespace quantsim {
namespace {
using testing::TempDir;
using testing::write_text;

// A flat folder with a.jpg and b.jpg (only listed, never decoded here) and a class list for the CSV layout.
class GroundTruthConflicts : public ::testing::Test {
 protected:
  void SetUp() override {
    write_text(dir / "val/a.jpg", "x");
    write_text(dir / "val/b.jpg", "x");
    write_text(dir / "synsets.txt", "n0\nn1\n");
  }

  // load_dataset throws a one-line UserError naming every needle.
  void expect_conflict(const std::vector<std::string>& needles) {
    try {
      load_dataset(dir / "val");
      FAIL() << "conflicting labels accepted";
    } catch (const UserError& e) {
      const std::string message = e.what();
      for (const std::string& needle : needles) EXPECT_NE(message.find(needle), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }

  TempDir dir;
};

TEST_F(GroundTruthConflicts, IdenticalDuplicateInValTxtCountsOnce) {
  write_text(dir / "val/val.txt", "a.jpg 0\nb.jpg 1\na.jpg 0\n");
  const Dataset dataset = load_dataset(dir / "val");
  ASSERT_EQ(dataset.images.size(), 2u);
  EXPECT_EQ(dataset.images[0].label, 0);
  EXPECT_EQ(dataset.images[1].label, 1);
}

TEST_F(GroundTruthConflicts, ConflictingLabelInValTxtNamesFileLineAndImage) {
  write_text(dir / "val/val.txt", "a.jpg 0\nb.jpg 1\na.jpg 1\n");
  expect_conflict({dir / "val/val.txt", ":3:", "a.jpg", "line 1"});
}

TEST_F(GroundTruthConflicts, ConflictIsFoundEvenForAnImageMissingFromTheFolder) {
  write_text(dir / "val/val.txt", "a.jpg 0\nc.jpg 1\nc.jpg 0\n");
  expect_conflict({"val.txt:3:", "c.jpg"});
}

TEST_F(GroundTruthConflicts, IdenticalDuplicateInLocSolutionCsvCountsOnce) {
  write_text(dir / "LOC_val_solution.csv", "ImageId,PredictionString\na,n0 1 2 3 4\nb,n1 1 2 3 4\na,n0 5 6 7 8\n");
  const Dataset dataset = load_dataset(dir / "val");
  EXPECT_EQ(dataset.layout, "LOC_val_solution.csv");
  EXPECT_EQ(dataset.images.size(), 2u);
}

TEST_F(GroundTruthConflicts, ConflictingLabelInLocSolutionCsvNamesFileLineAndImage) {
  write_text(dir / "LOC_val_solution.csv", "ImageId,PredictionString\na,n0 1 2 3 4\nb,n1 1 2 3 4\na,n1 1 2 3 4\n");
  expect_conflict({"LOC_val_solution.csv:4:", "'a'", "n1", "n0"});
}

}  // namespace
}  // namespace quantsim
