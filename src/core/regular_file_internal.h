#pragma once
// Helpers shared by the readers and writers of src/core (private to quantsim_core).
#include <sys/types.h>

#include <string>

namespace quantsim::detail {

// "a directory", "a FIFO", "a socket", "a character device", "a block device", "a regular file".
std::string file_kind(mode_t mode);

// The stat() failure `error` of `path` as the tail of a message: a symbolic link loop and a dangling link are named
// as such, anything else is "cannot <action>: <strerror>".
std::string stat_failure(const std::string& path, int error, const char* action);

// The file a write to `path` must replace: `path` itself when it is a regular file or does not exist yet, the final
// target of a symbolic link to a regular file (so that the link stays a link). Throws UserError naming `path` for a
// dangling link, a link loop, and a destination that exists but is not a regular file.
std::string resolve_write_destination(const std::string& path);

}  // namespace quantsim::detail
