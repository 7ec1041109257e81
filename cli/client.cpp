#include "cli/client.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "gateway/dbus/connect.h"

namespace lwgate::cli {
namespace {

constexpr const char* kGatewayInterface = "org.lwgate.Gateway1";
constexpr const char* kPropertiesInterface = "org.freedesktop.DBus.Properties";
constexpr const char* kObjectManagerInterface = "org.freedesktop.DBus.ObjectManager";

std::unique_ptr<sdbus::IConnection> connectTo(const std::string& bus) {
  if (bus == "system") return sdbus::createSystemBusConnection();
  if (bus == "session") return sdbus::createSessionBusConnection();
  return dbus::connectToAddress(bus);
}

VariantMap getAll(sdbus::IProxy& proxy, const std::string& interface) {
  VariantMap properties;
  proxy.callMethod("GetAll")
      .onInterface(kPropertiesInterface)
      .withArguments(interface)
      .storeResultsTo(properties);
  return properties;
}

std::uint64_t monotonicMicroseconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

// SIGINT and SIGTERM blocked and readable from a signalfd for as long as this lives.
class SignalFd {
 public:
  SignalFd() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old_);
    fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  ~SignalFd() {
    if (fd_ >= 0) close(fd_);
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;
  int fd() const { return fd_; }

 private:
  sigset_t old_{};
  int fd_ = -1;
};

}  // namespace

sdbus::Variant toVariant(const Value& value) {
  return std::visit([](const auto& v) { return sdbus::Variant(v); }, value);
}

Field toField(const sdbus::Variant& variant) {
  const std::string type = variant.peekValueType();
  if (type == "s") return variant.get<std::string>();
  if (type == "o") return std::string(variant.get<sdbus::ObjectPath>());
  if (type == "b") return variant.get<bool>();
  if (type == "y") return std::uint64_t{variant.get<std::uint8_t>()};
  if (type == "q") return std::uint64_t{variant.get<std::uint16_t>()};
  if (type == "u") return std::uint64_t{variant.get<std::uint32_t>()};
  if (type == "t") return variant.get<std::uint64_t>();
  if (type == "n") return std::int64_t{variant.get<std::int16_t>()};
  if (type == "i") return std::int64_t{variant.get<std::int32_t>()};
  if (type == "x") return variant.get<std::int64_t>();
  if (type == "d") return variant.get<double>();
  if (type == "ay") return variant.get<std::vector<std::uint8_t>>();
  if (type == "as") return variant.get<std::vector<std::string>>();
  return std::monostate{};
}

Dict toDict(const VariantMap& map) {
  Dict out;
  for (const auto& [key, value] : map) out.emplace(key, toField(value));
  return out;
}

Client::Client(const std::string& bus) {
  try {
    connection_ = connectTo(bus);
  } catch (const sdbus::Error& e) {
    // "Failed to open bus (No such file or directory)" alone does not say which bus.
    std::string which = bus == "system" || bus == "session" ? "the " + bus + " bus" : bus;
    throw sdbus::Error(e.getName(), "cannot connect to " + which + ": " + e.getMessage());
  }
  callProxy_ = sdbus::createProxy(*connection_, kBusName, kRootPath);
  calls_ = std::make_unique<GatewayCalls>(*callProxy_);
}

Client::~Client() = default;

Dict Client::status() {
  return toDict(getAll(*callProxy_, kGatewayInterface));
}

std::vector<std::pair<std::string, Dict>> Client::devices() {
  std::map<sdbus::ObjectPath, std::map<std::string, VariantMap>> objects;
  callProxy_->callMethod("GetManagedObjects")
      .onInterface(kObjectManagerInterface)
      .storeResultsTo(objects);
  std::vector<std::pair<std::string, Dict>> out;
  for (const auto& [path, interfaces] : objects) {
    auto it = interfaces.find(kDeviceInterface);
    if (it != interfaces.end()) out.emplace_back(path, toDict(it->second));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return stringField(a.second, "Endpoint").value_or("") <
           stringField(b.second, "Endpoint").value_or("");
  });
  return out;
}

Dict Client::device(const std::string& endpoint) {
  auto proxy = sdbus::createProxy(*connection_, kBusName, devicePath(endpoint));
  try {
    return toDict(getAll(*proxy, kDeviceInterface));
  } catch (const sdbus::Error& e) {
    const std::string& name = e.getName();
    if (name == "org.freedesktop.DBus.Error.UnknownObject" ||
        name == "org.freedesktop.DBus.Error.UnknownInterface" ||
        name == "org.freedesktop.DBus.Error.UnknownMethod") {
      throw sdbus::Error("org.lwgate.Gateway1.Error.NotFound",
                         "no device '" + sanitize(endpoint) +
                             "' is registered (lwgatectl list shows the registered ones)");
    }
    throw;
  }
}

void Client::backup(const std::string& path, std::chrono::seconds timeout) {
  callProxy_->callMethod("Backup")
      .onInterface("org.lwgate.Gateway1")
      .withTimeout(timeout)
      .withArguments(path);
}

Dict Client::request(std::uint64_t id) {
  return toDict(calls_->GetRequest(id));
}

std::vector<Dict> Client::requests(const VariantMap& filter) {
  std::vector<Dict> out;
  for (const auto& r : calls_->ListRequests(filter)) out.push_back(toDict(r));
  return out;
}

std::vector<Dict> Client::observations(const std::string& endpoint) {
  std::vector<Dict> out;
  for (const auto& o : calls_->ListObservations(endpoint)) out.push_back(toDict(o));
  return out;
}

std::vector<Dict> Client::notifications(const std::string& endpoint, const VariantMap& filter) {
  std::vector<Dict> out;
  for (const auto& n : calls_->ListNotifications(endpoint, filter)) out.push_back(toDict(n));
  return out;
}

std::vector<Dict> Client::sms(const VariantMap& options) {
  std::vector<Dict> out;
  for (const auto& s : calls_->ListSms(options)) out.push_back(toDict(s));
  return out;
}

void Client::subscribe(Signals which, std::function<void(const Event&)> handler) {
  signalProxy_ = sdbus::createProxy(*connection_, kBusName, kRootPath);
  auto& p = *signalProxy_;
  auto h = std::make_shared<std::function<void(const Event&)>>(std::move(handler));
  p.uponSignal("RequestCompleted")
      .onInterface(kGatewayInterface)
      .call([h](const std::uint64_t& id, const std::string& endpoint, const std::string& state,
                const std::string& code, const std::string& reason, const std::string& json,
                const std::vector<std::uint8_t>& payload, const std::uint16_t& format) {
        (*h)(Event{"RequestCompleted",
                   {{"id", id},
                    {"endpoint", endpoint},
                    {"state", state},
                    {"code", code},
                    {"reason", reason},
                    {"json", json},
                    {"payload", payload},
                    {"format", std::uint64_t{format}}}});
      });
  p.uponSignal("RequestProgress")
      .onInterface(kGatewayInterface)
      .call([h](const std::uint64_t& id, const std::string& endpoint, const std::string& stage) {
        (*h)(Event{"RequestProgress", {{"id", id}, {"endpoint", endpoint}, {"stage", stage}}});
      });
  if (which == Signals::kAll) {
    p.uponSignal("Notification")
        .onInterface(kGatewayInterface)
        .call([h](const std::uint64_t& id, const std::string& endpoint, const std::string& path,
                  const std::uint64_t& observation, const std::string& json,
                  const std::string& decodeError, const std::vector<std::uint8_t>& payload,
                  const std::uint16_t& format) {
          (*h)(Event{"Notification",
                     {{"id", id},
                      {"endpoint", endpoint},
                      {"path", path},
                      {"observation", observation},
                      {"json", json},
                      {"decode_error", decodeError},
                      {"payload", payload},
                      {"format", std::uint64_t{format}}}});
        });
    p.uponSignal("Send")
        .onInterface(kGatewayInterface)
        .call([h](const std::uint64_t& id, const std::string& endpoint, const std::string& json,
                  const std::vector<std::uint8_t>& payload, const std::uint16_t& format) {
          (*h)(Event{"Send",
                     {{"id", id},
                      {"endpoint", endpoint},
                      {"json", json},
                      {"payload", payload},
                      {"format", std::uint64_t{format}}}});
        });
    p.uponSignal("WakeDecision")
        .onInterface(kGatewayInterface)
        .call([h](const std::string& endpoint, const bool& sent, const std::string& kind,
                  const std::string& reason, const std::uint64_t& sms) {
          (*h)(Event{"WakeDecision",
                     {{"endpoint", endpoint},
                      {"sent", sent},
                      {"kind", kind},
                      {"reason", reason},
                      {"sms", sms}}});
        });
    for (const char* name : {"DeviceRegistered", "DeviceUpdated", "DeviceDeregistered",
                             "DeviceExpired", "DeviceAwake", "DeviceAsleep"}) {
      std::string signal = name;
      p.uponSignal(signal)
          .onInterface(kGatewayInterface)
          .call([h, signal](const std::string& endpoint, const sdbus::ObjectPath& device) {
            (*h)(Event{signal, {{"endpoint", endpoint}, {"object_path", std::string(device)}}});
          });
    }
    p.uponSignal("InterfacesAdded")
        .onInterface(kObjectManagerInterface)
        .call([h](const sdbus::ObjectPath& path,
                  const std::map<std::string, VariantMap>& interfaces) {
          std::vector<std::string> names;
          for (const auto& [name, properties] : interfaces) names.push_back(name);
          (*h)(Event{"InterfacesAdded",
                     {{"object_path", std::string(path)},
                      {"endpoint", endpointFromDevicePath(path)},
                      {"interfaces", names}}});
        });
    p.uponSignal("InterfacesRemoved")
        .onInterface(kObjectManagerInterface)
        .call([h](const sdbus::ObjectPath& path, const std::vector<std::string>& interfaces) {
          (*h)(Event{"InterfacesRemoved",
                     {{"object_path", std::string(path)},
                      {"endpoint", endpointFromDevicePath(path)},
                      {"interfaces", interfaces}}});
        });
  }
  // sd_bus_match_signal: synchronous AddMatch, so the rules are on the bus when this returns.
  p.finishRegistration();
}

void Client::watchDaemon(std::function<void()> gone) {
  ownerWatch_ = connection_->addMatch(
      std::string("type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                  "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='") +
          kBusName + "'",
      [gone = std::move(gone)](sdbus::Message& message) {
        std::string name, oldOwner, newOwner;
        message >> name >> oldOwner >> newOwner;
        if (newOwner.empty()) gone();
      });
}

Client::Stop Client::runUntil(const std::function<bool()>& done,
                              std::optional<std::chrono::steady_clock::time_point> deadline) {
  SignalFd signals;
  for (;;) {
    while (!done() && connection_->processPendingRequest()) {
    }
    if (done()) return Stop::kDone;
    auto data = connection_->getEventLoopPollData();
    // sd-bus's own timeout (pending method calls) is absolute CLOCK_MONOTONIC in microseconds,
    // UINT64_MAX for none; poll wants relative milliseconds.
    std::int64_t timeoutMs = -1;
    if (data.timeout_usec != UINT64_MAX) {
      std::uint64_t now = monotonicMicroseconds();
      timeoutMs = data.timeout_usec <= now
                      ? 0
                      : static_cast<std::int64_t>((data.timeout_usec - now + 999) / 1000);
    }
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline -
                                                               std::chrono::steady_clock::now());
      if (left.count() <= 0) return Stop::kTimeout;
      timeoutMs = timeoutMs < 0 ? left.count() : std::min<std::int64_t>(timeoutMs, left.count());
    }
    pollfd fds[2] = {{data.fd, data.events, 0}, {signals.fd(), POLLIN, 0}};
    int n = poll(fds, 2, static_cast<int>(std::min<std::int64_t>(timeoutMs, INT_MAX)));
    if (n < 0 && errno != EINTR) {
      throw sdbus::Error("System.Error.EIO", "poll failed while waiting for the bus");
    }
    if (n > 0 && (fds[1].revents & POLLIN)) {
      // Taken, so it is not delivered (and fatal) when the old mask comes back.
      signalfd_siginfo info{};
      [[maybe_unused]] ssize_t taken = read(signals.fd(), &info, sizeof info);
      return Stop::kSignal;
    }
  }
}

}  // namespace lwgate::cli
