#pragma once
// The byte layout of an image cache file (docs/CACHE.md), shared by its reader and writer (private to quantsim_data).
#include <cstdint>
#include <cstring>
#include <string>

namespace quantsim::detail {

constexpr uint64_t kCacheHeaderBytes = 4096;  // the header block; the labels start here
constexpr uint64_t kCachePixelAlignment = 4096;
constexpr uint32_t kCacheLayoutChw = 0;

// The fixed header, as stored (little-endian, no padding: every field is at the offset docs/CACHE.md gives).
struct CacheHeader {
  char magic[8];                    // 0: "QSIMCACH"
  uint32_t version;                 // 8
  uint32_t pixel_layout;            // 12: 0 = CHW
  uint64_t image_count;             // 16
  uint32_t channels;                // 24: 3
  uint32_t height;                  // 28
  uint32_t width;                   // 32
  uint32_t reserved;                // 36: 0
  uint64_t labels_offset;           // 40
  uint64_t flags_offset;            // 48
  uint64_t pixels_offset;           // 56
  uint64_t metadata_offset;         // 64
  uint64_t metadata_bytes;          // 72
  char sources_fingerprint[64];     // 80: hex SHA-256
  char preprocess_fingerprint[64];  // 144: hex SHA-256
};
static_assert(sizeof(CacheHeader) == 208, "the cache header is 208 bytes (docs/CACHE.md)");

inline uint64_t round_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

// Offsets of the sections for `count` images (the header fields the reader requires).
inline uint64_t flags_offset_for(uint64_t count) { return kCacheHeaderBytes + 8 * count; }
inline uint64_t pixels_offset_for(uint64_t count) {
  return round_up(flags_offset_for(count) + count, kCachePixelAlignment);
}

}  // namespace quantsim::detail
