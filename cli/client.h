#pragma once
// lwgatectl's side of org.lwgate.Gateway1: one bus connection, the generated proxy for method
// calls, signal subscriptions on demand, and a poll(2) loop of its own so waiting has a
// deadline and SIGINT is handled. The one place where sdbus types become the CLI's (Dict,
// Field, Event); sdbus::Error escapes to the caller, which maps it to an exit code.
#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/format.h"
#include "cli/values.h"
#include "lwgate/dbus/gateway1_proxy.h"

namespace lwgate::cli {

inline constexpr const char* kBusName = "org.lwgate.Gateway1";
inline constexpr const char* kRootPath = "/org/lwgate/Gateway1";
inline constexpr const char* kDeviceInterface = "org.lwgate.Gateway1.Device";

using VariantMap = std::map<std::string, sdbus::Variant>;

sdbus::Variant toVariant(const Value& value);
Field toField(const sdbus::Variant& variant);
Dict toDict(const VariantMap& map);

// The generated proxy's methods, without its signals: the handlers it installs are never
// matched on the bus because this proxy's registration is never finished (signals come through
// Client::subscribe, which asks the bus only for the signals it needs).
class GatewayCalls final : public org::lwgate::Gateway1_proxy {
 public:
  explicit GatewayCalls(sdbus::IProxy& proxy) : Gateway1_proxy(proxy) {}

 private:
  void onRequestCompleted(const uint64_t&, const std::string&, const std::string&,
                          const std::string&, const std::string&, const std::string&,
                          const std::vector<uint8_t>&, const uint16_t&) override {}
  void onNotification(const uint64_t&, const std::string&, const std::string&, const uint64_t&,
                      const std::string&, const std::string&, const std::vector<uint8_t>&,
                      const uint16_t&) override {}
  void onSend(const uint64_t&, const std::string&, const std::string&, const std::vector<uint8_t>&,
              const uint16_t&) override {}
  void onRequestProgress(const uint64_t&, const std::string&, const std::string&) override {}
  void onWakeDecision(const std::string&, const bool&, const std::string&, const std::string&,
                      const uint64_t&) override {}
  void onDeviceRegistered(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceUpdated(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceDeregistered(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceExpired(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceAwake(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceAsleep(const std::string&, const sdbus::ObjectPath&) override {}
};

class Client {
 public:
  // bus: "system", "session", or a D-Bus address ("unix:path=/run/dbus/system_bus_socket").
  // Throws sdbus::Error when the bus cannot be reached.
  explicit Client(const std::string& bus);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  GatewayCalls& gateway() { return *calls_; }

  // Properties of the root object (interface org.lwgate.Gateway1).
  Dict status();
  // Every device object: (object path, properties), sorted by endpoint.
  std::vector<std::pair<std::string, Dict>> devices();
  // One device's properties; throws org.lwgate.Gateway1.Error.NotFound when it has no object.
  Dict device(const std::string& endpoint);
  Dict request(std::uint64_t id);
  // Backup(s): lwgated writes a consistent copy of its database to path (absolute, new); the
  // reply comes when the copy is complete, so the call may take a while.
  void backup(const std::string& path, std::chrono::seconds timeout);
  std::vector<Dict> requests(const VariantMap& filter);
  // Active observations ("" for every device's) and a device's stored notifications.
  std::vector<Dict> observations(const std::string& endpoint);
  std::vector<Dict> notifications(const std::string& endpoint, const VariantMap& filter);
  // The SMS log (ListSms).
  std::vector<Dict> sms(const VariantMap& options);

  enum class Signals { kRequests, kAll };
  // Subscribes to RequestCompleted and RequestProgress (kRequests), or to every signal of the
  // root object (Notification, Send, WakeDecision and the Device* ones too) plus ObjectManager's
  // InterfacesAdded/Removed (kAll). Returns when the bus has
  // the match rules, so a request submitted afterwards cannot finish unseen.
  void subscribe(Signals which, std::function<void(const Event&)> handler);

  // Calls gone() when org.lwgate.Gateway1 loses its owner (lwgated stopped or crashed), so a
  // wait does not outlive the daemon. Returns when the bus has the match rule.
  void watchDaemon(std::function<void()> gone);

  enum class Stop { kDone, kTimeout, kSignal };
  // Dispatches bus messages until done() holds, the deadline passes, or SIGINT/SIGTERM arrive
  // (they are blocked while this runs and taken from a signalfd). Throws sdbus::Error when the
  // connection breaks.
  Stop runUntil(const std::function<bool()>& done,
                std::optional<std::chrono::steady_clock::time_point> deadline);

 private:
  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<sdbus::IProxy> callProxy_;
  std::unique_ptr<GatewayCalls> calls_;
  std::unique_ptr<sdbus::IProxy> signalProxy_;
  sdbus::Slot ownerWatch_;
};

}  // namespace lwgate::cli
