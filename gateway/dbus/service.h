#pragma once
// lwgated on D-Bus: the org.lwgate.Gateway1 service (org.lwgate.Gateway1.xml) - the root object
// with the operation methods and signals, one object per registered device under an
// ObjectManager. The only place where sdbus-c++ (and its exceptions) meet the gateway: D-Bus
// arguments become core::CallerRequest, gateway errors become named D-Bus errors.
//
// Runs on the main thread: the daemon's event loop watches fd()/events()/timeout() and calls
// process(). Nothing here blocks on a bus peer: replies and signals are queued in the
// connection and written when the socket takes them.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/credentials.h"
#include "gateway/core/device_settings.h"
#include "gateway/core/downlink.h"
#include "gateway/core/observation.h"
#include "gateway/core/registration.h"
#include "gateway/core/sms_log.h"
#include "gateway/core/submission.h"
#include "gateway/core/wake_policy.h"
#include "gateway/util/result.h"

namespace lwgate::dbus {

inline constexpr const char* kBusName = "org.lwgate.Gateway1";
inline constexpr const char* kRootPath = "/org/lwgate/Gateway1";

// What the service needs from the rest of the daemon.
class Backend {
 public:
  virtual ~Backend() = default;
  // Queues the requests, all or none (one transaction). Errors: kNotFound (unknown device),
  // kBadRequest, kTooLarge, kLimitReached (queue full), kStorage.
  virtual Result<std::vector<std::int64_t>> submit(
      const std::vector<core::CallerRequest>& batch) = 0;
  virtual Result<core::DownlinkRequest> request(std::int64_t id) = 0;
  virtual Result<std::vector<core::DownlinkRequest>> listRequests(
      const core::RequestFilter& filter) = 0;
  virtual Result<void> cancel(std::int64_t id) = 0;
  virtual std::vector<core::Observation> listObservations(std::string_view endpoint) = 0;
  virtual Result<void> forgetObservation(std::int64_t id) = 0;
  virtual Result<std::vector<core::Notification>> listNotifications(std::string_view endpoint,
                                                                    std::size_t limit,
                                                                    std::int64_t afterId) = 0;
  virtual Result<core::DeviceSettings> deviceSettings(std::string_view endpoint) = 0;
  virtual Result<void> setDeviceSettings(std::string_view endpoint,
                                         const core::DeviceSettings& settings) = 0;
  // Writes a consistent copy of the live database to path (Backup). `done` is called exactly
  // once, from the main loop: when the file is complete, or at once when the path is refused.
  // Errors: kBadRequest (relative path, existing file), kStorage (I/O, SQLite).
  virtual void backup(const std::string& path, std::function<void(Result<void>)> done) = 0;
  // DTLS pre-shared keys (AddPsk, RemovePsk, ListPsks): keys go in, never out. Errors:
  // kBadRequest, kLimitReached (store full), kNotFound (remove), kStorage.
  virtual Result<void> addPsk(std::string_view identity, std::span<const std::uint8_t> key,
                              std::string_view endpoint) = 0;
  virtual Result<void> removePsk(std::string_view identity) = 0;
  virtual Result<std::vector<core::PskInfo>> listPsks(std::string_view endpoint,
                                                      std::size_t limit) = 0;
  // The bridge's PSKs towards coaps:// upstream servers (AddUpstreamPsk, RemoveUpstreamPsk,
  // ListUpstreamPsks): the same errors; kBadRequest for a server that is not a configured
  // coaps:// one. Backends without a bridge need nothing.
  virtual Result<void> addUpstreamPsk(std::string_view /*server*/, std::string_view /*endpoint*/,
                                      const std::optional<std::string>& /*identity*/,
                                      std::span<const std::uint8_t> /*key*/) {
    return makeError(ErrorCode::kBadRequest, "this gateway has no bridge");
  }
  virtual Result<void> removeUpstreamPsk(std::string_view /*server*/,
                                         std::string_view /*endpoint*/) {
    return makeError(ErrorCode::kNotFound, "this gateway has no bridge");
  }
  virtual Result<std::vector<core::UpstreamPskInfo>> listUpstreamPsks(std::string_view /*server*/,
                                                                      std::size_t /*limit*/) {
    return std::vector<core::UpstreamPskInfo>{};
  }

  // Wake: a Registration Update Trigger SMS now. A refusal is not an error: smsId is 0 and
  // refusal/budget/message say why (each refusal is a named D-Bus error). Errors: kNotFound
  // (unknown device), kStorage (the SMS log cannot be written).
  struct Wake {
    std::int64_t smsId = 0;
    core::WakeVerdict refusal = core::WakeVerdict::kSend;
    std::string budget;  // refusal kBudget: its [sms] key
    std::string message;
  };
  virtual Result<Wake> wake(std::string_view endpoint, bool force) = 0;
  // ListSms. kNotFound for a filter endpoint that never registered here.
  virtual Result<std::vector<core::SmsLogEntry>> listSms(const core::SmsLogFilter& filter) = 0;

  // The bridge (ListUpstreamServers, ListUpstreamLinks); empty without [[upstream]].
  struct UpstreamServer {
    std::string uri;
    std::vector<std::string> devices;
    std::string queueMode;
    std::string psk;  // "" (coap://), "device", "gateway"
    std::uint32_t lifetime = 0;
    double holdOff = 0;
    std::uint32_t links = 0;
    std::uint32_t registered = 0;
    std::uint32_t failing = 0;
    std::string lastError;
  };
  struct UpstreamLink {
    std::string server;
    std::string endpoint;
    std::string upstreamEndpoint;
    std::string state;
    bool registered = false;
    std::string location;
    std::uint32_t failures = 0;
    std::string lastError;
    std::uint64_t updatedMs = 0;
  };
  virtual std::vector<UpstreamServer> upstreamServers() { return {}; }
  virtual std::vector<UpstreamLink> upstreamLinks(std::string_view /*endpoint*/) { return {}; }

  struct Totals {
    std::uint32_t devices = 0;
    std::uint32_t queued = 0;  // unfinished
    std::uint32_t inFlight = 0;
  };
  virtual Totals totals() = 0;
  virtual std::vector<std::string> listenUrls() = 0;
  struct Modem {
    std::string state = "none";  // "none", "disconnected", "connected"
    std::string sim = "unknown";
    std::string network = "unknown";
    int signalPercent = -1;
    std::string model;
    std::string error;
  };
  virtual Modem modem() = 0;
  virtual std::uint64_t uptimeSeconds() = 0;
  // nullptr when the endpoint is not registered now.
  virtual const core::Registration* registration(std::string_view endpoint) = 0;
  virtual bool awake(std::string_view endpoint) = 0;
  virtual std::uint32_t unfinished(std::string_view endpoint) = 0;
};

// "system", "session" or a D-Bus address ("unix:path=/run/x"); "none" turns D-Bus off.
struct BusChoice {
  enum class Kind { kNone, kSystem, kSession, kAddress } kind = Kind::kSystem;
  std::string address;
};
Result<BusChoice> parseBusChoice(std::string_view text);
std::string describe(const BusChoice& bus);

// /org/lwgate/Gateway1/device/<endpoint escaped as sd_bus_path_encode does>.
std::string devicePath(std::string_view endpoint);

class Service {
 public:
  // Connects, exports the objects and takes the well-known name (kLimitReached when another
  // process owns it). The backend must outlive the service.
  static Result<std::unique_ptr<Service>> connect(const BusChoice& bus, Backend& backend);
  ~Service();

  int fd() const;
  std::uint32_t events() const;   // EPOLLIN | EPOLLOUT as the connection needs
  std::uint64_t timeout() const;  // absolute CLOCK_MONOTONIC µs; UINT64_MAX for none
  // Handles everything pending. An error means the connection is gone: drop the service.
  Result<void> process();

  // The daemon's events. Device objects exist while the device is registered.
  void deviceRegistered(const core::Registration& reg, bool replaced);
  // A registration restored at start-up (or found when the bus came back): its object appears
  // (InterfacesAdded), without a DeviceRegistered signal.
  void deviceRestored(const core::Registration& reg);
  void deviceUpdated(const core::Registration& reg);
  void deviceRemoved(const core::Registration& reg, bool expired);
  void requestFinished(const core::DownlinkRequest& request, const core::RenderedResult& result);
  void requestProgress(std::int64_t id, std::string_view endpoint, std::string_view stage);
  // Notification, or Send for a value the device reported with POST /dp.
  void notification(const core::Notification& n);
  // The device's queue or reachability changed: its QueuedRequests/Awake and the totals are
  // announced (by flushChanges()).
  void queueChanged(std::string_view endpoint);
  // DeviceAwake / DeviceAsleep (for registered devices) and the Awake property.
  void deviceAwake(std::string_view endpoint, bool awake);
  // The modem's health changed: the Modem* properties are announced.
  void modemChanged();
  // WakeDecision: a trigger sent (smsId its sms_log row), a send the modem failed, a refusal.
  void wakeDecision(std::string_view endpoint, bool sent, std::string_view kind,
                    std::string_view reason, std::int64_t smsId);
  // Emits the PropertiesChanged signals collected since the last emission, at most once per
  // kPropertiesInterval: a queue draining 1,000 requests in a second would otherwise announce
  // its length 2,000 times (two thirds of the gateway's D-Bus traffic, measured with
  // bench/run-drain-bench.sh). Changes held back are returned as the time to call again;
  // nullopt when nothing is held.
  static constexpr std::chrono::milliseconds kPropertiesInterval{100};
  std::optional<core::SteadyTime> flushChanges(core::SteadyTime now);

  class Root;
  class Device;

 private:
  Service() = default;
  void emitSafely(const char* what, const std::function<void()>& emit);

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lwgate::dbus
