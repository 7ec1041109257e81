#pragma once
// A minimal CBOR (RFC 8949) reader and writer for the two LwM2M CBOR content formats (SenML CBOR,
// RFC 8428 section 6, and LwM2M CBOR, TS 1.2 Transport 7.4.7). Written here instead of taking
// libcbor: payloads come from devices, and a small reader whose every length is checked against
// the bytes that remain, whose nesting is bounded and which never recurses is easier to trust
// and to fuzz than a general-purpose library.
//
// The second half of this header holds the pieces both LwM2M codecs share: numbers as CBOR
// carries them (integers keep their kind) and their conversion to the type the object model
// gives.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/lwm2m/value.h"
#include "gateway/util/result.h"

namespace lwgate::lwm2m::cbor {

// What one call to Reader::next() found.
enum class Kind : std::uint8_t {
  kUnsigned,   // major type 0; the value is `number`
  kNegative,   // major type 1; the value is -1 - `number` (down to -2^64)
  kBytes,      // major type 2, definite or indefinite (chunks joined); `data`
  kText,       // major type 3, checked to be UTF-8; `data`, text()
  kArray,      // major type 4 opens; `number` items follow unless `indefinite`
  kMap,        // major type 5 opens; `number` key/value pairs follow unless `indefinite`
  kEnd,        // the innermost open array or map ends (count reached, or a break byte)
  kTag,        // major type 6; tag number in `number`; the tagged item is the next one read
  kFloat,      // major type 7, half/single/double precision; `floating`
  kFalse,      // simple value 20
  kTrue,       // simple value 21
  kNull,       // simple value 22
  kUndefined,  // simple value 23
  kSimple,     // any other simple value (0..19, 32..255); `number`
};

struct Item {
  Kind kind = Kind::kUndefined;
  std::uint64_t number = 0;
  double floating = 0;
  bool indefinite = false;  // arrays and maps with a break byte; strings sent in chunks
  // kBytes and kText: the content. Points into the input, or, for a string sent in chunks, into
  // a buffer of the Reader: valid until the next call on the Reader.
  std::span<const std::uint8_t> data;
  std::size_t offset = 0;  // where the item's initial byte is in the input, for messages

  std::string_view text() const {
    return {reinterpret_cast<const char*>(data.data()), data.size()};
  }
};

inline constexpr std::size_t kDefaultMaxDepth = 16;

// Pull parser over one encoded data item. next() returns the items in document order, with a
// kEnd for every array and map, and fails (kBadRequest, message with the byte offset) on input
// that is not well-formed: truncated heads or strings, lengths or counts larger than the bytes
// left, reserved additional information 28-30, an indefinite length on major types 0, 1, 6 or
// inside string chunks, a break outside an indefinite array/map/string or right after a map key
// or a tag, two-byte simple values below 32, text that is not UTF-8, and nesting deeper than
// `maxDepth` (open arrays, maps and the tags on them or on the next item all count: the depth a
// recursive consumer would reach, so tag chains are bounded too). Messages start with "CBOR: ".
// Once failed, it keeps returning the same error. Non-shortest encodings are accepted (they are
// well-formed).
class Reader {
 public:
  // The reader keeps a view of `input`: it must outlive the reader.
  explicit Reader(std::span<const std::uint8_t> input, std::size_t maxDepth = kDefaultMaxDepth)
      : in_(input), maxDepth_(maxDepth) {}
  Reader(std::vector<std::uint8_t>&&, std::size_t = kDefaultMaxDepth) = delete;

  Result<Item> next();
  // Reads the next item completely: an array or map with everything in it, a tag with the item
  // it tags. Fails when the next thing is the end of the enclosing array or map.
  Result<void> skip();
  // True once the top-level item has been read completely.
  bool done() const { return done_; }
  // Succeeds when the top-level item is complete and no bytes follow it.
  Result<void> finish() const;

  std::size_t offset() const { return pos_; }          // bytes consumed so far
  std::size_t depth() const { return stack_.size(); }  // open arrays and maps

 private:
  struct Frame {
    bool map = false;
    bool indefinite = false;
    std::uint64_t remaining = 0;  // items (map: keys and values) left, when definite
    std::uint64_t seen = 0;       // items read, when indefinite (map keys: to refuse a break)
    std::size_t tags = 0;         // tags on the container itself
  };

  Error fail(std::string message);
  Result<std::uint64_t> argument(std::uint8_t additional, std::size_t itemOffset);
  Result<Item> readString(Item item, std::uint8_t major, std::uint8_t additional);
  void completeItem();

  std::span<const std::uint8_t> in_;
  std::size_t maxDepth_;
  std::size_t pos_ = 0;
  std::vector<Frame> stack_;
  std::size_t pendingTags_ = 0;  // tags read whose item has not started yet
  std::size_t nesting_ = 0;      // open arrays and maps, their tags, and pending tags
  bool done_ = false;
  std::optional<Error> error_;
  std::vector<std::uint8_t> chunks_;  // an indefinite string joined
};

// Reads one complete item from `input` and checks that nothing follows.
Result<void> checkWellFormed(std::span<const std::uint8_t> input,
                             std::size_t maxDepth = kDefaultMaxDepth);

// Appends encoded items to a byte vector, each head in its shortest form (RFC 8949 4.2.1) and
// each float in the shortest of half/single/double that keeps its value exactly (NaN becomes
// the half-precision quiet NaN 0xf97e00). Definite-length arrays and maps need the count up
// front; the indefinite forms are there for tests and streaming.
class Writer {
 public:
  void writeUnsigned(std::uint64_t value) { head(0, value); }
  // The integer -1 - n (major type 1).
  void writeNegative(std::uint64_t n) { head(1, n); }
  void writeInt(std::int64_t value);
  void writeBytes(std::span<const std::uint8_t> bytes);
  void writeText(std::string_view text);
  void startArray(std::uint64_t count) { head(4, count); }
  void startMap(std::uint64_t pairs) { head(5, pairs); }
  void startIndefiniteArray() { out_.push_back(0x9f); }
  void startIndefiniteMap() { out_.push_back(0xbf); }
  void startIndefiniteBytes() { out_.push_back(0x5f); }
  void startIndefiniteText() { out_.push_back(0x7f); }
  void writeBreak() { out_.push_back(0xff); }
  void writeTag(std::uint64_t tag) { head(6, tag); }
  void writeBool(bool value) { out_.push_back(value ? 0xf5 : 0xf4); }
  void writeNull() { out_.push_back(0xf6); }
  void writeUndefined() { out_.push_back(0xf7); }
  void writeSimple(std::uint8_t value);  // 0..23 in the initial byte, 32..255 in one more
  void writeFloat(double value);

  const std::vector<std::uint8_t>& bytes() const { return out_; }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  void head(std::uint8_t major, std::uint64_t argument);
  std::vector<std::uint8_t> out_;
};

// IEEE 754 half precision (binary16) to double; exact.
double halfToDouble(std::uint16_t bits);

// ---------------------------------------------------------------------------------------------
// Shared by the SenML CBOR and LwM2M CBOR codecs.

// A number as CBOR carried it: integers keep their major type.
struct Number {
  enum class Kind : std::uint8_t { kUnsigned, kNegative, kFloat };
  Kind kind = Kind::kUnsigned;
  std::uint64_t magnitude = 0;  // kUnsigned: the value; kNegative: n, the value being -1 - n
  double floating = 0;          // kFloat
};

// A resource value as it stands in the payload, before the model types it.
struct Leaf {
  enum class Kind : std::uint8_t { kNumber, kText, kBytes, kBool, kNull, kUndefined };
  Kind kind = Kind::kNull;
  Number number;
  bool timeTag = false;  // tag 1 (epoch-based date/time) preceded the number
  std::string text;
  std::vector<std::uint8_t> bytes;
  bool boolean = false;
  std::size_t offset = 0;
};

// Reads one value starting at `first` (already returned by reader.next()): a number (integer,
// float, or decimal fraction, tag 4 [exponent, mantissa], as RFC 8428 section 6 allows), text,
// bytes, a boolean, null or undefined. Tag 1 sets timeTag; bignums and bigfloats (tags 2, 3, 5)
// fail; other tags are skipped as RFC 8949 3.4 lets a decoder do. Arrays and maps fail.
Result<Leaf> readLeaf(Reader& reader, const Item& first);

// Types a number by the model (TS Core Appendix C). `modelType` empty = unknown resource: the
// CBOR kind is kept (unsigned -> kUnsignedInteger, negative -> kInteger, float -> kFloat; tag 1
// with an integral value that fits int64 -> kTime). With a model type: kInteger needs an integral
// value in int64, kUnsignedInteger one in uint64, kTime one in int64, kFloat takes any number;
// floats count as integral only when they have no fraction. The error message does not name the
// path: callers prefix it.
Result<Value> numberToValue(const Number& number, std::optional<DataType> modelType, bool timeTag);

// "O:I" with decimal ids 0..65535 (objlnk as SenML "vlo" and LwM2M CBOR text carry it).
std::optional<Objlnk> parseObjlnk(std::string_view text);
std::string formatObjlnk(const Objlnk& link);

// A name for messages: "string", "integer", ... (value.h's dataTypeName lives in value.cpp; this
// keeps the reader test free of it).
std::string_view typeName(DataType type);

}  // namespace lwgate::lwm2m::cbor
