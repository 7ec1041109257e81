#include "gateway/core/submission.h"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "gateway/core/operation_mapping.h"
#include "gateway/lwm2m/cbor.h"
#include "gateway/lwm2m/content_format.h"
#include "gateway/lwm2m/diagnostic.h"
#include "gateway/lwm2m/path.h"

namespace lwgate::core {
namespace {

namespace fmt = lwm2m::format;
using lwm2m::DataType;
using lwm2m::Path;
using lwm2m::Value;

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

constexpr std::array<std::pair<std::string_view, std::uint16_t>, 7> kFormats{{
    {"text", fmt::kTextPlain},
    {"opaque", fmt::kOpaque},
    {"tlv", fmt::kTlv},
    {"senml-json", fmt::kSenmlJson},
    {"senml-cbor", fmt::kSenmlCbor},
    {"lwm2m-json", fmt::kLwm2mJson},
    {"lwm2m-cbor", fmt::kLwm2mCbor},
}};

template <class T>
bool parseNumber(std::string_view text, T* out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size();
}

std::string describe(const Value& v) {
  return std::string(lwm2m::dataTypeName(v.type()));
}

Result<Value> fromString(const std::string& s, DataType type, const std::string& where) {
  auto cannot = [&](std::string_view what) {
    return bad(where + " is " + std::string(what) + ", and " + lwm2m::quoteForMessage(s) +
               " is not one");
  };
  switch (type) {
    case DataType::kString:
    case DataType::kCoreLink:
      return Value::string(s);
    case DataType::kInteger: {
      std::int64_t i = 0;
      if (!parseNumber(s, &i)) return cannot("an integer");
      return Value::integer(i);
    }
    case DataType::kUnsignedInteger: {
      std::uint64_t u = 0;
      if (!parseNumber(s, &u)) return cannot("an unsigned integer");
      return Value::unsignedInteger(u);
    }
    case DataType::kFloat: {
      double d = 0;
      if (!parseNumber(s, &d) || !std::isfinite(d)) return cannot("a float");
      return Value::floating(d);
    }
    case DataType::kBoolean:
      if (s == "true" || s == "1") return Value::boolean(true);
      if (s == "false" || s == "0") return Value::boolean(false);
      return cannot("a boolean (true, false, 1 or 0)");
    case DataType::kOpaque:
      return Value::opaque(lwm2m::Opaque(s.begin(), s.end()));
    case DataType::kTime: {
      std::int64_t t = 0;
      if (!parseNumber(s, &t)) return cannot("a time (seconds since 1970)");
      return Value::time(t);
    }
    case DataType::kObjlnk: {
      auto colon = s.find(':');
      std::uint16_t o = 0, i = 0;
      if (colon == std::string::npos || !parseNumber(std::string_view(s).substr(0, colon), &o) ||
          !parseNumber(std::string_view(s).substr(colon + 1), &i)) {
        return cannot("an object link (\"3:0\")");
      }
      return Value::objlnk(o, i);
    }
  }
  return cannot("of an unknown type");
}

// Numbers and the rest: the conversions that lose nothing.
Result<Value> convert(const Value& v, DataType type, const std::string& where) {
  if (const auto* s = v.get<std::string>()) return fromString(*s, type, where);
  const auto wrong = [&] {
    return bad(where + " is of type " + std::string(lwm2m::dataTypeName(type)) + ", not " +
               describe(v));
  };
  return std::visit(
      [&](const auto& x) -> Result<Value> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::uint64_t>) {
          const bool negative = std::is_same_v<T, std::int64_t> && x < 0;
          switch (type) {
            case DataType::kInteger:
              if (!negative &&
                  static_cast<std::uint64_t>(x) >
                      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                return wrong();
              }
              return Value::integer(static_cast<std::int64_t>(x));
            case DataType::kUnsignedInteger:
              if (negative) return wrong();
              return Value::unsignedInteger(static_cast<std::uint64_t>(x));
            case DataType::kFloat:
              return Value::floating(static_cast<double>(x));
            case DataType::kTime:
              return Value::time(static_cast<std::int64_t>(x));
            default:
              return wrong();
          }
        } else if constexpr (std::is_same_v<T, double>) {
          if (type == DataType::kFloat) return v;
          return wrong();
        } else if constexpr (std::is_same_v<T, bool>) {
          if (type == DataType::kBoolean) return v;
          return wrong();
        } else if constexpr (std::is_same_v<T, lwm2m::Opaque>) {
          if (type == DataType::kOpaque) return v;
          return wrong();
        } else if constexpr (std::is_same_v<T, lwm2m::Time>) {
          if (type == DataType::kTime) return v;
          if (type == DataType::kInteger) return Value::integer(x.seconds);
          return wrong();
        } else if constexpr (std::is_same_v<T, lwm2m::Objlnk>) {
          if (type == DataType::kObjlnk) return v;
          return wrong();
        } else {
          return wrong();
        }
      },
      v.variant());
}

// The path a relative value path ("1", "6/0") names below `base`.
Result<Path> below(const Path& base, std::string_view relative) {
  if (relative.empty()) return base;
  if (relative.front() == '/')
    return bad("value path " + std::string(relative) + " must be relative");
  auto parsed = Path::parse(base.toString() + (base.isRoot() ? "" : "/") + std::string(relative));
  if (!parsed) {
    return bad("value path " + lwm2m::quoteForMessage(relative) + " below " + base.toString() +
               ": " + parsed.error().message);
  }
  return parsed;
}

Result<std::vector<lwm2m::Record>> records(const CallerRequest& caller, const Path& base,
                                           bool absolute, const lwm2m::ObjectModel& model) {
  std::vector<lwm2m::Record> out;
  for (const auto& v : caller.values) {
    auto path = absolute ? Path::parse(v.path) : below(base, v.path);
    if (!path) return path.error();
    if (path->depth() < 3) {
      return bad("value for " + path->toString() +
                 ": values go to resources (/O/I/R) or resource instances (/O/I/R/RI)");
    }
    auto typed = coerceValue(v.value, *path, model);
    if (!typed) return typed.error();
    out.push_back({*path, std::move(*typed), std::nullopt});
  }
  return out;
}

// Read-Composite / Observe-Composite payload: the paths as SenML names (TS Transport 6.4.3).
std::vector<std::uint8_t> compositeNames(const std::vector<Path>& paths, std::uint16_t format) {
  if (format == fmt::kSenmlJson) {
    std::string json = "[";
    for (const auto& p : paths) {
      if (json.size() > 1) json += ',';
      json += "{\"n\":\"" + p.toString() + "\"}";  // digits and '/': nothing to escape
    }
    json += ']';
    return {json.begin(), json.end()};
  }
  lwm2m::cbor::Writer w;  // SenML CBOR: n is label 0
  w.startArray(paths.size());
  for (const auto& p : paths) {
    w.startMap(1);
    w.writeUnsigned(0);
    w.writeText(p.toString());
  }
  return w.take();
}

// TS Core 5.4.5: arg ("," arg)*, arg = digit ["=" "'" chars "'"] with chars printable ASCII
// except "'".
bool validExecuteArguments(std::string_view s) {
  if (s.empty()) return true;
  std::size_t i = 0;
  while (true) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    ++i;
    if (i < s.size() && s[i] == '=') {
      if (++i >= s.size() || s[i] != '\'') return false;
      ++i;
      while (i < s.size() && s[i] != '\'') {
        if (s[i] < 0x20 || s[i] > 0x7e) return false;
        ++i;
      }
      if (i >= s.size()) return false;
      ++i;
    }
    if (i == s.size()) return true;
    if (s[i] != ',') return false;
    ++i;
  }
}

}  // namespace

Result<std::uint16_t> parseFormat(std::string_view name) {
  for (const auto& [n, number] : kFormats) {
    if (n == name) return number;
  }
  std::uint16_t number = 0;
  if (parseNumber(name, &number) && lwm2m::isSupportedFormat(number)) return number;
  return bad("unknown content format " + lwm2m::quoteForMessage(name) +
             " (text, opaque, tlv, senml-json, senml-cbor, lwm2m-json, lwm2m-cbor or a number)");
}

std::string_view formatName(std::uint16_t format) {
  for (const auto& [n, number] : kFormats) {
    if (number == format) return n;
  }
  if (format == fmt::kLinkFormat) return "link-format";
  return "";
}

Result<Value> coerceValue(const Value& value, const Path& path, const lwm2m::ObjectModel& model) {
  if (path.depth() < 3) return value;
  auto info = model.resource(path.objectId(), path.resourceId());
  if (!info) return value;
  if (info->executable) {
    return bad(path.toString() + " is executable: it takes Execute, not a value");
  }
  // The decoders hold a device's payload to the same rules: a value the device could only
  // refuse is refused here, at submission.
  if (info->multiple && path.isResource()) {
    return bad(path.toString() + " is multiple-instance: give the instance, e.g. " +
               path.toString() + "/0");
  }
  if (!info->multiple && path.isResourceInstance()) {
    return bad(path.parent().toString() + " is single-instance: no instance id");
  }
  return convert(value, info->type, path.toString());
}

Result<DownlinkRequest> prepareRequest(const CallerRequest& caller, const Registration* reg,
                                       const lwm2m::ObjectModel& model,
                                       const SubmissionLimits& limits, WallTime now) {
  if (caller.endpoint.empty()) return bad("no endpoint given");
  if (caller.values.size() > limits.maxValues || caller.paths.size() > limits.maxValues) {
    return makeError(ErrorCode::kTooLarge,
                     "more than " + std::to_string(limits.maxValues) + " values or paths");
  }
  const auto& o = caller.options;
  if (o.idempotencyKey &&
      (o.idempotencyKey->empty() || o.idempotencyKey->size() > limits.maxKeyLength)) {
    return bad("idempotency_key must be 1 to " + std::to_string(limits.maxKeyLength) + " bytes");
  }
  if (o.ttl && (o.ttl->count() <= 0 || *o.ttl > kMaxTtl)) {
    return bad("ttl must be between 1 second and 10 years");
  }

  // Without a registration: what every LwM2M 1.1 device accepts. The mapping below decides
  // with the device's real registration again when the request is sent.
  Registration fallback;
  fallback.version = "1.1";
  const Registration& device = reg ? *reg : fallback;
  const std::uint16_t format =
      o.format.value_or(reg ? preferredFormat(*reg, caller.path) : fmt::kTlv);

  DownlinkRequest r;
  r.endpoint = caller.endpoint;
  r.operation = caller.operation;
  r.idempotencyKey = o.idempotencyKey;
  r.urgent = o.urgent;
  if (o.ttl) r.deadline = now + *o.ttl;
  if (o.format) r.acceptFormat = o.format;

  const bool composite = caller.operation == Operation::kReadComposite ||
                         caller.operation == Operation::kWriteComposite ||
                         caller.operation == Operation::kObserveComposite;
  Path path;
  if (composite) {
    if (!caller.path.empty() && caller.path != "/") {
      return bad("composite operations take a list of paths, not a single path");
    }
  } else {
    auto parsed = Path::parse(caller.path);
    if (!parsed)
      return bad("path " + lwm2m::quoteForMessage(caller.path) + ": " + parsed.error().message);
    path = *parsed;
    r.path = path.toString();
  }
  const bool takesValues =
      caller.operation == Operation::kWrite || caller.operation == Operation::kWritePartial ||
      caller.operation == Operation::kCreate || caller.operation == Operation::kWriteComposite;
  if (!takesValues && !caller.values.empty()) {
    return bad(std::string(operationName(caller.operation)) + " takes no values");
  }
  const bool takesText = caller.operation == Operation::kExecute ||
                         caller.operation == Operation::kWriteAttributes ||
                         caller.operation == Operation::kObserve;  // attributes, optional
  if (!takesText && !caller.text.empty()) {
    return bad(std::string(operationName(caller.operation)) + " takes no arguments");
  }

  switch (caller.operation) {
    case Operation::kWrite:
    case Operation::kWritePartial:
    case Operation::kCreate: {
      if (caller.operation == Operation::kWrite && o.partial)
        r.operation = Operation::kWritePartial;
      if (caller.values.empty()) {
        return bad(std::string(operationName(caller.operation)) + " needs at least one value");
      }
      Path base = path;
      if (caller.operation == Operation::kCreate) {
        if (!path.isObject()) return bad("create takes an object path (/O)");
        // Without an instance id the device picks one; only TLV can say "resources of the new
        // instance" without naming it.
        if (!o.instance && format != fmt::kTlv) {
          return bad("create in " + std::string(formatName(format)) +
                     " needs the new instance's id (option \"instance\")");
        }
        if (o.instance && *o.instance > Path::kMaxId) return bad("instance id out of range");
        base = path.child(o.instance.value_or(0));
      }
      auto recs = records(caller, base, false, model);
      if (!recs) return recs.error();
      const Path encodeAt = caller.operation == Operation::kCreate && o.instance ? path : base;
      auto payload = lwm2m::encode(format, *recs, encodeAt);
      if (!payload) return bad("cannot encode the values: " + payload.error().message);
      r.payload = std::move(*payload);
      r.contentFormat = format;
      break;
    }
    case Operation::kWriteComposite: {
      if (caller.values.empty()) return bad("write-composite needs at least one value");
      auto recs = records(caller, Path(), true, model);
      if (!recs) return recs.error();
      const std::uint16_t ct =
          o.format.value_or(format == fmt::kSenmlJson ? fmt::kSenmlJson : fmt::kSenmlCbor);
      auto payload = lwm2m::encode(ct, *recs, Path());
      if (!payload) return bad("cannot encode the values: " + payload.error().message);
      r.payload = std::move(*payload);
      r.contentFormat = ct;
      for (const auto& rec : *recs) r.path += (r.path.empty() ? "" : " ") + rec.path.toString();
      break;
    }
    case Operation::kReadComposite:
    case Operation::kObserveComposite: {
      if (caller.paths.empty()) return bad("give at least one path");
      std::vector<Path> paths;
      for (const auto& text : caller.paths) {
        auto p = Path::parse(text);
        if (!p) return p.error();
        paths.push_back(*p);
        r.path += (r.path.empty() ? "" : " ") + p->toString();
      }
      const std::uint16_t ct =
          o.format.value_or(format == fmt::kSenmlJson ? fmt::kSenmlJson : fmt::kSenmlCbor);
      if (ct != fmt::kSenmlJson && ct != fmt::kSenmlCbor) {
        return bad("composite reads take senml-json or senml-cbor");
      }
      r.payload = compositeNames(paths, ct);
      r.contentFormat = ct;
      r.acceptFormat = ct;
      break;
    }
    case Operation::kExecute:
      if (!validExecuteArguments(caller.text)) {
        return bad("execute arguments " + lwm2m::quoteForMessage(caller.text) +
                   " do not follow the LwM2M grammar: 0='value',1 ...");
      }
      r.payload.assign(caller.text.begin(), caller.text.end());
      break;
    case Operation::kWriteAttributes:
    case Operation::kObserve:
      r.payload.assign(caller.text.begin(), caller.text.end());
      break;
    default:
      break;
  }
  if (r.payload.size() > limits.maxPayload) {
    return makeError(ErrorCode::kTooLarge,
                     "the encoded payload is " + std::to_string(r.payload.size()) +
                         " bytes, more than the limit of " + std::to_string(limits.maxPayload));
  }
  // Everything the CoAP mapping refuses (a path the operation cannot take, attributes, ...) is
  // refused now, with the same words.
  if (auto mapped = toCoapRequest(r, device); !mapped) return mapped.error();
  return r;
}

RenderedResult renderResult(const DownlinkRequest& request, const lwm2m::ObjectModel& model) {
  RenderedResult out;
  if (request.responsePayload.empty()) return out;
  const auto& bytes = request.responsePayload;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::uint16_t format = request.responseFormat.value_or(fmt::kTextPlain);
  if (format == fmt::kLinkFormat) {
    out.json = lwm2m::toJsonString(text);
    return out;
  }
  // Error answers carry a diagnostic text (RFC 7252 5.5.2), not values.
  if (!request.responseCode || (*request.responseCode >> 5) != 2) {
    out.json = lwm2m::toJsonString(text);
    return out;
  }
  const bool composite = request.operation == Operation::kReadComposite ||
                         request.operation == Operation::kObserveComposite;
  Path base;
  if (!composite) {
    if (auto p = Path::parse(request.path)) base = *p;
  }
  auto decoded = lwm2m::decode(format, bytes, base, model);
  if (!decoded) {
    out.decodeError = decoded.error().message;
    return out;
  }
  out.json = lwm2m::toJson(*decoded);
  return out;
}

}  // namespace lwgate::core
