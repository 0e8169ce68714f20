#include "quantsim/core/atomic_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "regular_file_internal.h"
#include "temp_file.h"

namespace quantsim {
namespace fs = std::filesystem;

namespace {

void create_parent(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw UserError(fmt::format("{}: cannot create folder {}: {}", path, parent.string(), ec.message()));
}

void write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw UserError(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
}

// A character device or FIFO the user named (/dev/null, a named pipe): written in place, as a shell's '>' would.
void write_in_place(const std::string& path, const std::string& contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw UserError(fmt::format("{}: cannot open for writing: {}", path, std::strerror(errno)));
  try {
    write_all(fd, contents, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void write_to_standard_stream(std::FILE* stream, const std::string& contents, const std::string& path) {
  std::fflush(stream);  // after whatever was printed before
  write_all(::fileno(stream), contents, path);
}

void (*g_atomic_write_test_hook)(const std::string&) = nullptr;

}  // namespace

void set_atomic_write_test_hook(void (*hook)(const std::string& temp_path)) { g_atomic_write_test_hook = hook; }

void write_file_atomically(const std::string& path, const std::string& contents) {
  create_parent(path);
  const std::string target = detail::resolve_write_destination(path);
  detail::remove_stale_temp_files(target);
  detail::TempFile temp(target, path);
  if (g_atomic_write_test_hook != nullptr) g_atomic_write_test_hook(temp.path());
  write_all(temp.fd(), contents, path);
  temp.commit();
}

void check_write_destination(const std::string& path) { detail::resolve_write_destination(path); }

void check_append_destination(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0 && errno == ENOENT) return;  // a new file
  require_regular_file(path);
}

void write_output_file(const std::string& path, const std::string& contents) {
  if (path == "-" || path == "/dev/stdout") return write_to_standard_stream(stdout, contents, path);
  if (path == "/dev/stderr") return write_to_standard_stream(stderr, contents, path);
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (S_ISCHR(info.st_mode) || S_ISFIFO(info.st_mode))) {
    return write_in_place(path, contents);
  }
  write_file_atomically(path, contents);
}

namespace {

// Whether the regular file `fd` (of `size` bytes) ends in the middle of a line: a line torn by a crash of an older
// version or of another tool, which the next line must not be glued onto.
bool ends_mid_line(int fd, off_t size) {
  char last = '\n';
  return size > 0 && ::pread(fd, &last, 1, size - 1) == 1 && last != '\n';
}

// Writes `text` at the end of `fd` and syncs it, or puts the file back to its `size` bytes and throws: a failed or
// short write (full disk, file size limit) never leaves part of a line behind.
void append_or_roll_back(int fd, const std::string& text, off_t size, bool regular, const std::string& path) {
  try {
    write_all(fd, text, path);
    if (::fsync(fd) != 0 && regular) throw UserError(fmt::format("{}: fsync failed: {}", path, std::strerror(errno)));
  } catch (const UserError& e) {
    const bool rolled_back = regular && ::ftruncate(fd, size) == 0;
    throw UserError(fmt::format("{}; the line was not appended{}", e.what(),
                                rolled_back || !regular ? "" : " and part of it may remain at the end of the file"));
  }
}

}  // namespace

namespace {

// Offset of the first byte after the last '\n' of the first `size` bytes of `fd` (0 when there is none).
off_t start_of_last_line(int fd, off_t size) {
  char chunk[4096];
  for (off_t end = size; end > 0;) {
    const off_t begin = end > static_cast<off_t>(sizeof chunk) ? end - static_cast<off_t>(sizeof chunk) : 0;
    const ssize_t n = ::pread(fd, chunk, static_cast<size_t>(end - begin), begin);
    if (n <= 0) return end;  // unreadable (a write-only file): keep what is there
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (chunk[i] == '\n') return begin + i + 1;
    }
    end = begin;
  }
  return 0;
}

std::string read_range(int fd, off_t begin, off_t end) {
  std::string bytes(static_cast<size_t>(end - begin), '\0');
  const ssize_t n = ::pread(fd, bytes.data(), bytes.size(), begin);
  bytes.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return bytes;
}

// A torn last line is cut off the file so that the file stays readable line by line; its bytes are kept in
// <path>.torn, so that nothing is lost.
void set_aside_torn_line(int fd, const std::string& path, off_t line_start, off_t size) {
  const std::string torn = read_range(fd, line_start, size);
  append_line_locked(path + ".torn", torn);
  if (::ftruncate(fd, line_start) != 0) {
    throw UserError(fmt::format("{}: cannot cut off its torn last line: {}", path, std::strerror(errno)));
  }
  std::fprintf(stderr,
               "quant-sim: warning: %s: its last line was torn by an interrupted write; moved it (%lld bytes) "
               "to %s.torn\n",
               path.c_str(), static_cast<long long>(size - line_start), path.c_str());
}

}  // namespace

void append_line_locked(const std::string& path, const std::string& line) { append_line_locked(path, line, nullptr); }

void append_line_locked(const std::string& path, const std::string& line, bool (*is_whole_line)(const std::string&)) {
  create_parent(path);
  // Read as well as write where allowed: the last byte says whether the file ends mid-line.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EACCES) fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) throw UserError(fmt::format("{}: cannot open for appending: {}", path, std::strerror(errno)));
  ::flock(fd, LOCK_EX);
  try {
    struct stat before {};
    if (::fstat(fd, &before) != 0) throw UserError(fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
    const bool regular = S_ISREG(before.st_mode);  // devices and pipes (--out /dev/stdout) have no size to go back to
    off_t size = before.st_size;
    bool fresh_line = regular && ends_mid_line(fd, size);
    if (fresh_line && is_whole_line != nullptr) {
      const off_t line_start = start_of_last_line(fd, size);
      if (!is_whole_line(read_range(fd, line_start, size))) {
        set_aside_torn_line(fd, path, line_start, size);
        size = line_start;
        fresh_line = false;
      }
    }
    append_or_roll_back(fd, (fresh_line ? "\n" : "") + line + "\n", size, regular, path);
  } catch (...) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
    throw;
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
}

std::string read_file(const std::string& path) {
  std::ifstream in = open_regular_file_for_reading(path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw UserError(fmt::format("{}: read failed", path));
  return buffer.str();
}

std::string expand_user(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home != nullptr) return std::string(home) + path.substr(1);
  }
  return path;
}

}  // namespace quantsim
