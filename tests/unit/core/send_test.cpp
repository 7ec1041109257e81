#include "gateway/core/send.h"

#include <gtest/gtest.h>

#include "gateway/lwm2m/content_format.h"

namespace lwgate::core {
namespace {

namespace fmt = lwm2m::format;

Registration sender(std::string version = "1.1") {
  Registration r;
  r.endpoint = "dev1";
  r.location = "loc1";
  r.version = std::move(version);
  r.peer = {"udp", "127.0.0.1", 40000};
  return r;
}

Request send(std::string_view payload, std::optional<std::uint16_t> format = fmt::kSenmlJson) {
  Request r;
  r.method = Method::kPost;
  r.uriPath = {"dp"};
  r.contentFormat = format;
  r.payload = payload;
  r.peer = {"udp", "127.0.0.1", 40000};
  return r;
}

const WallTime kNow = fromUnixMillis(1'700'000'000'000);

TEST(SendTest, RecognisesTheSendResourceOnly) {
  EXPECT_TRUE(isSendRequest(send("x")));
  Request rd = send("x");
  rd.uriPath = {"rd"};
  EXPECT_FALSE(isSendRequest(rd));
  Request none = send("x");
  none.uriPath = {};
  EXPECT_FALSE(isSendRequest(none));
}

TEST(SendTest, SenmlJsonIsDecodedIntoASendOfTheSender) {
  const std::string payload =
      R"([{"bn":"/3/0/","n":"9","v":95},{"bn":"/3303/0/","n":"5700","v":21.5}])";
  const Registration reg = sender();
  Notification n;
  auto refused = checkSend(send(payload), &reg, kNow, {}, &n);
  ASSERT_FALSE(refused) << refused->payload;
  EXPECT_EQ(n.kind, NotificationKind::kSend);
  EXPECT_EQ(n.endpoint, "dev1");
  EXPECT_FALSE(n.observationId);
  EXPECT_EQ(n.path, "");
  EXPECT_EQ(n.contentFormat, fmt::kSenmlJson);
  EXPECT_EQ(n.receivedAt, kNow);
  EXPECT_EQ(std::string(n.payload.begin(), n.payload.end()), payload);
  EXPECT_FALSE(n.decodeError);
  ASSERT_EQ(n.records.size(), 2u);
  EXPECT_EQ(n.records[0].path, lwm2m::Path::resource(3, 0, 9));
  EXPECT_EQ(n.records[0].value, lwm2m::Value::integer(95));
  EXPECT_EQ(n.records[1].path, lwm2m::Path::resource(3303, 0, 5700));
}

TEST(SendTest, SenmlCborAndLwm2mCborAreAccepted) {
  const std::vector<lwm2m::Record> records = {
      {lwm2m::Path::resource(3, 0, 9), lwm2m::Value::integer(42), std::nullopt},
      {lwm2m::Path::resource(3, 0, 0), lwm2m::Value::string("ACME"), std::nullopt}};
  const Registration reg = sender("1.2");
  for (std::uint16_t format : {fmt::kSenmlCbor, fmt::kLwm2mCbor}) {
    auto bytes = lwm2m::encode(format, records, lwm2m::Path{});
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    const std::string payload(bytes->begin(), bytes->end());
    Notification n;
    auto refused = checkSend(send(payload, format), &reg, kNow, {}, &n);
    ASSERT_FALSE(refused) << format << ": " << refused->payload;
    EXPECT_EQ(n.contentFormat, format);
    EXPECT_EQ(n.records, records) << format;
  }
}

// Every refusal leaves `out` untouched: nothing is there to store.
void expectRefused(const Request& request, const Registration* reg, Code code,
                   std::string_view says, SendLimits limits = {}) {
  Notification n;
  n.endpoint = "untouched";
  auto refused = checkSend(request, reg, kNow, limits, &n);
  ASSERT_TRUE(refused) << "accepted " << request.payload;
  EXPECT_EQ(refused->code, code) << refused->payload;
  EXPECT_NE(refused->payload.find(says), std::string::npos) << refused->payload;
  EXPECT_EQ(n.endpoint, "untouched");
}

TEST(SendTest, RefusalsCarryTheirCodeAndADiagnostic) {
  const std::string ok = R"([{"n":"/3/0/9","v":95}])";
  const Registration reg = sender();
  const Registration old = sender("1.0");

  Request sub = send(ok);
  sub.uriPath = {"dp", "x"};
  expectRefused(sub, &reg, Code::kNotFound, "/dp");
  Request get = send(ok);
  get.method = Method::kGet;
  expectRefused(get, &reg, Code::kMethodNotAllowed, "POST");
  expectRefused(send(ok), nullptr, Code::kNotFound, "register");
  expectRefused(send(ok), &old, Code::kNotFound, "lwm2m=1.0");
  expectRefused(send(ok, std::nullopt), &reg, Code::kUnsupportedContentFormat, "110");
  expectRefused(send(ok, fmt::kTlv), &reg, Code::kUnsupportedContentFormat, "11542");
  expectRefused(send(ok, fmt::kTextPlain), &reg, Code::kUnsupportedContentFormat,
                "Content-Format 0");
  expectRefused(send(""), &reg, Code::kBadRequest, "empty");
  expectRefused(send("[{\"n\":\"/3/0/9\",\"v\":"), &reg, Code::kBadRequest, "SenML JSON");
  expectRefused(send("[]"), &reg, Code::kBadRequest, "no values");
  expectRefused(send("\xff\x00", fmt::kSenmlCbor), &reg, Code::kBadRequest, "SenML CBOR");
  expectRefused(send("\xff\x00", fmt::kLwm2mCbor), &reg, Code::kBadRequest, "LwM2M CBOR");
  expectRefused(send(ok), &reg, Code::kRequestEntityTooLarge, "limit", {.maxPayload = 10});
}

TEST(SendTest, OnlyLwm2m11AndLaterHaveSend) {
  EXPECT_FALSE(versionHasSend("1.0"));
  EXPECT_FALSE(versionHasSend(""));
  EXPECT_TRUE(versionHasSend("1.1"));
  EXPECT_TRUE(versionHasSend("1.2"));
}

}  // namespace
}  // namespace lwgate::core
