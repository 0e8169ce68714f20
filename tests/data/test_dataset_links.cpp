// Dataset folders whose entries are not what they seem: symbolic link loops stop the run with a one-line error
// naming the link; a FIFO, a dangling link or any other non-file named like an image is listed and then reported
// as an unreadable image, without ever blocking.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "data_test_util.h"
#include "quantsim/core/errors.h"
#include "quantsim/data/dataset.h"
#include "quantsim/data/rgb_image.h"
#include "support/child_process.h"

#ifdef QUANTSIM_WITH_OPENCV  // these tests write images with OpenCV

namespace quantsim {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

class DatasetLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    const cv::Mat image = testing::random_bgr(8, 6, 1);
    testing::write_image(dir / "a/0.png", image);
    testing::write_image(dir / "b/0.png", image);
  }

  // The message of the UserError load_dataset throws; checks it is one line naming `path`.
  std::string load_error(const std::string& path, const DatasetOptions& options = {}) {
    try {
      load_dataset(dir.path().string(), options);
    } catch (const UserError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      EXPECT_NE(message.find(path), std::string::npos) << message;
      return message;
    }
    ADD_FAILURE() << "load_dataset accepted the folder";
    return "";
  }

  TempDir dir;
};

TEST_F(DatasetLinks, AClassFolderLinkingBackToTheDataFolderIsRefused) {
  for (const fs::path& target : {dir.path(), dir.path().parent_path()}) {  // the data folder itself, its parent
    fs::create_directory_symlink(target, dir.path() / "loop");
    EXPECT_NE(load_error(dir / "loop").find("contains the data folder (a loop)"), std::string::npos);
    fs::remove(dir.path() / "loop");
  }
}

TEST_F(DatasetLinks, ASelfLoopingLinkIsRefusedWhereverItIs) {
  for (const std::string link : {"c", "a/1.png"}) {  // a would-be class folder, a would-be image
    fs::create_symlink(fs::path(link).filename(), dir.path() / link);
    EXPECT_NE(load_error(dir / link).find("symbolic link loop"), std::string::npos) << link;
    fs::remove(dir.path() / link);
  }
}

TEST_F(DatasetLinks, ALoopInAFlatFolderIsRefused) {
  fs::remove_all(dir.path() / "b");
  fs::rename(dir.path() / "a/0.png", dir.path() / "0.png");
  fs::remove_all(dir.path() / "a");
  testing::write_text(dir / "val.txt", "0.png 0\n");
  fs::create_symlink("x.png", dir.path() / "x.png");
  EXPECT_NE(load_error(dir / "x.png").find("symbolic link loop"), std::string::npos);
}

TEST_F(DatasetLinks, AFifoOrDanglingImageIsListedThenReportedUnreadableAtOnce) {
  ASSERT_EQ(::mkfifo((dir / "a/1.png").c_str(), 0644), 0);
  fs::create_symlink("gone.png", dir.path() / "b/1.png");
  const Dataset dataset = load_dataset(dir.path().string());
  ASSERT_EQ(dataset.images.size(), 4u);  // a/0, a/1 (FIFO), b/0, b/1 (dangling): the loader counts them as bad
  const auto decode_error = [](const std::string& path) -> std::string {
    try {
      decode_image_rgb(path);
    } catch (const ImageDecodeError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_TRUE(testing::passes_in_child_before_deadline([&] {
    return decode_error(dir / "a/1.png") == dir / "a/1.png" + ": cannot read image (is a FIFO, not a regular file)";
  }));
  EXPECT_NE(decode_error(dir / "b/1.png").find("dangling symbolic link (to gone.png)"), std::string::npos);
}

TEST_F(DatasetLinks, AFifoGroundTruthFileIsRefusedAtOnce) {
  fs::rename(dir.path() / "a/0.png", dir.path() / "0.png");
  fs::remove_all(dir.path() / "a");
  fs::remove_all(dir.path() / "b");
  ASSERT_EQ(::mkfifo((dir / "val.txt").c_str(), 0644), 0);
  EXPECT_TRUE(testing::passes_in_child_before_deadline(
      [&] { return load_error(dir / "val.txt").find("is a FIFO, not a regular file") != std::string::npos; }));
}

}  // namespace
}  // namespace quantsim

#endif  // QUANTSIM_WITH_OPENCV
