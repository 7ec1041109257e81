#include "modem/coap_message.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace lwgate::modem {
namespace {

namespace coap_message_test {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::initializer_list<int> list) {
  Bytes out;
  for (int b : list) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

Bytes concat(Bytes a, std::string_view text) {
  a.insert(a.end(), text.begin(), text.end());
  return a;
}

std::string errorOf(const Bytes& b) {
  auto parsed = parseCoap(b);
  return parsed ? "" : parsed.error().message;
}

}  // namespace coap_message_test

using coap_message_test::bytes;
using coap_message_test::Bytes;
using coap_message_test::concat;
using coap_message_test::errorOf;

// RFC 7252 Appendix A, Figure 16: "GET /temperature" (CON, MID 0x7d34, no token) and its
// piggybacked "2.05 Content" answer with payload "22.3 C".
TEST(CoapMessage, ParsesTheRfc7252BasicExchange) {
  const Bytes get = concat(bytes({0x40, 0x01, 0x7d, 0x34, 0xbb}), "temperature");
  auto m = parseCoap(get);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->type, CoapType::kCon);
  EXPECT_EQ(m->code, 0x01);
  EXPECT_TRUE(m->isRequest());
  EXPECT_EQ(m->messageId, 0x7d34);
  EXPECT_TRUE(m->token.empty());
  EXPECT_EQ(m->strings(coap_option::kUriPath), (std::vector<std::string_view>{"temperature"}));
  EXPECT_TRUE(m->payload.empty());
  EXPECT_EQ(describe(*m), "CON 0.01 mid=32052");

  const Bytes content = concat(bytes({0x60, 0x45, 0x7d, 0x34, 0xff}), "22.3 C");
  auto r = parseCoap(content);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->type, CoapType::kAck);
  EXPECT_EQ(codeText(r->code), "2.05");
  EXPECT_TRUE(r->isResponse());
  EXPECT_EQ(std::string(r->payload.begin(), r->payload.end()), "22.3 C");

  // Both come back byte for byte.
  EXPECT_EQ(*serializeCoap(*m), get);
  EXPECT_EQ(*serializeCoap(*r), content);
}

// RFC 7252 Appendix A, Figure 19 style: a token, and an Empty ACK (Figure 18).
TEST(CoapMessage, TokensAndEmptyMessages) {
  const Bytes withToken = concat(bytes({0x42, 0x01, 0x7d, 0x35, 0x20, 0xf2, 0xbb}), "temperature");
  auto m = parseCoap(withToken);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->token, bytes({0x20, 0xf2}));
  EXPECT_EQ(describe(*m), "CON 0.01 mid=32053 token=20f2");

  auto ack = parseCoap(bytes({0x60, 0x00, 0x7d, 0x35}));
  ASSERT_TRUE(ack.ok());
  EXPECT_TRUE(ack->isEmpty());
  EXPECT_FALSE(ack->isRequest());
  EXPECT_FALSE(ack->isResponse());
  auto rst = parseCoap(bytes({0x70, 0x00, 0x12, 0x34}));
  ASSERT_TRUE(rst.ok());
  EXPECT_EQ(rst->type, CoapType::kRst);

  // 8 bytes of token is the most.
  Bytes eight = bytes({0x58, 0x45, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_TRUE(parseCoap(eight).ok());
  EXPECT_EQ(parseCoap(eight)->token.size(), 8u);
}

TEST(CoapMessage, ExtendedOptionDeltasAndLengths) {
  // A Register: Uri-Path "rd" (11), Content-Format 40 (12), Uri-Query (15), an option 60
  // (Size1, delta 45: the 1-byte extension) and option 2100 (delta 2040: the 2-byte one) with
  // a value of 300 bytes (the 2-byte length) and one of 13 bytes (the 1-byte length).
  CoapMessage m;
  m.type = CoapType::kCon;
  m.code = 0x02;
  m.messageId = 0xbeef;
  m.token = bytes({0xaa, 0xbb, 0xcc, 0xdd});
  m.add(coap_option::kUriQuery, "ep=dev-1");
  m.add(coap_option::kUriPath, "rd");
  m.addUint(coap_option::kContentFormat, 40);
  m.add(coap_option::kUriQuery, "b=SQ");
  m.add(2100, std::string(300, 'x'));
  m.add(60, "thirteen-byte");
  m.payload = {'<', '/', '1', '/', '0', '>'};
  auto wire = serializeCoap(m);
  ASSERT_TRUE(wire.ok()) << wire.error().message;
  const Bytes& w = *wire;
  // Header, token, then Uri-Path: delta 11, length 2.
  ASSERT_GE(w.size(), 11u);
  EXPECT_EQ(w[0], 0x44);
  EXPECT_EQ(w[8], 0xb2);
  // Content-Format 40: delta 1, one byte.
  EXPECT_EQ(w[11], 0x11);
  EXPECT_EQ(w[12], 40);
  // Uri-Query "ep=dev-1": delta 3, length 8; then "b=SQ": delta 0, length 4.
  EXPECT_EQ(w[13], 0x38);
  EXPECT_EQ(w[22], 0x04);
  // Option 60: delta 45 = 13 + 32, length 13 = 13 + 0.
  EXPECT_EQ(w[27], 0xdd);
  EXPECT_EQ(w[28], 32);
  EXPECT_EQ(w[29], 0);
  // Option 2100: delta 2040 = 269 + 1771 (0x06eb), length 300 = 269 + 31.
  const std::size_t at = 30 + 13;
  EXPECT_EQ(w[at], 0xee);
  EXPECT_EQ(w[at + 1], 0x06);
  EXPECT_EQ(w[at + 2], 0xeb);
  EXPECT_EQ(w[at + 3], 0x00);
  EXPECT_EQ(w[at + 4], 31);
  EXPECT_EQ(w[at + 5 + 300], 0xff);

  auto back = parseCoap(w);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->strings(coap_option::kUriQuery),
            (std::vector<std::string_view>{"ep=dev-1", "b=SQ"}));
  EXPECT_EQ(back->uintOption(coap_option::kContentFormat), 40u);
  ASSERT_NE(back->first(2100), nullptr);
  EXPECT_EQ(back->first(2100)->value.size(), 300u);
  EXPECT_EQ(back->payload, m.payload);
  // Sorted by number on the wire; the repeated Uri-Query keeps its order.
  std::vector<std::uint16_t> numbers;
  for (const auto& o : back->options) numbers.push_back(o.number);
  EXPECT_EQ(numbers, (std::vector<std::uint16_t>{11, 12, 15, 15, 60, 2100}));
  EXPECT_EQ(*serializeCoap(*back), w);
}

TEST(CoapMessage, UintOptionsUseTheShortestForm) {
  CoapMessage m;
  m.code = 0x45;
  m.type = CoapType::kAck;
  m.addUint(coap_option::kObserve, 0);
  m.addUint(coap_option::kContentFormat, 11543);
  m.addUint(coap_option::kAccept, 0x01020304);
  EXPECT_TRUE(m.options[0].value.empty());
  EXPECT_EQ(m.options[1].value, bytes({0x2d, 0x17}));
  EXPECT_EQ(m.options[2].value.size(), 4u);
  EXPECT_EQ(m.uintOption(coap_option::kObserve), 0u);
  EXPECT_EQ(m.uintOption(coap_option::kContentFormat), 11543u);
  EXPECT_EQ(m.uintOption(coap_option::kAccept), 0x01020304u);
  EXPECT_EQ(m.uintOption(coap_option::kUriPath), std::nullopt);
  m.options.push_back({99, Bytes(5, 1)});
  EXPECT_EQ(m.uintOption(99), std::nullopt);  // longer than a uint
}

TEST(CoapMessage, RefusesMalformedInputWithTheReason) {
  EXPECT_NE(errorOf({}).find("shorter than the 4-byte header"), std::string::npos);
  EXPECT_NE(errorOf(bytes({0x40, 0x01, 0x00})).find("shorter"), std::string::npos);
  // Version 0, 2, 3.
  EXPECT_NE(errorOf(bytes({0x00, 0x01, 0, 1})).find("version 0"), std::string::npos);
  EXPECT_NE(errorOf(bytes({0x80, 0x01, 0, 1})).find("version 2"), std::string::npos);
  EXPECT_NE(errorOf(bytes({0xc0, 0x01, 0, 1})).find("version 3"), std::string::npos);
  // Token length 9 to 15.
  for (int tkl = 9; tkl <= 15; ++tkl) {
    Bytes b = bytes({0x40 | tkl, 0x01, 0, 1});
    b.resize(4 + tkl, 0xaa);
    EXPECT_NE(errorOf(b).find("token length " + std::to_string(tkl)), std::string::npos) << tkl;
  }
  EXPECT_NE(errorOf(bytes({0x44, 0x01, 0, 1, 1, 2})).find("token runs past"), std::string::npos);
  // Nibble 15 in the delta (not the payload marker) or the length.
  EXPECT_NE(errorOf(bytes({0x40, 0x01, 0, 1, 0xf0})).find("delta nibble 15"), std::string::npos);
  EXPECT_NE(errorOf(bytes({0x40, 0x01, 0, 1, 0xbf})).find("length nibble 15"), std::string::npos);
  // Truncated extensions and values.
  EXPECT_NE(errorOf(bytes({0x40, 0x01, 0, 1, 0xd0})).find("runs past"), std::string::npos);
  EXPECT_NE(errorOf(bytes({0x40, 0x01, 0, 1, 0xe0, 0x01})).find("runs past"), std::string::npos);
  EXPECT_NE(errorOf(bytes({0x40, 0x01, 0, 1, 0x1d})).find("length runs past"), std::string::npos);
  EXPECT_NE(errorOf(bytes({0x40, 0x01, 0, 1, 0xb3, 'r', 'd'})).find("runs past the end"),
            std::string::npos);
  // Option numbers beyond 65535: 269 + 0xffff.
  EXPECT_NE(errorOf(bytes({0x40, 0x01, 0, 1, 0xe0, 0xff, 0xff})).find("beyond 65535"),
            std::string::npos);
  // A payload marker with nothing after it.
  EXPECT_NE(errorOf(bytes({0x40, 0x02, 0, 1, 0xff})).find("payload marker with no payload"),
            std::string::npos);
  EXPECT_NE(errorOf(bytes({0x40, 0x02, 0, 1, 0xb2, 'r', 'd', 0xff})).find("no payload"),
            std::string::npos);
  // An Empty message with a token, an option or a payload.
  EXPECT_NE(errorOf(bytes({0x61, 0x00, 0, 1, 0x01})).find("Empty message"), std::string::npos);
  EXPECT_NE(errorOf(bytes({0x60, 0x00, 0, 1, 0xff, 1})).find("Empty message"), std::string::npos);
  // Reserved code classes 1, 3, 6, 7.
  for (int cls : {1, 3, 6, 7}) {
    EXPECT_NE(errorOf(bytes({0x50, cls << 5, 0, 1})).find("reserved class"), std::string::npos)
        << cls;
  }
}

TEST(CoapMessage, SerializeRefusesWhatCannotBeSent) {
  CoapMessage m;
  m.code = 0x01;
  m.token = Bytes(9, 1);
  EXPECT_FALSE(serializeCoap(m).ok());
  m.token.clear();
  m.options.push_back({11, Bytes(kMaxOptionLength + 1, 'a')});
  EXPECT_FALSE(serializeCoap(m).ok());
  m.options.clear();
  m.code = kCodeEmpty;
  m.payload = {1};
  EXPECT_FALSE(serializeCoap(m).ok());
  m.payload.clear();
  m.type = CoapType::kAck;
  EXPECT_EQ(*serializeCoap(m), bytes({0x60, 0x00, 0x00, 0x00}));
}

// Garbage: seeded mutations of valid messages. Whatever parses must serialize back to the same
// bytes (the wire form is canonical: a delta or length has exactly one encoding), and the rest
// must be refused with a reason, never crash or read out of bounds (ASan/UBSan builds).
TEST(CoapMessage, SeededMutationsParseCanonicallyOrFailCleanly) {
  std::vector<Bytes> seeds = {
      concat(bytes({0x40, 0x01, 0x7d, 0x34, 0xbb}), "temperature"),
      concat(bytes({0x60, 0x45, 0x7d, 0x34, 0xff}), "22.3 C"),
      bytes({0x60, 0x00, 0x7d, 0x35}),
      concat(bytes({0x44, 0x02, 0x12, 0x34, 1, 2, 3, 4, 0xb2, 'r', 'd', 0x11, 40, 0x38}),
             "ep=dev-1"),
  };
  {
    CoapMessage big;
    big.code = 0x45;
    big.type = CoapType::kNon;
    big.token = {9, 8, 7};
    big.addUint(coap_option::kObserve, 77);
    big.add(700, std::string(280, 'y'));
    big.payload = Bytes(50, 0x33);
    seeds.push_back(*serializeCoap(big));
  }
  std::mt19937 rng(52005);
  int parsed = 0;
  int refused = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes b = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      const std::size_t at = rng() % b.size();
      switch (rng() % 4) {
        case 0:
          b[at] = static_cast<std::uint8_t>(rng());
          break;
        case 1:
          b[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 2:
          b.resize(at);
          break;
        default:
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng()));
          break;
      }
    }
    auto m = parseCoap(b);
    if (!m) {
      ++refused;
      EXPECT_FALSE(m.error().message.empty());
      continue;
    }
    ++parsed;
    auto again = serializeCoap(*m);
    ASSERT_TRUE(again.ok()) << again.error().message;
    ASSERT_EQ(*again, b) << "round " << round;
  }
  // Both outcomes happen, so the loop tests something either way.
  EXPECT_GT(parsed, 1000);
  EXPECT_GT(refused, 1000);
}

}  // namespace
}  // namespace lwgate::modem
