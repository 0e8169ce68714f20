#pragma once
// The temporary file of an atomic write, and the clean-up of the ones an interrupted write left (private to
// quantsim_core).
#include <string>

namespace quantsim::detail {

// A new temporary file beside `target`, named <target>.tmp.<pid>.<host>.XXXXXX. While it exists it is registered
// for removal by SIGINT, SIGTERM and SIGHUP, which then end the process as they would have; the destructor removes
// it unless commit() renamed it over `target`. Errors are UserErrors naming `shown_path` (what the user typed).
class TempFile {
 public:
  TempFile(const std::string& target, const std::string& shown_path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Flushes the file to disk, makes it readable by all (0644) and renames it over the target.
  void commit();

 private:
  std::string target_, shown_path_, path_;
  int fd_ = -1;
  int registry_slot_ = -1;  // -1: not registered for removal on a signal (registry full or path too long)
  bool committed_ = false;
};

// Removes the temporary files of `target` (named as TempFile names them) left by processes of this host that no
// longer exist; a live process's are kept. Best effort: a file that cannot be listed or removed is left alone.
void remove_stale_temp_files(const std::string& target);

}  // namespace quantsim::detail
