#pragma once
// The bridge's upstream registrations (issue 6): for every (upstream server, bridged device) one
// LwM2M registration of its own, kept by the bridge as an LwM2M client would keep its own
// (TS Core 6.2): Register, Update before the lifetime runs out and when what the server was told
// changed, De-register when the device goes or leaves the bridge, a full Register after an
// Update answered 4.04. Per server: a hold-off after start-up or a configuration change
// (spec/cr-maintenance-upgrade-holdoff.txt, "Client HoldOff Timer" and the "lag mode" of
// LightweightM2M-MaU-004/005) and a rate limit on Registers, so 10,000 devices do not register
// at once. After a timeout or a 5.xx: exponential back-off with jitter, per device.
//
// Sans-I/O: time from the Clock, randomness (jitter) injected, messages out through the
// UpstreamListener, answers in through answered()/failed(), persistence through the
// UpstreamRegistrationStore so that after a restart the bridge sends an Update (from its new
// socket) instead of registering anew, which would end the server's observations.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bridge/upstream_config.h"
#include "gateway/core/clock.h"
#include "gateway/util/result.h"

namespace lwgate::bridge {

// What a device's local registration says, as far as the upstream server is concerned.
struct DeviceInfo {
  std::string endpoint;
  std::string version = "1.1";  // lwm2m=
  bool queueMode = false;
  std::string objectLinks;  // the device's object links, link-format (the Register payload)
};

// What one upstream server is told about one device: the parameters of its Register.
struct UpstreamParams {
  std::string endpoint;  // prefix + the device's endpoint
  std::uint32_t lifetime = 86400;
  std::string version = "1.1";
  bool queueMode = false;  // b=UQ (1.0) or b=U&Q (1.1+)
  std::string objectLinks;

  bool operator==(const UpstreamParams&) const = default;
};

// The query of a Register (TS Core 6.2.1: ep, lt, lwm2m, b; LwM2M 1.0 puts queue mode into b=UQ,
// 1.1 and later have the Q parameter).
std::vector<std::string> registerQuery(const UpstreamParams& p);
// The query of an Update carrying what changed from `told` to `now` (lt, b/Q); empty when only
// the object links changed (they go in the payload) or nothing did.
std::vector<std::string> updateQuery(const UpstreamParams& told, const UpstreamParams& now);

enum class LinkState : std::uint8_t {
  kWaiting,        // for the hold-off or a Register slot (rate limit)
  kRegistering,    // Register sent
  kRegistered,     // the server knows the device; next Update scheduled
  kUpdating,       // Update sent
  kRetrying,       // after a failure, until the back-off ends
  kDeregistering,  // De-register sent
};
std::string_view linkStateName(LinkState s);  // "waiting", "registering", ...

// One message for the adapter to send to the server on the device's own upstream socket.
struct Outgoing {
  enum class Kind : std::uint8_t { kRegister, kUpdate, kDeregister };
  Kind kind = Kind::kRegister;
  std::string server;  // the [[upstream]] uri
  std::string device;  // the local endpoint
  std::uint64_t exchange = 0;
  std::vector<std::string> location;  // Update, De-register: the Location-Path the server gave
  std::vector<std::string> query;     // Uri-Query options
  std::string payload;                // Register, Update with changed links: link-format
};

// A persisted upstream registration.
struct StoredRegistration {
  std::string server;
  std::string device;
  std::vector<std::string> location;
  UpstreamParams told;
  core::WallTime updatedAt{};  // the last successful Register or Update
};

class UpstreamRegistrationStore {
 public:
  virtual ~UpstreamRegistrationStore() = default;
  virtual Result<void> saveRegistration(const StoredRegistration& r) = 0;
  virtual Result<void> removeRegistration(std::string_view server, std::string_view device) = 0;
  virtual Result<std::vector<StoredRegistration>> loadRegistrations() = 0;
};

class UpstreamListener {
 public:
  virtual ~UpstreamListener() = default;
  // Send now on the device's socket for this server (opening it if needed). An error (no
  // socket, name not resolvable) counts as a failed exchange.
  virtual Result<void> send(const Outgoing& message) = 0;
  // The server accepted a Register: a new registration there, so it forgot whatever it
  // observed on the previous one.
  virtual void registeredFresh(const std::string& server, const std::string& device) {
    (void)server;
    (void)device;
  }
  // Whether the device is reachable through this server now changed: up after a successful
  // Register/Update, down after a failure or when the registration is gone.
  virtual void linkChanged(const std::string& server, const std::string& device, bool up) {
    (void)server;
    (void)device;
    (void)up;
  }
  // The link is gone for good (De-registered, or the device left the bridge): its socket may
  // be closed.
  virtual void linkRemoved(const std::string& server, const std::string& device) {
    (void)server;
    (void)device;
  }
};

struct RegistrationTiming {
  // How long an exchange may take before it counts as failed (libcoap reports lost CON
  // messages itself; this also covers a server that acknowledged and never answered).
  core::Millis exchangeTimeout{200'000};
  // An Update goes out this long before the lifetime runs out, or at half the lifetime when
  // that is shorter: MAX_TRANSMIT_WAIT with the default CoAP parameters (RFC 7252 4.8.2), room
  // for the Update's own retransmissions.
  core::Millis updateMargin{93'000};
};

// Visible state of one link (D-Bus, lwgatectl).
struct LinkStatus {
  std::string server;
  std::string device;
  std::string upstreamEndpoint;
  LinkState state = LinkState::kWaiting;
  bool registered = false;  // the server has a registration (a location)
  std::vector<std::string> location;
  std::string lastError;
  unsigned failures = 0;
  std::optional<core::WallTime> updatedAt;
};

class UpstreamRegistrations {
 public:
  // A number in [0, 1): the jitter of the back-off.
  using Random = std::function<double()>;

  UpstreamRegistrations(const core::Clock& clock, UpstreamRegistrationStore& store,
                        RegistrationTiming timing, Random random);
  void setListener(UpstreamListener* listener) { listener_ = listener; }

  // Start-up, once: the configured servers (each in its hold-off from now) and what the store
  // remembers. A remembered registration whose device registers (deviceRegistered before
  // start()) gets an Update from its new socket; the others are De-registered.
  Result<void> restore(std::vector<UpstreamConfig> servers);
  // Ends the start-up: devices announced so far are all there is.
  void start();
  // A changed configuration: servers whose uri, prefix, lifetime or queue mode changed are
  // De-registered and start again after their hold-off, as do new ones; devices that leave a
  // server's patterns are De-registered; a server's timing changes apply at once.
  void setServers(std::vector<UpstreamConfig> servers);

  // The device registered or updated locally (or was restored at start-up).
  void deviceRegistered(const DeviceInfo& device);
  // De-registered, expired or removed.
  void deviceGone(std::string_view endpoint);
  // The device sent something after being asleep: mirror-mode servers get an Update.
  void deviceWoke(std::string_view endpoint);

  // The server's answer to an exchange: the CoAP code and, for a Register, the Location-Path.
  void answered(std::uint64_t exchange, std::uint8_t code, std::vector<std::string> location);
  // No answer (retransmissions exhausted), RST, or the socket failed.
  void failed(std::uint64_t exchange, std::string_view why);
  // Something else sent to this server for the device got no answer (a notification, a
  // response): the link counts as down and is probed with an Update after the back-off.
  void transportFailed(std::string_view server, std::string_view device, std::string_view why);

  // What the links of `server` (only `device`'s when not empty) depend on changed, e.g. their
  // DTLS pre-shared key was added or replaced: links backing off after a failure try again now
  // (a Register through the rate limit, or an Update) instead of at the end of their back-off.
  // With `registeredToo`, registered links send an Update now as well (their session was
  // replaced). Links with an exchange in flight wait for its outcome.
  void retryNow(std::string_view server, std::string_view device, bool registeredToo);

  // Sends what is due (hold-offs that ended, Register slots, Updates, retries, exchanges that
  // timed out). Call when nextTimer() is due.
  void tick();
  std::optional<core::SteadyTime> nextTimer() const;

  // Introspection.
  std::optional<LinkStatus> status(std::string_view server, std::string_view device) const;
  std::vector<LinkStatus> list(std::string_view device = {}) const;
  bool up(std::string_view server, std::string_view device) const;
  const std::vector<UpstreamConfig>& servers() const { return servers_; }
  const UpstreamConfig* server(std::string_view uri) const;
  // Also a server being removed (its links still De-register).
  const UpstreamConfig* serverConfig(std::string_view uri) const;
  // Registers waiting for the hold-off or a slot, per server.
  std::size_t waiting(std::string_view server) const;
  std::optional<core::SteadyTime> holdOffUntil(std::string_view server) const;

 private:
  using Key = std::pair<std::string, std::string>;  // server uri, device endpoint
  struct Link {
    LinkState state = LinkState::kWaiting;
    std::optional<UpstreamParams> wanted;  // nullopt: the device is gone, De-register
    std::optional<UpstreamParams> told;    // what the server has, with location
    std::vector<std::string> location;
    core::WallTime updatedAt{};
    core::SteadyTime updatedSteady{};
    bool needsSlot = false;      // waits in its server's queue for a Register slot
    bool inQueue = false;        // is in that queue now
    bool restartUpdate = false;  // restored: the next Update (from a new socket) takes a slot
    bool holdsSlot = false;      // its exchange in flight counts against registrationsInFlight
    bool updateNow = false;      // the device woke (mirror mode), or a probe after a failure
    bool up = false;             // what the listener was last told
    unsigned failures = 0;
    std::string lastError;
    std::optional<core::SteadyTime> retryAt;
    std::optional<std::uint64_t> exchange;
    Outgoing::Kind sentKind = Outgoing::Kind::kRegister;
    std::optional<UpstreamParams> sent;     // the parameters the exchange in flight carries
    std::optional<core::SteadyTime> timer;  // its entry in timers_
  };
  struct Server {
    UpstreamConfig config;
    core::SteadyTime holdOffUntil{};
    core::SteadyTime nextSlot{};
    std::deque<std::string> queue;  // devices waiting for a slot, in order
    std::uint32_t inFlight = 0;     // links holding a slot (Link::holdsSlot)
    bool removed = false;           // no longer configured: its links De-register, then it goes
    std::optional<core::SteadyTime> timer;  // its entry in timers_ (device "")
  };

  std::optional<UpstreamParams> paramsFor(const UpstreamConfig& c, const DeviceInfo& d) const;
  void announce(const Key& key, const DeviceInfo* device);
  // Decides and does the next step of a link; may erase it.
  void advance(const Key& key);
  void sendRegister(const Key& key, Link& link);
  void sendUpdate(const Key& key, Link& link);
  void sendDeregister(const Key& key, Link& link);
  bool transmit(const Key& key, Link& link, Outgoing message);
  void fail(const Key& key, Link& link, std::string why, bool permanent);
  void forget(const Key& key, Link& link);  // drops the location (store and memory)
  void erase(const Key& key);
  void schedule(const Key& key, Link& link, std::optional<core::SteadyTime> at);
  void setUp(const Key& key, Link& link, bool up);
  core::SteadyTime updateDue(const Link& link, const UpstreamConfig& c) const;
  core::Millis backoff(const UpstreamConfig& c, unsigned failures) const;
  void grantSlots(Server& s);
  // The link's exchange ended (or the link goes): its slot is free for the next in the queue,
  // which the server's timer, armed now, grants.
  void releaseSlot(const Key& key, Link& link);
  Server* findServer(std::string_view uri);
  const Server* findServer(std::string_view uri) const;
  void removeServer(const std::string& uri);
  void addServer(UpstreamConfig config);

  const core::Clock& clock_;
  UpstreamRegistrationStore& store_;
  RegistrationTiming timing_;
  Random random_;
  UpstreamListener* listener_ = nullptr;
  std::vector<UpstreamConfig> servers_;  // as configured (introspection)
  std::map<std::string, Server, std::less<>> byUri_;
  std::map<std::string, DeviceInfo, std::less<>> devices_;  // registered locally
  std::map<Key, Link> links_;
  std::map<std::uint64_t, Key> exchanges_;
  std::set<std::pair<core::SteadyTime, Key>> timers_;
  std::uint64_t nextExchange_ = 0;
  bool started_ = false;
};

}  // namespace lwgate::bridge
