#include "modem/coap_message.h"

#include <algorithm>

namespace lwgate::modem {
namespace {

constexpr std::uint8_t kPayloadMarker = 0xff;
constexpr unsigned kVersion = 1;

Error bad(std::string why) {
  return makeError(ErrorCode::kBadRequest, "malformed CoAP message: " + std::move(why));
}

// The nibble and the extension bytes of an option delta or length (RFC 7252 3.1).
struct Extended {
  std::uint8_t nibble;
  std::uint8_t bytes[2];
  std::size_t size;
};

Extended extend(std::size_t v) {
  if (v < 13) return {static_cast<std::uint8_t>(v), {}, 0};
  if (v < 269) return {13, {static_cast<std::uint8_t>(v - 13)}, 1};
  const std::size_t e = v - 269;
  return {14, {static_cast<std::uint8_t>(e >> 8), static_cast<std::uint8_t>(e & 0xff)}, 2};
}

// Reads the value a nibble stands for, with its extension bytes at `at`. False when the
// extension runs past the end or the nibble is the reserved 15.
bool readExtended(unsigned nibble, std::span<const std::uint8_t> b, std::size_t& at,
                  std::size_t& out, const char* what, std::string& why) {
  if (nibble < 13) {
    out = nibble;
    return true;
  }
  if (nibble == 13) {
    if (at + 1 > b.size()) {
      why = std::string("the extended option ") + what + " runs past the end";
      return false;
    }
    out = std::size_t{b[at]} + 13;
    at += 1;
    return true;
  }
  if (nibble == 14) {
    if (at + 2 > b.size()) {
      why = std::string("the extended option ") + what + " runs past the end";
      return false;
    }
    out = (std::size_t{b[at]} << 8 | b[at + 1]) + 269;
    at += 2;
    return true;
  }
  why = std::string("option ") + what + " nibble 15 is reserved";
  return false;
}

std::string hex(std::span<const std::uint8_t> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t x : b) {
    out.push_back(kDigits[x >> 4]);
    out.push_back(kDigits[x & 15]);
  }
  return out;
}

}  // namespace

void CoapMessage::add(std::uint16_t number, std::string_view value) {
  options.push_back({number, std::vector<std::uint8_t>(value.begin(), value.end())});
}

void CoapMessage::addUint(std::uint16_t number, std::uint32_t value) {
  CoapOption o{number, {}};
  for (int shift = 24; shift >= 0; shift -= 8) {
    const auto byte = static_cast<std::uint8_t>(value >> shift);
    if (byte != 0 || !o.value.empty()) o.value.push_back(byte);
  }
  options.push_back(std::move(o));
}

std::vector<std::string_view> CoapMessage::strings(std::uint16_t number) const {
  std::vector<std::string_view> out;
  for (const auto& o : options) {
    if (o.number == number) {
      out.emplace_back(reinterpret_cast<const char*>(o.value.data()), o.value.size());
    }
  }
  return out;
}

const CoapOption* CoapMessage::first(std::uint16_t number) const {
  for (const auto& o : options) {
    if (o.number == number) return &o;
  }
  return nullptr;
}

std::optional<std::uint32_t> CoapMessage::uintOption(std::uint16_t number) const {
  const CoapOption* o = first(number);
  if (!o || o->value.size() > 4) return std::nullopt;
  std::uint32_t v = 0;
  for (std::uint8_t b : o->value) v = v << 8 | b;
  return v;
}

Result<CoapMessage> parseCoap(std::span<const std::uint8_t> b) {
  if (b.size() < 4) {
    return bad(std::to_string(b.size()) + " bytes, shorter than the 4-byte header");
  }
  if ((b[0] >> 6) != kVersion) return bad("version " + std::to_string(b[0] >> 6) + ", not 1");
  CoapMessage m;
  m.type = static_cast<CoapType>((b[0] >> 4) & 3);
  const std::size_t tokenLength = b[0] & 15;
  if (tokenLength > kMaxTokenLength) {
    return bad("token length " + std::to_string(tokenLength) + " (9 to 15 are reserved)");
  }
  m.code = b[1];
  const unsigned codeClass = m.code >> 5;
  if (codeClass == 1 || codeClass == 3 || codeClass >= 6) {
    return bad("code " + codeText(m.code) + " is of a reserved class");
  }
  m.messageId = static_cast<std::uint16_t>(b[2] << 8 | b[3]);
  if (m.isEmpty() && b.size() > 4) {
    // RFC 7252 4.1: an Empty message is the 4-byte header alone, token length 0.
    return bad("an Empty message (0.00) with " + std::to_string(b.size() - 4) +
               " bytes after its header");
  }
  std::size_t at = 4;
  if (at + tokenLength > b.size()) return bad("the token runs past the end");
  m.token.assign(b.begin() + 4, b.begin() + static_cast<std::ptrdiff_t>(4 + tokenLength));
  at += tokenLength;

  std::size_t number = 0;
  // Each round consumes at least one byte: bounded by the message size.
  while (at < b.size()) {
    const std::uint8_t first = b[at++];
    if (first == kPayloadMarker) {
      if (at == b.size()) return bad("a payload marker with no payload");
      m.payload.assign(b.begin() + static_cast<std::ptrdiff_t>(at), b.end());
      break;
    }
    std::size_t delta = 0;
    std::size_t length = 0;
    std::string why;
    if (!readExtended(first >> 4, b, at, delta, "delta", why) ||
        !readExtended(first & 15, b, at, length, "length", why)) {
      return bad(why);
    }
    number += delta;
    if (number > 65535) return bad("option number " + std::to_string(number) + " beyond 65535");
    if (length > b.size() - at) {
      return bad("option " + std::to_string(number) + " value of " + std::to_string(length) +
                 " bytes runs past the end");
    }
    m.options.push_back(
        {static_cast<std::uint16_t>(number),
         std::vector<std::uint8_t>(b.begin() + static_cast<std::ptrdiff_t>(at),
                                   b.begin() + static_cast<std::ptrdiff_t>(at + length))});
    at += length;
  }
  return m;
}

Result<std::vector<std::uint8_t>> serializeCoap(const CoapMessage& m) {
  if (m.token.size() > kMaxTokenLength) {
    return bad("token of " + std::to_string(m.token.size()) + " bytes (at most 8)");
  }
  if (m.isEmpty() && (!m.token.empty() || !m.options.empty() || !m.payload.empty())) {
    return bad("an Empty message (0.00) carries no token, options or payload");
  }
  std::vector<const CoapOption*> sorted;
  sorted.reserve(m.options.size());
  std::size_t size = 4 + m.token.size() + 1 + m.payload.size();
  for (const auto& o : m.options) {
    if (o.value.size() > kMaxOptionLength) {
      return bad("option " + std::to_string(o.number) + " value of " +
                 std::to_string(o.value.size()) + " bytes is too long");
    }
    sorted.push_back(&o);
    size += 5 + o.value.size();
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const CoapOption* a, const CoapOption* b) { return a->number < b->number; });

  std::vector<std::uint8_t> out;
  out.reserve(size);
  out.push_back(static_cast<std::uint8_t>(kVersion << 6 | static_cast<unsigned>(m.type) << 4 |
                                          m.token.size()));
  out.push_back(m.code);
  out.push_back(static_cast<std::uint8_t>(m.messageId >> 8));
  out.push_back(static_cast<std::uint8_t>(m.messageId & 0xff));
  out.insert(out.end(), m.token.begin(), m.token.end());
  std::uint16_t previous = 0;
  for (const CoapOption* o : sorted) {
    const Extended delta = extend(o->number - previous);
    const Extended length = extend(o->value.size());
    out.push_back(static_cast<std::uint8_t>(delta.nibble << 4 | length.nibble));
    out.insert(out.end(), delta.bytes, delta.bytes + delta.size);
    out.insert(out.end(), length.bytes, length.bytes + length.size);
    out.insert(out.end(), o->value.begin(), o->value.end());
    previous = o->number;
  }
  if (!m.payload.empty()) {
    out.push_back(kPayloadMarker);
    out.insert(out.end(), m.payload.begin(), m.payload.end());
  }
  return out;
}

std::string codeText(std::uint8_t code) {
  const unsigned detail = code & 31;
  return std::to_string(code >> 5) + "." + (detail < 10 ? "0" : "") + std::to_string(detail);
}

std::string describe(const CoapMessage& m) {
  static constexpr const char* kTypes[] = {"CON", "NON", "ACK", "RST"};
  std::string out = std::string(kTypes[static_cast<unsigned>(m.type) & 3]) + " " +
                    codeText(m.code) + " mid=" + std::to_string(m.messageId);
  if (!m.token.empty()) out += " token=" + hex(m.token);
  return out;
}

}  // namespace lwgate::modem
