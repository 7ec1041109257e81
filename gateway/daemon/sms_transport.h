#pragma once
// The LwM2M SMS binding (issue 5; early TS 9.3.3, LwM2M 1.1 Transport section 7): CoAP
// messages carried in SMS, handled like the ones libcoap brings in over UDP. One reassembled
// SMS is one CoAP message (modem/coap_message.h) from the peer "sms:<msisdn>".
//
// Uplink, for SMS from a registered device's number or from a number in [sms] allow (devices
// that Register by SMS), at most [sms] incoming_per_hour per number:
//  - a request goes through the daemon's CoAP handler (Register, Update, De-register), in one
//    database transaction like a batch of UDP requests, deduplicated by Message ID as over UDP;
//    its answer goes back by SMS once that transaction is committed: a piggybacked ACK for a
//    CON, a NON for a NON;
//  - an answer with a token we sent completes the downlink request (piggybacked in an ACK, or
//    a separate CON/NON response); a notification is handled as over UDP; a CON gets an Empty
//    ACK, an unwanted CON/NON a RST (RFC 7252 4.2, 4.3, RFC 7641 3.6);
//  - any well-formed message from a known device marks it heard (wake policy) and awake
//    (queue mode);
//  - malformed CoAP is logged with its sms_log id, marked "malformed" there, never answered,
//    and changes nothing else.
// Downlink: a device whose registration came by SMS, or whose binding has S without U, gets
// its requests by SMS, one at a time as the queue decides (NSTART=1, queue mode, persisted
// Message ID and token). CoAP does not retransmit over SMS (TS 9.3.3): a request without an
// answer after [sms] response_timeout is a transport failure (back to the head of the queue,
// the device counts as asleep), as after the last retransmission over UDP. Every SMS sent is
// in sms_log (kind "coap") and spends the overall daily SMS budget.
//
// Runs on the main thread; time from the injected Clock (timeouts, deduplication, rate limit).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/coap/server.h"
#include "gateway/core/clock.h"
#include "gateway/core/exchange_cache.h"
#include "gateway/core/message.h"
#include "gateway/core/operation_mapping.h"
#include "gateway/core/registration.h"
#include "gateway/daemon/downlink.h"
#include "gateway/util/result.h"
#include "modem/coap_message.h"
#include "modem/rate_limit.h"

namespace lwgate::daemon {

struct SmsTransportConfig {
  std::set<std::string, std::less<>> allow;  // numbers that may send CoAP besides devices'
  unsigned incomingPerHour = 60;             // messages handled per number in any hour
  core::Millis responseTimeout{300'000};     // for a request sent by SMS
};

// What the transport sends through: the SMS side (Sms), which frames, logs, budgets and hands
// to the modem thread.
class SmsSender {
 public:
  virtual ~SmsSender() = default;
  // A CoAP message as SMS of kind "coap" to `msisdn`, logged in sms_log first. Refused with the
  // reason without a modem, over the overall daily budget, or when it needs too many parts.
  // Returns the sms_log id; sent() on the SmsUplink tells how the modem fared.
  virtual Result<std::int64_t> sendCoap(std::string_view endpoint, std::string_view msisdn,
                                        std::span<const std::uint8_t> message,
                                        std::optional<std::int64_t> requestId) = 0;
  // Sets the status and detail of an incoming sms_log entry ("malformed", ...).
  virtual void markIncoming(std::int64_t logId, std::string_view status,
                            std::string_view detail) = 0;
};

// What the SMS side tells the transport.
class SmsUplink {
 public:
  virtual ~SmsUplink() = default;
  struct Admission {
    bool accepted = false;
    std::string status;  // for sms_log: "received", "ignored"
    std::string detail;  // why it is ignored
  };
  // Whether an SMS from `msisdn` (whose device is `endpoint`, "" for none) is handled as CoAP;
  // asked once per reassembled message, before it is stored.
  virtual Admission admit(std::string_view msisdn, std::string_view endpoint) = 0;
  // An admitted message, stored as sms_log entry `logId` and removed from the modem.
  virtual void received(std::int64_t logId, const std::string& msisdn, const std::string& endpoint,
                        const std::vector<std::uint8_t>& message) = 0;
  // The modem sent, or could not send, the SMS of sms_log entry `logId`.
  virtual void sent(std::int64_t logId, bool ok, std::string_view error) = 0;
};

// What the transport needs from the daemon.
class SmsTransportHost {
 public:
  virtual ~SmsTransportHost() = default;
  // Runs `work` in one database transaction, as a batch of UDP requests runs; false when it
  // could not be committed (what it changed is then undone and reloaded from the database).
  // The daemon sends what the queue decided afterwards.
  virtual bool smsBatch(const std::function<void()>& work) = 0;
  // The daemon's CoAP request handler (the one UDP requests go to).
  virtual core::Response smsRequest(const core::Request& request) = 0;
  // An answer or notification (Downlink::answer); false when nobody wanted it.
  virtual bool smsAnswer(const coap::Server::Answer& answer) = 0;
  // A request sent by SMS got no answer (Downlink::failed).
  virtual void smsRequestFailed(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                                std::string_view why) = 0;
  // A message from a known device: heard (wake policy), awake (queue).
  virtual void smsDeviceHeard(std::string_view endpoint) = 0;
  virtual const core::Registration* smsRegistrationAt(std::string_view location) = 0;
  // The device whose SMS number this is now ("" for none): after a Register by SMS it is known.
  virtual std::string smsEndpointOf(std::string_view msisdn) = 0;
  // The operator's SMS number for a device (its settings), "" for none.
  virtual std::string smsNumberSetting(std::string_view endpoint) = 0;
};

class SmsTransport final : public SmsUplink, public SmsRoute {
 public:
  SmsTransport(const core::Clock& clock, SmsTransportConfig config, SmsSender& sender,
               SmsTransportHost& host);

  void setConfig(SmsTransportConfig config);

  // SmsUplink
  Admission admit(std::string_view msisdn, std::string_view endpoint) override;
  void received(std::int64_t logId, const std::string& msisdn, const std::string& endpoint,
                const std::vector<std::uint8_t>& message) override;
  void sent(std::int64_t logId, bool ok, std::string_view error) override;

  // SmsRoute (Downlink)
  std::optional<std::string> smsRouteFor(const core::Registration& reg) override;
  Result<void> sendBySms(const std::string& msisdn, const core::DownlinkRequest& request,
                         const core::OutgoingRequest& coap) override;

  // Requests sent by SMS whose answer did not come within response_timeout: transport
  // failures. Call when nextTimer() is due.
  void tick();
  std::optional<core::SteadyTime> nextTimer() const;
  std::size_t inFlight() const { return inFlight_.size(); }

 private:
  struct Exchange {
    std::string msisdn;
    std::vector<std::uint8_t> token;
    std::uint16_t messageId = 0;
    std::int64_t requestId = 0;
    std::optional<std::int64_t> logId;  // the SMS carrying it, until the modem sent it
    core::SteadyTime deadline;
  };
  using Key = std::string;  // msisdn | token
  static Key keyOf(std::string_view msisdn, const std::vector<std::uint8_t>& token);

  void handleRequest(std::int64_t logId, const modem::CoapMessage& m, const core::Peer& peer,
                     const std::string& endpoint);
  void handleAnswer(std::int64_t logId, const modem::CoapMessage& m, const core::Peer& peer,
                    const std::string& endpoint);
  void handleEmpty(const modem::CoapMessage& m, const core::Peer& peer,
                   const std::string& endpoint);
  void malformed(std::int64_t logId, const std::string& msisdn, const std::string& why);
  // Our own messages by SMS: answers, Empty ACKs, RSTs.
  void reply(const core::Peer& peer, const modem::CoapMessage& m, const char* what);
  void fail(const Key& key, std::string_view why);
  void heard(const std::string& endpoint);

  const core::Clock& clock_;
  SmsTransportConfig config_;
  SmsSender& sender_;
  SmsTransportHost& host_;
  modem::HourlyLimit limit_;
  core::ExchangeCache dedup_;
  std::map<Key, Exchange> inFlight_;
  std::map<std::int64_t, Key> bySmsLog_;  // sms_log id -> exchange, until the modem answers
  std::set<std::pair<core::SteadyTime, Key>> deadlines_;
  std::uint16_t nextMessageId_ = 0;  // for our NON answers (ACKs and RSTs take the peer's)
};

}  // namespace lwgate::daemon
