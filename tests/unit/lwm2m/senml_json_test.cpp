#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/lwm2m/codec_senml_json.h"
#include "tests/unit/lwm2m/error_assertions.h"
#include "tests/unit/lwm2m/json_codec_support.h"

namespace lwgate::lwm2m {
namespace {

using testing::failsWith;

using testing::json_codec::bytes;
using testing::json_codec::kModel;
using testing::json_codec::path;

Record rec(std::string_view p, Value v, std::optional<double> t = std::nullopt) {
  return Record{path(p), std::move(v), t};
}

Result<std::vector<Record>> decode(std::string_view payload, std::string_view requestPath = "/",
                                   DecodeLimits limits = {}) {
  return senml_json::decode(bytes(payload), path(requestPath), kModel, limits);
}

std::vector<Record> decodeOk(std::string_view payload, std::string_view requestPath = "/") {
  auto result = decode(payload, requestPath);
  EXPECT_TRUE(result.ok()) << "input: " << payload << "\nerror: " << result.error().message;
  return result.ok() ? std::move(*result) : std::vector<Record>{};
}

std::string encodeOk(const std::vector<Record>& records, std::string_view requestPath = "/") {
  auto result = senml_json::encode(records, path(requestPath));
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? std::string(result->begin(), result->end()) : std::string();
}

// Records compare exactly; on failure both sides are shown as JSON.
::testing::AssertionResult sameRecords(const std::vector<Record>& got,
                                       const std::vector<Record>& want) {
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\n got: " << toJson(got) << "\nwant: " << toJson(want);
}

// ---- spec examples ----

// TS Transport 7.4.5, Read on /3/0 (the Device object instance).
TEST(SenmlJsonTest, DecodesTheDeviceObjectRead) {
  const auto records = decodeOk(R"([{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},
    {"n":"1","vs":"Lightweight M2M Client"},
    {"n":"2","vs":"345000123"},
    {"n":"3","vs":"1.0"},
    {"n":"6/0","v":1},
    {"n":"6/1","v":5},
    {"n":"7/0","v":3800},
    {"n":"7/1","v":5000},
    {"n":"8/0","v":125},
    {"n":"8/1","v":900},
    {"n":"9","v":100},
    {"n":"10","v":15},
    {"n":"11/0","v":0},
    {"n":"13","v":1367491215},
    {"n":"14","vs":"+02:00"},
    {"n":"16","vs":"U"}])",
                                "/3/0");
  EXPECT_TRUE(sameRecords(records, {
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
                                   }));
}

TEST(SenmlJsonTest, DecodesAMultipleInstanceResource) {
  EXPECT_TRUE(
      sameRecords(decodeOk(R"([{"bn":"/3/0/6/","n":"0","v":1},{"n":"1","v":5}])", "/3/0/6"),
                  {rec("/3/0/6/0", Value::integer(1)), rec("/3/0/6/1", Value::integer(5))}));
  // The whole name in "bn" alone is a name too (RFC 8428 4.5.1: name = bn + n).
  EXPECT_TRUE(sameRecords(decodeOk(R"([{"bn":"/3/0/9","v":88}])", "/3/0/9"),
                          {rec("/3/0/9", Value::integer(88))}));
}

// RFC 8428 4.1: bn and bt apply to every following record until a record changes them.
TEST(SenmlJsonTest, BaseNameAndTimeCarryOver) {
  const auto records = decodeOk(R"([
    {"bn":"/9999/0/","bt":1700000000,"n":"1","v":1},
    {"n":"1","v":2,"t":10},
    {"bn":"/9999/1/","n":"1","v":3,"t":-5},
    {"bt":1800000000,"n":"1","v":4},
    {"n":"9/3","v":5}])");
  EXPECT_TRUE(sameRecords(records, {
                                       rec("/9999/0/1", Value::integer(1), 1700000000),
                                       rec("/9999/0/1", Value::integer(2), 1700000010),
                                       rec("/9999/1/1", Value::integer(3), 1699999995),
                                       rec("/9999/1/1", Value::integer(4), 1800000000),
                                       rec("/9999/1/9/3", Value::integer(5), 1800000000),
                                   }));
}

// A Notify with history (TS Transport 7.4.5 example): an unknown resource keeps "v" as kFloat.
TEST(SenmlJsonTest, TimestampsAbsoluteAndRelative) {
  EXPECT_TRUE(sameRecords(decodeOk(R"([{"bn":"/3303/0/5700","bt":1700000000,"v":22.4,"t":-5},
                                       {"t":-15,"v":22.9},{"t":-25,"v":24.1}])"),
                          {
                              rec("/3303/0/5700", Value::floating(22.4), 1699999995),
                              rec("/3303/0/5700", Value::floating(22.9), 1699999985),
                              rec("/3303/0/5700", Value::floating(24.1), 1699999975),
                          }));
  // No base time and times below 2^28: relative to "now" (RFC 8428 4.5.3), left relative.
  EXPECT_TRUE(sameRecords(decodeOk(R"([{"n":"/3303/0/5700","v":1,"t":-30},
                                       {"n":"/3303/0/5700","v":2,"t":0},
                                       {"n":"/3303/0/5700","v":3}])"),
                          {
                              rec("/3303/0/5700", Value::floating(1), -30),
                              rec("/3303/0/5700", Value::floating(2), 0),
                              rec("/3303/0/5700", Value::floating(3)),
                          }));
  // An absolute "t" without a base time stands on its own; fractions stay.
  EXPECT_TRUE(sameRecords(decodeOk(R"([{"n":"/3303/0/5700","v":1,"t":1700000000.25}])"),
                          {rec("/3303/0/5700", Value::floating(1), 1700000000.25)}));
}

// A Send (TS Core 6.4.5 / Transport 7.4.5) to the server: several objects in one pack, the
// request path is the root.
TEST(SenmlJsonTest, DecodesASendWithSeveralObjects) {
  const auto records = decodeOk(R"([
    {"bn":"/3/0/","bt":1700000000,"n":"9","v":88},
    {"n":"13","v":1700000000},
    {"bn":"/3303/0/","n":"5700","v":21.5,"t":10},
    {"bn":"/6/0/","n":"0","v":45.5},
    {"n":"1","v":-73.25},
    {"bn":"/9999/0/","n":"7","vlo":"3:0"}])");
  EXPECT_TRUE(sameRecords(records, {
                                       rec("/3/0/9", Value::integer(88), 1700000000),
                                       rec("/3/0/13", Value::time(1700000000), 1700000000),
                                       rec("/3303/0/5700", Value::floating(21.5), 1700000010),
                                       rec("/6/0/0", Value::floating(45.5), 1700000000),
                                       rec("/6/0/1", Value::floating(-73.25), 1700000000),
                                       rec("/9999/0/7", Value::objlnk(3, 0), 1700000000),
                                   }));
}

// The same read through the Content-Format dispatcher and the compiled-in core objects.
TEST(SenmlJsonTest, DecodesThroughTheDispatcherWithTheCoreModel) {
  const std::string_view payload =
      R"([{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"6/0","v":1},)"
      R"({"n":"9","v":100},{"n":"13","v":1367491215}])";
  auto records = lwm2m::decode(format::kSenmlJson, bytes(payload), path("/3/0"), coreObjects());
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_TRUE(sameRecords(*records, {
                                        rec("/3/0/0", Value::string("Open Mobile Alliance")),
                                        rec("/3/0/6/0", Value::integer(1)),
                                        rec("/3/0/9", Value::integer(100)),
                                        rec("/3/0/13", Value::time(1367491215)),
                                    }));
  auto encoded = lwm2m::encode(format::kSenmlJson, *records, path("/3/0"));
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  EXPECT_EQ(std::string(encoded->begin(), encoded->end()),
            R"([{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"6/0","v":1},)"
            R"({"n":"9","v":100},{"n":"13","v":1367491215}])");
}

// ---- typing ----

TEST(SenmlJsonTest, TheModelTypesNumbers) {
  auto one = [](std::string_view field, std::string_view name) {
    auto r = decodeOk("[{\"n\":\"" + std::string(name) + "\"," + std::string(field) + "}]");
    return r.size() == 1 ? r[0].value : Value();
  };
  EXPECT_EQ(one(R"("v":-42)", "/9999/0/1"), Value::integer(-42));
  EXPECT_EQ(one(R"("v":95.0)", "/9999/0/1"), Value::integer(95));  // integral, not the spelling
  EXPECT_EQ(one(R"("v":9.5e1)", "/9999/0/1"), Value::integer(95));
  EXPECT_EQ(one(R"("v":-9223372036854775808)", "/9999/0/1"),
            Value::integer(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(one(R"("v":9223372036854775807)", "/9999/0/1"),
            Value::integer(std::numeric_limits<std::int64_t>::max()));
  EXPECT_EQ(one(R"("v":18446744073709551615)", "/9999/0/2"),
            Value::unsignedInteger(std::numeric_limits<std::uint64_t>::max()));
  EXPECT_EQ(one(R"("v":-0)", "/9999/0/2"), Value::unsignedInteger(0));
  EXPECT_EQ(one(R"("v":7)", "/9999/0/3"), Value::floating(7));
  EXPECT_EQ(one(R"("v":1e308)", "/9999/0/3"), Value::floating(1e308));
  EXPECT_EQ(one(R"("v":1700000000)", "/9999/0/6"), Value::time(1700000000));
  EXPECT_EQ(one(R"("v":-1)", "/9999/0/6"), Value::time(-1));
  // Unknown resources: a number is a float, whatever its spelling.
  EXPECT_EQ(one(R"("v":95)", "/3303/0/5700"), Value::floating(95));
  EXPECT_EQ(one(R"("v":18446744073709551615)", "/3303/0/5700"),
            Value::floating(18446744073709551615.0));
}

TEST(SenmlJsonTest, TheValueKeyTypesTheRest) {
  auto one = [](std::string_view field, std::string_view name) {
    auto r = decodeOk("[{\"n\":\"" + std::string(name) + "\"," + std::string(field) + "}]");
    return r.size() == 1 ? r[0].value : Value();
  };
  EXPECT_EQ(one(R"("vs":"caf\u00e9")", "/9999/0/0"), Value::string("caf\xc3\xa9"));
  EXPECT_EQ(one(R"("vs":"</3/0>")", "/9999/0/8"), Value::string("</3/0>"));  // core link
  EXPECT_EQ(one(R"("vb":true)", "/9999/0/4"), Value::boolean(true));
  EXPECT_EQ(one(R"("vd":"AQID")", "/9999/0/5"), Value::opaque({1, 2, 3}));
  EXPECT_EQ(one(R"("vlo":"65535:65535")", "/9999/0/7"), Value::objlnk(65535, 65535));
  // Unknown resources take the type the key names.
  EXPECT_EQ(one(R"("vs":"x")", "/3303/0/5701"), Value::string("x"));
  EXPECT_EQ(one(R"("vb":false)", "/3303/0/5850"), Value::boolean(false));
  EXPECT_EQ(one(R"("vd":"")", "/3303/0/1"), Value::opaque({}));
  EXPECT_EQ(one(R"("vlo":"3:0")", "/3303/0/2"), Value::objlnk(3, 0));
}

// TS Transport 7.4.5: vd is base64url without padding; standard base64 and padding are accepted
// from devices that get it wrong.
TEST(SenmlJsonTest, OpaqueAcceptsBothBase64Alphabets) {
  const Value want = Value::opaque({0xfb, 0xff});
  for (std::string_view vd : {"-_8", "+/8", "-_8=", "+/8="}) {
    auto r = decodeOk("[{\"n\":\"/9999/0/5\",\"vd\":\"" + std::string(vd) + "\"}]");
    ASSERT_EQ(r.size(), 1u) << vd;
    EXPECT_EQ(r[0].value, want) << vd;
  }
  auto r = decodeOk(R"([{"n":"/9999/0/5","vd":"AA=="},{"n":"/9999/0/5","vd":"AAA"}])");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].value, Value::opaque({0}));
  EXPECT_EQ(r[1].value, Value::opaque({0, 0}));
}

TEST(SenmlJsonTest, UnknownFieldsAreIgnored) {
  EXPECT_TRUE(sameRecords(decodeOk(R"([{"bver":10,"bu":"Cel","n":"/3303/0/5700","u":"Cel",
                                        "v":20,"ut":60}])"),
                          {rec("/3303/0/5700", Value::floating(20))}));
}

// ---- encoding ----

TEST(SenmlJsonTest, EncodesBaseNameOnceAndRelativeNames) {
  EXPECT_EQ(encodeOk(
                {
                    rec("/3/0/0", Value::string("Open Mobile Alliance")),
                    rec("/3/0/6/0", Value::integer(1)),
                    rec("/3/0/9", Value::integer(95)),
                    rec("/3/0/13", Value::time(1700000000)),
                },
                "/3/0"),
            R"([{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"6/0","v":1},)"
            R"({"n":"9","v":95},{"n":"13","v":1700000000}])");
  // The base is the deepest path holding every record, whatever the request path.
  EXPECT_EQ(encodeOk({rec("/3/0/6/0", Value::integer(1)), rec("/3/0/6/1", Value::integer(5))}),
            R"([{"bn":"/3/0/6/","n":"0","v":1},{"n":"1","v":5}])");
  // Several objects share only the root.
  EXPECT_EQ(encodeOk({rec("/3/0/9", Value::integer(1)), rec("/4/0/1", Value::integer(2))}),
            R"([{"bn":"/","n":"3/0/9","v":1},{"n":"4/0/1","v":2}])");
  // A Write to one resource: the name is never empty.
  EXPECT_EQ(encodeOk({rec("/3/0/14", Value::string("+01:00"))}, "/3/0/14"),
            R"([{"bn":"/3/0/","n":"14","vs":"+01:00"}])");
  EXPECT_EQ(encodeOk({}, "/3/0"), "[]");
}

TEST(SenmlJsonTest, EncodesEveryType) {
  EXPECT_EQ(encodeOk({
                rec("/9999/0/0", Value::string("a\"b\\c\n\x01")),
                rec("/9999/0/1", Value::integer(-7)),
                rec("/9999/0/2", Value::unsignedInteger(18446744073709551615u)),
                rec("/9999/0/3", Value::floating(0.1)),
                rec("/9999/0/4", Value::boolean(false)),
                rec("/9999/0/5", Value::opaque({0xfb, 0xff})),
                rec("/9999/0/6", Value::time(-5)),
                rec("/9999/0/7", Value::objlnk(3, 0)),
                rec("/9999/0/3", Value::floating(1e300), 1700000000.5),
            }),
            R"([{"bn":"/9999/0/","n":"0","vs":"a\"b\\c\u000A\u0001"},{"n":"1","v":-7},)"
            R"({"n":"2","v":18446744073709551615},{"n":"3","v":0.1},{"n":"4","vb":false},)"
            R"({"n":"5","vd":"-_8"},{"n":"6","v":-5},{"n":"7","vlo":"3:0"},)"
            R"({"n":"3","v":1e+300,"t":1700000000.5}])");
}

TEST(SenmlJsonTest, RoundTripsEveryType) {
  const std::vector<Record> records = {
      rec("/9999/0/0", Value::string("")),
      rec("/9999/0/0", Value::string("Open Mobile Alliance \xe2\x82\xac \"\\/\t")),
      rec("/9999/0/0", Value::string(std::string("nul\0inside", 10))),
      rec("/9999/0/1", Value::integer(std::numeric_limits<std::int64_t>::min())),
      rec("/9999/0/1", Value::integer(std::numeric_limits<std::int64_t>::max())),
      rec("/9999/0/2", Value::unsignedInteger(0)),
      rec("/9999/0/2", Value::unsignedInteger(std::numeric_limits<std::uint64_t>::max())),
      rec("/9999/0/3", Value::floating(0.1)),
      rec("/9999/0/3", Value::floating(-0.0)),
      rec("/9999/0/3", Value::floating(std::numeric_limits<double>::max())),
      rec("/9999/0/3", Value::floating(std::numeric_limits<double>::denorm_min())),
      rec("/9999/0/3", Value::floating(3)),
      rec("/9999/0/4", Value::boolean(true)),
      rec("/9999/0/4", Value::boolean(false)),
      rec("/9999/0/5", Value::opaque({})),
      rec("/9999/0/5", Value::opaque({0})),
      rec("/9999/0/5", Value::opaque({0xff, 0xfe})),
      rec("/9999/0/5", Value::opaque({0, 1, 2, 3, 250, 251, 252, 253, 254, 255})),
      rec("/9999/0/6", Value::time(0)),
      rec("/9999/0/6", Value::time(std::numeric_limits<std::int64_t>::min())),
      rec("/9999/0/7", Value::objlnk(0, 0)),
      rec("/9999/0/7", Value::objlnk(65535, 65535)),
      rec("/9999/0/8", Value::string("</3/0>;ver=1.1")),
      rec("/9999/0/9/0", Value::integer(1), 1700000000),
      rec("/9999/0/9/65534", Value::integer(2), -12.5),
      rec("/9999/65534/1", Value::integer(3)),
  };
  for (std::string_view requestPath : {"/", "/9999"}) {
    const std::string encoded = encodeOk(records, requestPath);
    EXPECT_TRUE(sameRecords(decodeOk(encoded, requestPath), records)) << encoded;
  }
}

TEST(SenmlJsonTest, EncodeRefusesWhatJsonOrTheRequestCannotHold) {
  auto encode = [](std::vector<Record> records, std::string_view requestPath = "/") {
    return senml_json::encode(records, path(requestPath));
  };
  EXPECT_TRUE(failsWith(encode({rec("/3/0/1", Value::string("x"))}, "/4"), ErrorCode::kBadRequest,
                        "record 0: /3/0/1 is outside the request path /4"));
  EXPECT_TRUE(failsWith(encode({rec("/3/0", Value::string("x"))}), ErrorCode::kBadRequest,
                        "/3/0 is not a resource"));
  EXPECT_TRUE(failsWith(encode({rec("/3/0/1", Value::floating(std::nan("")))}),
                        ErrorCode::kBadRequest, "not finite"));
  EXPECT_TRUE(failsWith(
      encode({rec("/3/0/1", Value::floating(1), std::numeric_limits<double>::infinity())}),
      ErrorCode::kBadRequest, "timestamp is not finite"));
  EXPECT_TRUE(
      failsWith(encode({rec("/3/0/1", Value::integer(1)), rec("/3/0/0", Value::string("\xff"))}),
                ErrorCode::kBadRequest, "record 1: string is not UTF-8"));
}

// ---- malformed input ----

TEST(SenmlJsonTest, RefusesWhatIsNotJson) {
  EXPECT_TRUE(failsWith(decode(""), ErrorCode::kBadRequest, "empty payload"));
  for (std::string_view payload :
       {"[", "[{]", "hello", "[1,]", "[]x", "[{\"n\":\"/3/0/1\",\"vs\":\"a}]", "\xff",
        "[{\"n\":\"/3/0/1\",\"vs\":\"\xc3\x28\"}]", "[{'n':1}]", "[01]", "[NaN]", "[/*c*/]"}) {
    EXPECT_TRUE(failsWith(decode(payload), ErrorCode::kBadRequest, "not JSON")) << payload;
  }
  EXPECT_TRUE(failsWith(decode("[1,}"), ErrorCode::kBadRequest, "syntax error at byte 4"));
}

TEST(SenmlJsonTest, RefusesTheWrongShape) {
  EXPECT_TRUE(failsWith(decode("{}"), ErrorCode::kBadRequest, "must be an array of records"));
  EXPECT_TRUE(failsWith(decode("\"x\""), ErrorCode::kBadRequest, "must be an array"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9","v":1},2])"), ErrorCode::kBadRequest,
                        "record 1: is not an object"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9","v":"1"}])"), ErrorCode::kBadRequest,
                        "record 0: \"v\" is not a number"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":3,"v":1}])"), ErrorCode::kBadRequest,
                        "record 0: \"n\" is not a string"));
  EXPECT_TRUE(failsWith(decode(R"([{"bn":null,"n":"/3/0/9","v":1}])"), ErrorCode::kBadRequest,
                        "\"bn\" is not a string"));
  EXPECT_TRUE(failsWith(decode(R"([{"bt":"now","n":"/3/0/9","v":1}])"), ErrorCode::kBadRequest,
                        "\"bt\" is not a number"));
  EXPECT_TRUE(failsWith(decode(R"([{"t":true,"n":"/3/0/9","v":1}])"), ErrorCode::kBadRequest,
                        "\"t\" is not a number"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9","v":1,"vs":"1"}])"), ErrorCode::kBadRequest,
                        "has both \"v\" and \"vs\""));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9"}])"), ErrorCode::kBadRequest,
                        "record 0: /3/0/9 has no value"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9","v":1},{"n":"/3/0/9","v":1,"n":"/3/0/1"}])"),
                        ErrorCode::kBadRequest, "duplicate key \"n\""));
  // RFC 8428 4.4 must-understand fields, and base value/sum that would change "v".
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9","v":1,"foo_":1}])"), ErrorCode::kBadRequest,
                        "unsupported field \"foo_\""));
  EXPECT_TRUE(failsWith(decode(R"([{"bv":1,"n":"/3/0/9","v":1}])"), ErrorCode::kBadRequest,
                        "unsupported field \"bv\""));
}

TEST(SenmlJsonTest, RefusesNamesThatAreNotResourcePaths) {
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/x","v":1}])"), ErrorCode::kBadRequest,
                        "record 0: name path \"/3/0/x\": segment 3 is not a decimal id"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"3/0/1","vs":"x"}])"), ErrorCode::kBadRequest,
                        "must start with '/'"));
  EXPECT_TRUE(
      failsWith(decode(R"([{"bn":"/3/0/","vs":"x"}])"), ErrorCode::kBadRequest, "trailing '/'"));
  EXPECT_TRUE(failsWith(decode(R"([{"vs":"x"}])"), ErrorCode::kBadRequest, "record 0: name"));
  EXPECT_TRUE(failsWith(decode(R"([{"bn":"/3/","n":"0","vs":"x"}])"), ErrorCode::kBadRequest,
                        "name \"/3/0\" is not a resource path"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/1/2/3","vs":"x"}])"), ErrorCode::kBadRequest,
                        "more than 4 ids"));
  EXPECT_TRUE(
      failsWith(decode(R"([{"n":"/3/0/65535","vs":"x"}])"), ErrorCode::kBadRequest, "above 65534"));
  // bn + n is a plain concatenation (RFC 8428 4.5.1): a missing '/' makes another path.
  EXPECT_TRUE(failsWith(decode(R"([{"bn":"/3/0","n":"01","vs":"x"}])"), ErrorCode::kBadRequest,
                        "leading zero"));
}

TEST(SenmlJsonTest, RefusesRecordsOutsideTheRequestPath) {
  EXPECT_TRUE(
      failsWith(decode(R"([{"bn":"/3/0/","n":"9","v":1},{"bn":"/3/1/","n":"9","v":1}])", "/3/0"),
                ErrorCode::kBadRequest, "record 1: /3/1/9 is outside the request path /3/0"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/10","v":1}])", "/3/0/1"), ErrorCode::kBadRequest,
                        "outside the request path /3/0/1"));
}

TEST(SenmlJsonTest, RefusesValuesTheModelDoesNotAllow) {
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/1","v":1.5}])"), ErrorCode::kBadRequest,
                        "\"v\" for /9999/0/1 (integer) is not integral or out of range"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/1","v":9223372036854775808}])"),
                        ErrorCode::kBadRequest, "not integral or out of range"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/1","v":-9223372036854777856}])"),
                        ErrorCode::kBadRequest, "not integral or out of range"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/2","v":-1}])"), ErrorCode::kBadRequest,
                        "(unsigned) is not integral"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/2","v":18446744073709551616}])"),
                        ErrorCode::kBadRequest, "(unsigned) is not integral"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/6","v":1700000000.5}])"), ErrorCode::kBadRequest,
                        "(time) is not integral"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9","vs":"95"}])"), ErrorCode::kBadRequest,
                        "record 0: \"vs\" does not fit /3/0/9 (integer)"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/0","v":1}])"), ErrorCode::kBadRequest,
                        "\"v\" does not fit /3/0/0 (string)"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/5","vs":"AQID"}])"), ErrorCode::kBadRequest,
                        "\"vs\" does not fit /9999/0/5 (opaque)"));
  EXPECT_TRUE(
      failsWith(decode(R"([{"n":"/9999/0/4","v":1}])"), ErrorCode::kBadRequest, "(boolean)"));
  EXPECT_TRUE(
      failsWith(decode(R"([{"n":"/9999/0/7","vs":"3:0"}])"), ErrorCode::kBadRequest, "(objlnk)"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/0","vd":"AQID"}])"), ErrorCode::kBadRequest,
                        "\"vd\" does not fit /9999/0/0 (string)"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/0","vs":1}])"), ErrorCode::kBadRequest,
                        "\"vs\" is not a string"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/9999/0/4","vb":"true"}])"), ErrorCode::kBadRequest,
                        "\"vb\" is not a boolean"));
  // Multiple-instance resources need an instance id, single ones must not have one.
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/6","v":1}])"), ErrorCode::kBadRequest,
                        "/3/0/6 is multiple-instance: needs an instance id"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9/0","v":1}])"), ErrorCode::kBadRequest,
                        "/3/0/9 is single-instance"));
}

TEST(SenmlJsonTest, RefusesBadBase64AndObjlnks) {
  for (std::string_view vd : {"A", "AAAAA", "A===", "AA=A", "AA=", "AAA==", "AQ@D", "AQ D",
                              "==", "AQID\\n", "AQ\\u0000D"}) {
    EXPECT_TRUE(failsWith(decode("[{\"n\":\"/9999/0/5\",\"vd\":\"" + std::string(vd) + "\"}]"),
                          ErrorCode::kBadRequest, "record 0: \"vd\" is not base64"))
        << vd;
  }
  for (std::string_view vlo :
       {"", "3", "3:", ":0", "3:0:1", "65536:0", "-1:0", "+3:0", "3 :0", "a:b", "123456:0"}) {
    EXPECT_TRUE(failsWith(decode("[{\"n\":\"/9999/0/7\",\"vlo\":\"" + std::string(vlo) + "\"}]"),
                          ErrorCode::kBadRequest, "is not an objlnk"))
        << vlo;
  }
}

TEST(SenmlJsonTest, Limits) {
  const std::string three = R"([{"n":"/3/0/9","v":1},{"n":"/3/0/9","v":2},{"n":"/3/0/9","v":3}])";
  EXPECT_TRUE(decode(three, "/", DecodeLimits{.maxRecords = 3}).ok());
  EXPECT_TRUE(failsWith(decode(three, "/", DecodeLimits{.maxRecords = 2}), ErrorCode::kTooLarge,
                        "3 records, more than the limit of 2"));
  // SenML never nests deeper than two levels; far deeper input stops at the third bracket.
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9","v":{"x":1}}])"), ErrorCode::kBadRequest,
                        "JSON nested deeper than 2 levels"));
  EXPECT_TRUE(failsWith(decode(std::string(100000, '[') + std::string(100000, ']')),
                        ErrorCode::kBadRequest, "nested deeper than 2 levels"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3/0/9","v":1}])", "/", DecodeLimits{.maxDepth = 1}),
                        ErrorCode::kBadRequest, "nested deeper than 1 levels"));
  // Numbers beyond a double are refused, not turned into infinity.
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3303/0/5700","v":1e400}])"), ErrorCode::kBadRequest,
                        "number \"1e400\" is out of range"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3303/0/5700","v":-1e99999}])"), ErrorCode::kBadRequest,
                        "out of range"));
  EXPECT_TRUE(failsWith(decode(R"([{"n":"/3303/0/5700","v":1,"t":1e400}])"), ErrorCode::kBadRequest,
                        "out of range"));
  EXPECT_TRUE(failsWith(decode(R"([{"bt":1e308,"n":"/3303/0/5700","v":1,"t":1e308}])"),
                        ErrorCode::kBadRequest, "time is out of range"));
  // An integer beyond 64 bits only fits a float resource; beyond a double it fits nothing.
  const std::string huge(30, '9');
  EXPECT_TRUE(decode("[{\"n\":\"/3303/0/5700\",\"v\":" + huge + "}]").ok());
  EXPECT_TRUE(failsWith(decode("[{\"n\":\"/9999/0/1\",\"v\":" + huge + "}]"),
                        ErrorCode::kBadRequest, "not integral or out of range"));
  EXPECT_TRUE(failsWith(decode("[{\"n\":\"/3303/0/5700\",\"v\":" + std::string(400, '9') + "}]"),
                        ErrorCode::kBadRequest, "number \"99999"));
  // Long peer text is cut in messages.
  EXPECT_TRUE(failsWith(decode("[{\"n\":\"/3/0/9\",\"v\":1,\"" + std::string(500, 'k') + "_\":1}]"),
                        ErrorCode::kBadRequest, "unsupported field \"kkk"));
}

// Mutated payloads must decode or fail with a clean message; whatever decodes must survive an
// encode/decode round trip unchanged.
TEST(SenmlJsonTest, SeededCorruptionNeverCrashes) {
  const std::vector<std::string> seeds = {
      R"([{"bn":"/3/0/","bt":1700000000,"n":"0","vs":"Open Mobile Alliance"},{"n":"6/0","v":1},)"
      R"({"n":"9","v":95,"t":-5},{"n":"13","v":1367491215},{"n":"14","vs":"+02:00"}])",
      R"([{"bn":"/9999/0/","n":"1","v":-7},{"n":"2","v":18446744073709551615},{"n":"3","v":0.1},)"
      R"({"n":"4","vb":false},{"n":"5","vd":"-_8"},{"n":"6","v":-5},{"n":"7","vlo":"3:0"},)"
      R"({"n":"8","vs":"</1>"},{"n":"9/0","v":1}])",
      R"([{"bn":"/3303/0/5700","bt":25462634,"v":22.4,"t":-5},{"t":-15,"v":22.9},)"
      R"({"bn":"/6/0/","n":"0","v":45.5,"u":"lat"},{"n":"1","v":-7.3e1}])",
  };
  const std::vector<std::string> tokens = {
      "[",     "]", "{",       "}",       "\"",           ",",    ":",
      "1e999", "-", "\\u0000", "\"vd\":", "\"bn\":\"/\"", "null", "0"};
  std::mt19937 rng(20240611);
  constexpr std::string_view kLetters = "0123456789abcdefvstnAZ+/=-_:.";
  std::size_t decoded = 0;
  for (int iteration = 0; iteration < 6000; ++iteration) {
    std::string payload = seeds[rng() % seeds.size()];
    const int mutations = 1 + static_cast<int>(rng() % 3);
    for (int m = 0; m < mutations && !payload.empty(); ++m) {
      const std::size_t at = rng() % payload.size();
      switch (rng() % 6) {
        case 0:
          payload[at] = static_cast<char>(rng() & 0xff);
          break;
        case 5:  // keeps the JSON intact more often, to reach names, numbers and base64
          if (std::isalnum(static_cast<unsigned char>(payload[at]))) {
            payload[at] = kLetters[rng() % kLetters.size()];
          }
          break;
        case 1:
          payload.erase(at, 1 + rng() % 8);
          break;
        case 2:
          payload.insert(at, tokens[rng() % tokens.size()]);
          break;
        case 3:
          payload.insert(at, payload.substr(rng() % payload.size(), rng() % 24));
          break;
        default:
          payload.resize(at);
          break;
      }
    }
    const auto result = decode(payload, "/", DecodeLimits{.maxRecords = 16});
    if (!result.ok()) {
      const ErrorCode code = result.error().code;
      ASSERT_TRUE(code == ErrorCode::kBadRequest || code == ErrorCode::kTooLarge) << payload;
      ASSERT_TRUE(failsWith(result, code, "")) << payload;
      continue;
    }
    ++decoded;
    const std::string again = encodeOk(*result);
    ASSERT_TRUE(sameRecords(decodeOk(again), *result)) << payload << "\n" << again;
  }
  EXPECT_GT(decoded, 200u);  // the loop reaches the typing code, not only the JSON parser
}

}  // namespace
}  // namespace lwgate::lwm2m
