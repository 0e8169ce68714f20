#pragma once
#include <string>

namespace quantsim {

// Lower-case hex SHA-256 of a file's bytes (identifies the model a statistics file belongs to).
std::string sha256_file(const std::string& path);

// Lower-case hex SHA-256 of `bytes` (stable identifiers, e.g. of a sweep configuration).
std::string sha256_hex(const std::string& bytes);

}  // namespace quantsim
