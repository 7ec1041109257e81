#include "gateway/lwm2m/codec_senml_cbor.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "gateway/lwm2m/cbor.h"
#include "gateway/lwm2m/diagnostic.h"

// SenML CBOR (RFC 8428 section 6; TS 1.1 Transport 7.4.6): an array of maps keyed by the integer
// labels of RFC 8428 Table 6, plus the LwM2M text label "vlo" (objlnk "O:I"). Semantics follow
// SenML JSON (codec_senml_json.cpp) wherever the two can agree:
//  - The name is bn + n and must be a resource or resource-instance path inside the request
//    path; bn and bt carry over from record to record until a record changes them (RFC 8428 4.1).
//  - Exactly one of v, vs, vb, vd, vlo. A number keeps its CBOR kind unless the model types it
//    (cbor::numberToValue); vs/vb/vd/vlo must fit the model type when the model knows the
//    resource. The name-only form belongs to Read-/Write-Composite requests, not to answers.
//  - Time: t and bt may be integers, floats or decimal fractions. time = bt + t (RFC 8428 4.5.3);
//    a result below 2^28 is relative to "now" (negative = ago) and stays relative in
//    Record::timestamp: this pure code has no clock, the caller resolves it.
//  - bv, bs and s change what a value means; LwM2M never sends them: refused, as are text labels
//    ending in '_' (RFC 8428 4.4, must-understand). bver above 10 is refused (RFC 8428 4.4).
//    Other labels (u, bu, ut, unknown ones) say nothing an LwM2M value needs: skipped.
//  - A label twice in one record is refused (a CBOR map with duplicate keys is not valid,
//    RFC 8949 5.6).
// Encoding writes bn once, in the first record (the deepest path holding every record, moved up
// until every n is non-empty), then n per record; integers, floats and lengths in their shortest
// form (cbor::Writer). Time values go as integer v, objlnk as "vlo".

namespace lwgate::lwm2m::senml_cbor {
namespace {

using cbor::Item;
using cbor::Kind;
using cbor::Leaf;

// RFC 8428 Table 6.
constexpr std::int64_t kBaseVersion = -1;
constexpr std::int64_t kBaseName = -2;
constexpr std::int64_t kBaseTime = -3;
constexpr std::int64_t kBaseUnit = -4;
constexpr std::int64_t kBaseValue = -5;
constexpr std::int64_t kBaseSum = -6;
constexpr std::int64_t kName = 0;
constexpr std::int64_t kUnit = 1;
constexpr std::int64_t kValue = 2;
constexpr std::int64_t kStringValue = 3;
constexpr std::int64_t kBooleanValue = 4;
constexpr std::int64_t kSum = 5;
constexpr std::int64_t kTime = 6;
constexpr std::int64_t kUpdateTime = 7;
constexpr std::int64_t kDataValue = 8;
// TS Transport 7.4.6: the objlnk value travels under the text label "vlo". It gets a code of its
// own here, outside the integer label space LwM2M uses.
constexpr std::string_view kObjlnkText = "vlo";
constexpr std::int64_t kObjlnkValue = 1000000;
// Labels nobody here needs; their values are skipped.
constexpr std::int64_t kIgnored = 1000001;
constexpr std::uint64_t kSenmlVersion = 10;

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

std::string echoed(std::string_view text) {
  return quoteForMessage(text, 24);
}

std::string labelName(std::int64_t label) {
  switch (label) {
    case kBaseVersion:
      return "bver";
    case kBaseName:
      return "bn";
    case kBaseTime:
      return "bt";
    case kBaseValue:
      return "bv";
    case kBaseSum:
      return "bs";
    case kName:
      return "n";
    case kValue:
      return "v";
    case kStringValue:
      return "vs";
    case kBooleanValue:
      return "vb";
    case kSum:
      return "s";
    case kTime:
      return "t";
    case kDataValue:
      return "vd";
    case kObjlnkValue:
      return "vlo";
    default:
      return "label " + std::to_string(label);
  }
}

bool isValueLabel(std::int64_t label) {
  return label == kValue || label == kStringValue || label == kBooleanValue ||
         label == kDataValue || label == kObjlnkValue;
}

// Base name and base time carry over from record to record until changed (RFC 8428 4.1).
struct Bases {
  std::string name;
  std::optional<double> time;
};

class Decoder {
 public:
  Decoder(std::span<const std::uint8_t> payload, const Path& requestPath, const ObjectModel& model,
          const DecodeLimits& limits)
      : reader_(payload, limits.maxDepth),
        requestPath_(requestPath),
        model_(model),
        limits_(limits) {}

  Result<std::vector<Record>> run() {
    auto top = reader_.next();
    if (!top) return top.error();
    if (top->kind != Kind::kArray) return bad("SenML CBOR must be an array of records");
    std::vector<Record> records;
    for (std::size_t index = 0;; ++index) {
      auto item = reader_.next();
      if (!item) return item.error();
      if (item->kind == Kind::kEnd) break;
      if (records.size() == limits_.maxRecords) {
        return makeError(ErrorCode::kTooLarge, "more than the limit of " +
                                                   std::to_string(limits_.maxRecords) + " records");
      }
      auto record = decodeRecord(*item, index);
      if (!record) return record.error();
      records.push_back(std::move(*record));
    }
    if (auto end = reader_.finish(); !end) return end.error();
    return records;
  }

 private:
  // The label of a record field, or kIgnored; fails on labels that must not be ignored.
  Result<std::int64_t> label(const Item& key, const std::string& where) {
    switch (key.kind) {
      case Kind::kUnsigned:
        return key.number <= static_cast<std::uint64_t>(kDataValue)
                   ? static_cast<std::int64_t>(key.number)
                   : kIgnored;
      case Kind::kNegative:
        return key.number < 6 ? -1 - static_cast<std::int64_t>(key.number) : kIgnored;
      case Kind::kText:
        if (key.text() == kObjlnkText) return kObjlnkValue;
        if (!key.text().empty() && key.text().back() == '_') {
          return bad(where + "unsupported label " + echoed(key.text()));
        }
        return kIgnored;
      default:
        return bad(where + "label at byte " + std::to_string(key.offset) +
                   " is not an integer or text");
    }
  }

  Result<Leaf> leaf(const std::string& where) {
    auto first = reader_.next();
    if (!first) return first.error();
    auto value = cbor::readLeaf(reader_, *first);
    if (!value) return bad(where + value.error().message);
    return value;
  }

  Result<Record> decodeRecord(const Item& item, std::size_t index) {
    const std::string where = "record " + std::to_string(index) + ": ";
    if (item.kind != Kind::kMap) return bad(where + "is not a map");
    std::set<std::int64_t> seen;
    std::optional<std::string> name;
    std::optional<double> time;
    std::optional<Leaf> value;
    std::int64_t valueLabel = 0;
    while (true) {
      auto key = reader_.next();
      if (!key) return key.error();
      if (key->kind == Kind::kEnd) break;
      auto code = label(*key, where);
      if (!code) return code.error();
      if (*code == kIgnored || *code == kBaseUnit || *code == kUnit || *code == kUpdateTime) {
        if (auto skipped = reader_.skip(); !skipped) return skipped.error();
        continue;
      }
      if (!seen.insert(*code).second) return bad(where + labelName(*code) + " appears twice");
      if (*code == kBaseValue || *code == kBaseSum || *code == kSum) {
        // Base value and sum change what "v" means; LwM2M never sends them.
        return bad(where + "unsupported label " + labelName(*code));
      }
      auto field = leaf(where);
      if (!field) return field.error();
      const std::string fieldName = labelName(*code);
      if (isValueLabel(*code)) {
        // RFC 8428 4.2: at most one value field.
        if (value) return bad(where + "has both " + labelName(valueLabel) + " and " + fieldName);
        value = std::move(*field);
        valueLabel = *code;
        continue;
      }
      switch (*code) {
        case kBaseVersion:
          if (field->kind != Leaf::Kind::kNumber ||
              field->number.kind != cbor::Number::Kind::kUnsigned) {
            return bad(where + "bver is not an unsigned integer");
          }
          if (field->number.magnitude > kSenmlVersion) {
            return bad(where + "SenML version " + std::to_string(field->number.magnitude) +
                       " is not supported");
          }
          break;
        case kBaseName:
        case kName:
          if (field->kind != Leaf::Kind::kText) return bad(where + fieldName + " is not text");
          if (*code == kBaseName) {
            bases_.name = std::move(field->text);
          } else {
            name = std::move(field->text);
          }
          break;
        case kBaseTime:
        case kTime: {
          if (field->kind != Leaf::Kind::kNumber)
            return bad(where + fieldName + " is not a number");
          auto seconds = cbor::numberToValue(field->number, DataType::kFloat, false);
          const double t = *seconds->get<double>();  // kFloat takes every number
          if (!std::isfinite(t)) return bad(where + fieldName + " is not finite");
          if (*code == kBaseTime) {
            bases_.time = t;
          } else {
            time = t;
          }
          break;
        }
        default:
          break;
      }
    }

    const std::string fullName = bases_.name + name.value_or(std::string());
    auto path = Path::parse(fullName);
    if (!path) return bad(where + "name " + path.error().message);
    if (!path->isResource() && !path->isResourceInstance()) {
      return bad(where + "name " + echoed(fullName) + " is not a resource path");
    }
    if (!requestPath_.contains(*path)) {
      return bad(where + path->toString() + " is outside the request path " +
                 requestPath_.toString());
    }
    if (!value) return bad(where + path->toString() + " has no value");

    const auto info = model_.resource(path->objectId(), path->resourceId());
    if (info && info->multiple && path->isResource()) {
      return bad(where + path->toString() + " is multiple-instance: needs an instance id");
    }
    if (info && !info->multiple && path->isResourceInstance()) {
      return bad(where + path->parent().toString() + " is single-instance: no instance id");
    }
    auto typed = typedValue(*value, valueLabel, *path,
                            info ? std::optional<DataType>(info->type) : std::nullopt, where);
    if (!typed) return typed.error();

    Record record{*path, std::move(*typed), std::nullopt};
    if (bases_.time || time) {
      const double t = bases_.time.value_or(0) + time.value_or(0);
      if (!std::isfinite(t)) return bad(where + "time is out of range");
      record.timestamp = t;
    }
    return record;
  }

  static Result<Value> typedValue(Leaf& leaf, std::int64_t label, const Path& path,
                                  std::optional<DataType> type, const std::string& where) {
    const std::string field = labelName(label);
    auto mismatch = [&] {
      return bad(where + field + " does not fit " + path.toString() + " (" +
                 std::string(cbor::typeName(*type)) + ")");
    };
    switch (label) {
      case kValue: {
        if (leaf.kind != Leaf::Kind::kNumber) return bad(where + "v is not a number");
        auto typed = cbor::numberToValue(leaf.number, type, leaf.timeTag);
        if (!typed) return bad(where + path.toString() + ": " + typed.error().message);
        return typed;
      }
      case kStringValue:
        if (leaf.kind != Leaf::Kind::kText) return bad(where + "vs is not text");
        if (type && *type != DataType::kString && *type != DataType::kCoreLink) return mismatch();
        return Value::string(std::move(leaf.text));
      case kBooleanValue:
        if (leaf.kind != Leaf::Kind::kBool) return bad(where + "vb is not a boolean");
        if (type && *type != DataType::kBoolean) return mismatch();
        return Value::boolean(leaf.boolean);
      case kDataValue:
        // RFC 8428 section 6: in CBOR, vd is a byte string (not base64 as in JSON).
        if (leaf.kind != Leaf::Kind::kBytes) return bad(where + "vd is not a byte string");
        if (type && *type != DataType::kOpaque) return mismatch();
        return Value::opaque(std::move(leaf.bytes));
      default: {
        if (leaf.kind != Leaf::Kind::kText) return bad(where + "vlo is not text");
        if (type && *type != DataType::kObjlnk) return mismatch();
        auto link = cbor::parseObjlnk(leaf.text);
        if (!link) return bad(where + "vlo " + echoed(leaf.text) + " is not an objlnk \"O:I\"");
        return Value::objlnk(link->objectId, link->instanceId);
      }
    }
  }

  cbor::Reader reader_;
  const Path& requestPath_;
  const ObjectModel& model_;
  const DecodeLimits& limits_;
  Bases bases_;
};

// ---- encoding ----

// The base every name is relative to: the deepest path that holds every record, moved up until
// each record keeps a non-empty relative name.
Path baseFor(const std::vector<Record>& records) {
  if (records.empty()) return Path();
  Path base = records.front().path;
  for (const Record& r : records) {
    while (!base.contains(r.path)) base = base.parent();
  }
  for (const Record& r : records) {
    while (!base.isRoot() && r.path.depth() <= base.depth()) base = base.parent();
  }
  return base;
}

std::string relativeName(const Path& path, const Path& base) {
  std::string out;
  for (std::size_t k = base.depth(); k < path.depth(); ++k) {
    if (!out.empty()) out += '/';
    out += std::to_string(path.id(k));
  }
  return out;
}

// A timestamp as an integer when it is one (shorter, and what devices expect), else a float.
void writeTime(cbor::Writer& w, double t) {
  if (t == std::trunc(t) && t >= -0x1p63 && t < 0x1p63) {
    w.writeInt(static_cast<std::int64_t>(t));
  } else {
    w.writeFloat(t);
  }
}

Result<void> writeValue(cbor::Writer& w, const Value& value, const std::string& where) {
  return std::visit(
      [&](const auto& v) -> Result<void> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!isValidUtf8(v)) return bad(where + "string is not UTF-8");
          w.writeInt(kStringValue);
          w.writeText(v);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          w.writeInt(kValue);
          w.writeInt(v);
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          w.writeInt(kValue);
          w.writeUnsigned(v);
        } else if constexpr (std::is_same_v<T, double>) {
          w.writeInt(kValue);
          w.writeFloat(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          w.writeInt(kBooleanValue);
          w.writeBool(v);
        } else if constexpr (std::is_same_v<T, Opaque>) {
          w.writeInt(kDataValue);
          w.writeBytes(v);
        } else if constexpr (std::is_same_v<T, Time>) {
          w.writeInt(kValue);
          w.writeInt(v.seconds);
        } else {
          static_assert(std::is_same_v<T, Objlnk>);
          w.writeText(kObjlnkText);
          w.writeText(cbor::formatObjlnk(v));
        }
        return {};
      },
      value.variant());
}

Result<std::vector<std::uint8_t>> encodeRecords(const std::vector<Record>& records,
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
    if (records[i].timestamp && !std::isfinite(*records[i].timestamp)) {
      return bad(where + "timestamp is not finite");
    }
  }
  const Path base = baseFor(records);
  const std::string bn = base.isRoot() ? "/" : base.toString() + "/";

  cbor::Writer w;
  w.startArray(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    const std::string where = "record " + std::to_string(i) + ": ";
    w.startMap((i == 0 ? 1 : 0) + 2 + (r.timestamp ? 1 : 0));
    if (i == 0) {
      w.writeInt(kBaseName);
      w.writeText(bn);
    }
    w.writeInt(kName);
    w.writeText(relativeName(r.path, base));
    if (auto ok = writeValue(w, r.value, where); !ok) return ok.error();
    if (r.timestamp) {
      w.writeInt(kTime);
      writeTime(w, *r.timestamp);
    }
  }
  return w.take();
}

}  // namespace

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits) {
  try {
    return Decoder(payload, requestPath, model, limits).run();
  } catch (...) {  // bad_alloc, or a bug: never let it reach the event loop
    return makeError(ErrorCode::kInternal, "SenML CBOR decoder failed unexpectedly");
  }
}

Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath) {
  try {
    return encodeRecords(records, requestPath);
  } catch (...) {
    return makeError(ErrorCode::kInternal, "SenML CBOR encoder failed unexpectedly");
  }
}

}  // namespace lwgate::lwm2m::senml_cbor
