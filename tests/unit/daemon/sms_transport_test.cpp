// The SMS binding's state machine: admission (allow-list, rate limit), requests through the
// host's handler and their answers by SMS, deduplication, downlink requests by SMS with their
// answers, timeouts and failures. The clock is a ManualClock: no sleeping.
#include "gateway/daemon/sms_transport.h"

#include <gtest/gtest.h>

#include "tests/support/manual_clock.h"

namespace lwgate::daemon {
namespace {

namespace sms_transport_test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using modem::CoapMessage;
using modem::CoapType;
namespace option = modem::coap_option;

constexpr const char* kDevice = "+4915112345678";
constexpr const char* kAllowed = "+4915199999999";

struct Sent {
  std::string endpoint;
  std::string msisdn;
  CoapMessage message;
  std::optional<std::int64_t> requestId;
  std::int64_t logId;
};

class FakeSender final : public SmsSender {
 public:
  Result<std::int64_t> sendCoap(std::string_view endpoint, std::string_view msisdn,
                                std::span<const std::uint8_t> message,
                                std::optional<std::int64_t> requestId) override {
    if (refuse) return makeError(ErrorCode::kLimitReached, "budget: over");
    auto parsed = modem::parseCoap(message);
    EXPECT_TRUE(parsed.ok()) << (parsed ? "" : parsed.error().message);
    sent.push_back({std::string(endpoint), std::string(msisdn), parsed ? *parsed : CoapMessage{},
                    requestId, ++nextId});
    return nextId;
  }
  void markIncoming(std::int64_t logId, std::string_view status, std::string_view detail) override {
    marked.push_back({logId, std::string(status) + ": " + std::string(detail)});
  }
  std::vector<Sent> sent;
  std::vector<std::pair<std::int64_t, std::string>> marked;
  bool refuse = false;
  std::int64_t nextId = 100;
};

class FakeHost final : public SmsTransportHost {
 public:
  bool smsBatch(const std::function<void()>& work) override {
    ++batches;
    inBatch = true;
    work();
    inBatch = false;
    return commitOk;
  }
  core::Response smsRequest(const core::Request& r) override {
    EXPECT_TRUE(inBatch);
    Seen s;
    s.method = r.method;
    for (auto p : r.uriPath) s.path.emplace_back(p);
    for (auto q : r.uriQuery) s.query.emplace_back(q);
    s.contentFormat = r.contentFormat;
    s.payload = std::string(r.payload);
    s.peer = r.peer;
    requests.push_back(s);
    return response;
  }
  bool smsAnswer(const coap::Server::Answer& a) override {
    EXPECT_TRUE(inBatch);
    answers.push_back(a);
    return wanted;
  }
  void smsRequestFailed(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                        std::string_view why) override {
    failures.push_back(
        {core::peerKey(peer) + " " + std::string(token.begin(), token.end()), std::string(why)});
  }
  void smsDeviceHeard(std::string_view endpoint) override {
    EXPECT_TRUE(inBatch);
    heard.emplace_back(endpoint);
  }
  const core::Registration* smsRegistrationAt(std::string_view location) override {
    return location == registration.location ? &registration : nullptr;
  }
  std::string smsEndpointOf(std::string_view msisdn) override {
    return msisdn == kDevice ? "dev-1" : "";
  }
  std::string smsNumberSetting(std::string_view endpoint) override {
    return endpoint == "dev-1" ? settingNumber : "";
  }

  struct Seen {
    core::Method method;
    std::vector<std::string> path, query;
    std::optional<std::uint16_t> contentFormat;
    std::string payload;
    core::Peer peer;
  };
  std::vector<Seen> requests;
  std::vector<coap::Server::Answer> answers;
  std::vector<std::pair<std::string, std::string>> failures;
  std::vector<std::string> heard;
  core::Response response;
  core::Registration registration;
  std::string settingNumber;
  bool wanted = true;
  bool commitOk = true;
  bool inBatch = false;
  int batches = 0;
};

Bytes wire(const CoapMessage& m) {
  auto b = modem::serializeCoap(m);
  EXPECT_TRUE(b.ok());
  return b ? *b : Bytes{};
}

CoapMessage registerRequest(CoapType type, std::uint16_t mid) {
  CoapMessage m;
  m.type = type;
  m.code = 0x02;  // POST
  m.messageId = mid;
  m.token = {0xca, 0xfe};
  m.add(option::kUriPath, "rd");
  m.addUint(option::kContentFormat, 40);
  m.add(option::kUriQuery, "ep=sms-dev");
  m.add(option::kUriQuery, "b=SQ");
  const std::string links = "</1/0>,</3/0>";
  m.payload.assign(links.begin(), links.end());
  return m;
}

class SmsTransportTest : public ::testing::Test {
 protected:
  SmsTransportTest() {
    config.allow = {kAllowed};
    config.incomingPerHour = 100;
    config.responseTimeout = 300s;
    transport.setConfig(config);
    host.response.code = core::Code::kCreated;
    host.response.locationPath = {"rd", "abc123"};
  }
  // What Sms does with a reassembled message: ask, then hand it over when admitted.
  void deliver(const std::string& msisdn, const Bytes& bytes) {
    const std::string endpoint = host.smsEndpointOf(msisdn);
    auto admission = transport.admit(msisdn, endpoint);
    ASSERT_TRUE(admission.accepted) << admission.detail;
    transport.received(++logId, msisdn, endpoint, bytes);
  }
  // A downlink request as the queue hands it out.
  core::DownlinkRequest request(std::int64_t id, std::uint16_t mid, Bytes token) {
    core::DownlinkRequest r;
    r.id = id;
    r.endpoint = "dev-1";
    r.path = "/3/0/0";
    r.messageId = mid;
    r.token = std::move(token);
    return r;
  }
  core::OutgoingRequest readOf(std::string path) {
    core::OutgoingRequest o;
    o.method = core::Method::kGet;
    o.uriPath = {"3", "0", std::move(path)};
    o.accept = 0;
    return o;
  }

  testing::ManualClock clock;
  SmsTransportConfig config;
  FakeSender sender;
  FakeHost host;
  SmsTransport transport{clock, config, sender, host};
  std::int64_t logId = 0;
};

TEST_F(SmsTransportTest, AdmitsDevicesAndAllowedNumbersWithinTheHourlyCap) {
  config.incomingPerHour = 3;
  transport.setConfig(config);
  auto unknown = transport.admit("+4917000000", "");
  EXPECT_FALSE(unknown.accepted);
  EXPECT_EQ(unknown.status, "ignored");
  EXPECT_EQ(unknown.detail, "not a known device's number");
  EXPECT_TRUE(transport.admit(kAllowed, "").accepted);
  EXPECT_EQ(transport.admit(kDevice, "dev-1").status, "received");
  EXPECT_TRUE(transport.admit(kDevice, "dev-1").accepted);
  EXPECT_TRUE(transport.admit(kDevice, "dev-1").accepted);
  auto capped = transport.admit(kDevice, "dev-1");
  EXPECT_FALSE(capped.accepted);
  EXPECT_EQ(capped.detail,
            "3 SMS from this number handled in the last hour ([sms] incoming_per_hour = 3)");
  clock.advance(1h);
  EXPECT_TRUE(transport.admit(kDevice, "dev-1").accepted);
  // A reload changes the list and the cap at once.
  config.allow.clear();
  config.incomingPerHour = 0;
  transport.setConfig(config);
  EXPECT_FALSE(transport.admit(kAllowed, "").accepted);
  EXPECT_FALSE(transport.admit(kDevice, "dev-1").accepted);
}

TEST_F(SmsTransportTest, MalformedCoapIsMarkedAndNeverAnswered) {
  deliver(kDevice, {0x40, 0x02});              // shorter than a header
  deliver(kDevice, {0x40, 0x02, 0, 1, 0xff});  // payload marker, no payload
  deliver(kDevice, {0x70, 0x45, 0, 1});        // a RST with a code
  deliver(kDevice, {0x50, 0x00, 0, 1});        // an Empty NON
  deliver(kDevice, {0x60, 0x01, 0, 1});        // an ACK carrying a request
  ASSERT_EQ(sender.marked.size(), 5u);
  EXPECT_EQ(sender.marked[0].first, 1);
  EXPECT_NE(sender.marked[0].second.find("malformed: malformed CoAP message: 2 bytes"),
            std::string::npos)
      << sender.marked[0].second;
  EXPECT_NE(sender.marked[1].second.find("payload marker with no payload"), std::string::npos);
  EXPECT_EQ(sender.marked[2].second, "malformed: a RST with code 2.05 (RFC 7252 4.2, 4.3)");
  EXPECT_EQ(sender.marked[3].second, "malformed: a NON with code 0.00 (RFC 7252 4.2, 4.3)");
  EXPECT_EQ(sender.marked[4].second, "malformed: a ACK with code 0.01 (RFC 7252 4.2, 4.3)");
  // Nothing else happened: no answer, no transaction, not even "heard".
  EXPECT_TRUE(sender.sent.empty());
  EXPECT_EQ(host.batches, 0);
  EXPECT_TRUE(host.heard.empty());
}

TEST_F(SmsTransportTest, AConfirmableRegisterGetsItsAnswerPiggybackedInAnAck) {
  deliver(kAllowed, wire(registerRequest(CoapType::kCon, 0x1234)));
  ASSERT_EQ(host.requests.size(), 1u);
  const auto& r = host.requests[0];
  EXPECT_EQ(r.method, core::Method::kPost);
  EXPECT_EQ(r.path, (std::vector<std::string>{"rd"}));
  EXPECT_EQ(r.query, (std::vector<std::string>{"ep=sms-dev", "b=SQ"}));
  EXPECT_EQ(r.contentFormat, 40);
  EXPECT_EQ(r.payload, "</1/0>,</3/0>");
  EXPECT_EQ(r.peer, (core::Peer{"sms", kAllowed, 0}));
  EXPECT_TRUE(host.heard.empty());  // nobody's number yet

  ASSERT_EQ(sender.sent.size(), 1u);
  const Sent& s = sender.sent[0];
  EXPECT_EQ(s.msisdn, kAllowed);
  EXPECT_FALSE(s.requestId);
  EXPECT_EQ(s.message.type, CoapType::kAck);
  EXPECT_EQ(s.message.messageId, 0x1234);
  EXPECT_EQ(s.message.token, (Bytes{0xca, 0xfe}));
  EXPECT_EQ(modem::codeText(s.message.code), "2.01");
  EXPECT_EQ(s.message.strings(option::kLocationPath),
            (std::vector<std::string_view>{"rd", "abc123"}));
}

TEST_F(SmsTransportTest, ANonConfirmableRequestGetsANonAnswerAndDuplicatesTheFirstAnswer) {
  deliver(kDevice, wire(registerRequest(CoapType::kNon, 7)));
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].message.type, CoapType::kNon);
  EXPECT_NE(sender.sent[0].message.messageId, 7);
  EXPECT_EQ(sender.sent[0].message.token, (Bytes{0xca, 0xfe}));
  EXPECT_EQ(sender.sent[0].endpoint, "dev-1");
  EXPECT_EQ(host.heard, (std::vector<std::string>{"dev-1"}));

  // The same Message ID again (RFC 7252 4.5): the same answer, the handler does not run twice.
  host.response.code = core::Code::kBadRequest;
  deliver(kDevice, wire(registerRequest(CoapType::kNon, 7)));
  EXPECT_EQ(host.requests.size(), 1u);
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(modem::codeText(sender.sent[1].message.code), "2.01");
  // After EXCHANGE_LIFETIME it is a new request.
  clock.advance(248s);
  deliver(kDevice, wire(registerRequest(CoapType::kNon, 7)));
  EXPECT_EQ(host.requests.size(), 2u);
  EXPECT_EQ(modem::codeText(sender.sent[2].message.code), "4.00");
}

TEST_F(SmsTransportTest, AnUpdateBySmsKeepsTheAddressOfARegistrationMadeOverUdp) {
  host.registration.location = "loc1";
  host.registration.endpoint = "dev-1";
  host.registration.peer = {"udp", "127.0.0.1", 40000};
  host.response.code = core::Code::kChanged;
  host.response.locationPath.clear();
  CoapMessage update;
  update.type = CoapType::kCon;
  update.code = 0x02;
  update.messageId = 1;
  update.add(option::kUriPath, "rd");
  update.add(option::kUriPath, "loc1");
  deliver(kDevice, wire(update));
  ASSERT_EQ(host.requests.size(), 1u);
  EXPECT_EQ(host.requests[0].peer, host.registration.peer);
  EXPECT_EQ(host.heard, (std::vector<std::string>{"dev-1"}));
  EXPECT_EQ(modem::codeText(sender.sent.at(0).message.code), "2.04");

  // Made by SMS, it stays by SMS; other requests keep the SMS peer too.
  host.registration.peer = {"sms", kDevice, 0};
  update.messageId = 2;
  deliver(kDevice, wire(update));
  EXPECT_EQ(host.requests.at(1).peer, (core::Peer{"sms", kDevice, 0}));
  update.code = 0x04;  // DELETE: De-register
  update.messageId = 3;
  host.registration.peer = {"udp", "127.0.0.1", 40000};
  deliver(kDevice, wire(update));
  EXPECT_EQ(host.requests.at(2).peer, (core::Peer{"sms", kDevice, 0}));
}

TEST_F(SmsTransportTest, AFailedCommitAnswers500AndTheRetryRunsAgain) {
  host.commitOk = false;
  deliver(kAllowed, wire(registerRequest(CoapType::kCon, 9)));
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(modem::codeText(sender.sent[0].message.code), "5.00");
  host.commitOk = true;
  deliver(kAllowed, wire(registerRequest(CoapType::kCon, 9)));
  EXPECT_EQ(host.requests.size(), 2u);
  EXPECT_EQ(modem::codeText(sender.sent[1].message.code), "2.01");
}

TEST_F(SmsTransportTest, AnswersThatCannotBeSentAreDropped) {
  sender.refuse = true;  // over the budget, or no modem
  deliver(kAllowed, wire(registerRequest(CoapType::kCon, 9)));
  EXPECT_EQ(host.requests.size(), 1u);  // handled (the registration holds), just not answered
  EXPECT_TRUE(sender.sent.empty());
}

TEST_F(SmsTransportTest, RoutesDevicesRegisteredBySmsOrBoundToSmsOnly) {
  core::Registration reg;
  reg.endpoint = "dev-1";
  reg.peer = {"sms", kDevice, 0};
  reg.binding.transports = "U";
  EXPECT_EQ(transport.smsRouteFor(reg), kDevice);
  reg.peer = {"udp", "127.0.0.1", 5683};
  EXPECT_EQ(transport.smsRouteFor(reg), std::nullopt);
  reg.binding.transports = "US";
  EXPECT_EQ(transport.smsRouteFor(reg), std::nullopt);  // UDP while it has it
  reg.binding.transports = "S";
  EXPECT_EQ(transport.smsRouteFor(reg), "");  // no number known
  host.settingNumber = "+4917011111";
  EXPECT_EQ(transport.smsRouteFor(reg), "+4917011111");
  reg.smsNumber = kDevice;
  EXPECT_EQ(transport.smsRouteFor(reg), kDevice);
  auto none = transport.sendBySms("", request(1, 1, {1}), readOf("0"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no SMS number"), std::string::npos);
}

TEST_F(SmsTransportTest, ARequestBySmsIsCompletedByItsPiggybackedAnswer) {
  ASSERT_TRUE(transport.sendBySms(kDevice, request(41, 0x0101, {1, 2, 3, 4}), readOf("0")).ok());
  ASSERT_EQ(sender.sent.size(), 1u);
  const Sent& s = sender.sent[0];
  EXPECT_EQ(s.requestId, 41);
  EXPECT_EQ(s.endpoint, "dev-1");
  EXPECT_EQ(s.message.type, CoapType::kCon);
  EXPECT_EQ(s.message.code, 0x01);
  EXPECT_EQ(s.message.messageId, 0x0101);
  EXPECT_EQ(s.message.token, (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(s.message.strings(option::kUriPath), (std::vector<std::string_view>{"3", "0", "0"}));
  EXPECT_EQ(s.message.uintOption(option::kAccept), 0u);
  EXPECT_EQ(transport.inFlight(), 1u);
  EXPECT_EQ(transport.nextTimer(), clock.steadyNow() + 300s);

  // An ACK with another Message ID is not the answer (RFC 7252 5.2.1).
  CoapMessage ack;
  ack.type = CoapType::kAck;
  ack.code = 0x45;
  ack.messageId = 0x0102;
  ack.token = {1, 2, 3, 4};
  ack.addUint(option::kContentFormat, 0);
  ack.payload = {'l', 'w'};
  deliver(kDevice, wire(ack));
  EXPECT_TRUE(host.answers.empty());
  ack.messageId = 0x0101;
  deliver(kDevice, wire(ack));
  ASSERT_EQ(host.answers.size(), 1u);
  const auto& a = host.answers[0];
  EXPECT_EQ(a.peer, (core::Peer{"sms", kDevice, 0}));
  EXPECT_EQ(a.token, (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(a.code, 0x45);
  EXPECT_EQ(a.contentFormat, 0);
  EXPECT_EQ(a.payload, "lw");
  EXPECT_TRUE(a.piggybacked);
  EXPECT_EQ(host.heard, (std::vector<std::string>{"dev-1"}));
  EXPECT_EQ(sender.sent.size(), 1u);  // an ACK is not answered
  EXPECT_EQ(transport.inFlight(), 0u);
  // No timeout follows.
  clock.advance(1h);
  transport.tick();
  EXPECT_TRUE(host.failures.empty());
  EXPECT_EQ(transport.nextTimer(), std::nullopt);
}

TEST_F(SmsTransportTest, NoAnswerWithinTheResponseTimeoutIsATransportFailure) {
  ASSERT_TRUE(transport.sendBySms(kDevice, request(42, 5, {'t', 'k'}), readOf("0")).ok());
  clock.advance(299s);
  transport.tick();
  EXPECT_TRUE(host.failures.empty());
  clock.advance(1s);
  EXPECT_EQ(transport.nextTimer(), clock.steadyNow());
  transport.tick();
  ASSERT_EQ(host.failures.size(), 1u);
  EXPECT_EQ(host.failures[0].first, std::string("sms|") + kDevice + "|0 tk");
  EXPECT_EQ(host.failures[0].second,
            "no answer by SMS within 300s ([sms] response_timeout; CoAP does not retransmit over "
            "SMS)");
  EXPECT_EQ(transport.inFlight(), 0u);
  // A late answer is handed on all the same; nobody wants it any more: a CON one gets RST.
  host.wanted = false;
  CoapMessage late;
  late.type = CoapType::kCon;
  late.code = 0x45;
  late.messageId = 77;
  late.token = {'t', 'k'};
  deliver(kDevice, wire(late));
  EXPECT_EQ(host.answers.size(), 1u);
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[1].message.type, CoapType::kRst);
  EXPECT_EQ(sender.sent[1].message.messageId, 77);
  EXPECT_TRUE(sender.sent[1].message.isEmpty());
}

TEST_F(SmsTransportTest, AnEmptyAckRestartsTheWaitForASeparateResponse) {
  ASSERT_TRUE(transport.sendBySms(kDevice, request(43, 6, {9}), readOf("0")).ok());
  clock.advance(200s);
  deliver(kDevice, {0x60, 0x00, 0x00, 0x06});  // Empty ACK of message 6
  EXPECT_TRUE(host.answers.empty());
  EXPECT_EQ(host.heard.size(), 1u);
  clock.advance(200s);
  transport.tick();
  EXPECT_TRUE(host.failures.empty());  // 400s after sending, 200s after the ACK
  // The separate response, a CON: handed on and acknowledged with an Empty ACK.
  CoapMessage response;
  response.type = CoapType::kCon;
  response.code = 0x45;
  response.messageId = 0x5555;
  response.token = {9};
  deliver(kDevice, wire(response));
  ASSERT_EQ(host.answers.size(), 1u);
  EXPECT_FALSE(host.answers[0].piggybacked);
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[1].message.type, CoapType::kAck);
  EXPECT_EQ(sender.sent[1].message.messageId, 0x5555);
  EXPECT_TRUE(sender.sent[1].message.isEmpty());
  EXPECT_EQ(transport.inFlight(), 0u);
}

TEST_F(SmsTransportTest, ARstOrAFailedSmsEndsTheExchangeAtOnce) {
  ASSERT_TRUE(transport.sendBySms(kDevice, request(44, 10, {1}), readOf("0")).ok());
  deliver(kDevice, {0x70, 0x00, 0x00, 0x0a});  // RST of message 10
  ASSERT_EQ(host.failures.size(), 1u);
  EXPECT_EQ(host.failures[0].second, "the device answered RST");
  EXPECT_TRUE(host.heard.empty());  // else the same request would go out again at once

  ASSERT_TRUE(transport.sendBySms(kDevice, request(45, 11, {2}), readOf("0")).ok());
  const std::int64_t smsId = sender.sent.back().logId;
  transport.sent(smsId, false, "+CMS ERROR: 500");
  ASSERT_EQ(host.failures.size(), 2u);
  EXPECT_EQ(host.failures[1].second, "the SMS could not be sent: +CMS ERROR: 500");
  EXPECT_EQ(transport.inFlight(), 0u);

  // A sent SMS ends nothing; a refused one is an error for the queue at once.
  ASSERT_TRUE(transport.sendBySms(kDevice, request(46, 12, {3}), readOf("0")).ok());
  transport.sent(sender.sent.back().logId, true, "");
  EXPECT_EQ(transport.inFlight(), 1u);
  sender.refuse = true;
  auto refused = transport.sendBySms(kDevice, request(47, 13, {4}), readOf("0"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "budget: over");
  EXPECT_EQ(transport.inFlight(), 1u);
}

TEST_F(SmsTransportTest, NotificationsAndUnwantedMessages) {
  // A NON notification (token of an observation): handed on, not answered.
  CoapMessage notify;
  notify.type = CoapType::kNon;
  notify.code = 0x45;
  notify.messageId = 300;
  notify.token = {7, 7};
  notify.addUint(option::kObserve, 12);
  deliver(kDevice, wire(notify));
  ASSERT_EQ(host.answers.size(), 1u);
  EXPECT_EQ(host.answers[0].observe, 12u);
  EXPECT_FALSE(host.answers[0].piggybacked);
  EXPECT_TRUE(sender.sent.empty());
  // Unwanted: RST (RFC 7641 3.6), for NON and CON; an unwanted ACK is dropped.
  host.wanted = false;
  notify.messageId = 301;
  deliver(kDevice, wire(notify));
  ASSERT_EQ(sender.sent.size(), 1u);
  EXPECT_EQ(sender.sent[0].message.type, CoapType::kRst);
  EXPECT_EQ(sender.sent[0].message.messageId, 301);
  notify.type = CoapType::kAck;
  notify.messageId = 302;
  deliver(kDevice, wire(notify));
  EXPECT_EQ(sender.sent.size(), 1u);
  // A CoAP ping is answered RST (RFC 7252 4.3) and counts as hearing from the device.
  deliver(kDevice, {0x40, 0x00, 0x01, 0x2c});
  ASSERT_EQ(sender.sent.size(), 2u);
  EXPECT_EQ(sender.sent[1].message.type, CoapType::kRst);
  EXPECT_EQ(sender.sent[1].message.messageId, 300);
  EXPECT_EQ(host.heard.size(), 4u);
}

}  // namespace sms_transport_test

}  // namespace
}  // namespace lwgate::daemon
