#include "gateway/lwm2m/codec_text.h"

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "gateway/lwm2m/diagnostic.h"

namespace lwgate::lwm2m::text {
namespace {

Error bad(std::string_view format, std::string message) {
  return makeError(ErrorCode::kBadRequest, std::string(format) + ": " + std::move(message));
}

std::string_view asText(std::span<const std::uint8_t> payload) {
  return {reinterpret_cast<const char*>(payload.data()), payload.size()};
}

// Text and opaque payloads carry exactly one resource or resource instance value
// (TS Transport 7.4.1, 7.4.2).
Result<void> checkValuePath(std::string_view format, const Path& requestPath) {
  if (requestPath.isResource() || requestPath.isResourceInstance()) return {};
  return bad(format, "needs a resource or resource instance path, got " + requestPath.toString());
}

Result<void> checkOneRecord(std::string_view format, const std::vector<Record>& records,
                            const Path& requestPath) {
  if (auto r = checkValuePath(format, requestPath); !r) return r;
  if (records.size() != 1) {
    return bad(format, "takes exactly one record, got " + std::to_string(records.size()));
  }
  if (records.front().path != requestPath) {
    return bad(format, "record " + records.front().path.toString() + " is not the request path " +
                           requestPath.toString());
  }
  return {};
}

// Whole-string decimal parse; from_chars refuses a leading '+' and whitespace, and '-' for
// unsigned types.
template <class Int>
std::optional<Int> parseDecimal(std::string_view s, bool* outOfRange = nullptr) {
  Int v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  const bool whole = end == s.data() + s.size();
  if (outOfRange) *outOfRange = ec == std::errc::result_out_of_range && whole;
  if (ec != std::errc() || !whole) return std::nullopt;
  return v;
}

int base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// RFC 4648 section 4 with padding: length a multiple of 4, '=' only as the last one or two
// characters. Non-zero bits in the last digit before the padding are tolerated (4648 3.5 lets a
// decoder choose).
std::optional<Opaque> fromBase64(std::string_view s, std::string* why) {
  if (s.size() % 4 != 0) {
    *why = "length " + std::to_string(s.size()) + " is not a multiple of 4";
    return std::nullopt;
  }
  std::size_t padding = 0;
  if (!s.empty() && s.back() == '=') {
    padding = s[s.size() - 2] == '=' ? 2 : 1;  // size() >= 4 here
  }
  Opaque out;
  out.reserve(s.size() / 4 * 3);
  std::uint32_t acc = 0;
  for (std::size_t i = 0; i < s.size() - padding; ++i) {
    const int d = base64Digit(s[i]);
    if (d < 0) {
      *why = "has " + quoteForMessage(s.substr(i, 1)) + " at offset " + std::to_string(i);
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(d);
    if (i % 4 == 3) {
      out.push_back(static_cast<std::uint8_t>(acc >> 16));
      out.push_back(static_cast<std::uint8_t>(acc >> 8));
      out.push_back(static_cast<std::uint8_t>(acc));
      acc = 0;
    }
  }
  if (padding == 1) {  // 3 digits: 18 bits, 2 bytes
    out.push_back(static_cast<std::uint8_t>(acc >> 10));
    out.push_back(static_cast<std::uint8_t>(acc >> 2));
  } else if (padding == 2) {  // 2 digits: 12 bits, 1 byte
    out.push_back(static_cast<std::uint8_t>(acc >> 4));
  }
  return out;
}

template <class Int>
void appendDecimal(std::string& out, Int v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 24 bytes hold any 64-bit integer
  out.append(buf, end);
}

}  // namespace

Result<std::vector<Record>> decodeOpaque(std::span<const std::uint8_t> payload,
                                         const Path& requestPath) {
  if (auto r = checkValuePath("opaque", requestPath); !r) return r.error();
  return std::vector<Record>{
      Record{requestPath, Value::opaque(Opaque(payload.begin(), payload.end())), std::nullopt}};
}

Result<std::vector<std::uint8_t>> encodeOpaque(const std::vector<Record>& records,
                                               const Path& requestPath) {
  if (auto r = checkOneRecord("opaque", records, requestPath); !r) return r.error();
  const Opaque* bytes = records.front().value.get<Opaque>();
  if (bytes == nullptr) {
    return bad("opaque", "value for " + requestPath.toString() + " is " +
                             std::string(dataTypeName(records.front().value.type())) +
                             ", not opaque");
  }
  return *bytes;
}

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits) {
  constexpr std::string_view kFormat = "text/plain";
  if (auto r = checkValuePath(kFormat, requestPath); !r) return r.error();
  if (limits.maxRecords < 1) {
    return makeError(ErrorCode::kTooLarge, "text/plain: more than 0 records");
  }
  const std::string_view text = asText(payload);
  const auto info = model.resource(requestPath.objectId(), requestPath.resourceId());
  const DataType type = info ? info->type : DataType::kString;
  auto wrong = [&](const std::string& what) {
    return bad(kFormat,
               std::string(dataTypeName(type)) + " for " + requestPath.toString() + " " + what);
  };
  auto one = [&](Value v) {
    return std::vector<Record>{Record{requestPath, std::move(v), std::nullopt}};
  };
  bool outOfRange = false;
  switch (type) {
    case DataType::kString:
    case DataType::kCoreLink:
      if (!isValidUtf8(text)) return wrong("is not valid UTF-8");
      return one(Value::string(std::string(text)));
    case DataType::kInteger:
    case DataType::kTime: {
      const auto v = parseDecimal<std::int64_t>(text, &outOfRange);
      if (!v)
        return wrong(quoteForMessage(text) +
                     (outOfRange ? " is out of range" : " is not a decimal"));
      return one(type == DataType::kTime ? Value::time(*v) : Value::integer(*v));
    }
    case DataType::kUnsignedInteger: {
      const auto v = parseDecimal<std::uint64_t>(text, &outOfRange);
      if (!v) {
        return wrong(quoteForMessage(text) +
                     (outOfRange ? " is out of range" : " is not an unsigned decimal"));
      }
      return one(Value::unsignedInteger(*v));
    }
    case DataType::kFloat: {
      // Decimal numbers only: from_chars would also take "inf" and "nan", which are no numbers.
      const bool numeric =
          !text.empty() && ((text[0] >= '0' && text[0] <= '9') || text[0] == '.' ||
                            (text[0] == '-' && text.size() > 1 &&
                             ((text[1] >= '0' && text[1] <= '9') || text[1] == '.')));
      double d = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (!numeric || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(d)) {
        return wrong(quoteForMessage(text) + " is not a finite decimal number");
      }
      return one(Value::floating(d));
    }
    case DataType::kBoolean:
      if (text == "0" || text == "1") return one(Value::boolean(text == "1"));
      return wrong(quoteForMessage(text) + " is not 0 or 1");
    case DataType::kObjlnk: {
      const std::size_t colon = text.find(':');
      const auto o = parseDecimal<std::uint16_t>(text.substr(0, colon));
      const auto i = colon == std::string_view::npos
                         ? std::nullopt
                         : parseDecimal<std::uint16_t>(text.substr(colon + 1));
      if (!o || !i) return wrong(quoteForMessage(text) + " is not \"object:instance\"");
      return one(Value::objlnk(*o, *i));
    }
    case DataType::kOpaque: {
      std::string why;
      auto bytes = fromBase64(text, &why);
      if (!bytes) return wrong("is not base64: " + why);
      return one(Value::opaque(std::move(*bytes)));
    }
  }
  return wrong("has an unknown type");
}

Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath) {
  constexpr std::string_view kFormat = "text/plain";
  if (auto r = checkOneRecord(kFormat, records, requestPath); !r) return r.error();
  std::string out;
  std::optional<Error> error;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!isValidUtf8(v)) {
            error = bad(kFormat, "string for " + requestPath.toString() + " is not UTF-8");
          }
          out = v;
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
          appendDecimal(out, v);
        } else if constexpr (std::is_same_v<T, double>) {
          if (!std::isfinite(v)) {
            error = bad(kFormat, "float for " + requestPath.toString() + " is not finite");
            return;
          }
          // Shortest digits that read back as the same double.
          char buf[64];
          const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
          (void)ec;  // 64 bytes hold any double
          out.assign(buf, end);
        } else if constexpr (std::is_same_v<T, bool>) {
          out = v ? "1" : "0";
        } else if constexpr (std::is_same_v<T, Opaque>) {
          out = toBase64(v);
        } else if constexpr (std::is_same_v<T, Time>) {
          appendDecimal(out, v.seconds);
        } else if constexpr (std::is_same_v<T, Objlnk>) {
          appendDecimal(out, v.objectId);
          out += ':';
          appendDecimal(out, v.instanceId);
        }
      },
      records.front().value.variant());
  if (error) return *error;
  return std::vector<std::uint8_t>(out.begin(), out.end());
}

}  // namespace lwgate::lwm2m::text
