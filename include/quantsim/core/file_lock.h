#pragma once
// An advisory lock on a lock file (flock), held while the object lives. The kernel releases it when the process
// dies, however it dies, so a killed worker never leaves a stale lock behind. Used by `quant-sim sweep` to claim a
// configuration and to collect a model's statistics only once across concurrent processes.
#include <optional>
#include <string>

namespace quantsim {

class FileLock {
 public:
  // Waits until the lock on `path` is free, then holds it. Creates the file and its parent folders.
  static FileLock acquire(const std::string& path);
  // Holds the lock when it is free; std::nullopt when another process (or another FileLock here) holds it.
  static std::optional<FileLock> try_acquire(const std::string& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace quantsim
