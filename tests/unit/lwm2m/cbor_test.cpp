#include "gateway/lwm2m/cbor.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/lwm2m/error_assertions.h"

namespace lwgate::lwm2m::cbor {
namespace {

using testing::failsWith;
using Bytes = std::vector<std::uint8_t>;

// Hex digits to bytes; spaces are for the reader.
Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    if (c == ' ') continue;
    const int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    if (high < 0) {
      high = digit;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + digit));
      high = -1;
    }
  }
  return out;
}

std::string toHex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

// RFC 8949 section 8 diagnostic notation of what the Reader returns (indefinite strings show
// joined, floats in the shortest form that reads back). Recursion is fine here: test inputs are
// shallow.
Result<void> diagnoseItem(Reader& r, const Item& item, std::string& out) {
  switch (item.kind) {
    case Kind::kUnsigned:
      out += std::to_string(item.number);
      return {};
    case Kind::kNegative:
      out += item.number == std::numeric_limits<std::uint64_t>::max()
                 ? "-18446744073709551616"
                 : "-" + std::to_string(item.number + 1);
      return {};
    case Kind::kBytes:
      out += "h'" + toHex(Bytes(item.data.begin(), item.data.end())) + "'";
      return {};
    case Kind::kText:
      out += '"';
      for (char c : item.text()) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
      return {};
    case Kind::kArray:
    case Kind::kMap: {
      const bool map = item.kind == Kind::kMap;
      out += map ? "{" : "[";
      if (item.indefinite) out += "_ ";
      for (bool first = true;; first = false) {
        auto next = r.next();
        if (!next) return next.error();
        if (next->kind == Kind::kEnd) break;
        if (!first) out += ", ";
        if (auto ok = diagnoseItem(r, *next, out); !ok) return ok;
        if (map) {
          out += ": ";
          auto value = r.next();
          if (!value) return value.error();
          if (auto ok = diagnoseItem(r, *value, out); !ok) return ok;
        }
      }
      out += map ? "}" : "]";
      return {};
    }
    case Kind::kTag: {
      out += std::to_string(item.number) + "(";
      auto next = r.next();
      if (!next) return next.error();
      if (auto ok = diagnoseItem(r, *next, out); !ok) return ok;
      out += ")";
      return {};
    }
    case Kind::kFloat: {
      if (std::isnan(item.floating)) {
        out += "NaN";
      } else if (std::isinf(item.floating)) {
        out += item.floating > 0 ? "Infinity" : "-Infinity";
      } else {
        char buf[64];
        out.append(buf, std::to_chars(buf, buf + sizeof buf, item.floating).ptr);
      }
      return {};
    }
    case Kind::kFalse:
      out += "false";
      return {};
    case Kind::kTrue:
      out += "true";
      return {};
    case Kind::kNull:
      out += "null";
      return {};
    case Kind::kUndefined:
      out += "undefined";
      return {};
    case Kind::kSimple:
      out += "simple(" + std::to_string(item.number) + ")";
      return {};
    case Kind::kEnd:
      break;
  }
  return makeError(ErrorCode::kInternal, "unexpected end");
}

Result<std::string> diagnose(const Bytes& bytes, std::size_t maxDepth = kDefaultMaxDepth) {
  Reader r(bytes, maxDepth);
  auto first = r.next();
  if (!first) return first.error();
  std::string out;
  if (auto ok = diagnoseItem(r, *first, out); !ok) return ok.error();
  if (auto ok = r.finish(); !ok) return ok.error();
  return out;
}

// Writes back what the Reader returns, through the Writer.
Result<void> reencodeItem(Reader& r, const Item& item, Writer& w) {
  switch (item.kind) {
    case Kind::kUnsigned:
      w.writeUnsigned(item.number);
      return {};
    case Kind::kNegative:
      w.writeNegative(item.number);
      return {};
    case Kind::kBytes:
      w.writeBytes(item.data);
      return {};
    case Kind::kText:
      w.writeText(item.text());
      return {};
    case Kind::kArray:
    case Kind::kMap: {
      const bool map = item.kind == Kind::kMap;
      if (item.indefinite) {
        map ? w.startIndefiniteMap() : w.startIndefiniteArray();
      } else {
        map ? w.startMap(item.number) : w.startArray(item.number);
      }
      while (true) {
        auto next = r.next();
        if (!next) return next.error();
        if (next->kind == Kind::kEnd) break;
        if (auto ok = reencodeItem(r, *next, w); !ok) return ok;
      }
      if (item.indefinite) w.writeBreak();
      return {};
    }
    case Kind::kTag: {
      w.writeTag(item.number);
      auto next = r.next();
      if (!next) return next.error();
      return reencodeItem(r, *next, w);
    }
    case Kind::kFloat:
      w.writeFloat(item.floating);
      return {};
    case Kind::kFalse:
    case Kind::kTrue:
      w.writeBool(item.kind == Kind::kTrue);
      return {};
    case Kind::kNull:
      w.writeNull();
      return {};
    case Kind::kUndefined:
      w.writeUndefined();
      return {};
    case Kind::kSimple:
      w.writeSimple(static_cast<std::uint8_t>(item.number));
      return {};
    case Kind::kEnd:
      break;
  }
  return makeError(ErrorCode::kInternal, "unexpected end");
}

Result<Bytes> reencode(const Bytes& bytes) {
  Reader r(bytes);
  auto first = r.next();
  if (!first) return first.error();
  Writer w;
  if (auto ok = reencodeItem(r, *first, w); !ok) return ok.error();
  if (auto ok = r.finish(); !ok) return ok.error();
  return w.take();
}

std::string diagOk(const Bytes& bytes) {
  auto d = diagnose(bytes);
  EXPECT_TRUE(d.ok()) << toHex(bytes) << ": " << d.error().message;
  return d.ok() ? *d : std::string();
}

// ---------------------------------------------------------------------------------------------
// RFC 8949 Appendix A, both ways.

struct Example {
  const char* hex;
  const char* diagnostic;
  bool writerReproduces;  // false where the example is not in the shortest/definite form
};

const Example kAppendixA[] = {
    {"00", "0", true},
    {"01", "1", true},
    {"0a", "10", true},
    {"17", "23", true},
    {"1818", "24", true},
    {"1819", "25", true},
    {"1864", "100", true},
    {"1903e8", "1000", true},
    {"1a000f4240", "1000000", true},
    {"1b000000e8d4a51000", "1000000000000", true},
    {"1bffffffffffffffff", "18446744073709551615", true},
    {"c249010000000000000000", "2(h'010000000000000000')", true},
    {"3bffffffffffffffff", "-18446744073709551616", true},
    {"c349010000000000000000", "3(h'010000000000000000')", true},
    {"20", "-1", true},
    {"29", "-10", true},
    {"3863", "-100", true},
    {"3903e7", "-1000", true},
    {"f4", "false", true},
    {"f5", "true", true},
    {"f6", "null", true},
    {"f7", "undefined", true},
    {"f0", "simple(16)", true},
    {"f8ff", "simple(255)", true},
    {"c074323031332d30332d32315432303a30343a30305a", "0(\"2013-03-21T20:04:00Z\")", true},
    {"c11a514b67b0", "1(1363896240)", true},
    {"c1fb41d452d9ec200000", "1(1363896240.5)", true},
    {"d74401020304", "23(h'01020304')", true},
    {"d818456449455446", "24(h'6449455446')", true},
    {"d82076687474703a2f2f7777772e6578616d706c652e636f6d", "32(\"http://www.example.com\")", true},
    {"40", "h''", true},
    {"4401020304", "h'01020304'", true},
    {"60", "\"\"", true},
    {"6161", "\"a\"", true},
    {"6449455446", "\"IETF\"", true},
    {"62225c", "\"\\\"\\\\\"", true},
    {"62c3bc", "\"\xc3\xbc\"", true},
    {"63e6b0b4", "\"\xe6\xb0\xb4\"", true},
    {"64f0908591", "\"\xf0\x90\x85\x91\"", true},
    {"80", "[]", true},
    {"83010203", "[1, 2, 3]", true},
    {"8301820203820405", "[1, [2, 3], [4, 5]]", true},
    {"98190102030405060708090a0b0c0d0e0f101112131415161718181819",
     "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, "
     "25]",
     true},
    {"a0", "{}", true},
    {"a201020304", "{1: 2, 3: 4}", true},
    {"a26161016162820203", "{\"a\": 1, \"b\": [2, 3]}", true},
    {"826161a161626163", "[\"a\", {\"b\": \"c\"}]", true},
    {"a56161614161626142616361436164614461656145",
     "{\"a\": \"A\", \"b\": \"B\", \"c\": \"C\", \"d\": \"D\", \"e\": \"E\"}", true},
    {"5f42010243030405ff", "h'0102030405'", false},
    {"7f657374726561646d696e67ff", "\"streaming\"", false},
    {"9fff", "[_ ]", true},
    {"9f018202039f0405ffff", "[_ 1, [2, 3], [_ 4, 5]]", true},
    {"9f01820203820405ff", "[_ 1, [2, 3], [4, 5]]", true},
    {"83018202039f0405ff", "[1, [2, 3], [_ 4, 5]]", true},
    {"83019f0203ff820405", "[1, [_ 2, 3], [4, 5]]", true},
    {"9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
     "[_ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, "
     "25]",
     true},
    {"bf61610161629f0203ffff", "{_ \"a\": 1, \"b\": [_ 2, 3]}", true},
    {"826161bf61626163ff", "[\"a\", {_ \"b\": \"c\"}]", true},
    {"bf6346756ef563416d7421ff", "{_ \"Fun\": true, \"Amt\": -2}", true},
};

TEST(CborAppendixA, ReaderGivesTheDiagnosticNotation) {
  for (const auto& e : kAppendixA) {
    EXPECT_EQ(diagOk(hex(e.hex)), e.diagnostic) << e.hex;
  }
}

TEST(CborAppendixA, WriterGivesTheBytesBack) {
  for (const auto& e : kAppendixA) {
    if (!e.writerReproduces) continue;
    auto bytes = reencode(hex(e.hex));
    ASSERT_TRUE(bytes.ok()) << e.hex << ": " << bytes.error().message;
    EXPECT_EQ(toHex(*bytes), e.hex);
  }
}

struct FloatExample {
  const char* hex;
  double value;
  bool writerReproduces;
};

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

const FloatExample kFloats[] = {
    {"f90000", 0.0, true},
    {"f98000", -0.0, true},
    {"f93c00", 1.0, true},
    {"fb3ff199999999999a", 1.1, true},
    {"f93e00", 1.5, true},
    {"f97bff", 65504.0, true},
    {"fa47c35000", 100000.0, true},
    {"fa7f7fffff", 3.4028234663852886e+38, true},
    {"fb7e37e43c8800759c", 1.0e+300, true},
    {"f90001", 5.960464477539063e-8, true},
    {"f90400", 0.00006103515625, true},
    {"f9c400", -4.0, true},
    {"fbc010666666666666", -4.1, true},
    {"f97c00", kInf, true},
    {"f97e00", kNaN, true},
    {"f9fc00", -kInf, true},
    {"fa7f800000", kInf, false},
    {"fa7fc00000", kNaN, false},
    {"faff800000", -kInf, false},
    {"fb7ff0000000000000", kInf, false},
    {"fb7ff8000000000000", kNaN, false},
    {"fbfff0000000000000", -kInf, false},
};

TEST(CborAppendixA, FloatsBothWays) {
  for (const auto& e : kFloats) {
    const Bytes bytes = hex(e.hex);
    Reader r(bytes);
    auto item = r.next();
    ASSERT_TRUE(item.ok()) << e.hex;
    ASSERT_EQ(item->kind, Kind::kFloat) << e.hex;
    if (std::isnan(e.value)) {
      EXPECT_TRUE(std::isnan(item->floating)) << e.hex;
    } else {
      EXPECT_EQ(item->floating, e.value) << e.hex;
      EXPECT_EQ(std::signbit(item->floating), std::signbit(e.value)) << e.hex;
    }
    EXPECT_TRUE(r.finish().ok()) << e.hex;
    Writer w;
    w.writeFloat(e.value);
    if (e.writerReproduces) {
      EXPECT_EQ(toHex(w.bytes()), e.hex);
    } else {
      // The writer takes the shortest form of the same value: the half-precision one.
      EXPECT_EQ(w.bytes().size(), 3u) << e.hex;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Every length form

TEST(CborWriter, HeadsTakeTheShortestForm) {
  struct Case {
    std::uint64_t value;
    std::size_t size;
  };
  const Case cases[] = {
      {0, 1},     {23, 1},    {24, 2},         {255, 2},         {256, 3},
      {65535, 3}, {65536, 5}, {0xffffffff, 5}, {0x100000000, 9}, {0xffffffffffffffff, 9}};
  for (const auto& c : cases) {
    for (std::uint8_t major = 0; major < 7; ++major) {
      if (major >= 2 && major <= 5) continue;  // with content: below
      Writer w;
      if (major == 0) w.writeUnsigned(c.value);
      if (major == 1) w.writeNegative(c.value);
      if (major == 6) {
        w.writeTag(c.value);
        w.writeNull();
      }
      EXPECT_EQ(w.bytes().size(), c.size + (major == 6 ? 1 : 0)) << c.value;
      EXPECT_EQ(w.bytes()[0] >> 5, major);
      Reader r(w.bytes());
      auto item = r.next();
      ASSERT_TRUE(item.ok());
      EXPECT_EQ(item->number, c.value);
      EXPECT_EQ(item->kind, major == 0   ? Kind::kUnsigned
                            : major == 1 ? Kind::kNegative
                                         : Kind::kTag);
    }
  }
}

TEST(CborWriter, StringsArraysAndMapsOfEveryLengthForm) {
  for (std::size_t length : {0u, 1u, 23u, 24u, 255u, 256u, 65535u, 65536u, 70000u}) {
    const std::string text(length, 'x');
    const Bytes bytes(length, 0xab);
    const std::size_t headSize = length < 24 ? 1 : length < 256 ? 2 : length < 65536 ? 3 : 5;
    {
      Writer w;
      w.writeText(text);
      ASSERT_EQ(w.bytes().size(), headSize + length);
      Reader r(w.bytes());
      auto item = r.next();
      ASSERT_TRUE(item.ok());
      EXPECT_EQ(item->kind, Kind::kText);
      EXPECT_EQ(item->text(), text);
      EXPECT_TRUE(r.finish().ok());
    }
    {
      Writer w;
      w.writeBytes(bytes);
      ASSERT_EQ(w.bytes().size(), headSize + length);
      Reader r(w.bytes());
      auto item = r.next();
      ASSERT_TRUE(item.ok());
      EXPECT_EQ(item->kind, Kind::kBytes);
      EXPECT_EQ(Bytes(item->data.begin(), item->data.end()), bytes);
    }
    {
      Writer w;
      w.startArray(length);
      for (std::size_t k = 0; k < length; ++k) w.writeUnsigned(k % 24);
      ASSERT_EQ(w.bytes().size(), headSize + length);
      EXPECT_TRUE(checkWellFormed(w.bytes()).ok()) << length;
    }
    {
      Writer w;
      w.startMap(length);
      for (std::size_t k = 0; k < length; ++k) {
        w.writeUnsigned(k % 24);
        w.writeBool(k % 2 == 0);
      }
      ASSERT_EQ(w.bytes().size(), headSize + 2 * length);
      EXPECT_TRUE(checkWellFormed(w.bytes()).ok()) << length;
    }
  }
}

TEST(CborReader, AcceptsLongerThanNecessaryHeads) {
  // Well-formed, if not preferred (RFC 8949 4.2.1 is about encoders).
  EXPECT_EQ(diagOk(hex("1800")), "0");
  EXPECT_EQ(diagOk(hex("190017")), "23");
  EXPECT_EQ(diagOk(hex("1a00000001")), "1");
  EXPECT_EQ(diagOk(hex("1b0000000000000002")), "2");
  EXPECT_EQ(diagOk(hex("3800")), "-1");
  EXPECT_EQ(diagOk(hex("780161")), "\"a\"");
  EXPECT_EQ(diagOk(hex("5900020102")), "h'0102'");
  EXPECT_EQ(diagOk(hex("9a0000000101")), "[1]");
  EXPECT_EQ(diagOk(hex("b8010102")), "{1: 2}");
  EXPECT_EQ(diagOk(hex("d8010a")), "1(10)");
  EXPECT_EQ(diagOk(hex("fa3f800000")), "1");  // 1.0 in single precision
}

TEST(CborWriter, IntegersAtTheEdges) {
  Writer w;
  w.writeInt(std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(toHex(w.bytes()), "3b7fffffffffffffff");
  Writer w2;
  w2.writeInt(std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(toHex(w2.bytes()), "1b7fffffffffffffff");
  Writer w3;
  w3.writeInt(-24);
  w3.writeInt(-25);
  EXPECT_EQ(toHex(w3.bytes()), "373818");
}

TEST(CborWriter, FloatsTakeTheShortestExactForm) {
  struct Case {
    double value;
    const char* hex;
  };
  const Case cases[] = {
      {0.5, "f93800"},
      {-2.0, "f9c000"},
      {65504.0, "f97bff"},
      {65505.0, "fa477fe100"},                // not a half, exact in single
      {0x1p-24, "f90001"},                    // smallest half subnormal
      {0x1p-25, "fa33000000"},                // below it: single
      {1.0 + 0x1p-10, "f93c01"},              // 10 mantissa bits: half
      {1.0 + 0x1p-11, "fa3f801000"},          // 11: single
      {1.0 + 0x1p-23, "fa3f800001"},          // 23: single
      {1.0 + 0x1p-24, "fb3ff0000010000000"},  // 24: double
      {0.1, "fb3fb999999999999a"},
      {1e-45, "fb3696d601ad376ab9"},   // near FLT_TRUE_MIN but not equal
      {0x1p-149, "fa00000001"},        // single subnormal
      {3.5e38, "fb47f074f8c4d3cd7b"},  // above FLT_MAX
  };
  for (const auto& c : cases) {
    Writer w;
    w.writeFloat(c.value);
    EXPECT_EQ(toHex(w.bytes()), c.hex) << c.value;
    Reader r(w.bytes());
    auto item = r.next();
    ASSERT_TRUE(item.ok());
    EXPECT_EQ(item->floating, c.value);
  }
  Writer nan;
  nan.writeFloat(-std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(toHex(nan.bytes()), "f97e00");
}

TEST(CborWriter, SimpleValues) {
  Writer w;
  w.writeSimple(0);
  w.writeSimple(19);
  w.writeSimple(20);
  w.writeSimple(32);
  w.writeSimple(255);
  EXPECT_EQ(toHex(w.bytes()), "e0f3f4f820f8ff");
}

TEST(CborWriter, HalfPrecisionTable) {
  // Every finite half converts to double and back to the same bits.
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    if (((bits >> 10) & 0x1f) == 0x1f) continue;  // infinities and NaNs: FloatsBothWays
    const double d = halfToDouble(static_cast<std::uint16_t>(bits));
    Writer w;
    w.writeFloat(d);
    ASSERT_EQ(w.bytes().size(), 3u) << bits;
    EXPECT_EQ((w.bytes()[1] << 8) | w.bytes()[2], static_cast<int>(bits));
  }
}

// ---------------------------------------------------------------------------------------------
// Indefinite-length items

TEST(CborReader, IndefiniteStringsAreJoined) {
  const Bytes bytes = hex("5f42010243030405ff");
  Reader r(bytes);
  auto item = r.next();
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->kind, Kind::kBytes);
  EXPECT_TRUE(item->indefinite);
  EXPECT_EQ(toHex(Bytes(item->data.begin(), item->data.end())), "0102030405");
  EXPECT_TRUE(r.finish().ok());

  EXPECT_EQ(diagOk(hex("5fff")), "h''");  // no chunks
  EXPECT_EQ(diagOk(hex("7f60ff")), "\"\"");
  EXPECT_EQ(diagOk(hex("7f6161626263ff")), "\"abc\"");
  // Inside containers, and two of them in a row (the join buffer is reused).
  EXPECT_EQ(diagOk(hex("827f6161ff7f6162ff")), "[\"a\", \"b\"]");
  EXPECT_EQ(diagOk(hex("bf7f6161ff5f4101ffff")), "{_ \"a\": h'01'}");
}

TEST(CborReader, IndefiniteContainers) {
  EXPECT_EQ(diagOk(hex("bfff")), "{_ }");
  EXPECT_EQ(diagOk(hex("9f9f9fffffff")), "[_ [_ [_ ]]]");
  EXPECT_EQ(diagOk(hex("bf01bf02bfffffff")), "{_ 1: {_ 2: {_ }}}");
  EXPECT_EQ(diagOk(hex("9fc102ff")), "[_ 1(2)]");
}

// ---------------------------------------------------------------------------------------------
// Malformed input (RFC 8949 Appendix F classes)

TEST(CborReader, RefusesReservedAdditionalInformation) {
  for (std::uint8_t major = 0; major < 8; ++major) {
    for (std::uint8_t ai = 28; ai <= 30; ++ai) {
      const Bytes bytes{static_cast<std::uint8_t>(major << 5 | ai), 0, 0, 0, 0, 0, 0, 0, 0};
      EXPECT_TRUE(failsWith(checkWellFormed(bytes), ErrorCode::kBadRequest,
                            "reserved additional information " + std::to_string(ai)))
          << int(bytes[0]);
    }
  }
  // Inside an indefinite string too.
  EXPECT_TRUE(failsWith(checkWellFormed(hex("5f5cff")), ErrorCode::kBadRequest, "reserved"));
}

TEST(CborReader, RefusesIndefiniteLengthWhereThereIsNone) {
  EXPECT_TRUE(failsWith(checkWellFormed(hex("1f")), ErrorCode::kBadRequest,
                        "indefinite length on a unsigned integer at byte 0"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("3f")), ErrorCode::kBadRequest, "negative"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("df00")), ErrorCode::kBadRequest, "tag"));
  // Chunks of an indefinite string are definite, and of the same major type.
  EXPECT_TRUE(failsWith(checkWellFormed(hex("5f5f4101ffff")), ErrorCode::kBadRequest,
                        "indefinite-length chunk"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("5f6161ff")), ErrorCode::kBadRequest,
                        "text string inside an indefinite byte string at byte 1"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("7f4161ff")), ErrorCode::kBadRequest,
                        "byte string inside an indefinite text string"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("5f01ff")), ErrorCode::kBadRequest, "unsigned"));
}

TEST(CborReader, RefusesMisplacedBreaks) {
  EXPECT_TRUE(failsWith(checkWellFormed(hex("ff")), ErrorCode::kBadRequest,
                        "break outside an indefinite-length item at byte 0"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("81ff")), ErrorCode::kBadRequest, "break outside"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("a1ff00")), ErrorCode::kBadRequest, "break outside"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("9f81ffff")), ErrorCode::kBadRequest, "break outside"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("bf01ff")), ErrorCode::kBadRequest,
                        "break after a map key at byte 2"));
  EXPECT_TRUE(
      failsWith(checkWellFormed(hex("9fc1ff")), ErrorCode::kBadRequest, "break right after a tag"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("00ff")), ErrorCode::kBadRequest,
                        "1 bytes after the item at byte 1"));
}

TEST(CborReader, RefusesTwoByteSimpleValuesBelow32) {
  for (int v : {0, 20, 23, 24, 31}) {
    const Bytes bytes{0xf8, static_cast<std::uint8_t>(v)};
    EXPECT_TRUE(failsWith(checkWellFormed(bytes), ErrorCode::kBadRequest,
                          "simple value " + std::to_string(v) + " in two bytes"));
  }
  EXPECT_TRUE(checkWellFormed(hex("f820")).ok());
}

TEST(CborReader, RefusesTextThatIsNotUtf8) {
  for (const char* bad :
       {"61ff", "62c328", "62c080", "63eda080", "64f4908080", "62e282", "61c3", "6180"}) {
    EXPECT_TRUE(failsWith(checkWellFormed(hex(bad)), ErrorCode::kBadRequest, "not UTF-8")) << bad;
  }
  // A character split between chunks (RFC 8949 3.2.3).
  EXPECT_TRUE(failsWith(checkWellFormed(hex("7f61c361bcff")), ErrorCode::kBadRequest,
                        "not UTF-8 at byte 1"));
  // Byte strings are anything.
  EXPECT_TRUE(checkWellFormed(hex("42c328")).ok());
}

TEST(CborReader, RefusesLengthsBeyondTheInput) {
  EXPECT_TRUE(failsWith(checkWellFormed(hex("5affffffff00")), ErrorCode::kBadRequest,
                        "byte string of 4294967295 bytes, 1 left at byte 0"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("7bffffffffffffffff")), ErrorCode::kBadRequest,
                        "text string of 18446744073709551615 bytes, 0 left"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("9bffffffffffffffff00")), ErrorCode::kBadRequest,
                        "array of 18446744073709551615 items, 1 bytes left"));
  // 2^63 pairs would overflow a naive 2 * count.
  EXPECT_TRUE(failsWith(checkWellFormed(hex("bb80000000000000000000")), ErrorCode::kBadRequest,
                        "map of 9223372036854775808 pairs"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("a2010203")), ErrorCode::kBadRequest,
                        "map of 2 pairs, 3 bytes left"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("5f42010243030405")), ErrorCode::kBadRequest,
                        "truncated indefinite-length string"));
  EXPECT_TRUE(failsWith(checkWellFormed(hex("5f4401ff")), ErrorCode::kBadRequest,
                        "string chunk of 4 bytes, 2 left at byte 1"));
  EXPECT_TRUE(failsWith(checkWellFormed({}), ErrorCode::kBadRequest, "truncated at byte 0"));
}

TEST(CborReader, EveryTruncationOfAValidItemFails) {
  std::vector<Bytes> valid;
  for (const auto& e : kAppendixA) valid.push_back(hex(e.hex));
  for (const auto& e : kFloats) valid.push_back(hex(e.hex));
  valid.push_back(hex("bf61610161629f0203ffff"));
  for (const auto& bytes : valid) {
    ASSERT_TRUE(checkWellFormed(bytes).ok()) << toHex(bytes);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_TRUE(failsWith(checkWellFormed(prefix), ErrorCode::kBadRequest, "CBOR: "))
          << toHex(prefix);
    }
    Bytes longer = bytes;
    longer.push_back(0x00);
    EXPECT_TRUE(failsWith(checkWellFormed(longer), ErrorCode::kBadRequest, "after the item"));
  }
}

TEST(CborReader, NestingIsBounded) {
  for (const char* opener : {"81", "9f", "a101", "bf01", "c1"}) {
    const Bytes open = hex(opener);
    auto nested = [&](std::size_t depth) {
      Bytes out;
      for (std::size_t k = 0; k < depth; ++k) out.insert(out.end(), open.begin(), open.end());
      out.push_back(0x00);
      for (std::size_t k = 0; k < depth; ++k) {
        if (open[0] == 0x9f || open[0] == 0xbf) out.push_back(0xff);
      }
      return out;
    };
    EXPECT_TRUE(checkWellFormed(nested(4), 4).ok()) << opener;
    EXPECT_TRUE(
        failsWith(checkWellFormed(nested(5), 4), ErrorCode::kBadRequest, "nesting deeper than 4"))
        << opener;
    // Far too deep: refused at the limit, long before any stack would care.
    EXPECT_TRUE(failsWith(checkWellFormed(nested(100000)), ErrorCode::kBadRequest,
                          "nesting deeper than 16"))
        << opener;
  }
  // Tags count like a level each, on scalars and on containers.
  EXPECT_TRUE(checkWellFormed(hex("c1c1c181818100"), 6).ok());
  EXPECT_TRUE(failsWith(checkWellFormed(hex("c1c1c181818100"), 5), ErrorCode::kBadRequest,
                        "nesting deeper than 5 at byte 5"));
  EXPECT_TRUE(checkWellFormed(hex("8181c1c1c100"), 5).ok());
  EXPECT_TRUE(failsWith(checkWellFormed(hex("8181c1c1c100"), 4), ErrorCode::kBadRequest,
                        "nesting deeper than 4 at byte 4"));
  // ... and stop counting once their item is complete.
  EXPECT_TRUE(checkWellFormed(hex("83 c1c100 c181c100 c1c1c100"), 4).ok());
}

TEST(CborReader, FailureIsSticky) {
  const Bytes bytes = hex("82ff00");
  Reader r(bytes);
  ASSERT_TRUE(r.next().ok());
  EXPECT_FALSE(r.next().ok());
  EXPECT_TRUE(failsWith(r.next(), ErrorCode::kBadRequest, "break outside"));
  EXPECT_FALSE(r.finish().ok());
}

TEST(CborReader, ReadingPastTheItemFails) {
  const Bytes bytes = hex("0000");
  Reader r(bytes);
  ASSERT_TRUE(r.next().ok());
  EXPECT_TRUE(r.done());
  EXPECT_TRUE(failsWith(r.next(), ErrorCode::kBadRequest, "read past the end"));
}

TEST(CborReader, SkipReadsOneWholeItem) {
  // [1(["a", {_ 2: h'00'}]), 7]
  const Bytes bytes = hex("82 c1 82 6161 bf 02 4100 ff 07");
  Reader r(bytes);
  auto outer = r.next();
  ASSERT_TRUE(outer.ok());
  ASSERT_TRUE(r.skip().ok());
  EXPECT_EQ(r.depth(), 1u);
  auto seven = r.next();
  ASSERT_TRUE(seven.ok());
  EXPECT_EQ(seven->number, 7u);
  EXPECT_TRUE(failsWith(r.skip(), ErrorCode::kBadRequest, "found the end of an array"));
}

TEST(CborReader, ItemsReportTheirOffsets) {
  const Bytes bytes = hex("83 01 1903e8 6161");
  Reader r(bytes);
  std::vector<std::size_t> offsets;
  while (!r.done()) {
    auto item = r.next();
    ASSERT_TRUE(item.ok());
    offsets.push_back(item->offset);
  }
  EXPECT_EQ(offsets, (std::vector<std::size_t>{0, 1, 2, 5, 7}));
}

// ---------------------------------------------------------------------------------------------
// Seeded random: documents the writer makes read back the same; random and mutated bytes never
// crash the reader.

void randomItem(std::mt19937& rng, Writer& w, int depth) {
  const int kind = static_cast<int>(rng() % (depth > 0 ? 12 : 9));
  auto count = [&] { return static_cast<std::uint64_t>(rng() % 5); };
  auto number = [&]() -> std::uint64_t {
    switch (rng() % 5) {
      case 0:
        return rng() % 24;
      case 1:
        return rng() % 256;
      case 2:
        return rng() % 65536;
      case 3:
        return rng();
      default:
        return (std::uint64_t{rng()} << 32) | rng();
    }
  };
  switch (kind) {
    case 0:
      w.writeUnsigned(number());
      break;
    case 1:
      w.writeNegative(number());
      break;
    case 2: {
      Bytes b(rng() % 40);
      for (auto& x : b) x = static_cast<std::uint8_t>(rng());
      w.writeBytes(b);
      break;
    }
    case 3:
      w.writeText(std::string(rng() % 40, static_cast<char>('a' + rng() % 26)));
      break;
    case 4:
      w.writeFloat(std::bit_cast<double>((std::uint64_t{rng()} << 32) | rng()));
      break;
    case 5:
      w.writeFloat(static_cast<double>(static_cast<int>(rng() % 2000) - 1000) / 8);
      break;
    case 6:
      w.writeBool(rng() % 2 == 0);
      break;
    case 7:
      w.writeNull();
      break;
    case 8:
      w.writeSimple(static_cast<std::uint8_t>(rng() % 2 ? rng() % 20 : 32 + rng() % 224));
      break;
    case 9: {
      const auto n = count();
      if (rng() % 2) {
        w.startArray(n);
        for (std::uint64_t k = 0; k < n; ++k) randomItem(rng, w, depth - 1);
      } else {
        w.startIndefiniteArray();
        for (std::uint64_t k = 0; k < n; ++k) randomItem(rng, w, depth - 1);
        w.writeBreak();
      }
      break;
    }
    case 10: {
      const auto n = count();
      const bool indefinite = rng() % 2;
      indefinite ? w.startIndefiniteMap() : w.startMap(n);
      for (std::uint64_t k = 0; k < 2 * n; ++k) randomItem(rng, w, depth - 1);
      if (indefinite) w.writeBreak();
      break;
    }
    default:
      w.writeTag(number());
      randomItem(rng, w, depth - 1);
      break;
  }
}

TEST(CborRandom, WriterDocumentsReadBackUnchanged) {
  std::mt19937 rng(20260101);
  for (int i = 0; i < 3000; ++i) {
    Writer w;
    randomItem(rng, w, 5);
    const Bytes bytes = w.take();
    auto again = reencode(bytes);
    ASSERT_TRUE(again.ok()) << toHex(bytes) << ": " << again.error().message;
    // NaN payloads are not kept (every NaN is written as f97e00); all else is byte-exact.
    if (toHex(*again) != toHex(bytes)) {
      auto twice = reencode(*again);
      ASSERT_TRUE(twice.ok());
      EXPECT_EQ(toHex(*twice), toHex(*again)) << toHex(bytes);
    }
  }
}

TEST(CborRandom, ArbitraryAndMutatedBytesNeverCrash) {
  std::mt19937 rng(424242);
  std::vector<Bytes> seeds;
  for (const auto& e : kAppendixA) seeds.push_back(hex(e.hex));
  for (int i = 0; i < 50; ++i) {
    Writer w;
    randomItem(rng, w, 4);
    seeds.push_back(w.take());
  }
  std::size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes bytes;
    if (i % 4 == 0) {
      bytes.resize(rng() % 32);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    } else {
      bytes = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !bytes.empty(); ++e) {
        const std::size_t at = rng() % bytes.size();
        switch (rng() % 4) {
          case 0:
            bytes[at] = static_cast<std::uint8_t>(rng());
            break;
          case 1:
            bytes[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
            break;
          case 2:
            bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at));
            break;
          default:
            bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                         static_cast<std::uint8_t>(rng()));
            break;
        }
      }
    }
    auto result = checkWellFormed(bytes, 8);
    if (result.ok()) {
      ++accepted;
      EXPECT_TRUE(reencode(bytes).ok()) << toHex(bytes);
    } else {
      EXPECT_TRUE(failsWith(result, ErrorCode::kBadRequest, "CBOR: ")) << toHex(bytes);
    }
  }
  EXPECT_GT(accepted, 100u);  // the loop exercises both outcomes
}

// ---------------------------------------------------------------------------------------------
// The pieces the two LwM2M codecs share

// A Leaf owns its text and bytes: it outlives the reader.
Result<Leaf> leafOf(const Bytes& bytes) {
  Reader r(bytes);
  auto first = r.next();
  if (!first) return first.error();
  return readLeaf(r, *first);
}

TEST(CborLeaf, NumbersKeepTheirKind) {
  auto u = leafOf(hex("1b8000000000000000"));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->number.kind, Number::Kind::kUnsigned);
  EXPECT_EQ(u->number.magnitude, 0x8000000000000000u);
  auto n = leafOf(hex("3863"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->number.kind, Number::Kind::kNegative);
  EXPECT_EQ(n->number.magnitude, 99u);
  auto t = leafOf(hex("c11a514b67b0"));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->timeTag);
  EXPECT_EQ(t->number.magnitude, 1363896240u);
}

TEST(CborLeaf, DecimalFractions) {
  auto f = leafOf(hex("c48221196ab3"));  // 4([-2, 27315]) = 273.15
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->number.kind, Number::Kind::kFloat);
  EXPECT_DOUBLE_EQ(f->number.floating, 273.15);
  EXPECT_TRUE(failsWith(leafOf(hex("c48101")), ErrorCode::kBadRequest, "two-item array"));
  EXPECT_TRUE(failsWith(leafOf(hex("c482f93c0001")), ErrorCode::kBadRequest, "not an integer"));
  EXPECT_TRUE(failsWith(leafOf(hex("c482190fa001")), ErrorCode::kBadRequest, "exponent"));
  EXPECT_TRUE(failsWith(leafOf(hex("c4821901341b7fffffffffffffff")), ErrorCode::kBadRequest,
                        "out of range"));
  // A bignum mantissa is a tag inside: refused.
  EXPECT_TRUE(failsWith(leafOf(hex("c48220c24101")), ErrorCode::kBadRequest, "not an integer"));
}

TEST(CborLeaf, RefusesWhatIsNotAValue) {
  EXPECT_TRUE(failsWith(leafOf(hex("c24101")), ErrorCode::kBadRequest, "bignum"));
  EXPECT_TRUE(failsWith(leafOf(hex("8101")), ErrorCode::kBadRequest, "found an array"));
  EXPECT_TRUE(failsWith(leafOf(hex("a0")), ErrorCode::kBadRequest, "found a map"));
  EXPECT_TRUE(failsWith(leafOf(hex("f0")), ErrorCode::kBadRequest, "unassigned simple value 16"));
  // Unknown tags are skipped.
  auto text = leafOf(hex("d8206161"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->text, "a");
}

TEST(CborNumbers, TypedByTheModel) {
  const Number big{Number::Kind::kUnsigned, 0x8000000000000000u, 0};
  const Number small{Number::Kind::kUnsigned, 5, 0};
  const Number minus{Number::Kind::kNegative, 4, 0};  // -5
  const Number lowest{Number::Kind::kNegative, 0x7fffffffffffffffu, 0};
  const Number tooLow{Number::Kind::kNegative, 0x8000000000000000u, 0};
  const Number half{Number::Kind::kFloat, 0, 2.5};
  const Number whole{Number::Kind::kFloat, 0, 7.0};

  EXPECT_EQ(*numberToValue(big, std::nullopt, false), Value::unsignedInteger(0x8000000000000000u));
  EXPECT_EQ(*numberToValue(minus, std::nullopt, false), Value::integer(-5));
  EXPECT_EQ(*numberToValue(lowest, std::nullopt, false),
            Value::integer(std::numeric_limits<std::int64_t>::min()));
  EXPECT_TRUE(failsWith(numberToValue(tooLow, std::nullopt, false), ErrorCode::kBadRequest,
                        "below the int64 range"));
  EXPECT_EQ(*numberToValue(half, std::nullopt, false), Value::floating(2.5));
  EXPECT_EQ(*numberToValue(small, std::nullopt, true), Value::time(5));

  EXPECT_EQ(*numberToValue(small, DataType::kInteger, false), Value::integer(5));
  EXPECT_EQ(*numberToValue(whole, DataType::kInteger, false), Value::integer(7));
  EXPECT_TRUE(failsWith(numberToValue(big, DataType::kInteger, false), ErrorCode::kBadRequest,
                        "integer expected"));
  EXPECT_TRUE(failsWith(numberToValue(half, DataType::kInteger, false), ErrorCode::kBadRequest,
                        "non-integral"));
  EXPECT_EQ(*numberToValue(big, DataType::kUnsignedInteger, false),
            Value::unsignedInteger(0x8000000000000000u));
  EXPECT_TRUE(failsWith(numberToValue(minus, DataType::kUnsignedInteger, false),
                        ErrorCode::kBadRequest, "negative"));
  EXPECT_EQ(*numberToValue(minus, DataType::kFloat, false), Value::floating(-5.0));
  EXPECT_EQ(*numberToValue(whole, DataType::kTime, false), Value::time(7));
  EXPECT_TRUE(failsWith(numberToValue(small, DataType::kString, false), ErrorCode::kBadRequest,
                        "string expected, got a number"));
  const Number huge{Number::Kind::kFloat, 0, 0x1p63};
  EXPECT_FALSE(numberToValue(huge, DataType::kInteger, false).ok());
  const Number nan{Number::Kind::kFloat, 0, std::nan("")};
  EXPECT_FALSE(numberToValue(nan, DataType::kTime, false).ok());
}

TEST(CborObjlnk, ParsesAndFormats) {
  EXPECT_EQ(parseObjlnk("3:0"), (Objlnk{3, 0}));
  EXPECT_EQ(parseObjlnk("65535:65535"), (Objlnk{65535, 65535}));
  for (const char* bad :
       {"", ":", "3", "3:", ":0", "3:0:1", "65536:0", "-1:0", "3 :0", "a:b", "123456:0"}) {
    EXPECT_FALSE(parseObjlnk(bad).has_value()) << bad;
  }
  EXPECT_EQ(formatObjlnk({10, 65535}), "10:65535");
}

}  // namespace
}  // namespace lwgate::lwm2m::cbor
