#include "gateway/core/submission.h"

#include <gtest/gtest.h>

#include <limits>

#include "gateway/lwm2m/content_format.h"

namespace lwgate::core {
namespace {

namespace fmt = lwm2m::format;
using lwm2m::Value;

Registration device(std::string version = "1.1", std::vector<std::uint16_t> ct = {}) {
  Registration reg;
  reg.endpoint = "dev";
  reg.version = std::move(version);
  reg.objects.altPath = "/";
  reg.objects.contentFormats = std::move(ct);
  return reg;
}

CallerRequest call(Operation op, std::string path, std::vector<CallerValue> values = {}) {
  CallerRequest c;
  c.operation = op;
  c.endpoint = "dev";
  c.path = std::move(path);
  c.values = std::move(values);
  return c;
}

const WallTime kNow = WallTime(std::chrono::seconds(1'700'000'000));

DownlinkRequest ok(const CallerRequest& c, const Registration* reg = nullptr) {
  auto r = prepareRequest(c, reg, lwm2m::coreObjects(), {}, kNow);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : DownlinkRequest{};
}

std::string refused(const CallerRequest& c, const Registration* reg = nullptr,
                    ErrorCode code = ErrorCode::kBadRequest) {
  auto r = prepareRequest(c, reg, lwm2m::coreObjects(), {}, kNow);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, code) << r.error().message;
  return r.error().message;
}

TEST(Submission, ReadKeepsThePathAndTheOptions) {
  auto c = call(Operation::kRead, "/3/0");
  c.options.ttl = Seconds(60);
  c.options.idempotencyKey = "k1";
  c.options.format = fmt::kSenmlJson;
  auto r = ok(c);
  EXPECT_EQ(r.path, "/3/0");
  EXPECT_EQ(r.deadline, kNow + Seconds(60));
  EXPECT_EQ(r.idempotencyKey, "k1");
  EXPECT_EQ(r.acceptFormat, fmt::kSenmlJson);
  EXPECT_TRUE(r.payload.empty());
  EXPECT_FALSE(r.urgent);
  c.options.urgent = true;
  EXPECT_TRUE(ok(c).urgent);
}

// Found by tests/fuzz/submission: now + ttl overflowed the clock's nanoseconds (undefined
// behaviour) for a ttl of about 290 years or more; the D-Bus service bounded it, the core did not.
TEST(Submission, TtlIsBetweenOneSecondAndTenYears) {
  auto c = call(Operation::kRead, "/3/0");
  c.options.ttl = kMaxTtl;
  EXPECT_EQ(ok(c).deadline, kNow + kMaxTtl);
  for (Seconds bad : {Seconds(0), Seconds(-1), kMaxTtl + Seconds(1), Seconds(673709551615),
                      Seconds(std::numeric_limits<std::int64_t>::max())}) {
    c.options.ttl = bad;
    EXPECT_NE(refused(c).find("ttl must be between"), std::string::npos) << bad.count();
  }
}

// Found by tests/fuzz/submission: a Write of /3/0/1/5 (Model Number is single-instance) or of
// /3/0/6 as one value (Available Power Sources is multiple-instance) was encoded and queued,
// although every decoder, ours included, refuses such a payload.
TEST(Submission, ValuesFollowTheModelsInstanceRules) {
  EXPECT_NE(refused(call(Operation::kWrite, "/3/0", {{"1/5", Value::string("x")}}))
                .find("/3/0/1 is single-instance"),
            std::string::npos);
  EXPECT_NE(refused(call(Operation::kWrite, "/3/0/6", {{"", Value::integer(1)}}))
                .find("/3/0/6 is multiple-instance"),
            std::string::npos);
  auto r = ok(call(Operation::kWrite, "/3/0/6", {{"0", Value::integer(1)}}));
  auto decoded = lwm2m::decode(*r.contentFormat, r.payload, *lwm2m::Path::parse("/3/0/6"),
                               lwm2m::coreObjects());
  EXPECT_TRUE(decoded.ok()) << decoded.error().message;
}

TEST(Submission, BadPathsAndOperationsAreRefusedWithTheReason) {
  EXPECT_NE(refused(call(Operation::kRead, "/3/x/0")).find("/3/x/0"), std::string::npos);
  EXPECT_NE(refused(call(Operation::kRead, "/")).find("read needs"), std::string::npos);
  EXPECT_NE(refused(call(Operation::kDelete, "/3/0/1")).find("instance"), std::string::npos);
  EXPECT_NE(refused(call(Operation::kExecute, "/3/0")).find("resource path"), std::string::npos);
  auto noKey = call(Operation::kRead, "/3/0");
  noKey.options.idempotencyKey = "";
  refused(noKey);
  auto attrs = call(Operation::kWriteAttributes, "/3/0/9");
  attrs.text = "pmin=1&bogus=2";
  EXPECT_NE(refused(attrs).find("bogus"), std::string::npos);
  auto values = call(Operation::kRead, "/3/0", {{"", Value::integer(1)}});
  EXPECT_NE(refused(values).find("takes no values"), std::string::npos);
}

TEST(Submission, WriteTypesAStringByTheModelAndEncodesInTheDevicesFormat) {
  // /1/0/1 (lifetime) is an integer: "300" becomes 300.
  auto reg = device("1.1", {fmt::kSenmlJson});
  auto r = ok(call(Operation::kWrite, "/1/0/1", {{"", Value::string("300")}}), &reg);
  EXPECT_EQ(r.contentFormat, fmt::kSenmlJson);
  auto back = lwm2m::decode(fmt::kSenmlJson, r.payload, *lwm2m::Path::parse("/1/0/1"),
                            lwm2m::coreObjects());
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].value, Value::integer(300));
  // Without a registration (or ct=): TLV.
  EXPECT_EQ(ok(call(Operation::kWrite, "/1/0/1", {{"", Value::string("300")}})).contentFormat,
            fmt::kTlv);
}

TEST(Submission, WrongValueTypesAreRefused) {
  EXPECT_NE(
      refused(call(Operation::kWrite, "/1/0/1", {{"", Value::string("soon")}})).find("integer"),
      std::string::npos);
  EXPECT_NE(refused(call(Operation::kWrite, "/1/0/6", {{"", Value::integer(2)}})).find("boolean"),
            std::string::npos);
  EXPECT_NE(
      refused(call(Operation::kWrite, "/3/0/4", {{"", Value::string("x")}})).find("executable"),
      std::string::npos);
  // Unknown objects keep the caller's type.
  auto r = ok(call(Operation::kWrite, "/3303/0/5700", {{"", Value::floating(21.5)}}));
  EXPECT_FALSE(r.payload.empty());
}

TEST(Submission, InstanceWritesTakeRelativeResourcePaths) {
  auto r =
      ok(call(Operation::kWrite, "/1/0", {{"1", Value::string("60")}, {"7", Value::string("U")}}));
  auto back =
      lwm2m::decode(fmt::kTlv, r.payload, *lwm2m::Path::parse("/1/0"), lwm2m::coreObjects());
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].path.toString(), "/1/0/1");
  EXPECT_EQ((*back)[0].value, Value::integer(60));
  EXPECT_EQ((*back)[1].value, Value::string("U"));
  refused(call(Operation::kWrite, "/1/0", {{"/1/0/1", Value::integer(1)}}));
  refused(call(Operation::kWrite, "/1/0", {{"", Value::integer(1)}}));
  auto partial = call(Operation::kWrite, "/1/0", {{"1", Value::integer(60)}});
  partial.options.partial = true;
  EXPECT_EQ(ok(partial).operation, Operation::kWritePartial);
}

TEST(Submission, CreateWithAndWithoutAnInstanceId) {
  auto withId = call(Operation::kCreate, "/3303", {{"5700", Value::floating(1.5)}});
  withId.options.instance = 7;
  auto r = ok(withId);
  auto back =
      lwm2m::decode(fmt::kTlv, r.payload, *lwm2m::Path::parse("/3303"), lwm2m::coreObjects());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ((*back)[0].path.toString(), "/3303/7/5700");
  // TLV without an id: bare resources, the device picks the instance.
  EXPECT_FALSE(
      ok(call(Operation::kCreate, "/3303", {{"5700", Value::floating(1.5)}})).payload.empty());
  auto senml = call(Operation::kCreate, "/3303", {{"5700", Value::floating(1.5)}});
  senml.options.format = fmt::kSenmlJson;
  EXPECT_NE(refused(senml).find("instance"), std::string::npos);
  refused(call(Operation::kCreate, "/3303/0", {{"5700", Value::floating(1.5)}}));
}

TEST(Submission, CompositesListTheirPathsAndNeedA11Device) {
  auto c = call(Operation::kReadComposite, "");
  c.paths = {"/3/0/9", "/1/0/1"};
  auto reg = device("1.1", {fmt::kSenmlJson});
  auto r = ok(c, &reg);
  EXPECT_EQ(r.path, "/3/0/9 /1/0/1");
  EXPECT_EQ(std::string(r.payload.begin(), r.payload.end()), R"([{"n":"/3/0/9"},{"n":"/1/0/1"}])");
  auto old = device("1.0");
  EXPECT_NE(refused(c, &old).find("1.1"), std::string::npos);
  c.paths = {"/3/0/9", "/3/x"};
  refused(c, &reg);
  auto w = call(Operation::kWriteComposite, "", {{"/1/0/1", Value::string("60")}});
  EXPECT_EQ(ok(w, &reg).path, "/1/0/1");
}

TEST(Submission, ObserveMayCarryAttributes) {
  auto c = call(Operation::kObserve, "/3303/0/5700");
  c.text = "pmin=10&pmax=60";
  auto r = ok(c);
  EXPECT_EQ(std::string(r.payload.begin(), r.payload.end()), "pmin=10&pmax=60");
  c.text = "pmin=soon";
  EXPECT_NE(refused(c).find("pmin"), std::string::npos);
  auto read = call(Operation::kRead, "/3/0");
  read.text = "pmin=1";
  EXPECT_NE(refused(read).find("takes no arguments"), std::string::npos);
}

TEST(Submission, ExecuteArgumentsFollowTheGrammar) {
  auto c = call(Operation::kExecute, "/3/0/4");
  for (const char* good : {"", "0", "0='v',1", "2='a b',3='',4"}) {
    c.text = good;
    const auto payload = ok(c).payload;
    EXPECT_EQ(std::string(payload.begin(), payload.end()), good);
  }
  for (const char* badArgs : {"x", "0=v", "0='v", "0,", "10", "0='\x01'"}) {
    c.text = badArgs;
    refused(c);
  }
}

TEST(Submission, PayloadAndValueLimits) {
  std::string big(70'000, 'a');
  refused(call(Operation::kWrite, "/3303/0/5750", {{"", Value::string(big)}}), nullptr,
          ErrorCode::kTooLarge);
}

TEST(Submission, FormatNames) {
  EXPECT_EQ(*parseFormat("tlv"), fmt::kTlv);
  EXPECT_EQ(*parseFormat("110"), fmt::kSenmlJson);
  EXPECT_FALSE(parseFormat("xml").ok());
  EXPECT_FALSE(parseFormat("99").ok());
  EXPECT_EQ(formatName(fmt::kSenmlCbor), "senml-cbor");
}

TEST(Submission, RenderResultDecodesValuesAndQuotesTheRest) {
  DownlinkRequest r;
  r.operation = Operation::kRead;
  r.path = "/1/0/1";
  r.responseCode = 0x45;
  r.responseFormat = fmt::kTextPlain;
  r.responsePayload = {'3', '0', '0'};
  EXPECT_EQ(renderResult(r, lwm2m::coreObjects()).json,
            R"([{"path":"/1/0/1","type":"integer","value":300}])");
  r.responseFormat = fmt::kLinkFormat;
  r.responsePayload = {'<', '/', '3', '>'};
  EXPECT_EQ(renderResult(r, lwm2m::coreObjects()).json, R"("</3>")");
  r.responseFormat = fmt::kTlv;
  r.responsePayload = {0xff, 0x01};
  auto broken = renderResult(r, lwm2m::coreObjects());
  EXPECT_EQ(broken.json, "");
  EXPECT_FALSE(broken.decodeError.empty());
  r.responseCode = 0x84;  // 4.04 with a diagnostic
  r.responseFormat.reset();
  r.responsePayload = {'n', 'o'};
  EXPECT_EQ(renderResult(r, lwm2m::coreObjects()).json, R"("no")");
}

}  // namespace
}  // namespace lwgate::core
