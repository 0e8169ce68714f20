#pragma once
// Seeded mutation ("fuzz") testing of the readers of user files, for tests/app/test_reader_fuzz.cpp: the settings
// (seed, number of mutants), the mutators (bytes, JSON structure, lines of text), running the quant-sim binary under
// a timeout, the checks that every outcome must pass, and the report of failures.
//
// Each reader's test makes one fixture, then for mutant k = 0, 1, ... draws a generator seeded from (seed, reader,
// k), mutates the reader's file, runs quant-sim on it and judges the outcome against an Expectation that the test
// derives from the mutated text itself (the oracle). Every outcome must be one of:
//   - a clean error: exit 2, exactly one line "quant-sim: error: ..." (naming the mutated file when the mutant is
//     invalid), and otherwise only warning lines;
//   - for a mutant that means the same as the original: a success with the same result;
//   - for a mutant that validly changes the meaning: a success whose result is consistent (exactly what the oracle
//     computes where it can, finite and in range where it cannot).
// Anything else fails: a crash, a signal, a hang, "internal error", a stack trace, an invalid input accepted, or a
// changed answer where the same one was due.
//
// Environment: QUANTSIM_FUZZ_SEED (default kDefaultSeed), QUANTSIM_FUZZ_ITERATIONS (mutants per reader, default per
// reader), QUANTSIM_FUZZ_MUTANT (run only mutant k: the replay of one failure).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quantsim/core/splitmix64.h"

namespace quantsim::testing::fuzz {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr uint64_t kDefaultSeed = 20240613;
constexpr int kRunTimeoutSeconds = 20;
constexpr int kMaxHangsPerReader = 3;  // a reader that hangs this often stops early: the test stays bounded
constexpr int kDetailedFailures = 8;   // failures printed in full; the rest are only counted
constexpr size_t kExcerptLineLength = 200;

// ---------------------------------------------------------------------------------------------------------------
// Settings

struct Settings {
  uint64_t seed = kDefaultSeed;
  std::optional<int> iterations;   // mutants per reader; the reader's default when absent
  std::optional<int> only_mutant;  // replay one mutant
};

inline std::optional<uint64_t> environment_number(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const unsigned long long number = std::strtoull(value, &end, 0);
  if (*end != '\0') {
    ADD_FAILURE() << name << "=" << value << " is not a number";
    return std::nullopt;
  }
  return number;
}

inline Settings settings_from_environment() {
  Settings settings;
  if (const auto seed = environment_number("QUANTSIM_FUZZ_SEED")) settings.seed = *seed;
  if (const auto n = environment_number("QUANTSIM_FUZZ_ITERATIONS")) settings.iterations = static_cast<int>(*n);
  if (const auto k = environment_number("QUANTSIM_FUZZ_MUTANT")) settings.only_mutant = static_cast<int>(*k);
  return settings;
}

// ---------------------------------------------------------------------------------------------------------------
// Random choices

class Random {
 public:
  explicit Random(uint64_t seed) : generator_(seed) {}
  uint64_t next() { return generator_.next(); }
  // Uniform in [0, n); 0 when n is 0.
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
  bool one_in(size_t n) { return below(n) == 0; }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

 private:
  SplitMix64 generator_;
};

// The seed of mutant `index` of `reader`: each mutant can be replayed alone, and adding a reader or changing the
// number of mutants of one does not change the mutants of the others.
inline uint64_t mutant_seed(uint64_t seed, const std::string& reader, int index) {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : reader) hash = (hash ^ c) * 1099511628211ULL;
  SplitMix64 mix(seed ^ hash ^ (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL));
  return mix.next();
}

// ---------------------------------------------------------------------------------------------------------------
// Text helpers

// Non-printable bytes escaped and the text cut to `limit` characters: for descriptions and excerpts.
inline std::string printable(const std::string& text, size_t limit = 40) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= limit) return out + "...(" + std::to_string(text.size()) + " bytes)";
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

inline bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

inline std::string quoted(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Parses JSON for an oracle: a list or object nested deeper than 64 becomes the string "(nested too deep)", so that
// copying and comparing the document (recursive in nlohmann) cannot overflow the stack on a deep-nesting mutant.
// Throws as parse does.
template <typename AnyJson>
AnyJson parse_shallow(const std::string& text) {
  return AnyJson::parse(text, [](int depth, typename AnyJson::parse_event_t event, AnyJson& parsed) {
    const bool container_end = event == AnyJson::parse_event_t::object_end ||
                               event == AnyJson::parse_event_t::array_end;
    if (container_end && depth > 64) parsed = "(nested too deep)";
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Mutants

struct Mutant {
  std::string description;  // what was done, for the failure report
  std::string text;         // the mutated file
};

// Kinds of mutation: the mutant with index k of a reader has kind k modulo the number of kinds, so that every kind
// is exercised in every run; the generator chooses where and how.
constexpr size_t kByteKinds = 5;
constexpr size_t kJsonKinds = 12;
constexpr size_t kLineKinds = 10;

// Byte-level: flip a bit, delete a span, insert bytes, truncate, duplicate a span.
inline Mutant mutate_bytes(const std::string& text, Random& rng, size_t kind) {
  const size_t size = text.size();
  const size_t at = rng.below(size + 1);
  switch (kind % kByteKinds) {
    case 0: {
      if (size == 0) break;
      const size_t offset = rng.below(size);
      const int bit = static_cast<int>(rng.below(8));
      std::string out = text;
      out[offset] = static_cast<char>(out[offset] ^ (1 << bit));
      return {"bytes: flip bit " + std::to_string(bit) + " of byte " + std::to_string(offset) + " ('" +
                  printable(text.substr(offset, 1)) + "' -> '" + printable(out.substr(offset, 1)) + "')",
              out};
    }
    case 1: {
      const size_t length = 1 + rng.below(16);
      return {"bytes: delete '" + printable(text.substr(at, length)) + "' at " + std::to_string(at),
              text.substr(0, at) + text.substr(std::min(size, at + length))};
    }
    case 2: {
      static const std::string kAlphabet = std::string("{}[]\",:-+.eE0123456789 \t\r\nnultrufas\\/") + '\0' + "\xff";
      std::string bytes;
      const size_t length = 1 + rng.below(6);
      for (size_t i = 0; i < length; ++i) {
        bytes += rng.one_in(3) ? static_cast<char>(rng.below(256)) : kAlphabet[rng.below(kAlphabet.size())];
      }
      return {"bytes: insert '" + printable(bytes) + "' at " + std::to_string(at),
              text.substr(0, at) + bytes + text.substr(at)};
    }
    case 3:
      return {"bytes: truncate to " + std::to_string(at) + " of " + std::to_string(size) + " bytes",
              text.substr(0, at)};
    default: break;
  }
  // Duplicate a span (also the fallback for an empty text).
  const size_t length = 1 + rng.below(64);
  const std::string span = text.substr(at, length);
  const size_t to = rng.below(size + 1);
  return {"bytes: duplicate '" + printable(span) + "' from " + std::to_string(at) + " to " + std::to_string(to),
          text.substr(0, to) + span + text.substr(to)};
}

namespace detail {

inline void collect_pointers(const Json& value, const Json::json_pointer& at, std::vector<Json::json_pointer>& out) {
  out.push_back(at);
  if (value.is_object()) {
    for (const auto& item : value.items()) collect_pointers(item.value(), at / item.key(), out);
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) collect_pointers(value[i], at / i, out);
  }
}

inline std::string short_dump(const Json& value) { return printable(value.dump(), 40); }

// Raw tokens are written in place of a placeholder string after dumping: NaN and 1e400 are not JSON values.
constexpr const char* kRawPlaceholder = "@@quant-sim-fuzz-raw@@";

inline std::string dump_with_raw(const Json& document, int indent, const std::string& raw) {
  std::string text = document.dump(indent, ' ', false, Json::error_handler_t::replace);
  const std::string placeholder = std::string("\"") + kRawPlaceholder + "\"";
  const size_t at = text.find(placeholder);
  if (at != std::string::npos) text.replace(at, placeholder.size(), raw);
  return text;
}

inline void erase_at(Json& document, const Json::json_pointer& at) {
  Json& parent = document[at.parent_pointer()];
  if (parent.is_object()) {
    parent.erase(at.back());
  } else {
    parent.erase(static_cast<size_t>(std::stoul(at.back())));
  }
}

// Pairs of sibling keys whose values swap into an inconsistent file (min > max).
inline std::vector<Json::json_pointer> swappable_pairs(const Json& document,
                                                       const std::vector<Json::json_pointer>& pointers) {
  std::vector<Json::json_pointer> objects;  // objects holding a min/max pair
  for (const auto& at : pointers) {
    const Json& value = document[at];
    if (value.is_object() && ((value.contains("min") && value.contains("max")) ||
                              (value.contains("min_batch_mean") && value.contains("max_batch_mean")))) {
      objects.push_back(at);
    }
  }
  return objects;
}

}  // namespace detail

// Structure-aware JSON mutations: another type, an extreme number (huge, negative), a number that JSON cannot hold
// (NaN, 1e400), an empty string, a deleted key, swapped min/max, a number scaled or nudged, deep nesting, a changed
// string, an extra key, a duplicated list element. `indent` is the dump style (-1: one line, as in a .jsonl file).
// Texts that do not parse get byte mutations. `focus` (JSON pointers) names the parts a reader's answer depends on:
// three mutants in four change a value at or below one of them.
inline Mutant mutate_json(const std::string& text, Random& rng, int indent, size_t kind,
                          const std::vector<std::string>& focus = {}) {
  Json document;
  try {
    document = Json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return mutate_bytes(text, rng, kind);
  }
  std::vector<Json::json_pointer> pointers;
  detail::collect_pointers(document, Json::json_pointer(), pointers);
  if (!focus.empty() && !rng.one_in(4)) {
    std::vector<Json::json_pointer> focused;
    for (const auto& at : pointers) {
      const std::string path = at.to_string();
      for (const std::string& prefix : focus) {
        if (path == prefix || starts_with(path, prefix + "/")) {
          focused.push_back(at);
          break;
        }
      }
    }
    if (!focused.empty()) pointers = focused;
  }
  std::vector<Json::json_pointer> numbers, strings, inner;
  for (const auto& at : pointers) {
    if (document[at].is_number()) numbers.push_back(at);
    if (document[at].is_string()) strings.push_back(at);
    if (!at.empty()) inner.push_back(at);
  }
  if (inner.empty()) return mutate_bytes(text, rng, kind);
  const auto& at = rng.pick(inner);
  Json& node = document[at];
  const std::string where = at.to_string();
  const std::string was = detail::short_dump(node);

  switch (kind % kJsonKinds) {
    case 0: {  // another type
      const std::vector<Json> others = {nullptr, true, "text", Json::array(), Json::object(), 0, Json::array({1, 2})};
      Json replacement = rng.pick(others);
      if (replacement.type() == node.type()) replacement = node.is_string() ? Json(7) : Json("7");
      node = replacement;
      return {"json: " + where + " " + was + " -> " + detail::short_dump(replacement),
              document.dump(indent, ' ', false, Json::error_handler_t::replace)};
    }
    case 1:    // an extreme number
    case 2: {  // a number JSON cannot hold, written raw, or the statistics file's own names of non-finite numbers
      static const std::vector<std::string> kExtreme = {"1e308",
                                                        "-1e308",
                                                        "9223372036854775807",
                                                        "18446744073709551616",
                                                        "-9223372036854775809",
                                                        "2147483648",
                                                        "4294967296",
                                                        "-1",
                                                        "0",
                                                        "-0.0",
                                                        "1e-320"};
      static const std::vector<std::string> kNotFinite = {"NaN",    "nan",     "Infinity", "-Infinity", "1e400",
                                                          "-1e400", "\"nan\"", "\"inf\"",  "\"-inf\""};
      const std::vector<std::string>& kTokens = kind % kJsonKinds == 1 ? kExtreme : kNotFinite;
      const Json::json_pointer target_at = numbers.empty() ? at : rng.pick(numbers);
      const std::string token = rng.pick(kTokens);
      const std::string before = detail::short_dump(document[target_at]);
      document[target_at] = detail::kRawPlaceholder;
      return {"json: " + target_at.to_string() + " " + before + " -> " + token,
              detail::dump_with_raw(document, indent, token)};
    }
    case 3:  // empty string
      node = "";
      return {"json: " + where + " " + was + " -> \"\"",
              document.dump(indent, ' ', false, Json::error_handler_t::replace)};
    case 4:  // delete the key or element
      detail::erase_at(document, at);
      return {"json: delete " + where + " (was " + was + ")",
              document.dump(indent, ' ', false, Json::error_handler_t::replace)};
    case 5: {  // swap min/max, else two siblings
      const auto pairs = detail::swappable_pairs(document, pointers);
      if (!pairs.empty()) {
        const Json::json_pointer object_at = rng.pick(pairs);
        Json& object = document[object_at];
        const bool extremes = object.contains("min") && object.contains("max") &&
                              (!object.contains("min_batch_mean") || rng.one_in(2));
        const char* low = extremes ? "min" : "min_batch_mean";
        const char* high = extremes ? "max" : "max_batch_mean";
        std::swap(object[low], object[high]);
        return {std::string("json: swap ") + low + "/" + high + " of " + object_at.to_string(),
                document.dump(indent, ' ', false, Json::error_handler_t::replace)};
      }
      Json& parent = document[at.parent_pointer()];
      if (parent.size() >= 2) {
        const std::string parent_where = at.parent_pointer().to_string();
        if (parent.is_array()) {
          const size_t i = rng.below(parent.size()), j = (i + 1 + rng.below(parent.size() - 1)) % parent.size();
          std::swap(parent[i], parent[j]);
          return {"json: swap elements " + std::to_string(i) + " and " + std::to_string(j) + " of " + parent_where,
                  document.dump(indent, ' ', false, Json::error_handler_t::replace)};
        }
        std::vector<std::string> keys;
        for (const auto& item : parent.items()) keys.push_back(item.key());
        const size_t i = rng.below(keys.size()), j = (i + 1 + rng.below(keys.size() - 1)) % keys.size();
        const std::string a = keys[i], b = keys[j];
        std::swap(parent[a], parent[b]);
        return {"json: swap values of " + a + " and " + b + " in " + parent_where,
                document.dump(indent, ' ', false, Json::error_handler_t::replace)};
      }
      [[fallthrough]];
    }
    case 6: {  // scale a number
      if (numbers.empty()) break;
      const auto& number_at = rng.pick(numbers);
      Json& number = document[number_at];
      static const std::vector<double> kFactors = {-1.0, 1e30, -1e30, 1e-30, 0.0};
      const double factor = rng.pick(kFactors);
      const std::string before = detail::short_dump(number);
      number = number.get<double>() * factor;
      return {"json: " + number_at.to_string() + " " + before + " * " + detail::short_dump(Json(factor)),
              document.dump(indent, ' ', false, Json::error_handler_t::replace)};
    }
    case 7: {  // nudge a number to a nearby value: often still valid, with another meaning
      if (numbers.empty()) break;
      const auto& number_at = rng.pick(numbers);
      Json& number = document[number_at];
      const std::string before = detail::short_dump(number);
      if (number.is_number_integer()) {
        number = number.get<int64_t>() + (rng.one_in(2) ? 1 : -1);
      } else {
        static const std::vector<double> kFactors = {0.5, 0.9, 0.999, 1.001, 1.1, 2.0};
        number = number.get<double>() * rng.pick(kFactors);
      }
      return {"json: nudge " + number_at.to_string() + " " + before + " -> " + detail::short_dump(number),
              document.dump(indent, ' ', false, Json::error_handler_t::replace)};
    }
    case 8: {  // deep nesting in place of a value
      const size_t depth = rng.one_in(2) ? 100000 : 1000;
      const std::string raw = rng.one_in(2) ? std::string(depth, '[') + std::string(depth, ']') : [&] {
        std::string nested;
        for (size_t i = 0; i < depth; ++i) nested += "{\"a\":";
        return nested + "1" + std::string(depth, '}');
      }();
      node = detail::kRawPlaceholder;
      return {"json: " + where + " " + was + " -> nesting " + std::to_string(depth) + " deep",
              detail::dump_with_raw(document, indent, raw)};
    }
    case 9: {  // change a string
      if (strings.empty()) break;
      const auto& string_at = rng.pick(strings);
      Json& value = document[string_at];
      const std::string before = detail::short_dump(value);
      std::string changed = value.get<std::string>();
      switch (rng.below(3)) {
        case 0: changed += "x"; break;
        case 1: changed = changed.substr(0, changed.size() / 2); break;
        default: changed = document[rng.pick(strings)].get<std::string>(); break;  // another string of the file
      }
      value = changed;
      return {"json: " + string_at.to_string() + " " + before + " -> " + detail::short_dump(value),
              document.dump(indent, ' ', false, Json::error_handler_t::replace)};
    }
    case 10: {  // an extra key
      const Json::json_pointer object_at = node.is_object() ? at : at.parent_pointer();
      Json& object = document[object_at];
      if (!object.is_object()) break;
      object["fuzz_extra_key"] = 1;
      return {"json: add key fuzz_extra_key to " + object_at.to_string(),
              document.dump(indent, ' ', false, Json::error_handler_t::replace)};
    }
    default: {  // duplicate a list element
      Json& parent = document[at.parent_pointer()];
      if (!parent.is_array()) break;
      const Json copy = node;
      parent.insert(parent.begin() + static_cast<std::ptrdiff_t>(std::stoul(at.back())), copy);
      return {"json: duplicate element " + where, document.dump(indent, ' ', false, Json::error_handler_t::replace)};
    }
  }
  // The drawn mutation did not apply here: a value of another type never fails to.
  node = node.is_string() ? Json(7) : Json("7");
  return {"json: " + where + " " + was + " -> " + detail::short_dump(node),
          document.dump(indent, ' ', false, Json::error_handler_t::replace)};
}

// A changed line with another (valid) label, or nullopt when the line has none; per reader.
using Relabel = std::function<std::optional<std::string>(const std::string& line, Random& rng)>;

// Line-level: drop, duplicate, duplicate with another label, relabel, swap, empty line, very long line, CR/space
// endings, a line of junk.
inline Mutant mutate_lines(const std::string& text, Random& rng, const Relabel& relabel, size_t kind) {
  std::vector<std::string> lines = split_lines(text);
  if (lines.empty()) return mutate_bytes(text, rng, kind);
  const size_t k = rng.below(lines.size());
  const std::string line_k = "line " + std::to_string(k + 1);
  switch (kind % kLineKinds) {
    case 0: {
      const std::string dropped = lines[k];
      lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(k));
      return {"lines: drop " + line_k + " '" + printable(dropped) + "'", join_lines(lines)};
    }
    case 1:
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(rng.below(lines.size() + 1)), lines[k]);
      return {"lines: duplicate " + line_k + " '" + printable(lines[k]) + "'", join_lines(lines)};
    case 2:    // duplicate with another label
    case 3: {  // relabel
      const std::optional<std::string> changed = relabel(lines[k], rng);
      if (!changed) break;
      const bool duplicate = kind % kLineKinds == 2;
      const std::string before = lines[k];
      if (duplicate) {
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(k + 1), *changed);
      } else {
        lines[k] = *changed;
      }
      return {std::string("lines: ") + (duplicate ? "duplicate " : "relabel ") + line_k + " '" + printable(before) +
                  "' as '" + printable(*changed) + "'",
              join_lines(lines)};
    }
    case 4: {
      if (lines.size() < 2) break;
      const size_t j = (k + 1 + rng.below(lines.size() - 1)) % lines.size();
      std::swap(lines[k], lines[j]);
      return {"lines: swap lines " + std::to_string(k + 1) + " and " + std::to_string(j + 1), join_lines(lines)};
    }
    case 5: {
      const size_t at = rng.below(lines.size() + 1);
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), rng.one_in(2) ? "" : " \t");
      return {"lines: blank line before line " + std::to_string(at + 1), join_lines(lines)};
    }
    case 6: {
      const size_t at = rng.below(lines.size() + 1);
      std::string longer;
      if (rng.one_in(2)) {
        longer = std::string(200000, 'x');
      } else {
        while (longer.size() < 200000) longer += lines[k] + " ";
      }
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), longer);
      return {"lines: a line of " + std::to_string(longer.size()) + " bytes before line " + std::to_string(at + 1),
              join_lines(lines)};
    }
    case 7:
      lines[k] += rng.one_in(2) ? "\r" : "  ";
      return {"lines: " + line_k + " ends in '" + printable(lines[k].substr(lines[k].size() - 1)) + "'",
              join_lines(lines)};
    case 8: {
      static const std::vector<std::string> kJunk = {"%%%", "#", ",", "0", "-1", "\xef\xbb\xbf", "a b c d e f"};
      const std::string junk = rng.pick(kJunk);
      lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(k), junk);
      return {"lines: junk line '" + printable(junk) + "' before " + line_k, join_lines(lines)};
    }
    default: break;
  }
  // No final newline (also the fallback when the drawn mutation did not apply).
  std::string out = join_lines(lines);
  out.pop_back();
  return {"lines: no newline at the end", out};
}

// Mutant `index` of a JSON file: byte-level or structural, by kind.
inline Mutant mutate_json_file(const std::string& text, Random& rng, int index, int indent,
                               const std::vector<std::string>& focus = {}) {
  const size_t kind = static_cast<size_t>(index) % (kByteKinds + kJsonKinds);
  return kind < kByteKinds ? mutate_bytes(text, rng, kind) : mutate_json(text, rng, indent, kind - kByteKinds, focus);
}

// Mutant `index` of a file of lines: byte-level or line-level, by kind.
inline Mutant mutate_line_file(const std::string& text, Random& rng, int index, const Relabel& relabel) {
  const size_t kind = static_cast<size_t>(index) % (kByteKinds + kLineKinds);
  return kind < kByteKinds ? mutate_bytes(text, rng, kind) : mutate_lines(text, rng, relabel, kind - kByteKinds);
}

// ---------------------------------------------------------------------------------------------------------------
// Running quant-sim

struct RunOutput {
  int exit_code = -1;  // 124/137: timed out; 128+N: killed by signal N
  std::string out;     // stdout
  std::string err;     // stderr

  std::vector<std::string> lines() const {
    std::vector<std::string> all = split_lines(err);
    for (const std::string& line : split_lines(out)) all.push_back(line);
    return all;
  }
  bool timed_out() const { return exit_code == 124 || exit_code == 137; }
};

// Runs `quant-sim ARGS` (arguments already quoted) in `work_dir` under a timeout, stdout and stderr apart.
inline RunOutput run_quant_sim_in(const std::string& work_dir, const std::string& args) {
  const std::string out = work_dir + "/.fuzz_stdout", err = work_dir + "/.fuzz_stderr";
  // One thread: CI has 2 cores and runs two tests at once, and the statistics come out the same on every machine.
  const std::string command = "cd " + quoted(work_dir) + " && OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout -k 5 " +
                              std::to_string(kRunTimeoutSeconds) + " " +
                              quoted(std::string(QUANTSIM_BINARY_DIR) + "/quant-sim") + " " + args + " > " +
                              quoted(out) + " 2> " + quoted(err) + " < /dev/null";
  const int status = std::system(command.c_str());
  RunOutput run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = read_text(out);
  run.err = read_text(err);
  return run;
}

// The first lines of a run, for a failure report.
inline std::string excerpt(const RunOutput& run, size_t lines = 3) {
  std::string text;
  const std::vector<std::string> all = run.lines();
  for (size_t i = 0; i < all.size() && i < lines; ++i) text += "    | " + printable(all[i], kExcerptLineLength) + "\n";
  if (all.size() > lines) text += "    | ... (" + std::to_string(all.size()) + " lines)\n";
  return text;
}

// ---------------------------------------------------------------------------------------------------------------
// Checks every outcome must pass

inline bool is_warning_line(const std::string& line) {
  // "quant-sim: warning: ...", "quant-sim merge: warning: ...", and spdlog's default "[time] [warning] ..." (the
  // data readers warn through spdlog).
  static const std::vector<std::string> kPrefixes = {
      "quant-sim: warning: ", "quant-sim merge: warning: ", "quant-sim sweep: warning: ", "quant-sim gate: warning: ",
      "quant-sim report: warning: "};
  for (const std::string& prefix : kPrefixes) {
    if (starts_with(line, prefix)) return true;
  }
  return starts_with(line, "[") && line.find("] [warning] ") != std::string::npos;
}

// What no run may show, whatever its exit code: "" when none.
inline std::string crash_problem(const RunOutput& run) {
  if (run.timed_out()) return "hang: killed after " + std::to_string(kRunTimeoutSeconds) + " s";
  if (run.exit_code >= 128) return "killed by signal " + std::to_string(run.exit_code - 128);
  const std::string all = run.err + run.out;
  for (const char* sign : {"internal error", "terminate called", "Exception raised from", "frame #", "Traceback",
                           "Segmentation fault", "core dumped", "Assertion", "what():"}) {
    if (all.find(sign) != std::string::npos) return std::string(sign) + " in the output";
  }
  return "";
}

// "" when the run is a clean user error: exit 2 and one "quant-sim: error: " line, any other line a warning.
inline std::string unclean_error_problem(const RunOutput& run) {
  int errors = 0;
  for (const std::string& line : run.lines()) {
    if (starts_with(line, "quant-sim: error: ")) {
      ++errors;
    } else if (!is_warning_line(line)) {
      return "exit 2 but a line that is neither the error nor a warning: '" + printable(line, 80) + "'";
    }
  }
  if (errors != 1) return "exit 2 with " + std::to_string(errors) + " 'quant-sim: error:' lines";
  return "";
}

inline std::string error_line(const RunOutput& run) {
  for (const std::string& line : run.lines()) {
    if (starts_with(line, "quant-sim: error: ")) return line;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------------------------
// The oracle's verdict

enum class Expect {
  kError,    // the mutant is invalid: only a clean error naming the file will do
  kSame,     // the mutant means what the original means: a clean error, or the same result
  kChanged,  // the mutant validly means something else: a clean error, or a consistent result
};

struct Expectation {
  Expect kind = Expect::kError;
  std::string why;  // e.g. "sites[0].per_tensor.min > max"

  static Expectation error(std::string why) { return {Expect::kError, std::move(why)}; }
  static Expectation same(std::string why = "same meaning") { return {Expect::kSame, std::move(why)}; }
  static Expectation changed(std::string why) { return {Expect::kChanged, std::move(why)}; }
};

inline const char* expect_name(Expect kind) {
  switch (kind) {
    case Expect::kError: return "a clean error";
    case Expect::kSame: return "the same result or a clean error";
    case Expect::kChanged: return "a consistent result or a clean error";
  }
  return "?";
}

// How one command's run is judged: the file it must name when it refuses the mutant, the exit codes of a run that
// went through (gate: 0 passed, 3 accuracy dropped), and the result checks ("" when fine).
struct Judge {
  std::string file_name;
  std::vector<int> success_codes = {0};
  std::function<std::string(const RunOutput&)> same_result;
  std::function<std::string(const RunOutput&)> consistent_result;
};

struct Verdict {
  std::string outcome;  // "clean error", "same result", "changed result"; empty on failure
  std::string problem;  // empty when the outcome is fine
};

inline Verdict judge_run(const RunOutput& run, const Expectation& expectation, const Judge& judge) {
  if (std::string problem = crash_problem(run); !problem.empty()) return {"", problem};
  if (run.exit_code == 2) {
    if (std::string problem = unclean_error_problem(run); !problem.empty()) return {"", problem};
    if (expectation.kind == Expect::kError && error_line(run).find(judge.file_name) == std::string::npos) {
      return {"", "the error does not name " + judge.file_name};
    }
    return {"clean error", ""};
  }
  if (std::find(judge.success_codes.begin(), judge.success_codes.end(), run.exit_code) == judge.success_codes.end()) {
    return {"", "exit " + std::to_string(run.exit_code)};
  }
  switch (expectation.kind) {
    case Expect::kError: return {"", "ACCEPTED INVALID INPUT (exit " + std::to_string(run.exit_code) + ")"};
    case Expect::kSame:
      if (std::string problem = judge.same_result(run); !problem.empty()) return {"", "WRONG ANSWER: " + problem};
      return {"same result", ""};
    case Expect::kChanged:
      if (std::string problem = judge.consistent_result(run); !problem.empty()) {
        return {"", "WRONG ANSWER: " + problem};
      }
      return {"changed result", ""};
  }
  return {"", "?"};
}

// ---------------------------------------------------------------------------------------------------------------
// The report of one reader's mutants

class Report {
 public:
  Report(std::string reader, const Settings& settings) : reader_(std::move(reader)), settings_(settings) {}

  void count(const std::string& outcome) { ++outcomes_[outcome]; }

  void failure(int index, const Mutant& mutant, const Expectation& expectation, const std::string& command,
               const Verdict& verdict, const RunOutput& run) {
    ++failures_;
    ++problems_[problem_class(verdict.problem + " <- " + expectation.why)];
    if (failures_ > kDetailedFailures) return;
    details_ += "  mutant " + std::to_string(index) + ": " + mutant.description + "\n" + "    expected " +
                expect_name(expectation.kind) + " (" + printable(expectation.why, 120) + ")\n" + "    " + command +
                ": " + printable(verdict.problem, 200) + "\n" + excerpt(run) +
                "    replay: QUANTSIM_FUZZ_SEED=" + std::to_string(settings_.seed) +
                " QUANTSIM_FUZZ_MUTANT=" + std::to_string(index) + " tests/test_app --gtest_filter=ReaderFuzz." +
                reader_ + "\n";
  }

  // One line for every run, then the failures (if any) as a single test failure of bounded length.
  void finish(int mutants) const {
    std::string summary = "ReaderFuzz." + reader_ + ": " + std::to_string(mutants) + " mutants, seed " +
                          std::to_string(settings_.seed) + ":";
    for (const auto& [outcome, n] : outcomes_) summary += " " + std::to_string(n) + " " + outcome + ",";
    summary += " " + std::to_string(failures_) + " failed";
    if (failures_ == 0) {
      std::printf("%s\n", summary.c_str());
      return;
    }
    std::string classes;
    for (const auto& [problem, n] : problems_) classes += "    " + std::to_string(n) + " x " + problem + "\n";
    ADD_FAILURE() << summary << "\n  by problem:\n"
                  << classes << details_
                  << (failures_ > kDetailedFailures
                          ? "  (" + std::to_string(failures_ - kDetailedFailures) + " more failures not shown)\n"
                          : "");
  }

 private:
  // The problem without its particulars (numbers not part of a name, quoted text), to count failures by kind.
  static std::string problem_class(const std::string& problem) {
    std::string out;
    bool quoted_text = false, in_number = false;
    for (size_t i = 0; i < problem.size(); ++i) {
      const char c = problem[i];
      const bool digit = std::isdigit(static_cast<unsigned char>(c)) ||
                         (in_number && c == '.' && i + 1 < problem.size() &&
                          std::isdigit(static_cast<unsigned char>(problem[i + 1])));
      if (c == '\'') {
        quoted_text = !quoted_text;
        if (quoted_text) out += "'...'";
      } else if (quoted_text) {
        continue;
      } else if (digit && (in_number || i == 0 || !std::isalpha(static_cast<unsigned char>(problem[i - 1])))) {
        if (!in_number) out += 'N';
        in_number = true;
        continue;
      } else {
        out += c;
      }
      in_number = false;
    }
    return printable(out, 160);
  }

  std::string reader_;
  Settings settings_;
  std::map<std::string, int> outcomes_;
  std::map<std::string, int> problems_;
  int failures_ = 0;
  std::string details_;
};

// ---------------------------------------------------------------------------------------------------------------
// The driver

// One reader under test: the file it reads, how to mutate it, the oracle, and the commands that read it.
struct ReaderUnderTest {
  std::string name;  // the TEST's name, e.g. "StatisticsFile"
  std::string file;  // the file the mutants replace
  int default_mutants = 30;
  std::function<Mutant(const std::string& original, Random& rng, int index)> mutate;
  std::function<Expectation(const std::string& mutant_text)> expect;
  // The commands that read the file: each runs, then is judged.
  struct Command {
    std::string name;  // e.g. "report"
    std::function<RunOutput()> run;
    std::function<Judge(const Expectation&, const std::string& mutant_text)> judge;
    // The command's own oracle, when it reads other parts of the file than the reader's `expect` judges.
    std::function<Expectation(const std::string& mutant_text)> expect;
  };
  std::vector<Command> commands;
};

inline void fuzz_reader(const ReaderUnderTest& reader) {
  const Settings settings = settings_from_environment();
  const std::string original = read_text(reader.file);
  ASSERT_FALSE(original.empty()) << reader.file;
  const auto expect = [&reader](const ReaderUnderTest::Command& command, const std::string& text) {
    return command.expect ? command.expect(text) : reader.expect(text);
  };
  for (const auto& command : reader.commands) {
    const Expectation unmutated = expect(command, original);
    ASSERT_EQ(unmutated.kind, Expect::kSame)
        << command.name << ": the oracle refuses the unmutated " << reader.file << ": " << unmutated.why;
  }
  const int count = settings.iterations.value_or(reader.default_mutants);
  int first = 0, last = count;
  if (settings.only_mutant) first = *settings.only_mutant, last = first + 1;

  Report report(reader.name, settings);
  int hangs = 0, ran = 0;
  for (int index = first; index < last && hangs < kMaxHangsPerReader; ++index, ++ran) {
    Random rng(mutant_seed(settings.seed, reader.name, index));
    const Mutant mutant = reader.mutate(original, rng, index);
    write_text(reader.file, mutant.text);
    for (const auto& command : reader.commands) {
      const Expectation expectation = expect(command, mutant.text);
      const RunOutput run = command.run();
      const Verdict verdict = judge_run(run, expectation, command.judge(expectation, mutant.text));
      hangs += run.timed_out() ? 1 : 0;
      if (verdict.problem.empty()) {
        report.count(verdict.outcome);
      } else {
        report.failure(index, mutant, expectation, command.name, verdict, run);
      }
    }
  }
  write_text(reader.file, original);
  if (hangs >= kMaxHangsPerReader) ADD_FAILURE() << "stopped after " << hangs << " hangs";
  report.finish(ran);
}

// ---------------------------------------------------------------------------------------------------------------
// Logits written by --save-logits (.npy, little-endian float32, C order, 2 dimensions)

struct Logits {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;

  const float* row(int64_t i) const { return values.data() + i * cols; }
  int64_t argmax(int64_t i) const {
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c) {
      if (row(i)[c] > row(i)[best]) best = c;
    }
    return best;
  }
  bool finite() const {
    for (float v : values) {
      if (!std::isfinite(v)) return false;
    }
    return true;
  }
};

inline std::optional<Logits> read_logits(const std::string& path) {
  const std::string bytes = read_text(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return std::nullopt;
  const size_t header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  const std::string header = bytes.substr(10, header_length);
  const size_t open = header.find("'shape': ("), comma = header.find(',', open);
  if (header.find("'<f4'") == std::string::npos || open == std::string::npos || comma == std::string::npos) {
    return std::nullopt;
  }
  Logits logits;
  logits.rows = std::stoll(header.substr(open + 10));
  logits.cols = std::stoll(header.substr(comma + 1));
  const size_t data = 10 + header_length, size = static_cast<size_t>(logits.rows * logits.cols) * sizeof(float);
  if (bytes.size() != data + size) return std::nullopt;
  logits.values.resize(static_cast<size_t>(logits.rows * logits.cols));
  std::memcpy(logits.values.data(), bytes.data() + data, size);
  return logits;
}

}  // namespace quantsim::testing::fuzz
