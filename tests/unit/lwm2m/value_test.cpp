#include "gateway/lwm2m/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace lwgate::lwm2m {
namespace {

Record rec(Path path, Value value) {
  return Record{path, std::move(value), std::nullopt};
}

TEST(ValueTest, TypeFollowsTheVariant) {
  EXPECT_EQ(Value().type(), DataType::kString);
  EXPECT_EQ(Value::string("x").type(), DataType::kString);
  EXPECT_EQ(Value::integer(-1).type(), DataType::kInteger);
  EXPECT_EQ(Value::unsignedInteger(1).type(), DataType::kUnsignedInteger);
  EXPECT_EQ(Value::floating(1.5).type(), DataType::kFloat);
  EXPECT_EQ(Value::boolean(true).type(), DataType::kBoolean);
  EXPECT_EQ(Value::opaque({1, 2}).type(), DataType::kOpaque);
  EXPECT_EQ(Value::time(5).type(), DataType::kTime);
  EXPECT_EQ(Value::objlnk(3, 0).type(), DataType::kObjlnk);
  EXPECT_EQ(*Value::objlnk(3, 1).get<Objlnk>(), (Objlnk{3, 1}));
  EXPECT_EQ(Value::integer(1).get<std::uint64_t>(), nullptr);
}

TEST(ValueTest, DataTypeNames) {
  EXPECT_EQ(dataTypeName(DataType::kString), "string");
  EXPECT_EQ(dataTypeName(DataType::kInteger), "integer");
  EXPECT_EQ(dataTypeName(DataType::kUnsignedInteger), "unsigned");
  EXPECT_EQ(dataTypeName(DataType::kFloat), "float");
  EXPECT_EQ(dataTypeName(DataType::kBoolean), "boolean");
  EXPECT_EQ(dataTypeName(DataType::kOpaque), "opaque");
  EXPECT_EQ(dataTypeName(DataType::kTime), "time");
  EXPECT_EQ(dataTypeName(DataType::kObjlnk), "objlnk");
  EXPECT_EQ(dataTypeName(DataType::kCoreLink), "corelnk");
}

TEST(ValueJsonTest, DocumentedExample) {
  const std::vector<Record> records = {
      rec(Path::resource(3, 0, 0), Value::string("Open Mobile Alliance")),
      rec(Path::resource(3, 0, 9), Value::integer(95)),
      rec(Path::resource(5, 0, 0), Value::opaque({'h', 'e', 'l', 'l', 'o'})),
      rec(Path::resource(3, 0, 13), Value::time(1700000000)),
      rec(Path::resource(4, 0, 10), Value::objlnk(3, 0)),
  };
  EXPECT_EQ(toJson(records), R"([{"path":"/3/0/0","type":"string","value":"Open Mobile Alliance"},)"
                             R"({"path":"/3/0/9","type":"integer","value":95},)"
                             R"({"path":"/5/0/0","type":"opaque","value":"aGVsbG8="},)"
                             R"({"path":"/3/0/13","type":"time","value":1700000000},)"
                             R"({"path":"/4/0/10","type":"objlnk","value":"3:0"}])");
}

TEST(ValueJsonTest, EmptyList) {
  EXPECT_EQ(toJson({}), "[]");
}

TEST(ValueJsonTest, EveryScalarType) {
  EXPECT_EQ(
      toJson({rec(Path::resourceInstance(3, 0, 6, 1), Value::integer(-9223372036854775807 - 1))}),
      R"([{"path":"/3/0/6/1","type":"integer","value":-9223372036854775808}])");
  EXPECT_EQ(toJson({rec(Path::resource(1, 0, 13), Value::unsignedInteger(18446744073709551615u))}),
            R"([{"path":"/1/0/13","type":"unsigned","value":18446744073709551615}])");
  EXPECT_EQ(toJson({rec(Path::resource(1, 0, 6), Value::boolean(true)),
                    rec(Path::resource(1, 0, 15), Value::boolean(false))}),
            R"([{"path":"/1/0/6","type":"boolean","value":true},)"
            R"({"path":"/1/0/15","type":"boolean","value":false}])");
  EXPECT_EQ(toJson({rec(Path::resource(6, 0, 0), Value::floating(-43.5))}),
            R"([{"path":"/6/0/0","type":"float","value":-43.5}])");
  EXPECT_EQ(toJson({rec(Path::resource(3, 0, 13), Value::time(-1))}),
            R"([{"path":"/3/0/13","type":"time","value":-1}])");
  EXPECT_EQ(toJson({rec(Path::resource(4, 0, 10), Value::objlnk(65535, 65535))}),
            R"([{"path":"/4/0/10","type":"objlnk","value":"65535:65535"}])");
}

TEST(ValueJsonTest, OpaqueIsBase64WithPadding) {
  auto json = [](Opaque o) { return toJson({rec(Path::resource(5, 0, 0), Value::opaque(o))}); };
  const std::string prefix = R"([{"path":"/5/0/0","type":"opaque","value":")";
  EXPECT_EQ(json({}), prefix + R"("}])");
  EXPECT_EQ(json({'f'}), prefix + R"(Zg=="}])");
  EXPECT_EQ(json({'f', 'o'}), prefix + R"(Zm8="}])");
  EXPECT_EQ(json({'f', 'o', 'o'}), prefix + R"(Zm9v"}])");
  EXPECT_EQ(json({'f', 'o', 'o', 'b', 'a', 'r'}), prefix + R"(Zm9vYmFy"}])");
  EXPECT_EQ(json({0xff, 0xfe, 0x00}), prefix + R"(//4A"}])");
  EXPECT_EQ(json({0xfb, 0xff}), prefix + R"(+/8="}])");
}

TEST(ValueJsonTest, StringsAreEscapedPerRfc8259) {
  auto json = [](std::string s) {
    return toJson({rec(Path::resource(3, 0, 0), Value::string(std::move(s)))});
  };
  const std::string prefix = R"([{"path":"/3/0/0","type":"string","value":)";
  EXPECT_EQ(json("a\"b\\c/d"), prefix + R"("a\"b\\c/d"}])");
  EXPECT_EQ(json(std::string("\n\t\r\b\f\x01\x1f", 7)),
            prefix + R"("\u000a\u0009\u000d\u0008\u000c\u0001\u001f"}])");
  EXPECT_EQ(json(std::string("a\0b", 3)), prefix + R"("a\u0000b"}])");
  EXPECT_EQ(json("\x7f"), prefix + "\"\x7f\"}]");
  // Well-formed UTF-8 passes through; anything else becomes U+FFFD.
  EXPECT_EQ(json("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"),
            prefix + "\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80\"}]");
  EXPECT_EQ(json("a\xff"
                 "b"),
            prefix +
                "\"a\xef\xbf\xbd"
                "b\"}]");
  EXPECT_EQ(json("\xc0\xaf"), prefix + "\"\xef\xbf\xbd\xef\xbf\xbd\"}]");  // overlong '/'
  EXPECT_EQ(json("\xed\xa0\x80"), prefix + "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}]");
  EXPECT_EQ(json("\xe2\x82"), prefix + "\"\xef\xbf\xbd\xef\xbf\xbd\"}]");  // truncated
}

TEST(ValueJsonTest, FloatsRoundTripAndNonFiniteIsNull) {
  const std::vector<double> samples = {
      0.1, 1.0 / 3.0, 1e300, -2.5e-308, 5e-324, 1.0e21, 123456789.0, -0.0, 3.4028234663852886e38};
  for (double d : samples) {
    const std::string json = toJson({rec(Path::resource(6, 0, 0), Value::floating(d))});
    const std::string prefix = R"([{"path":"/6/0/0","type":"float","value":)";
    ASSERT_EQ(json.rfind(prefix, 0), 0u) << json;
    const std::string number = json.substr(prefix.size(), json.size() - prefix.size() - 2);
    EXPECT_EQ(std::strtod(number.c_str(), nullptr), d) << number;
    EXPECT_EQ(std::signbit(std::strtod(number.c_str(), nullptr)), std::signbit(d)) << number;
  }
  EXPECT_EQ(toJson({rec(Path::resource(6, 0, 0), Value::floating(0.1))}),
            R"([{"path":"/6/0/0","type":"float","value":0.1}])");
  for (double d :
       {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_EQ(toJson({rec(Path::resource(6, 0, 0), Value::floating(d))}),
              R"([{"path":"/6/0/0","type":"float","value":null}])");
  }
}

TEST(ValueJsonTest, TimestampAddsTime) {
  Record r = rec(Path::resource(3303, 0, 5700), Value::floating(21.5));
  r.timestamp = 1700000000.25;
  EXPECT_EQ(toJson({r}),
            R"([{"path":"/3303/0/5700","type":"float","value":21.5,"time":1700000000.25}])");
  r.timestamp = -5;
  EXPECT_EQ(toJson({r}), R"([{"path":"/3303/0/5700","type":"float","value":21.5,"time":-5}])");
  r.timestamp = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(toJson({r}), R"([{"path":"/3303/0/5700","type":"float","value":21.5,"time":null}])");
}

TEST(ValueTest, Utf8Validation) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(
      isValidUtf8("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(isValidUtf8("\x80"));
  EXPECT_FALSE(isValidUtf8("\xc1\xbf"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xe0\x9f\xbf"));      // overlong
  EXPECT_FALSE(isValidUtf8("\xed\xbf\xbf"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(isValidUtf8("\xe2\x82"));  // truncated
  EXPECT_FALSE(isValidUtf8("\xe2\x28\xa1"));
}

}  // namespace
}  // namespace lwgate::lwm2m
