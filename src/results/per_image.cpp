#include "quantsim/results/per_image.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "quantsim/core/errors.h"
#include "quantsim/core/sha256.h"
#include "quantsim/results/result_record.h"

namespace quantsim {
namespace {

using nlohmann::json;

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The longest base64 string of one chunk: the longest string a results line may hold, a multiple of 4.
constexpr size_t kChunkChars = kMaxResultStringBytes / 4 * 4;

int base64_value(char c) {
  const char* found = c == '\0' ? nullptr : std::strchr(kBase64, c);
  return found == nullptr ? -1 : static_cast<int>(found - kBase64);
}

std::string pack_bits(const std::vector<bool>& bits) {
  std::string bytes((bits.size() + 7) / 8, '\0');
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) bytes[i / 8] = static_cast<char>(static_cast<uint8_t>(bytes[i / 8]) | (1u << (i % 8)));
  }
  return bytes;
}

json chunked_base64(const std::vector<bool>& bits) {
  const std::string text = base64_encode(pack_bits(bits));
  json chunks = json::array();
  for (size_t start = 0; start < text.size(); start += kChunkChars) chunks.push_back(text.substr(start, kChunkChars));
  return chunks;
}

[[noreturn]] void refuse(const std::string& where, const std::string& field, const std::string& what) {
  throw UserError(fmt::format("{}: per_image.{}: {}", where, field, what));
}

std::vector<bool> read_bitset(const json& value, int64_t images, const std::string& field, const std::string& where) {
  if (!value.is_array()) refuse(where, field, "must be a list of base64 strings, not " + json_excerpt(value));
  std::string text;
  for (const json& chunk : value) {
    if (!chunk.is_string()) refuse(where, field, "must be a list of base64 strings, not " + json_excerpt(chunk));
    text += chunk.get<std::string>();
  }
  std::string bytes;
  if (!base64_decode(text, bytes)) refuse(where, field, "is not base64");
  const size_t expected = static_cast<size_t>((images + 7) / 8);
  if (bytes.size() != expected) {
    refuse(where, field, fmt::format("holds {} bytes, not the {} of {} images", bytes.size(), expected, images));
  }
  std::vector<bool> bits(static_cast<size_t>(images));
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = (static_cast<uint8_t>(bytes[i / 8]) >> (i % 8)) & 1u;
  if (images % 8 != 0 && (static_cast<uint8_t>(bytes.back()) >> (images % 8)) != 0) {
    refuse(where, field, "has bits set past the last image");
  }
  return bits;
}

uint64_t little_endian_u64(const unsigned char* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

}  // namespace

void OrderFingerprint::add(int64_t position, const std::string& image, int64_t label) {
  const std::string hex = sha256_hex(fmt::format("{}\n{}\n{}", position, image, label));
  unsigned char digest[16];
  for (size_t i = 0; i < 16; ++i) digest[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  lanes[0] += little_endian_u64(digest);
  lanes[1] += little_endian_u64(digest + 8);
}

void OrderFingerprint::add(const OrderFingerprint& other) {
  lanes[0] += other.lanes[0];
  lanes[1] += other.lanes[1];
}

std::string OrderFingerprint::hex() const { return fmt::format("{:016x}{:016x}", lanes[0], lanes[1]); }

bool OrderFingerprint::parse(const std::string& text, OrderFingerprint& out) {
  if (text.size() != 32 || text.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
  out.lanes[0] = std::stoull(text.substr(0, 16), nullptr, 16);
  out.lanes[1] = std::stoull(text.substr(16), nullptr, 16);
  return true;
}

int64_t PerImageCorrectness::top1_correct() const { return std::count(top1.begin(), top1.end(), true); }
int64_t PerImageCorrectness::top5_correct() const { return std::count(top5.begin(), top5.end(), true); }

std::string image_identity(const std::string& path, const std::string& root) {
  if (root.empty()) return path;
  const std::string prefix = root.back() == '/' ? root : root + "/";
  return path.compare(0, prefix.size(), prefix) == 0 ? path.substr(prefix.size()) : path;
}

json per_image_to_json(const PerImageCorrectness& data) {
  return {{"images", data.images()},
          {"order", data.order.hex()},
          {"top1", chunked_base64(data.top1)},
          {"top5", chunked_base64(data.top5)}};
}

PerImageCorrectness per_image_from_json(const json& value, const std::string& where) {
  if (!value.is_object()) throw UserError(fmt::format("{}: per_image: must be an object", where));
  for (const char* key : {"images", "order", "top1", "top5"}) {
    if (!value.contains(key)) throw UserError(fmt::format("{}: per_image: no \"{}\"", where, key));
  }
  const std::optional<int64_t> images = json_count(value.at("images"));
  if (!images || *images < 1)
    refuse(where, "images", "must be a positive integer, not " + json_excerpt(value["images"]));
  PerImageCorrectness data;
  if (!value.at("order").is_string() || !OrderFingerprint::parse(value.at("order").get<std::string>(), data.order)) {
    refuse(where, "order", "must be 32 lower-case hex digits, not " + json_excerpt(value["order"]));
  }
  data.top1 = read_bitset(value.at("top1"), *images, "top1", where);
  data.top5 = read_bitset(value.at("top5"), *images, "top5", where);
  for (size_t i = 0; i < data.top1.size(); ++i) {
    if (data.top1[i] && !data.top5[i]) {
      refuse(where, "top5", fmt::format("image {} is a top-1 hit but not a top-5 hit", i));
    }
  }
  return data;
}

PerImageCorrectness merge_shard_correctness(const std::vector<const PerImageCorrectness*>& shards) {
  const size_t count = shards.size();
  size_t total = 0;
  for (const PerImageCorrectness* shard : shards) total += shard->top1.size();
  PerImageCorrectness merged;
  merged.top1.resize(total);
  merged.top5.resize(total);
  for (size_t k = 0; k < count; ++k) {
    const size_t expected = total > k ? (total - k + count - 1) / count : 0;  // positions i < total, i % N == k
    if (shards[k]->top1.size() != expected) {
      throw UserError(fmt::format("per_image: shard {}/{} holds {} images, but a striding of {} images gives it {}",
                                  k + 1, count, shards[k]->top1.size(), total, expected));
    }
    for (size_t j = 0; j < expected; ++j) {
      merged.top1[k + j * count] = shards[k]->top1[j];
      merged.top5[k + j * count] = shards[k]->top5[j];
    }
    merged.order.add(shards[k]->order);
  }
  return merged;
}

DiscordantPairs discordant_top1(const PerImageCorrectness& a, const PerImageCorrectness& b) {
  DiscordantPairs pairs;
  for (size_t i = 0; i < std::min(a.top1.size(), b.top1.size()); ++i) {
    pairs.only_a += a.top1[i] && !b.top1[i];
    pairs.only_b += !a.top1[i] && b.top1[i];
  }
  return pairs;
}

bool same_images(const PerImageCorrectness& a, const PerImageCorrectness& b) {
  return a.images() == b.images() && a.order == b.order;
}

std::string base64_encode(const std::string& bytes) {
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t j = 0; j < 3; ++j) group = (group << 8) | (j < n ? static_cast<uint8_t>(bytes[i + j]) : 0u);
    for (size_t j = 0; j < 4; ++j) text += j <= n ? kBase64[(group >> (18 - 6 * j)) & 63u] : '=';
  }
  return text;
}

bool base64_decode(const std::string& text, std::string& bytes) {
  bytes.clear();
  if (text.size() % 4 != 0) return false;
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    size_t padding = 0;
    uint32_t group = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        ++padding;
        group <<= 6;
        continue;
      }
      const int value = base64_value(c);
      if (value < 0 || padding > 0) return false;  // not base64, or a digit after '='
      group = (group << 6) | static_cast<uint32_t>(value);
    }
    // Canonical: the bits the padding drops are zero.
    if ((padding == 1 && (group & 0xFFu) != 0) || (padding == 2 && (group & 0xFFFFu) != 0)) return false;
    for (size_t j = 0; j < 3 - padding; ++j) bytes += static_cast<char>((group >> (16 - 8 * j)) & 0xFFu);
  }
  return true;
}

}  // namespace quantsim
