#include "gateway/lwm2m/value.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace lwgate::lwm2m {
namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void appendBase64(std::string& out, const Opaque& bytes) {
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) |
                            std::uint32_t{bytes[i + 2]};
    out += kBase64Alphabet[(n >> 18) & 0x3f];
    out += kBase64Alphabet[(n >> 12) & 0x3f];
    out += kBase64Alphabet[(n >> 6) & 0x3f];
    out += kBase64Alphabet[n & 0x3f];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    out += kBase64Alphabet[(n >> 18) & 0x3f];
    out += kBase64Alphabet[(n >> 12) & 0x3f];
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += kBase64Alphabet[(n >> 18) & 0x3f];
    out += kBase64Alphabet[(n >> 12) & 0x3f];
    out += kBase64Alphabet[(n >> 6) & 0x3f];
    out += '=';
  }
}

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF) starting at s[i], or 0 when the bytes there are not one.
std::size_t utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;  // overlong
    if (b0 == 0xed) hi = 0x9f;  // surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;  // overlong
    if (b0 == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return 0;
  }
  return n;
}

// RFC 8259 section 7. Control characters become \u00XX; bytes that are not well-formed UTF-8
// become U+FFFD so the document stays valid JSON whatever a caller put in the string.
void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xf];
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (const std::size_t n = utf8SequenceLength(s, i); n != 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    }
  }
  out += '"';
}

// Shortest text that reads back as the same double (std::to_chars without a precision);
// non-finite values have no JSON spelling and become null.
void appendJsonNumber(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  if (ec != std::errc()) {
    out += "null";  // cannot happen with 64 bytes; keep the document valid anyway
    return;
  }
  out.append(buf, end);
}

template <class Int>
void appendInteger(std::string& out, Int v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 24 bytes hold any 64-bit integer
  out.append(buf, end);
}

void appendJsonValue(std::string& out, const Value& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          appendJsonString(out, v);
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
          appendInteger(out, v);
        } else if constexpr (std::is_same_v<T, double>) {
          appendJsonNumber(out, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, Opaque>) {
          out += '"';
          appendBase64(out, v);
          out += '"';
        } else if constexpr (std::is_same_v<T, Time>) {
          appendInteger(out, v.seconds);
        } else if constexpr (std::is_same_v<T, Objlnk>) {
          out += '"';
          appendInteger(out, v.objectId);
          out += ':';
          appendInteger(out, v.instanceId);
          out += '"';
        }
      },
      value.variant());
}

}  // namespace

bool isValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string toBase64(const Opaque& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  appendBase64(out, bytes);
  return out;
}

DataType Value::type() const {
  return std::visit(
      [](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) return DataType::kString;
        if constexpr (std::is_same_v<T, std::int64_t>) return DataType::kInteger;
        if constexpr (std::is_same_v<T, std::uint64_t>) return DataType::kUnsignedInteger;
        if constexpr (std::is_same_v<T, double>) return DataType::kFloat;
        if constexpr (std::is_same_v<T, bool>) return DataType::kBoolean;
        if constexpr (std::is_same_v<T, Opaque>) return DataType::kOpaque;
        if constexpr (std::is_same_v<T, Time>) return DataType::kTime;
        if constexpr (std::is_same_v<T, Objlnk>) return DataType::kObjlnk;
      },
      v_);
}

std::string_view dataTypeName(DataType type) {
  switch (type) {
    case DataType::kString:
      return "string";
    case DataType::kInteger:
      return "integer";
    case DataType::kUnsignedInteger:
      return "unsigned";
    case DataType::kFloat:
      return "float";
    case DataType::kBoolean:
      return "boolean";
    case DataType::kOpaque:
      return "opaque";
    case DataType::kTime:
      return "time";
    case DataType::kObjlnk:
      return "objlnk";
    case DataType::kCoreLink:
      return "corelnk";
  }
  return "unknown";
}

std::string toJsonString(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

std::string toJson(const std::vector<Record>& records) {
  std::string out = "[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    if (i != 0) out += ',';
    out += "{\"path\":\"";
    out += r.path.toString();  // digits and '/' only: nothing to escape
    out += "\",\"type\":\"";
    out += dataTypeName(r.value.type());
    out += "\",\"value\":";
    appendJsonValue(out, r.value);
    if (r.timestamp) {
      out += ",\"time\":";
      appendJsonNumber(out, *r.timestamp);
    }
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace lwgate::lwm2m
