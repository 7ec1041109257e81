#pragma once
// Typed LwM2M resource values (TS Core Appendix C "Data Types") and the flat list of
// (path, value) records that every content format decodes to and encodes from.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/lwm2m/path.h"

namespace lwgate::lwm2m {

enum class DataType : std::uint8_t {
  kString,
  kInteger,
  kUnsignedInteger,  // LwM2M 1.1
  kFloat,
  kBoolean,
  kOpaque,
  kTime,      // seconds since the Unix epoch, signed
  kObjlnk,    // "O:I", LwM2M 1.1 (1.0 TLV already had it)
  kCoreLink,  // a link-format string
};

struct Objlnk {
  std::uint16_t objectId = 65535;
  std::uint16_t instanceId = 65535;
  bool operator==(const Objlnk&) const = default;
};

struct Time {
  std::int64_t seconds = 0;
  bool operator==(const Time&) const = default;
};

using Opaque = std::vector<std::uint8_t>;

// The value of one resource or resource instance. Formats that carry no type (TLV, text/plain)
// decode to the type the object model gives (see object_model.h), or to Opaque (TLV) / String
// (text) when the resource is unknown: never a guess.
class Value {
 public:
  using Variant =
      std::variant<std::string, std::int64_t, std::uint64_t, double, bool, Opaque, Time, Objlnk>;
  Value() = default;
  Value(Variant v) : v_(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  static Value string(std::string s) { return Value(Variant(std::move(s))); }
  static Value integer(std::int64_t i) { return Value(Variant(i)); }
  static Value unsignedInteger(std::uint64_t u) { return Value(Variant(u)); }
  static Value floating(double d) { return Value(Variant(d)); }
  static Value boolean(bool b) { return Value(Variant(b)); }
  static Value opaque(Opaque o) { return Value(Variant(std::move(o))); }
  static Value time(std::int64_t s) { return Value(Variant(Time{s})); }
  static Value objlnk(std::uint16_t o, std::uint16_t i) { return Value(Variant(Objlnk{o, i})); }
  // A core link (DataType::kCoreLink) travels as a string.

  DataType type() const;  // kCoreLink is never returned: it is a kString here
  const Variant& variant() const { return v_; }
  template <class T>
  const T* get() const {
    return std::get_if<T>(&v_);
  }
  bool operator==(const Value&) const = default;

 private:
  Variant v_{std::string()};
};

struct Record {
  Path path;  // a resource (/O/I/R) or a resource instance (/O/I/R/RI)
  Value value;
  // SenML "t" / LwM2M JSON "t": absolute time in seconds since the epoch, when the device sent
  // one (Notify with history, Send). Relative times are resolved against the base time by the
  // decoder; when the payload has only relative times they stay relative (negative = ago).
  std::optional<double> timestamp;
  bool operator==(const Record&) const = default;
};

// Renders records as JSON for D-Bus/CLI callers:
//   [{"path":"/3/0/0","type":"string","value":"Open Mobile Alliance"},
//    {"path":"/3/0/9","type":"integer","value":95},
//    {"path":"/5/0/0","type":"opaque","value":"<base64>"},
//    {"path":"/3/0/13","type":"time","value":1700000000},
//    {"path":"/4/0/10","type":"objlnk","value":"3:0"}, ...]
// with "time":<seconds> added when the record has a timestamp. Strings are escaped per RFC 8259;
// non-finite floats become null. Pure code, no third-party headers.
std::string toJson(const std::vector<Record>& records);
// One JSON string (RFC 8259; bytes that are not UTF-8 become U+FFFD), quotes included.
std::string toJsonString(std::string_view s);

std::string_view dataTypeName(DataType type);  // "string", "integer", "unsigned", ...

// Small helpers the codecs share.
// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool isValidUtf8(std::string_view s);
// RFC 4648 section 4 base64 with padding (text/plain opaque values, toJson()).
std::string toBase64(const Opaque& bytes);

}  // namespace lwgate::lwm2m
