#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gateway/lwm2m/cbor.h"
#include "gateway/lwm2m/codec_senml_cbor.h"
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
  return senml_cbor::decode(payload, path(requestPath), kModel, limits);
}

std::vector<Record> decodeOk(const Bytes& payload, std::string_view requestPath = "/") {
  auto result = decode(payload, requestPath);
  EXPECT_TRUE(result.ok()) << toHex(payload) << "\n" << result.error().message;
  return result.ok() ? *result : std::vector<Record>{};
}

Bytes encodeOk(const std::vector<Record>& records, std::string_view requestPath = "/") {
  auto result = senml_cbor::encode(records, path(requestPath));
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? *result : Bytes{};
}

Record rec(std::string_view p, Value v, std::optional<double> t = std::nullopt) {
  return Record{path(p), std::move(v), t};
}

// The first decoded value, or a string saying why there is none (readable in a failed EXPECT).
Value first(const Result<std::vector<Record>>& result) {
  if (!result.ok()) return Value::string("failed: " + result.error().message);
  if (result->empty()) return Value::string("no records");
  return result->front().value;
}

// Equal, except what SenML cannot carry through an encode: NaN is never equal to itself, and a
// tag-1 time of a resource the model does not know comes back as a plain integer.
bool sameAfterRoundTrip(const Record& a, const Record& b) {
  if (a.path != b.path || a.timestamp != b.timestamp) return false;
  if (const auto* d = a.value.get<double>(); d && std::isnan(*d)) {
    const auto* e = b.value.get<double>();
    return e && std::isnan(*e);
  }
  if (a.value.get<Time>() && !kModel.resource(a.path.objectId(), a.path.resourceId())) {
    return true;
  }
  return a.value == b.value;
}

// Builds SenML CBOR records field by field; labels per RFC 8428 Table 6.
class Pack {
 public:
  explicit Pack(std::size_t records) { w_.startArray(records); }
  Pack& record(std::size_t fields) {
    w_.startMap(fields);
    return *this;
  }
  Pack& text(std::int64_t label, std::string_view s) {
    w_.writeInt(label);
    w_.writeText(s);
    return *this;
  }
  Pack& integer(std::int64_t label, std::int64_t v) {
    w_.writeInt(label);
    w_.writeInt(v);
    return *this;
  }
  Pack& floating(std::int64_t label, double v) {
    w_.writeInt(label);
    w_.writeFloat(v);
    return *this;
  }
  cbor::Writer& raw() { return w_; }
  Bytes bytes() const { return w_.bytes(); }

 private:
  cbor::Writer w_;
};

constexpr std::int64_t kBn = -2, kBt = -3, kN = 0, kV = 2, kVs = 3, kVb = 4, kT = 6, kVd = 8;

// TS 1.1 Transport 7.4.6 / 7.4.5 example: Read /3/0 of the Device object.
Bytes deviceExample() {
  Pack p(16);
  p.record(3).text(kBn, "/3/0/").text(kN, "0").text(kVs, "Open Mobile Alliance");
  p.record(2).text(kN, "1").text(kVs, "Lightweight M2M Client");
  p.record(2).text(kN, "2").text(kVs, "345000123");
  p.record(2).text(kN, "3").text(kVs, "1.0");
  p.record(2).text(kN, "6/0").integer(kV, 1);
  p.record(2).text(kN, "6/1").integer(kV, 5);
  p.record(2).text(kN, "7/0").integer(kV, 3800);
  p.record(2).text(kN, "7/1").integer(kV, 5000);
  p.record(2).text(kN, "8/0").integer(kV, 125);
  p.record(2).text(kN, "8/1").integer(kV, 900);
  p.record(2).text(kN, "9").integer(kV, 100);
  p.record(2).text(kN, "10").integer(kV, 15);
  p.record(2).text(kN, "11/0").integer(kV, 0);
  p.record(2).text(kN, "13").integer(kV, 1367491215);
  p.record(2).text(kN, "14").text(kVs, "+02:00");
  p.record(2).text(kN, "16").text(kVs, "U");
  return p.bytes();
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

TEST(SenmlCbor, DecodesTheDeviceObjectExample) {
  const auto records = decodeOk(deviceExample(), "/3/0");
  EXPECT_EQ(records, deviceRecords()) << toJson(records);
}

TEST(SenmlCbor, EncodesTheDeviceObjectExampleByteForByte) {
  // Same bn/n split as the spec example: the deepest common path, once.
  EXPECT_EQ(toHex(encodeOk(deviceRecords(), "/3/0")), toHex(deviceExample()));
}

TEST(SenmlCbor, EncodesOneResourceInTheShortestForm) {
  // [{-2: "/3/0/", 0: "0", 3: "Open Mobile Alliance"}]
  EXPECT_EQ(toHex(encodeOk({rec("/3/0/0", Value::string("Open Mobile Alliance"))}, "/3/0/0")),
            "81a3216"
            "52f332f302f0061300374"
            "4f70656e204d6f62696c6520416c6c69616e6365");
  // Records in different objects: the base is the root, written "/".
  EXPECT_EQ(toHex(encodeOk({rec("/3/0/9", Value::integer(100)),
                            rec("/4/0/2", Value::unsignedInteger(70000))})),
            toHex(hex("82"
                      "a3 21 612f 00 65332f302f39 02 1864"
                      "a2 00 65342f302f32 02 1a00011170")));
  EXPECT_EQ(toHex(encodeOk({})), "80");
}

TEST(SenmlCbor, RoundTripsEveryDataType) {
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
  };
  const Bytes bytes = encodeOk(records, "/9000/0");
  EXPECT_EQ(decodeOk(bytes, "/9000/0"), records);
  // The smallest encodings: -1.1 needs a double, 7 one byte, true one byte.
  EXPECT_EQ(decodeOk(encodeOk({rec("/9000/0/3", Value::floating(0.5))}))[0].value,
            Value::floating(0.5));
  // 81 a3 21 68"/9000/0/" 00 61"3" 02 f93800
  EXPECT_EQ(encodeOk({rec("/9000/0/3", Value::floating(0.5))}).size(), 19u);
}

TEST(SenmlCbor, UnknownResourcesKeepTheCborKind) {
  Pack p(4);
  p.record(3).text(kBn, "/10000/0/").text(kN, "0").integer(kV, 5);
  p.record(2).text(kN, "1").integer(kV, -5);
  p.record(2).text(kN, "2").floating(kV, 5.0);
  p.record(2).text(kN, "3").raw().writeInt(kV);
  p.raw().writeTag(1);
  p.raw().writeInt(1700000000);
  EXPECT_EQ(decodeOk(p.bytes()), (std::vector<Record>{rec("/10000/0/0", Value::unsignedInteger(5)),
                                                      rec("/10000/0/1", Value::integer(-5)),
                                                      rec("/10000/0/2", Value::floating(5.0)),
                                                      rec("/10000/0/3", Value::time(1700000000))}));
}

TEST(SenmlCbor, TheModelTypesNumbers) {
  auto one = [](std::string_view name, auto write) {
    Pack p(1);
    p.record(2).text(kN, name);
    p.raw().writeInt(kV);
    write(p.raw());
    return decode(p.bytes());
  };
  auto uint = [](std::uint64_t v) { return [v](cbor::Writer& w) { w.writeUnsigned(v); }; };
  auto flt = [](double v) { return [v](cbor::Writer& w) { w.writeFloat(v); }; };
  auto neg = [](std::int64_t v) { return [v](cbor::Writer& w) { w.writeInt(v); }; };

  EXPECT_EQ(first(one("/9000/0/1", uint(5))), Value::integer(5));
  EXPECT_EQ(first(one("/9000/0/1", flt(3.0))), Value::integer(3));
  EXPECT_TRUE(failsWith(one("/9000/0/1", uint(1ull << 63)), ErrorCode::kBadRequest,
                        "record 0: /9000/0/1: integer expected"));
  EXPECT_TRUE(failsWith(one("/9000/0/1", flt(2.5)), ErrorCode::kBadRequest, "non-integral"));
  EXPECT_EQ(first(one("/9000/0/2", uint(1ull << 63))), Value::unsignedInteger(1ull << 63));
  EXPECT_TRUE(failsWith(one("/9000/0/2", neg(-1)), ErrorCode::kBadRequest, "unsigned integer"));
  EXPECT_EQ(first(one("/9000/0/3", neg(-3))), Value::floating(-3.0));
  EXPECT_EQ(first(one("/9000/0/6", flt(1e9))), Value::time(1000000000));
  EXPECT_TRUE(failsWith(one("/9000/0/6", flt(1.5)), ErrorCode::kBadRequest, "time expected"));
  EXPECT_TRUE(failsWith(one("/9000/0/0", uint(1)), ErrorCode::kBadRequest,
                        "string expected, got a number"));
  // Decimal fraction (RFC 8428 section 6): 4([-1, 15]) = 1.5
  EXPECT_EQ(first(one("/9000/0/3",
                      [](cbor::Writer& w) {
                        w.writeTag(4);
                        w.startArray(2);
                        w.writeInt(-1);
                        w.writeInt(15);
                      })),
            Value::floating(1.5));
}

TEST(SenmlCbor, ValueLabelsMustFitTheModel) {
  auto one = [](std::string_view name, std::int64_t label, auto write) {
    Pack p(1);
    p.record(2).text(kN, name);
    p.raw().writeInt(label);
    write(p.raw());
    return decode(p.bytes());
  };
  auto text = [](std::string s) { return [s](cbor::Writer& w) { w.writeText(s); }; };
  auto boolean = [](cbor::Writer& w) { w.writeBool(false); };
  auto bytes = [](cbor::Writer& w) { w.writeBytes(Bytes{1, 2}); };
  auto vlo = [](std::string s) {
    return [s](cbor::Writer& w) {
      w.writeText("vlo");
      w.writeText(s);
    };
  };
  auto withVlo = [](std::string_view name, auto write) {
    Pack p(1);
    p.record(2).text(kN, name);
    write(p.raw());
    return decode(p.bytes());
  };

  EXPECT_EQ(first(one("/9000/0/8", kVs, text("</1>"))), Value::string("</1>"));
  EXPECT_EQ(first(one("/10000/0/0", kVs, text("x"))), Value::string("x"));
  EXPECT_TRUE(failsWith(one("/9000/0/1", kVs, text("5")), ErrorCode::kBadRequest,
                        "vs does not fit /9000/0/1 (integer)"));
  EXPECT_EQ(first(one("/9000/0/4", kVb, boolean)), Value::boolean(false));
  EXPECT_TRUE(failsWith(one("/9000/0/0", kVb, boolean), ErrorCode::kBadRequest, "vb does not"));
  EXPECT_TRUE(failsWith(one("/9000/0/4", kVb, text("true")), ErrorCode::kBadRequest,
                        "vb is not a boolean"));
  EXPECT_EQ(first(one("/9000/0/5", kVd, bytes)), Value::opaque({1, 2}));
  EXPECT_TRUE(failsWith(one("/9000/0/5", kVd, text("AQI")), ErrorCode::kBadRequest,
                        "vd is not a byte string"));
  EXPECT_TRUE(failsWith(one("/9000/0/0", kVd, bytes), ErrorCode::kBadRequest, "vd does not"));
  EXPECT_TRUE(
      failsWith(one("/9000/0/1", kV, text("5")), ErrorCode::kBadRequest, "v is not a number"));
  EXPECT_TRUE(failsWith(one("/9000/0/0", kVs, bytes), ErrorCode::kBadRequest, "vs is not text"));
  EXPECT_EQ(first(withVlo("/9000/0/7", vlo("3:0"))), Value::objlnk(3, 0));
  EXPECT_EQ(first(withVlo("/10000/0/7", vlo("3:0"))), Value::objlnk(3, 0));
  EXPECT_TRUE(failsWith(withVlo("/9000/0/7", vlo("3-0")), ErrorCode::kBadRequest,
                        "vlo \"3-0\" is not an objlnk"));
  EXPECT_TRUE(
      failsWith(withVlo("/9000/0/0", vlo("3:0")), ErrorCode::kBadRequest, "vlo does not fit"));
  EXPECT_TRUE(failsWith(one("/9000/0/0", kVs, [](cbor::Writer& w) { w.writeNull(); }),
                        ErrorCode::kBadRequest, "vs is not text"));
}

TEST(SenmlCbor, BaseNameAndBaseTimeCarryOver) {
  Pack p(5);
  p.record(4).text(kBn, "/3/0/").integer(kBt, 1700000000).text(kN, "9").integer(kV, 1);
  p.record(3).text(kN, "9").integer(kV, 2).integer(kT, -60);
  p.record(4).text(kBn, "/9000/1/").integer(kBt, -100).text(kN, "1").integer(kV, 3);
  p.record(3).text(kN, "1").integer(kV, 4).floating(kT, 0.5);
  p.record(2).text(kBn, "/9000/1/1").integer(kV, 5);  // bn alone names the record
  EXPECT_EQ(decodeOk(p.bytes()), (std::vector<Record>{
                                     rec("/3/0/9", Value::integer(1), 1700000000),
                                     rec("/3/0/9", Value::integer(2), 1699999940),
                                     rec("/9000/1/1", Value::integer(3), -100),
                                     rec("/9000/1/1", Value::integer(4), -99.5),
                                     rec("/9000/1/1", Value::integer(5), -100),
                                 }));
  // No bt and no t: no timestamp. t alone: relative to now, kept as is.
  Pack q(2);
  q.record(2).text(kN, "/3/0/9").integer(kV, 1);
  q.record(3).text(kN, "/3/0/9").integer(kV, 2).integer(kT, -5);
  EXPECT_EQ(decodeOk(q.bytes()), (std::vector<Record>{rec("/3/0/9", Value::integer(1)),
                                                      rec("/3/0/9", Value::integer(2), -5)}));
}

TEST(SenmlCbor, SkipsLabelsAnLwm2mValueDoesNotNeed) {
  Pack p(1);
  p.record(9).text(kN, "/3/0/9").integer(kV, 1);
  p.text(1, "%").text(-4, "V").integer(7, 10).integer(-1, 10);  // u, bu, ut, bver
  p.raw().writeInt(99);  // unknown integer label with a nested value
  p.raw().startArray(2);
  p.raw().writeText("x");
  p.raw().startMap(0);
  p.raw().writeText("foo");  // unknown text label
  p.raw().writeNull();
  p.raw().writeInt(-100);  // unknown negative label
  p.raw().writeTag(1);
  p.raw().writeInt(0);
  EXPECT_EQ(decodeOk(p.bytes()), (std::vector<Record>{rec("/3/0/9", Value::integer(1))}));
}

TEST(SenmlCbor, RefusesMalformedPacks) {
  struct Case {
    Bytes payload;
    const char* needle;
  };
  auto pack = [](auto build) {
    Pack p(1);
    build(p);
    return p.bytes();
  };
  const Case cases[] = {
      {hex("a0"), "must be an array of records"},
      {hex("8101"), "record 0: is not a map"},
      {hex("81a1f400"), "record 0: label at byte 2 is not an integer or text"},
      {pack([](Pack& p) { p.record(2).text(kN, "/3/0/9").text(kN, "/3/0/9"); }),
       "record 0: n appears twice"},
      {pack([](Pack& p) { p.record(3).text(kN, "/3/0/9").integer(kV, 1).text(kVs, "x"); }),
       "record 0: has both v and vs"},
      {pack([](Pack& p) { p.record(1).text(kN, "/3/0/9"); }), "record 0: /3/0/9 has no value"},
      {pack([](Pack& p) { p.record(1).integer(kV, 1); }), "record 0: name path \"\""},
      {pack([](Pack& p) { p.record(2).text(kN, "3/0/9").integer(kV, 1); }), "must start with '/'"},
      {pack([](Pack& p) { p.record(2).text(kN, "/3/0").integer(kV, 1); }),
       "record 0: name \"/3/0\" is not a resource path"},
      {pack([](Pack& p) { p.record(2).text(kN, "/3/0/9/0/1").integer(kV, 1); }), "more than 4 ids"},
      {pack([](Pack& p) { p.record(2).integer(kN, 9).integer(kV, 1); }), "record 0: n is not text"},
      {pack([](Pack& p) { p.record(3).text(kBn, "/3/0/").integer(kBn, 1).integer(kV, 1); }),
       "bn appears twice"},
      {pack([](Pack& p) { p.record(3).integer(kBn, 1).text(kN, "9").integer(kV, 1); }),
       "bn is not text"},
      {pack([](Pack& p) { p.record(3).text(kN, "/3/0/9").integer(kV, 1).text(kT, "now"); }),
       "t is not a number"},
      {pack([](Pack& p) { p.record(3).text(kN, "/3/0/9").integer(kV, 1).integer(-5, 1); }),
       "unsupported label bv"},
      {pack([](Pack& p) { p.record(3).text(kN, "/3/0/9").integer(kV, 1).integer(-6, 1); }),
       "unsupported label bs"},
      {pack([](Pack& p) { p.record(3).text(kN, "/3/0/9").integer(kV, 1).integer(5, 1); }),
       "unsupported label s"},
      {pack([](Pack& p) {
         p.record(3).text(kN, "/3/0/9").integer(kV, 1);
         p.raw().writeText("xyz_");
         p.raw().writeText("x");
       }),
       "unsupported label \"xyz_\""},
      {pack([](Pack& p) { p.record(3).text(kN, "/3/0/9").integer(kV, 1).integer(-1, 11); }),
       "SenML version 11 is not supported"},
      {pack([](Pack& p) { p.record(3).text(kN, "/3/0/9").integer(kV, 1).integer(-1, -1); }),
       "bver is not an unsigned integer"},
      {pack([](Pack& p) {
         p.record(3).text(kN, "/3/0/9").integer(kV, 1);
         p.raw().writeInt(kT);
         p.raw().writeFloat(std::numeric_limits<double>::infinity());
       }),
       "t is not finite"},
      {pack([](Pack& p) { p.record(2).text(kN, "/3/0/6").integer(kV, 1); }),
       "/3/0/6 is multiple-instance: needs an instance id"},
      {pack([](Pack& p) { p.record(2).text(kN, "/3/0/9/0").integer(kV, 1); }),
       "/3/0/9 is single-instance: no instance id"},
      {pack([](Pack& p) {
         p.record(2).text(kN, "/3/0/9");
         p.raw().writeInt(kV);
         p.raw().startArray(0);
       }),
       "found an array"},
      {pack([](Pack& p) {
         p.record(2).text(kN, "/3/0/9");
         p.raw().writeInt(kV);
         p.raw().writeTag(2);
         p.raw().writeBytes(Bytes{1});
       }),
       "bignum"},
      // Truncated, trailing bytes, and a definite array that claims too many records.
      {[] {
         Bytes b = deviceExample();
         b.pop_back();
         return b;
       }(),
       "CBOR: text string of 1 bytes, 0 left"},
      {[] {
         Bytes b = deviceExample();
         b.push_back(0);
         return b;
       }(),
       "CBOR: 1 bytes after the item"},
      {hex("9f a1 00 66 2f332f302f39 ff"), "has no value"},
  };
  for (const auto& c : cases) {
    auto result = decode(c.payload);
    EXPECT_TRUE(failsWith(result, ErrorCode::kBadRequest, c.needle)) << toHex(c.payload);
  }
}

TEST(SenmlCbor, NamesMustLieInsideTheRequestPath) {
  EXPECT_TRUE(failsWith(decode(deviceExample(), "/3/1"), ErrorCode::kBadRequest,
                        "record 0: /3/0/0 is outside the request path /3/1"));
  EXPECT_TRUE(failsWith(decode(deviceExample(), "/3/0/0"), ErrorCode::kBadRequest,
                        "record 1: /3/0/1 is outside"));
  EXPECT_EQ(decodeOk(deviceExample(), "/3").size(), 16u);
}

TEST(SenmlCbor, IndefiniteLengthsAndDecimalTimesAreFine) {
  // [_ {_ 0: "/3/0/9", 2: 5, 6: 4([-1, 15])}]
  const Bytes payload = hex("9f bf 00 66 2f332f302f39 02 05 06 c4 82 20 0f ff ff");
  EXPECT_EQ(decodeOk(payload), (std::vector<Record>{rec("/3/0/9", Value::integer(5), 1.5)}));
}

TEST(SenmlCbor, LimitsAreEnforced) {
  EXPECT_TRUE(failsWith(decode(deviceExample(), "/", DecodeLimits{.maxRecords = 15}),
                        ErrorCode::kTooLarge, "more than the limit of 15 records"));
  EXPECT_TRUE(decode(deviceExample(), "/", DecodeLimits{.maxRecords = 16}).ok());
  EXPECT_TRUE(failsWith(decode(deviceExample(), "/", DecodeLimits{.maxDepth = 1}),
                        ErrorCode::kBadRequest, "nesting deeper than 1"));
  EXPECT_TRUE(decode(deviceExample(), "/", DecodeLimits{.maxDepth = 2}).ok());
}

TEST(SenmlCbor, EncodeChecksTheRecords) {
  EXPECT_TRUE(failsWith(senml_cbor::encode({rec("/3/0", Value::integer(1))}, path("/")),
                        ErrorCode::kBadRequest, "record 0: /3/0 is not a resource"));
  EXPECT_TRUE(failsWith(senml_cbor::encode({rec("/3/0/1", Value::integer(1))}, path("/4")),
                        ErrorCode::kBadRequest, "outside the request path /4"));
  EXPECT_TRUE(failsWith(senml_cbor::encode({rec("/3/0/1", Value::string("\xff"))}, path("/")),
                        ErrorCode::kBadRequest, "not UTF-8"));
  EXPECT_TRUE(
      failsWith(senml_cbor::encode({rec("/3/0/1", Value::integer(1), std::nan(""))}, path("/")),
                ErrorCode::kBadRequest, "timestamp is not finite"));
}

TEST(SenmlCbor, EncodesTimestampsAsIntegersWhenTheyAreWhole) {
  const Bytes whole = encodeOk({rec("/3/0/9", Value::integer(1), 1700000000)});
  const Bytes half = encodeOk({rec("/3/0/9", Value::integer(1), -0.5)});
  EXPECT_NE(toHex(whole).find("061a6553f100"), std::string::npos) << toHex(whole);
  EXPECT_NE(toHex(half).find("06f9b800"), std::string::npos) << toHex(half);
  EXPECT_EQ(decodeOk(whole)[0].timestamp, 1700000000);
  EXPECT_EQ(decodeOk(half)[0].timestamp, -0.5);
}

TEST(SenmlCbor, SeededMutationsDecodeOrFailCleanly) {
  std::vector<Bytes> seeds = {
      deviceExample(),
      encodeOk({rec("/9000/0/0", Value::string("x")), rec("/9000/0/3", Value::floating(2.5), 12.25),
                rec("/9000/0/5", Value::opaque({1, 2, 3})), rec("/9000/0/7", Value::objlnk(1, 2)),
                rec("/9000/0/9/3", Value::integer(-9))})};
  std::mt19937 rng(8428);
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
      // Whatever decodes, encodes; and reads back the same.
      auto again = senml_cbor::encode(*result, path("/"));
      ASSERT_TRUE(again.ok()) << toHex(bytes) << ": " << again.error().message;
      auto back = decode(*again);
      ASSERT_TRUE(back.ok()) << toHex(*again);
      ASSERT_EQ(back->size(), result->size());
      for (std::size_t k = 0; k < back->size(); ++k) {
        EXPECT_TRUE(sameAfterRoundTrip((*result)[k], (*back)[k])) << toHex(bytes) << " #" << k;
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
