#include "quantsim/app/config.h"

namespace quantsim {

template <>
const std::vector<ChoiceName<StatsMode>>& choice_names<StatsMode>() {
  static const std::vector<ChoiceName<StatsMode>> names = {
      {"no", StatsMode::kNo}, {"collect", StatsMode::kCollect}, {"use", StatsMode::kUse}};
  return names;
}

std::string to_string(StatsMode mode) { return canonical_name(mode); }

}  // namespace quantsim
