#pragma once
// Writes that never leave a half-written file behind: temp file in the same folder, fsync, rename.
#include <fstream>
#include <string>

namespace quantsim {

// Replaces `path` with `contents` atomically; creates parent folders. Throws UserError naming the path on failure.
// A symbolic link is followed to its final target, which is replaced (the link stays a link). A destination that
// exists but is not a regular file (a directory, FIFO, socket or device), a dangling link and a link loop are
// refused: these files must be whole, regular files (statistics, exports, baselines, logits, caches, reports).
// The temporary file, <target>.tmp.<pid>.<host>.XXXXXX, is removed if SIGINT, SIGTERM or SIGHUP ends the process
// during the write, and by a later write of the same file if the process died some other way.
void write_file_atomically(const std::string& path, const std::string& contents);

// Appends one line (a '\n' is added) to `path` under an exclusive lock, in a single write, so that concurrent
// writers never interleave. All or nothing: when the write fails or is short (full disk, file size limit) the file is
// truncated back to its length before and a UserError names it. A file that ends mid-line (torn by a crash of an
// older version or another tool) gets the line on a fresh line, never glued on. Creates parent folders.
void append_line_locked(const std::string& path, const std::string& line);

// As above, for files whose lines the caller can check: when the file ends mid-line and `is_whole_line` says its last
// line is not a whole line that only lacks its '\n' (a write torn by a crash), that line is moved to <path>.torn
// (with a warning) instead of being kept in the file, so that readers never meet it in the middle of the file.
void append_line_locked(const std::string& path, const std::string& line, bool (*is_whole_line)(const std::string&));

// Throws the UserError that write_file_atomically(path) would throw because of what `path` is (a directory, FIFO,
// socket or device, a dangling link, a link loop), without writing anything: a run checks its outputs before it
// spends hours evaluating.
void check_write_destination(const std::string& path);

// Throws a UserError naming `path` when it exists (links followed) and is not a regular file, or is a dangling link or
// a link loop: appending to a FIFO would block, and to a device would lose the line.
void check_append_destination(const std::string& path);

// Reads a whole file; throws UserError naming the path when it cannot be read or is not a regular file (see
// open_regular_file_for_reading).
std::string read_file(const std::string& path);

// Expands a leading "~/" with $HOME.
std::string expand_user(const std::string& path);

// Writes output meant for a person or a pipe (a table): "-", /dev/stdout and /dev/stderr write to that stream; an
// existing character device or FIFO (/dev/null, a named pipe) is written in place, as a shell's '>' would; anything
// else goes through write_file_atomically.
void write_output_file(const std::string& path, const std::string& contents);

// Why `path` (symbolic links followed) cannot be read as a regular file, or "" when it can: "is a FIFO, not a
// regular file", "is a dangling symbolic link (to X)", "is or passes through a symbolic link loop",
// "cannot open: No such file or directory", ...
std::string regular_file_problem(const std::string& path);

// Throws UserError "<path>: <regular_file_problem>" unless `path` is a regular file.
void require_regular_file(const std::string& path);

// Opens a user's file for reading after require_regular_file(), so that a FIFO or device named where a file is
// expected fails at once instead of blocking in open() or reading forever.
std::ifstream open_regular_file_for_reading(const std::string& path);

// For tests: called by write_file_atomically with the temporary file's path once it exists, before any byte of the
// contents is written (nullptr: no hook).
void set_atomic_write_test_hook(void (*hook)(const std::string& temp_path));

}  // namespace quantsim
