#pragma once
// Per-image correctness of a run (docs/QUANTIZATION.md, section "Statistics of comparisons"): whether each evaluated
// image was top-1 and top-5 correct, in evaluation order, with a fingerprint of the ordered image list, so that two
// runs can be paired image by image (`quant-sim compare`, the gate's "significant" rule).
//
// In a results line it is the field "per_image":
//   {"images": 1300, "order": "<32 hex digits>", "top1": ["<base64>", ...], "top5": ["<base64>", ...]}
// Each bitset holds bit i (image i in evaluation order) at bit i % 8 of byte i / 8 (core/bit_packing.h's order), the
// unused high bits of the last byte zero, written as base64 split into strings of at most 4096 characters (the
// longest string a results line may hold). "order" is an additive fingerprint (see OrderFingerprint) of the
// evaluated images, their positions and labels: equal for two runs on the same images in the same order, and the
// sum of its shards' for a run split by --shard, so that `quant-sim merge` gives the unsharded run's fingerprint.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace quantsim {

// Order-sensitive multiset hash (AdHash): the sum, lane by lane modulo 2^64, of the first 128 bits of
// SHA-256("<position>\n<image>\n<label>") over the evaluated images. Additive, so that the fingerprints of disjoint
// parts of one image list (shards, with their images' positions in the whole list) add up to the whole list's.
struct OrderFingerprint {
  uint64_t lanes[2] = {0, 0};

  // `image` is the image's path relative to its dataset root (so that a run from the folder and one from an image
  // cache of it agree); `position` its place in the whole evaluation order (before --shard).
  void add(int64_t position, const std::string& image, int64_t label);
  void add(const OrderFingerprint& other);
  std::string hex() const;  // 32 lower-case hex digits
  // False when `text` is not 32 lower-case hex digits.
  static bool parse(const std::string& text, OrderFingerprint& out);
  bool operator==(const OrderFingerprint& other) const {
    return lanes[0] == other.lanes[0] && lanes[1] == other.lanes[1];
  }
};

struct PerImageCorrectness {
  OrderFingerprint order;
  std::vector<bool> top1;  // one per evaluated image, in evaluation order
  std::vector<bool> top5;  // same length; every top-1 hit is a top-5 hit
  int64_t images() const { return static_cast<int64_t>(top1.size()); }
  int64_t top1_correct() const;
  int64_t top5_correct() const;
};

// `path` relative to `root` when it lies under it (lexically), else `path` itself.
std::string image_identity(const std::string& path, const std::string& root);

// The JSON of the "per_image" field (above).
nlohmann::json per_image_to_json(const PerImageCorrectness& data);

// Reads a "per_image" field. Throws UserError "<where>: per_image...: <what is wrong>" for one that no run can have
// written: bad base64, bitsets of another length than "images", set padding bits, a top-1 hit that is not a top-5
// hit, a fingerprint that is not 32 hex digits.
PerImageCorrectness per_image_from_json(const nlohmann::json& value, const std::string& where);

// The whole run from its N shards (shards[k] is shard k+1 of N), which took the images at positions i with
// i % N == k (data/shard.h): bits interleaved back into evaluation order, fingerprints added. Throws UserError when
// the shards' sizes are not those of one striding of a list.
PerImageCorrectness merge_shard_correctness(const std::vector<const PerImageCorrectness*>& shards);

// The discordant pairs of top-1 between two runs on the same images (same fingerprint and count, checked by the
// caller): images only `a` got right, and images only `b` got right.
struct DiscordantPairs {
  int64_t only_a = 0;
  int64_t only_b = 0;
};
DiscordantPairs discordant_top1(const PerImageCorrectness& a, const PerImageCorrectness& b);

// Whether two runs' correctness pairs image by image: same number of images and same order fingerprint.
bool same_images(const PerImageCorrectness& a, const PerImageCorrectness& b);

// Base64 (RFC 4648, with padding) of bytes and back; decoding returns false for text that is not canonical base64.
std::string base64_encode(const std::string& bytes);
bool base64_decode(const std::string& text, std::string& bytes);

}  // namespace quantsim
