// Typing of command-line values, hex/base64 and device object paths (cli/values.h).
#include "cli/values.h"

#include <gtest/gtest.h>
#include <systemd/sd-bus.h>

#include <cstdlib>

namespace lwgate::cli {
namespace {

Value parsed(std::string_view text, ValueType type) {
  auto v = parseValue(text, type);
  EXPECT_TRUE(v.ok()) << text << ": " << (v ? "" : v.error().message);
  return v ? *v : Value{};
}

std::string failure(std::string_view text, ValueType type) {
  auto v = parseValue(text, type);
  EXPECT_FALSE(v.ok()) << text;
  return v ? "" : v.error().message;
}

TEST(ValueTypes, NamesRoundTrip) {
  for (const auto& name : valueTypeNames()) EXPECT_TRUE(parseValueType(name).ok()) << name;
  EXPECT_FALSE(parseValueType("int").ok());
  EXPECT_FALSE(parseValueType("").ok());
}

TEST(ParseValue, AutoAndStringKeepTheText) {
  EXPECT_EQ(parsed("300", ValueType::kAuto), Value{std::string("300")});
  EXPECT_EQ(parsed("", ValueType::kString), Value{std::string()});
  EXPECT_EQ(parsed("a b=c", ValueType::kString), Value{std::string("a b=c")});
}

TEST(ParseValue, Integers) {
  EXPECT_EQ(parsed("-5", ValueType::kInteger), Value{std::int64_t{-5}});
  EXPECT_EQ(parsed("9223372036854775807", ValueType::kInteger), Value{INT64_MAX});
  EXPECT_EQ(failure("9223372036854775808", ValueType::kInteger),
            "'9223372036854775808' is not an integer");
  EXPECT_EQ(failure("12abc", ValueType::kInteger), "'12abc' is not an integer");
  failure("", ValueType::kInteger);
  failure("1.0", ValueType::kInteger);
  EXPECT_EQ(parsed("18446744073709551615", ValueType::kUnsigned), Value{UINT64_MAX});
  failure("-1", ValueType::kUnsigned);
}

TEST(ParseValue, Floats) {
  EXPECT_EQ(parsed("1.5", ValueType::kFloat), Value{1.5});
  EXPECT_EQ(parsed("-2e3", ValueType::kFloat), Value{-2000.0});
  EXPECT_EQ(parsed("7", ValueType::kFloat), Value{7.0});
  failure("nan", ValueType::kFloat);
  failure("inf", ValueType::kFloat);
  failure("1e999", ValueType::kFloat);
  failure("0x10", ValueType::kFloat);
  failure("1.5x", ValueType::kFloat);
  failure("", ValueType::kFloat);
}

TEST(ParseValue, Booleans) {
  EXPECT_EQ(parsed("true", ValueType::kBoolean), Value{true});
  EXPECT_EQ(parsed("1", ValueType::kBoolean), Value{true});
  EXPECT_EQ(parsed("false", ValueType::kBoolean), Value{false});
  EXPECT_EQ(parsed("0", ValueType::kBoolean), Value{false});
  EXPECT_EQ(failure("yes", ValueType::kBoolean), "'yes' is not a boolean (true, false, 1 or 0)");
}

TEST(ParseValue, OpaqueIsHexOrPrefixedBase64) {
  EXPECT_EQ(parsed("00ff10", ValueType::kOpaque), Value(Bytes{0x00, 0xff, 0x10}));
  EXPECT_EQ(parsed("0xDEADbeef", ValueType::kOpaque), Value(Bytes{0xde, 0xad, 0xbe, 0xef}));
  EXPECT_EQ(parsed("", ValueType::kOpaque), Value(Bytes{}));
  EXPECT_EQ(parsed("base64:AP8Q", ValueType::kOpaque), Value(Bytes{0x00, 0xff, 0x10}));
  EXPECT_EQ(parsed("base64:AA==", ValueType::kOpaque), Value(Bytes{0x00}));
  failure("abc", ValueType::kOpaque);  // odd number of digits
  failure("zz", ValueType::kOpaque);   // not hex
  failure("base64:AA=", ValueType::kOpaque);
  failure("base64:A===", ValueType::kOpaque);
  failure("base64:AA==AA==", ValueType::kOpaque);  // padding in the middle
}

TEST(ParseValue, TimeIsUnixSecondsOrRfc3339) {
  EXPECT_EQ(parsed("1700000000", ValueType::kTime), Value{std::int64_t{1700000000}});
  EXPECT_EQ(parsed("-1", ValueType::kTime), Value{std::int64_t{-1}});
  EXPECT_EQ(parsed("2023-11-14T22:13:20Z", ValueType::kTime), Value{std::int64_t{1700000000}});
  EXPECT_EQ(parsed("2023-11-14T23:13:20+01:00", ValueType::kTime), Value{std::int64_t{1700000000}});
  EXPECT_EQ(parsed("2023-11-14T20:43:20-01:30", ValueType::kTime), Value{std::int64_t{1700000000}});
  EXPECT_EQ(parsed("1970-01-01T00:00:00Z", ValueType::kTime), Value{std::int64_t{0}});
  failure("2023-02-30T00:00:00Z", ValueType::kTime);  // no such day
  failure("2023-11-14 22:13:20Z", ValueType::kTime);
  failure("2023-11-14T22:13:20", ValueType::kTime);  // no zone
  failure("2023-11-14T24:00:00Z", ValueType::kTime);
  failure("yesterday", ValueType::kTime);
}

TEST(ParseValue, ObjectLinkIsSentAsText) {
  EXPECT_EQ(parsed("3:0", ValueType::kObjlnk), Value{std::string("3:0")});
  EXPECT_EQ(parsed("65535:65535", ValueType::kObjlnk), Value{std::string("65535:65535")});
  failure("3", ValueType::kObjlnk);
  failure("65536:0", ValueType::kObjlnk);
  failure("3:-1", ValueType::kObjlnk);
  failure(":0", ValueType::kObjlnk);
}

TEST(ResourceAssignment, KeyTypeAndValue) {
  auto a = parseResourceAssignment("1=300", ValueType::kAuto);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->key, "1");
  EXPECT_EQ(a->value, Value{std::string("300")});

  a = parseResourceAssignment("2:integer=-7", ValueType::kAuto);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->key, "2");
  EXPECT_EQ(a->value, Value{std::int64_t{-7}});

  // The default type applies where no type is named; "=" inside the value is kept.
  a = parseResourceAssignment("7/0=a=b", ValueType::kString);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->key, "7/0");
  EXPECT_EQ(a->value, Value{std::string("a=b")});

  a = parseResourceAssignment("5=00ff", ValueType::kOpaque);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, Value(Bytes{0x00, 0xff}));
}

TEST(ResourceAssignment, Errors) {
  EXPECT_FALSE(parseResourceAssignment("300", ValueType::kAuto).ok());
  EXPECT_FALSE(parseResourceAssignment("x=1", ValueType::kAuto).ok());
  EXPECT_FALSE(parseResourceAssignment("70000=1", ValueType::kAuto).ok());
  EXPECT_FALSE(parseResourceAssignment("7/=1", ValueType::kAuto).ok());
  EXPECT_FALSE(parseResourceAssignment("1:int=1", ValueType::kAuto).ok());
  auto bad = parseResourceAssignment("1:integer=x", ValueType::kAuto);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "1: 'x' is not an integer");
}

TEST(Attributes, TypedByName) {
  auto a = parseAttribute("pmin=10");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->key, "pmin");
  EXPECT_EQ(a->value, Value{std::uint64_t{10}});
  a = parseAttribute("gt=20.5");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, Value{20.5});
  // Empty removes the attribute: sent as an empty string, as the XML says.
  a = parseAttribute("pmax=");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, Value{std::string()});
  // Unknown names go as text; the daemon decides.
  a = parseAttribute("future=x");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, Value{std::string("x")});

  EXPECT_FALSE(parseAttribute("pmin").ok());
  EXPECT_FALSE(parseAttribute("=3").ok());
  EXPECT_FALSE(parseAttribute("pmin=-1").ok());
  EXPECT_FALSE(parseAttribute("pmin=4294967296").ok());
  EXPECT_FALSE(parseAttribute("st=abc").ok());
}

TEST(Settings, TypedByName) {
  auto a = parseSetting("awake_window=30");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->key, "awake_window");
  EXPECT_EQ(a->value, Value{30.0});
  a = parseSetting("server_instance=1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, Value{std::uint64_t{1}});
  a = parseSetting("sms_number=+4915112345678");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, Value{std::string("+4915112345678")});
  a = parseSetting("sms_number=");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, Value{std::string()});
  EXPECT_FALSE(parseSetting("awake_window=soon").ok());
  EXPECT_FALSE(parseSetting("awake_window=0").ok());
  EXPECT_FALSE(parseSetting("server_instance=65536").ok());
  EXPECT_FALSE(parseSetting("awake_window").ok());
}

TEST(Execute, WordsAreJoinedWithCommas) {
  EXPECT_EQ(joinExecuteArguments({}), "");
  EXPECT_EQ(joinExecuteArguments({"0='v',1"}), "0='v',1");
  EXPECT_EQ(joinExecuteArguments({"0='v'", "1"}), "0='v',1");
}

TEST(Paths, Depth) {
  EXPECT_EQ(pathDepth("/"), 0);
  EXPECT_EQ(pathDepth("/3"), 1);
  EXPECT_EQ(pathDepth("/3/0"), 2);
  EXPECT_EQ(pathDepth("/3/0/1"), 3);
  EXPECT_EQ(pathDepth("/3/0/6/1"), 4);
  EXPECT_EQ(pathDepth("3/0"), -1);
  EXPECT_EQ(pathDepth("/3//0"), -1);
  EXPECT_EQ(pathDepth("/3/0/"), -1);
  EXPECT_EQ(pathDepth(""), -1);
}

TEST(Encodings, HexAndBase64RoundTrip) {
  for (std::size_t n = 0; n < 40; ++n) {
    Bytes bytes;
    for (std::size_t i = 0; i < n; ++i) bytes.push_back(static_cast<std::uint8_t>(i * 37 + n));
    EXPECT_EQ(*fromHex(toHex(bytes)), bytes);
    EXPECT_EQ(*fromBase64(toBase64(bytes)), bytes);
  }
  // RFC 4648 section 10 test vectors.
  auto b64 = [](std::string s) { return toBase64(Bytes(s.begin(), s.end())); };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg==");
  EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(toHex(Bytes{0x00, 0xab, 0xff}), "00abff");
}

// The daemon names device objects with sd_bus_path_encode(3); ours must agree byte for byte.
TEST(DevicePath, MatchesSdBusPathEncode) {
  for (std::string ep : {"sim-1", "urn:dev:os:0001", "", "a_b", "ÄÖ", "x y/z.", "ABCxyz019"}) {
    char* encoded = nullptr;
    ASSERT_GE(sd_bus_path_encode("/org/lwgate/Gateway1/device", ep.c_str(), &encoded), 0);
    EXPECT_EQ(devicePath(ep), encoded) << ep;
    EXPECT_EQ(endpointFromDevicePath(encoded), ep);
    std::free(encoded);
  }
  // Not a valid escape: shown as it is rather than guessed.
  EXPECT_EQ(endpointFromDevicePath("/org/lwgate/Gateway1/device/a_zz"), "a_zz");
  EXPECT_EQ(endpointFromDevicePath("/org/lwgate/Gateway1/device/a_2"), "a_2");
}

}  // namespace
}  // namespace lwgate::cli
