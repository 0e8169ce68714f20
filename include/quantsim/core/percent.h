#pragma once
// One way to turn hit counts into a percentage, so that a run's accuracy, a merge of its shards and the check of a
// results line's percentage against its counts compute the same double bit for bit.
#include <cstdint>

namespace quantsim {

// 100 * hits / images, or 0 for no images.
inline double percent(int64_t hits, int64_t images) {
  return images == 0 ? 0.0 : 100.0 * static_cast<double>(hits) / static_cast<double>(images);
}

}  // namespace quantsim
