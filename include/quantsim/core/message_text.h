#pragma once
// Text for one-line messages.
#include <cstddef>
#include <string>

namespace quantsim {

// `text` cut to about `max_chars` characters with "..." for messages: a pasted blob or a 5000-character path still
// fits on one line.
std::string abbreviated(const std::string& text, size_t max_chars = 80);

}  // namespace quantsim
