#include "gateway/lwm2m/link_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/lwm2m/error_assertions.h"

namespace lwgate::lwm2m {

// Readable failure output (gtest finds these by argument-dependent lookup).
void PrintTo(const ObjectLink& link, std::ostream* os) {
  *os << "/" << link.objectId;
  if (link.instanceId) *os << "/" << *link.instanceId;
  if (link.version) *os << ";ver=" << *link.version;
}

void PrintTo(const ObjectList& list, std::ostream* os) {
  *os << "{altPath=" << list.altPath << " ct=[";
  for (auto ct : list.contentFormats) *os << ct << " ";
  *os << "] links=[";
  for (const auto& link : list.links) {
    PrintTo(link, os);
    *os << " ";
  }
  *os << "]}";
}

namespace {

using testing::failsWith;
using Params = std::vector<std::pair<std::string, std::optional<std::string>>>;

constexpr std::size_t kManyLinks = 100;

std::vector<Link> parseOk(std::string_view text, std::size_t maxLinks = kManyLinks) {
  auto result = parseLinkFormat(text, maxLinks);
  EXPECT_TRUE(result.ok()) << "input: " << text << "\nerror: " << result.error().message;
  return result.ok() ? std::move(*result) : std::vector<Link>{};
}

ObjectList objectsOk(std::string_view payload, ObjectListLimits limits = {}) {
  auto result = parseObjectList(payload, limits);
  EXPECT_TRUE(result.ok()) << "input: " << payload << "\nerror: " << result.error().message;
  return result.ok() ? std::move(*result) : ObjectList{};
}

Result<ObjectList> objects(std::string_view payload, std::size_t maxLinks = 1024) {
  return parseObjectList(payload, ObjectListLimits{.maxLinks = maxLinks});
}

ObjectLink obj(std::uint16_t id, std::optional<std::string> version = std::nullopt) {
  return ObjectLink{.objectId = id, .instanceId = std::nullopt, .version = std::move(version)};
}

ObjectLink inst(std::uint16_t id, std::uint16_t instance,
                std::optional<std::string> version = std::nullopt) {
  return ObjectLink{.objectId = id, .instanceId = instance, .version = std::move(version)};
}

// ---------------------------------------------------------------------------------------------
// parseLinkFormat: RFC 6690 syntax

TEST(ParseLinkFormat, EmptyAndWhitespaceOnlyDocumentsHaveNoLinks) {
  EXPECT_TRUE(parseOk("").empty());
  EXPECT_TRUE(parseOk(" \t\r\n ").empty());
  // Even with no room for a single link, an empty document fits.
  EXPECT_TRUE(parseOk("", 0).empty());
}

TEST(ParseLinkFormat, LinksWithoutParameters) {
  const auto links = parseOk("</1/0>,</3/0>,</5>");
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[0].target, "/1/0");
  EXPECT_EQ(links[1].target, "/3/0");
  EXPECT_EQ(links[2].target, "/5");
  for (const auto& link : links) EXPECT_TRUE(link.params.empty());
}

TEST(ParseLinkFormat, BareTokenAndQuotedParametersInOrder) {
  const auto links = parseOk(R"(</3/0>;obs;ver=1.1;rt="oma.lwm2m";ct=11543;obs)");
  ASSERT_EQ(links.size(), 1u);
  const Params expected = {{"obs", std::nullopt},
                           {"ver", "1.1"},
                           {"rt", "oma.lwm2m"},
                           {"ct", "11543"},
                           {"obs", std::nullopt}};
  EXPECT_EQ(links[0].params, expected);
}

TEST(ParseLinkFormat, QuotedValuesResolveBackslashEscapes) {
  const auto links = parseOk(R"(</a>;title="say \"hi\" \\ \x";empty="")");
  ASSERT_EQ(links.size(), 1u);
  ASSERT_EQ(links[0].params.size(), 2u);
  EXPECT_EQ(links[0].params[0].second, R"(say "hi" \ x)");
  // An empty quoted string is a value, unlike a bare parameter.
  EXPECT_EQ(links[0].params[1].second, std::optional<std::string>(""));
}

TEST(ParseLinkFormat, SeparatorsInsideQuotesDoNotSplitLinks) {
  const auto links = parseOk(R"(</a>;title="x,y;z <w> ",</b>)");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].param("title"), "x,y;z <w> ");
  EXPECT_EQ(links[1].target, "/b");
}

TEST(ParseLinkFormat, TabAndNonAsciiAllowedInQuotedString) {
  const auto links = parseOk("</a>;title=\"a\tb \xC3\xA4\"");
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].param("title"), "a\tb \xC3\xA4");
}

TEST(ParseLinkFormat, TokenValuesMayUsePtokenPunctuation) {
  const auto links = parseOk("</a>;x=!#$%&'()*+-./:<=>?@[]^_`{|}~");
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].param("x"), "!#$%&'()*+-./:<=>?@[]^_`{|}~");
}

TEST(ParseLinkFormat, ToleratesWhitespaceAroundSeparators) {
  const auto links = parseOk(" \r\n</1/0> ,\r\n\t</3/0> ; ver=1.1 ;\tobs , </5>\n");
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[1].target, "/3/0");
  const Params expected = {{"ver", "1.1"}, {"obs", std::nullopt}};
  EXPECT_EQ(links[1].params, expected);
  EXPECT_EQ(links[2].target, "/5");
}

TEST(ParseLinkFormat, ParamReturnsFirstOccurrenceWithAValue) {
  const auto links = parseOk("</a>;ct;ct=5;ct=6;rt=x");
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].param("ct"), "5");
  EXPECT_EQ(links[0].param("rt"), "x");
  EXPECT_EQ(links[0].param("if"), std::nullopt);
  EXPECT_EQ(links[0].param("CT"), std::nullopt);  // names compare exactly

  const auto bare = parseOk("</a>;obs");
  EXPECT_EQ(bare[0].param("obs"), std::nullopt);
}

TEST(ParseLinkFormat, KeepsUnknownParameters) {
  const auto links = parseOk(R"(</3303/0>;if="sensor";sz=42;foo)");
  ASSERT_EQ(links.size(), 1u);
  const Params expected = {{"if", "sensor"}, {"sz", "42"}, {"foo", std::nullopt}};
  EXPECT_EQ(links[0].params, expected);
}

TEST(ParseLinkFormat, TargetsAreNotInterpreted) {
  const auto links = parseOk("<coap://h:5683/x?y=1&z#f>,</>");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].target, "coap://h:5683/x?y=1&z#f");
  EXPECT_EQ(links[1].target, "/");
}

TEST(ParseLinkFormat, MissingOpeningBracket) {
  EXPECT_TRUE(failsWith(parseLinkFormat("/1/0>", kManyLinks), ErrorCode::kBadRequest,
                        "link-format: expected '<' at offset 0, found '/'"));
  EXPECT_TRUE(failsWith(parseLinkFormat("  x", kManyLinks), ErrorCode::kBadRequest,
                        "expected '<' at offset 2, found 'x'"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>,/3>", kManyLinks), ErrorCode::kBadRequest,
                        "expected '<' at offset 5, found '/'"));
}

TEST(ParseLinkFormat, MissingClosingBracket) {
  EXPECT_TRUE(failsWith(parseLinkFormat("</1/0", kManyLinks), ErrorCode::kBadRequest,
                        "expected '>' at offset 5 (end of input)"));
  // ',' is a legal URI character, so the missing '>' shows up at the next '<'.
  EXPECT_TRUE(failsWith(parseLinkFormat("</1/0,</3>", kManyLinks), ErrorCode::kBadRequest,
                        "expected '>' at offset 6, found '<'"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1 /0>", kManyLinks), ErrorCode::kBadRequest,
                        "expected '>' at offset 3, found a space"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</\xC3\xA4>", kManyLinks), ErrorCode::kBadRequest,
                        "expected '>' at offset 2, found byte 0xC3"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</\"a\">", kManyLinks), ErrorCode::kBadRequest,
                        "expected '>' at offset 2, found '\"'"));
}

TEST(ParseLinkFormat, EmptyTarget) {
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>, <>", kManyLinks), ErrorCode::kBadRequest,
                        "empty link target <> at offset 6"));
}

TEST(ParseLinkFormat, UnterminatedQuote) {
  EXPECT_TRUE(failsWith(parseLinkFormat(R"(</1>;rt="abc)", kManyLinks), ErrorCode::kBadRequest,
                        "unterminated quoted string starting at offset 8"));
  EXPECT_TRUE(failsWith(parseLinkFormat(R"(</1>;rt="abc\)", kManyLinks), ErrorCode::kBadRequest,
                        "unterminated quoted string starting at offset 8"));
  // The escaped quote does not close the string.
  EXPECT_TRUE(failsWith(parseLinkFormat(R"(</1>;rt="abc\",</2>)", kManyLinks),
                        ErrorCode::kBadRequest, "unterminated quoted string"));
}

TEST(ParseLinkFormat, StrayCharacters) {
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>x", kManyLinks), ErrorCode::kBadRequest,
                        "expected ',' or ';' at offset 4, found 'x'"));
  EXPECT_TRUE(failsWith(parseLinkFormat(R"(</1>;rt="a"b)", kManyLinks), ErrorCode::kBadRequest,
                        "expected ',' or ';' at offset 11, found 'b'"));
  // An unquoted list is two tokens: the second one is stray.
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;ct=60 110", kManyLinks), ErrorCode::kBadRequest,
                        "expected ',' or ';' at offset 11, found '1'"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1></2>", kManyLinks), ErrorCode::kBadRequest,
                        "expected ',' or ';' at offset 4, found '<'"));
}

TEST(ParseLinkFormat, EmptyLinksBetweenCommas) {
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>,", kManyLinks), ErrorCode::kBadRequest,
                        "expected '<' at offset 5 (end of input)"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>, ", kManyLinks), ErrorCode::kBadRequest,
                        "expected '<' at offset 6 (end of input)"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>,,</2>", kManyLinks), ErrorCode::kBadRequest,
                        "expected '<' at offset 5, found ','"));
  EXPECT_TRUE(failsWith(parseLinkFormat(",</1>", kManyLinks), ErrorCode::kBadRequest,
                        "expected '<' at offset 0, found ','"));
}

TEST(ParseLinkFormat, BadParameters) {
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;", kManyLinks), ErrorCode::kBadRequest,
                        "expected a parameter name at offset 5 (end of input)"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;;obs", kManyLinks), ErrorCode::kBadRequest,
                        "expected a parameter name at offset 5, found ';'"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;=x", kManyLinks), ErrorCode::kBadRequest,
                        "expected a parameter name at offset 5, found '='"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;ct=", kManyLinks), ErrorCode::kBadRequest,
                        "expected a parameter value at offset 8 (end of input)"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;ct=,</2>", kManyLinks), ErrorCode::kBadRequest,
                        "expected a parameter value at offset 8, found ','"));
  // No whitespace around '=' (RFC 6690 has none, and no client sends it).
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;ct= 5", kManyLinks), ErrorCode::kBadRequest,
                        "expected a parameter value at offset 8, found a space"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;ct =5", kManyLinks), ErrorCode::kBadRequest,
                        "expected ',' or ';' at offset 8, found '='"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;c\"t=5", kManyLinks), ErrorCode::kBadRequest,
                        "expected ',' or ';' at offset 6, found '\"'"));
}

TEST(ParseLinkFormat, RejectsNulBytesAnywhere) {
  using namespace std::string_literals;
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>\0,</2>"s, kManyLinks), ErrorCode::kBadRequest,
                        "link-format: NUL byte at offset 4"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;t=\"a\0b\""s, kManyLinks), ErrorCode::kBadRequest,
                        "NUL byte at offset 9"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1\0>"s, kManyLinks), ErrorCode::kBadRequest,
                        "NUL byte at offset 3"));
}

TEST(ParseLinkFormat, RejectsControlCharactersInQuotedStrings) {
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;t=\"a\x01\"", kManyLinks), ErrorCode::kBadRequest,
                        "control character byte 0x01 in quoted string at offset 9"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;t=\"a\nb\"", kManyLinks), ErrorCode::kBadRequest,
                        "control character byte 0x0A in quoted string at offset 9"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>;t=\"\\\x7f\"", kManyLinks), ErrorCode::kBadRequest,
                        "control character byte 0x7F"));
}

TEST(ParseLinkFormat, LinkLimitIsInclusive) {
  EXPECT_EQ(parseOk("</1>,</2>,</3>", 3).size(), 3u);
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>,</2>,</3>,</4>", 3), ErrorCode::kTooLarge,
                        "link-format: more than 3 links"));
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>", 0), ErrorCode::kTooLarge, "more than 0 links"));
}

TEST(ParseLinkFormat, LimitIsCheckedBeforeLaterSyntaxErrors) {
  // The parser stops at the limit instead of reading (and allocating for) the rest.
  EXPECT_TRUE(failsWith(parseLinkFormat("</1>,</2>,garbage", 2), ErrorCode::kTooLarge,
                        "more than 2 links"));
}

// ---------------------------------------------------------------------------------------------
// parseObjectList: the LwM2M reading of a registration payload

TEST(ParseObjectList, EmptyPayloadIsAnEmptyList) {
  EXPECT_EQ(objectsOk(""), ObjectList{});
  EXPECT_EQ(objectsOk("  \r\n"), ObjectList{});
  EXPECT_EQ(objectsOk("").altPath, "/");
}

TEST(ParseObjectList, LeshanStylePayloadWithVersionsAndContentFormat) {
  const auto list =
      objectsOk(R"(</>;rt="oma.lwm2m";ct=11543,</1>;ver=1.1,</1/0>,</3>;ver=1.0,</3/0>,</5/0>)");
  EXPECT_EQ(list.altPath, "/");
  EXPECT_EQ(list.contentFormats, std::vector<std::uint16_t>{11543});
  const std::vector<ObjectLink> expected = {obj(1, "1.1"), inst(1, 0), obj(3, "1.0"), inst(3, 0),
                                            inst(5, 0)};
  EXPECT_EQ(list.links, expected);
}

TEST(ParseObjectList, RootLinkMayComeLastAndVersionMayBeOnAnInstance) {
  // LwM2M 1.1 clients put ver= on the first instance link.
  const auto list = objectsOk(R"(</1/0>,</3/0>;ver=1.1,</>;rt="oma.lwm2m";ct=11543)");
  EXPECT_EQ(list.contentFormats, std::vector<std::uint16_t>{11543});
  const std::vector<ObjectLink> expected = {inst(1, 0), inst(3, 0, "1.1")};
  EXPECT_EQ(list.links, expected);
}

TEST(ParseObjectList, Lwm2m10PayloadWithoutRootLink) {
  const auto list = objectsOk("</1/0>,</2/0>,</2/1>,</3/0>,</4/0>,</5>");
  EXPECT_EQ(list.altPath, "/");
  EXPECT_TRUE(list.contentFormats.empty());
  const std::vector<ObjectLink> expected = {inst(1, 0), inst(2, 0), inst(2, 1),
                                            inst(3, 0), inst(4, 0), obj(5)};
  EXPECT_EQ(list.links, expected);
}

TEST(ParseObjectList, AlternatePathWithContentFormatList) {
  const auto list = objectsOk(
      R"(</lwm2m>;rt="oma.lwm2m";ct="60 110",</lwm2m/1/0>,</lwm2m/3>;ver=1.1,</lwm2m/3/0>)");
  EXPECT_EQ(list.altPath, "/lwm2m");
  EXPECT_EQ(list.contentFormats, (std::vector<std::uint16_t>{60, 110}));
  const std::vector<ObjectLink> expected = {inst(1, 0), obj(3, "1.1"), inst(3, 0)};
  EXPECT_EQ(list.links, expected);
}

TEST(ParseObjectList, SpecExampleWithSpacesAfterCommas) {
  // spec/cr-sms-registration-update-trigger.txt, registration payload example.
  const auto list = objectsOk(
      R"(</lwm2m>;rt="oma.lwm2m", </lwm2m/1/0>, </lwm2m/2/0>, </lwm2m/2/1>, </lwm2m/3/0>,)"
      R"(</lwm2m/4/0>,</lwm2m/5>)");
  EXPECT_EQ(list.altPath, "/lwm2m");
  const std::vector<ObjectLink> expected = {inst(1, 0), inst(2, 0), inst(2, 1),
                                            inst(3, 0), inst(4, 0), obj(5)};
  EXPECT_EQ(list.links, expected);
}

TEST(ParseObjectList, AnjayStyleMultiLinePayload) {
  const auto list = objectsOk(
      "</>;rt=\"oma.lwm2m\";ct=\"60 110 112 11542 11543\",\r\n"
      "</1>;ver=1.1,</1/1>,\r\n</3/0>,</3303>;ver=1.1,</3303/0>,</3303/1>\n");
  EXPECT_EQ(list.contentFormats, (std::vector<std::uint16_t>{60, 110, 112, 11542, 11543}));
  const std::vector<ObjectLink> expected = {obj(1, "1.1"),    inst(1, 1),    inst(3, 0),
                                            obj(3303, "1.1"), inst(3303, 0), inst(3303, 1)};
  EXPECT_EQ(list.links, expected);
}

TEST(ParseObjectList, MultiSegmentAlternatePath) {
  const auto list = objectsOk(R"(</a/b-c_d.e~f>;rt="oma.lwm2m",</a/b-c_d.e~f/3/0>)");
  EXPECT_EQ(list.altPath, "/a/b-c_d.e~f");
  EXPECT_EQ(list.links, std::vector<ObjectLink>{inst(3, 0)});
}

TEST(ParseObjectList, ResourceTypeListContainingOmaLwm2m) {
  const auto list = objectsOk(R"(</x>;rt="core.rd oma.lwm2m",</x/3/0>)");
  EXPECT_EQ(list.altPath, "/x");
  // A type that merely starts with the name does not count.
  EXPECT_TRUE(failsWith(objects(R"(</x>;rt="oma.lwm2m.v2",</x/3/0>)"), ErrorCode::kBadRequest,
                        "invalid object link </x>"));
}

TEST(ParseObjectList, UnknownLinkParametersAreIgnored) {
  // LwM2M 1.1 TS 6.2.1: other parameters "MUST be silently ignored".
  const auto list =
      objectsOk(R"(</3/0>;obs;title="x";ver=1.1;ct=abc,</4>;ssid=101;ver="1.2";uri="coap://x")");
  const std::vector<ObjectLink> expected = {inst(3, 0, "1.1"), obj(4, "1.2")};
  EXPECT_EQ(list.links, expected);
  EXPECT_TRUE(list.contentFormats.empty());  // ct= counts only on the rt="oma.lwm2m" link
}

TEST(ParseObjectList, BoundaryIdentifiers) {
  const auto list = objectsOk("</1/0>,</65535>,</65535/65535>,</10>,</10/10>");
  const std::vector<ObjectLink> expected = {inst(1, 0), obj(65535), inst(65535, 65535), obj(10),
                                            inst(10, 10)};
  EXPECT_EQ(list.links, expected);
}

TEST(ParseObjectList, RejectsBadAlternatePaths) {
  for (const char* payload :
       {R"(</lwm2m/>;rt="oma.lwm2m")", R"(<lwm2m>;rt="oma.lwm2m")", R"(</lw%20m>;rt="oma.lwm2m")",
        R"(</a//b>;rt="oma.lwm2m")", R"(</a/../b>;rt="oma.lwm2m")", R"(</.>;rt="oma.lwm2m")",
        R"(<//>;rt="oma.lwm2m")", R"(</a?b>;rt="oma.lwm2m")"}) {
    SCOPED_TRACE(payload);
    EXPECT_TRUE(failsWith(objects(payload), ErrorCode::kBadRequest, "invalid alternate path <"));
  }
}

TEST(ParseObjectList, RejectsTwoRootLinks) {
  EXPECT_TRUE(failsWith(objects(R"(</>;rt="oma.lwm2m",</a>;rt="oma.lwm2m",</3/0>)"),
                        ErrorCode::kBadRequest, "more than one link with rt=\"oma.lwm2m\""));
}

TEST(ParseObjectList, ContentFormats) {
  EXPECT_EQ(objectsOk(R"(</>;rt="oma.lwm2m";ct=0)").contentFormats, std::vector<std::uint16_t>{0});
  EXPECT_EQ(objectsOk(R"(</>;rt="oma.lwm2m";ct=65535)").contentFormats,
            std::vector<std::uint16_t>{65535});
  EXPECT_EQ(objectsOk(R"(</>;rt="oma.lwm2m";ct="11543")").contentFormats,
            std::vector<std::uint16_t>{11543});
  EXPECT_EQ(objectsOk(R"(</>;rt="oma.lwm2m";ct=" 60  110 ")").contentFormats,
            (std::vector<std::uint16_t>{60, 110}));
  // Only the first ct= counts.
  EXPECT_EQ(objectsOk(R"(</>;ct=60;rt="oma.lwm2m";ct=110)").contentFormats,
            std::vector<std::uint16_t>{60});

  for (const char* payload : {R"(</>;rt="oma.lwm2m";ct=abc)", R"(</>;rt="oma.lwm2m";ct="60 x")",
                              R"(</>;rt="oma.lwm2m";ct=65536)", R"(</>;rt="oma.lwm2m";ct=-1)",
                              R"(</>;rt="oma.lwm2m";ct=+1)", R"(</>;rt="oma.lwm2m";ct="60,110")",
                              R"(</>;rt="oma.lwm2m";ct=011543)"}) {
    SCOPED_TRACE(payload);
    EXPECT_TRUE(failsWith(objects(payload), ErrorCode::kBadRequest, "invalid ct="));
  }
  EXPECT_TRUE(
      failsWith(objects(R"(</>;rt="oma.lwm2m";ct="")"), ErrorCode::kBadRequest, "empty ct"));
  EXPECT_TRUE(
      failsWith(objects(R"(</>;rt="oma.lwm2m";ct)"), ErrorCode::kBadRequest, "ct without a value"));
}

TEST(ParseObjectList, RejectsTargetsThatAreNotObjectsOrInstances) {
  for (const char* payload : {"</3/0/1>", "</x>", "</65536>", "</3/65536>", "</+3>", "</-1>",
                              "</03>", "</3/00>", "</3/>", "<//3>", "</>", "<3/0>", "</3/0?x>",
                              "</3 >", "</1/0>,</3/0/0/0>", "</99999999999999999999>"}) {
    SCOPED_TRACE(payload);
    auto result = objects(payload);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::kBadRequest) << result.error().message;
  }
  EXPECT_TRUE(failsWith(objects("</1/0>,</3/0/1>"), ErrorCode::kBadRequest,
                        "invalid object link </3/0/1>: expected </O> or </O/I>"));
  EXPECT_TRUE(failsWith(objects("</>"), ErrorCode::kBadRequest, "invalid object link </>"));
}

TEST(ParseObjectList, ObjectLinksMustBeUnderTheAlternatePath) {
  EXPECT_TRUE(failsWith(objects(R"(</lwm2m>;rt="oma.lwm2m",</3/0>)"), ErrorCode::kBadRequest,
                        "link </3/0> is outside the alternate path \"/lwm2m\""));
  EXPECT_TRUE(failsWith(objects(R"(</lwm2m>;rt="oma.lwm2m",</lwm2mx/3/0>)"), ErrorCode::kBadRequest,
                        "outside the alternate path"));
  // The alternate path itself again, without rt=, is not an object link.
  EXPECT_TRUE(failsWith(objects(R"(</lwm2m>;rt="oma.lwm2m",</lwm2m>)"), ErrorCode::kBadRequest,
                        "invalid object link </lwm2m>: expected </lwm2m> then /O or /O/I"));
  EXPECT_TRUE(failsWith(objects(R"(</lwm2m>;rt="oma.lwm2m",</lwm2m/>)"), ErrorCode::kBadRequest,
                        "invalid object link </lwm2m/>"));
}

TEST(ParseObjectList, RejectsTheSecurityObject) {
  for (const char* payload :
       {"</0>", "</0/0>", "</1/0>,</0/1>", R"(</lwm2m>;rt="oma.lwm2m",</lwm2m/0/1>)"}) {
    SCOPED_TRACE(payload);
    EXPECT_TRUE(failsWith(objects(payload), ErrorCode::kBadRequest, "Security object"));
  }
  // Instance 0 of another object is fine.
  EXPECT_EQ(objectsOk("</1/0>").links, std::vector<ObjectLink>{inst(1, 0)});
}

TEST(ParseObjectList, RejectsDuplicateLinks) {
  EXPECT_TRUE(failsWith(objects("</3/0>,</5>,</3/0>"), ErrorCode::kBadRequest,
                        "duplicate object link </3/0>"));
  EXPECT_TRUE(failsWith(objects("</3>;ver=1.0,</3>"), ErrorCode::kBadRequest,
                        "duplicate object link </3>"));
  // An object link and its instance links are different links.
  const auto list = objectsOk("</3>,</3/0>,</3/1>");
  const std::vector<ObjectLink> expected = {obj(3), inst(3, 0), inst(3, 1)};
  EXPECT_EQ(list.links, expected);
}

TEST(ParseObjectList, ObjectVersions) {
  EXPECT_EQ(objectsOk("</3>;ver=10.25").links, std::vector<ObjectLink>{obj(3, "10.25")});
  EXPECT_EQ(objectsOk(R"(</3>;ver="1.1")").links, std::vector<ObjectLink>{obj(3, "1.1")});
  for (const char* payload :
       {"</3>;ver=1", "</3>;ver=1.", "</3>;ver=.1", "</3>;ver=v1.1", "</3>;ver=1.1.1",
        R"(</3>;ver="")", "</3>;ver", "</3>;ver=1.a", R"(</3>;ver=" 1.1")"}) {
    SCOPED_TRACE(payload);
    EXPECT_TRUE(failsWith(objects(payload), ErrorCode::kBadRequest, "invalid ver="));
  }
  EXPECT_TRUE(failsWith(objects("</1/0>,</3>;ver=x"), ErrorCode::kBadRequest,
                        "invalid ver=\"x\" on </3>: expected X.Y"));
}

TEST(ParseObjectList, SyntaxErrorsPassThrough) {
  EXPECT_TRUE(failsWith(objects("</1/0>,</3/0"), ErrorCode::kBadRequest,
                        "link-format: expected '>' at offset 12 (end of input)"));
}

TEST(ParseObjectList, LimitCountsObjectLinksOnly) {
  // Exactly at the limit, with and without the rt="oma.lwm2m" link.
  EXPECT_EQ(objectsOk("</1/0>,</3/0>,</5>", {.maxLinks = 3}).links.size(), 3u);
  EXPECT_EQ(objectsOk(R"(</>;rt="oma.lwm2m",</1/0>,</3/0>,</5>)", {.maxLinks = 3}).links.size(),
            3u);
  EXPECT_EQ(objectsOk(R"(</1/0>,</3/0>,</5>,</>;rt="oma.lwm2m")", {.maxLinks = 3}).links.size(),
            3u);
  // One more object link.
  EXPECT_TRUE(failsWith(objects("</1/0>,</3/0>,</5>,</6>", 3), ErrorCode::kTooLarge,
                        "registration payload has more than 3 object links"));
  EXPECT_TRUE(failsWith(objects(R"(</>;rt="oma.lwm2m",</1/0>,</3/0>,</5>,</6>)", 3),
                        ErrorCode::kTooLarge, "more than 3 object links"));
  // Zero allows only the root link.
  EXPECT_EQ(objectsOk(R"(</lwm2m>;rt="oma.lwm2m")", {.maxLinks = 0}).altPath, "/lwm2m");
  EXPECT_TRUE(failsWith(objects("</1/0>", 0), ErrorCode::kTooLarge, "more than 0 object links"));
  // No overflow with the largest limit.
  EXPECT_EQ(objectsOk("</1/0>", {.maxLinks = std::numeric_limits<std::size_t>::max()}).links.size(),
            1u);
}

TEST(ParseObjectList, DefaultLimitAtExactlyMaxAndMaxPlusOne) {
  ObjectList list;
  list.contentFormats = {11543};
  for (std::uint16_t i = 1; i <= 1024; ++i) list.links.push_back(inst(i, 0));
  EXPECT_EQ(objectsOk(formatObjectList(list)), list);
  list.links.push_back(inst(2000, 0));
  EXPECT_TRUE(failsWith(parseObjectList(formatObjectList(list), {}), ErrorCode::kTooLarge,
                        "more than 1024 object links"));
}

TEST(ParseObjectList, ErrorMessagesTruncateLongPeerInput) {
  const std::string longTarget = "</" + std::string(500, 'a') + ">";
  auto result = objects(longTarget);
  ASSERT_TRUE(failsWith(result, ErrorCode::kBadRequest, "invalid object link </aaaa"));
  EXPECT_NE(result.error().message.find("...>"), std::string::npos) << result.error().message;

  const std::string longVersion = "</3>;ver=\"" + std::string(300, '\x01') + "\"";
  // Control characters in a quoted string are a syntax error before anything is echoed.
  EXPECT_TRUE(failsWith(objects(longVersion), ErrorCode::kBadRequest, "control character"));

  const std::string quoteHeavy = R"(</3>;ver=")" + std::string(200, '9') + R"(\"x")";
  auto version = objects(quoteHeavy);
  ASSERT_TRUE(failsWith(version, ErrorCode::kBadRequest, "invalid ver=\"999"));
  EXPECT_NE(version.error().message.find("...\""), std::string::npos) << version.error().message;
}

TEST(ParseObjectList, MessagesStayShortWhenTheyEchoTwoLongInputs) {
  const std::string alt = "/" + std::string(100, 'a');
  const std::string root = "<" + alt + R"(>;rt="oma.lwm2m")";
  const std::string cases[] = {
      root + ",</" + std::string(100, 'b') + ">",                       // outside the alt path
      root + ",<" + alt + "/" + std::string(100, 'x') + ">",            // not /O or /O/I
      root + ",<" + alt + "/0/1>",                                      // Security object
      root + ",<" + alt + "/3>;ver=" + std::string(100, 'v'),           // bad ver
      root + ",<" + alt + "/3>,<" + alt + "/3>",                        // duplicate
      "</" + std::string(100, '%') + R"(>;rt="oma.lwm2m")",             // bad alt path
      R"(</>;rt="oma.lwm2m";ct=")" + std::string(100, '\'') + "\"",     // bad ct
      "</" + std::string(100, 'a') + ">;t=\"" + std::string(100, 'q'),  // unterminated quote
  };
  for (const auto& payload : cases) {
    SCOPED_TRACE(payload);
    auto result = objects(payload);
    ASSERT_TRUE(failsWith(result, ErrorCode::kBadRequest, ""));
    if (result.error().message.find("link-format:") == std::string::npos) {
      EXPECT_NE(result.error().message.find("..."), std::string::npos) << result.error().message;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// formatObjectList

TEST(FormatObjectList, HeaderExample) {
  ObjectList list;
  list.altPath = "/lwm2m";
  list.contentFormats = {60, 110};
  list.links = {inst(1, 0), obj(3, "1.1"), inst(3, 0)};
  EXPECT_EQ(formatObjectList(list),
            R"(</lwm2m>;rt="oma.lwm2m";ct="60 110",</lwm2m/1/0>,</lwm2m/3>;ver=1.1,</lwm2m/3/0>)");
}

TEST(FormatObjectList, RootLinkOnlyWhenItSaysSomething) {
  ObjectList list;
  EXPECT_EQ(formatObjectList(list), "");
  list.links = {inst(1, 0), obj(5)};
  EXPECT_EQ(formatObjectList(list), "</1/0>,</5>");
  list.contentFormats = {11543};
  EXPECT_EQ(formatObjectList(list), R"(</>;rt="oma.lwm2m";ct=11543,</1/0>,</5>)");
  list.contentFormats.clear();
  list.altPath = "/a/b";
  list.links.clear();
  EXPECT_EQ(formatObjectList(list), R"(</a/b>;rt="oma.lwm2m")");
}

TEST(FormatObjectList, QuotesVersionsThatAreNotTokens) {
  ObjectList list;
  list.links = {obj(3, R"(a "b";c)")};
  EXPECT_EQ(formatObjectList(list), R"(</3>;ver="a \"b\";c")");
  // And the link-format parser reads it back as the same value.
  const auto links = parseOk(formatObjectList(list));
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].param("ver"), R"(a "b";c)");
}

TEST(FormatObjectList, RoundTrips) {
  std::vector<ObjectList> cases;
  cases.push_back({});
  cases.push_back({.altPath = "/", .contentFormats = {}, .links = {inst(1, 0), obj(5)}});
  cases.push_back({.altPath = "/", .contentFormats = {11543}, .links = {obj(1, "1.1")}});
  cases.push_back({.altPath = "/lwm2m", .contentFormats = {}, .links = {}});
  cases.push_back({.altPath = "/a/b.c~d_e-f",
                   .contentFormats = {0, 60, 110, 112, 11542, 11543, 65535},
                   .links = {obj(65535, "2.0"), inst(65535, 65535), inst(1, 0, "1.2"), obj(3),
                             inst(3, 0), inst(3, 1)}});
  cases.push_back({.altPath = "/lwm2m", .contentFormats = {60, 60}, .links = {inst(7, 3)}});
  for (const auto& list : cases) {
    const std::string text = formatObjectList(list);
    SCOPED_TRACE(text);
    EXPECT_EQ(objectsOk(text), list);
  }
}

TEST(FormatObjectList, ParseFormatIsStableForMessyInput) {
  const std::string messy =
      " </3/0> ;obs; ver=\"1.1\" ,\r\n</1/0>, </lwm2m>;rt=\"oma.lwm2m\";ct=\"60\"";
  EXPECT_TRUE(failsWith(objects(messy), ErrorCode::kBadRequest, "outside the alternate path"));
  const std::string valid = " </x/3/0> ;obs; ver=\"1.1\" ,\r\n</x/1/0>, </x>;rt=\"oma.lwm2m\"";
  const ObjectList first = objectsOk(valid);
  const std::string canonical = formatObjectList(first);
  EXPECT_EQ(canonical, R"(</x>;rt="oma.lwm2m",</x/3/0>;ver=1.1,</x/1/0>)");
  EXPECT_EQ(objectsOk(canonical), first);
}

// ---------------------------------------------------------------------------------------------
// Seeded random checks (std::mt19937 output is specified by the standard, so these are the same
// on every platform; only raw engine output is used, no distributions).

TEST(FormatObjectList, RandomValidListsRoundTrip) {
  std::mt19937 rng(20240601);
  const char* const kSegments[] = {"lwm2m", "a", "b-c", "x_y", "v1.2", "~t"};
  for (int iteration = 0; iteration < 500; ++iteration) {
    ObjectList list;
    const auto segments = rng() % 3;
    if (segments != 0) {
      list.altPath.clear();
      for (std::uint32_t i = 0; i < segments; ++i) {
        list.altPath += '/' + std::string(kSegments[rng() % std::size(kSegments)]);
      }
    }
    const auto formats = rng() % 4;
    for (std::uint32_t i = 0; i < formats; ++i) {
      list.contentFormats.push_back(static_cast<std::uint16_t>(rng()));
    }
    std::set<std::pair<std::uint16_t, std::int32_t>> used;
    const auto count = rng() % 20;
    while (list.links.size() < count) {
      // Small ids half of the time, so that object and instance links of one object meet often.
      // (One rng() call per statement keeps the sequence independent of evaluation order.)
      const std::uint32_t objectRange = rng() % 2 ? 8 : 65535;
      const auto objectId = static_cast<std::uint16_t>(1 + rng() % objectRange);
      std::optional<std::uint16_t> instanceId;
      if (rng() % 2) {
        const std::uint32_t instanceRange = rng() % 2 ? 3 : 65536;
        instanceId = static_cast<std::uint16_t>(rng() % instanceRange);
      }
      if (!used.emplace(objectId, instanceId ? *instanceId : -1).second) continue;
      std::optional<std::string> version;
      if (rng() % 3 == 0) {
        const auto major = rng() % 3;
        const auto minor = rng() % 12;
        version = std::to_string(major) + "." + std::to_string(minor);
      }
      list.links.push_back({.objectId = objectId, .instanceId = instanceId, .version = version});
    }
    const std::string text = formatObjectList(list);
    SCOPED_TRACE(text);
    ASSERT_EQ(objectsOk(text), list);
  }
}

TEST(ParseObjectList, RandomCorruptionsKeepTheErrorRules) {
  // Flip, insert and delete bytes of real payloads: every outcome is either a valid list that
  // survives a round trip or an error that keeps the message rules (failsWith with no phrase).
  const std::string seeds[] = {
      R"(</>;rt="oma.lwm2m";ct=11543,</1>;ver=1.1,</1/0>,</3>;ver=1.0,</3/0>,</5/0>)",
      R"(</lwm2m>;rt="oma.lwm2m";ct="60 110",</lwm2m/1/0>,</lwm2m/3>;ver=1.1,</lwm2m/3/0>)",
      "</1/0>, </2/0>,\r\n</3/0>;title=\"a \\\"q\\\"\";obs,</4>"};
  const char kInteresting[] = "<>;,=\"\\/ \t\r\n0123456789\x00\x01\x7f\xc3\xff";
  std::mt19937 rng(7);
  int errors = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string text = seeds[rng() % std::size(seeds)];
    for (std::uint32_t edits = 1 + rng() % 3; edits > 0; --edits) {
      const std::size_t at = rng() % (text.size() + 1);
      const bool interesting = rng() % 2 == 0;
      const auto pick = rng();
      const char c =
          interesting ? kInteresting[pick % (sizeof kInteresting - 1)] : static_cast<char>(pick);
      switch (rng() % 3) {
        case 0:
          text.insert(at, 1, c);
          break;
        case 1:
          if (at < text.size()) text[at] = c;
          break;
        default:
          if (at < text.size()) text.erase(at, 1);
          break;
      }
    }
    auto result = parseObjectList(text, {.maxLinks = 8});
    if (result.ok()) {
      ASSERT_EQ(objectsOk(formatObjectList(*result), {.maxLinks = 8}), *result) << text;
    } else {
      ++errors;
      ASSERT_TRUE(failsWith(result, result.error().code, "")) << text;
    }
  }
  // The corruptions must actually reach the error paths.
  EXPECT_GT(errors, 10000);
}

}  // namespace
}  // namespace lwgate::lwm2m
