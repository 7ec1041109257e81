#pragma once
// Wires the bridge (bridge/: the upstream registrations' state machine) to the rest of the
// daemon: what the registry learns about devices decides what each upstream server is told;
// each bridged device gets its own libcoap client session (its own UDP socket) per server, on
// which its Register/Update/De-register go out and the server's requests come in; SQLite keeps
// the upstream registrations across restarts.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bridge/registration.h"
#include "bridge/relay.h"
#include "db/upstream_store.h"
#include "gateway/coap/server.h"
#include "gateway/core/observation.h"
#include "gateway/core/registration.h"
#include "gateway/core/registry.h"

namespace lwgate::daemon {

class Downlink;

class Bridge final : public bridge::UpstreamListener {
 public:
  Bridge(const core::Clock& clock, db::Connection& connection, coap::Server& server,
         bridge::RegistrationTiming timing);
  ~Bridge() override;
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Start-up: the configured servers and the stored upstream registrations. Then restored() for
  // every registration the registry restored, then start().
  Result<void> open(const std::vector<bridge::UpstreamConfig>& servers);
  // Where upstream requests go (the device's queue) and where devices are looked up. The
  // registry is rebuilt after a failed commit: set again then.
  void setDownlink(Downlink* downlink) { downlink_ = downlink; }
  void setRegistry(core::Registry* registry) { registry_ = registry; }
  void restored(const core::Registration& reg) { deviceRegistered(reg); }
  // Ends the start-up; answers what finished while lwgated was down.
  void start();
  // After a failed commit: the exchanges the batch recorded are gone; reload them.
  void reload();
  // A downlink request reached its final state (after the commit): the answer goes upstream if
  // a server asked for it.
  void requestFinished(const core::DownlinkRequest& request);
  // A notification was stored (after the commit): forwarded to the servers observing it. A Send
  // (kind send) goes to every server the device is bridged to, in order.
  void notification(const core::Notification& n);
  // A Send of `device` was stored as `id`, in the transaction that stores it (before the
  // commit): every server the device is bridged to gets a cursor just below it, if it has none,
  // so a committed Send is forwarded even when lwgated stops right after the commit.
  void sendStored(const std::string& device, std::int64_t id);
  // SIGHUP with a changed [[upstream]] list.
  void setServers(const std::vector<bridge::UpstreamConfig>& servers);

  // From the registry (after the batch that made the change is committed).
  void deviceRegistered(const core::Registration& reg);
  void deviceGone(const core::Registration& reg);
  // A queue-mode device woke (its queue became reachable).
  void deviceWoke(std::string_view endpoint) { registrations_->deviceWoke(endpoint); }

  // Registrations due, and exchanges past their answer_timeout (5.04, the request cancelled).
  void tick();
  std::optional<core::SteadyTime> nextTimer() const;
  // Closes the sockets of links that went away (never from inside a libcoap callback).
  void flush();

  bridge::UpstreamRegistrations& registrations() { return *registrations_; }

  // Where the pre-shared keys for coaps:// servers come from (the credential store): the
  // identity (nullopt: the upstream endpoint name) and key stored for (server, endpoint or "").
  struct StoredPsk {
    std::optional<std::string> identity;
    std::vector<std::uint8_t> key;
  };
  using PskSource = std::function<Result<std::optional<StoredPsk>>(std::string_view server,
                                                                   std::string_view endpoint)>;
  void setPskSource(PskSource source) { pskSource_ = std::move(source); }
  // A PSK was added, replaced or removed (endpoint "": the gateway-wide one, every device of
  // the server): failing links try again now; registered ones keep their DTLS session (the new
  // key applies at its next handshake).
  void credentialsChanged(const std::string& server, const std::string& endpoint);
  // SIGHUP: every failing link of a coaps:// server tries again now.
  void retryCoaps();

  // bridge::UpstreamListener
  Result<void> send(const bridge::Outgoing& message) override;
  void registeredFresh(const std::string& server, const std::string& device) override;
  void linkChanged(const std::string& server, const std::string& device, bool up) override;
  void linkRemoved(const std::string& server, const std::string& device) override;

 private:
  using Key = std::pair<std::string, std::string>;  // server uri, device endpoint
  struct Pending {
    std::uint64_t exchange;
    bridge::Outgoing::Kind kind;
  };
  struct Resolved {
    coap::Server::SocketAddress address;
    core::SteadyTime at;
  };

  Result<coap::Server::ClientId> session(const Key& key);
  // The identity and key of a link to a coaps:// server; kNotFound with what to do when none is
  // stored.
  Result<coap::Server::ClientPsk> pskFor(const bridge::UpstreamConfig& config, const Key& key);
  // Closes a link's session after this callback (a failed DTLS session cannot be used again).
  void dropSession(const Key& key);
  // Logs a link's failure to set up its DTLS session once, until it works again.
  void reportOnce(const Key& key, const std::string& what);
  Result<coap::Server::SocketAddress> resolve(const std::string& uri);
  std::optional<coap::Server::ImmediateResponse> onRequest(
      const coap::Server::ClientRequest& request);
  bool onAnswer(const coap::Server::ClientAnswer& answer);
  void onFailure(const coap::Server::ClientFailure& failure);
  static std::string pendingKey(coap::Server::ClientId id, const std::vector<std::uint8_t>& token);
  // Sends an answer upstream on the device's socket for the server (best effort: a server that
  // does not acknowledge it asks again).
  void answer(const bridge::Exchange& e, const bridge::UpstreamAnswer& a);
  // Records a relayed request: exchange row and memory; false when the store failed.
  bool track(const bridge::Exchange& e);
  // The answer to a relayed request; an Observe's starts the upstream observation.
  void finish(const bridge::Exchange& e, const core::DownlinkRequest& r);

  // An upstream observation being relayed, and what of it is on its way.
  struct Relayed {
    bridge::UpstreamObservation o;
    std::optional<coap::Server::ClientId> client;  // of the batch in flight
    std::set<std::uint16_t> mids;                  // its notifications' Message IDs
    std::optional<std::uint16_t> pingMid;          // the ping after them
    std::int64_t sendingUpTo = 0;
    std::optional<core::SteadyTime> retryAt;  // after a failed batch
    // Batches in a row that went unacknowledged although the server had just answered the
    // registration: a server that dropped the observation without RST (RFC 7641 3.6 asks for
    // one) would otherwise get the same notification for ever.
    unsigned unacknowledged = 0;
  };
  static constexpr unsigned kMaxUnacknowledged = 3;
  // Upstream observations one server may hold on one device (an LwM2M server observes a few
  // resources; each is a row and a device observation).
  static constexpr std::size_t kMaxObservationsPerDevice = 64;
  // Sends the notifications after forwardedId (a bounded batch, CON, in order, then a ping whose
  // pong says they were all acknowledged: libcoap sends one CON at a time per session).
  void pump(Relayed& r);
  // Ends an upstream observation (the server cancelled it, or forgot it) and the device's one.
  void endObservation(std::int64_t id, std::string_view why);

  // A device's Sends on their way to one server: one CON POST /dp at a time, in order; the
  // server's answer (any code: a 4.xx would come again) moves the cursor on.
  struct Forward {
    bridge::SendCursor c;
    std::optional<coap::Server::ClientId> client;  // of the Send in flight
    std::vector<std::uint8_t> token;
    std::int64_t sendingId = 0;
    std::optional<core::SteadyTime> retryAt;  // after a Send went unanswered
  };
  void pumpSends(const Key& key, Forward& f);
  void sendAnswered(const Key& key, const coap::Server::ClientAnswer& a);
  void loadSendCursors();
  const core::Clock& clock_;
  db::Connection& connection_;
  coap::Server& server_;
  bridge::RegistrationTiming timing_;
  std::unique_ptr<db::SqliteUpstreamStore> store_;
  std::unique_ptr<bridge::UpstreamRegistrations> registrations_;
  std::map<Key, coap::Server::ClientId> sessions_;
  std::map<coap::Server::ClientId, Key> keys_;
  std::map<std::string, Pending> pending_;  // client id + token of our requests in flight
  std::map<std::string, Resolved, std::less<>> resolved_;
  std::vector<coap::Server::ClientId> toClose_;
  Downlink* downlink_ = nullptr;
  core::Registry* registry_ = nullptr;
  bridge::Exchanges exchanges_{clock_};
  std::map<std::int64_t, Relayed> relayed_;  // by upstream observation id
  std::map<Key, Forward> forwards_;
  std::map<std::string, Key> pendingSends_;  // client id + token of a forwarded Send in flight
  PskSource pskSource_;
  std::map<Key, std::string> reported_;  // the DTLS / PSK problem logged for a link
};

}  // namespace lwgate::daemon
