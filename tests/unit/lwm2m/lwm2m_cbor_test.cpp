#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gateway/lwm2m/cbor.h"
#include "gateway/lwm2m/codec_lwm2m_cbor.h"
#include "tests/unit/lwm2m/cbor_codec_support.h"
#include "tests/unit/lwm2m/error_assertions.h"

namespace lwgate::lwm2m {
namespace {

using testing::failsWith;
using testing::cbor_codec::Bytes;

using testing::cbor_codec::hex;
using testing::cbor_codec::kModel;
using testing::cbor_codec::path;
using testing::cbor_codec::toHex;

Result<std::vector<Record>> decode(const Bytes& payload, std::string_view requestPath = "/",
                                   DecodeLimits limits = {}) {
  return lwm2m_cbor::decode(payload, path(requestPath), kModel, limits);
}

std::vector<Record> decodeOk(const Bytes& payload, std::string_view requestPath = "/") {
  auto result = decode(payload, requestPath);
  EXPECT_TRUE(result.ok()) << toHex(payload) << "\n" << result.error().message;
  return result.ok() ? *result : std::vector<Record>{};
}

Bytes encodeOk(const std::vector<Record>& records, std::string_view requestPath = "/") {
  auto result = lwm2m_cbor::encode(records, path(requestPath));
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? *result : Bytes{};
}

Record rec(std::string_view p, Value v) {
  return Record{path(p), std::move(v), std::nullopt};
}

// The first decoded value, or a string saying why there is none (readable in a failed EXPECT).
Value first(const Result<std::vector<Record>>& result) {
  if (!result.ok()) return Value::string("failed: " + result.error().message);
  if (result->empty()) return Value::string("no records");
  return result->front().value;
}

std::vector<Record> deviceRecords() {
  return {
      rec("/3/0/0", Value::string("Open Mobile Alliance")),
      rec("/3/0/1", Value::string("Lightweight M2M Client")),
      rec("/3/0/2", Value::string("345000123")),
      rec("/3/0/3", Value::string("1.0")),
      rec("/3/0/6/0", Value::integer(1)),
      rec("/3/0/6/1", Value::integer(5)),
      rec("/3/0/7/0", Value::integer(3800)),
      rec("/3/0/7/1", Value::integer(5000)),
      rec("/3/0/8/0", Value::integer(125)),
      rec("/3/0/8/1", Value::integer(900)),
      rec("/3/0/9", Value::integer(100)),
      rec("/3/0/10", Value::integer(15)),
      rec("/3/0/11/0", Value::integer(0)),
      rec("/3/0/13", Value::time(1367491215)),
      rec("/3/0/14", Value::string("+02:00")),
      rec("/3/0/16", Value::string("U")),
  };
}

// Read /3/0 of the Device object in LwM2M CBOR, as TS 1.2 Transport 7.4.7 lays it out:
// {[3, 0]: {0: "Open Mobile Alliance", ..., 6: {0: 1, 1: 5}, ..., [11, 0]: 0,
//           13: 1(1367491215), ...}}
Bytes deviceExample() {
  cbor::Writer w;
  w.startMap(1);
  w.startArray(2);
  w.writeUnsigned(3);
  w.writeUnsigned(0);
  w.startMap(13);
  auto text = [&](std::uint16_t id, std::string_view s) {
    w.writeUnsigned(id);
    w.writeText(s);
  };
  auto pair = [&](std::uint16_t id, std::int64_t a, std::int64_t b) {
    w.writeUnsigned(id);
    w.startMap(2);
    w.writeUnsigned(0);
    w.writeInt(a);
    w.writeUnsigned(1);
    w.writeInt(b);
  };
  text(0, "Open Mobile Alliance");
  text(1, "Lightweight M2M Client");
  text(2, "345000123");
  text(3, "1.0");
  pair(6, 1, 5);
  pair(7, 3800, 5000);
  pair(8, 125, 900);
  w.writeUnsigned(9);
  w.writeInt(100);
  w.writeUnsigned(10);
  w.writeInt(15);
  w.startArray(2);  // a single instance collapses into the key: [11, 0]: 0
  w.writeUnsigned(11);
  w.writeUnsigned(0);
  w.writeInt(0);
  w.writeUnsigned(13);
  w.writeTag(1);
  w.writeInt(1367491215);
  text(14, "+02:00");
  text(16, "U");
  return w.take();
}

TEST(Lwm2mCbor, DecodesTheDeviceObjectExample) {
  const auto records = decodeOk(deviceExample(), "/3/0");
  EXPECT_EQ(records, deviceRecords()) << toJson(records);
}

TEST(Lwm2mCbor, EncodesTheDeviceObjectWithTheShortestNesting) {
  EXPECT_EQ(toHex(encodeOk(deviceRecords(), "/3/0")), toHex(deviceExample()));
}

TEST(Lwm2mCbor, CollapsesSingleChildChainsIntoArrayKeys) {
  // {[3, 0, 9]: 100}
  EXPECT_EQ(toHex(encodeOk({rec("/3/0/9", Value::integer(100))}, "/3/0/9")),
            toHex(hex("a1 83 03 00 09 18 64")));
  // {[3, 0, 11, 0]: 0}
  EXPECT_EQ(toHex(encodeOk({rec("/3/0/11/0", Value::integer(0))})),
            toHex(hex("a1 84 03000b00 00")));
  // Two objects: {[3, 0, 9]: 100, [4, 0, 2]: -5}
  EXPECT_EQ(
      toHex(encodeOk({rec("/3/0/9", Value::integer(100)), rec("/4/0/2", Value::integer(-5))})),
      toHex(hex("a2 83030009 1864 83040002 24")));
  // A lone id below a branch stays a plain integer: {[3, 0]: {7: {0: 1, 1: 2}, 9: 3}}
  EXPECT_EQ(toHex(encodeOk({rec("/3/0/7/0", Value::integer(1)), rec("/3/0/7/1", Value::integer(2)),
                            rec("/3/0/9", Value::integer(3))})),
            toHex(hex("a1 820300 a2 07 a2 0001 0102 09 03")));
  // Two instances: {3: {0: {[9]: ..}}} collapses to {3: {0: 9-chain, 1: 9-chain}}
  EXPECT_EQ(toHex(encodeOk({rec("/3/0/9", Value::integer(1)), rec("/3/1/9", Value::integer(2))})),
            toHex(hex("a1 03 a2 82 00 09 01 82 01 09 02")));
  EXPECT_EQ(toHex(encodeOk({})), "a0");
}

TEST(Lwm2mCbor, EveryKeyFormDecodesTheSame) {
  const std::vector<Record> expected = {rec("/13/26/1", Value::unsignedInteger(42))};
  for (const char* payload : {
           "a1 83 0d 18 1a 01 18 2a",              // {[13, 26, 1]: 42}
           "bf 9f 0d 18 1a 01 ff 18 2a ff",        // {_ [_ 13, 26, 1]: 42}
           "a1 0d a1 18 1a a1 01 18 2a",           // {13: {26: {1: 42}}}
           "a1 81 0d a1 81 18 1a a1 81 01 18 2a",  // {[13]: {[26]: {[1]: 42}}}
           "bf 9f 0d ff bf 9f 18 1a ff bf 9f 01 ff 18 2a ff ff ff",
           "a1 82 0d 18 1a a1 01 18 2a",                          // {[13, 26]: {1: 42}}
           "a1 0d a1 82 18 1a 01 18 2a",                          // {13: {[26, 1]: 42}}
           "a1 19000d a1 1a0000001a a1 1b0000000000000001 182a",  // long heads
       }) {
    EXPECT_EQ(decodeOk(hex(payload)), expected) << payload;
  }
  // Siblings may use different forms: {[13, 26]: {1: 42}, [13, 26, 2]: 21}
  EXPECT_EQ(decodeOk(hex("a2 82 0d 18 1a a1 01 18 2a 83 0d 18 1a 02 15")),
            (std::vector<Record>{rec("/13/26/1", Value::unsignedInteger(42)),
                                 rec("/13/26/2", Value::unsignedInteger(21))}));
}

TEST(Lwm2mCbor, RoundTripsEveryDataType) {
  const std::vector<Record> records = {
      rec("/9000/0/0", Value::string("h\xc3\xa9llo")),
      rec("/9000/0/1", Value::integer(std::numeric_limits<std::int64_t>::min())),
      rec("/9000/0/2", Value::unsignedInteger(std::numeric_limits<std::uint64_t>::max())),
      rec("/9000/0/3", Value::floating(-1.1)),
      rec("/9000/0/4", Value::boolean(true)),
      rec("/9000/0/5", Value::opaque({0x00, 0xff, 0x10})),
      rec("/9000/0/6", Value::time(-1)),
      rec("/9000/0/7", Value::objlnk(65535, 0)),
      rec("/9000/0/8", Value::string("</3/0>;ver=1.1")),
      rec("/9000/0/9/0", Value::integer(7)),
      rec("/9000/0/9/65534", Value::integer(-7)),
      rec("/9000/1/3", Value::floating(std::numeric_limits<double>::infinity())),
  };
  EXPECT_EQ(decodeOk(encodeOk(records, "/9000"), "/9000"), records);
  // Unknown resources come back with the kind CBOR gives them.
  const std::vector<Record> unknown = {
      rec("/10000/0/0", Value::string("s")),        rec("/10000/0/1", Value::integer(-1)),
      rec("/10000/0/2", Value::unsignedInteger(1)), rec("/10000/0/3", Value::floating(0.25)),
      rec("/10000/0/4", Value::boolean(false)),     rec("/10000/0/5", Value::opaque({})),
      rec("/10000/0/6", Value::time(1700000000)),  // tag 1 says so
  };
  EXPECT_EQ(decodeOk(encodeOk(unknown)), unknown);
}

TEST(Lwm2mCbor, TimeIsAnIntegerWithOrWithoutTag1) {
  EXPECT_EQ(toHex(encodeOk({rec("/3/0/13", Value::time(1700000000))})),
            toHex(hex("a1 83 03 00 0d c1 1a 6553f100")));
  // The model says time: the tag is optional.
  EXPECT_EQ(decodeOk(hex("a1 83 03 00 0d 1a 6553f100")),
            (std::vector<Record>{rec("/3/0/13", Value::time(1700000000))}));
  // Unknown resource without the tag: an unsigned integer.
  EXPECT_EQ(decodeOk(hex("a1 83 18 64 00 00 1a 6553f100")),
            (std::vector<Record>{rec("/100/0/0", Value::unsignedInteger(1700000000))}));
  // The model wins over the tag.
  EXPECT_EQ(decodeOk(hex("a1 83 03 00 09 c1 1864")),
            (std::vector<Record>{rec("/3/0/9", Value::integer(100))}));
  // Other tags are skipped; a decimal fraction is a number.
  EXPECT_EQ(decodeOk(hex("a1 83 19 2328 00 03 c4 82 20 0f")),
            (std::vector<Record>{rec("/9000/0/3", Value::floating(1.5))}));
  EXPECT_EQ(decodeOk(hex("a1 83 19 2328 00 00 d8 20 61 78")),
            (std::vector<Record>{rec("/9000/0/0", Value::string("x"))}));
}

TEST(Lwm2mCbor, TheModelTypesValues) {
  // {[9000, 0, r]: value}, `idAndValue` giving r and the value in hex.
  auto one = [](std::string_view idAndValue) {
    return decode(hex(std::string("a1 83 19 2328 00 ") + std::string(idAndValue)));
  };
  EXPECT_EQ(first(one("01 05")), Value::integer(5));
  EXPECT_TRUE(failsWith(one("01 1b8000000000000000"), ErrorCode::kBadRequest,
                        "/9000/0/1: integer expected"));
  EXPECT_TRUE(failsWith(one("02 20"), ErrorCode::kBadRequest, "/9000/0/2: unsigned integer"));
  EXPECT_EQ(first(one("03 05")), Value::floating(5.0));
  EXPECT_TRUE(failsWith(one("04 01"), ErrorCode::kBadRequest, "boolean expected, got a number"));
  EXPECT_TRUE(failsWith(one("00 f5"), ErrorCode::kBadRequest, "string expected, got a boolean"));
  EXPECT_TRUE(
      failsWith(one("00 4100"), ErrorCode::kBadRequest, "string expected, got a byte string"));
  EXPECT_TRUE(failsWith(one("05 6161"), ErrorCode::kBadRequest, "opaque expected, got text"));
  EXPECT_EQ(first(one("07 63 333a30")), Value::objlnk(3, 0));
  EXPECT_TRUE(
      failsWith(one("07 63 333b30"), ErrorCode::kBadRequest, "objlnk \"3;0\" is not \"O:I\""));
  EXPECT_EQ(first(one("08 61 78")), Value::string("x"));
  EXPECT_TRUE(failsWith(one("06 f93e00"), ErrorCode::kBadRequest, "time expected"));
}

TEST(Lwm2mCbor, RefusesMalformedPayloads) {
  struct Case {
    const char* payload;
    const char* needle;
  };
  const Case cases[] = {
      {"80", "LwM2M CBOR must be a map"},
      {"01", "must be a map"},
      {"a1 61 61 01", "text map key (gateway prefix) not supported at byte 1"},
      {"a1 20 01", "map key is not a path id or an array of ids at byte 1"},
      {"a1 f93c00 01", "map key is not a path id"},
      {"a1 c1 03 01", "map key is not a path id"},
      {"a1 80 01", "empty path array at byte 1"},
      {"a1 9f ff 01", "empty path array"},
      {"a1 82 03 61 61 01", "path fragment holds something other than an id at byte 3"},
      {"a1 82 03 82 00 01 01", "path fragment holds something other than an id"},
      {"a1 83 03 00 19ffff 01", "path id 65535 is above 65534 at byte 4"},
      {"a1 85 03 00 09 00 00 01", "/3/0/9/0 cannot go deeper at byte 6"},
      {"a1 84 03 00 09 00 a1 00 01", "/3/0/9/0: a map below a resource instance at byte 6"},
      {"a1 82 03 00 01", "/3/0: a value above resource level at byte 4"},
      {"a1 03 01", "/3: a value above resource level"},
      {"a2 83 03 00 09 01 83 03 00 09 02", "/3/0/9: appears twice"},
      {"a1 83 192710 00 09 a2 00 01 00 02", "/10000/0/9/0: appears twice"},
      {"a2 83 19 2328 00 09 a1 00 01 83 19 2328 00 09 02", "/9000/0/9: appears twice"},
      {"a2 83 192710 00 09 02 84 192710 00 09 00 01", "/10000/0/9/0: appears twice"},
      {"a1 83 03 00 09 f6", "/3/0/9: null is not a resource value"},
      {"a1 83 03 00 09 f7", "undefined is not a resource value"},
      {"a1 83 03 00 09 80", "/3/0/9: expected a value, found an array at byte 5"},
      {"a1 83 03 00 09 c1 a0", "found a map"},
      {"a1 83 03 00 09 c2 41 01", "bignum"},
      {"a1 83 03 00 09 f0", "unassigned simple value 16"},
      {"a1 83 03 00 06 01", "/3/0/6: is multiple-instance: needs an instance id"},
      {"a1 84 03 00 09 00 01", "/3/0/9 is single-instance: no instance id"},
      {"a1 83 03 00 09", "CBOR: truncated at byte 5"},
      {"a1 83 03 00 09 01 00", "CBOR: 1 bytes after the item at byte 6"},
      {"a2 83 03 00 09 01", "CBOR: truncated at byte 6"},
      {"a3 83 03 00 09 01", "CBOR: map of 3 pairs, 5 bytes left"},
      {"bf 83 03 00 09 01", "CBOR: truncated at byte 6"},
      {"bf 83 03 00 09 ff", "CBOR: break after a map key"},
      {"", "CBOR: truncated at byte 0"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(failsWith(decode(hex(c.payload)), ErrorCode::kBadRequest, c.needle)) << c.payload;
  }
}

TEST(Lwm2mCbor, PathsMustLieInsideTheRequestPath) {
  EXPECT_TRUE(failsWith(decode(deviceExample(), "/3/1"), ErrorCode::kBadRequest,
                        "/3/0/0 is outside the request path /3/1"));
  EXPECT_TRUE(failsWith(decode(deviceExample(), "/3/0/6"), ErrorCode::kBadRequest,
                        "/3/0/0 is outside the request path /3/0/6"));
  EXPECT_EQ(decodeOk(deviceExample(), "/3").size(), 16u);
  // Paths are absolute: the request path is not a prefix to them.
  EXPECT_TRUE(failsWith(decode(hex("a1 09 01"), "/3/0"), ErrorCode::kBadRequest,
                        "/9: a value above resource level"));
}

TEST(Lwm2mCbor, LimitsAreEnforced) {
  EXPECT_TRUE(failsWith(decode(deviceExample(), "/", DecodeLimits{.maxRecords = 15}),
                        ErrorCode::kTooLarge, "more than the limit of 15 records"));
  EXPECT_TRUE(decode(deviceExample(), "/", DecodeLimits{.maxRecords = 16}).ok());
  // The example nests a map, an array key, a map, a map; the time tag sits at depth 2.
  EXPECT_TRUE(decode(deviceExample(), "/", DecodeLimits{.maxDepth = 3}).ok());
  EXPECT_TRUE(failsWith(decode(deviceExample(), "/", DecodeLimits{.maxDepth = 2}),
                        ErrorCode::kBadRequest, "nesting deeper than 2"));
  // The deepest legal document: {10000: {0: {7: {0: 4([-1, 15])}}}} is depth 6.
  const Bytes deep = hex("a1 192710 a1 00 a1 07 a1 00 c4 82 20 0f");
  EXPECT_TRUE(decode(deep, "/", DecodeLimits{.maxDepth = 6}).ok());
  EXPECT_FALSE(decode(deep, "/", DecodeLimits{.maxDepth = 5}).ok());
}

TEST(Lwm2mCbor, EncodeChecksTheRecords) {
  auto encode = [](std::vector<Record> records, std::string_view requestPath = "/") {
    return lwm2m_cbor::encode(records, path(requestPath));
  };
  EXPECT_TRUE(failsWith(encode({rec("/3/0", Value::integer(1))}), ErrorCode::kBadRequest,
                        "record 0: /3/0 is not a resource or resource instance"));
  EXPECT_TRUE(failsWith(encode({rec("/3/0/1", Value::integer(1))}, "/3/1"), ErrorCode::kBadRequest,
                        "outside the request path /3/1"));
  EXPECT_TRUE(failsWith(encode({Record{path("/3/0/1"), Value::integer(1), 5.0}}),
                        ErrorCode::kBadRequest, "record 0: LwM2M CBOR cannot carry a timestamp"));
  EXPECT_TRUE(
      failsWith(encode({rec("/3/0/1", Value::integer(1)), rec("/3/0/1", Value::integer(2))}),
                ErrorCode::kBadRequest, "record 1: /3/0/1 appears twice"));
  EXPECT_TRUE(
      failsWith(encode({rec("/3/0/7", Value::integer(1)), rec("/3/0/7/0", Value::integer(2))}),
                ErrorCode::kBadRequest, "record 1: /3/0/7/0 is below another record"));
  EXPECT_TRUE(
      failsWith(encode({rec("/3/0/7/0", Value::integer(2)), rec("/3/0/7", Value::integer(1))}),
                ErrorCode::kBadRequest, "record 1: /3/0/7 has a value and resource instances"));
  EXPECT_TRUE(failsWith(encode({rec("/3/0/1", Value::string("\xc3"))}), ErrorCode::kBadRequest,
                        "not UTF-8"));
}

TEST(Lwm2mCbor, EncodingKeepsTheOrderOfFirstAppearance) {
  const std::vector<Record> records = {rec("/9000/0/1", Value::integer(1)),
                                       rec("/3/0/9", Value::integer(2)),
                                       rec("/9000/1/1", Value::integer(3))};
  // Grouped by path, first-seen first: /9000/0/1, /9000/1/1, then /3/0/9.
  EXPECT_EQ(decodeOk(encodeOk(records)), (std::vector<Record>{records[0], records[2], records[1]}));
}

TEST(Lwm2mCbor, SeededMutationsDecodeOrFailCleanly) {
  std::vector<Bytes> seeds = {
      deviceExample(),
      encodeOk({rec("/9000/0/0", Value::string("x")), rec("/9000/0/3", Value::floating(2.5)),
                rec("/9000/0/5", Value::opaque({1, 2, 3})), rec("/9000/0/7", Value::objlnk(1, 2)),
                rec("/9000/0/9/3", Value::integer(-9)), rec("/9000/1/6", Value::time(5)),
                rec("/10000/65534/1/2", Value::unsignedInteger(1ull << 40))}),
      hex("bf 9f 0d ff bf 9f 18 1a ff bf 9f 01 ff 18 2a ff ff ff"),
  };
  std::mt19937 rng(11544);
  std::size_t decoded = 0;
  for (int i = 0; i < 6000; ++i) {
    Bytes bytes = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const std::size_t at = rng() % bytes.size();
      switch (rng() % 5) {
        case 0:
          bytes[at] = static_cast<std::uint8_t>(rng());
          break;
        case 1:
          bytes[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 2:
          bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at));
          break;
        case 3:
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                       static_cast<std::uint8_t>(rng()));
          break;
        default:
          bytes.resize(at);
          break;
      }
    }
    auto result = decode(bytes, "/", DecodeLimits{.maxRecords = 64, .maxDepth = 8});
    if (result.ok()) {
      ++decoded;
      // Whatever decodes, encodes; and reads back the same (NaN aside: never equal to itself).
      auto again = lwm2m_cbor::encode(*result, path("/"));
      ASSERT_TRUE(again.ok()) << toHex(bytes) << ": " << again.error().message;
      auto back = decode(*again);
      ASSERT_TRUE(back.ok()) << toHex(*again) << ": " << back.error().message;
      // The encoder groups records by path: compare in path order (paths are unique here).
      auto byPath = [](const Record& a, const Record& b) { return a.path < b.path; };
      std::sort(result->begin(), result->end(), byPath);
      std::sort(back->begin(), back->end(), byPath);
      ASSERT_EQ(back->size(), result->size());
      for (std::size_t k = 0; k < back->size(); ++k) {
        const auto* d = (*result)[k].value.get<double>();
        if (d && std::isnan(*d)) continue;
        EXPECT_EQ((*back)[k], (*result)[k]) << toHex(bytes) << " #" << k;
      }
    } else {
      const auto code = result.error().code;
      EXPECT_TRUE(
          failsWith(result, code == ErrorCode::kTooLarge ? code : ErrorCode::kBadRequest, ""))
          << toHex(bytes);
    }
  }
  EXPECT_GT(decoded, 100u);
}

}  // namespace
}  // namespace lwgate::lwm2m
