#pragma once
// Writes that never leave a half-written file behind: temp file in the same folder, fsync, rename.
#include <string>

namespace quantsim {

// Replaces `path` with `contents` atomically; creates parent folders. Throws UserError naming the path on failure.
void write_file_atomically(const std::string& path, const std::string& contents);

// Appends one line (a '\n' is added) to `path` under an exclusive lock, in a single write, so that concurrent
// writers never interleave and a crash never leaves a partial line. Creates parent folders.
void append_line_locked(const std::string& path, const std::string& line);

// Reads a whole file; throws UserError naming the path when it cannot be read.
std::string read_file(const std::string& path);

// Expands a leading "~/" with $HOME.
std::string expand_user(const std::string& path);

}  // namespace quantsim
