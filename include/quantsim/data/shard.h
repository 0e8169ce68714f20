#pragma once
// --shard K/N: splits one evaluation over N processes (or machines) whose results `quant-sim merge` adds up exactly.
//
// Shard K takes the selected images (after -ss/-sh) at positions i with i % N == K - 1. Striding rather than
// contiguous blocks keeps the shards balanced in size (they differ by at most one image) and, since the canonical
// order is class by class, gives every shard a similar mix of classes, so a partial shard's accuracy is meaningful.
#include <cstdint>
#include <string>
#include <vector>

#include "quantsim/data/dataset.h"

namespace quantsim {

// --shard K/N: this process evaluates slice K (1-based) of N of the selected images.
struct Shard {
  int64_t index = 1;  // K
  int64_t count = 1;  // N
};

// "2/4" -> {2, 4}. Throws UserError naming `flag` unless it is K/N with integers 1 <= K <= N.
Shard parse_shard(const std::string& flag, const std::string& value);

// "K/N", as recorded in the results file.
std::string shard_name(const Shard& shard);

// The images of `shard` (see above). Throws UserError when the shard gets no image (N larger than the selection).
std::vector<LabeledImage> take_shard(std::vector<LabeledImage> images, const Shard& shard);

}  // namespace quantsim
