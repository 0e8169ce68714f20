#pragma once
// Writes that never leave a half-written file behind: temp file in the same folder, fsync, rename.
#include <string>

namespace quantsim {

// Replaces `path` with `contents` atomically; creates parent folders. Throws UserError naming the path on failure.
void write_file_atomically(const std::string& path, const std::string& contents);

// Appends one line (a '\n' is added) to `path` under an exclusive lock, in a single write, so that concurrent
// writers never interleave. All or nothing: when the write fails or is short (full disk, file size limit) the file is
// truncated back to its length before and a UserError names it. A file that ends mid-line (torn by a crash of an
// older version or another tool) gets the line on a fresh line, never glued on. Creates parent folders.
void append_line_locked(const std::string& path, const std::string& line);

// Reads a whole file; throws UserError naming the path when it cannot be read.
std::string read_file(const std::string& path);

// Expands a leading "~/" with $HOME.
std::string expand_user(const std::string& path);

}  // namespace quantsim
