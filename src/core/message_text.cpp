#include "quantsim/core/message_text.h"

namespace quantsim {

std::string abbreviated(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars) return text;
  return text.substr(0, max_chars) + "...";
}

}  // namespace quantsim
