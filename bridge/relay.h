#pragma once
// Requests from an upstream server, relayed to the device through its persistent downlink queue
// (so ordering, NSTART=1, awake windows, the SMS wake-up and crash safety all apply), and the
// device's answers relayed back with the server's token. Pure code: the CoAP request as the
// adapter parsed it in, a core::DownlinkRequest out; a finished request in, the answer out; and
// the table of exchanges waiting for their answer, with their deadlines (5.04 Gateway Timeout).
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/downlink.h"
#include "gateway/core/message.h"
#include "gateway/core/operation_mapping.h"
#include "gateway/core/registration.h"
#include "gateway/util/result.h"

namespace lwgate::bridge {

using Token = std::vector<std::uint8_t>;

// A request the upstream server sent on a device's upstream socket.
struct UpstreamRequest {
  core::Method method = core::Method::kGet;
  std::vector<std::string> uriPath;
  std::vector<std::string> uriQuery;
  std::optional<std::uint16_t> contentFormat;
  std::optional<std::uint16_t> accept;
  std::optional<std::uint32_t> observe;  // 0 register, 1 deregister (RFC 7641 2)
  std::string payload;
};

struct RelayLimits {
  std::size_t maxPayload = 65536;
};

// The LwM2M operation the request is (TS Transport 6.4 tables, read backwards: GET is Read,
// Discover with Accept: link-format, Observe/Cancel-Observe with the Observe option; PUT is
// Write, or Write-Attributes when it carries only a query; POST is Execute on a resource,
// Create on an object, a partial Write on an instance; DELETE; FETCH Read-/Observe-Composite;
// iPATCH Write-Composite), as a DownlinkRequest for the device's queue: the server's payload and
// formats untouched, the device's alternate path taken off the Uri-Path, due by `deadline`.
// kBadRequest (4.00) for what is no LwM2M operation or no valid path, kTooLarge (4.13) over the
// payload limit, kNotFound (4.04) for a path outside the alternate path. The CoAP mapping is
// tried once with core::toCoapRequest so what the device could never be sent is refused now.
Result<core::DownlinkRequest> toDownlink(const UpstreamRequest& request,
                                         const core::Registration& reg, core::WallTime now,
                                         core::WallTime deadline, const RelayLimits& limits = {});

// What goes back upstream for a request that reached its final state: the device's code,
// payload and format when it answered; 5.04 Gateway Timeout (with a diagnostic) when it did not
// (no answer, expired, cancelled), since from the server's side the gateway did not get an
// answer from the device in time (RFC 7252 5.9.3.5).
struct UpstreamAnswer {
  std::uint8_t code = 0x45;
  std::vector<std::uint8_t> payload;
  std::optional<std::uint16_t> contentFormat;
  std::string diagnostic;
  std::optional<std::uint32_t> observe;  // the answer to an Observe that started an observation
};
inline constexpr std::uint8_t kGatewayTimeout = 0xa4;  // 5.04
UpstreamAnswer answerFor(const core::DownlinkRequest& finished);
UpstreamAnswer gatewayTimeout(std::string why);

// A request the server is waiting for an answer to.
struct Exchange {
  std::int64_t requestId = 0;  // in the device's queue
  std::string server;
  std::string device;
  Token token;
  core::WallTime answerBy{};
  bool observe = false;  // an Observe: the answer starts an upstream observation
};

class ExchangeStore {
 public:
  virtual ~ExchangeStore() = default;
  virtual Result<void> insertExchange(const Exchange& e) = 0;
  virtual Result<void> deleteExchange(std::int64_t requestId) = 0;
  virtual Result<std::vector<Exchange>> loadExchanges() = 0;
};

// An upstream server's observation of a device's resource, relayed to the device's own
// observation (db upstream_observations). Notifications stay in the gateway's notifications
// table; forwardedId is the newest one the server has acknowledged (RFC 7641 4.5: CON, so the
// gateway knows), and what follows it is sent, in order, when the backhaul allows.
struct UpstreamObservation {
  std::int64_t id = 0;
  std::string server;
  std::string device;
  Token token;
  std::string path;
  std::optional<std::int64_t> requestId;      // the Observe in the device's queue
  std::optional<std::int64_t> observationId;  // the device's observation, once established
  std::int64_t forwardedId = 0;
};

// A stored notification to forward.
struct StoredNotification {
  std::int64_t id = 0;
  std::optional<std::uint16_t> contentFormat;
  std::vector<std::uint8_t> payload;
};

// RFC 7641 3.4: the Observe option is 24 bits and compared with wrap-around; the gateway's
// notification ids only grow, and two in flight are never 2^23 apart, so their low 24 bits are a
// valid sequence for the server.
inline std::uint32_t observeNumber(std::int64_t notificationId) {
  return static_cast<std::uint32_t>(notificationId & 0xffffff);
}

class UpstreamObservationStore {
 public:
  virtual ~UpstreamObservationStore() = default;
  // kNotFound when the device has no row. Returns the new id.
  virtual Result<std::int64_t> insertObservation(const UpstreamObservation& o) = 0;
  virtual Result<void> establishObservation(std::int64_t id, std::int64_t observationId,
                                            std::int64_t forwardedId) = 0;
  virtual Result<void> setForwarded(std::int64_t id, std::int64_t forwardedId) = 0;
  virtual Result<void> deleteObservation(std::int64_t id) = 0;
  virtual Result<std::vector<UpstreamObservation>> loadObservations() = 0;
  // The device's observation an Observe request made, and its newest notification (the value
  // that answered the Observe).
  virtual Result<std::optional<std::pair<std::int64_t, std::int64_t>>> observationOf(
      std::int64_t requestId) = 0;
  // Notifications of an observation after `afterId`, oldest first, at most `limit`.
  virtual Result<std::vector<StoredNotification>> notificationsAfter(std::int64_t observationId,
                                                                     std::int64_t afterId,
                                                                     std::size_t limit) = 0;
};

// LwM2M 1.1 Send (POST /dp) of a bridged device, forwarded to an upstream server (TS Core
// 6.4.6): the device's stored Sends (notifications of kind "send") go upstream in order, one at a
// time, as CON POST /dp from the device's upstream socket; forwardedId is the newest one the
// server answered. A cursor exists from the first Send the device made while bridged to the
// server.
struct SendCursor {
  std::string server;
  std::string device;
  std::int64_t forwardedId = 0;
};

// The request that forwards a stored Send: POST /dp with its Content-Format and payload as the
// device sent them.
core::OutgoingRequest forwardedSend(const StoredNotification& send);

class UpstreamSendStore {
 public:
  virtual ~UpstreamSendStore() = default;
  // The cursor of (server, device), starting at forwardedId unless there is one already (the
  // device's row must exist; nothing happens otherwise).
  virtual Result<void> startSends(std::string_view server, std::string_view device,
                                  std::int64_t forwardedId) = 0;
  // kNotFound when there is no cursor.
  virtual Result<void> setSendsForwarded(std::string_view server, std::string_view device,
                                         std::int64_t forwardedId) = 0;
  virtual Result<std::vector<SendCursor>> loadSendCursors() = 0;
  // The device's Sends after afterId, oldest first, at most `limit`.
  virtual Result<std::vector<StoredNotification>> sendsAfter(std::string_view device,
                                                             std::int64_t afterId,
                                                             std::size_t limit) = 0;
};

// The exchanges in memory, with their deadlines on the steady clock.
class Exchanges {
 public:
  explicit Exchanges(const core::Clock& clock) : clock_(clock) {}
  void clear();
  void add(Exchange e);
  std::optional<Exchange> take(std::int64_t requestId);  // found: removed
  const Exchange* find(std::int64_t requestId) const;
  // Request ids whose answerBy has passed (still in the table).
  std::vector<std::int64_t> due() const;
  std::optional<core::SteadyTime> nextDeadline() const;
  std::size_t size() const { return byId_.size(); }
  // The exchanges of one device on one server (to drop them when it de-registers).
  std::vector<std::int64_t> of(const std::string& server, const std::string& device) const;

 private:
  core::SteadyTime steadyFor(core::WallTime t) const;
  const core::Clock& clock_;
  std::map<std::int64_t, std::pair<Exchange, core::SteadyTime>> byId_;
  std::set<std::pair<core::SteadyTime, std::int64_t>> deadlines_;
};

}  // namespace lwgate::bridge
