#pragma once
// Wires the downlink queue (core::DownlinkQueue) to the CoAP server, the registry and the
// database: what the registry learns about devices (registered, updated, gone) decides when the
// queue may send; what the queue sends goes out through coap::Server on the device's session;
// answers and failures come back to the queue. Also the gateway's own requests: the lifetime
// sync Read of /1/x/1 for devices that registered without lt=.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "db/request_store.h"
#include "gateway/coap/server.h"
#include "gateway/core/queue.h"
#include "gateway/core/registry.h"
#include "gateway/daemon/observations.h"

namespace lwgate::daemon {

// What callers of the queue hear about their requests (the D-Bus signals), told only after the
// change is committed: from flush().
class DownlinkEvents {
 public:
  virtual ~DownlinkEvents() = default;
  // Transmitted. For a request sent unsaved (core::QueueListener::sendUnsaved) told together
  // with the next group of results, so that a drain does not cost a bus wake-up per request;
  // always before the request's own result.
  virtual void requestSent(std::int64_t id, const std::string& endpoint) = 0;
  // Back in the queue after a transmission got no answer: it waits for the device to wake.
  virtual void requestWaiting(std::int64_t id, const std::string& endpoint) = 0;
  virtual void requestFinished(const core::DownlinkRequest& request) = 0;
  virtual void deviceReachability(const std::string& endpoint, bool reachable) = 0;
};

// The SMS binding (sms_transport.h): which devices get their requests by SMS, and sending them.
class SmsRoute {
 public:
  virtual ~SmsRoute() = default;
  // The MSISDN this device's requests go to by SMS (its registration came by SMS, or its
  // binding has S without U); nullopt: over UDP. "" when they should go by SMS but no number is
  // known (sendBySms then fails).
  virtual std::optional<std::string> smsRouteFor(const core::Registration& reg) = 0;
  // Sends the request (its Message ID and token already persisted) by SMS; its answer comes
  // back through Downlink::answer(), its failure (no answer in time) through failed().
  virtual Result<void> sendBySms(const std::string& msisdn, const core::DownlinkRequest& request,
                                 const core::OutgoingRequest& coap) = 0;
};

class Downlink final : public core::QueueListener {
 public:
  Downlink(const core::Clock& clock, db::Connection& connection, coap::Server& server,
           core::QueueConfig config, core::ObservationConfig observationConfig = {});
  Result<void> open();  // prepares the stores and restores the queue and the observations

  // The registry to read addresses from and to adopt synchronised lifetimes into (it is
  // rebuilt after a failed commit).
  void setRegistry(core::Registry* registry) {
    registry_ = registry;
    observations_->setRegistry(registry);
  }
  void setConfig(const core::QueueConfig& config) { queue_->setConfig(config); }
  void setEvents(DownlinkEvents* events) { events_ = events; }
  // A device's own awake window (DeviceSettings), nullopt for the configured one.
  using AwakeWindowLookup = std::function<std::optional<core::Millis>(std::string_view endpoint)>;
  void setAwakeWindowLookup(AwakeWindowLookup lookup) { awakeWindowOf_ = std::move(lookup); }
  void setObservationConfig(const core::ObservationConfig& config) {
    observations_->setConfig(config);
  }
  // Requests of devices the route names go by SMS instead of UDP.
  void setSmsRoute(SmsRoute* route) { smsRoute_ = route; }
  // Answers and failures of requests that went by SMS: as the CoAP server reports UDP ones.
  bool answer(const coap::Server::Answer& a) { return onAnswer(a); }
  void failed(const core::Peer& peer, const std::vector<std::uint8_t>& token,
              std::string_view why) {
    onFailure(peer, token, why);
  }

  // From the registry (called by the daemon's RegistryListener).
  void registered(const core::Registration& reg, const core::Registration* replaced);
  void updated(const core::Registration& reg, const core::Peer& previousPeer);
  void gone(const core::Registration& reg);
  // A restored registration at start-up: known address, no session, not heard from yet.
  void restored(const core::Registration& reg);

  // Transmissions the queue decided on go out only here, after the daemon committed the
  // transaction that persisted them (OMA issue #104: persisted before sent).
  void flush();
  // After a failed commit: nothing decided in the batch goes out and the queue reloads.
  Result<void> discardAndReload();

  // Transmissions of idempotent requests that need not wait for a commit
  // (core::QueueListener::sendUnsaved): the daemon sends them as soon as the CoAP messages that
  // led to them are handled, before it commits.
  void sendUnsaved();
  // Answers held for a group commit (core::QueueConfig::maxUnsavedSends) persisted now, in a
  // transaction of their own unless one is open; their signals go out at the next flush().
  void persistHeld();

  void tick();
  std::optional<core::SteadyTime> nextTimer() const { return queue_->nextTimer(); }
  core::DownlinkQueue& queue() { return *queue_; }
  // queue().submit(), except that a Cancel-Observe without a token gets the token of the
  // observation it cancels (RFC 7641 3.6); kNotFound when the path is not observed.
  Result<core::DownlinkQueue::Submitted> submit(core::DownlinkRequest request);
  db::SqliteRequestStore& store() { return *store_; }
  // Observations and notifications (listing, cancelling, the Notification hook).
  Observations& observations() { return *observations_; }

  // QueueListener
  void send(const core::DownlinkRequest& request) override;
  void sendUnsaved(const core::DownlinkRequest& request) override;
  void finished(const core::DownlinkRequest& request) override;
  void reachabilityChanged(std::string_view endpoint, bool reachable) override;

 private:
  bool onAnswer(const coap::Server::Answer& answer);
  void onFailure(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                 std::string_view why);
  void syncLifetime(const core::Registration& reg);
  void adoptSyncedLifetime(const core::DownlinkRequest& request);
  std::unique_ptr<core::DownlinkQueue> makeQueue();
  static std::string exchangeKey(const core::Peer& peer, const std::vector<std::uint8_t>& token);
  // Several registrations can share one peer address (endpoints behind one NAT mapping, or a
  // device re-registering from the same port): its session is let go with the last of them.
  // Sends the request in flight (from flush() or sendUnsaved()).
  void transmit(std::int64_t id, bool unsaved = false);
  void tellSent();
  void usePeer(const core::Peer& peer);
  void releasePeer(const core::Peer& peer);

  const core::Clock& clock_;
  db::Connection& connection_;
  coap::Server& server_;
  core::QueueConfig config_;
  core::Registry* registry_ = nullptr;
  std::unique_ptr<db::SqliteRequestStore> store_;
  std::unique_ptr<core::DownlinkQueue> queue_;
  std::unique_ptr<Observations> observations_;
  std::vector<std::int64_t> pending_;  // decided, not yet transmitted
  std::vector<std::int64_t> unsaved_;  // the same, not waiting for a commit (sendUnsaved())
  // Told to events_ at the next flush(), after the commit: finished requests, and ids back in
  // the queue after a failed transmission (id, endpoint).
  std::vector<core::DownlinkRequest> completed_;
  std::vector<std::pair<std::int64_t, std::string>> waiting_;
  std::vector<std::pair<std::int64_t, std::string>> sentUnsaved_;  // not told yet
  std::vector<std::pair<std::string, bool>> reachability_;
  DownlinkEvents* events_ = nullptr;
  SmsRoute* smsRoute_ = nullptr;
  AwakeWindowLookup awakeWindowOf_ = [](std::string_view) { return std::nullopt; };
  std::map<std::string, std::int64_t> inFlight_;  // exchange key -> request id
  std::map<std::string, std::size_t> peerUsers_;  // peer -> registrations at that address
  std::uint16_t nextMessageId_ = 0;
  std::array<std::uint8_t, 512> tokenBytes_{};
  std::size_t tokenBytesUsed_ = tokenBytes_.size();  // empty: filled at the first token
};

}  // namespace lwgate::daemon
