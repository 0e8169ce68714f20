#pragma once
// A one-line progress bar on stderr: "label  1234/5000 [#####.....] 412.3 img/s ETA 0:09". Drawn only when stderr
// is a terminal (logs and CI output stay clean) and redrawn at most 10 times a second.
#include <chrono>
#include <cstdint>
#include <string>

namespace quantsim {

class ProgressBar {
 public:
  // `enabled` false, or stderr not a terminal: the bar stays silent.
  ProgressBar(std::string label, int64_t total, bool enabled = true);
  ~ProgressBar();  // finishes the line if it was drawn
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void advance(int64_t done_now);  // adds to the count of items done
  void finish();                   // draws the final state and ends the line

  // The text of one redraw (no carriage return), exposed for tests.
  static std::string render(const std::string& label, int64_t done, int64_t total, double seconds);

 private:
  void draw(bool force);

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  bool active_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace quantsim
