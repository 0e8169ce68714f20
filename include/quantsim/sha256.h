#pragma once
#include <string>

namespace quantsim {

// Lower-case hex SHA-256 of a file's bytes (identifies the model a statistics file belongs to).
std::string sha256_file(const std::string& path);

}  // namespace quantsim
