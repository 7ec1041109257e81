#include "gateway/lwm2m/codec_tlv.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace lwgate::lwm2m::tlv {
namespace {

// TS Transport 7.4.3, Table 7.4.3-1: bits 7-6 of the type byte.
enum class Kind : std::uint8_t {
  kObjectInstance = 0,    // 00: contains resources
  kResourceInstance = 1,  // 01: a value, inside a multiple resource
  kMultipleResource = 2,  // 10: contains resource instances
  kResource = 3,          // 11: a value
};

constexpr std::size_t kMaxLength = 0xffffff;  // 24-bit length field

const char* kindName(Kind kind) {
  switch (kind) {
    case Kind::kObjectInstance:
      return "object instance";
    case Kind::kResourceInstance:
      return "resource instance";
    case Kind::kMultipleResource:
      return "multiple resource";
    case Kind::kResource:
      return "resource";
  }
  return "?";
}

// Path depth at which a TLV of this kind sits: an object instance is /O/I, ...
std::size_t levelOf(Kind kind) {
  switch (kind) {
    case Kind::kObjectInstance:
      return 2;
    case Kind::kMultipleResource:
    case Kind::kResource:
      return 3;
    case Kind::kResourceInstance:
      return 4;
  }
  return 0;
}

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, "TLV: " + std::move(message));
}
Error tooLarge(std::string message) {
  return makeError(ErrorCode::kTooLarge, "TLV: " + std::move(message));
}

// ---------------------------------------------------------------------------------------------
// Decoding

struct Header {
  Kind kind;
  std::uint16_t id;
  std::size_t offset;  // of the type byte
  std::size_t value;   // offset of the value
  std::size_t length;  // of the value
};

template <class Int>
Int readBigEndian(std::span<const std::uint8_t> bytes) {
  std::uint64_t u = 0;
  for (std::uint8_t b : bytes) u = (u << 8) | b;
  if constexpr (std::is_signed_v<Int>) {
    // Sign-extend from the field's width.
    const unsigned bits = static_cast<unsigned>(bytes.size()) * 8;
    if (bits < 64 && (u >> (bits - 1)) != 0) u |= ~std::uint64_t{0} << bits;
  }
  return static_cast<Int>(u);
}

bool isIntegerLength(std::size_t n) {
  return n == 1 || n == 2 || n == 4 || n == 8;
}

class Decoder {
 public:
  Decoder(std::span<const std::uint8_t> payload, const Path& requestPath, const ObjectModel& model,
          const DecodeLimits& limits)
      : in_(payload), request_(requestPath), model_(model), limits_(limits) {}

  Result<std::vector<Record>> run() {
    if (auto r = level(0, in_.size(), 1, std::nullopt); !r) return r.error();
    return std::move(records_);
  }

 private:
  // Where a region ends, for messages: the payload or the TLV that encloses it.
  std::string endOf(std::size_t end) const {
    if (end == in_.size()) return "the end (" + std::to_string(in_.size()) + " bytes)";
    return "its enclosing TLV (ends at offset " + std::to_string(end) + ")";
  }

  Result<Header> header(std::size_t pos, std::size_t end) const {
    const std::uint8_t type = in_[pos];
    const std::size_t idSize = (type & 0x20) != 0 ? 2 : 1;
    const std::size_t lengthSize = (type >> 3) & 0x3;
    const std::size_t headerSize = 1 + idSize + lengthSize;
    if (headerSize > end - pos) {
      return bad("header at offset " + std::to_string(pos) + " is cut short by " + endOf(end));
    }
    Header h{};
    h.kind = static_cast<Kind>(type >> 6);
    h.offset = pos;
    h.id = readBigEndian<std::uint16_t>(in_.subspan(pos + 1, idSize));
    // Bits 2-0 hold the length only when there is no length field; otherwise they are ignored.
    h.length = lengthSize == 0
                   ? (type & 0x7)
                   : readBigEndian<std::uint32_t>(in_.subspan(pos + 1 + idSize, lengthSize));
    h.value = pos + headerSize;
    if (h.id == 65535) {
      return bad("id 65535 at offset " + std::to_string(pos) + " is reserved");
    }
    if (h.length > end - h.value) {
      return bad("length " + std::to_string(h.length) + " at offset " + std::to_string(pos) +
                 " runs past " + endOf(end));
    }
    return h;
  }

  // Decodes the TLVs in [pos, end), which sit at nesting `depth` (1 = top level) inside the
  // container `parent` (nullopt at the top level, where the request path gives the context).
  Result<void> level(std::size_t pos, std::size_t end, std::size_t depth,
                     std::optional<std::pair<Kind, Path>> parent) {
    while (pos < end) {
      auto h = header(pos, end);
      if (!h) return h.error();
      if (depth > limits_.maxDepth) {
        return tooLarge("nesting deeper than " + std::to_string(limits_.maxDepth) + " at offset " +
                        std::to_string(pos));
      }
      auto path = placeOf(*h, parent);
      if (!path) return path.error();
      if (!seen_.insert(*path).second) {
        return bad("duplicate " + path->toString() + " at offset " + std::to_string(pos));
      }
      if (h->kind == Kind::kObjectInstance || h->kind == Kind::kMultipleResource) {
        auto r = level(h->value, h->value + h->length, depth + 1, std::pair(h->kind, *path));
        if (!r) return r;
      } else {
        if (auto r = leaf(*h, *path); !r) return r;
      }
      pos = h->value + h->length;
    }
    return {};
  }

  // The path a TLV stands for, checked against its container and the request path.
  Result<Path> placeOf(const Header& h, const std::optional<std::pair<Kind, Path>>& parent) const {
    const std::string where = std::string(kindName(h.kind)) + " " + std::to_string(h.id) +
                              " at offset " + std::to_string(h.offset);
    Path path;
    if (parent) {
      const bool fits =
          (parent->first == Kind::kObjectInstance &&
           (h.kind == Kind::kResource || h.kind == Kind::kMultipleResource)) ||
          (parent->first == Kind::kMultipleResource && h.kind == Kind::kResourceInstance);
      if (!fits) {
        return bad(where + " cannot sit in " + kindName(parent->first) + " " +
                   parent->second.toString());
      }
      path = parent->second.child(h.id);
    } else {
      // At the top level the request path says what the TLVs are children of. A TLV may also
      // repeat the request path's own ids (an object instance TLV answering a Read on /3/0, a
      // multiple resource TLV answering a Read on /3/0/6).
      const std::size_t level = levelOf(h.kind);
      if (level - 1 > request_.depth()) {
        return bad(where + " cannot answer " + request_.toString());
      }
      path = request_;
      while (path.depth() > level - 1) path = path.parent();
      path = path.child(h.id);
    }
    if (!path.contains(request_) && !request_.contains(path)) {
      return bad(where + " is " + path.toString() + ", outside " + request_.toString());
    }
    if ((h.kind == Kind::kResource || h.kind == Kind::kResourceInstance) &&
        !request_.contains(path)) {
      return bad(where + " is " + path.toString() + ", above " + request_.toString());
    }
    return path;
  }

  Result<void> leaf(const Header& h, const Path& path) {
    if (records_.size() >= limits_.maxRecords) {
      return tooLarge("more than " + std::to_string(limits_.maxRecords) + " records");
    }
    auto value = decodeValue(h, path);
    if (!value) return value.error();
    records_.push_back(Record{path, std::move(*value), std::nullopt});
    return {};
  }

  Result<Value> decodeValue(const Header& h, const Path& path) const {
    const auto bytes = in_.subspan(h.value, h.length);
    const auto info = model_.resource(path.objectId(), path.resourceId());
    const DataType type = info ? info->type : DataType::kOpaque;
    auto wrong = [&](const std::string& what) {
      return bad(std::string(dataTypeName(type)) + " " + path.toString() + " at offset " +
                 std::to_string(h.offset) + " " + what);
    };
    const std::string badLength = "has length " + std::to_string(h.length);
    switch (type) {
      case DataType::kString:
      case DataType::kCoreLink: {
        std::string s(bytes.begin(), bytes.end());
        if (!isValidUtf8(s)) return wrong("is not valid UTF-8");
        return Value::string(std::move(s));
      }
      case DataType::kInteger:
        if (!isIntegerLength(h.length)) return wrong(badLength + " (1, 2, 4 or 8)");
        return Value::integer(readBigEndian<std::int64_t>(bytes));
      case DataType::kUnsignedInteger:
        if (!isIntegerLength(h.length)) return wrong(badLength + " (1, 2, 4 or 8)");
        return Value::unsignedInteger(readBigEndian<std::uint64_t>(bytes));
      case DataType::kTime:
        if (!isIntegerLength(h.length)) return wrong(badLength + " (1, 2, 4 or 8)");
        return Value::time(readBigEndian<std::int64_t>(bytes));
      case DataType::kFloat:
        if (h.length == 4) {
          return Value::floating(std::bit_cast<float>(readBigEndian<std::uint32_t>(bytes)));
        }
        if (h.length == 8) {
          return Value::floating(std::bit_cast<double>(readBigEndian<std::uint64_t>(bytes)));
        }
        return wrong(badLength + " (4 or 8)");
      case DataType::kBoolean:
        if (h.length != 1) return wrong(badLength + " (1)");
        if (bytes[0] > 1) return wrong("is " + std::to_string(bytes[0]) + " (0 or 1)");
        return Value::boolean(bytes[0] == 1);
      case DataType::kObjlnk:
        if (h.length != 4) return wrong(badLength + " (4)");
        return Value::objlnk(readBigEndian<std::uint16_t>(bytes.first(2)),
                             readBigEndian<std::uint16_t>(bytes.subspan(2)));
      case DataType::kOpaque:
        return Value::opaque(Opaque(bytes.begin(), bytes.end()));
    }
    return wrong("has an unknown type");
  }

  std::span<const std::uint8_t> in_;
  const Path& request_;
  const ObjectModel& model_;
  const DecodeLimits& limits_;
  std::vector<Record> records_;
  std::set<Path> seen_;
};

// ---------------------------------------------------------------------------------------------
// Encoding

void appendBigEndian(std::vector<std::uint8_t>& out, std::uint64_t v, std::size_t size) {
  for (std::size_t k = size; k-- > 0;) out.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
}

// Smallest of 1/2/4/8 bytes that holds `v` as a two's-complement integer.
std::size_t signedSize(std::int64_t v) {
  if (v >= std::numeric_limits<std::int8_t>::min() && v <= std::numeric_limits<std::int8_t>::max())
    return 1;
  if (v >= std::numeric_limits<std::int16_t>::min() &&
      v <= std::numeric_limits<std::int16_t>::max())
    return 2;
  if (v >= std::numeric_limits<std::int32_t>::min() &&
      v <= std::numeric_limits<std::int32_t>::max())
    return 4;
  return 8;
}

Result<void> appendHeader(std::vector<std::uint8_t>& out, Kind kind, std::uint16_t id,
                          std::size_t length, const Path& path) {
  if (length > kMaxLength) {
    return tooLarge(path.toString() + " is " + std::to_string(length) + " bytes, more than " +
                    std::to_string(kMaxLength));
  }
  std::uint8_t type = static_cast<std::uint8_t>(static_cast<std::uint8_t>(kind) << 6);
  if (id > 0xff) type |= 0x20;
  std::size_t lengthSize = 0;
  if (length <= 7) {
    type |= static_cast<std::uint8_t>(length);
  } else {
    lengthSize = length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
    type |= static_cast<std::uint8_t>(lengthSize << 3);
  }
  out.push_back(type);
  appendBigEndian(out, id, id > 0xff ? 2 : 1);
  appendBigEndian(out, length, lengthSize);
  return {};
}

Result<void> appendValue(std::vector<std::uint8_t>& out, const Value& value, const Path& path) {
  return std::visit(
      [&](const auto& v) -> Result<void> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!isValidUtf8(v)) return bad("string for " + path.toString() + " is not UTF-8");
          out.insert(out.end(), v.begin(), v.end());
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          appendBigEndian(out, static_cast<std::uint64_t>(v), signedSize(v));
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          // Up to 2^63-1 the length also leaves the top bit clear, so a peer that reads the
          // resource as a signed Integer sees the same number (200 is 00 C8, not C8).
          const std::size_t size =
              v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                  ? 8
                  : signedSize(static_cast<std::int64_t>(v));
          appendBigEndian(out, v, size);
        } else if constexpr (std::is_same_v<T, double>) {
          // 4 bytes when the single-precision float holds exactly this value, else 8.
          const auto f = static_cast<float>(v);
          if (static_cast<double>(f) == v) {
            appendBigEndian(out, std::bit_cast<std::uint32_t>(f), 4);
          } else {
            appendBigEndian(out, std::bit_cast<std::uint64_t>(v), 8);
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          out.push_back(v ? 1 : 0);
        } else if constexpr (std::is_same_v<T, Opaque>) {
          out.insert(out.end(), v.begin(), v.end());
        } else if constexpr (std::is_same_v<T, Time>) {
          appendBigEndian(out, static_cast<std::uint64_t>(v.seconds), signedSize(v.seconds));
        } else if constexpr (std::is_same_v<T, Objlnk>) {
          appendBigEndian(out, v.objectId, 2);
          appendBigEndian(out, v.instanceId, 2);
        }
        return {};
      },
      value.variant());
}

class Encoder {
 public:
  explicit Encoder(const std::vector<Record>& records) : records_(records) {}

  // Emits the records in `which` as TLVs sitting at path depth `level` (2 object instances,
  // 3 resources, 4 resource instances), grouped by their id at that depth in first-seen order.
  Result<void> level(std::vector<std::uint8_t>& out, const std::vector<std::size_t>& which,
                     std::size_t level) {
    std::vector<std::pair<std::uint16_t, std::vector<std::size_t>>> groups;
    std::map<std::uint16_t, std::size_t> groupOf;
    for (std::size_t i : which) {
      const std::uint16_t id = records_[i].path.id(level - 1);
      auto [it, added] = groupOf.try_emplace(id, groups.size());
      if (added) groups.push_back({id, {}});
      groups[it->second].second.push_back(i);
    }
    for (const auto& [id, members] : groups) {
      const Record& first = records_[members.front()];
      Path path = first.path;
      while (path.depth() > level) path = path.parent();
      std::vector<std::uint8_t> content;
      Kind kind;
      if (level == 2) {
        kind = Kind::kObjectInstance;
        if (auto r = this->level(content, members, 3); !r) return r;
      } else if (level == 3 && first.path.depth() == 4) {
        kind = Kind::kMultipleResource;
        if (auto r = this->level(content, members, 4); !r) return r;
      } else {
        // A value: duplicates and value-plus-instances were refused up front.
        kind = level == 3 ? Kind::kResource : Kind::kResourceInstance;
        if (auto r = appendValue(content, first.value, first.path); !r) return r;
      }
      if (auto r = appendHeader(out, kind, id, content.size(), path); !r) return r;
      out.insert(out.end(), content.begin(), content.end());
    }
    return {};
  }

 private:
  const std::vector<Record>& records_;
};

}  // namespace

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits) {
  if (requestPath.isRoot()) return bad("a payload needs an object in the request path, got /");
  return Decoder(payload, requestPath, model, limits).run();
}

Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath) {
  if (requestPath.isRoot()) return bad("cannot encode for /: TLV needs an object path");
  std::vector<Path> paths;
  paths.reserve(records.size());
  for (const Record& r : records) {
    if (r.path.depth() < 3) {
      return bad("record " + r.path.toString() + " is not a resource or resource instance");
    }
    if (!requestPath.contains(r.path)) {
      return bad("record " + r.path.toString() + " is outside " + requestPath.toString());
    }
    paths.push_back(r.path);
  }
  // Sorted, a resource comes right before its instances: adjacent containment means a duplicate
  // or a resource given both as a value and as instances.
  std::sort(paths.begin(), paths.end());
  for (std::size_t k = 1; k < paths.size(); ++k) {
    if (paths[k - 1].contains(paths[k])) {
      return bad("record " + paths[k].toString() + " repeats or conflicts with " +
                 paths[k - 1].toString());
    }
  }
  std::vector<std::size_t> all(records.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::vector<std::uint8_t> out;
  // /O: object instances; /O/I and /O/I/R: resources (a multiple resource TLV for instances);
  // /O/I/R/RI: one resource instance.
  const std::size_t depth = requestPath.depth();
  if (auto r = Encoder(records).level(out, all, depth <= 2 ? depth + 1 : depth); !r) {
    return r.error();
  }
  return out;
}

}  // namespace lwgate::lwm2m::tlv
