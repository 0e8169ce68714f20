// Files that are not what they seem: FIFOs, devices, sockets, folders, dangling links and link loops named where a
// regular file is expected. Readers refuse them before opening (a FIFO would block the open forever); writers
// resolve symbolic links to their final target and refuse to replace anything but a regular file.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "regular_file_internal.h"

namespace quantsim {
namespace fs = std::filesystem;

namespace {

bool is_symbolic_link(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && S_ISLNK(info.st_mode);
}

std::string link_target(const std::string& path) {
  std::error_code ec;
  const fs::path target = fs::read_symlink(path, ec);
  return ec ? "?" : target.string();
}

// "is a FIFO, not a regular file", for a stat()ed file that is not a regular one.
std::string not_regular(mode_t mode) { return fmt::format("is {}, not a regular file", detail::file_kind(mode)); }

}  // namespace

namespace detail {

std::string file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "a special file";
}

std::string stat_failure(const std::string& path, int error, const char* action) {
  if (error == ELOOP) return "is or passes through a symbolic link loop";
  if (error == ENOENT && is_symbolic_link(path)) {
    return fmt::format("is a dangling symbolic link (to {})", link_target(path));
  }
  return fmt::format("cannot {}: {}", action, std::strerror(error));
}

std::string resolve_write_destination(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return path;  // a new file
    throw UserError(fmt::format("{}: {}", path, stat_failure(path, errno, "write")));
  }
  if (!S_ISLNK(info.st_mode)) {
    if (!S_ISREG(info.st_mode)) {
      throw UserError(fmt::format("{}: {}; refusing to replace it", path, not_regular(info.st_mode)));
    }
    return path;
  }
  if (::stat(path.c_str(), &info) != 0) {
    throw UserError(fmt::format("{}: {}; refusing to write through it", path, stat_failure(path, errno, "write")));
  }
  if (!S_ISREG(info.st_mode)) {
    throw UserError(fmt::format("{}: links to {}, which {}; refusing to replace it", path, link_target(path),
                                not_regular(info.st_mode)));
  }
  std::error_code ec;
  const fs::path target = fs::canonical(path, ec);  // every link resolved, so the rename lands beside the file
  if (ec) throw UserError(fmt::format("{}: cannot resolve the symbolic link: {}", path, ec.message()));
  return target.string();
}

}  // namespace detail

std::string regular_file_problem(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return detail::stat_failure(path, errno, "open");
  return S_ISREG(info.st_mode) ? "" : not_regular(info.st_mode);
}

void require_regular_file(const std::string& path) {
  const std::string problem = regular_file_problem(path);
  if (!problem.empty()) throw UserError(fmt::format("{}: {}", path, problem));
}

std::ifstream open_regular_file_for_reading(const std::string& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  return in;
}

}  // namespace quantsim
