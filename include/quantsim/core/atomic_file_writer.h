#pragma once
// A large file written piece by piece that appears whole or not at all: the streaming form of write_file_atomically
// (atomic_file.h), for outputs too large to hold in memory (an image cache). The pieces go to a temporary file
// beside the target; commit() flushes it to disk and renames it over the target. Destroyed without commit() (an
// error, an exception), the temporary file is removed and the target is left as it was.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace quantsim {

namespace detail {
class TempFile;
}

class AtomicFileWriter {
 public:
  // Creates the parent folders and the temporary file. Throws UserError naming `path` when the destination cannot
  // be written (as write_file_atomically would).
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t bytes);                      // at the end of what was written so far
  void write_at(uint64_t offset, const void* data, size_t bytes);  // over earlier bytes (a header filled in last)
  uint64_t size() const { return size_; }
  void commit();  // throws UserError naming the path on failure (full disk, ...)

 private:
  std::string path_;
  std::unique_ptr<detail::TempFile> temp_;
  uint64_t size_ = 0;
};

}  // namespace quantsim
