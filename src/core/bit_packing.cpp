#include "quantsim/core/bit_packing.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace quantsim {
namespace {

void check_width(int bits) {
  if (bits < kMinCodeBits || bits > kMaxCodeBits) {
    throw std::invalid_argument("bit packing: code width must be in 1..16, got " + std::to_string(bits));
  }
}

}  // namespace

void BitWriter::write(uint32_t code, int bits) {
  check_width(bits);
  if ((code >> bits) != 0) {
    throw std::invalid_argument("bit packing: code " + std::to_string(code) + " does not fit in " +
                                std::to_string(bits) + " bits");
  }
  // A code of at most 16 bits spans at most 3 bytes; fill them from the lowest free bit upwards.
  int written = 0;
  while (written < bits) {
    const auto offset = static_cast<int>(bit_count_ % 8);
    if (offset == 0) bytes_.push_back('\0');
    const int take = std::min(8 - offset, bits - written);
    const auto chunk = static_cast<uint8_t>((code >> written) & ((1u << take) - 1u));
    bytes_.back() = static_cast<char>(static_cast<uint8_t>(bytes_.back()) | (chunk << offset));
    written += take;
    bit_count_ += static_cast<uint64_t>(take);
  }
}

uint32_t BitReader::read(int bits) {
  check_width(bits);
  if (bit_position_ + static_cast<uint64_t>(bits) > static_cast<uint64_t>(size_) * 8) {
    throw std::out_of_range("bit packing: reading past the end of " + std::to_string(size_) + " bytes");
  }
  uint32_t code = 0;
  int read_bits = 0;
  while (read_bits < bits) {
    const auto offset = static_cast<int>(bit_position_ % 8);
    const int take = std::min(8 - offset, bits - read_bits);
    const uint32_t chunk = (static_cast<uint32_t>(data_[bit_position_ / 8]) >> offset) & ((1u << take) - 1u);
    code |= chunk << read_bits;
    read_bits += take;
    bit_position_ += static_cast<uint64_t>(take);
  }
  return code;
}

}  // namespace quantsim
