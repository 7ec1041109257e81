#pragma once
// Helpers shared by the fuzz targets (tests/fuzz/*_fuzz.cpp). Each target is its own binary, so
// these live in lwgate::fuzz and nothing here is linked into anything else.
//
// Seeds are meant to be written by hand, so the targets read their input as text where they
// can: lines, and "key value" fields. A property that fails calls check(), which prints the
// reason and aborts: libFuzzer and the corpus replay (replay_main.cpp) both report that as a
// crash with the input that caused it. check() works in release builds, unlike assert().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lwgate::fuzz {

inline void check(bool ok, std::string_view what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

inline std::string_view asText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline std::span<const std::uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Splits at '\n' (a trailing "\r" stays part of the line), at most maxLines lines; the rest of
// the input after the last split stays in the last line.
inline std::vector<std::string_view> lines(std::string_view text, std::size_t maxLines) {
  std::vector<std::string_view> out;
  while (!text.empty() && out.size() + 1 < maxLines) {
    auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) return out;
    text.remove_prefix(nl + 1);
  }
  if (!text.empty()) out.push_back(text);
  return out;
}

// Consumes fixed-size numbers from the front of binary input; 0 when it runs out.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> data) : data_(data) {}
  std::uint8_t byte() {
    if (data_.empty()) return 0;
    std::uint8_t b = data_.front();
    data_ = data_.subspan(1);
    return b;
  }
  std::uint16_t u16() {
    std::uint16_t hi = byte();
    return static_cast<std::uint16_t>(hi << 8 | byte());
  }
  // Up to n bytes.
  std::span<const std::uint8_t> bytes(std::size_t n) {
    n = std::min(n, data_.size());
    auto out = data_.first(n);
    data_ = data_.subspan(n);
    return out;
  }
  std::span<const std::uint8_t> rest() {
    auto out = data_;
    data_ = {};
    return out;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::span<const std::uint8_t> data_;
};

}  // namespace lwgate::fuzz
