#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gateway/lwm2m/codec_text.h"
#include "tests/unit/lwm2m/error_assertions.h"

namespace lwgate::lwm2m {
namespace {

using testing::failsWith;
using Bytes = std::vector<std::uint8_t>;

Bytes bytesOf(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

Record rec(Path path, Value value) {
  return Record{path, std::move(value), std::nullopt};
}

Result<std::vector<Record>> decodeText(std::string_view text, const Path& at,
                                       const DecodeLimits& limits = {}) {
  return text::decode(bytesOf(text), at, coreObjects(), limits);
}

Result<std::string> encodeText(const Value& value, const Path& at) {
  auto out = text::encode({rec(at, value)}, at);
  if (!out) return out.error();
  return std::string(out->begin(), out->end());
}

TEST(TextDecodeTest, TypesFromTheModel) {
  struct Case {
    const char* text;
    Path at;
    Value value;
  };
  const std::vector<Case> cases = {
      {"Open Mobile Alliance", Path::resource(3, 0, 0), Value::string("Open Mobile Alliance")},
      {"", Path::resource(3, 0, 0), Value::string("")},
      {"gr\xc3\xbc\xc3\x9f", Path::resource(3, 0, 15), Value::string("gr\xc3\xbc\xc3\x9f")},
      {"95", Path::resource(3, 0, 9), Value::integer(95)},
      {"-5", Path::resource(3, 0, 9), Value::integer(-5)},
      {"-9223372036854775808", Path::resource(3, 0, 9),
       Value::integer(std::numeric_limits<std::int64_t>::min())},
      {"5", Path::resourceInstance(3, 0, 6, 1), Value::integer(5)},
      {"18446744073709551615", Path::resource(1, 0, 13),
       Value::unsignedInteger(std::numeric_limits<std::uint64_t>::max())},
      {"-43.5", Path::resource(6, 0, 0), Value::floating(-43.5)},
      {"1e3", Path::resource(6, 0, 1), Value::floating(1000.0)},
      {"0.1", Path::resource(6, 0, 2), Value::floating(0.1)},
      {"7", Path::resource(6, 0, 3), Value::floating(7.0)},
      {"5e-324", Path::resource(6, 0, 3), Value::floating(5e-324)},  // subnormal
      {"-1.7976931348623157e+308", Path::resource(6, 0, 3),
       Value::floating(-1.7976931348623157e308)},
      {"1", Path::resource(1, 0, 6), Value::boolean(true)},
      {"0", Path::resource(1, 0, 6), Value::boolean(false)},
      {"1700000000", Path::resource(3, 0, 13), Value::time(1700000000)},
      {"-1", Path::resource(3, 0, 13), Value::time(-1)},
      {"3:0", Path::resource(1, 0, 10), Value::objlnk(3, 0)},
      {"65535:65535", Path::resource(1, 0, 10), Value::objlnk(65535, 65535)},
      {"aGVsbG8=", Path::resource(5, 0, 0), Value::opaque(bytesOf("hello"))},
      {"", Path::resource(5, 0, 0), Value::opaque({})},
      {"+/8=", Path::resource(0, 0, 3), Value::opaque({0xfb, 0xff})},
      {"Zg==", Path::resource(0, 0, 5), Value::opaque({'f'})},
      // Unknown resources are strings: never a guess.
      {"42", Path::resource(3, 0, 99), Value::string("42")},
      {"42", Path::resource(10241, 0, 1), Value::string("42")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.at.toString() + " " + c.text);
    auto r = decodeText(c.text, c.at);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, (std::vector<Record>{rec(c.at, c.value)}));
  }
}

TEST(TextDecodeTest, MalformedValues) {
  const Path battery = Path::resource(3, 0, 9);
  EXPECT_TRUE(failsWith(decodeText("abc", battery), ErrorCode::kBadRequest,
                        "text/plain: integer for /3/0/9 \"abc\" is not a decimal"));
  for (const char* bad : {"", "+5", " 5", "5 ", "5.0", "0x10", "-", "1-"}) {
    EXPECT_TRUE(failsWith(decodeText(bad, battery), ErrorCode::kBadRequest, "is not a decimal"))
        << bad;
  }
  EXPECT_TRUE(failsWith(decodeText("9223372036854775808", battery), ErrorCode::kBadRequest,
                        "is out of range"));
  EXPECT_TRUE(failsWith(decodeText("12x", Path::resource(3, 0, 13)), ErrorCode::kBadRequest,
                        "time for /3/0/13 \"12x\" is not a decimal"));
  EXPECT_TRUE(failsWith(decodeText("-1", Path::resource(1, 0, 13)), ErrorCode::kBadRequest,
                        "unsigned for /1/0/13 \"-1\" is not an unsigned decimal"));
  EXPECT_TRUE(failsWith(decodeText("18446744073709551616", Path::resource(1, 0, 13)),
                        ErrorCode::kBadRequest, "is out of range"));
  for (const char* bad : {"", "inf", "-inf", "nan", "NaN", "infinity", "1e999", "abc", "-", "1.5x",
                          " 1", "+1", "0x1p3"}) {
    EXPECT_TRUE(failsWith(decodeText(bad, Path::resource(6, 0, 0)), ErrorCode::kBadRequest,
                          "is not a finite decimal number"))
        << bad;
  }
  for (const char* bad : {"2", "true", "", "01", " 1"}) {
    EXPECT_TRUE(failsWith(decodeText(bad, Path::resource(1, 0, 6)), ErrorCode::kBadRequest,
                          "is not 0 or 1"))
        << bad;
  }
  for (const char* bad : {"3", "3:", ":0", "3:0:1", "65536:0", "3:-1", "a:b", ""}) {
    EXPECT_TRUE(failsWith(decodeText(bad, Path::resource(1, 0, 10)), ErrorCode::kBadRequest,
                          "is not \"object:instance\""))
        << bad;
  }
  const Path package = Path::resource(5, 0, 0);
  EXPECT_TRUE(failsWith(decodeText("abc", package), ErrorCode::kBadRequest,
                        "opaque for /5/0/0 is not base64: length 3 is not a multiple of 4"));
  EXPECT_TRUE(
      failsWith(decodeText("ab=c", package), ErrorCode::kBadRequest, "has \"=\" at offset 2"));
  EXPECT_TRUE(failsWith(decodeText("a===", package), ErrorCode::kBadRequest, "has \"=\""));
  EXPECT_TRUE(failsWith(decodeText("aGVs bG8=", package), ErrorCode::kBadRequest, "not base64"));
  EXPECT_TRUE(failsWith(decodeText("aGVsbG8-", package), ErrorCode::kBadRequest,
                        "has \"-\" at offset 7"));  // base64url is not text/plain's alphabet
  EXPECT_TRUE(failsWith(decodeText("\xc3\x28", Path::resource(3, 0, 0)), ErrorCode::kBadRequest,
                        "string for /3/0/0 is not valid UTF-8"));
  EXPECT_TRUE(failsWith(decodeText("\xc3\x28", Path::resource(3, 0, 99)), ErrorCode::kBadRequest,
                        "not valid UTF-8"));
}

TEST(TextDecodeTest, EchoesLittleOfTheInput) {
  const std::string longText = std::string(200, '7') + "x";
  EXPECT_TRUE(failsWith(decodeText(longText, Path::resource(3, 0, 9)), ErrorCode::kBadRequest,
                        "...\" is not a decimal"));
  EXPECT_TRUE(failsWith(decodeText("\x01\n\xff", Path::resource(3, 0, 9)), ErrorCode::kBadRequest,
                        "\"\\x01\\x0A\\xFF\" is not a decimal"));
}

TEST(TextDecodeTest, NeedsAResourcePath) {
  EXPECT_TRUE(failsWith(decodeText("1", Path::instance(3, 0)), ErrorCode::kBadRequest,
                        "text/plain: needs a resource or resource instance path, got /3/0"));
  EXPECT_TRUE(failsWith(decodeText("1", Path()), ErrorCode::kBadRequest, "got /"));
  EXPECT_TRUE(failsWith(text::decodeOpaque(bytesOf("x"), Path::object(5)), ErrorCode::kBadRequest,
                        "opaque: needs a resource or resource instance path, got /5"));
  DecodeLimits none;
  none.maxRecords = 0;
  EXPECT_TRUE(
      failsWith(decodeText("1", Path::resource(3, 0, 9), none), ErrorCode::kTooLarge, "records"));
}

TEST(TextEncodeTest, EveryType) {
  EXPECT_EQ(*encodeText(Value::string("a b\nc"), Path::resource(3, 0, 0)), "a b\nc");
  EXPECT_EQ(*encodeText(Value::integer(-95), Path::resource(3, 0, 9)), "-95");
  EXPECT_EQ(*encodeText(Value::unsignedInteger(18446744073709551615u), Path::resource(1, 0, 13)),
            "18446744073709551615");
  EXPECT_EQ(*encodeText(Value::floating(0.1), Path::resource(6, 0, 0)), "0.1");
  EXPECT_EQ(*encodeText(Value::floating(-43.5), Path::resource(6, 0, 0)), "-43.5");
  EXPECT_EQ(*encodeText(Value::floating(2.0), Path::resource(6, 0, 0)), "2");
  EXPECT_EQ(*encodeText(Value::boolean(true), Path::resource(1, 0, 6)), "1");
  EXPECT_EQ(*encodeText(Value::boolean(false), Path::resource(1, 0, 6)), "0");
  EXPECT_EQ(*encodeText(Value::time(1700000000), Path::resource(3, 0, 13)), "1700000000");
  EXPECT_EQ(*encodeText(Value::objlnk(3, 0), Path::resource(1, 0, 10)), "3:0");
  EXPECT_EQ(*encodeText(Value::opaque(bytesOf("hello")), Path::resource(5, 0, 0)), "aGVsbG8=");
  EXPECT_EQ(*encodeText(Value::integer(5), Path::resourceInstance(3, 0, 6, 1)), "5");
}

TEST(TextEncodeTest, RefusesWhatTextCannotCarry) {
  const Path at = Path::resource(6, 0, 0);
  EXPECT_TRUE(failsWith(encodeText(Value::floating(std::numeric_limits<double>::infinity()), at),
                        ErrorCode::kBadRequest, "text/plain: float for /6/0/0 is not finite"));
  EXPECT_TRUE(failsWith(encodeText(Value::floating(std::nan("")), at), ErrorCode::kBadRequest,
                        "not finite"));
  EXPECT_TRUE(failsWith(encodeText(Value::string("\xff"), Path::resource(3, 0, 0)),
                        ErrorCode::kBadRequest, "string for /3/0/0 is not UTF-8"));
  EXPECT_TRUE(failsWith(text::encode({}, at), ErrorCode::kBadRequest,
                        "text/plain: takes exactly one record, got 0"));
  EXPECT_TRUE(
      failsWith(text::encode({rec(at, Value::floating(1)), rec(at, Value::floating(2))}, at),
                ErrorCode::kBadRequest, "exactly one record, got 2"));
  EXPECT_TRUE(failsWith(text::encode({rec(Path::resource(6, 0, 1), Value::floating(1))}, at),
                        ErrorCode::kBadRequest,
                        "text/plain: record /6/0/1 is not the request path /6/0/0"));
  EXPECT_TRUE(
      failsWith(text::encode({rec(Path::instance(6, 0), Value::floating(1))}, Path::instance(6, 0)),
                ErrorCode::kBadRequest, "needs a resource or resource instance path"));
}

TEST(TextRoundTripTest, SeededValuesOfEveryType) {
  std::mt19937 rng(42);
  const Path intPath = Path::resource(3, 0, 9);
  const Path uintPath = Path::resource(1, 0, 13);
  const Path floatPath = Path::resource(6, 0, 0);
  const Path timePath = Path::resource(3, 0, 13);
  const Path linkPath = Path::resource(1, 0, 10);
  const Path opaquePath = Path::resource(5, 0, 0);
  const Path stringPath = Path::resource(3, 0, 0);
  auto roundTrip = [](const Value& v, const Path& at) {
    auto out = text::encode({rec(at, v)}, at);
    ASSERT_TRUE(out.ok()) << out.error().message;
    auto back = text::decode(*out, at, coreObjects(), {});
    ASSERT_TRUE(back.ok()) << back.error().message;
    ASSERT_EQ(*back, (std::vector<Record>{rec(at, v)}));
  };
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t u = (std::uint64_t{rng()} << 32) | rng();
    const int shift = static_cast<int>(rng() % 64);
    roundTrip(Value::integer(static_cast<std::int64_t>(u) >> shift), intPath);
    roundTrip(Value::unsignedInteger(u >> shift), uintPath);
    roundTrip(Value::time(static_cast<std::int64_t>(u) >> shift), timePath);
    // Any finite double, from random bits (the exponent decides: no loop needed).
    const std::uint64_t bits = (std::uint64_t{rng()} << 32) | rng();
    double d = std::bit_cast<double>(bits);
    if (!std::isfinite(d)) d = std::bit_cast<double>(bits & ~(std::uint64_t{1} << 62));
    roundTrip(Value::floating(d), floatPath);
    roundTrip(Value::floating(static_cast<double>(static_cast<std::int32_t>(rng())) / 1024),
              floatPath);
    roundTrip(Value::boolean(rng() % 2 == 0), Path::resource(1, 0, 6));
    roundTrip(Value::objlnk(static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng())),
              linkPath);
    Opaque o(rng() % 40);
    for (auto& b : o) b = static_cast<std::uint8_t>(rng());
    roundTrip(Value::opaque(o), opaquePath);
    std::string s;
    for (std::size_t k = rng() % 30; k > 0; --k) s += static_cast<char>(0x20 + rng() % 0x5f);
    roundTrip(Value::string(s), stringPath);
  }
}

TEST(OpaqueFormatTest, RawBytesBothWays) {
  const Path at = Path::resource(5, 0, 0);
  const Bytes payload = {0x00, 0xff, 0x10, 0x80};
  auto r = text::decodeOpaque(payload, at);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<Record>{rec(at, Value::opaque(payload))}));
  // Content-Format 42 is opaque whatever the model says about the resource.
  auto typed = text::decodeOpaque(payload, Path::resource(3, 0, 9));
  ASSERT_TRUE(typed.ok());
  EXPECT_EQ((*typed)[0].value, Value::opaque(payload));
  auto empty = text::decodeOpaque({}, at);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ((*empty)[0].value, Value::opaque({}));

  auto out = text::encodeOpaque({rec(at, Value::opaque(payload))}, at);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, payload);
  EXPECT_TRUE(failsWith(text::encodeOpaque({rec(at, Value::string("x"))}, at),
                        ErrorCode::kBadRequest, "opaque: value for /5/0/0 is string, not opaque"));
  EXPECT_TRUE(failsWith(text::encodeOpaque({}, at), ErrorCode::kBadRequest,
                        "opaque: takes exactly one record, got 0"));
}

}  // namespace
}  // namespace lwgate::lwm2m
