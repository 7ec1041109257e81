#include "cli/values.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>

namespace lwgate::cli {
namespace {

constexpr std::string_view kDevicePrefix = "/org/lwgate/Gateway1/device/";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

template <class T>
bool parseNumber(std::string_view text, T& out) {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && end == last;
}

Result<Value> parseInteger(std::string_view text) {
  std::int64_t v = 0;
  if (!parseNumber(text, v)) return bad(quoted(text) + " is not an integer");
  return Value{v};
}

Result<Value> parseUnsigned(std::string_view text) {
  std::uint64_t v = 0;
  if (!parseNumber(text, v)) return bad(quoted(text) + " is not an unsigned integer");
  return Value{v};
}

Result<Value> parseFloat(std::string_view text) {
  // strtod, not from_chars: libstdc++ 12 has floating from_chars, but strtod is what every
  // reader of this code knows; the copy gives it the terminating NUL it needs.
  std::string copy(text);
  char* end = nullptr;
  double v = copy.empty() ? 0.0 : std::strtod(copy.c_str(), &end);
  bool whole = !copy.empty() && end == copy.c_str() + copy.size();
  bool plain = copy.find_first_of("xXnN") == std::string::npos;  // no hex floats, inf, nan
  if (!whole || !plain || !std::isfinite(v)) return bad(quoted(text) + " is not a float");
  return Value{v};
}

Result<Value> parseBoolean(std::string_view text) {
  if (text == "true" || text == "1") return Value{true};
  if (text == "false" || text == "0") return Value{false};
  return bad(quoted(text) + " is not a boolean (true, false, 1 or 0)");
}

Result<Value> parseOpaque(std::string_view text) {
  constexpr std::string_view kBase64 = "base64:";
  if (text.substr(0, kBase64.size()) == kBase64) {
    auto bytes = fromBase64(text.substr(kBase64.size()));
    if (!bytes) return bytes.error();
    return Value{*bytes};
  }
  if (text.substr(0, 2) == "0x" || text.substr(0, 2) == "0X") text.remove_prefix(2);
  auto bytes = fromHex(text);
  if (!bytes) return bytes.error();
  return Value{*bytes};
}

// Two decimal digits at text[pos]; -1 if they are not.
int twoDigits(std::string_view text, std::size_t pos) {
  if (pos + 2 > text.size()) return -1;
  int v = 0;
  if (!parseNumber(text.substr(pos, 2), v)) return -1;
  return v;
}

Result<Value> parseTime(std::string_view text) {
  std::int64_t seconds = 0;
  if (parseNumber(text, seconds)) return Value{seconds};
  // RFC 3339: YYYY-MM-DDTHH:MM:SS(Z|+HH:MM|-HH:MM); fractions are not taken (LwM2M time is
  // whole seconds).
  Error error =
      bad(quoted(text) + " is not a time (Unix seconds or RFC 3339 like 2023-11-14T22:13:20Z)");
  if (text.size() < 20) return error;
  int year = 0;
  if (!parseNumber(text.substr(0, 4), year)) return error;
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':') {
    return error;
  }
  int month = twoDigits(text, 5), day = twoDigits(text, 8), hour = twoDigits(text, 11),
      minute = twoDigits(text, 14), second = twoDigits(text, 17);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60) {
    return error;
  }
  std::string_view zone = text.substr(19);
  int offset = 0;
  if (zone == "Z" || zone == "z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int oh = twoDigits(zone, 1), om = twoDigits(zone, 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return error;
    offset = (oh * 60 + om) * 60 * (zone[0] == '-' ? -1 : 1);
  } else {
    return error;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t t = timegm(&tm);
  // timegm normalises 2023-02-31 to March 3rd; a date that moved was not a date.
  if (tm.tm_mday != day || tm.tm_mon != month - 1) return error;
  return Value{static_cast<std::int64_t>(t) - offset};
}

Result<Value> parseObjlnk(std::string_view text) {
  std::size_t colon = text.find(':');
  std::uint16_t object = 0, instance = 0;
  if (colon == std::string_view::npos || !parseNumber(text.substr(0, colon), object) ||
      !parseNumber(text.substr(colon + 1), instance)) {
    return bad(quoted(text) + " is not an object link (O:I, e.g. 3:0)");
  }
  return Value{std::string(text)};
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::vector<std::string>& valueTypeNames() {
  static const std::vector<std::string> names{"integer", "unsigned", "float", "boolean",
                                              "string",  "opaque",   "time",  "objlnk"};
  return names;
}

Result<ValueType> parseValueType(std::string_view name) {
  if (name == "integer") return ValueType::kInteger;
  if (name == "unsigned") return ValueType::kUnsigned;
  if (name == "float") return ValueType::kFloat;
  if (name == "boolean") return ValueType::kBoolean;
  if (name == "string") return ValueType::kString;
  if (name == "opaque") return ValueType::kOpaque;
  if (name == "time") return ValueType::kTime;
  if (name == "objlnk") return ValueType::kObjlnk;
  return bad("unknown type " + quoted(name) +
             " (integer, unsigned, float, boolean, string, opaque, time, objlnk)");
}

Result<Value> parseValue(std::string_view text, ValueType type) {
  switch (type) {
    case ValueType::kAuto:
    case ValueType::kString:
      return Value{std::string(text)};
    case ValueType::kInteger:
      return parseInteger(text);
    case ValueType::kUnsigned:
      return parseUnsigned(text);
    case ValueType::kFloat:
      return parseFloat(text);
    case ValueType::kBoolean:
      return parseBoolean(text);
    case ValueType::kOpaque:
      return parseOpaque(text);
    case ValueType::kTime:
      return parseTime(text);
    case ValueType::kObjlnk:
      return parseObjlnk(text);
  }
  return bad("unknown type");
}

Result<Assignment> parseResourceAssignment(std::string_view text, ValueType defaultType) {
  std::size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    return bad(quoted(text) + " is not RID=VALUE (e.g. 1=300, 7/0=x, 5:opaque=00ff)");
  }
  std::string_view key = text.substr(0, equals);
  std::string_view value = text.substr(equals + 1);
  ValueType type = defaultType;
  if (std::size_t colon = key.find(':'); colon != std::string_view::npos) {
    auto named = parseValueType(key.substr(colon + 1));
    if (!named) return named.error();
    type = *named;
    key = key.substr(0, colon);
  }
  // A resource id, or resource/instance: the daemon takes "1" or "7/0" (XML, Write and Create).
  std::size_t slash = key.find('/');
  std::uint16_t id = 0;
  bool valid = slash == std::string_view::npos ? parseNumber(key, id)
                                               : parseNumber(key.substr(0, slash), id) &&
                                                     parseNumber(key.substr(slash + 1), id);
  if (!valid) {
    return bad(quoted(key) + " is not a resource id (0..65535, or RID/INSTANCE like 7/0)");
  }
  auto parsed = parseValue(value, type);
  if (!parsed) return bad(std::string(key) + ": " + parsed.error().message);
  return Assignment{std::string(key), std::move(*parsed)};
}

Result<Assignment> parseAttribute(std::string_view text) {
  std::size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return bad(quoted(text) + " is not NAME=VALUE (e.g. pmin=10, gt=20.5, pmax= to remove)");
  }
  std::string key(text.substr(0, equals));
  std::string_view value = text.substr(equals + 1);
  if (value.empty()) return Assignment{key, Value{std::string()}};
  static const std::vector<std::string> unsignedNames{"pmin", "pmax",  "epmin", "epmax",
                                                      "edge", "hqmax", "con"};
  static const std::vector<std::string> floatNames{"gt", "lt", "st"};
  for (const auto& name : unsignedNames) {
    if (key != name) continue;
    auto parsed = parseUnsigned(value);
    if (!parsed) return bad(key + ": " + parsed.error().message);
    // The XML types these attributes u (32 bits).
    if (std::get<std::uint64_t>(*parsed) > UINT32_MAX) {
      return bad(key + ": " + std::string(value) + " is too large");
    }
    return Assignment{key, *parsed};
  }
  for (const auto& name : floatNames) {
    if (key != name) continue;
    auto parsed = parseFloat(value);
    if (!parsed) return bad(key + ": " + parsed.error().message);
    return Assignment{key, *parsed};
  }
  return Assignment{key, Value{std::string(value)}};
}

Result<Assignment> parseSetting(std::string_view text) {
  std::size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return bad(quoted(text) +
               " is not NAME=VALUE (awake_window=30, sms_number=+4915112345678, "
               "server_instance=0; NAME= clears it)");
  }
  std::string key(text.substr(0, equals));
  std::string_view value = text.substr(equals + 1);
  if (value.empty()) return Assignment{key, Value{std::string()}};
  if (key == "awake_window") {
    auto parsed = parseFloat(value);
    if (!parsed) return bad(key + ": " + parsed.error().message);
    if (std::get<double>(*parsed) <= 0) return bad(key + ": seconds must be more than 0");
    return Assignment{key, *parsed};
  }
  if (key == "server_instance") {
    std::uint16_t instance = 0;
    if (!parseNumber(value, instance)) {
      return bad(key + ": " + quoted(value) + " is not an instance id (0..65535)");
    }
    return Assignment{key, Value{std::uint64_t{instance}}};
  }
  return Assignment{key, Value{std::string(value)}};
}

std::string joinExecuteArguments(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += ',';
    out += word;
  }
  return out;
}

int pathDepth(std::string_view path) {
  if (path.empty() || path[0] != '/') return -1;
  if (path == "/") return 0;
  int depth = 0;
  std::size_t pos = 1;
  for (;;) {
    std::size_t next = path.find('/', pos);
    std::string_view segment = path.substr(pos, next - pos);
    if (segment.empty()) return -1;
    ++depth;
    if (next == std::string_view::npos) return depth;
    pos = next + 1;
  }
}

std::string toHex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::string toBase64(const Bytes& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = bytes[i] << 16;
    if (rest == 2) n |= bytes[i + 1] << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<Bytes> fromHex(std::string_view text) {
  if (text.size() % 2 != 0) {
    return bad(quoted(text) + " is not hex (an even number of digits 0-9a-f)");
  }
  Bytes out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = hexDigit(text[i]), lo = hexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return bad(quoted(text) + " is not hex (digits 0-9a-f)");
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

Result<Bytes> fromBase64(std::string_view text) {
  Error error = bad(quoted(text) + " is not base64 (RFC 4648, with padding)");
  if (text.size() % 4 != 0) return error;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t n = 0;
    int padding = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=') {
        // Padding only at the very end, at most two.
        if (i + 4 != text.size() || j < 2) return error;
        ++padding;
        n <<= 6;
        continue;
      }
      if (padding > 0) return error;
      std::size_t v = kBase64Alphabet.find(c);
      if (v == std::string_view::npos) return error;
      n = n << 6 | static_cast<std::uint32_t>(v);
    }
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    if (padding < 2) out.push_back(static_cast<std::uint8_t>(n >> 8));
    if (padding < 1) out.push_back(static_cast<std::uint8_t>(n));
  }
  return out;
}

std::string devicePath(std::string_view endpoint) {
  std::string out(kDevicePrefix);
  if (endpoint.empty()) return out + "_";
  static constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned char c : endpoint) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '_';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  return out;
}

std::string endpointFromDevicePath(std::string_view path) {
  std::size_t slash = path.rfind('/');
  std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (last == "_") return "";
  std::string out;
  for (std::size_t i = 0; i < last.size(); ++i) {
    if (last[i] != '_') {
      out += last[i];
      continue;
    }
    if (i + 2 >= last.size()) return std::string(last);
    int hi = hexDigit(last[i + 1]), lo = hexDigit(last[i + 2]);
    if (hi < 0 || lo < 0) return std::string(last);
    out += static_cast<char>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

}  // namespace lwgate::cli
