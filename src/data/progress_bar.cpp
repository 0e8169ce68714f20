#include "quantsim/data/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace quantsim {
namespace {

constexpr int kBarWidth = 24;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string format_duration(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  if (total >= 3600) return fmt::format("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      active_(enabled && total > 0 && isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::render(const std::string& label, int64_t done, int64_t total, double seconds) {
  const double fraction = total > 0 ? std::min(1.0, static_cast<double>(done) / total) : 1.0;
  const int filled = static_cast<int>(fraction * kBarWidth);
  const std::string bar = std::string(filled, '#') + std::string(kBarWidth - filled, '.');
  const double rate = seconds > 0 ? done / seconds : 0.0;
  const std::string eta = rate > 0 ? format_duration((total - done) / rate) : "?";
  return fmt::format("{} {}/{} [{}] {:.1f} img/s ETA {}", label, done, total, bar, rate, eta);
}

void ProgressBar::advance(int64_t done_now) {
  done_ += done_now;
  draw(false);
}

void ProgressBar::finish() {
  if (!active_ || finished_) return;
  draw(true);
  std::fputc('\n', stderr);
  finished_ = true;
}

void ProgressBar::draw(bool force) {
  if (!active_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < kRedrawInterval && done_ < total_) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  // "\33[K" clears what a longer previous line left behind.
  std::fprintf(stderr, "\r%s\33[K", render(label_, done_, total_, seconds).c_str());
  std::fflush(stderr);
}

}  // namespace quantsim
