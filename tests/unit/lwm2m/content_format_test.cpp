#include "gateway/lwm2m/content_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/lwm2m/object_model.h"
#include "tests/unit/lwm2m/error_assertions.h"

namespace lwgate::lwm2m {
namespace {

using testing::failsWith;
using Bytes = std::vector<std::uint8_t>;

Record rec(Path path, Value value) {
  return Record{path, std::move(value), std::nullopt};
}

TEST(ContentFormatTest, AlwaysSupportedFormats) {
  for (std::uint16_t f : {format::kTextPlain, format::kOpaque, format::kTlv, format::kLegacyTlv}) {
    EXPECT_TRUE(isSupportedFormat(f)) << f;
  }
  for (std::uint16_t f : {format::kLinkFormat, std::uint16_t{50}, std::uint16_t{60},
                          std::uint16_t{9999}, std::uint16_t{65535}}) {
    EXPECT_FALSE(isSupportedFormat(f)) << f;
  }
}

TEST(ContentFormatTest, DispatchesTlvUnderBothNumbers) {
  const Bytes payload = {0xC1, 0x09, 0x64, 0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05};
  const std::vector<Record> expected = {
      rec(Path::resource(3, 0, 9), Value::integer(100)),
      rec(Path::resourceInstance(3, 0, 6, 0), Value::integer(1)),
      rec(Path::resourceInstance(3, 0, 6, 1), Value::integer(5)),
  };
  for (std::uint16_t f : {format::kTlv, format::kLegacyTlv}) {
    auto r = decode(f, payload, Path::instance(3, 0), coreObjects());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, expected);
    auto out = encode(f, expected, Path::instance(3, 0));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, payload);
  }
}

TEST(ContentFormatTest, DispatchesTextAndOpaque) {
  const Path battery = Path::resource(3, 0, 9);
  const Bytes text = {'9', '5'};
  auto asText = decode(format::kTextPlain, text, battery, coreObjects());
  ASSERT_TRUE(asText.ok()) << asText.error().message;
  EXPECT_EQ(*asText, (std::vector<Record>{rec(battery, Value::integer(95))}));
  auto asOpaque = decode(format::kOpaque, text, battery, coreObjects());
  ASSERT_TRUE(asOpaque.ok()) << asOpaque.error().message;
  EXPECT_EQ(*asOpaque, (std::vector<Record>{rec(battery, Value::opaque(text))}));

  auto out = encode(format::kTextPlain, {rec(battery, Value::integer(95))}, battery);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, text);
  out = encode(format::kOpaque, {rec(battery, Value::opaque(text))}, battery);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, text);
}

TEST(ContentFormatTest, DecodeLimitsReachTheCodec) {
  DecodeLimits limits;
  limits.maxRecords = 1;
  const Bytes payload = {0xC1, 0x09, 0x64, 0xC1, 0x0A, 0x0F};
  EXPECT_TRUE(failsWith(decode(format::kTlv, payload, Path::instance(3, 0), coreObjects(), limits),
                        ErrorCode::kTooLarge, "more than 1 records"));
}

TEST(ContentFormatTest, LinkFormatAndUnknownFormatsAreUnsupported) {
  const Bytes payload = {'<', '/', '3', '>'};
  EXPECT_TRUE(failsWith(decode(format::kLinkFormat, payload, Path::object(3), coreObjects()),
                        ErrorCode::kUnsupportedFormat,
                        "Content-Format 40 (link-format) carries no resource values"));
  EXPECT_TRUE(failsWith(decode(9999, payload, Path::object(3), coreObjects()),
                        ErrorCode::kUnsupportedFormat, "Content-Format 9999 is not supported"));
  const std::vector<Record> one = {rec(Path::resource(3, 0, 9), Value::integer(1))};
  EXPECT_TRUE(failsWith(encode(format::kLinkFormat, one, Path::resource(3, 0, 9)),
                        ErrorCode::kUnsupportedFormat, "link-format"));
  EXPECT_TRUE(failsWith(encode(60, one, Path::resource(3, 0, 9)), ErrorCode::kUnsupportedFormat,
                        "Content-Format 60 is not supported"));
}

// The JSON and CBOR codecs are built only when their sources are present: then a malformed
// payload reaches the codec (a kBadRequest, not kUnsupportedFormat); otherwise the format is
// unsupported, both ways.
TEST(ContentFormatTest, JsonAndCborFormatsFollowIsSupportedFormat) {
  const Bytes garbage = {0xff, 0x00, '{', 0x13};
  for (std::uint16_t f : {format::kSenmlJson, format::kSenmlCbor, format::kLwm2mJson,
                          format::kLegacyJson, format::kLwm2mCbor}) {
    SCOPED_TRACE(f);
    auto r = decode(f, garbage, Path::instance(3, 0), coreObjects());
    ASSERT_FALSE(r.ok());
    if (isSupportedFormat(f)) {
      EXPECT_EQ(r.error().code, ErrorCode::kBadRequest) << r.error().message;
    } else {
      EXPECT_EQ(r.error().code, ErrorCode::kUnsupportedFormat) << r.error().message;
      EXPECT_TRUE(failsWith(encode(f, {}, Path::instance(3, 0)), ErrorCode::kUnsupportedFormat,
                            "is not supported"));
    }
  }
  EXPECT_EQ(isSupportedFormat(format::kLwm2mJson), isSupportedFormat(format::kLegacyJson));
}

TEST(ContentFormatTest, EncodeKeepsRecordsWithinTheRequestPath) {
  for (std::uint16_t f : {format::kTlv, format::kTextPlain, format::kOpaque}) {
    SCOPED_TRACE(f);
    EXPECT_TRUE(failsWith(
        encode(f, {rec(Path::resource(3, 1, 9), Value::integer(1))}, Path::instance(3, 0)),
        ErrorCode::kBadRequest, "record /3/1/9 is outside /3/0"));
    EXPECT_TRUE(failsWith(encode(f, {rec(Path::object(3), Value::integer(1))}, Path::object(3)),
                          ErrorCode::kBadRequest, "record /3 is not a resource"));
  }
}

TEST(CoreObjectsTest, DeviceObject) {
  const ObjectModel& m = coreObjects();
  struct Expect {
    std::uint16_t id;
    DataType type;
    bool multiple;
    bool executable;
  };
  using D = DataType;
  const std::vector<Expect> device = {
      {0, D::kString, false, false},   {1, D::kString, false, false},
      {2, D::kString, false, false},   {3, D::kString, false, false},
      {4, D::kOpaque, false, true},    {5, D::kOpaque, false, true},
      {6, D::kInteger, true, false},   {7, D::kInteger, true, false},
      {8, D::kInteger, true, false},   {9, D::kInteger, false, false},
      {10, D::kInteger, false, false}, {11, D::kInteger, true, false},
      {12, D::kOpaque, false, true},   {13, D::kTime, false, false},
      {14, D::kString, false, false},  {15, D::kString, false, false},
      {16, D::kString, false, false},  {17, D::kString, false, false},
      {18, D::kString, false, false},  {19, D::kString, false, false},
      {20, D::kInteger, false, false}, {21, D::kInteger, false, false},
      {22, D::kObjlnk, true, false},
  };
  for (const auto& e : device) {
    SCOPED_TRACE(e.id);
    auto info = m.resource(3, e.id);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->type, e.type);
    EXPECT_EQ(info->multiple, e.multiple);
    EXPECT_EQ(info->executable, e.executable);
  }
  EXPECT_FALSE(m.resource(3, 23).has_value());
}

TEST(CoreObjectsTest, ServerObject) {
  const ObjectModel& m = coreObjects();
  using D = DataType;
  const std::vector<std::pair<std::uint16_t, D>> values = {
      {0, D::kInteger},          {1, D::kInteger},
      {2, D::kInteger},          {3, D::kInteger},
      {5, D::kInteger},          {6, D::kBoolean},
      {7, D::kString},           {10, D::kObjlnk},
      {11, D::kUnsignedInteger}, {12, D::kTime},
      {13, D::kUnsignedInteger}, {14, D::kUnsignedInteger},
      {15, D::kBoolean},         {16, D::kBoolean},
      {17, D::kUnsignedInteger}, {18, D::kUnsignedInteger},
      {19, D::kUnsignedInteger}, {20, D::kUnsignedInteger},
      {21, D::kBoolean},         {22, D::kString},
      {23, D::kBoolean},
  };
  for (const auto& [id, type] : values) {
    SCOPED_TRACE(id);
    auto info = m.resource(1, id);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->type, type);
    EXPECT_FALSE(info->multiple);
    EXPECT_FALSE(info->executable);
  }
  for (std::uint16_t id : {4, 8, 9}) {
    auto info = m.resource(1, id);
    ASSERT_TRUE(info.has_value()) << id;
    EXPECT_TRUE(info->executable) << id;
  }
}

TEST(CoreObjectsTest, OtherCoreObjects) {
  const ObjectModel& m = coreObjects();
  auto is = [&](std::uint16_t o, std::uint16_t r, DataType type, bool multiple = false) {
    auto info = m.resource(o, r);
    return info.has_value() && info->type == type && info->multiple == multiple &&
           !info->executable;
  };
  EXPECT_TRUE(is(0, 0, DataType::kString));
  EXPECT_TRUE(is(0, 1, DataType::kBoolean));
  EXPECT_TRUE(is(0, 3, DataType::kOpaque));
  EXPECT_TRUE(is(0, 10, DataType::kInteger));
  EXPECT_TRUE(is(0, 16, DataType::kUnsignedInteger, true));
  EXPECT_TRUE(is(0, 17, DataType::kObjlnk));
  EXPECT_TRUE(is(2, 2, DataType::kInteger, true));
  EXPECT_TRUE(is(2, 3, DataType::kInteger));
  EXPECT_TRUE(is(4, 1, DataType::kInteger, true));
  EXPECT_TRUE(is(4, 4, DataType::kString, true));
  EXPECT_TRUE(is(4, 7, DataType::kString, true));
  EXPECT_TRUE(is(5, 0, DataType::kOpaque));
  EXPECT_TRUE(is(5, 1, DataType::kString));
  EXPECT_TRUE(is(5, 3, DataType::kInteger));
  EXPECT_TRUE(is(5, 5, DataType::kInteger));
  EXPECT_TRUE(is(5, 8, DataType::kInteger, true));
  EXPECT_TRUE(is(6, 0, DataType::kFloat));
  EXPECT_TRUE(is(6, 4, DataType::kOpaque));
  EXPECT_TRUE(is(6, 5, DataType::kTime));
  EXPECT_TRUE(is(7, 8, DataType::kInteger));
  EXPECT_TRUE(m.resource(5, 2)->executable);
  EXPECT_TRUE(m.resource(7, 6)->executable);
  EXPECT_TRUE(m.resource(7, 7)->executable);
  EXPECT_FALSE(m.resource(5, 4).has_value());  // withdrawn before 1.0
  EXPECT_FALSE(m.resource(8, 0).has_value());
  EXPECT_FALSE(m.resource(3303, 5700).has_value());
  EXPECT_FALSE(m.resource(65535, 65535).has_value());
}

}  // namespace
}  // namespace lwgate::lwm2m
