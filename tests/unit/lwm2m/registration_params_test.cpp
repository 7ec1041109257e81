#include "gateway/lwm2m/registration_params.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "tests/unit/lwm2m/error_assertions.h"

namespace lwgate::lwm2m {

// Readable failure output (gtest finds these by argument-dependent lookup).
void PrintTo(const Binding& b, std::ostream* os) {
  *os << "{transports=\"" << b.transports << "\" queueMode=" << b.queueMode << " text=\"" << b.text
      << "\"}";
}

void PrintTo(const UpdateParams& p, std::ostream* os) {
  *os << "{lifetime=" << (p.lifetime ? std::to_string(*p.lifetime) : "-") << " binding=";
  if (p.binding) {
    PrintTo(*p.binding, os);
  } else {
    *os << "-";
  }
  *os << " sms=" << p.smsNumber.value_or("-") << "}";
}

namespace {

using testing::failsWith;
using Queries = std::vector<std::string_view>;

RegisterParams registerOk(const Queries& queries) {
  auto result = parseRegisterParams(queries);
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? std::move(*result) : RegisterParams{};
}

UpdateParams updateOk(const Queries& queries) {
  auto result = parseUpdateParams(queries);
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? std::move(*result) : UpdateParams{};
}

// Register with a valid endpoint plus one more query, to test that query in isolation.
Result<RegisterParams> registerWith(std::string_view query) {
  return parseRegisterParams({"ep=dev1", query});
}

Binding binding(std::string transports, bool queueMode, std::string text) {
  return Binding{
      .transports = std::move(transports), .queueMode = queueMode, .text = std::move(text)};
}

// ---------------------------------------------------------------------------------------------
// Register: good input

TEST(ParseRegisterParams, EndpointOnlyGivesDefaults) {
  const auto params = registerOk({"ep=dev1"});
  EXPECT_EQ(params.endpoint, "dev1");
  EXPECT_EQ(params.lifetime, std::nullopt);
  EXPECT_EQ(params.version, "1.0");
  EXPECT_EQ(params.binding, binding("U", false, "U"));
  EXPECT_EQ(params.smsNumber, std::nullopt);
}

TEST(ParseRegisterParams, Lwm2m11ClientWithQueueParameter) {
  // What Leshan and Anjay 1.1 clients send.
  const auto params =
      registerOk({"ep=urn:imei:490154203237518", "lt=300", "lwm2m=1.1", "b=U", "Q"});
  EXPECT_EQ(params.endpoint, "urn:imei:490154203237518");
  EXPECT_EQ(params.lifetime, 300u);
  EXPECT_EQ(params.version, "1.1");
  EXPECT_EQ(params.binding, binding("U", true, "U"));
}

TEST(ParseRegisterParams, Lwm2m10ClientWithQueueInBinding) {
  const auto params =
      registerOk({"ep=wakaama-1", "lt=86400", "lwm2m=1.0", "b=UQS", "sms=+4915112345678"});
  EXPECT_EQ(params.lifetime, 86400u);
  EXPECT_EQ(params.binding, binding("US", true, "UQS"));
  EXPECT_EQ(params.smsNumber, "+4915112345678");
}

TEST(ParseRegisterParams, OrderDoesNotMatter) {
  const auto a = registerOk({"ep=x", "lt=60", "lwm2m=1.2", "b=UT", "sms=123"});
  const auto b = registerOk({"sms=123", "b=UT", "lwm2m=1.2", "lt=60", "ep=x"});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.version, "1.2");
}

TEST(ParseRegisterParams, ValuesAreRawBytesSplitAtTheFirstEquals) {
  // CoAP Uri-Query values are not percent-decoded (RFC 7252 6.5).
  EXPECT_EQ(registerOk({"ep=a=b%20c"}).endpoint, "a=b%20c");
}

TEST(ParseRegisterParams, QueueParameterWithoutBindingKeepsUdp) {
  EXPECT_EQ(registerOk({"ep=x", "Q"}).binding, binding("U", true, "U"));
  // "Q=" has an empty value, which is the same as none.
  EXPECT_EQ(registerOk({"ep=x", "Q="}).binding, binding("U", true, "U"));
}

// ---------------------------------------------------------------------------------------------
// Endpoint name

TEST(ParseRegisterParams, EndpointLengthLimits) {
  const std::string max(kMaxEndpointLength, 'e');
  const std::string maxQuery = "ep=" + max;
  EXPECT_EQ(registerOk({maxQuery}).endpoint, max);

  const std::string tooLong = "ep=" + std::string(kMaxEndpointLength + 1, 'e');
  EXPECT_TRUE(failsWith(parseRegisterParams({tooLong}), ErrorCode::kBadRequest,
                        "256 bytes, expected 1 to 255"));
  EXPECT_TRUE(failsWith(parseRegisterParams({"ep="}), ErrorCode::kBadRequest,
                        "invalid endpoint name \"\": 0 bytes"));
  EXPECT_TRUE(
      failsWith(parseRegisterParams({"ep"}), ErrorCode::kBadRequest, "invalid endpoint name \"\""));
}

TEST(ParseRegisterParams, EndpointMissing) {
  EXPECT_TRUE(failsWith(parseRegisterParams({}), ErrorCode::kBadRequest,
                        "missing endpoint name: Register needs ep=<name>"));
  EXPECT_TRUE(failsWith(parseRegisterParams({"lt=60", "b=U"}), ErrorCode::kBadRequest,
                        "missing endpoint name"));
}

TEST(ParseRegisterParams, EndpointUtf8) {
  // Multi-byte UTF-8 up to 4 bytes, including the highest code point.
  const std::string_view good[] = {"ep=Z\xC3\xA4hler-\xE2\x82\xAC-\xF0\x9D\x84\x9E",
                                   "ep=\xF4\x8F\xBF\xBF", "ep=\xED\x9F\xBF", "ep=\xEE\x80\x80",
                                   "ep=sensor 1 (kitchen)"};
  for (std::string_view query : good) {
    SCOPED_TRACE(query);
    EXPECT_EQ(registerOk({query}).endpoint, query.substr(3));
  }
  struct Bad {
    std::string_view query;
    std::string_view at;
  };
  const Bad bad[] = {
      {"ep=\x80", "at byte 0"},                  // lone continuation byte
      {"ep=ab\xC3", "at byte 2"},                // truncated sequence
      {"ep=\xC3(", "at byte 0"},                 // bad continuation
      {"ep=\xC0\xAF", "at byte 0"},              // overlong '/'
      {"ep=\xE0\x80\xAF", "at byte 0"},          // overlong, 3 bytes
      {"ep=\xF0\x80\x80\xAF", "at byte 0"},      // overlong, 4 bytes
      {"ep=x\xED\xA0\x80", "at byte 1"},         // UTF-16 surrogate
      {"ep=\xF4\x90\x80\x80", "at byte 0"},      // above U+10FFFF
      {"ep=\xFF", "at byte 0"},                  // never valid
      {"ep=\xF8\x88\x80\x80\x80", "at byte 0"},  // 5-byte form
  };
  for (const auto& [query, at] : bad) {
    SCOPED_TRACE(query);
    auto result = parseRegisterParams({query});
    EXPECT_TRUE(failsWith(result, ErrorCode::kBadRequest, "not valid UTF-8"));
    EXPECT_TRUE(failsWith(result, ErrorCode::kBadRequest, at));
  }
}

TEST(ParseRegisterParams, EndpointControlCharacters) {
  using namespace std::string_literals;
  for (const std::string& query :
       {"ep=a\x01"s, "ep=\tx"s, "ep=a\nb"s, "ep=a\x7f"s, "ep=a\x1f"s, "ep=a\0b"s}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(
        failsWith(parseRegisterParams({query}), ErrorCode::kBadRequest, "control character"));
  }
  EXPECT_TRUE(failsWith(parseRegisterParams({"ep=ab\x7f"}), ErrorCode::kBadRequest,
                        "invalid endpoint name \"ab\\x7F\": control character at byte 2"));
}

// ---------------------------------------------------------------------------------------------
// Lifetime

TEST(ParseRegisterParams, LifetimeRange) {
  EXPECT_EQ(registerWith("lt=1")->lifetime, 1u);
  EXPECT_EQ(registerWith("lt=4294967295")->lifetime, 4294967295u);
  EXPECT_EQ(registerWith("lt=0300")->lifetime, 300u);  // leading zeros are still a number
  for (std::string_view query :
       {"lt=0", "lt=4294967296", "lt=99999999999999999999", "lt=", "lt", "lt=-1", "lt=+5", "lt= 5",
        "lt=5 ", "lt=abc", "lt=1e3", "lt=0x10", "lt=5s", "lt=1.5"}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(failsWith(registerWith(query), ErrorCode::kBadRequest,
                          "expected a number of seconds from 1 to 4294967295"));
  }
  EXPECT_TRUE(failsWith(registerWith("lt=abc"), ErrorCode::kBadRequest,
                        "invalid lifetime \"abc\": expected a number of seconds from 1 to "
                        "4294967295"));
}

// ---------------------------------------------------------------------------------------------
// LwM2M version: 4.12 for well-formed but unsupported, 4.00 for malformed

TEST(ParseRegisterParams, SupportedVersions) {
  for (std::string_view v : {"1.0", "1.1", "1.2"}) {
    const std::string query = "lwm2m=" + std::string(v);
    EXPECT_EQ(registerWith(query)->version, v);
    EXPECT_TRUE(isSupportedVersion(v));
  }
  for (std::string_view v : {"1.3", "2.0", "1", "", "1.0 ", "1.00", "v1.1"}) {
    EXPECT_FALSE(isSupportedVersion(v)) << v;
  }
}

TEST(ParseRegisterParams, UnsupportedVersionIsPreconditionFailed) {
  for (std::string_view query : {"lwm2m=1.3", "lwm2m=2.0", "lwm2m=0.9", "lwm2m=1.10", "lwm2m=1.00",
                                 "lwm2m=01.1", "lwm2m=99999999999.0"}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(failsWith(registerWith(query), ErrorCode::kPreconditionFailed,
                          "unsupported LwM2M version"));
  }
  EXPECT_TRUE(
      failsWith(registerWith("lwm2m=1.3"), ErrorCode::kPreconditionFailed,
                "unsupported LwM2M version \"1.3\": this server supports 1.0, 1.1 and 1.2"));
}

TEST(ParseRegisterParams, MalformedVersionIsBadRequest) {
  for (std::string_view query :
       {"lwm2m=1", "lwm2m=v1.1", "lwm2m=1.1.1", "lwm2m=", "lwm2m", "lwm2m=1.", "lwm2m=.1",
        "lwm2m=1,1", "lwm2m= 1.1", "lwm2m=1.1 ", "lwm2m=+1.1", "lwm2m=1.-1"}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(failsWith(registerWith(query), ErrorCode::kBadRequest, "invalid LwM2M version"));
  }
  EXPECT_TRUE(failsWith(registerWith("lwm2m=v1.1"), ErrorCode::kBadRequest,
                        "invalid LwM2M version \"v1.1\": expected lwm2m=1.0, 1.1 or 1.2"));
}

TEST(ParseRegisterParams, UnsupportedVersionWinsOverOtherErrors) {
  // A newer client may send parameters this server does not know; 4.12 tells it to fall back.
  EXPECT_TRUE(failsWith(parseRegisterParams({"ep=x", "lwm2m=1.3", "newparam=1"}),
                        ErrorCode::kPreconditionFailed, "1.3"));
  EXPECT_TRUE(failsWith(parseRegisterParams({"newparam=1", "lwm2m=2.0"}),
                        ErrorCode::kPreconditionFailed, "2.0"));
  EXPECT_TRUE(
      failsWith(parseRegisterParams({"lwm2m=1.3", "b=X"}), ErrorCode::kPreconditionFailed, "1.3"));
  // A malformed version does not: other errors come in their usual order.
  EXPECT_TRUE(failsWith(parseRegisterParams({"ep=x", "lwm2m=1", "newparam=1"}),
                        ErrorCode::kBadRequest, "unknown registration parameter \"newparam\""));
}

// ---------------------------------------------------------------------------------------------
// Binding

TEST(ParseRegisterParams, Lwm2m10Bindings) {
  // LwM2M 1.0 TS 5.3.1.1 lists exactly these.
  struct Case {
    std::string_view b;
    Binding expected;
  };
  const Case cases[] = {
      {"U", binding("U", false, "U")},    {"UQ", binding("U", true, "UQ")},
      {"S", binding("S", false, "S")},    {"SQ", binding("S", true, "SQ")},
      {"US", binding("US", false, "US")}, {"UQS", binding("US", true, "UQS")},
  };
  for (const auto& [b, expected] : cases) {
    const std::string query = "b=" + std::string(b);
    SCOPED_TRACE(query);
    EXPECT_EQ(registerWith(query)->binding, expected);
  }
}

TEST(ParseRegisterParams, Lwm2m11And12Bindings) {
  struct Case {
    std::string_view b;
    std::string_view transports;
  };
  const Case cases[] = {{"T", "T"},   {"N", "N"},    {"UT", "UT"},   {"SU", "SU"},
                        {"M", "M"},   {"H", "H"},    {"UNT", "UNT"}, {"USTNMH", "USTNMH"},
                        {"TU", "TU"}, {"HMU", "HMU"}};
  for (const auto& [b, transports] : cases) {
    const std::string bQuery = "b=" + std::string(b);
    SCOPED_TRACE(bQuery);
    EXPECT_EQ(parseRegisterParams({"ep=x", bQuery, "lwm2m=1.1"})->binding,
              binding(std::string(transports), false, std::string(b)));
    EXPECT_EQ(parseRegisterParams({"ep=x", bQuery, "lwm2m=1.1", "Q"})->binding,
              binding(std::string(transports), true, std::string(b)));
  }
}

TEST(ParseRegisterParams, BothQueueStylesAcceptedForAnyVersion) {
  EXPECT_EQ(parseRegisterParams({"ep=x", "lwm2m=1.2", "b=UQ"})->binding, binding("U", true, "UQ"));
  EXPECT_EQ(parseRegisterParams({"ep=x", "lwm2m=1.0", "b=U", "Q"})->binding,
            binding("U", true, "U"));
  // Saying it twice is not a contradiction.
  EXPECT_EQ(parseRegisterParams({"ep=x", "b=UQ", "Q"})->binding, binding("U", true, "UQ"));
  // Q after the second transport (not listed in 1.0, but unambiguous).
  EXPECT_EQ(registerWith("b=USQ")->binding, binding("US", true, "USQ"));
}

TEST(ParseRegisterParams, BadBindings) {
  EXPECT_TRUE(failsWith(registerWith("b="), ErrorCode::kBadRequest,
                        "invalid binding \"\": b needs transport letters"));
  EXPECT_TRUE(failsWith(registerWith("b"), ErrorCode::kBadRequest, "invalid binding \"\""));
  EXPECT_TRUE(failsWith(registerWith("b=Q"), ErrorCode::kBadRequest,
                        "invalid binding \"Q\": Q must follow a transport letter"));
  EXPECT_TRUE(
      failsWith(registerWith("b=QU"), ErrorCode::kBadRequest, "Q must follow a transport letter"));
  EXPECT_TRUE(failsWith(registerWith("b=UU"), ErrorCode::kBadRequest,
                        "invalid binding \"UU\": 'U' given twice"));
  EXPECT_TRUE(failsWith(registerWith("b=UQSQ"), ErrorCode::kBadRequest, "'Q' given twice"));
  EXPECT_TRUE(failsWith(registerWith("b=UX"), ErrorCode::kBadRequest,
                        "invalid binding \"UX\": \"X\" is not one of U S T N M H Q"));
  for (std::string_view query : {"b=u", "b=uq", "b=U S", "b=U,S", "b=UDP", "b=Uq"}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(failsWith(registerWith(query), ErrorCode::kBadRequest, "is not one of"));
  }
  using namespace std::string_literals;
  const std::string withNul = "b=U\0"s;
  EXPECT_TRUE(failsWith(registerWith(withNul), ErrorCode::kBadRequest, "\"\\x00\" is not one of"));
}

// ---------------------------------------------------------------------------------------------
// Q and sms

TEST(ParseRegisterParams, QTakesNoValue) {
  for (std::string_view query : {"Q=1", "Q=true", "Q=Q", "Q= "}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(failsWith(registerWith(query), ErrorCode::kBadRequest, "Q takes no value"));
  }
  EXPECT_TRUE(failsWith(registerWith("Q=1"), ErrorCode::kBadRequest,
                        "invalid parameter \"Q=1\": Q takes no value"));
  EXPECT_TRUE(
      failsWith(registerWith("q"), ErrorCode::kBadRequest, "unknown registration parameter \"q\""));
}

TEST(ParseRegisterParams, SmsNumbers) {
  for (std::string_view query : {"sms=+4915112345678", "sms=4915112345678", "sms=1",
                                 "sms=123456789012345", "sms=+123456789012345", "sms=+0"}) {
    SCOPED_TRACE(query);
    EXPECT_EQ(registerWith(query)->smsNumber, query.substr(4));
  }
  for (std::string_view query :
       {"sms=1234567890123456", "sms=+1234567890123456", "sms=+", "sms=", "sms", "sms=++1",
        "sms=+49 151", "sms=49-151", "sms=abc", "sms=1+", "sms= 123", "sms=tel:+49151"}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(failsWith(registerWith(query), ErrorCode::kBadRequest,
                          "expected an MSISDN, optional '+' then 1 to 15 digits"));
  }
}

// ---------------------------------------------------------------------------------------------
// Duplicates and unknown parameters

TEST(ParseRegisterParams, DuplicateParameters) {
  struct Case {
    Queries queries;
    std::string_view name;
  };
  const Case cases[] = {
      {{"ep=a", "ep=a"}, "\"ep\""},
      {{"ep=a", "ep=b"}, "\"ep\""},
      {{"ep=a", "lt=1", "lt=1"}, "\"lt\""},
      {{"ep=a", "b=U", "b=S"}, "\"b\""},
      {{"ep=a", "sms=1", "sms=2"}, "\"sms\""},
      {{"ep=a", "lwm2m=1.1", "lwm2m=1.1"}, "\"lwm2m\""},
      {{"ep=a", "Q", "Q"}, "\"Q\""},
      {{"ep=a", "Q", "Q="}, "\"Q\""},
      {{"ep", "ep=a"}, "\"ep\""},
  };
  for (const auto& [queries, name] : cases) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(failsWith(parseRegisterParams(queries), ErrorCode::kBadRequest,
                          "parameter " + std::string(name) + " given twice"));
  }
}

TEST(ParseRegisterParams, UnknownParameters) {
  EXPECT_TRUE(failsWith(registerWith("foo=bar"), ErrorCode::kBadRequest,
                        "unknown registration parameter \"foo\""));
  EXPECT_TRUE(failsWith(registerWith("foo"), ErrorCode::kBadRequest,
                        "unknown registration parameter \"foo\""));
  // Names are case-sensitive (LwM2M TS spells them exactly).
  EXPECT_TRUE(failsWith(parseRegisterParams({"EP=x"}), ErrorCode::kBadRequest,
                        "unknown registration parameter \"EP\""));
  EXPECT_TRUE(failsWith(registerWith("Lt=5"), ErrorCode::kBadRequest, "\"Lt\""));
  // Parameters of other operations are unknown here too.
  EXPECT_TRUE(failsWith(registerWith("pct=60"), ErrorCode::kBadRequest, "\"pct\""));
  EXPECT_TRUE(failsWith(registerWith(""), ErrorCode::kBadRequest,
                        "registration parameter without a name: \"\""));
  EXPECT_TRUE(failsWith(registerWith("=5"), ErrorCode::kBadRequest,
                        "registration parameter without a name: \"=5\""));
  // Unknown wins over a missing ep: the first problem found in query order is reported.
  EXPECT_TRUE(failsWith(parseRegisterParams({"foo=1"}), ErrorCode::kBadRequest, "\"foo\""));
}

// ---------------------------------------------------------------------------------------------
// Messages sent back to devices

TEST(ParseRegisterParams, MessagesStayShortAndPrintable) {
  const std::string longText(1000, 'A');
  const std::string binary(300, '\x01');
  const std::string quotes(300, '"');
  const std::string longUtf8 = [] {
    std::string s;
    for (int i = 0; i < 200; ++i) s += "\xE2\x82\xAC";
    return s;
  }();
  struct Case {
    std::string query;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"ep=" + longText, ErrorCode::kBadRequest},
      {"ep=" + binary, ErrorCode::kBadRequest},
      {"ep=" + longUtf8, ErrorCode::kBadRequest},
      {"ep=x\xFF" + longText, ErrorCode::kBadRequest},
      {"lt=" + longText, ErrorCode::kBadRequest},
      {"lt=" + quotes, ErrorCode::kBadRequest},
      {"lwm2m=" + longText, ErrorCode::kBadRequest},
      {"lwm2m=" + std::string(300, '9') + ".1", ErrorCode::kPreconditionFailed},
      {"b=" + longText, ErrorCode::kBadRequest},
      {"b=U" + binary, ErrorCode::kBadRequest},
      {"sms=" + binary, ErrorCode::kBadRequest},
      {"Q=" + longText, ErrorCode::kBadRequest},
      {longText + "=1", ErrorCode::kBadRequest},
      {binary, ErrorCode::kBadRequest},
      {"=" + quotes, ErrorCode::kBadRequest},
  };
  for (const auto& [query, code] : cases) {
    SCOPED_TRACE(query.substr(0, 20));
    // For ep, the long value is the endpoint itself; otherwise add a valid one.
    auto result = query.starts_with("ep=") ? parseRegisterParams({query}) : registerWith(query);
    ASSERT_TRUE(failsWith(result, code, ""));
    EXPECT_NE(result.error().message.find("...\""), std::string::npos)
        << "long input should be cut: " << result.error().message;
  }
}

TEST(ParseRegisterParams, EchoEscapesQuotesAndBackslashes) {
  EXPECT_TRUE(failsWith(registerWith("lt=a\"b\\c"), ErrorCode::kBadRequest,
                        R"(invalid lifetime "a\"b\\c")"));
}

// ---------------------------------------------------------------------------------------------
// Update

TEST(ParseUpdateParams, NoParametersIsAPlainUpdate) {
  EXPECT_EQ(updateOk({}), UpdateParams{});
}

TEST(ParseUpdateParams, EachParameterAlone) {
  EXPECT_EQ(updateOk({"lt=120"}).lifetime, 120u);
  EXPECT_EQ(updateOk({"lt=120"}).binding, std::nullopt);
  EXPECT_EQ(updateOk({"b=U"}).binding, binding("U", false, "U"));
  EXPECT_EQ(updateOk({"b=UQS"}).binding, binding("US", true, "UQS"));
  EXPECT_EQ(updateOk({"sms=+123"}).smsNumber, "+123");
  EXPECT_EQ(updateOk({"sms=+123"}).binding, std::nullopt);
}

TEST(ParseUpdateParams, QueueAloneLeavesTransportsToTheCaller) {
  const auto params = updateOk({"Q"});
  EXPECT_EQ(params.binding, binding("", true, ""));
  EXPECT_EQ(params.lifetime, std::nullopt);
  EXPECT_EQ(updateOk({"Q="}).binding, binding("", true, ""));
}

TEST(ParseUpdateParams, BindingWithQueueParameter) {
  EXPECT_EQ(updateOk({"b=US", "Q"}).binding, binding("US", true, "US"));
  EXPECT_EQ(updateOk({"Q", "b=T"}).binding, binding("T", true, "T"));
}

TEST(ParseUpdateParams, AllTogether) {
  const auto params = updateOk({"lt=3600", "b=U", "sms=491234", "Q"});
  EXPECT_EQ(params, (UpdateParams{.lifetime = 3600u,
                                  .binding = binding("U", true, "U"),
                                  .smsNumber = std::string("491234")}));
}

TEST(ParseUpdateParams, EndpointIsNotAllowedAndVersionIsTolerated) {
  EXPECT_TRUE(failsWith(parseUpdateParams({"ep=dev1"}), ErrorCode::kBadRequest,
                        "parameter \"ep\" is not allowed in an Update (only lt, b, sms, Q)"));
  // lwm2m-node-lib sends "lt=..&lwm2m=1.0&b=U" on every Update: accepted, changes nothing.
  EXPECT_EQ(
      updateOk({"lt=85671", "lwm2m=1.0", "b=U"}),
      (UpdateParams{
          .lifetime = 85671u, .binding = binding("U", false, "U"), .smsNumber = std::nullopt}));
  // Not 4.12: there is no version negotiation in an Update.
  EXPECT_TRUE(failsWith(parseUpdateParams({"lwm2m=1.3"}), ErrorCode::kBadRequest,
                        "invalid LwM2M version \"1.3\" in an Update"));
  EXPECT_TRUE(
      failsWith(parseUpdateParams({"lwm2m=one"}), ErrorCode::kBadRequest, "invalid LwM2M version"));
  EXPECT_TRUE(failsWith(parseUpdateParams({"lwm2m=1.0", "lwm2m=1.0"}), ErrorCode::kBadRequest,
                        "given twice"));
}

TEST(ParseUpdateParams, SameValueRulesAsRegister) {
  EXPECT_TRUE(failsWith(parseUpdateParams({"lt=0"}), ErrorCode::kBadRequest, "invalid lifetime"));
  EXPECT_TRUE(
      failsWith(parseUpdateParams({"lt=4294967296"}), ErrorCode::kBadRequest, "invalid lifetime"));
  EXPECT_EQ(updateOk({"lt=4294967295"}).lifetime, 4294967295u);
  EXPECT_TRUE(failsWith(parseUpdateParams({"b=X"}), ErrorCode::kBadRequest, "invalid binding"));
  EXPECT_TRUE(failsWith(parseUpdateParams({"b="}), ErrorCode::kBadRequest, "invalid binding"));
  EXPECT_TRUE(failsWith(parseUpdateParams({"b=Q"}), ErrorCode::kBadRequest,
                        "Q must follow a transport letter"));
  EXPECT_TRUE(failsWith(parseUpdateParams({"sms=x"}), ErrorCode::kBadRequest, "invalid sms"));
  EXPECT_TRUE(failsWith(parseUpdateParams({"Q=1"}), ErrorCode::kBadRequest, "Q takes no value"));
  EXPECT_TRUE(failsWith(parseUpdateParams({"lt=5", "lt=6"}), ErrorCode::kBadRequest,
                        "parameter \"lt\" given twice"));
  EXPECT_TRUE(
      failsWith(parseUpdateParams({"Q", "Q"}), ErrorCode::kBadRequest, "\"Q\" given twice"));
  EXPECT_TRUE(failsWith(parseUpdateParams({"foo"}), ErrorCode::kBadRequest,
                        "unknown registration parameter \"foo\""));
  EXPECT_TRUE(failsWith(parseUpdateParams({""}), ErrorCode::kBadRequest, "without a name"));
}

}  // namespace
}  // namespace lwgate::lwm2m
