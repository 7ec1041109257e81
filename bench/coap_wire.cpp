#include "bench/coap_wire.h"

#include <cassert>

namespace lwgate::bench {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kPayloadMarker = 0xff;

// RFC 7252 section 3.1: 4-bit delta/length nibbles with 13 (+1 byte) and 14 (+2 bytes)
// extensions.
std::uint8_t nibble(std::uint32_t value) {
  if (value < 13) return static_cast<std::uint8_t>(value);
  if (value < 269) return 13;
  return 14;
}

void extension(std::vector<std::uint8_t>& out, std::uint32_t value) {
  if (value < 13) return;
  if (value < 269) {
    out.push_back(static_cast<std::uint8_t>(value - 13));
  } else {
    std::uint32_t v = value - 269;
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
  }
}

// Reads an extended delta or length; false when the datagram ends early or uses the reserved 15.
bool readExtended(std::uint8_t nib, const std::uint8_t*& p, const std::uint8_t* end,
                  std::uint32_t* value) {
  if (nib < 13) {
    *value = nib;
  } else if (nib == 13) {
    if (end - p < 1) return false;
    *value = 13u + p[0];
    p += 1;
  } else if (nib == 14) {
    if (end - p < 2) return false;
    *value = 269u + (static_cast<std::uint32_t>(p[0]) << 8 | p[1]);
    p += 2;
  } else {
    return false;
  }
  return true;
}

}  // namespace

MessageBuilder::MessageBuilder(std::vector<std::uint8_t>& out, MessageType type, std::uint8_t code,
                               std::uint16_t mid, const std::uint8_t* token,
                               std::size_t tokenLength)
    : out_(out) {
  assert(tokenLength <= kMaxTokenLength);
  out_.push_back(static_cast<std::uint8_t>(kVersion << 6 | static_cast<std::uint8_t>(type) << 4 |
                                           tokenLength));
  out_.push_back(code);
  out_.push_back(static_cast<std::uint8_t>(mid >> 8));
  out_.push_back(static_cast<std::uint8_t>(mid));
  out_.insert(out_.end(), token, token + tokenLength);
}

MessageBuilder& MessageBuilder::option(std::uint16_t number, std::string_view value) {
  assert(number >= lastOption_);
  std::uint32_t delta = number - lastOption_;
  auto length = static_cast<std::uint32_t>(value.size());
  out_.push_back(static_cast<std::uint8_t>(nibble(delta) << 4 | nibble(length)));
  extension(out_, delta);
  extension(out_, length);
  out_.insert(out_.end(), value.begin(), value.end());
  lastOption_ = number;
  return *this;
}

MessageBuilder& MessageBuilder::uintOption(std::uint16_t number, std::uint32_t value) {
  // uint options use the shortest big-endian form; zero is the empty string (section 3.2).
  char bytes[4];
  std::size_t n = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    auto b = static_cast<char>(value >> shift);
    if (n == 0 && b == 0) continue;
    bytes[n++] = b;
  }
  return option(number, std::string_view(bytes, n));
}

MessageBuilder& MessageBuilder::payload(std::string_view data) {
  if (data.empty()) return *this;  // a marker with no payload is a format error (3.1)
  out_.push_back(kPayloadMarker);
  out_.insert(out_.end(), data.begin(), data.end());
  return *this;
}

std::optional<ParsedMessage> parseMessage(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return std::nullopt;
  if ((data[0] >> 6) != kVersion) return std::nullopt;
  ParsedMessage m;
  m.type = static_cast<MessageType>(data[0] >> 4 & 0x3);
  m.tokenLength = data[0] & 0x0f;
  if (m.tokenLength > kMaxTokenLength) return std::nullopt;
  m.code = data[1];
  m.mid = static_cast<std::uint16_t>(data[2] << 8 | data[3]);
  const std::uint8_t* p = data + 4;
  const std::uint8_t* end = data + size;
  if (static_cast<std::size_t>(end - p) < m.tokenLength) return std::nullopt;
  for (std::size_t i = 0; i < m.tokenLength; ++i) m.token[i] = p[i];
  p += m.tokenLength;
  while (p < end) {
    if (*p == kPayloadMarker) {
      ++p;
      if (p == end) return std::nullopt;
      m.payload = std::string_view(reinterpret_cast<const char*>(p), end - p);
      return m;
    }
    std::uint8_t head = *p++;
    std::uint32_t delta = 0;
    std::uint32_t length = 0;
    if (!readExtended(head >> 4, p, end, &delta)) return std::nullopt;
    if (!readExtended(head & 0x0f, p, end, &length)) return std::nullopt;
    if (static_cast<std::size_t>(end - p) < length) return std::nullopt;
    p += length;
  }
  return m;
}

}  // namespace lwgate::bench
