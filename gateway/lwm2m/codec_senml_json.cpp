#include "gateway/lwm2m/codec_senml_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "gateway/lwm2m/diagnostic.h"

// One engine for SenML JSON (RFC 8428, TS Transport 7.4.5) and LwM2M JSON (TS 1.0 Transport
// 6.4.4, TS 1.1 7.4.4). Parsing goes through nlohmann-json in two passes: a SAX pass that only
// checks what the DOM parser does not refuse on its own (nesting, duplicate keys) and stops at the
// first problem, then the DOM parse with exceptions disabled.
// Nothing here throws on peer input; the public functions still catch anything (bad_alloc) so
// no exception leaves the codec.

namespace lwgate::lwm2m::senml_json {
namespace detail {
namespace {

using Json = nlohmann::json;

// What differs between the two dialects.
struct Dialect {
  std::string_view recordWord;  // what the records are called in messages
  std::string_view stringKey;
  std::string_view booleanKey;
  std::string_view opaqueKey;  // empty: opaque travels base64 in stringKey, typed by the model
  std::string_view objlnkKey;
  std::size_t depth;  // nesting a valid document has
  bool urlBase64;     // encode opaque as base64url without padding (else RFC 4648 section 4)
  bool recordBases;   // bn/bt may appear in any record (SenML), not only at the top (11543)
};

// TS Transport 7.4.5: vd is base64url without padding, vlo is the LwM2M objlnk extension.
constexpr Dialect kSenmlDialect{"record", "vs", "vb", "vd", "vlo", 2, true, true};
// TS 1.0 Transport 6.4.4: {"bn":..,"bt":..,"e":[{"n":..,"t":..,"v"|"sv"|"bv"|"ov":..}]}.
constexpr Dialect kLwm2mDialect{"entry", "sv", "bv", "", "ov", 3, false, false};

constexpr std::string_view kNumberKey = "v";

// Error messages go back as CoAP diagnostic payloads or D-Bus errors: one printable line, short
// (see tests/unit/lwm2m/error_assertions.h). Peer text is echoed at most this long.
constexpr std::size_t kMaxEcho = 32;  // shorter than the default: two echoes may share a line
constexpr std::string_view kHexDigits = "0123456789ABCDEF";

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

// ---- base64 (RFC 4648) ----

int base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // section 4 and section 5 (url) alphabets alike
  if (c == '/' || c == '_') return 63;
  return -1;
}

// SenML vd is base64url without padding (TS Transport 7.4.5), LwM2M JSON opaque is base64 with
// padding; devices mix them up, so either alphabet is accepted, with or without padding. Padding,
// when present, must complete the last quantum; bits left over in the last digit are ignored.
std::optional<Opaque> decodeBase64(std::string_view text) {
  std::size_t end = text.size();
  std::size_t pad = 0;
  while (end > 0 && text[end - 1] == '=' && pad < 2) {
    --end;
    ++pad;
  }
  if (pad > 0 && text.size() % 4 != 0) return std::nullopt;
  if (end % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
  Opaque out;
  out.reserve(end / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < end; ++i) {
    const int digit = base64Digit(text[i]);
    if (digit < 0) return std::nullopt;
    acc = ((acc << 6) | static_cast<std::uint32_t>(digit)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
    }
  }
  return out;
}

std::string encodeBase64(const Opaque& bytes, bool url) {
  const std::string_view alphabet =
      url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = std::uint32_t{bytes[i]} << 16;
    if (n > 1) group |= std::uint32_t{bytes[i + 1]} << 8;
    if (n > 2) group |= std::uint32_t{bytes[i + 2]};
    for (std::size_t k = 0; k < 4; ++k) {
      if (k <= n) {
        out += alphabet[(group >> (18 - 6 * k)) & 0x3f];
      } else if (!url) {
        out += '=';
      }
    }
  }
  return out;
}

// ---- parsing ----

// The SAX pass. nlohmann's DOM parser is iterative, but it accepts any depth and keeps the last
// of duplicate keys; this refuses both before the DOM exists, and turns the parser's errors into
// short messages.
class Guard final : public nlohmann::json_sax<Json> {
 public:
  explicit Guard(std::size_t maxDepth) : maxDepth_(maxDepth) {}

  const std::optional<Error>& error() const { return error_; }

  bool null() override { return true; }
  bool boolean(bool /*val*/) override { return true; }
  bool number_integer(number_integer_t /*val*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*val*/) override { return true; }
  bool number_float(number_float_t /*val*/, const string_t& /*text*/) override { return true; }
  bool string(string_t& /*val*/) override { return true; }
  bool binary(binary_t& /*val*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override {
    if (!enter()) return false;
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& val) override {
    if (!keys_.back().insert(val).second)
      return fail("duplicate key " + quoteForMessage(val, kMaxEcho));
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t /*elements*/) override { return enter(); }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t position, const std::string& lastToken,
                   const Json::exception& ex) override {
    // 406: a number that overflows a double (1e400, or 400 digits); the DOM parser refuses it
    // too, but its message would quote the whole token.
    if (ex.id == 406)
      return fail("number " + quoteForMessage(lastToken, kMaxEcho) + " is out of range");
    return fail("not JSON (syntax error at byte " + std::to_string(position) + ")");
  }

 private:
  bool enter() {
    if (++depth_ > maxDepth_) {
      return fail("JSON nested deeper than " + std::to_string(maxDepth_) + " levels");
    }
    return true;
  }
  bool fail(std::string message) {
    error_ = bad(std::move(message));
    return false;
  }

  std::size_t maxDepth_;
  std::size_t depth_ = 0;
  std::vector<std::set<std::string>> keys_;  // keys seen in each open object
  std::optional<Error> error_;
};

Result<Json> parseDocument(std::span<const std::uint8_t> payload, std::size_t maxDepth) {
  if (payload.empty()) return bad("empty payload");
  const auto* first = reinterpret_cast<const char*>(payload.data());
  const auto* last = first + payload.size();
  Guard guard(maxDepth);
  if (!Json::sax_parse(first, last, &guard)) {
    return guard.error() ? *guard.error() : bad("not JSON");
  }
  Json doc = Json::parse(first, last, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad("not JSON");  // the SAX pass would have said so first
  return doc;
}

// ---- typing (TS Transport 7.4.5: the model types a number; the value key types the rest) ----

// get_ptr never throws: it is null when the JSON type differs.
double toDouble(const Json& j) {
  if (const auto* u = j.get_ptr<const Json::number_unsigned_t*>()) return static_cast<double>(*u);
  if (const auto* i = j.get_ptr<const Json::number_integer_t*>()) return static_cast<double>(*i);
  return *j.get_ptr<const Json::number_float_t*>();
}

// 2^63 and 2^64 are exact doubles; anything at or above them does not fit.
constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

// "Integral" is about the value, not the spelling: 95, 95.0 and 9.5e1 are all 95.
std::optional<std::int64_t> toInt64(const Json& j) {
  if (const auto* u = j.get_ptr<const Json::number_unsigned_t*>()) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(*u);
  }
  if (const auto* i = j.get_ptr<const Json::number_integer_t*>()) return *i;
  const double d = *j.get_ptr<const Json::number_float_t*>();
  if (d != std::trunc(d) || d < -kTwo63 || d >= kTwo63) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

std::optional<std::uint64_t> toUint64(const Json& j) {
  if (const auto* u = j.get_ptr<const Json::number_unsigned_t*>()) return *u;
  if (const auto* i = j.get_ptr<const Json::number_integer_t*>()) {
    if (*i < 0) return std::nullopt;
    return static_cast<std::uint64_t>(*i);
  }
  const double d = *j.get_ptr<const Json::number_float_t*>();
  if (d != std::trunc(d) || d < 0 || d >= kTwo64) return std::nullopt;
  return static_cast<std::uint64_t>(d);
}

// "O:I", each 0..65535 (65535:65535 is the null link, TS Core Appendix C).
std::optional<Objlnk> parseObjlnk(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto id = [](std::string_view part) -> std::optional<std::uint16_t> {
    if (part.empty() || part.size() > 5) return std::nullopt;
    std::uint32_t v = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc() || ptr != part.data() + part.size() || v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
  };
  const auto o = id(text.substr(0, colon));
  const auto i = id(text.substr(colon + 1));
  if (!o || !i) return std::nullopt;
  return Objlnk{*o, *i};
}

bool isValueKey(const Dialect& d, std::string_view key) {
  return key == kNumberKey || key == d.stringKey || key == d.booleanKey ||
         (!d.opaqueKey.empty() && key == d.opaqueKey) || key == d.objlnkKey;
}

// The value under `key` as the type the model gives the resource at `path` (nullopt: unknown
// resource, typed by the key alone, a number as kFloat).
Result<Value> typedValue(const Dialect& d, const std::string& where, std::string_view key,
                         const Json& j, const Path& path, std::optional<DataType> type) {
  const std::string k = '"' + std::string(key) + '"';
  auto mismatch = [&] {
    return bad(where + k + " does not fit " + path.toString() + " (" +
               std::string(dataTypeName(*type)) + ")");
  };
  if (key == kNumberKey) {
    if (!j.is_number()) return bad(where + k + " is not a number");
    if (!type || *type == DataType::kFloat) return Value::floating(toDouble(j));
    auto notIntegral = [&] {
      return bad(where + k + " for " + path.toString() + " (" + std::string(dataTypeName(*type)) +
                 ") is not integral or out of range");
    };
    switch (*type) {
      case DataType::kInteger:
        if (auto i = toInt64(j)) return Value::integer(*i);
        return notIntegral();
      case DataType::kTime:
        if (auto i = toInt64(j)) return Value::time(*i);
        return notIntegral();
      case DataType::kUnsignedInteger:
        if (auto u = toUint64(j)) return Value::unsignedInteger(*u);
        return notIntegral();
      default:
        return mismatch();
    }
  }
  if (key == d.booleanKey) {
    const auto* b = j.get_ptr<const Json::boolean_t*>();
    if (!b) return bad(where + k + " is not a boolean");
    if (type && *type != DataType::kBoolean) return mismatch();
    return Value::boolean(*b);
  }
  const auto* s = j.get_ptr<const Json::string_t*>();
  if (!s) return bad(where + k + " is not a string");
  const bool opaqueHere =
      d.opaqueKey.empty() ? (key == d.stringKey && type == DataType::kOpaque) : key == d.opaqueKey;
  if (opaqueHere) {
    if (type && *type != DataType::kOpaque) return mismatch();
    auto bytes = decodeBase64(*s);
    if (!bytes) return bad(where + k + " is not base64");
    return Value::opaque(std::move(*bytes));
  }
  if (key == d.objlnkKey) {
    if (type && *type != DataType::kObjlnk) return mismatch();
    auto link = parseObjlnk(*s);
    if (!link)
      return bad(where + k + " " + quoteForMessage(*s, kMaxEcho) + " is not an objlnk \"O:I\"");
    return Value::objlnk(link->objectId, link->instanceId);
  }
  // The string key. A core link (kCoreLink) is a string here (value.h).
  if (type && *type != DataType::kString && *type != DataType::kCoreLink) return mismatch();
  return Value::string(*s);
}

// Base name and base time carry over from record to record until changed (RFC 8428 4.1).
struct Bases {
  std::string name;
  std::optional<double> time;
};

std::optional<double> finiteNumber(const Json& j) {
  if (!j.is_number()) return std::nullopt;
  const double d = toDouble(j);
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

Result<Record> decodeRecord(const Dialect& d, const Json& rec, std::size_t index, Bases& bases,
                            const Path& requestPath, const ObjectModel& model) {
  const std::string where = std::string(d.recordWord) + " " + std::to_string(index) + ": ";
  if (!rec.is_object()) return bad(where + "is not an object");
  const std::string* name = nullptr;
  std::optional<double> time;
  const Json* value = nullptr;
  std::string valueKey;
  for (auto it = rec.begin(); it != rec.end(); ++it) {
    const std::string& key = it.key();
    const Json& field = it.value();
    if (key == "n") {
      name = field.get_ptr<const Json::string_t*>();
      if (!name) return bad(where + "\"n\" is not a string");
    } else if (key == "t") {
      time = finiteNumber(field);
      if (!time) return bad(where + "\"t\" is not a number");
    } else if (isValueKey(d, key)) {
      // RFC 8428 4.2: at most one value field.
      if (value) return bad(where + "has both \"" + valueKey + "\" and \"" + key + "\"");
      value = &field;
      valueKey = key;
    } else if (d.recordBases && key == "bn") {
      const auto* bn = field.get_ptr<const Json::string_t*>();
      if (!bn) return bad(where + "\"bn\" is not a string");
      bases.name = *bn;
    } else if (d.recordBases && key == "bt") {
      bases.time = finiteNumber(field);
      if (!bases.time) return bad(where + "\"bt\" is not a number");
    } else if (d.recordBases &&
               (key == "bv" || key == "bs" || key == "s" || (!key.empty() && key.back() == '_'))) {
      // Base value and sum change what "v" means; LwM2M never sends them, and RFC 8428 4.4
      // says a field ending in '_' must be understood or the pack refused.
      return bad(where + "unsupported field " + quoteForMessage(key, kMaxEcho));
    }
    // Anything else (u, bu, bver, ut, ...) says nothing an LwM2M value needs: ignored.
  }

  const std::string fullName = bases.name + (name ? *name : std::string());
  auto path = Path::parse(fullName);
  if (!path.ok()) return bad(where + "name " + path.error().message);
  if (!path->isResource() && !path->isResourceInstance()) {
    return bad(where + "name " + quoteForMessage(fullName, kMaxEcho) + " is not a resource path");
  }
  if (!requestPath.contains(*path)) {
    return bad(where + path->toString() + " is outside the request path " + requestPath.toString());
  }
  // The name-only form belongs to Read-Composite/Write-Composite requests, not to answers.
  if (!value) return bad(where + path->toString() + " has no value");

  const auto info = model.resource(path->objectId(), path->resourceId());
  if (info && info->multiple && path->isResource()) {
    return bad(where + path->toString() + " is multiple-instance: needs an instance id");
  }
  if (info && !info->multiple && path->isResourceInstance()) {
    return bad(where + path->parent().toString() + " is single-instance: no instance id");
  }
  auto typed = typedValue(d, where, valueKey, *value, *path,
                          info ? std::optional<DataType>(info->type) : std::nullopt);
  if (!typed.ok()) return typed.error();

  Record record{*path, std::move(*typed), std::nullopt};
  // RFC 8428 4.5.3: time = bt + t. A sum below 2^28 is relative to "now" (negative = ago);
  // pure code has no clock, so it stays relative in Record::timestamp for the caller to resolve.
  if (bases.time || time) {
    const double t = bases.time.value_or(0) + time.value_or(0);
    if (!std::isfinite(t)) return bad(where + "time is out of range");
    record.timestamp = t;
  }
  return record;
}

Result<std::vector<Record>> decodeDocument(const Dialect& d, std::span<const std::uint8_t> payload,
                                           const Path& requestPath, const ObjectModel& model,
                                           const DecodeLimits& limits) {
  auto doc = parseDocument(payload, std::min(d.depth, limits.maxDepth));
  if (!doc.ok()) return doc.error();
  Bases bases;
  const Json* records = nullptr;
  if (d.recordBases) {
    if (!doc->is_array()) return bad("SenML JSON must be an array of records");
    records = &*doc;
  } else {
    if (!doc->is_object()) return bad("LwM2M JSON must be an object with \"e\"");
    // Without "bn" the names are relative to the request path.
    bases.name = requestPath.isRoot() ? "/" : requestPath.toString() + "/";
    for (auto it = doc->begin(); it != doc->end(); ++it) {
      if (it.key() == "bn") {
        const auto* bn = it.value().get_ptr<const Json::string_t*>();
        if (!bn) return bad("\"bn\" is not a string");
        bases.name = *bn;
      } else if (it.key() == "bt") {
        bases.time = finiteNumber(it.value());
        if (!bases.time) return bad("\"bt\" is not a number");
      } else if (it.key() == "e") {
        if (!it.value().is_array()) return bad("\"e\" is not an array");
        records = &it.value();
      }
    }
    if (!records) return bad("LwM2M JSON has no \"e\" array");
  }
  if (records->size() > limits.maxRecords) {
    return makeError(ErrorCode::kTooLarge, std::to_string(records->size()) +
                                               " records, more than the limit of " +
                                               std::to_string(limits.maxRecords));
  }
  std::vector<Record> out;
  out.reserve(records->size());
  for (std::size_t i = 0; i < records->size(); ++i) {
    auto record = decodeRecord(d, (*records)[i], i, bases, requestPath, model);
    if (!record.ok()) return record.error();
    out.push_back(std::move(*record));
  }
  return out;
}

// ---- encoding ----

// RFC 8259 section 7 for a string already known to be UTF-8.
void appendString(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
}

template <class Number>
void appendNumber(std::string& out, Number n) {
  // Integers exactly; doubles as the shortest text that reads back as the same double.
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  (void)ec;  // 64 bytes hold any int64/uint64 and any shortest double
  out.append(buf, end);
}

void appendField(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

Result<void> appendValue(const Dialect& d, std::string& out, const std::string& where,
                         const Value& value) {
  return std::visit(
      [&](const auto& v) -> Result<void> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!isValidUtf8(v)) return bad(where + "string is not UTF-8");
          appendField(out, d.stringKey);
          appendString(out, v);
        } else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
          appendField(out, kNumberKey);
          appendNumber(out, v);
        } else if constexpr (std::is_same_v<T, double>) {
          if (!std::isfinite(v)) return bad(where + "float is not finite");
          appendField(out, kNumberKey);
          appendNumber(out, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          appendField(out, d.booleanKey);
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, Opaque>) {
          appendField(out, d.opaqueKey.empty() ? d.stringKey : d.opaqueKey);
          out += '"';
          out += encodeBase64(v, d.urlBase64);
          out += '"';
        } else if constexpr (std::is_same_v<T, Time>) {
          appendField(out, kNumberKey);
          appendNumber(out, v.seconds);
        } else if constexpr (std::is_same_v<T, Objlnk>) {
          appendField(out, d.objlnkKey);
          out += '"';
          appendNumber(out, v.objectId);
          out += ':';
          appendNumber(out, v.instanceId);
          out += '"';
        }
        return {};
      },
      value.variant());
}

// The base every record name is relative to: SenML takes the deepest path that holds every
// record, LwM2M JSON the request path (TS 1.0 6.4.4 examples); either is moved up until each
// record keeps a non-empty relative name.
Path baseFor(const Dialect& d, const std::vector<Record>& records, const Path& requestPath) {
  Path base = requestPath;
  if (d.recordBases && !records.empty()) {
    base = records.front().path;
    for (const Record& r : records) {
      while (!base.contains(r.path)) base = base.parent();
    }
  }
  while (!base.isRoot() && std::any_of(records.begin(), records.end(), [&](const Record& r) {
    return r.path.depth() <= base.depth();
  })) {
    base = base.parent();
  }
  return base;
}

Result<std::vector<std::uint8_t>> encodeDocument(const Dialect& d,
                                                 const std::vector<Record>& records,
                                                 const Path& requestPath) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Path& p = records[i].path;
    const std::string where = "record " + std::to_string(i) + ": ";
    if (!p.isResource() && !p.isResourceInstance()) {
      return bad(where + p.toString() + " is not a resource or resource instance");
    }
    if (!requestPath.contains(p)) {
      return bad(where + p.toString() + " is outside the request path " + requestPath.toString());
    }
  }
  const Path base = baseFor(d, records, requestPath);
  const std::string bn = base.isRoot() ? "/" : base.toString() + "/";

  std::string out;
  if (d.recordBases) {
    out += '[';
  } else {
    out += "{\"bn\":";
    appendString(out, bn);
    out += ",\"e\":[";
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    const std::string where = "record " + std::to_string(i) + ": ";
    if (i != 0) out += ',';
    out += '{';
    if (d.recordBases && i == 0) {
      appendField(out, "bn");
      appendString(out, bn);
      out += ',';
    }
    appendField(out, "n");
    appendString(out, std::string_view(r.path.toString()).substr(bn.size()));
    out += ',';
    if (auto ok = appendValue(d, out, where, r.value); !ok.ok()) return ok.error();
    if (r.timestamp) {
      if (!std::isfinite(*r.timestamp)) return bad(where + "timestamp is not finite");
      out += ',';
      appendField(out, "t");
      appendNumber(out, *r.timestamp);
    }
    out += '}';
  }
  out += d.recordBases ? "]" : "]}";
  return std::vector<std::uint8_t>(out.begin(), out.end());
}

const Dialect& dialectOf(JsonDialect which) {
  return which == JsonDialect::kSenml ? kSenmlDialect : kLwm2mDialect;
}

}  // namespace

Result<std::vector<Record>> decodeJson(JsonDialect dialect, std::span<const std::uint8_t> payload,
                                       const Path& requestPath, const ObjectModel& model,
                                       const DecodeLimits& limits) {
  try {
    return decodeDocument(dialectOf(dialect), payload, requestPath, model, limits);
  } catch (...) {  // bad_alloc, or a bug: never let it reach the event loop
    return makeError(ErrorCode::kInternal, "JSON decoder failed unexpectedly");
  }
}

Result<std::vector<std::uint8_t>> encodeJson(JsonDialect dialect,
                                             const std::vector<Record>& records,
                                             const Path& requestPath) {
  try {
    return encodeDocument(dialectOf(dialect), records, requestPath);
  } catch (...) {
    return makeError(ErrorCode::kInternal, "JSON encoder failed unexpectedly");
  }
}

}  // namespace detail

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits) {
  return detail::decodeJson(detail::JsonDialect::kSenml, payload, requestPath, model, limits);
}

Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath) {
  return detail::encodeJson(detail::JsonDialect::kSenml, records, requestPath);
}

}  // namespace lwgate::lwm2m::senml_json
