#include "quantsim/core/atomic_file_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "regular_file_internal.h"
#include "temp_file.h"

namespace quantsim {

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw UserError(fmt::format("{}: cannot create folder {}: {}", path, parent.string(), ec.message()));
  }
  const std::string target = detail::resolve_write_destination(path);
  detail::remove_stale_temp_files(target);
  temp_ = std::make_unique<detail::TempFile>(target, path);
}

AtomicFileWriter::~AtomicFileWriter() = default;

void AtomicFileWriter::write_at(uint64_t offset, const void* data, size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pwrite(temp_->fd(), p + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw UserError(fmt::format("{}: write failed: {}", path_, n < 0 ? std::strerror(errno) : "no space"));
    done += static_cast<size_t>(n);
  }
  if (offset + bytes > size_) size_ = offset + bytes;
}

void AtomicFileWriter::write(const void* data, size_t bytes) { write_at(size_, data, bytes); }

void AtomicFileWriter::commit() { temp_->commit(); }

}  // namespace quantsim
