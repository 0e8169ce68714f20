#include "quantsim/data/progress_bar.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace quantsim {
namespace {

TEST(ProgressBar, RenderShowsCountRateAndEta) {
  const std::string line = ProgressBar::render("eval", 250, 1000, 2.0);
  EXPECT_NE(line.find("eval 250/1000"), std::string::npos) << line;
  EXPECT_NE(line.find("[######..................]"), std::string::npos) << line;
  EXPECT_NE(line.find("125.0 img/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:06"), std::string::npos) << line;  // 750 images at 125/s
}

TEST(ProgressBar, RenderBeforeAnyProgressHasNoEta) {
  EXPECT_NE(ProgressBar::render("x", 0, 10, 0.0).find("ETA ?"), std::string::npos);
}

TEST(ProgressBar, QuietWhenStderrIsNotATerminal) {
  ProgressBar bar("x", 10, true);
  EXPECT_EQ(bar.active(), isatty(STDERR_FILENO) == 1);
}

TEST(ProgressBar, DisabledBarIsInactive) {
  ProgressBar bar("x", 10, false);
  EXPECT_FALSE(bar.active());
  bar.advance(5);
  bar.finish();
}

}  // namespace
}  // namespace quantsim
