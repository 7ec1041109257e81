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

#include "gateway/lwm2m/codec_lwm2m_json.h"
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
  return lwm2m_json::decode(bytes(payload), path(requestPath), kModel, limits);
}

std::vector<Record> decodeOk(std::string_view payload, std::string_view requestPath = "/") {
  auto result = decode(payload, requestPath);
  EXPECT_TRUE(result.ok()) << "input: " << payload << "\nerror: " << result.error().message;
  return result.ok() ? std::move(*result) : std::vector<Record>{};
}

std::string encodeOk(const std::vector<Record>& records, std::string_view requestPath = "/") {
  auto result = lwm2m_json::encode(records, path(requestPath));
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? std::string(result->begin(), result->end()) : std::string();
}

::testing::AssertionResult sameRecords(const std::vector<Record>& got,
                                       const std::vector<Record>& want) {
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\n got: " << toJson(got) << "\nwant: " << toJson(want);
}

// ---- spec examples ----

// TS 1.0 Transport 6.4.4, Read on /3/0.
TEST(Lwm2mJsonTest, DecodesTheDeviceObjectRead) {
  const auto records = decodeOk(R"({"bn":"/3/0/",
    "e":[{"n":"0","sv":"Open Mobile Alliance"},
         {"n":"1","sv":"Lightweight M2M Client"},
         {"n":"2","sv":"345000123"},
         {"n":"3","sv":"1.0"},
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
         {"n":"14","sv":"+02:00"},
         {"n":"15","sv":"U"}]})",
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
                                       rec("/3/0/15", Value::string("U")),
                                   }));
}

TEST(Lwm2mJsonTest, DecodesAMultipleInstanceResource) {
  EXPECT_TRUE(
      sameRecords(decodeOk(R"({"bn":"/3/0/6/","e":[{"n":"0","v":1},{"n":"1","v":5}]})", "/3/0/6"),
                  {rec("/3/0/6/0", Value::integer(1)), rec("/3/0/6/1", Value::integer(5))}));
}

// Without "bn" the names are relative to the request path; an entry without "n" is the base.
TEST(Lwm2mJsonTest, NamesAreRelativeToTheRequestPathWithoutABaseName) {
  EXPECT_TRUE(sameRecords(decodeOk(R"({"e":[{"n":"0","sv":"x"},{"n":"6/1","v":5}]})", "/3/0"),
                          {rec("/3/0/0", Value::string("x")), rec("/3/0/6/1", Value::integer(5))}));
  EXPECT_TRUE(sameRecords(decodeOk(R"({"e":[{"n":"3/0/9","v":5}]})", "/"),
                          {rec("/3/0/9", Value::integer(5))}));
  EXPECT_TRUE(sameRecords(decodeOk(R"({"bn":"/3/0/9","e":[{"v":5}]})", "/3/0/9"),
                          {rec("/3/0/9", Value::integer(5))}));
  // "bn" and "bt" count only at the top level: inside an entry they are unknown and ignored.
  EXPECT_TRUE(sameRecords(decodeOk(R"({"bn":"/3/0/","e":[{"bn":"/4/0/","bt":5,"n":"9","v":5}]})"),
                          {rec("/3/0/9", Value::integer(5))}));
}

// Notify with history (TS 1.0 Transport 6.4.4): "t" is relative to "bt".
TEST(Lwm2mJsonTest, Timestamps) {
  EXPECT_TRUE(sameRecords(decodeOk(R"({"bn":"/3303/0/","bt":1700000000,
    "e":[{"n":"5700","v":22.4,"t":-5},{"n":"5700","v":22.9,"t":-15},{"n":"5700","v":24.1}]})"),
                          {
                              rec("/3303/0/5700", Value::floating(22.4), 1699999995),
                              rec("/3303/0/5700", Value::floating(22.9), 1699999985),
                              rec("/3303/0/5700", Value::floating(24.1), 1700000000),
                          }));
  // Only relative times: they stay relative to "now" (negative = ago).
  EXPECT_TRUE(sameRecords(decodeOk(R"({"bn":"/3303/0/","e":[{"n":"5700","v":1,"t":-60},
                                                             {"n":"5700","v":2}]})"),
                          {
                              rec("/3303/0/5700", Value::floating(1), -60),
                              rec("/3303/0/5700", Value::floating(2)),
                          }));
}

TEST(Lwm2mJsonTest, DecodesASendLikePayloadWithSeveralObjects) {
  const auto records = decodeOk(R"({"bn":"/","bt":1700000000,"e":[
    {"n":"3/0/9","v":88},
    {"n":"3/0/13","v":1700000000,"t":-1},
    {"n":"3303/0/5700","v":21.5,"t":10},
    {"n":"6/0/0","v":45.5},
    {"n":"9999/0/4","bv":true},
    {"n":"9999/0/7","ov":"3:0"}]})");
  EXPECT_TRUE(sameRecords(records, {
                                       rec("/3/0/9", Value::integer(88), 1700000000),
                                       rec("/3/0/13", Value::time(1700000000), 1699999999),
                                       rec("/3303/0/5700", Value::floating(21.5), 1700000010),
                                       rec("/6/0/0", Value::floating(45.5), 1700000000),
                                       rec("/9999/0/4", Value::boolean(true), 1700000000),
                                       rec("/9999/0/7", Value::objlnk(3, 0), 1700000000),
                                   }));
}

// The same read through the Content-Format dispatcher (also under the pre-registration number
// 1543 of LwM2M 1.0 clients) and the compiled-in core objects.
TEST(Lwm2mJsonTest, DecodesThroughTheDispatcherWithTheCoreModel) {
  const std::string_view payload =
      R"({"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"6/0","v":1},)"
      R"({"n":"9","v":100},{"n":"13","v":1367491215}]})";
  const std::vector<Record> want = {
      rec("/3/0/0", Value::string("Open Mobile Alliance")),
      rec("/3/0/6/0", Value::integer(1)),
      rec("/3/0/9", Value::integer(100)),
      rec("/3/0/13", Value::time(1367491215)),
  };
  for (std::uint16_t contentFormat : {format::kLwm2mJson, format::kLegacyJson}) {
    auto records = lwm2m::decode(contentFormat, bytes(payload), path("/3/0"), coreObjects());
    ASSERT_TRUE(records.ok()) << records.error().message;
    EXPECT_TRUE(sameRecords(*records, want));
  }
  auto encoded = lwm2m::encode(format::kLwm2mJson, want, path("/3/0"));
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  EXPECT_EQ(std::string(encoded->begin(), encoded->end()), payload);
}

// ---- typing ----

TEST(Lwm2mJsonTest, TypesLikeSenml) {
  auto one = [](std::string_view field, std::string_view name) {
    auto r = decodeOk("{\"e\":[{\"n\":\"" + std::string(name) + "\"," + std::string(field) + "}]}");
    return r.size() == 1 ? r[0].value : Value();
  };
  EXPECT_EQ(one(R"("v":95.0)", "9999/0/1"), Value::integer(95));
  EXPECT_EQ(one(R"("v":18446744073709551615)", "9999/0/2"),
            Value::unsignedInteger(std::numeric_limits<std::uint64_t>::max()));
  EXPECT_EQ(one(R"("v":2)", "9999/0/3"), Value::floating(2));
  EXPECT_EQ(one(R"("v":5)", "9999/0/6"), Value::time(5));
  EXPECT_EQ(one(R"("sv":"x")", "9999/0/0"), Value::string("x"));
  EXPECT_EQ(one(R"("sv":"</1>")", "9999/0/8"), Value::string("</1>"));
  EXPECT_EQ(one(R"("bv":false)", "9999/0/4"), Value::boolean(false));
  EXPECT_EQ(one(R"("ov":"1:2")", "9999/0/7"), Value::objlnk(1, 2));
  // Opaque travels as base64 in "sv"; only the model tells it from a string.
  EXPECT_EQ(one(R"("sv":"+/8=")", "9999/0/5"), Value::opaque({0xfb, 0xff}));
  EXPECT_EQ(one(R"("sv":"-_8")", "9999/0/5"), Value::opaque({0xfb, 0xff}));
  EXPECT_EQ(one(R"("sv":"+/8=")", "3303/0/1"), Value::string("+/8="));
  EXPECT_EQ(one(R"("v":95)", "3303/0/5700"), Value::floating(95));
  // SenML's value keys mean nothing here.
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/0","vs":"x"}]})"), ErrorCode::kBadRequest,
                        "entry 0: /3/0/0 has no value"));
}

// ---- encoding ----

TEST(Lwm2mJsonTest, EncodesWithTheRequestPathAsBaseName) {
  EXPECT_EQ(encodeOk(
                {
                    rec("/3/0/0", Value::string("Open Mobile Alliance")),
                    rec("/3/0/6/0", Value::integer(1)),
                    rec("/3/0/9", Value::integer(95)),
                    rec("/3/0/13", Value::time(1700000000)),
                },
                "/3/0"),
            R"({"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"6/0","v":1},)"
            R"({"n":"9","v":95},{"n":"13","v":1700000000}]})");
  EXPECT_EQ(encodeOk({rec("/3/0/9", Value::integer(1)), rec("/4/0/1", Value::integer(2))}),
            R"({"bn":"/","e":[{"n":"3/0/9","v":1},{"n":"4/0/1","v":2}]})");
  // A Write to one resource: "bn" moves up so that "n" is not empty.
  EXPECT_EQ(encodeOk({rec("/3/0/14", Value::string("+01:00"))}, "/3/0/14"),
            R"({"bn":"/3/0/","e":[{"n":"14","sv":"+01:00"}]})");
  EXPECT_EQ(
      encodeOk({rec("/3/0/6/0", Value::integer(1)), rec("/3/0/6/1", Value::integer(2))}, "/3/0/6"),
      R"({"bn":"/3/0/6/","e":[{"n":"0","v":1},{"n":"1","v":2}]})");
  EXPECT_EQ(encodeOk({}, "/3/0"), R"({"bn":"/3/0/","e":[]})");
}

TEST(Lwm2mJsonTest, EncodesEveryType) {
  EXPECT_EQ(encodeOk(
                {
                    rec("/9999/0/0", Value::string("a\"b")),
                    rec("/9999/0/1", Value::integer(-7)),
                    rec("/9999/0/2", Value::unsignedInteger(7)),
                    rec("/9999/0/3", Value::floating(-2.5e-7)),
                    rec("/9999/0/4", Value::boolean(true)),
                    rec("/9999/0/5", Value::opaque({0xfb, 0xff})),
                    rec("/9999/0/6", Value::time(1700000000), 1700000001),
                    rec("/9999/0/7", Value::objlnk(65535, 65535)),
                },
                "/9999/0"),
            R"({"bn":"/9999/0/","e":[{"n":"0","sv":"a\"b"},{"n":"1","v":-7},{"n":"2","v":7},)"
            R"({"n":"3","v":-2.5e-07},{"n":"4","bv":true},{"n":"5","sv":"+/8="},)"
            R"({"n":"6","v":1700000000,"t":1700000001},{"n":"7","ov":"65535:65535"}]})");
}

TEST(Lwm2mJsonTest, RoundTripsEveryType) {
  const std::vector<Record> records = {
      rec("/9999/0/0", Value::string("")),
      rec("/9999/0/0", Value::string("\xe2\x82\xac \"\\/\t\x1f")),
      rec("/9999/0/1", Value::integer(std::numeric_limits<std::int64_t>::min())),
      rec("/9999/0/1", Value::integer(std::numeric_limits<std::int64_t>::max())),
      rec("/9999/0/2", Value::unsignedInteger(std::numeric_limits<std::uint64_t>::max())),
      rec("/9999/0/3", Value::floating(0.1)),
      rec("/9999/0/3", Value::floating(std::numeric_limits<double>::lowest())),
      rec("/9999/0/3", Value::floating(std::numeric_limits<double>::min())),
      rec("/9999/0/4", Value::boolean(true)),
      rec("/9999/0/4", Value::boolean(false)),
      rec("/9999/0/5", Value::opaque({})),
      rec("/9999/0/5", Value::opaque({0xff})),
      rec("/9999/0/5", Value::opaque({0xff, 0xfe})),
      rec("/9999/0/5", Value::opaque({0, 1, 2, 3, 250, 251, 252, 253, 254, 255})),
      rec("/9999/0/6", Value::time(std::numeric_limits<std::int64_t>::max())),
      rec("/9999/0/7", Value::objlnk(0, 65535)),
      rec("/9999/0/8", Value::string("</3/0>,</4/0>")),
      rec("/9999/0/9/0", Value::integer(1), 1700000000),
      rec("/9999/0/9/7", Value::integer(2), -0.5),
  };
  for (std::string_view requestPath : {"/", "/9999", "/9999/0"}) {
    const std::string encoded = encodeOk(records, requestPath);
    EXPECT_TRUE(sameRecords(decodeOk(encoded, requestPath), records)) << encoded;
  }
}

TEST(Lwm2mJsonTest, EncodeRefusesWhatJsonOrTheRequestCannotHold) {
  auto encode = [](std::vector<Record> records, std::string_view requestPath = "/") {
    return lwm2m_json::encode(records, path(requestPath));
  };
  EXPECT_TRUE(failsWith(encode({rec("/3/0/1", Value::string("x"))}, "/3/1"), ErrorCode::kBadRequest,
                        "record 0: /3/0/1 is outside the request path"));
  EXPECT_TRUE(failsWith(encode({rec("/3", Value::string("x"))}), ErrorCode::kBadRequest,
                        "/3 is not a resource"));
  EXPECT_TRUE(
      failsWith(encode({rec("/3/0/1", Value::floating(-std::numeric_limits<double>::infinity()))}),
                ErrorCode::kBadRequest, "float is not finite"));
  EXPECT_TRUE(failsWith(encode({rec("/3/0/0", Value::string("\xc0\x80"))}), ErrorCode::kBadRequest,
                        "string is not UTF-8"));
}

// ---- malformed input ----

TEST(Lwm2mJsonTest, RefusesWhatIsNotJson) {
  EXPECT_TRUE(failsWith(decode(""), ErrorCode::kBadRequest, "empty payload"));
  for (std::string_view payload : {"{", "{\"e\":[}", "e", "{\"e\":[],}", "{\"e\":[]} {}", "\x80"}) {
    EXPECT_TRUE(failsWith(decode(payload), ErrorCode::kBadRequest, "not JSON")) << payload;
  }
}

TEST(Lwm2mJsonTest, RefusesTheWrongShape) {
  EXPECT_TRUE(failsWith(decode("[]"), ErrorCode::kBadRequest, "must be an object with \"e\""));
  EXPECT_TRUE(failsWith(decode("{}"), ErrorCode::kBadRequest, "has no \"e\" array"));
  EXPECT_TRUE(failsWith(decode(R"({"e":{}})"), ErrorCode::kBadRequest, "\"e\" is not an array"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/9","v":1},"x"]})"), ErrorCode::kBadRequest,
                        "entry 1: is not an object"));
  EXPECT_TRUE(
      failsWith(decode(R"({"bn":3,"e":[]})"), ErrorCode::kBadRequest, "\"bn\" is not a string"));
  EXPECT_TRUE(
      failsWith(decode(R"({"bt":"x","e":[]})"), ErrorCode::kBadRequest, "\"bt\" is not a number"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/9","v":1,"t":null}]})"), ErrorCode::kBadRequest,
                        "entry 0: \"t\" is not a number"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/0","sv":"x","bv":true}]})"),
                        ErrorCode::kBadRequest, "has both \"bv\" and \"sv\""));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/0"}]})"), ErrorCode::kBadRequest,
                        "entry 0: /3/0/0 has no value"));
  EXPECT_TRUE(failsWith(decode(R"({"bn":"/3/0/","bn":"/4/0/","e":[]})"), ErrorCode::kBadRequest,
                        "duplicate key \"bn\""));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/0","sv":"x","sv":"y"}]})"),
                        ErrorCode::kBadRequest, "duplicate key \"sv\""));
}

TEST(Lwm2mJsonTest, RefusesNamesThatAreNotResourcePathsOrOutsideTheRequest) {
  EXPECT_TRUE(failsWith(decode(R"({"bn":"/3/0/","e":[{"n":"x","sv":"x"}]})"),
                        ErrorCode::kBadRequest, "entry 0: name path \"/3/0/x\""));
  EXPECT_TRUE(failsWith(decode(R"({"bn":"/3/","e":[{"n":"0","sv":"x"}]})"), ErrorCode::kBadRequest,
                        "name \"/3/0\" is not a resource path"));
  EXPECT_TRUE(failsWith(decode(R"({"bn":"3/0/","e":[{"n":"0","sv":"x"}]})"), ErrorCode::kBadRequest,
                        "must start with '/'"));
  EXPECT_TRUE(failsWith(decode(R"({"bn":"/3/0/","e":[{"n":"0","sv":"x"}]})", "/4"),
                        ErrorCode::kBadRequest, "entry 0: /3/0/0 is outside the request path /4"));
}

TEST(Lwm2mJsonTest, RefusesValuesTheModelDoesNotAllow) {
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"9999/0/1","v":0.5}]})"), ErrorCode::kBadRequest,
                        "\"v\" for /9999/0/1 (integer) is not integral"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"9999/0/2","v":-3}]})"), ErrorCode::kBadRequest,
                        "(unsigned) is not integral"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/9","sv":"1"}]})"), ErrorCode::kBadRequest,
                        "entry 0: \"sv\" does not fit /3/0/9 (integer)"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"9999/0/4","sv":"true"}]})"), ErrorCode::kBadRequest,
                        "(boolean)"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"9999/0/0","ov":"3:0"}]})"), ErrorCode::kBadRequest,
                        "\"ov\" does not fit /9999/0/0 (string)"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"9999/0/5","sv":"AQ=D"}]})"), ErrorCode::kBadRequest,
                        "entry 0: \"sv\" is not base64"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"9999/0/7","ov":"3-0"}]})"), ErrorCode::kBadRequest,
                        "\"ov\" \"3-0\" is not an objlnk"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/7","v":1}]})"), ErrorCode::kBadRequest,
                        "/3/0/7 is multiple-instance"));
}

TEST(Lwm2mJsonTest, Limits) {
  const std::string two = R"({"e":[{"n":"3/0/9","v":1},{"n":"3/0/9","v":2}]})";
  EXPECT_TRUE(decode(two, "/", DecodeLimits{.maxRecords = 2}).ok());
  EXPECT_TRUE(failsWith(decode(two, "/", DecodeLimits{.maxRecords = 1}), ErrorCode::kTooLarge,
                        "2 records, more than the limit of 1"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"3/0/9","v":[1]}]})"), ErrorCode::kBadRequest,
                        "JSON nested deeper than 3 levels"));
  std::string deep = "{\"e\":";
  for (int i = 0; i < 50000; ++i) deep += "[{\"x\":";
  EXPECT_TRUE(failsWith(decode(deep), ErrorCode::kBadRequest, "nested deeper than 3 levels"));
  EXPECT_TRUE(failsWith(decode(two, "/", DecodeLimits{.maxDepth = 2}), ErrorCode::kBadRequest,
                        "nested deeper than 2 levels"));
  EXPECT_TRUE(failsWith(decode(R"({"bt":1e999,"e":[]})"), ErrorCode::kBadRequest,
                        "number \"1e999\" is out of range"));
  EXPECT_TRUE(failsWith(decode(R"({"e":[{"n":"9999/0/1","v":123456789012345678901234567890}]})"),
                        ErrorCode::kBadRequest, "not integral or out of range"));
}

TEST(Lwm2mJsonTest, SeededCorruptionNeverCrashes) {
  const std::vector<std::string> seeds = {
      R"({"bn":"/3/0/","bt":1700000000,"e":[{"n":"0","sv":"Open Mobile Alliance"},)"
      R"({"n":"6/0","v":1},{"n":"9","v":95,"t":-5},{"n":"13","v":1367491215}]})",
      R"({"bn":"/9999/0/","e":[{"n":"1","v":-7},{"n":"2","v":18446744073709551615},)"
      R"({"n":"3","v":0.1},{"n":"4","bv":false},{"n":"5","sv":"+/8="},{"n":"6","v":-5},)"
      R"({"n":"7","ov":"3:0"},{"n":"8","sv":"</1>"},{"n":"9/0","v":1}]})",
      R"({"e":[{"n":"3303/0/5700","v":22.4,"t":-5},{"n":"6/0/0","v":45.5}],"bt":25462634})",
  };
  const std::vector<std::string> tokens = {
      "[",     "]", "{",       "}",       "\"",           ",",    ":",
      "1e999", "-", "\\u0000", "\"sv\":", "\"bn\":\"/\"", "null", "0"};
  std::mt19937 rng(11543);
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
  EXPECT_GT(decoded, 200u);
}

}  // namespace
}  // namespace lwgate::lwm2m
