#include "gateway/lwm2m/cbor.h"

#include <bit>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

#include "gateway/lwm2m/diagnostic.h"

namespace lwgate::lwm2m::cbor {
namespace {

constexpr std::uint8_t kBreak = 0xff;
constexpr std::uint8_t kIndefinite = 31;
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

std::string at(std::size_t offset) {
  return " at byte " + std::to_string(offset);
}

const char* majorName(std::uint8_t major) {
  static constexpr const char* kNames[] = {
      "unsigned integer", "negative integer", "byte string", "text string", "array", "map", "tag",
      "simple value"};
  return kNames[major & 7];
}

// RFC 3629: shortest forms only, no surrogates, nothing above U+10FFFF.
bool isUtf8(std::span<const std::uint8_t> s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// The half-precision encoding of `d` when it has one that is exact.
std::optional<std::uint16_t> exactHalf(double d) {
  const std::uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  if (d == 0) return sign;
  if (std::isinf(d)) return static_cast<std::uint16_t>(sign | 0x7c00);
  const double a = std::fabs(d);
  if (a > 65504.0) return std::nullopt;  // the largest finite half
  if (a < 0x1p-14) {
    // Subnormal: a multiple of 2^-24.
    const double m = a * 0x1p24;
    if (m != std::floor(m)) return std::nullopt;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(m));
  }
  int e = 0;
  const double fraction = std::frexp(a, &e);  // a = fraction * 2^e, fraction in [0.5, 1)
  const double mantissa = (2 * fraction - 1) * 1024;
  if (mantissa != std::floor(mantissa)) return std::nullopt;
  return static_cast<std::uint16_t>(sign | ((e - 1 + 15) << 10) |
                                    static_cast<std::uint16_t>(mantissa));
}

std::optional<std::int64_t> asInt64(const Number& n) {
  switch (n.kind) {
    case Number::Kind::kUnsigned:
      if (n.magnitude > static_cast<std::uint64_t>(kInt64Max)) return std::nullopt;
      return static_cast<std::int64_t>(n.magnitude);
    case Number::Kind::kNegative:
      if (n.magnitude > static_cast<std::uint64_t>(kInt64Max)) return std::nullopt;
      return -1 - static_cast<std::int64_t>(n.magnitude);
    case Number::Kind::kFloat:
      // [-2^63, 2^63): the doubles that convert to int64 without overflow.
      if (n.floating != std::trunc(n.floating) || !(n.floating >= -0x1p63) ||
          !(n.floating < 0x1p63)) {
        return std::nullopt;
      }
      return static_cast<std::int64_t>(n.floating);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> asUint64(const Number& n) {
  switch (n.kind) {
    case Number::Kind::kUnsigned:
      return n.magnitude;
    case Number::Kind::kNegative:
      return std::nullopt;
    case Number::Kind::kFloat:
      if (n.floating != std::trunc(n.floating) || !(n.floating >= 0) || !(n.floating < 0x1p64)) {
        return std::nullopt;
      }
      return static_cast<std::uint64_t>(n.floating);
  }
  return std::nullopt;
}

double asDouble(const Number& n) {
  switch (n.kind) {
    case Number::Kind::kUnsigned:
      return static_cast<double>(n.magnitude);
    case Number::Kind::kNegative:
      return -1.0 - static_cast<double>(n.magnitude);
    case Number::Kind::kFloat:
      return n.floating;
  }
  return 0;
}

Error leafError(std::string message) {
  return makeError(ErrorCode::kBadRequest, message);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reader

Error Reader::fail(std::string message) {
  error_ = makeError(ErrorCode::kBadRequest, "CBOR: " + std::move(message));
  return *error_;
}

Result<void> Reader::finish() const {
  if (error_) return *error_;
  if (!done_) return makeError(ErrorCode::kBadRequest, "CBOR: incomplete item" + at(pos_));
  if (pos_ != in_.size()) {
    return makeError(ErrorCode::kBadRequest, "CBOR: " + std::to_string(in_.size() - pos_) +
                                                 " bytes after the item" + at(pos_));
  }
  return {};
}

void Reader::completeItem() {
  nesting_ -= pendingTags_;
  pendingTags_ = 0;
  if (stack_.empty()) {
    done_ = true;
    return;
  }
  Frame& top = stack_.back();
  if (top.indefinite) {
    ++top.seen;
  } else {
    --top.remaining;
  }
}

Result<std::uint64_t> Reader::argument(std::uint8_t additional, std::size_t itemOffset) {
  if (additional < 24) return std::uint64_t{additional};
  const std::size_t size = std::size_t{1} << (additional - 24);  // 24..27 -> 1, 2, 4, 8
  if (in_.size() - pos_ < size) return fail("truncated head" + at(itemOffset));
  std::uint64_t value = 0;
  for (std::size_t k = 0; k < size; ++k) value = (value << 8) | in_[pos_ + k];
  pos_ += size;
  return value;
}

Result<Item> Reader::readString(Item item, std::uint8_t major, std::uint8_t additional) {
  const bool text = major == 3;
  item.kind = text ? Kind::kText : Kind::kBytes;
  if (additional != kIndefinite) {
    auto length = argument(additional, item.offset);
    if (!length) return length.error();
    if (*length > in_.size() - pos_) {
      return fail(std::string(majorName(major)) + " of " + std::to_string(*length) + " bytes, " +
                  std::to_string(in_.size() - pos_) + " left" + at(item.offset));
    }
    item.data = in_.subspan(pos_, static_cast<std::size_t>(*length));
    pos_ += static_cast<std::size_t>(*length);
    if (text && !isUtf8(item.data)) return fail("text string is not UTF-8" + at(item.offset));
    item.number = *length;
    completeItem();
    return item;
  }
  // RFC 8949 3.2.3: a sequence of definite-length chunks of the same major type, then a break.
  // Text chunks must each be UTF-8 on their own (a character cannot span chunks).
  chunks_.clear();
  while (true) {
    if (pos_ >= in_.size()) return fail("truncated indefinite-length string" + at(item.offset));
    const std::size_t chunkOffset = pos_;
    const std::uint8_t initial = in_[pos_++];
    if (initial == kBreak) break;
    const std::uint8_t chunkAdditional = initial & 0x1f;
    if ((initial >> 5) != major) {
      return fail(std::string(majorName(initial >> 5)) + " inside an indefinite " +
                  majorName(major) + at(chunkOffset));
    }
    if (chunkAdditional == kIndefinite) {
      return fail("indefinite-length chunk inside an indefinite string" + at(chunkOffset));
    }
    if (chunkAdditional >= 28) {
      return fail("reserved additional information " + std::to_string(chunkAdditional) +
                  at(chunkOffset));
    }
    auto length = argument(chunkAdditional, chunkOffset);
    if (!length) return length.error();
    if (*length > in_.size() - pos_) {
      return fail("string chunk of " + std::to_string(*length) + " bytes, " +
                  std::to_string(in_.size() - pos_) + " left" + at(chunkOffset));
    }
    const auto chunk = in_.subspan(pos_, static_cast<std::size_t>(*length));
    if (text && !isUtf8(chunk)) return fail("text string is not UTF-8" + at(chunkOffset));
    chunks_.insert(chunks_.end(), chunk.begin(), chunk.end());
    pos_ += chunk.size();
  }
  item.indefinite = true;
  item.data = chunks_;
  item.number = chunks_.size();
  completeItem();
  return item;
}

Result<Item> Reader::next() {
  if (error_) return *error_;
  if (!stack_.empty()) {
    const Frame& top = stack_.back();
    if (!top.indefinite && top.remaining == 0) {
      Item end;
      end.kind = Kind::kEnd;
      end.offset = pos_;
      nesting_ -= 1 + top.tags;
      stack_.pop_back();
      completeItem();
      return end;
    }
  } else if (done_) {
    return fail("read past the end of the item" + at(pos_));
  }
  if (pos_ >= in_.size()) return fail("truncated" + at(pos_));

  Item item;
  item.offset = pos_;
  const std::uint8_t initial = in_[pos_++];
  const auto major = static_cast<std::uint8_t>(initial >> 5);
  const auto additional = static_cast<std::uint8_t>(initial & 0x1f);

  if (initial == kBreak) {
    if (stack_.empty() || !stack_.back().indefinite) {
      return fail("break outside an indefinite-length item" + at(item.offset));
    }
    if (pendingTags_ > 0) return fail("break right after a tag" + at(item.offset));
    if (stack_.back().map && stack_.back().seen % 2 != 0) {
      return fail("break after a map key" + at(item.offset));
    }
    item.kind = Kind::kEnd;
    nesting_ -= 1 + stack_.back().tags;
    stack_.pop_back();
    completeItem();
    return item;
  }
  if (additional >= 28 && additional <= 30) {
    return fail("reserved additional information " + std::to_string(additional) + at(item.offset));
  }
  if (additional == kIndefinite && (major == 0 || major == 1 || major == 6)) {
    return fail(std::string("indefinite length on a ") + majorName(major) + at(item.offset));
  }

  switch (major) {
    case 0:
    case 1: {
      auto value = argument(additional, item.offset);
      if (!value) return value.error();
      item.kind = major == 0 ? Kind::kUnsigned : Kind::kNegative;
      item.number = *value;
      completeItem();
      return item;
    }
    case 2:
    case 3:
      return readString(item, major, additional);
    case 4:
    case 5: {
      if (nesting_ + 1 > maxDepth_) {
        return fail("nesting deeper than " + std::to_string(maxDepth_) + at(item.offset));
      }
      Frame frame;
      frame.map = major == 5;
      if (additional == kIndefinite) {
        frame.indefinite = true;
        item.indefinite = true;
      } else {
        auto count = argument(additional, item.offset);
        if (!count) return count.error();
        // Every item takes at least one byte: a count the rest of the input cannot hold is
        // refused here, before anyone trusts it.
        const std::uint64_t left = in_.size() - pos_;
        if (frame.map ? *count > left / 2 : *count > left) {
          return fail(std::string(majorName(major)) + " of " + std::to_string(*count) +
                      (frame.map ? " pairs, " : " items, ") + std::to_string(left) + " bytes left" +
                      at(item.offset));
        }
        frame.remaining = frame.map ? *count * 2 : *count;
        item.number = *count;
      }
      item.kind = frame.map ? Kind::kMap : Kind::kArray;
      frame.tags = pendingTags_;  // they stay counted while the container is open
      pendingTags_ = 0;
      ++nesting_;
      stack_.push_back(frame);
      return item;
    }
    case 6: {
      auto tag = argument(additional, item.offset);
      if (!tag) return tag.error();
      if (nesting_ + 1 > maxDepth_) {
        return fail("nesting deeper than " + std::to_string(maxDepth_) + at(item.offset));
      }
      ++pendingTags_;
      ++nesting_;
      item.kind = Kind::kTag;
      item.number = *tag;
      return item;
    }
    default:
      break;
  }

  // Major type 7 (RFC 8949 3.3).
  switch (additional) {
    case 20:
      item.kind = Kind::kFalse;
      break;
    case 21:
      item.kind = Kind::kTrue;
      break;
    case 22:
      item.kind = Kind::kNull;
      break;
    case 23:
      item.kind = Kind::kUndefined;
      break;
    case 24: {
      auto value = argument(additional, item.offset);
      if (!value) return value.error();
      if (*value < 32) {
        return fail("simple value " + std::to_string(*value) + " in two bytes" + at(item.offset));
      }
      item.kind = Kind::kSimple;
      item.number = *value;
      break;
    }
    case 25: {
      auto bits = argument(additional, item.offset);
      if (!bits) return bits.error();
      item.kind = Kind::kFloat;
      item.floating = halfToDouble(static_cast<std::uint16_t>(*bits));
      break;
    }
    case 26: {
      auto bits = argument(additional, item.offset);
      if (!bits) return bits.error();
      item.kind = Kind::kFloat;
      item.floating = std::bit_cast<float>(static_cast<std::uint32_t>(*bits));
      break;
    }
    case 27: {
      auto bits = argument(additional, item.offset);
      if (!bits) return bits.error();
      item.kind = Kind::kFloat;
      item.floating = std::bit_cast<double>(*bits);
      break;
    }
    default:  // 0..19: unassigned simple values, still well-formed
      item.kind = Kind::kSimple;
      item.number = additional;
      break;
  }
  completeItem();
  return item;
}

Result<void> Reader::skip() {
  const std::size_t base = stack_.size();
  while (true) {
    auto item = next();
    if (!item) return item.error();
    if (item->kind == Kind::kTag) continue;
    if (item->kind == Kind::kEnd && stack_.size() < base) {
      return fail("expected an item, found the end of an array or map" + at(item->offset));
    }
    if (stack_.size() == base) return {};
  }
}

Result<void> checkWellFormed(std::span<const std::uint8_t> input, std::size_t maxDepth) {
  Reader reader(input, maxDepth);
  while (!reader.done()) {
    auto item = reader.next();
    if (!item) return item.error();
  }
  return reader.finish();
}

// ---------------------------------------------------------------------------------------------
// Writer

void Writer::head(std::uint8_t major, std::uint64_t argument) {
  const auto type = static_cast<std::uint8_t>(major << 5);
  std::size_t size = 0;
  if (argument < 24) {
    out_.push_back(static_cast<std::uint8_t>(type | argument));
    return;
  }
  if (argument <= 0xff) {
    out_.push_back(type | 24);
    size = 1;
  } else if (argument <= 0xffff) {
    out_.push_back(type | 25);
    size = 2;
  } else if (argument <= 0xffffffff) {
    out_.push_back(type | 26);
    size = 4;
  } else {
    out_.push_back(type | 27);
    size = 8;
  }
  for (std::size_t k = size; k-- > 0;) {
    out_.push_back(static_cast<std::uint8_t>(argument >> (8 * k)));
  }
}

void Writer::writeInt(std::int64_t value) {
  if (value >= 0) {
    head(0, static_cast<std::uint64_t>(value));
  } else {
    head(1, static_cast<std::uint64_t>(-(value + 1)));
  }
}

void Writer::writeBytes(std::span<const std::uint8_t> bytes) {
  head(2, bytes.size());
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void Writer::writeText(std::string_view text) {
  head(3, text.size());
  out_.insert(out_.end(), text.begin(), text.end());
}

void Writer::writeSimple(std::uint8_t value) {
  if (value < 24) {
    out_.push_back(static_cast<std::uint8_t>(0xe0 | value));
  } else {
    // 24..31 have no encoding (RFC 8949 3.3); callers never pass them.
    out_.push_back(0xf8);
    out_.push_back(value);
  }
}

void Writer::writeFloat(double value) {
  if (std::isnan(value)) {
    out_.insert(out_.end(), {0xf9, 0x7e, 0x00});
    return;
  }
  if (auto half = exactHalf(value)) {
    out_.push_back(0xf9);
    out_.push_back(static_cast<std::uint8_t>(*half >> 8));
    out_.push_back(static_cast<std::uint8_t>(*half));
    return;
  }
  // The range check first: converting an out-of-range double to float is undefined.
  if (std::fabs(value) <= FLT_MAX && static_cast<double>(static_cast<float>(value)) == value) {
    const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(value));
    out_.push_back(0xfa);
    for (int k = 3; k >= 0; --k) out_.push_back(static_cast<std::uint8_t>(bits >> (8 * k)));
    return;
  }
  const auto bits = std::bit_cast<std::uint64_t>(value);
  out_.push_back(0xfb);
  for (int k = 7; k >= 0; --k) out_.push_back(static_cast<std::uint8_t>(bits >> (8 * k)));
}

double halfToDouble(std::uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double value = 0;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    value = mantissa == 0 ? std::numeric_limits<double>::infinity()
                          : std::numeric_limits<double>::quiet_NaN();
  } else {
    value = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return (bits & 0x8000) ? -value : value;
}

// ---------------------------------------------------------------------------------------------
// Shared by the two codecs

Result<Leaf> readLeaf(Reader& reader, const Item& first) {
  Leaf leaf;
  leaf.offset = first.offset;
  Item item = first;
  bool decimalFraction = false;
  while (item.kind == Kind::kTag) {
    switch (item.number) {
      case 1:
        leaf.timeTag = true;
        break;
      case 4:
        decimalFraction = true;
        break;
      case 2:
      case 3:
      case 5:
        return leafError("bignum or bigfloat (tag " + std::to_string(item.number) +
                         ") not supported" + at(item.offset));
      default:  // RFC 8949 3.4: a decoder may ignore a tag it does not know
        break;
    }
    auto next = reader.next();
    if (!next) return next.error();
    item = *next;
  }
  if (decimalFraction) {
    // RFC 8949 3.4.4: [exponent, mantissa], both integers; RFC 8428 section 6 lets SenML numbers
    // take this form. Bignum mantissas are not supported.
    if (item.kind != Kind::kArray || item.indefinite || item.number != 2) {
      return leafError("decimal fraction is not a two-item array" + at(item.offset));
    }
    Number parts[2];
    for (auto& part : parts) {
      auto n = reader.next();
      if (!n) return n.error();
      if (n->kind != Kind::kUnsigned && n->kind != Kind::kNegative) {
        return leafError("decimal fraction part is not an integer" + at(n->offset));
      }
      part.kind = n->kind == Kind::kUnsigned ? Number::Kind::kUnsigned : Number::Kind::kNegative;
      part.magnitude = n->number;
    }
    auto end = reader.next();
    if (!end) return end.error();
    const auto exponent = asInt64(parts[0]);
    // Beyond +-400 every double mantissa gives 0 or infinity.
    if (!exponent || *exponent < -400 || *exponent > 400) {
      return leafError("decimal fraction exponent out of range" + at(item.offset));
    }
    const double value = asDouble(parts[1]) * std::pow(10.0, static_cast<double>(*exponent));
    if (!std::isfinite(value)) {
      return leafError("decimal fraction out of range" + at(item.offset));
    }
    leaf.kind = Leaf::Kind::kNumber;
    leaf.number = Number{Number::Kind::kFloat, 0, value};
    return leaf;
  }
  switch (item.kind) {
    case Kind::kUnsigned:
    case Kind::kNegative:
      leaf.kind = Leaf::Kind::kNumber;
      leaf.number.kind =
          item.kind == Kind::kUnsigned ? Number::Kind::kUnsigned : Number::Kind::kNegative;
      leaf.number.magnitude = item.number;
      return leaf;
    case Kind::kFloat:
      leaf.kind = Leaf::Kind::kNumber;
      leaf.number = Number{Number::Kind::kFloat, 0, item.floating};
      return leaf;
    case Kind::kText:
      leaf.kind = Leaf::Kind::kText;
      leaf.text.assign(item.text());
      return leaf;
    case Kind::kBytes:
      leaf.kind = Leaf::Kind::kBytes;
      leaf.bytes.assign(item.data.begin(), item.data.end());
      return leaf;
    case Kind::kFalse:
    case Kind::kTrue:
      leaf.kind = Leaf::Kind::kBool;
      leaf.boolean = item.kind == Kind::kTrue;
      return leaf;
    case Kind::kNull:
      leaf.kind = Leaf::Kind::kNull;
      return leaf;
    case Kind::kUndefined:
      leaf.kind = Leaf::Kind::kUndefined;
      return leaf;
    case Kind::kArray:
      return leafError("expected a value, found an array" + at(item.offset));
    case Kind::kMap:
      return leafError("expected a value, found a map" + at(item.offset));
    case Kind::kSimple:
      return leafError("unassigned simple value " + std::to_string(item.number) + at(item.offset));
    case Kind::kEnd:
    case Kind::kTag:
      break;
  }
  return leafError("expected a value" + at(item.offset));
}

Result<Value> numberToValue(const Number& number, std::optional<DataType> modelType, bool timeTag) {
  if (!modelType) {
    if (timeTag) {
      if (auto seconds = asInt64(number)) return Value::time(*seconds);
    }
    switch (number.kind) {
      case Number::Kind::kUnsigned:
        return Value::unsignedInteger(number.magnitude);
      case Number::Kind::kNegative:
        if (auto value = asInt64(number)) return Value::integer(*value);
        return leafError("integer below the int64 range");
      case Number::Kind::kFloat:
        return Value::floating(number.floating);
    }
  }
  switch (*modelType) {
    case DataType::kInteger:
      if (auto value = asInt64(number)) return Value::integer(*value);
      return leafError("integer expected, got a non-integral or out-of-range number");
    case DataType::kUnsignedInteger:
      if (auto value = asUint64(number)) return Value::unsignedInteger(*value);
      return leafError("unsigned integer expected, got a negative or non-integral number");
    case DataType::kFloat:
      return Value::floating(asDouble(number));
    case DataType::kTime:
      if (auto value = asInt64(number)) return Value::time(*value);
      return leafError("time expected, got a non-integral or out-of-range number");
    default:
      return leafError(std::string(typeName(*modelType)) + " expected, got a number");
  }
}

std::optional<Objlnk> parseObjlnk(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::uint16_t ids[2] = {};
  const std::string_view parts[2] = {text.substr(0, colon), text.substr(colon + 1)};
  for (int k = 0; k < 2; ++k) {
    const auto part = parts[k];
    if (part.empty() || part.size() > 5) return std::nullopt;
    for (char c : part) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    std::uint32_t value = 0;
    std::from_chars(part.data(), part.data() + part.size(), value);
    if (value > 65535) return std::nullopt;
    ids[k] = static_cast<std::uint16_t>(value);
  }
  return Objlnk{ids[0], ids[1]};
}

std::string formatObjlnk(const Objlnk& link) {
  return std::to_string(link.objectId) + ":" + std::to_string(link.instanceId);
}

std::string_view typeName(DataType type) {
  switch (type) {
    case DataType::kString:
      return "string";
    case DataType::kInteger:
      return "integer";
    case DataType::kUnsignedInteger:
      return "unsigned integer";
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
      return "core link";
  }
  return "?";
}

}  // namespace lwgate::lwm2m::cbor
