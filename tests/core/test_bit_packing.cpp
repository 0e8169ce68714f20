// Bit packing of integer codes: exact round trips at every width, the documented little-endian layout, and errors.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "quantsim/core/bit_packing.h"

namespace {

using quantsim::BitReader;
using quantsim::BitWriter;

// Codes of one width written and read back as the weight packing does (weight_packing.cpp).
std::string pack_codes(const std::vector<uint32_t>& codes, int bits) {
  BitWriter writer;
  for (uint32_t code : codes) writer.write(code, bits);
  return writer.bytes();
}
std::vector<uint32_t> unpack_codes(const std::string& bytes, size_t count, int bits) {
  BitReader reader(bytes);
  std::vector<uint32_t> codes(count);
  for (uint32_t& code : codes) code = reader.read(bits);
  return codes;
}

std::vector<uint32_t> random_codes(size_t count, int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<uint32_t> code(0, (1u << bits) - 1u);
  std::vector<uint32_t> codes(count);
  for (uint32_t& c : codes) c = code(rng);
  return codes;
}

TEST(BitPacking, RandomCodesRoundTripExactlyAtEveryWidth) {
  for (int bits = 1; bits <= 16; ++bits) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{13}, size_t{1001}}) {  // not multiples of 8
      const std::vector<uint32_t> codes = random_codes(count, bits, static_cast<uint32_t>(bits * 7919 + count));
      const std::string bytes = pack_codes(codes, bits);
      EXPECT_EQ(bytes.size(), (count * bits + 7) / 8) << bits << " bits, " << count << " codes";  // no padding
      EXPECT_EQ(unpack_codes(bytes, count, bits), codes) << bits << " bits, " << count << " codes";
    }
  }
}

TEST(BitPacking, ExtremeCodesRoundTripAtEveryWidth) {
  for (int bits = 1; bits <= 16; ++bits) {
    const uint32_t max_code = (1u << bits) - 1u;
    for (const std::vector<uint32_t>& codes : {std::vector<uint32_t>(11, 0u), std::vector<uint32_t>(11, max_code),
                                               std::vector<uint32_t>{max_code, 0, max_code, 0, 0, max_code, 0}}) {
      EXPECT_EQ(unpack_codes(pack_codes(codes, bits), codes.size(), bits), codes) << bits;
    }
  }
}

TEST(BitPacking, ZeroCodesPackToZeroBytesAndPaddingIsZero) {
  EXPECT_EQ(pack_codes(std::vector<uint32_t>(9, 0u), 3), std::string(4, '\0'));
  // One 3-bit code of all ones: the five padding bits above it stay zero.
  EXPECT_EQ(pack_codes({7u}, 3), std::string(1, '\x07'));
}

TEST(BitPacking, LayoutIsLittleEndian) {
  // 4-bit codes 1, 2: code 0 in the low nibble, code 1 in the high nibble.
  EXPECT_EQ(pack_codes({1u, 2u}, 4), std::string(1, '\x21'));
  // 3-bit codes 5 (101), 3 (011), 7 (111): bits 0-2, 3-5, 6-8; the last code straddles into byte 1.
  EXPECT_EQ(pack_codes({5u, 3u, 7u}, 3), std::string("\xDD\x01", 2));
  // A 16-bit code is stored low byte first.
  EXPECT_EQ(pack_codes({0xBEEFu}, 16), std::string("\xEF\xBE", 2));
}

TEST(BitPacking, MixedWidthsRoundTrip) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> width(1, 16);
  std::vector<std::pair<uint32_t, int>> written;
  uint64_t bit_count = 0;
  BitWriter writer;
  for (int i = 0; i < 2000; ++i) {
    const int bits = width(rng);
    const uint32_t code = std::uniform_int_distribution<uint32_t>(0, (1u << bits) - 1u)(rng);
    writer.write(code, bits);
    written.emplace_back(code, bits);
    bit_count += bits;
  }
  BitReader reader(writer.bytes());
  for (const auto& [code, bits] : written) ASSERT_EQ(reader.read(bits), code);
  EXPECT_EQ(writer.bytes().size(), (bit_count + 7) / 8);
}

TEST(BitPacking, RefusesBadWidthsCodesAndReadsPastTheEnd) {
  BitWriter writer;
  EXPECT_THROW(writer.write(0, 0), std::invalid_argument);
  EXPECT_THROW(writer.write(0, 17), std::invalid_argument);
  EXPECT_THROW(writer.write(8, 3), std::invalid_argument);  // 8 needs 4 bits
  writer.write(5, 3);
  BitReader reader(writer.bytes());
  EXPECT_EQ(reader.read(3), 5u);
  EXPECT_EQ(reader.read(5), 0u);  // the padding of the last byte reads as zeros
  EXPECT_THROW(reader.read(1), std::out_of_range);
}

}  // namespace
