#pragma once
// Unsigned integer codes of 1..16 bits packed back to back into bytes, with no padding between codes.
//
// Bit order, little-endian throughout: the stream is a sequence of bits where bit j lives in byte j / 8 at bit
// position j % 8 (1 << (j % 8)); a code of width n starting at stream bit j puts its bit i (value 1 << i) at stream
// bit j + i. So the first code occupies the lowest bits of the first byte, and a 4-bit stream holds code 0 in the low
// nibble and code 1 in the high nibble of byte 0. The unused high bits of the last byte are zero.
#include <cstdint>
#include <string>

namespace quantsim {

constexpr int kMinCodeBits = 1;
constexpr int kMaxCodeBits = 16;

// Appends codes of any width 1..16 (widths may change from code to code) to a growing byte string.
class BitWriter {
 public:
  // Throws std::invalid_argument when `bits` is outside 1..16 or `code` does not fit in `bits` bits.
  void write(uint32_t code, int bits);
  // The bytes written so far, the last one zero-padded.
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
  uint64_t bit_count_ = 0;
};

// Reads codes back in the order and widths they were written.
class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  explicit BitReader(const std::string& bytes)
      : BitReader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) {}
  // Throws std::invalid_argument for a width outside 1..16 and std::out_of_range past the end of the data.
  uint32_t read(int bits);

 private:
  const uint8_t* data_;
  size_t size_;
  uint64_t bit_position_ = 0;
};

}  // namespace quantsim
