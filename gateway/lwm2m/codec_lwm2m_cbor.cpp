#include "gateway/lwm2m/codec_lwm2m_cbor.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "gateway/lwm2m/cbor.h"
#include "gateway/lwm2m/diagnostic.h"

// LwM2M CBOR (TS 1.2 Transport 7.4.7, Content-Format 11544). What this codec takes the format to
// be, and where it chose the conservative reading:
//  - The payload is one map. A key is a path fragment: an unsigned integer (one id) or a
//    non-empty array of unsigned integers (several ids). A value is either a map (the fragment
//    continues below it) or a leaf value. Fragments concatenate from the root: paths are
//    absolute, never relative to the request path, and the decoded ones must lie inside it. So
//    {3: {0: {0: "x"}}}, {[3, 0]: {0: "x"}} and {[3, 0, 0]: "x"} are the same record, and
//    siblings may mix forms ({[3, 0]: {1: 42}, [3, 0, 2]: 21}).
//  - Leaves sit at resources (/O/I/R) or resource instances (/O/I/R/RI) only; a path of more
//    than four ids, an id above 65534, an empty array key or a map below a resource instance is
//    refused. Text keys (the LwM2M 1.2 gateway prefix) are refused: this server does not speak to
//    gateway end-devices that way.
//  - The same leaf twice, or a resource that has both a value and instances, is refused: unlike
//    SenML there are no timestamps, so a repeat can only be a mistake.
//  - Leaf types: unsigned/negative integer and float (also decimal fraction, tag 4) are numbers,
//    typed by the model or else by their CBOR kind (cbor::numberToValue); a text string is a
//    string, a core link, or an objlnk "O:I" when the model says so; a byte string is opaque;
//    true/false is a boolean. Time is an integer, optionally with tag 1 (epoch-based date/time,
//    RFC 8949 3.4.2); the tag makes an unknown resource's integer a time. Other tags are skipped
//    (RFC 8949 3.4) except bignums/bigfloats (refused). null and undefined are not resource
//    values (null only appears in composite requests, which this codec does not decode):
//    refused.
//  - Timestamps do not exist in this format: encoding a record that has one is refused rather
//    than silently dropping it.
// Encoding builds the tree of the records' paths (children in order of first appearance) and
// writes the shortest nesting: a chain of single children collapses into one array key (a lone
// id stays a plain integer), so one resource is {[3, 0, 1]: v} and an instance is
// {[3, 0]: {0: .., 1: ..}}. Maps and arrays have definite lengths; Time is written as tag 1 and
// an integer (decoders that do not know the tag skip it; the format is typed by tags), objlnk as
// text "O:I".

namespace lwgate::lwm2m::lwm2m_cbor {
namespace {

using cbor::Item;
using cbor::Kind;
using cbor::Leaf;

constexpr std::uint64_t kTimeTag = 1;  // RFC 8949 3.4.2, epoch-based date/time

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

std::string at(std::size_t offset) {
  return " at byte " + std::to_string(offset);
}

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
    if (top->kind != Kind::kMap) return bad("LwM2M CBOR must be a map");
    if (auto ok = decodeMap(Path()); !ok) return ok.error();
    if (auto end = reader_.finish(); !end) return end.error();
    return std::move(records_);
  }

 private:
  // The pairs of a map already opened, its keys continuing `prefix`. Recursion is bounded: every
  // level adds at least one id and a path has at most four.
  Result<void> decodeMap(const Path& prefix) {
    while (true) {
      auto key = reader_.next();
      if (!key) return key.error();
      if (key->kind == Kind::kEnd) return {};
      auto path = readKey(*key, prefix);
      if (!path) return path.error();
      auto value = reader_.next();
      if (!value) return value.error();
      if (value->kind == Kind::kMap) {
        if (path->isResourceInstance()) {
          return bad(path->toString() + ": a map below a resource instance" + at(value->offset));
        }
        if (auto ok = decodeMap(*path); !ok) return ok;
      } else if (auto ok = addLeaf(*path, *value); !ok) {
        return ok;
      }
    }
  }

  Result<Path> appendId(const Path& path, const Item& id) {
    if (id.kind != Kind::kUnsigned) {
      return bad("path fragment holds something other than an id" + at(id.offset));
    }
    if (id.number > Path::kMaxId) {
      return bad("path id " + std::to_string(id.number) + " is above 65534" + at(id.offset));
    }
    if (path.depth() == Path::kMaxDepth) {
      return bad(path.toString() + " cannot go deeper" + at(id.offset));
    }
    return path.child(static_cast<std::uint16_t>(id.number));
  }

  Result<Path> readKey(const Item& key, const Path& prefix) {
    if (key.kind == Kind::kUnsigned) return appendId(prefix, key);
    if (key.kind == Kind::kText) {
      return bad("text map key (gateway prefix) not supported" + at(key.offset));
    }
    if (key.kind != Kind::kArray) {
      return bad("map key is not a path id or an array of ids" + at(key.offset));
    }
    Path path = prefix;
    while (true) {
      auto id = reader_.next();
      if (!id) return id.error();
      if (id->kind == Kind::kEnd) break;
      auto longer = appendId(path, *id);
      if (!longer) return longer.error();
      path = *longer;
    }
    if (path.depth() == prefix.depth()) return bad("empty path array" + at(key.offset));
    return path;
  }

  Result<void> addLeaf(const Path& path, const Item& first) {
    const std::string where = path.toString() + ": ";
    if (!path.isResource() && !path.isResourceInstance()) {
      return bad(where + "a value above resource level" + at(first.offset));
    }
    if (!requestPath_.contains(path)) {
      return bad(path.toString() + " is outside the request path " + requestPath_.toString());
    }
    auto leaf = cbor::readLeaf(reader_, first);
    if (!leaf) return bad(where + leaf.error().message);

    // The same leaf twice, or a resource with both a value and instances.
    if (leaves_.count(path) || (path.isResourceInstance() && leaves_.count(path.parent()))) {
      return bad(where + "appears twice");
    }
    if (path.isResource()) {
      const auto below = leaves_.lower_bound(path);  // sorts right after `path` itself
      if (below != leaves_.end() && path.contains(*below)) return bad(where + "appears twice");
    }

    const auto info = model_.resource(path.objectId(), path.resourceId());
    if (info && info->multiple && path.isResource()) {
      return bad(where + "is multiple-instance: needs an instance id");
    }
    if (info && !info->multiple && path.isResourceInstance()) {
      return bad(path.parent().toString() + " is single-instance: no instance id");
    }
    auto value = typedValue(*leaf, info ? std::optional<DataType>(info->type) : std::nullopt);
    if (!value) return bad(where + value.error().message);

    if (records_.size() == limits_.maxRecords) {
      return makeError(ErrorCode::kTooLarge,
                       "more than the limit of " + std::to_string(limits_.maxRecords) + " records");
    }
    leaves_.insert(path);
    records_.push_back(Record{path, std::move(*value), std::nullopt});
    return {};
  }

  static Result<Value> typedValue(Leaf& leaf, std::optional<DataType> type) {
    auto mismatch = [&](const char* got) {
      return bad(std::string(cbor::typeName(*type)) + " expected, got " + got);
    };
    switch (leaf.kind) {
      case Leaf::Kind::kNumber:
        return cbor::numberToValue(leaf.number, type, leaf.timeTag);
      case Leaf::Kind::kText:
        if (type == DataType::kObjlnk) {
          auto link = cbor::parseObjlnk(leaf.text);
          if (!link) {
            return bad("objlnk \"" + escapeForMessage(leaf.text, 24) + "\" is not \"O:I\"");
          }
          return Value::objlnk(link->objectId, link->instanceId);
        }
        if (type && *type != DataType::kString && *type != DataType::kCoreLink) {
          return mismatch("text");
        }
        return Value::string(std::move(leaf.text));
      case Leaf::Kind::kBytes:
        if (type && *type != DataType::kOpaque) return mismatch("a byte string");
        return Value::opaque(std::move(leaf.bytes));
      case Leaf::Kind::kBool:
        if (type && *type != DataType::kBoolean) return mismatch("a boolean");
        return Value::boolean(leaf.boolean);
      case Leaf::Kind::kNull:
        return bad("null is not a resource value");
      case Leaf::Kind::kUndefined:
        break;
    }
    return bad("undefined is not a resource value");
  }

  cbor::Reader reader_;
  const Path& requestPath_;
  const ObjectModel& model_;
  const DecodeLimits& limits_;
  std::vector<Record> records_;
  std::set<Path> leaves_;
};

// ---- encoding ----

struct Node {
  std::uint16_t id = 0;
  std::vector<std::size_t> children;  // indices into the node table, in order of appearance
  const Value* value = nullptr;
};

class Encoder {
 public:
  Result<std::vector<std::uint8_t>> run(const std::vector<Record>& records,
                                        const Path& requestPath) {
    nodes_.emplace_back();  // the root
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (auto ok = insert(records[i], i, requestPath); !ok) return ok.error();
    }
    writeMap(0);
    return w_.take();
  }

 private:
  Result<void> insert(const Record& r, std::size_t index, const Path& requestPath) {
    const Path& p = r.path;
    const std::string where = "record " + std::to_string(index) + ": ";
    if (!p.isResource() && !p.isResourceInstance()) {
      return bad(where + p.toString() + " is not a resource or resource instance");
    }
    if (!requestPath.contains(p)) {
      return bad(where + p.toString() + " is outside the request path " + requestPath.toString());
    }
    if (r.timestamp) return bad(where + "LwM2M CBOR cannot carry a timestamp");
    if (const auto* s = r.value.get<std::string>(); s && !isValidUtf8(*s)) {
      return bad(where + "string is not UTF-8");
    }
    std::size_t node = 0;
    for (std::size_t k = 0; k < p.depth(); ++k) {
      if (nodes_[node].value) return bad(where + p.toString() + " is below another record");
      const auto key = std::make_pair(node, p.id(k));
      auto found = index_.find(key);
      if (found == index_.end()) {
        const std::size_t child = nodes_.size();
        nodes_.push_back(Node{p.id(k), {}, nullptr});
        nodes_[node].children.push_back(child);
        found = index_.emplace(key, child).first;
      }
      node = found->second;
    }
    if (nodes_[node].value) return bad(where + p.toString() + " appears twice");
    if (!nodes_[node].children.empty()) {
      return bad(where + p.toString() + " has a value and resource instances");
    }
    nodes_[node].value = &r.value;
    return {};
  }

  void writeMap(std::size_t node) {
    w_.startMap(nodes_[node].children.size());
    for (std::size_t child : nodes_[node].children) writeEntry(child);
  }

  // One key/value pair: the key gathers the chain of single children below `node`.
  void writeEntry(std::size_t node) {
    std::vector<std::uint16_t> ids{nodes_[node].id};
    while (!nodes_[node].value && nodes_[node].children.size() == 1) {
      node = nodes_[node].children.front();
      ids.push_back(nodes_[node].id);
    }
    if (ids.size() == 1) {
      w_.writeUnsigned(ids.front());
    } else {
      w_.startArray(ids.size());
      for (auto id : ids) w_.writeUnsigned(id);
    }
    if (nodes_[node].value) {
      writeValue(*nodes_[node].value);
    } else {
      writeMap(node);
    }
  }

  void writeValue(const Value& value) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            w_.writeText(v);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            w_.writeInt(v);
          } else if constexpr (std::is_same_v<T, std::uint64_t>) {
            w_.writeUnsigned(v);
          } else if constexpr (std::is_same_v<T, double>) {
            w_.writeFloat(v);
          } else if constexpr (std::is_same_v<T, bool>) {
            w_.writeBool(v);
          } else if constexpr (std::is_same_v<T, Opaque>) {
            w_.writeBytes(v);
          } else if constexpr (std::is_same_v<T, Time>) {
            w_.writeTag(kTimeTag);
            w_.writeInt(v.seconds);
          } else {
            static_assert(std::is_same_v<T, Objlnk>);
            w_.writeText(cbor::formatObjlnk(v));
          }
        },
        value.variant());
  }

  std::vector<Node> nodes_;
  std::map<std::pair<std::size_t, std::uint16_t>, std::size_t> index_;  // (parent, id) -> node
  cbor::Writer w_;
};

}  // namespace

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits) {
  try {
    return Decoder(payload, requestPath, model, limits).run();
  } catch (...) {  // bad_alloc, or a bug: never let it reach the event loop
    return makeError(ErrorCode::kInternal, "LwM2M CBOR decoder failed unexpectedly");
  }
}

Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath) {
  try {
    return Encoder().run(records, requestPath);
  } catch (...) {
    return makeError(ErrorCode::kInternal, "LwM2M CBOR encoder failed unexpectedly");
  }
}

}  // namespace lwgate::lwm2m::lwm2m_cbor
