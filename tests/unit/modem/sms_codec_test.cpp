#include "modem/sms_codec.h"

#include <gtest/gtest.h>

#include <numeric>

namespace lwgate::modem {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes message(std::size_t n) {
  Bytes m(n);
  std::iota(m.begin(), m.end(), std::uint8_t{1});
  return m;
}

SegmentOptions options(ConcatWidth width, std::uint16_t reference,
                       std::optional<Ports> ports = std::nullopt, std::size_t maxParts = 255) {
  SegmentOptions o;
  o.width = width;
  o.reference = reference;
  o.ports = ports;
  o.maxParts = maxParts;
  return o;
}

Bytes join(const std::vector<SmsPart>& parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.data.begin(), p.data.end());
  return out;
}

TEST(SmsSegment, PayloadPerLayoutMatchesTheKnownFigures) {
  // The figures libgammu's users quote (issue 5): 140 bare, 134 with 8-bit concatenation, 128
  // with port addressing and concatenation.
  EXPECT_EQ(payloadPerPart(false, ConcatWidth::k8bit, false), 140u);
  EXPECT_EQ(payloadPerPart(true, ConcatWidth::k8bit, false), 134u);
  EXPECT_EQ(payloadPerPart(true, ConcatWidth::k16bit, false), 133u);
  EXPECT_EQ(payloadPerPart(false, ConcatWidth::k8bit, true), 133u);
  EXPECT_EQ(payloadPerPart(true, ConcatWidth::k8bit, true), 128u);
  EXPECT_EQ(payloadPerPart(true, ConcatWidth::k16bit, true), 127u);
}

TEST(SmsSegment, UpTo140BytesIsOneSmsWithoutHeader) {
  for (std::size_t n : {1u, 20u, 140u}) {
    auto parts = segment(message(n));
    ASSERT_TRUE(parts.ok()) << n;
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_TRUE((*parts)[0].header.empty());
    EXPECT_EQ((*parts)[0].data, message(n));
    EXPECT_EQ((*parts)[0].userData(), message(n));
  }
}

TEST(SmsSegment, EightBitConcatenation) {
  auto parts = segment(message(141), options(ConcatWidth::k8bit, 0x1a7));
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);
  // UDHL 5, IEI 0, IEDL 3, reference (low byte), total, sequence.
  EXPECT_EQ((*parts)[0].header, (Bytes{0x05, 0x00, 0x03, 0xa7, 0x02, 0x01}));
  EXPECT_EQ((*parts)[1].header, (Bytes{0x05, 0x00, 0x03, 0xa7, 0x02, 0x02}));
  EXPECT_EQ((*parts)[0].data.size(), 134u);
  EXPECT_EQ((*parts)[1].data.size(), 7u);
  EXPECT_EQ((*parts)[0].userData().size(), 140u);
  EXPECT_EQ(join(*parts), message(141));
}

TEST(SmsSegment, SixteenBitConcatenation) {
  auto parts = segment(message(3 * 133), options(ConcatWidth::k16bit, 0xbeef));
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[2].header, (Bytes{0x06, 0x08, 0x04, 0xbe, 0xef, 0x03, 0x03}));
  for (const auto& p : *parts) EXPECT_EQ(p.userData().size(), 140u);
  EXPECT_EQ(join(*parts), message(399));
}

TEST(SmsSegment, PortAddressingAloneWhenItFits) {
  auto parts = segment(message(133), options(ConcatWidth::k8bit, 0, Ports{5683, 0x1234}));
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].header, (Bytes{0x06, 0x05, 0x04, 0x16, 0x33, 0x12, 0x34}));
  EXPECT_EQ((*parts)[0].userData().size(), 140u);
}

TEST(SmsSegment, PortAddressingWithConcatenation) {
  auto parts = segment(message(134), options(ConcatWidth::k8bit, 9, Ports{5683, 5683}));
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].header,
            (Bytes{0x0b, 0x00, 0x03, 0x09, 0x02, 0x01, 0x05, 0x04, 0x16, 0x33, 0x16, 0x33}));
  EXPECT_EQ((*parts)[0].data.size(), 128u);
  EXPECT_EQ((*parts)[1].data.size(), 6u);

  auto wide = segment(message(134), options(ConcatWidth::k16bit, 0x0102, Ports{1, 2}));
  ASSERT_TRUE(wide.ok());
  ASSERT_EQ(wide->size(), 2u);
  EXPECT_EQ((*wide)[1].header,
            (Bytes{0x0c, 0x08, 0x04, 0x01, 0x02, 0x02, 0x02, 0x05, 0x04, 0x00, 0x01, 0x00, 0x02}));
  EXPECT_EQ((*wide)[0].data.size(), 127u);
}

TEST(SmsSegment, EmptyAndTooLargeAreRefused) {
  auto empty = segment(Bytes{});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kBadRequest);

  EXPECT_TRUE(segment(message(4 * 134), options(ConcatWidth::k8bit, 0, std::nullopt, 4)).ok());
  auto big = segment(message(4 * 134 + 1), options(ConcatWidth::k8bit, 0, std::nullopt, 4));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kTooLarge);
  EXPECT_NE(big.error().message.find("needs 5 SMS"), std::string::npos) << big.error().message;

  // 255 parts is what the format can count.
  EXPECT_TRUE(segment(message(255 * 134)).ok());
  EXPECT_FALSE(segment(message(255 * 134 + 1)).ok());
}

TEST(SmsHeader, ParsesEveryLayoutSegmentWrites) {
  for (auto width : {ConcatWidth::k8bit, ConcatWidth::k16bit}) {
    for (bool ports : {false, true}) {
      SegmentOptions o = options(width, 200);
      if (ports) o.ports = Ports{5683, 61616};
      auto parts = segment(message(300), o);
      ASSERT_TRUE(parts.ok());
      for (std::size_t k = 0; k < parts->size(); ++k) {
        auto h = parseHeader((*parts)[k].header);
        ASSERT_TRUE(h.ok()) << h.error().message;
        ASSERT_TRUE(h->concat);
        EXPECT_EQ(h->concat->width, width);
        EXPECT_EQ(h->concat->reference, 200);
        EXPECT_EQ(h->concat->total, parts->size());
        EXPECT_EQ(h->concat->sequence, k + 1);
        EXPECT_EQ(h->ports, o.ports);
        auto split = splitUserData((*parts)[k].userData(), true);
        ASSERT_TRUE(split.ok());
        EXPECT_EQ(split->header, (*parts)[k].header);
        EXPECT_EQ(split->data, (*parts)[k].data);
      }
    }
  }
}

TEST(SmsHeader, EightBitPortsAndUnknownElements) {
  // An unknown element (0x70, SIM toolkit security) is skipped; 8-bit ports are understood.
  auto h = parseHeader(Bytes{0x07, 0x70, 0x01, 0xff, 0x04, 0x02, 0x10, 0x20});
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_FALSE(h->concat);
  ASSERT_TRUE(h->ports);
  EXPECT_EQ(h->ports->destination, 0x10);
  EXPECT_EQ(h->ports->source, 0x20);
}

TEST(SmsHeader, GarbageIsRefusedWithAReason) {
  struct Case {
    Bytes header;
    const char* reason;
  };
  const Case cases[] = {
      {{}, "no length octet"},
      {{0x05, 0x00, 0x03, 0x01, 0x02}, "length octet says 5 but 4 octets follow"},
      {{0x01, 0x00}, "cut short"},
      {{0x03, 0x00, 0x03, 0x01}, "runs past the header"},
      {{0x04, 0x00, 0x02, 0x01, 0x02}, "has length 2, expected 3"},
      {{0x05, 0x00, 0x03, 0x01, 0x00, 0x00}, "0 parts"},
      {{0x05, 0x00, 0x03, 0x01, 0x02, 0x00}, "part 0 of 2"},
      {{0x05, 0x00, 0x03, 0x01, 0x02, 0x03}, "part 3 of 2"},
      {{0x0a, 0x00, 0x03, 0x01, 0x02, 0x01, 0x00, 0x03, 0x01, 0x02, 0x02},
       "more than one concatenation"},
      {{0x0b, 0x00, 0x03, 0x01, 0x02, 0x01, 0x08, 0x04, 0x00, 0x01, 0x02, 0x01},
       "more than one concatenation"},
      {{0x0c, 0x05, 0x04, 0, 1, 0, 2, 0x05, 0x04, 0, 1, 0, 2}, "more than one port"},
      {{0x05, 0x05, 0x03, 0, 1, 0}, "expected 4"},
  };
  for (const auto& c : cases) {
    auto h = parseHeader(c.header);
    ASSERT_FALSE(h.ok()) << c.reason;
    EXPECT_EQ(h.error().code, ErrorCode::kBadRequest);
    EXPECT_NE(h.error().message.find(c.reason), std::string::npos)
        << "wanted \"" << c.reason << "\" in \"" << h.error().message << "\"";
  }
}

TEST(SmsHeader, SplitUserData) {
  auto plain = splitUserData(Bytes{0x40, 0x02}, false);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->header.empty());
  EXPECT_EQ(plain->data, (Bytes{0x40, 0x02}));

  EXPECT_FALSE(splitUserData(Bytes{}, true).ok());
  auto past = splitUserData(Bytes{0x05, 0x00, 0x03}, true);
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.error().message.find("only 2 octets follow"), std::string::npos);
  // A header alone, no data: valid framing, empty data.
  auto bare = splitUserData(Bytes{0x05, 0x00, 0x03, 0x07, 0x02, 0x01}, true);
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->data.empty());
}

}  // namespace
}  // namespace lwgate::modem
