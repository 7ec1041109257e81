#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "gateway/lwm2m/codec_tlv.h"
#include "tests/unit/lwm2m/error_assertions.h"

namespace lwgate::lwm2m {

// Readable failure output (gtest finds it by argument-dependent lookup); inline because other
// test files of this binary may define the same.
inline void PrintTo(const Record& r, std::ostream* os) {
  *os << r.path.toString() << "=" << toJson({r});
}

namespace {

using testing::failsWith;
using Bytes = std::vector<std::uint8_t>;

// "C8 00 14 4F ..." -> bytes.
Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (d < 0) continue;
    if (high < 0) {
      high = d;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + d));
      high = -1;
    }
  }
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// An object instance TLV (8-bit id) around `content`, with the smallest length field.
Bytes objectInstance(std::uint8_t id, const Bytes& content) {
  Bytes out;
  if (content.size() <= 7) {
    out = {static_cast<std::uint8_t>(content.size()), id};
  } else if (content.size() <= 0xff) {
    out = {0x08, id, static_cast<std::uint8_t>(content.size())};
  } else {
    out = {0x10, id, static_cast<std::uint8_t>(content.size() >> 8),
           static_cast<std::uint8_t>(content.size())};
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Record rec(Path path, Value value) {
  return Record{path, std::move(value), std::nullopt};
}

Result<std::vector<Record>> decodeAt(const Bytes& payload, const Path& path,
                                     const DecodeLimits& limits = {}) {
  return tlv::decode(payload, path, coreObjects(), limits);
}

// TS Transport 7.4.3 example: Read on the single-instance Device object /3/0.
const Bytes kDeviceInstance =
    hex("C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65"
        "C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74"
        "C8 02 09 33 34 35 30 30 30 31 32 33"
        "C3 03 31 2E 30"
        "86 06 41 00 01 41 01 05"
        "88 07 08 42 00 0E D8 42 01 13 88"
        "87 08 41 00 7D 42 01 03 84"
        "C1 09 64"
        "C1 0A 0F"
        "83 0B 41 00 00"
        "C4 0D 51 82 42 8F"
        "C6 0E 2B 30 32 3A 30 30"
        "C1 10 55");

std::vector<Record> deviceRecords(std::uint16_t instance = 0) {
  auto r = [instance](std::uint16_t id) { return Path::resource(3, instance, id); };
  auto ri = [instance](std::uint16_t id, std::uint16_t k) {
    return Path::resourceInstance(3, instance, id, k);
  };
  return {
      rec(r(0), Value::string("Open Mobile Alliance")),
      rec(r(1), Value::string("Lightweight M2M Client")),
      rec(r(2), Value::string("345000123")),
      rec(r(3), Value::string("1.0")),
      rec(ri(6, 0), Value::integer(1)),
      rec(ri(6, 1), Value::integer(5)),
      rec(ri(7, 0), Value::integer(3800)),
      rec(ri(7, 1), Value::integer(5000)),
      rec(ri(8, 0), Value::integer(125)),
      rec(ri(8, 1), Value::integer(900)),
      rec(r(9), Value::integer(100)),
      rec(r(10), Value::integer(15)),
      rec(ri(11, 0), Value::integer(0)),
      rec(r(13), Value::time(1367491215)),
      rec(r(14), Value::string("+02:00")),
      rec(r(16), Value::string("U")),
  };
}

// TS Transport 7.4.3 example: Read on the Access Control object /2 with instances 0 and 2
// (a multiple resource with a 16-bit resource instance id).
const Bytes kAccessControl =
    hex("08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F"
        "08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 01 36 01 C1 03 7F");

const std::vector<Record> kAccessControlRecords = {
    rec(Path::resource(2, 0, 0), Value::integer(1)),
    rec(Path::resource(2, 0, 1), Value::integer(0)),
    rec(Path::resourceInstance(2, 0, 2, 127), Value::integer(7)),
    rec(Path::resource(2, 0, 3), Value::integer(127)),
    rec(Path::resource(2, 2, 0), Value::integer(3)),
    rec(Path::resource(2, 2, 1), Value::integer(0)),
    rec(Path::resourceInstance(2, 2, 2, 127), Value::integer(7)),
    rec(Path::resourceInstance(2, 2, 2, 310), Value::integer(1)),
    rec(Path::resource(2, 2, 3), Value::integer(127)),
};

// Read on the Server object /1 with two instances, laid out as the spec's examples are.
const Bytes kServers =
    hex("08 00 0F C1 00 01 C4 01 00 01 51 80 C1 06 01 C1 07 55"
        "08 01 0E C1 00 02 C2 01 0E 10 C1 06 00 C2 07 55 51");

const std::vector<Record> kServerRecords = {
    rec(Path::resource(1, 0, 0), Value::integer(1)),
    rec(Path::resource(1, 0, 1), Value::integer(86400)),
    rec(Path::resource(1, 0, 6), Value::boolean(true)),
    rec(Path::resource(1, 0, 7), Value::string("U")),
    rec(Path::resource(1, 1, 0), Value::integer(2)),
    rec(Path::resource(1, 1, 1), Value::integer(3600)),
    rec(Path::resource(1, 1, 6), Value::boolean(false)),
    rec(Path::resource(1, 1, 7), Value::string("UQ")),
};

TEST(TlvDecodeTest, SpecDeviceInstance) {
  auto records = decodeAt(kDeviceInstance, Path::instance(3, 0));
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(*records, deviceRecords());
}

TEST(TlvDecodeTest, DeviceInstanceWrappedInAnObjectInstance) {
  const Bytes wrapped = objectInstance(0, kDeviceInstance);
  ASSERT_EQ(wrapped[0], 0x08);  // 121 bytes: 8-bit length field
  for (const Path& at : {Path::object(3), Path::instance(3, 0)}) {
    SCOPED_TRACE(at.toString());
    auto records = decodeAt(wrapped, at);
    ASSERT_TRUE(records.ok()) << records.error().message;
    EXPECT_EQ(*records, deviceRecords());
  }
  EXPECT_TRUE(failsWith(decodeAt(wrapped, Path::instance(3, 1)), ErrorCode::kBadRequest,
                        "object instance 0 at offset 0 is /3/0, outside /3/1"));
  EXPECT_TRUE(failsWith(decodeAt(kDeviceInstance, Path::object(3)), ErrorCode::kBadRequest,
                        "resource 0 at offset 0 cannot answer /3"));
}

TEST(TlvDecodeTest, SpecMultipleInstanceResource) {
  const std::vector<Record> expected = {rec(Path::resourceInstance(3, 0, 6, 0), Value::integer(1)),
                                        rec(Path::resourceInstance(3, 0, 6, 1), Value::integer(5))};
  auto wrapped = decodeAt(hex("86 06 41 00 01 41 01 05"), Path::resource(3, 0, 6));
  ASSERT_TRUE(wrapped.ok()) << wrapped.error().message;
  EXPECT_EQ(*wrapped, expected);
  auto bare = decodeAt(hex("41 00 01 41 01 05"), Path::resource(3, 0, 6));
  ASSERT_TRUE(bare.ok()) << bare.error().message;
  EXPECT_EQ(*bare, expected);
  EXPECT_TRUE(failsWith(decodeAt(hex("86 07 41 00 01 41 01 05"), Path::resource(3, 0, 6)),
                        ErrorCode::kBadRequest, "/3/0/7, outside /3/0/6"));
}

TEST(TlvDecodeTest, SingleResourceAndResourceInstance) {
  auto battery = decodeAt(hex("C1 09 64"), Path::resource(3, 0, 9));
  ASSERT_TRUE(battery.ok()) << battery.error().message;
  EXPECT_EQ(*battery, (std::vector<Record>{rec(Path::resource(3, 0, 9), Value::integer(100))}));

  const Path one = Path::resourceInstance(3, 0, 6, 1);
  const std::vector<Record> expected = {rec(one, Value::integer(5))};
  for (const Bytes& payload : {hex("41 01 05"), hex("83 06 41 01 05")}) {
    auto r = decodeAt(payload, one);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, expected);
  }
  EXPECT_TRUE(failsWith(decodeAt(hex("41 00 01"), one), ErrorCode::kBadRequest,
                        "resource instance 0 at offset 0 is /3/0/6/0, outside /3/0/6/1"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C1 06 05"), one), ErrorCode::kBadRequest,
                        "is /3/0/6, above /3/0/6/1"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C1 0A 0F"), Path::resource(3, 0, 9)), ErrorCode::kBadRequest,
                        "resource 10 at offset 0 is /3/0/10, outside /3/0/9"));
}

TEST(TlvDecodeTest, SpecAccessControlTwoInstances) {
  auto records = decodeAt(kAccessControl, Path::object(2));
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(*records, kAccessControlRecords);
}

TEST(TlvDecodeTest, ServerObjectTwoInstances) {
  auto records = decodeAt(kServers, Path::object(1));
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(*records, kServerRecords);
}

TEST(TlvDecodeTest, EmptyPayloadHasNoRecords) {
  for (const Path& at : {Path::object(3), Path::instance(3, 0), Path::resource(3, 0, 6)}) {
    auto r = decodeAt({}, at);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->empty());
  }
  auto emptyInstance = decodeAt(hex("00 05"), Path::object(3));
  ASSERT_TRUE(emptyInstance.ok()) << emptyInstance.error().message;
  EXPECT_TRUE(emptyInstance->empty());
}

TEST(TlvDecodeTest, UnknownResourcesKeepTheirBytes) {
  auto r = decodeAt(hex("C2 63 01 02 E1 01 00 2A"), Path::instance(3, 0));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<Record>{rec(Path::resource(3, 0, 99), Value::opaque({1, 2})),
                                     rec(Path::resource(3, 0, 256), Value::opaque({0x2a}))}));
  auto custom = decodeAt(hex("C3 01 61 62 63"), Path::instance(10241, 0));
  ASSERT_TRUE(custom.ok()) << custom.error().message;
  EXPECT_EQ(
      *custom,
      (std::vector<Record>{rec(Path::resource(10241, 0, 1), Value::opaque({'a', 'b', 'c'}))}));
}

TEST(TlvDecodeTest, TypesFromTheModel) {
  struct Case {
    const char* payload;
    Path at;
    Value value;
  };
  const std::vector<Case> cases = {
      {"C1 09 FF", Path::resource(3, 0, 9), Value::integer(-1)},
      {"C2 09 80 00", Path::resource(3, 0, 9), Value::integer(-32768)},
      {"C4 09 7F FF FF FF", Path::resource(3, 0, 9), Value::integer(2147483647)},
      {"C8 09 08 80 00 00 00 00 00 00 00", Path::resource(3, 0, 9),
       Value::integer(std::numeric_limits<std::int64_t>::min())},
      {"C1 0D FF", Path::resource(3, 0, 13), Value::time(-1)},
      {"C1 0C 01", Path::resource(1, 0, 12), Value::time(1)},
      {"C1 0D FF", Path::resource(1, 0, 13), Value::unsignedInteger(255)},
      {"C8 0D 08 FF FF FF FF FF FF FF FF", Path::resource(1, 0, 13),
       Value::unsignedInteger(std::numeric_limits<std::uint64_t>::max())},
      {"C4 00 3F C0 00 00", Path::resource(6, 0, 0), Value::floating(1.5)},
      {"C8 00 08 3F B9 99 99 99 99 99 9A", Path::resource(6, 0, 0), Value::floating(0.1)},
      {"C4 00 FF 80 00 00", Path::resource(6, 0, 0),
       Value::floating(-std::numeric_limits<double>::infinity())},
      {"C1 06 01", Path::resource(1, 0, 6), Value::boolean(true)},
      {"C1 06 00", Path::resource(1, 0, 6), Value::boolean(false)},
      {"C4 0A 00 03 00 01", Path::resource(1, 0, 10), Value::objlnk(3, 1)},
      {"C4 0A FF FF FF FF", Path::resource(1, 0, 10), Value::objlnk(65535, 65535)},
      {"C3 00 00 FF 10", Path::resource(5, 0, 0), Value::opaque({0x00, 0xff, 0x10})},
      {"C0 00", Path::resource(3, 0, 0), Value::string("")},
      {"C6 00 67 72 C3 BC C3 9F", Path::resource(3, 0, 0), Value::string("gr\xc3\xbc\xc3\x9f")},
      {"C1 10 55", Path::resource(0, 1, 16), Value::unsignedInteger(0x55)},  // /0/x/16 multiple
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.payload);
    auto r = decodeAt(hex(c.payload), c.at.parent());
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0], rec(c.at, c.value));
  }
}

TEST(TlvDecodeTest, EveryLengthAndIdForm) {
  // 16-bit id, 16-bit length: a 300-byte string in resource 0 ... and id 256 (unknown: opaque).
  const std::string s300(300, 'x');
  Bytes payload = concat({hex("D0 00 01 2C"), Bytes(s300.begin(), s300.end())});
  auto r = decodeAt(payload, Path::instance(3, 0));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<Record>{rec(Path::resource(3, 0, 0), Value::string(s300))}));

  payload = concat({hex("F8 01 00 01 11 70"), Bytes(70000, 0xab)});
  r = decodeAt(payload, Path::instance(3, 0));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(
      *r, (std::vector<Record>{rec(Path::resource(3, 0, 256), Value::opaque(Bytes(70000, 0xab)))}));

  // Bits 2-0 of the type byte are ignored when a length field is present.
  r = decodeAt(hex("CF 09 01 64"), Path::instance(3, 0));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<Record>{rec(Path::resource(3, 0, 9), Value::integer(100))}));
}

TEST(TlvDecodeTest, MalformedStructure) {
  const Path dev = Path::instance(3, 0);
  EXPECT_TRUE(failsWith(decodeAt(hex("C8"), dev), ErrorCode::kBadRequest,
                        "TLV: header at offset 0 is cut short by the end (1 bytes)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C1 09 64 E1 01"), dev), ErrorCode::kBadRequest,
                        "header at offset 3 is cut short"));
  EXPECT_TRUE(failsWith(decodeAt(hex("D0 00 01"), dev), ErrorCode::kBadRequest,
                        "header at offset 0 is cut short"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C8 00 14 41 42"), dev), ErrorCode::kBadRequest,
                        "TLV: length 20 at offset 0 runs past the end (5 bytes)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C7 00 41"), dev), ErrorCode::kBadRequest,
                        "length 7 at offset 0 runs past the end (3 bytes)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("08 00 03 C3 00 41 42 43"), Path::object(3)),
                        ErrorCode::kBadRequest,
                        "length 3 at offset 3 runs past its enclosing TLV (ends at offset 6)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("08 00 01 C1 C1 09 64"), Path::object(3)),
                        ErrorCode::kBadRequest,
                        "header at offset 3 is cut short by its enclosing TLV (ends at offset 4)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C1 09 64 C1 09 63"), dev), ErrorCode::kBadRequest,
                        "duplicate /3/0/9 at offset 3"));
  EXPECT_TRUE(failsWith(decodeAt(hex("86 06 41 00 01 41 00 05"), dev), ErrorCode::kBadRequest,
                        "duplicate /3/0/6/0 at offset 5"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C1 06 01 82 06 41 00 01"), dev), ErrorCode::kBadRequest,
                        "duplicate /3/0/6"));
  EXPECT_TRUE(failsWith(decodeAt(hex("03 00 C1 09 64 03 00 C1 09 64"), Path::object(3)),
                        ErrorCode::kBadRequest, "duplicate /3/0 at offset 5"));
  EXPECT_TRUE(failsWith(decodeAt(hex("E1 FF FF 01"), dev), ErrorCode::kBadRequest,
                        "id 65535 at offset 0 is reserved"));
  EXPECT_TRUE(failsWith(decodeAt(hex("03 00 41 00 01"), Path::object(3)), ErrorCode::kBadRequest,
                        "resource instance 0 at offset 2 cannot sit in object instance /3/0"));
  EXPECT_TRUE(failsWith(decodeAt(hex("03 00 01 00 01"), Path::object(3)), ErrorCode::kBadRequest,
                        "object instance 0 at offset 2 cannot sit in object instance /3/0"));
  EXPECT_TRUE(failsWith(decodeAt(hex("83 06 C1 00 01"), dev), ErrorCode::kBadRequest,
                        "resource 0 at offset 2 cannot sit in multiple resource /3/0/6"));
  EXPECT_TRUE(failsWith(decodeAt(hex("41 00 01"), dev), ErrorCode::kBadRequest,
                        "resource instance 0 at offset 0 cannot answer /3/0"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C1 09 64"), Path()), ErrorCode::kBadRequest,
                        "needs an object in the request path"));
}

TEST(TlvDecodeTest, MalformedValues) {
  const Path dev = Path::instance(3, 0);
  EXPECT_TRUE(failsWith(decodeAt(hex("C3 09 00 00 01"), dev), ErrorCode::kBadRequest,
                        "TLV: integer /3/0/9 at offset 0 has length 3 (1, 2, 4 or 8)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C0 09"), dev), ErrorCode::kBadRequest,
                        "integer /3/0/9 at offset 0 has length 0"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C5 0D 00 00 00 00 01"), dev), ErrorCode::kBadRequest,
                        "time /3/0/13 at offset 0 has length 5"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C3 0D 00 00 01"), Path::instance(1, 0)),
                        ErrorCode::kBadRequest, "unsigned /1/0/13 at offset 0 has length 3"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C1 06 02"), Path::instance(1, 0)), ErrorCode::kBadRequest,
                        "boolean /1/0/6 at offset 0 is 2 (0 or 1)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C2 06 00 01"), Path::instance(1, 0)), ErrorCode::kBadRequest,
                        "boolean /1/0/6 at offset 0 has length 2 (1)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C3 00 00 00 01"), Path::instance(6, 0)),
                        ErrorCode::kBadRequest, "float /6/0/0 at offset 0 has length 3 (4 or 8)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C3 0A 00 03 00"), Path::instance(1, 0)),
                        ErrorCode::kBadRequest, "objlnk /1/0/10 at offset 0 has length 3 (4)"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C2 00 C3 28"), dev), ErrorCode::kBadRequest,
                        "string /3/0/0 at offset 0 is not valid UTF-8"));
  EXPECT_TRUE(failsWith(decodeAt(hex("C3 00 ED A0 80"), dev), ErrorCode::kBadRequest,
                        "not valid UTF-8"));  // a surrogate
  EXPECT_TRUE(failsWith(decodeAt(hex("85 06 43 00 00 00 01"), dev), ErrorCode::kBadRequest,
                        "integer /3/0/6/0 at offset 2 has length 3"));
}

TEST(TlvDecodeTest, Limits) {
  DecodeLimits limits;
  limits.maxRecords = 3;
  EXPECT_TRUE(failsWith(decodeAt(kDeviceInstance, Path::instance(3, 0), limits),
                        ErrorCode::kTooLarge, "TLV: more than 3 records"));
  limits.maxRecords = 16;  // exactly the example's count
  EXPECT_TRUE(decodeAt(kDeviceInstance, Path::instance(3, 0), limits).ok());

  limits = {};
  limits.maxDepth = 2;
  EXPECT_TRUE(failsWith(decodeAt(kAccessControl, Path::object(2), limits), ErrorCode::kTooLarge,
                        "TLV: nesting deeper than 2 at offset 11"));
  limits.maxDepth = 3;
  EXPECT_TRUE(decodeAt(kAccessControl, Path::object(2), limits).ok());
  limits.maxDepth = 1;
  EXPECT_TRUE(failsWith(decodeAt(kServers, Path::object(1), limits), ErrorCode::kTooLarge,
                        "nesting deeper than 1 at offset 3"));
}

TEST(TlvEncodeTest, SpecPayloads) {
  auto device = tlv::encode(deviceRecords(), Path::instance(3, 0));
  ASSERT_TRUE(device.ok()) << device.error().message;
  EXPECT_EQ(*device, kDeviceInstance);

  auto deviceObject = tlv::encode(deviceRecords(), Path::object(3));
  ASSERT_TRUE(deviceObject.ok()) << deviceObject.error().message;
  EXPECT_EQ(*deviceObject, objectInstance(0, kDeviceInstance));

  auto acl = tlv::encode(kAccessControlRecords, Path::object(2));
  ASSERT_TRUE(acl.ok()) << acl.error().message;
  EXPECT_EQ(*acl, kAccessControl);

  auto servers = tlv::encode(kServerRecords, Path::object(1));
  ASSERT_TRUE(servers.ok()) << servers.error().message;
  EXPECT_EQ(*servers, kServers);

  const std::vector<Record> powerSources = {
      rec(Path::resourceInstance(3, 0, 6, 0), Value::integer(1)),
      rec(Path::resourceInstance(3, 0, 6, 1), Value::integer(5))};
  auto multiple = tlv::encode(powerSources, Path::resource(3, 0, 6));
  ASSERT_TRUE(multiple.ok()) << multiple.error().message;
  EXPECT_EQ(*multiple, hex("86 06 41 00 01 41 01 05"));

  auto single =
      tlv::encode({rec(Path::resource(3, 0, 9), Value::integer(100))}, Path::resource(3, 0, 9));
  ASSERT_TRUE(single.ok()) << single.error().message;
  EXPECT_EQ(*single, hex("C1 09 64"));

  auto instance = tlv::encode({powerSources[1]}, Path::resourceInstance(3, 0, 6, 1));
  ASSERT_TRUE(instance.ok()) << instance.error().message;
  EXPECT_EQ(*instance, hex("41 01 05"));

  auto none = tlv::encode({}, Path::instance(3, 0));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(TlvEncodeTest, GroupsScatteredRecordsInFirstSeenOrder) {
  const std::vector<Record> scattered = {
      rec(Path::resource(1, 1, 0), Value::integer(2)),
      rec(Path::resource(1, 0, 0), Value::integer(1)),
      rec(Path::resource(1, 1, 6), Value::boolean(false)),
  };
  auto out = tlv::encode(scattered, Path::object(1));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, hex("06 01 C1 00 02 C1 06 00  03 00 C1 00 01"));
}

TEST(TlvEncodeTest, SmallestRepresentation) {
  struct Case {
    Value value;
    const char* bytes;  // the value part
  };
  const std::vector<Case> cases = {
      {Value::integer(0), "00"},
      {Value::integer(127), "7F"},
      {Value::integer(128), "00 80"},
      {Value::integer(-128), "80"},
      {Value::integer(-129), "FF 7F"},
      {Value::integer(32767), "7F FF"},
      {Value::integer(32768), "00 00 80 00"},
      {Value::integer(-2147483648LL), "80 00 00 00"},
      {Value::integer(2147483648LL), "00 00 00 00 80 00 00 00"},
      {Value::integer(std::numeric_limits<std::int64_t>::min()), "80 00 00 00 00 00 00 00"},
      {Value::unsignedInteger(127), "7F"},
      {Value::unsignedInteger(200), "00 C8"},  // top bit clear: signed readers agree
      {Value::unsignedInteger(65535), "00 00 FF FF"},
      {Value::unsignedInteger(0x8000000000000000ULL), "80 00 00 00 00 00 00 00"},
      {Value::time(1367491215), "51 82 42 8F"},
      {Value::time(-1), "FF"},
      {Value::floating(1.5), "3F C0 00 00"},
      {Value::floating(0.1), "3F B9 99 99 99 99 99 9A"},
      {Value::floating(std::numeric_limits<double>::infinity()), "7F 80 00 00"},
      {Value::boolean(true), "01"},
      {Value::boolean(false), "00"},
      {Value::objlnk(3, 1), "00 03 00 01"},
      {Value::opaque({}), ""},
      {Value::string("U"), "55"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(toJson({rec(Path::resource(30000, 0, 1), c.value)}));
    auto out =
        tlv::encode({rec(Path::resource(30000, 0, 1), c.value)}, Path::resource(30000, 0, 1));
    ASSERT_TRUE(out.ok()) << out.error().message;
    const Bytes value = hex(c.bytes);
    const Bytes header = value.size() <= 7
                             ? Bytes{static_cast<std::uint8_t>(0xC0 | value.size()), 0x01}
                             : Bytes{0xC8, 0x01, static_cast<std::uint8_t>(value.size())};
    EXPECT_EQ(*out, concat({header, value}));
  }
  // NaN is never exact in 4 bytes by comparison: it goes out as 8.
  auto nan = tlv::encode({rec(Path::resource(6, 0, 0), Value::floating(std::nan("")))},
                         Path::resource(6, 0, 0));
  ASSERT_TRUE(nan.ok());
  EXPECT_EQ(nan->size(), 2u + 1u + 8u);
}

TEST(TlvEncodeTest, HeaderForms) {
  auto at = Path::resource(30000, 0, 300);
  auto header = [&](std::size_t n) {
    auto out = tlv::encode({rec(at, Value::opaque(Bytes(n, 0x5a)))}, at);
    EXPECT_TRUE(out.ok());
    return Bytes(out->begin(), out->end() - static_cast<std::ptrdiff_t>(n));
  };
  EXPECT_EQ(header(7), hex("E7 01 2C"));
  EXPECT_EQ(header(8), hex("E8 01 2C 08"));
  EXPECT_EQ(header(255), hex("E8 01 2C FF"));
  EXPECT_EQ(header(256), hex("F0 01 2C 01 00"));
  EXPECT_EQ(header(65535), hex("F0 01 2C FF FF"));
  EXPECT_EQ(header(65536), hex("F8 01 2C 01 00 00"));

  auto huge = tlv::encode({rec(at, Value::opaque(Bytes(0x1000000, 0)))}, at);
  EXPECT_TRUE(failsWith(huge, ErrorCode::kTooLarge, "TLV: /30000/0/300 is 16777216 bytes"));
}

TEST(TlvEncodeTest, RefusesBadRecordSets) {
  const Path dev = Path::instance(3, 0);
  EXPECT_TRUE(failsWith(tlv::encode({rec(Path::resource(3, 0, 9), Value::integer(1))}, Path()),
                        ErrorCode::kBadRequest, "cannot encode for /"));
  EXPECT_TRUE(failsWith(tlv::encode({rec(Path::resource(3, 1, 9), Value::integer(1))}, dev),
                        ErrorCode::kBadRequest, "record /3/1/9 is outside /3/0"));
  EXPECT_TRUE(failsWith(tlv::encode({rec(Path::instance(3, 0), Value::integer(1))}, dev),
                        ErrorCode::kBadRequest, "record /3/0 is not a resource"));
  EXPECT_TRUE(failsWith(tlv::encode({rec(Path::resource(3, 0, 9), Value::integer(1)),
                                     rec(Path::resource(3, 0, 9), Value::integer(2))},
                                    dev),
                        ErrorCode::kBadRequest, "record /3/0/9 repeats or conflicts with /3/0/9"));
  EXPECT_TRUE(failsWith(tlv::encode({rec(Path::resourceInstance(3, 0, 6, 0), Value::integer(1)),
                                     rec(Path::resource(3, 0, 6), Value::integer(2))},
                                    dev),
                        ErrorCode::kBadRequest,
                        "record /3/0/6/0 repeats or conflicts with /3/0/6"));
  EXPECT_TRUE(failsWith(tlv::encode({rec(Path::resource(3, 0, 0), Value::string("\xff"))}, dev),
                        ErrorCode::kBadRequest, "string for /3/0/0 is not UTF-8"));
}

// An object that has a resource of every type, single and multiple, for round trips.
class EveryTypeModel final : public ObjectModel {
 public:
  static constexpr std::uint16_t kObject = 30000;
  static constexpr DataType kTypes[] = {
      DataType::kString, DataType::kInteger, DataType::kUnsignedInteger,
      DataType::kFloat,  DataType::kBoolean, DataType::kOpaque,
      DataType::kTime,   DataType::kObjlnk};
  std::optional<ResourceInfo> resource(std::uint16_t objectId,
                                       std::uint16_t resourceId) const override {
    if (objectId != kObject || resourceId >= 16)
      return coreObjects().resource(objectId, resourceId);
    return ResourceInfo{kTypes[resourceId % 8], resourceId >= 8, false};
  }
};

Value randomValue(DataType type, std::mt19937& rng) {
  std::uniform_int_distribution<int> small(0, 40);
  auto any64 = [&] {
    const int bits = std::uniform_int_distribution<int>(0, 64)(rng);
    std::uint64_t v = (std::uint64_t{rng()} << 32) | rng();
    return bits == 64 ? v : v & ((std::uint64_t{1} << bits) - 1);
  };
  switch (type) {
    case DataType::kString:
    case DataType::kCoreLink: {
      std::string s;
      const int n = small(rng);
      for (int k = 0; k < n; ++k)
        s += static_cast<char>(std::uniform_int_distribution<int>(0x20, 0x7e)(rng));
      if (n % 3 == 0) s += "\xc3\xa9\xe2\x82\xac";
      return Value::string(s);
    }
    case DataType::kInteger: {
      const auto v = static_cast<std::int64_t>(any64());
      return Value::integer(rng() % 2 ? v : ~v);
    }
    case DataType::kUnsignedInteger:
      return Value::unsignedInteger(any64());
    case DataType::kFloat:
      switch (rng() % 3) {
        case 0:
          return Value::floating(
              static_cast<float>(std::uniform_real_distribution<double>(-1e6, 1e6)(rng)));
        case 1:
          return Value::floating(std::uniform_real_distribution<double>(-1e300, 1e300)(rng));
        default:
          return Value::floating(static_cast<double>(static_cast<std::int32_t>(rng())));
      }
    case DataType::kBoolean:
      return Value::boolean(rng() % 2 == 0);
    case DataType::kOpaque: {
      Opaque o(static_cast<std::size_t>(small(rng) * (rng() % 8 == 0 ? 10 : 1)));
      for (auto& b : o) b = static_cast<std::uint8_t>(rng());
      return Value::opaque(o);
    }
    case DataType::kTime:
      return Value::time(static_cast<std::int64_t>(any64()));
    case DataType::kObjlnk:
      return Value::objlnk(static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()));
  }
  return Value();
}

TEST(TlvRoundTripTest, SeededRandomRecordSets) {
  const EveryTypeModel model;
  std::mt19937 rng(20240611);
  for (int iteration = 0; iteration < 400; ++iteration) {
    // Some instances, each with some resources; multiple resources get some instances.
    std::vector<Record> records;
    std::map<std::uint16_t, bool> instances;
    const int instanceCount = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < instanceCount; ++i) {
      const auto instance = static_cast<std::uint16_t>(i == 0 ? 0 : rng() % 1000 + 1);
      if (!instances.emplace(instance, true).second) continue;
      for (std::uint16_t r = 0; r < 16; ++r) {
        if (rng() % 2) continue;
        const DataType type = EveryTypeModel::kTypes[r % 8];
        if (r < 8) {
          records.push_back(
              rec(Path::resource(EveryTypeModel::kObject, instance, r), randomValue(type, rng)));
          continue;
        }
        const int n = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < n; ++k) {
          const auto ri = static_cast<std::uint16_t>(k * 300 + rng() % 300);
          records.push_back(rec(Path::resourceInstance(EveryTypeModel::kObject, instance, r, ri),
                                randomValue(type, rng)));
        }
      }
    }
    const Path at = Path::object(EveryTypeModel::kObject);
    auto encoded = tlv::encode(records, at);
    ASSERT_TRUE(encoded.ok()) << encoded.error().message;
    auto decoded = tlv::decode(*encoded, at, model, {});
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    ASSERT_EQ(*decoded, records) << "iteration " << iteration;

    // The first instance alone, addressed by its instance path.
    std::vector<Record> first;
    for (const auto& r : records) {
      if (r.path.instanceId() == 0) first.push_back(r);
    }
    const Path instancePath = Path::instance(EveryTypeModel::kObject, 0);
    auto one = tlv::encode(first, instancePath);
    ASSERT_TRUE(one.ok()) << one.error().message;
    auto back = tlv::decode(*one, instancePath, model, {});
    ASSERT_TRUE(back.ok()) << back.error().message;
    ASSERT_EQ(*back, first) << "iteration " << iteration;
  }
}

bool hasNaN(const std::vector<Record>& records) {
  for (const auto& r : records) {
    if (const double* d = r.value.get<double>(); d != nullptr && std::isnan(*d)) return true;
  }
  return false;
}

TEST(TlvRobustnessTest, SeededCorruptionNeverCrashes) {
  const EveryTypeModel model;
  struct Seed {
    Bytes payload;
    Path at;
  };
  const std::vector<Seed> seeds = {
      {kDeviceInstance, Path::instance(3, 0)},
      {objectInstance(0, kDeviceInstance), Path::object(3)},
      {kAccessControl, Path::object(2)},
      {kServers, Path::object(1)},
      {hex("86 06 41 00 01 41 01 05"), Path::resource(3, 0, 6)},
      {hex("C4 00 3F C0 00 00 C4 0A 00 03 00 01 C1 06 01"), Path::instance(6, 0)},
  };
  const std::vector<Path> alsoTry = {Path::object(3), Path::instance(1, 0), Path::resource(3, 0, 6),
                                     Path::resourceInstance(2, 0, 2, 127), Path()};
  std::mt19937 rng(7);
  int decodedOk = 0;
  int failed = 0;
  for (int iteration = 0; iteration < 6000; ++iteration) {
    const Seed& seed = seeds[rng() % seeds.size()];
    Bytes p = seed.payload;
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      if (p.empty()) break;
      const std::size_t at = rng() % p.size();
      switch (rng() % 6) {
        case 0:
          p[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          p[at] = static_cast<std::uint8_t>(rng());
          break;
        case 2:
          p.resize(at);
          break;
        case 3:
          p.insert(p.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng()));
          break;
        case 4:
          p.erase(p.begin() + static_cast<std::ptrdiff_t>(at));
          break;
        default:
          p[at] = static_cast<std::uint8_t>((p[at] & 0xc7) | ((rng() % 4) << 3));  // length type
          break;
      }
    }
    const Path& at = rng() % 4 == 0 ? alsoTry[rng() % alsoTry.size()] : seed.at;
    DecodeLimits limits;
    limits.maxRecords = 1 + rng() % 20;
    limits.maxDepth = 1 + rng() % 3;
    auto r = tlv::decode(p, at, model, limits);
    if (!r.ok()) {
      ++failed;
      const ErrorCode code = r.error().code;
      ASSERT_TRUE(code == ErrorCode::kBadRequest || code == ErrorCode::kTooLarge)
          << r.error().message;
      ASSERT_TRUE(failsWith(r, code, "TLV: "));
      continue;
    }
    ++decodedOk;
    ASSERT_LE(r->size(), limits.maxRecords);
    for (const auto& record : *r) ASSERT_TRUE(at.contains(record.path));
    // Whatever decodes re-encodes and decodes to the same records.
    if (at.isRoot() || hasNaN(*r)) continue;
    auto again = tlv::encode(*r, at);
    ASSERT_TRUE(again.ok()) << again.error().message;
    auto back = tlv::decode(*again, at, model, {});
    ASSERT_TRUE(back.ok()) << back.error().message;
    ASSERT_EQ(*back, *r);
  }
  // The loop exercises both outcomes.
  EXPECT_GT(decodedOk, 100);
  EXPECT_GT(failed, 1000);
}

}  // namespace
}  // namespace lwgate::lwm2m
