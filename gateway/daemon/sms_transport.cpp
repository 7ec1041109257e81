#include "gateway/daemon/sms_transport.h"

#include <sys/random.h>

#include <algorithm>

#include "gateway/util/log.h"

namespace lwgate::daemon {
namespace {

using modem::CoapMessage;
using modem::CoapType;
namespace option = modem::coap_option;

// Enough for the requests and answers of the devices sending by SMS: it holds each answer for
// EXCHANGE_LIFETIME, and incoming_per_hour bounds how fast entries come.
constexpr std::size_t kDedupEntries = 4096;

std::string hex(const std::vector<std::uint8_t>& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t x : b) {
    out.push_back(kDigits[x >> 4]);
    out.push_back(kDigits[x & 15]);
  }
  return out;
}

const char* typeName(CoapType t) {
  switch (t) {
    case CoapType::kCon:
      return "CON";
    case CoapType::kNon:
      return "NON";
    case CoapType::kAck:
      return "ACK";
    case CoapType::kRst:
      return "RST";
  }
  return "?";
}

CoapMessage empty(CoapType type, std::uint16_t messageId) {
  CoapMessage m;
  m.type = type;
  m.code = modem::kCodeEmpty;
  m.messageId = messageId;
  return m;
}

std::string seconds(core::Millis d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

}  // namespace

SmsTransport::SmsTransport(const core::Clock& clock, SmsTransportConfig config, SmsSender& sender,
                           SmsTransportHost& host)
    : clock_(clock),
      config_(std::move(config)),
      sender_(sender),
      host_(host),
      limit_(clock, config_.incomingPerHour),
      dedup_(clock, kDedupEntries) {
  // Our NON answers start at a random Message ID (RFC 7252 4.4).
  if (getrandom(&nextMessageId_, sizeof nextMessageId_, 0) != sizeof nextMessageId_) {
    nextMessageId_ = static_cast<std::uint16_t>(clock.steadyNow().time_since_epoch().count());
  }
}

void SmsTransport::setConfig(SmsTransportConfig config) {
  config_ = std::move(config);
  limit_.setLimit(config_.incomingPerHour);
}

SmsTransport::Key SmsTransport::keyOf(std::string_view msisdn,
                                      const std::vector<std::uint8_t>& token) {
  std::string key(msisdn);
  key += '|';
  key.append(token.begin(), token.end());
  return key;
}

// ---- Uplink ----

SmsUplink::Admission SmsTransport::admit(std::string_view msisdn, std::string_view endpoint) {
  if (endpoint.empty() && !config_.allow.contains(msisdn)) {
    return {false, "ignored", "not a known device's number"};
  }
  if (!limit_.take(msisdn)) {
    return {false, "ignored",
            std::to_string(limit_.count(msisdn)) +
                " SMS from this number handled in the last hour ([sms] incoming_per_hour = " +
                std::to_string(limit_.limit()) + ")"};
  }
  return {true, "received", ""};
}

void SmsTransport::received(std::int64_t logId, const std::string& msisdn,
                            const std::string& endpoint, const std::vector<std::uint8_t>& bytes) {
  auto parsed = modem::parseCoap(bytes);
  if (!parsed) return malformed(logId, msisdn, parsed.error().message);
  const CoapMessage& m = *parsed;
  // RFC 7252 4.2, 4.3: a RST is always Empty, a NON never is, an ACK carries a response or
  // nothing. Anything else is a format error, handled as a malformed message.
  if ((m.type == CoapType::kRst && !m.isEmpty()) || (m.type == CoapType::kNon && m.isEmpty()) ||
      (m.type == CoapType::kAck && m.isRequest())) {
    return malformed(logId, msisdn,
                     std::string("a ") + typeName(m.type) + " with code " +
                         modem::codeText(m.code) + " (RFC 7252 4.2, 4.3)");
  }
  log::debug("LWG5300 SMS {} from {}{}: {}", logId, msisdn,
             endpoint.empty() ? "" : " (" + endpoint + ")", modem::describe(m));
  const core::Peer peer{"sms", msisdn, 0};
  if (m.isRequest()) {
    handleRequest(logId, m, peer, endpoint);
  } else if (m.isEmpty()) {
    handleEmpty(m, peer, endpoint);
  } else {
    handleAnswer(logId, m, peer, endpoint);
  }
}

void SmsTransport::malformed(std::int64_t logId, const std::string& msisdn,
                             const std::string& why) {
  log::notice(
      "LWG5301 SMS {} from {} is not a well-formed CoAP message, ignored (not answered): {}", logId,
      msisdn, why);
  sender_.markIncoming(logId, "malformed", why);
}

void SmsTransport::heard(const std::string& endpoint) {
  if (!endpoint.empty()) host_.smsDeviceHeard(endpoint);
}

void SmsTransport::handleRequest(std::int64_t logId, const CoapMessage& m, const core::Peer& peer,
                                 const std::string& endpoint) {
  core::Response response;
  if (const core::Response* seen = dedup_.find(peer, m.messageId)) {
    // RFC 7252 4.5: the same answer again, the request does not run twice.
    log::debug("LWG5306 SMS {}: duplicate message id {} from {}, answering as before", logId,
               m.messageId, peer.address);
    response = *seen;
  } else {
    core::Request req;
    req.method = static_cast<core::Method>(m.code);
    req.uriPath = m.strings(option::kUriPath);
    req.uriQuery = m.strings(option::kUriQuery);
    if (m.first(option::kContentFormat)) {
      // 65535 is reserved: an over-long value is refused as an unsupported format.
      req.contentFormat = static_cast<std::uint16_t>(
          std::min<std::uint32_t>(m.uintOption(option::kContentFormat).value_or(65535), 65535));
    }
    req.payload =
        std::string_view(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
    req.peer = peer;
    const bool committed = host_.smsBatch([&] {
      // An Update by SMS carries no IP address (LwM2M TS 6.2.2 updates the address from the
      // packet): a registration made over UDP keeps the address its requests go to, one made
      // by SMS stays with SMS.
      const bool update = req.uriPath.size() == 2 && req.uriPath[0] == "rd" &&
                          (req.method == core::Method::kPost || req.method == core::Method::kPut);
      if (update) {
        const core::Registration* reg = host_.smsRegistrationAt(req.uriPath[1]);
        if (reg && reg->peer.transport != "sms") req.peer = reg->peer;
      }
      heard(endpoint);
      try {
        response = host_.smsRequest(req);
      } catch (const std::exception& e) {
        // One bad event never stops the loop.
        log::error("LWG5308 internal error handling a request by SMS from {}: {}", peer.address,
                   e.what());
        response = core::errorResponse(makeError(ErrorCode::kInternal, "internal error"));
      }
    });
    if (committed) {
      dedup_.remember(peer, m.messageId, response);
    } else {
      response = core::errorResponse(
          makeError(ErrorCode::kStorage, "the gateway could not store this; try again later"));
    }
  }
  // RFC 7252 5.2: piggybacked in the ACK of a CON; a NON request gets a NON response.
  CoapMessage answer;
  if (m.type == CoapType::kCon) {
    answer.type = CoapType::kAck;
    answer.messageId = m.messageId;
  } else {
    answer.type = CoapType::kNon;
    answer.messageId = ++nextMessageId_;
  }
  answer.code = static_cast<std::uint8_t>(response.code);
  answer.token = m.token;
  for (const auto& segment : response.locationPath) answer.add(option::kLocationPath, segment);
  if (response.contentFormat) answer.addUint(option::kContentFormat, *response.contentFormat);
  answer.payload.assign(response.payload.begin(), response.payload.end());
  reply(peer, answer, "answer");
}

void SmsTransport::handleAnswer(std::int64_t logId, const CoapMessage& m, const core::Peer& peer,
                                const std::string& endpoint) {
  const Key key = keyOf(peer.address, m.token);
  if (auto ex = inFlight_.find(key); ex != inFlight_.end()) {
    // A piggybacked answer carries the Message ID of the request it answers (RFC 7252 5.2.1).
    if (m.type == CoapType::kAck && m.messageId != ex->second.messageId) {
      log::info(
          "LWG5307 SMS {} from {}: an ACK with message id {} for request {} (sent with {}), "
          "ignored",
          logId, peer.address, m.messageId, ex->second.requestId, ex->second.messageId);
      return;
    }
    deadlines_.erase({ex->second.deadline, key});
    if (ex->second.logId) bySmsLog_.erase(*ex->second.logId);
    inFlight_.erase(ex);
  }
  coap::Server::Answer a;
  a.peer = peer;
  a.token = m.token;
  a.code = m.code;
  if (m.first(option::kContentFormat)) {
    a.contentFormat = static_cast<std::uint16_t>(
        std::min<std::uint32_t>(m.uintOption(option::kContentFormat).value_or(65535), 65535));
  }
  if (m.first(option::kObserve)) a.observe = m.uintOption(option::kObserve).value_or(0);
  a.payload.assign(m.payload.begin(), m.payload.end());
  a.piggybacked = m.type == CoapType::kAck;
  bool wanted = true;  // after an internal error: ACK it, the device did nothing wrong
  const bool committed = host_.smsBatch([&] {
    heard(endpoint);
    try {
      wanted = host_.smsAnswer(a);
    } catch (const std::exception& e) {
      log::error("LWG5308 internal error handling an answer by SMS from {}: {}", peer.address,
                 e.what());
    }
  });
  if (!committed) return;  // undone: the device's next message (or its retry) brings it again
  // RFC 7252 4.2: a CON is acknowledged; an unwanted CON or NON is rejected with RST, which also
  // ends an observation the gateway no longer wants (RFC 7641 3.6). An ACK is never answered.
  if (m.type == CoapType::kCon) {
    reply(peer, empty(wanted ? CoapType::kAck : CoapType::kRst, m.messageId),
          wanted ? "Empty ACK" : "RST");
  } else if (m.type == CoapType::kNon && !wanted) {
    reply(peer, empty(CoapType::kRst, m.messageId), "RST");
  }
}

void SmsTransport::handleEmpty(const CoapMessage& m, const core::Peer& peer,
                               const std::string& endpoint) {
  auto byMessageId = [&]() -> std::map<Key, Exchange>::iterator {
    for (auto it = inFlight_.begin(); it != inFlight_.end(); ++it) {
      if (it->second.msisdn == peer.address && it->second.messageId == m.messageId) return it;
    }
    return inFlight_.end();
  };
  switch (m.type) {
    case CoapType::kCon:
      // A CoAP ping (RFC 7252 4.3): answered RST; the device is alive.
      host_.smsBatch([&] { heard(endpoint); });
      reply(peer, empty(CoapType::kRst, m.messageId), "RST to a ping");
      return;
    case CoapType::kAck: {
      // The device has our request and answers separately (RFC 7252 5.2.2): the wait for the
      // answer starts again.
      host_.smsBatch([&] { heard(endpoint); });
      auto ex = byMessageId();
      if (ex == inFlight_.end()) {
        log::debug("LWG5307 an Empty ACK by SMS from {} for message id {}: nothing waits for it",
                   peer.address, m.messageId);
        return;
      }
      deadlines_.erase({ex->second.deadline, ex->first});
      ex->second.deadline = clock_.steadyNow() + config_.responseTimeout;
      deadlines_.emplace(ex->second.deadline, ex->first);
      log::debug("LWG5307 {} acknowledged request {} by SMS, its answer follows separately",
                 peer.address, ex->second.requestId);
      return;
    }
    case CoapType::kRst: {
      // The device rejected our request: a transport failure as over UDP. Not counted as
      // "heard": a device that rejects would otherwise be sent the same request at once again.
      auto ex = byMessageId();
      if (ex == inFlight_.end()) return;
      const Key key = ex->first;
      host_.smsBatch([&] { fail(key, "the device answered RST"); });
      return;
    }
    case CoapType::kNon:
      return;  // refused in received()
  }
}

void SmsTransport::reply(const core::Peer& peer, const CoapMessage& m, const char* what) {
  auto bytes = modem::serializeCoap(m);
  if (!bytes) {  // a bug: everything we build fits the format
    log::error("LWG5303 cannot frame the {} to {}: {}", what, peer.address, bytes.error().message);
    return;
  }
  const std::string endpoint = host_.smsEndpointOf(peer.address);
  auto id = sender_.sendCoap(endpoint, peer.address, *bytes, std::nullopt);
  if (!id) {
    log::warning("LWG5303 the {} ({}) by SMS to {} is not sent: {}", what, modem::describe(m),
                 peer.address, id.error().message);
    return;
  }
  log::debug("LWG5302 {} {} by SMS to {} (SMS {})", what, modem::describe(m), peer.address, *id);
}

// ---- Downlink ----

std::optional<std::string> SmsTransport::smsRouteFor(const core::Registration& reg) {
  if (reg.peer.transport == "sms") return reg.peer.address;
  const std::string& t = reg.binding.transports;
  if (t.find('S') == std::string::npos || t.find('U') != std::string::npos) return std::nullopt;
  if (!reg.smsNumber.empty()) return reg.smsNumber;
  return host_.smsNumberSetting(reg.endpoint);
}

Result<void> SmsTransport::sendBySms(const std::string& msisdn, const core::DownlinkRequest& r,
                                     const core::OutgoingRequest& coap) {
  if (msisdn.empty()) {
    return makeError(ErrorCode::kNotFound,
                     "the device's binding is SMS but no SMS number is known for it");
  }
  CoapMessage m;
  m.type = CoapType::kCon;
  m.code = static_cast<std::uint8_t>(coap.method);
  m.messageId = r.messageId.value_or(0);
  m.token = r.token;
  if (coap.observe) m.addUint(option::kObserve, *coap.observe);
  for (const auto& segment : coap.uriPath) m.add(option::kUriPath, segment);
  if (coap.contentFormat) m.addUint(option::kContentFormat, *coap.contentFormat);
  for (const auto& q : coap.uriQuery) m.add(option::kUriQuery, q);
  if (coap.accept) m.addUint(option::kAccept, *coap.accept);
  m.payload = coap.payload;
  auto bytes = modem::serializeCoap(m);
  if (!bytes) return bytes.error();
  auto id = sender_.sendCoap(r.endpoint, msisdn, *bytes, r.id);
  if (!id) return id.error();

  const Key key = keyOf(msisdn, m.token);
  if (auto old = inFlight_.find(key); old != inFlight_.end()) {
    deadlines_.erase({old->second.deadline, key});
    if (old->second.logId) bySmsLog_.erase(*old->second.logId);
    inFlight_.erase(old);
  }
  Exchange ex{msisdn, m.token, m.messageId,
              r.id,   *id,     clock_.steadyNow() + config_.responseTimeout};
  deadlines_.emplace(ex.deadline, key);
  bySmsLog_[*id] = key;
  inFlight_.emplace(key, std::move(ex));
  log::info("LWG5304 request {} {} {} to {} goes by SMS to {} ({}, SMS {})", r.id,
            core::operationName(r.operation), r.path, r.endpoint, msisdn, modem::describe(m), *id);
  return {};
}

void SmsTransport::sent(std::int64_t logId, bool ok, std::string_view error) {
  auto it = bySmsLog_.find(logId);
  if (it == bySmsLog_.end()) return;
  const Key key = it->second;
  bySmsLog_.erase(it);
  auto ex = inFlight_.find(key);
  if (ex == inFlight_.end()) return;
  ex->second.logId.reset();
  if (!ok) fail(key, "the SMS could not be sent: " + std::string(error));
}

void SmsTransport::fail(const Key& key, std::string_view why) {
  auto ex = inFlight_.find(key);
  if (ex == inFlight_.end()) return;
  Exchange gone = std::move(ex->second);
  inFlight_.erase(ex);
  deadlines_.erase({gone.deadline, key});
  if (gone.logId) bySmsLog_.erase(*gone.logId);
  log::info("LWG5305 request {} by SMS to {} (token {}): {}; back to the head of the queue",
            gone.requestId, gone.msisdn, hex(gone.token), why);
  host_.smsRequestFailed(core::Peer{"sms", gone.msisdn, 0}, gone.token, why);
}

void SmsTransport::tick() {
  const core::SteadyTime now = clock_.steadyNow();
  // Each round removes one exchange: bounded by how many are in flight.
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const Key key = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    fail(key, "no answer by SMS within " + seconds(config_.responseTimeout) +
                  " ([sms] response_timeout; CoAP does not retransmit over SMS)");
  }
}

std::optional<core::SteadyTime> SmsTransport::nextTimer() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

}  // namespace lwgate::daemon
