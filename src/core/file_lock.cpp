#include "quantsim/core/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "quantsim/core/errors.h"

namespace quantsim {
namespace {

int open_lock_file(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) throw UserError(fmt::format("{}: cannot create folder {}: {}", path, parent.string(), ec.message()));
  // O_CLOEXEC: a child process must not inherit (and so keep alive) a lock that this process means to release.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw UserError(fmt::format("{}: cannot open lock file: {}", path, std::strerror(errno)));
  return fd;
}

// flock with EINTR retried; true when the lock is held.
bool lock(int fd, int operation, const std::string& path) {
  while (::flock(fd, operation) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return false;
    const std::string reason = std::strerror(errno);
    ::close(fd);
    throw UserError(fmt::format("{}: cannot lock: {}", path, reason));
  }
  return true;
}

}  // namespace

FileLock FileLock::acquire(const std::string& path) {
  const int fd = open_lock_file(path);
  lock(fd, LOCK_EX, path);
  return FileLock(fd);
}

std::optional<FileLock> FileLock::try_acquire(const std::string& path) {
  const int fd = open_lock_file(path);
  if (!lock(fd, LOCK_EX | LOCK_NB, path)) {
    ::close(fd);
    return std::nullopt;
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the flock
}

}  // namespace quantsim
