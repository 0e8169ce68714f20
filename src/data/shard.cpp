#include "quantsim/data/shard.h"

#include <regex>

#include <fmt/format.h>

#include "quantsim/core/errors.h"

namespace quantsim {

Shard parse_shard(const std::string& flag, const std::string& value) {
  std::smatch match;
  const std::string problem = fmt::format("flag {}: '{}' is not K/N with 1 <= K <= N, e.g. 2/4", flag, value);
  if (!std::regex_match(value, match, std::regex("([0-9]{1,9})/([0-9]{1,9})"))) throw UserError(problem);
  const Shard shard{std::stoll(match[1]), std::stoll(match[2])};
  if (shard.index < 1 || shard.index > shard.count) throw UserError(problem);
  return shard;
}

std::string shard_name(const Shard& shard) { return fmt::format("{}/{}", shard.index, shard.count); }

std::vector<LabeledImage> take_shard(std::vector<LabeledImage> images, const Shard& shard) {
  const size_t selected = images.size();
  std::vector<LabeledImage> taken;
  for (size_t i = static_cast<size_t>(shard.index - 1); i < selected; i += static_cast<size_t>(shard.count)) {
    taken.push_back(std::move(images[i]));
  }
  if (taken.empty()) {
    throw UserError(
        fmt::format("--shard {}: no image falls in this shard ({} images selected)", shard_name(shard), selected));
  }
  return taken;
}

}  // namespace quantsim
