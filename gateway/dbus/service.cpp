#include "gateway/dbus/service.h"

#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>
#include <sys/epoll.h>
#include <systemd/sd-bus.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

#include "gateway/core/message.h"
#include "gateway/dbus/connect.h"
#include "gateway/lwm2m/diagnostic.h"
#include "gateway/lwm2m/link_format.h"
#include "gateway/lwm2m/registration_params.h"
#include "gateway/util/log.h"
#include "lwgate/dbus/gateway1_adaptor.h"
#include "lwgate/version.h"

namespace lwgate::dbus {
namespace {

using Options = std::map<std::string, sdbus::Variant>;
constexpr const char* kDeviceInterface = "org.lwgate.Gateway1.Device";
constexpr std::size_t kMaxBatch = 10000;
constexpr std::size_t kMaxList = 10000;

// The named errors of the XML's header comment.
[[noreturn]] void fail(const char* name, const std::string& message) {
  throw sdbus::Error(std::string("org.lwgate.Gateway1.Error.") + name, message);
}
[[noreturn]] void invalid(const std::string& message) {
  fail("InvalidArgs", message);
}
const char* errorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kLimitReached:
      return "QueueFull";
    case ErrorCode::kTooLarge:
      return "TooLarge";
    case ErrorCode::kPreconditionFailed:
      return "NotCancellable";
    case ErrorCode::kBadRequest:
    case ErrorCode::kUnsupportedFormat:
    case ErrorCode::kForbidden:
      return "InvalidArgs";
    case ErrorCode::kStorage:
    case ErrorCode::kInternal:
      break;
  }
  return "Failed";
}
sdbus::Error busError(const Error& e) {
  return sdbus::Error(std::string("org.lwgate.Gateway1.Error.") + errorName(e.code), e.message);
}
[[noreturn]] void fail(const Error& e) {
  throw busError(e);
}

template <class T>
T unwrap(Result<T> r) {
  if (!r) fail(r.error());
  return std::move(*r);
}

// A handler's own exceptions become sdbus::Error replies; anything else thrown inside a
// callback would otherwise unwind through sd-bus's C code.
template <class F>
auto guarded(const char* method, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const sdbus::Error&) {
    throw;
  } catch (const std::exception& e) {
    log::error("LWG4010 D-Bus {} failed: {}", method, e.what());
    throw sdbus::Error("org.lwgate.Gateway1.Error.Failed",
                       std::string("internal error: ") + e.what());
  }
}

std::optional<std::int64_t> integerOf(const sdbus::Variant& v) {
  const std::string t = v.peekValueType();
  if (t == "x") return v.get<std::int64_t>();
  if (t == "i") return v.get<std::int32_t>();
  if (t == "n") return v.get<std::int16_t>();
  if (t == "t") {
    auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (t == "u") return v.get<std::uint32_t>();
  if (t == "q") return v.get<std::uint16_t>();
  if (t == "y") return v.get<std::uint8_t>();
  return std::nullopt;
}

lwm2m::Value valueOf(const sdbus::Variant& v, const std::string& where) {
  const std::string t = v.peekValueType();
  if (t == "s") return lwm2m::Value::string(v.get<std::string>());
  if (t == "b") return lwm2m::Value::boolean(v.get<bool>());
  if (t == "d") return lwm2m::Value::floating(v.get<double>());
  if (t == "ay") return lwm2m::Value::opaque(v.get<std::vector<std::uint8_t>>());
  if (t == "t") return lwm2m::Value::unsignedInteger(v.get<std::uint64_t>());
  if (t == "x" || t == "i" || t == "n" || t == "u" || t == "q" || t == "y") {
    return lwm2m::Value::integer(*integerOf(v));
  }
  invalid(where + ": a value of D-Bus type \"" + t +
          "\" cannot be an LwM2M value (use s, b, x, t, i, u, n, q, y, d or ay)");
}

// A request or observation id from a caller: our ids are positive int64, so anything above
// names nothing.
std::int64_t idArgument(std::uint64_t id, const char* what) {
  if (id > static_cast<std::uint64_t>(INT64_MAX)) {
    fail("NotFound", "no " + std::string(what) + " " + std::to_string(id));
  }
  return static_cast<std::int64_t>(id);
}

std::vector<core::CallerValue> valuesOf(const Options& values, const char* what) {
  std::vector<core::CallerValue> out;
  for (const auto& [path, v] : values)
    out.push_back({path, valueOf(v, std::string(what) + " " + path)});
  return out;
}

core::SubmitOptions optionsOf(const Options& options, core::Operation op) {
  core::SubmitOptions o;
  for (const auto& [key, v] : options) {
    const std::string t = v.peekValueType();
    if (key == "ttl") {
      double seconds = 0;
      if (t == "d") {
        seconds = v.get<double>();
      } else if (auto i = integerOf(v)) {
        seconds = static_cast<double>(*i);
      } else {
        invalid("option ttl: give seconds as d or u");
      }
      if (!(seconds >= 1 && seconds <= static_cast<double>(core::kMaxTtl.count()))) {
        invalid("option ttl: between 1 second and 10 years");
      }
      o.ttl = core::Seconds(static_cast<std::int64_t>(seconds));
    } else if (key == "idempotency_key" && t == "s") {
      o.idempotencyKey = v.get<std::string>();
    } else if (key == "urgent" && t == "b") {
      o.urgent = v.get<bool>();
    } else if (key == "format") {
      if (t == "s") {
        o.format = unwrap(core::parseFormat(v.get<std::string>()));
      } else if (auto n = integerOf(v); n && *n >= 0 && *n <= 65535) {
        o.format = unwrap(core::parseFormat(std::to_string(*n)));
      } else {
        invalid("option format: a name (\"tlv\") or a Content-Format number");
      }
    } else if (key == "attributes" && t == "a{sv}" && op == core::Operation::kObserve) {
      continue;  // taken by the caller (attributesOf)
    } else if (key == "partial" && t == "b" &&
               (op == core::Operation::kWrite || op == core::Operation::kWritePartial)) {
      o.partial = v.get<bool>();
    } else if (key == "instance" && op == core::Operation::kCreate) {
      auto n = integerOf(v);
      if (!n || *n < 0 || *n > 65534) invalid("option instance: an instance id 0..65534");
      o.instance = static_cast<std::uint16_t>(*n);
    } else {
      invalid("unknown option \"" + key + "\" (of type " + t + ") for " +
              std::string(core::operationName(op)));
    }
  }
  return o;
}

// Write-Attributes' a{sv} as the query string the CoAP mapping checks.
std::string attributesOf(const Options& attributes) {
  std::string out;
  for (const auto& [name, v] : attributes) {
    std::string value;
    const std::string t = v.peekValueType();
    if (t == "d") {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
      value = buf;
    } else if (auto i = integerOf(v)) {
      value = std::to_string(*i);
    } else if (t == "s") {
      value = v.get<std::string>();  // "" removes the attribute; the mapping checks numbers
    } else {
      invalid("attribute " + name + ": a number (u, d) or \"\" to remove it");
    }
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

core::CallerRequest makeRequest(core::Operation op, const std::string& endpoint,
                                const std::string& path, const Options& options) {
  core::CallerRequest c;
  c.operation = op;
  c.endpoint = endpoint;
  c.path = path;
  c.options = optionsOf(options, op);
  return c;
}

// SubmitBatch's element: the value as the single method takes it.
core::CallerRequest batchElement(const std::string& endpoint, const std::string& operation,
                                 const std::string& path, const sdbus::Variant& value,
                                 const Options& options) {
  auto op = core::parseOperation(operation);
  if (!op) invalid("unknown operation \"" + lwm2m::escapeForMessage(operation) + "\"");
  auto c = makeRequest(*op, endpoint, path, options);
  const std::string t = value.peekValueType();
  switch (*op) {
    case core::Operation::kWrite:
    case core::Operation::kWritePartial:
      if (t == "a{sv}") {
        c.values = valuesOf(value.get<Options>(), "value");
      } else {
        c.values = {{"", valueOf(value, "value")}};
      }
      break;
    case core::Operation::kCreate:
    case core::Operation::kWriteComposite:
      if (t != "a{sv}") invalid(operation + " takes its values as a{sv}");
      c.values = valuesOf(value.get<Options>(), "value");
      break;
    case core::Operation::kWriteAttributes:
      if (t != "a{sv}") invalid("write-attributes takes its attributes as a{sv}");
      c.text = attributesOf(value.get<Options>());
      break;
    case core::Operation::kExecute:
      if (t != "s") invalid("execute takes its arguments as s");
      c.text = value.get<std::string>();
      break;
    case core::Operation::kReadComposite:
    case core::Operation::kObserveComposite:
      if (t != "as") invalid(operation + " takes its paths as as");
      c.paths = value.get<std::vector<std::string>>();
      break;
    default:
      break;
  }
  return c;
}

std::uint64_t unixMillis(core::WallTime t) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(core::toUnixMillis(t), 0));
}

Options requestDictionary(const core::DownlinkRequest& r) {
  Options d;
  d["id"] = sdbus::Variant(static_cast<std::uint64_t>(r.id));
  d["endpoint"] = sdbus::Variant(r.endpoint);
  d["operation"] = sdbus::Variant(std::string(core::operationName(r.operation)));
  d["path"] = sdbus::Variant(r.path);
  d["state"] = sdbus::Variant(std::string(core::stateName(r.state)));
  d["created"] = sdbus::Variant(unixMillis(r.createdAt));
  d["attempts"] = sdbus::Variant(static_cast<std::uint32_t>(r.attempts));
  d["urgent"] = sdbus::Variant(r.urgent);
  if (r.deadline) d["deadline"] = sdbus::Variant(unixMillis(*r.deadline));
  if (r.sentAt) d["sent"] = sdbus::Variant(unixMillis(*r.sentAt));
  if (r.finishedAt) d["finished"] = sdbus::Variant(unixMillis(*r.finishedAt));
  if (r.idempotencyKey) d["idempotency_key"] = sdbus::Variant(*r.idempotencyKey);
  if (!r.reason.empty()) d["reason"] = sdbus::Variant(r.reason);
  if (r.responseCode) {
    d["code"] = sdbus::Variant(core::codeText(static_cast<core::Code>(*r.responseCode)));
    d["payload"] = sdbus::Variant(r.responsePayload);
    if (r.responseFormat) d["format"] = sdbus::Variant(*r.responseFormat);
    auto rendered = core::renderResult(r, lwm2m::coreObjects());
    d["json"] = sdbus::Variant(rendered.json);
    if (!rendered.decodeError.empty()) d["decode_error"] = sdbus::Variant(rendered.decodeError);
  }
  return d;
}

std::string notificationJson(const core::Notification& n) {
  return n.decodeError ? std::string() : lwm2m::toJson(n.records);
}

Options notificationDictionary(const core::Notification& n) {
  Options d;
  d["id"] = sdbus::Variant(static_cast<std::uint64_t>(n.id));
  d["kind"] = sdbus::Variant(std::string(core::notificationKindName(n.kind)));
  d["endpoint"] = sdbus::Variant(n.endpoint);
  d["path"] = sdbus::Variant(n.path);
  if (n.observationId)
    d["observation"] = sdbus::Variant(static_cast<std::uint64_t>(*n.observationId));
  if (n.observeSeq) d["observe_seq"] = sdbus::Variant(*n.observeSeq);
  d["received"] = sdbus::Variant(unixMillis(n.receivedAt));
  if (n.contentFormat) d["format"] = sdbus::Variant(*n.contentFormat);
  d["payload"] = sdbus::Variant(n.payload);
  d["json"] = sdbus::Variant(notificationJson(n));
  if (n.decodeError) d["decode_error"] = sdbus::Variant(*n.decodeError);
  return d;
}

std::string peerUri(const core::Peer& p) {
  const bool v6 = p.address.find(':') != std::string::npos;
  return p.transport + "://" + (v6 ? "[" + p.address + "]" : p.address) + ":" +
         std::to_string(p.port);
}

}  // namespace

Result<BusChoice> parseBusChoice(std::string_view text) {
  BusChoice b;
  if (text == "system") {
    b.kind = BusChoice::Kind::kSystem;
  } else if (text == "session") {
    b.kind = BusChoice::Kind::kSession;
  } else if (text == "none") {
    b.kind = BusChoice::Kind::kNone;
  } else if (text.find(':') != std::string_view::npos && text.find('=') != std::string_view::npos) {
    b.kind = BusChoice::Kind::kAddress;
    b.address = std::string(text);
  } else {
    return makeError(ErrorCode::kBadRequest,
                     "bus " + lwm2m::quoteForMessage(text) +
                         ": use \"system\", \"session\", \"none\" or a D-Bus address such as "
                         "\"unix:path=/run/dbus/system_bus_socket\"");
  }
  return b;
}

std::string describe(const BusChoice& bus) {
  switch (bus.kind) {
    case BusChoice::Kind::kNone:
      return "no bus";
    case BusChoice::Kind::kSystem:
      return "the system bus";
    case BusChoice::Kind::kSession:
      return "the session bus";
    case BusChoice::Kind::kAddress:
      return "the bus at " + bus.address;
  }
  return "?";
}

std::string devicePath(std::string_view endpoint) {
  char* out = nullptr;
  const std::string ep(endpoint);
  if (sd_bus_path_encode("/org/lwgate/Gateway1/device", ep.c_str(), &out) < 0 || !out) {
    throw std::bad_alloc();
  }
  std::string path(out);
  std::free(out);
  return path;
}

// Replies of asynchronous methods (Backup) still to be sent. An sdbus::Result refers to its
// connection's internals, so the ones left must be destroyed before the connection: the Service
// owns this and drops it first; the backend's callbacks hold it weakly.
struct PendingReplies {
  std::map<std::uint64_t, sdbus::Result<>> replies;
  std::uint64_t next = 0;
};

class Service::Root final
    : public sdbus::AdaptorInterfaces<org::lwgate::Gateway1_adaptor, sdbus::ObjectManager_adaptor,
                                      sdbus::Properties_adaptor> {
 public:
  Root(sdbus::IConnection& connection, Backend& backend, std::shared_ptr<PendingReplies> pending)
      : AdaptorInterfaces(connection, kRootPath), backend_(backend), pending_(std::move(pending)) {
    registerAdaptor();
  }
  ~Root() { unregisterAdaptor(); }

 private:
  void Backup(sdbus::Result<>&& result, std::string path) override {
    const std::uint64_t key = pending_->next++;
    pending_->replies.emplace(key, std::move(result));
    std::weak_ptr<PendingReplies> weak = pending_;
    backend_.backup(path, [weak, key](Result<void> done) {
      auto pending = weak.lock();
      if (!pending) return;  // the bus went away meanwhile: nobody to answer
      auto node = pending->replies.extract(key);
      if (node.empty()) return;
      try {
        if (done) {
          node.mapped().returnResults();
        } else {
          node.mapped().returnError(busError(done.error()));
        }
      } catch (const sdbus::Error& e) {
        log::warning("LWG4011 cannot send the D-Bus reply to Backup: {}", e.getMessage());
      }
    });
  }

  std::uint64_t one(core::CallerRequest c) {
    return static_cast<std::uint64_t>(unwrap(backend_.submit({std::move(c)})).front());
  }

  uint64_t Read(const std::string& ep, const std::string& path, const Options& o) override {
    return guarded("Read", [&] { return one(makeRequest(core::Operation::kRead, ep, path, o)); });
  }
  uint64_t Discover(const std::string& ep, const std::string& path, const Options& o) override {
    return guarded("Discover",
                   [&] { return one(makeRequest(core::Operation::kDiscover, ep, path, o)); });
  }
  uint64_t Write(const std::string& ep, const std::string& path, const sdbus::Variant& value,
                 const Options& o) override {
    return guarded("Write", [&] { return one(batchElement(ep, "write", path, value, o)); });
  }
  uint64_t Execute(const std::string& ep, const std::string& path, const std::string& arguments,
                   const Options& o) override {
    return guarded("Execute", [&] {
      auto c = makeRequest(core::Operation::kExecute, ep, path, o);
      c.text = arguments;
      return one(std::move(c));
    });
  }
  uint64_t Create(const std::string& ep, const std::string& path, const Options& values,
                  const Options& o) override {
    return guarded("Create", [&] {
      auto c = makeRequest(core::Operation::kCreate, ep, path, o);
      c.values = valuesOf(values, "value");
      return one(std::move(c));
    });
  }
  uint64_t Delete(const std::string& ep, const std::string& path, const Options& o) override {
    return guarded("Delete",
                   [&] { return one(makeRequest(core::Operation::kDelete, ep, path, o)); });
  }
  uint64_t WriteAttributes(const std::string& ep, const std::string& path,
                           const Options& attributes, const Options& o) override {
    return guarded("WriteAttributes", [&] {
      auto c = makeRequest(core::Operation::kWriteAttributes, ep, path, o);
      c.text = attributesOf(attributes);
      return one(std::move(c));
    });
  }
  uint64_t Observe(const std::string& ep, const std::string& path, const Options& o) override {
    return guarded("Observe", [&] {
      auto c = makeRequest(core::Operation::kObserve, ep, path, o);
      if (auto it = o.find("attributes"); it != o.end()) {
        c.text = attributesOf(it->second.get<Options>());
      }
      return one(std::move(c));
    });
  }
  uint64_t CancelObserve(const std::string& ep, const std::string& path,
                         const Options& o) override {
    return guarded("CancelObserve",
                   [&] { return one(makeRequest(core::Operation::kCancelObserve, ep, path, o)); });
  }
  uint64_t ReadComposite(const std::string& ep, const std::vector<std::string>& paths,
                         const Options& o) override {
    return guarded("ReadComposite", [&] {
      auto c = makeRequest(core::Operation::kReadComposite, ep, "", o);
      c.paths = paths;
      return one(std::move(c));
    });
  }
  uint64_t WriteComposite(const std::string& ep, const Options& values, const Options& o) override {
    return guarded("WriteComposite", [&] {
      auto c = makeRequest(core::Operation::kWriteComposite, ep, "", o);
      c.values = valuesOf(values, "value");
      return one(std::move(c));
    });
  }
  uint64_t ObserveComposite(const std::string& ep, const std::vector<std::string>& paths,
                            const Options& o) override {
    return guarded("ObserveComposite", [&] {
      auto c = makeRequest(core::Operation::kObserveComposite, ep, "", o);
      c.paths = paths;
      return one(std::move(c));
    });
  }
  std::vector<uint64_t> SubmitBatch(
      const std::vector<sdbus::Struct<std::string, std::string, std::string, sdbus::Variant,
                                      Options>>& requests) override {
    return guarded("SubmitBatch", [&] {
      if (requests.size() > kMaxBatch) {
        fail("TooLarge", "a batch takes at most " + std::to_string(kMaxBatch) + " requests");
      }
      std::vector<core::CallerRequest> batch;
      batch.reserve(requests.size());
      for (std::size_t k = 0; k < requests.size(); ++k) {
        const auto& e = requests[k];
        try {
          batch.push_back(batchElement(std::get<0>(e), std::get<1>(e), std::get<2>(e),
                                       std::get<3>(e), std::get<4>(e)));
        } catch (const sdbus::Error& e) {
          throw sdbus::Error(e.getName(), "request " + std::to_string(k) + ": " + e.getMessage());
        }
      }
      auto ids = unwrap(backend_.submit(batch));
      return std::vector<uint64_t>(ids.begin(), ids.end());
    });
  }
  std::map<std::string, sdbus::Variant> GetRequest(const uint64_t& id) override {
    return guarded("GetRequest", [&] {
      return requestDictionary(unwrap(backend_.request(idArgument(id, "request"))));
    });
  }
  std::vector<Options> ListRequests(const Options& filter) override {
    return guarded("ListRequests", [&] {
      core::RequestFilter f;
      for (const auto& [key, v] : filter) {
        const std::string t = v.peekValueType();
        if (key == "endpoint" && t == "s") {
          f.endpoint = v.get<std::string>();
        } else if (key == "state" && t == "s") {
          const auto name = v.get<std::string>();
          if (name == "unfinished") {
            f.states = {core::RequestState::kQueued, core::RequestState::kInFlight};
          } else if (auto s = core::parseState(name)) {
            f.states = {*s};
          } else {
            invalid(
                "filter state: queued, in_flight, done, failed, expired, cancelled or "
                "unfinished");
          }
        } else if (key == "after" && integerOf(v)) {
          f.afterId = *integerOf(v);
        } else if (key == "limit" && integerOf(v)) {
          const auto n = *integerOf(v);
          if (n < 1 || n > static_cast<std::int64_t>(kMaxList)) {
            invalid("filter limit: 1 to " + std::to_string(kMaxList));
          }
          f.limit = static_cast<std::size_t>(n);
        } else {
          invalid("unknown filter \"" + key + "\" (endpoint s, state s, after t, limit u)");
        }
      }
      std::vector<Options> out;
      for (const auto& r : unwrap(backend_.listRequests(f))) out.push_back(requestDictionary(r));
      return out;
    });
  }
  void CancelRequest(const uint64_t& id) override {
    guarded("CancelRequest", [&] {
      if (auto done = backend_.cancel(idArgument(id, "request")); !done) fail(done.error());
    });
  }

  std::vector<Options> ListObservations(const std::string& ep) override {
    return guarded("ListObservations", [&] {
      std::vector<Options> out;
      for (const auto& o : backend_.listObservations(ep)) {
        Options d;
        d["id"] = sdbus::Variant(static_cast<std::uint64_t>(o.id));
        d["endpoint"] = sdbus::Variant(o.endpoint);
        d["path"] = sdbus::Variant(o.path);
        d["attributes"] = sdbus::Variant(o.attributes);
        if (o.acceptFormat) d["format"] = sdbus::Variant(*o.acceptFormat);
        if (o.requestId) d["request"] = sdbus::Variant(static_cast<std::uint64_t>(*o.requestId));
        d["created"] = sdbus::Variant(unixMillis(o.createdAt));
        if (o.lastObserveSeq) d["last_seq"] = sdbus::Variant(*o.lastObserveSeq);
        if (o.lastNotificationAt) {
          d["last_notification"] = sdbus::Variant(unixMillis(*o.lastNotificationAt));
        }
        out.push_back(std::move(d));
      }
      return out;
    });
  }
  void ForgetObservation(const uint64_t& id) override {
    guarded("ForgetObservation", [&] {
      if (auto done = backend_.forgetObservation(idArgument(id, "observation")); !done) {
        fail(done.error());
      }
    });
  }
  std::vector<Options> ListNotifications(const std::string& ep, const Options& filter) override {
    return guarded("ListNotifications", [&] {
      std::int64_t after = 0;
      std::size_t limit = 100;
      for (const auto& [key, v] : filter) {
        if (key == "after" && integerOf(v)) {
          after = *integerOf(v);
        } else if (key == "limit" && integerOf(v) && *integerOf(v) >= 1 &&
                   *integerOf(v) <= static_cast<std::int64_t>(kMaxList)) {
          limit = static_cast<std::size_t>(*integerOf(v));
        } else {
          invalid("filter " + key + ": after t, limit u (1 to " + std::to_string(kMaxList) + ")");
        }
      }
      std::vector<Options> out;
      for (const auto& n : unwrap(backend_.listNotifications(ep, limit, after))) {
        out.push_back(notificationDictionary(n));
      }
      return out;
    });
  }

  uint64_t Wake(const std::string& ep, const Options& options) override {
    return guarded("Wake", [&] {
      bool force = false;
      for (const auto& [key, v] : options) {
        if (key == "force" && v.peekValueType() == "b") {
          force = v.get<bool>();
        } else {
          invalid("unknown option \"" + key + "\" of type " + v.peekValueType() + " (force b)");
        }
      }
      auto w = unwrap(backend_.wake(ep, force));
      if (w.smsId > 0) return static_cast<std::uint64_t>(w.smsId);
      const std::string why = "not waking " + lwm2m::quoteForMessage(ep) + ": ";
      switch (w.refusal) {
        case core::WakeVerdict::kNoSmsNumber:
          fail("NoSmsNumber", why + w.message);
        case core::WakeVerdict::kNoServerInstance:
          fail("NoServerInstance", why + w.message);
        case core::WakeVerdict::kNoModem:
          fail("NoModem", why + w.message);
        case core::WakeVerdict::kOutstanding:
        case core::WakeVerdict::kBackOff:
          fail("BackOff", why + w.message + " (force sends anyway)");
        case core::WakeVerdict::kBudget:
          fail("BudgetExhausted", w.budget + ": " + why + w.message + " (force sends anyway)");
        case core::WakeVerdict::kSend:
        case core::WakeVerdict::kNotNeeded:
          break;
      }
      fail("Failed", why + w.message);
    });
  }
  std::vector<Options> ListSms(const Options& options) override {
    return guarded("ListSms", [&] {
      core::SmsLogFilter f;
      for (const auto& [key, v] : options) {
        const std::string t = v.peekValueType();
        if (key == "endpoint" && t == "s") {
          if (auto ep = v.get<std::string>(); !ep.empty()) f.endpoint = ep;
        } else if (key == "direction" && t == "s") {
          const auto d = v.get<std::string>();
          if (d != "in" && d != "out") invalid("option direction: \"in\" or \"out\"");
          f.direction = d;
        } else if (key == "after" && integerOf(v) && *integerOf(v) >= 0) {
          f.afterId = *integerOf(v);
        } else if (key == "limit" && integerOf(v)) {
          const auto n = *integerOf(v);
          if (n < 1 || n > static_cast<std::int64_t>(kMaxList)) {
            invalid("option limit: 1 to " + std::to_string(kMaxList));
          }
          f.limit = static_cast<std::size_t>(n);
        } else {
          invalid("unknown option \"" + key + "\" of type " + t +
                  " (endpoint s, direction s, after t, limit u)");
        }
      }
      std::vector<Options> out;
      for (const auto& e : unwrap(backend_.listSms(f))) {
        Options d;
        d["id"] = sdbus::Variant(static_cast<std::uint64_t>(e.id));
        d["time"] = sdbus::Variant(unixMillis(e.createdAt));
        d["updated"] = sdbus::Variant(unixMillis(e.updatedAt));
        d["direction"] = sdbus::Variant(e.direction);
        d["endpoint"] = sdbus::Variant(e.endpoint);
        d["number"] = sdbus::Variant(e.msisdn);
        d["kind"] = sdbus::Variant(e.kind);
        d["parts"] = sdbus::Variant(static_cast<std::uint32_t>(e.parts));
        d["status"] = sdbus::Variant(e.status);
        d["detail"] = sdbus::Variant(e.detail);
        if (e.requestId) d["request"] = sdbus::Variant(static_cast<std::uint64_t>(*e.requestId));
        if (e.reference && *e.reference >= 0) {
          d["reference"] = sdbus::Variant(static_cast<std::uint32_t>(*e.reference));
        }
        out.push_back(std::move(d));
      }
      return out;
    });
  }

  void SetDeviceSettings(const std::string& ep, const Options& settings) override {
    guarded("SetDeviceSettings", [&] {
      core::DeviceSettings s = unwrap(backend_.deviceSettings(ep));
      for (const auto& [key, v] : settings) {
        const std::string t = v.peekValueType();
        const bool clear = t == "s" && v.get<std::string>().empty();
        if (key == "awake_window") {
          if (clear) {
            s.awakeWindow.reset();
            continue;
          }
          double seconds = -1;
          if (t == "d") {
            seconds = v.get<double>();
          } else if (auto i = integerOf(v)) {
            seconds = static_cast<double>(*i);
          }
          if (!(seconds > 0 && seconds <= 86400)) {
            invalid("awake_window: seconds from 0 to 86400 (d or u), or \"\" to clear it");
          }
          s.awakeWindow = core::Millis(static_cast<std::int64_t>(seconds * 1000));
        } else if (key == "sms_number" && t == "s") {
          const auto number = v.get<std::string>();
          if (!clear) {
            if (auto ok = lwm2m::checkMsisdn(number); !ok)
              invalid("sms_number: " + ok.error().message);
          }
          s.smsNumber = number;
        } else if (key == "server_instance") {
          if (clear) {
            s.serverInstance.reset();
            continue;
          }
          auto n = integerOf(v);
          if (!n || *n < 0 || *n > 65534) {
            invalid("server_instance: an instance id 0..65534 (q or u), or \"\" to clear it");
          }
          s.serverInstance = static_cast<std::uint16_t>(*n);
        } else {
          invalid("unknown setting \"" + key + "\" of type " + t +
                  " (awake_window, sms_number, server_instance)");
        }
      }
      if (auto saved = backend_.setDeviceSettings(ep, s); !saved) fail(saved.error());
    });
  }
  void AddPsk(const std::vector<uint8_t>& identity, const std::vector<uint8_t>& key,
              const std::string& endpoint) override {
    guarded("AddPsk", [&] {
      const std::string id(identity.begin(), identity.end());
      if (auto added = backend_.addPsk(id, key, endpoint); !added) {
        if (added.error().code == ErrorCode::kLimitReached) {
          fail("LimitReached", added.error().message);
        }
        fail(added.error());
      }
    });
  }
  void RemovePsk(const std::vector<uint8_t>& identity) override {
    guarded("RemovePsk", [&] {
      if (auto removed = backend_.removePsk(std::string(identity.begin(), identity.end()));
          !removed) {
        fail(removed.error());
      }
    });
  }
  std::vector<Options> ListPsks(const std::string& endpoint) override {
    return guarded("ListPsks", [&] {
      std::vector<Options> out;
      for (const core::PskInfo& p : unwrap(backend_.listPsks(endpoint, kMaxList))) {
        Options o;
        o["identity"] = sdbus::Variant(std::vector<uint8_t>(p.identity.begin(), p.identity.end()));
        o["identity_text"] = sdbus::Variant(core::pskIdentityText(p.identity));
        o["endpoint"] = sdbus::Variant(p.endpoint);
        o["key_set"] = sdbus::Variant(p.keySet);
        o["created"] = sdbus::Variant(static_cast<std::uint64_t>(p.createdAtMs));
        o["updated"] = sdbus::Variant(static_cast<std::uint64_t>(p.updatedAtMs));
        out.push_back(std::move(o));
      }
      return out;
    });
  }

  void AddUpstreamPsk(const std::string& server, const std::string& endpoint,
                      const std::vector<uint8_t>& identity,
                      const std::vector<uint8_t>& key) override {
    guarded("AddUpstreamPsk", [&] {
      std::optional<std::string> id;
      if (!identity.empty()) id = std::string(identity.begin(), identity.end());
      if (auto added = backend_.addUpstreamPsk(server, endpoint, id, key); !added) {
        if (added.error().code == ErrorCode::kLimitReached) {
          fail("LimitReached", added.error().message);
        }
        fail(added.error());
      }
    });
  }
  void RemoveUpstreamPsk(const std::string& server, const std::string& endpoint) override {
    guarded("RemoveUpstreamPsk", [&] {
      if (auto removed = backend_.removeUpstreamPsk(server, endpoint); !removed) {
        fail(removed.error());
      }
    });
  }
  std::vector<Options> ListUpstreamPsks(const std::string& server) override {
    return guarded("ListUpstreamPsks", [&] {
      std::vector<Options> out;
      for (const core::UpstreamPskInfo& p : unwrap(backend_.listUpstreamPsks(server, kMaxList))) {
        Options o;
        const std::string identity = p.identity.value_or("");
        o["server"] = sdbus::Variant(p.server);
        o["endpoint"] = sdbus::Variant(p.endpoint);
        o["identity"] = sdbus::Variant(std::vector<uint8_t>(identity.begin(), identity.end()));
        o["identity_text"] =
            sdbus::Variant(p.identity ? core::pskIdentityText(*p.identity) : std::string());
        o["key_set"] = sdbus::Variant(p.keySet);
        o["created"] = sdbus::Variant(static_cast<std::uint64_t>(p.createdAtMs));
        o["updated"] = sdbus::Variant(static_cast<std::uint64_t>(p.updatedAtMs));
        out.push_back(std::move(o));
      }
      return out;
    });
  }

  std::vector<Options> ListUpstreamServers() override {
    return guarded("ListUpstreamServers", [&] {
      std::vector<Options> out;
      for (const auto& u : backend_.upstreamServers()) {
        Options o;
        o["uri"] = sdbus::Variant(u.uri);
        o["devices"] = sdbus::Variant(u.devices);
        o["queue_mode"] = sdbus::Variant(u.queueMode);
        o["psk"] = sdbus::Variant(u.psk);
        o["lifetime"] = sdbus::Variant(u.lifetime);
        o["hold_off"] = sdbus::Variant(u.holdOff);
        o["links"] = sdbus::Variant(u.links);
        o["registered"] = sdbus::Variant(u.registered);
        o["failing"] = sdbus::Variant(u.failing);
        o["last_error"] = sdbus::Variant(u.lastError);
        out.push_back(std::move(o));
      }
      return out;
    });
  }
  std::vector<Options> ListUpstreamLinks(const std::string& endpoint) override {
    return guarded("ListUpstreamLinks", [&] {
      std::vector<Options> out;
      for (const auto& l : backend_.upstreamLinks(endpoint)) {
        if (out.size() >= kMaxList) break;
        Options o;
        o["server"] = sdbus::Variant(l.server);
        o["endpoint"] = sdbus::Variant(l.endpoint);
        o["upstream_endpoint"] = sdbus::Variant(l.upstreamEndpoint);
        o["state"] = sdbus::Variant(l.state);
        o["registered"] = sdbus::Variant(l.registered);
        o["location"] = sdbus::Variant(l.location);
        o["failures"] = sdbus::Variant(l.failures);
        o["last_error"] = sdbus::Variant(l.lastError);
        o["updated"] = sdbus::Variant(l.updatedMs);
        out.push_back(std::move(o));
      }
      return out;
    });
  }

  Options GetDeviceSettings(const std::string& ep) override {
    return guarded("GetDeviceSettings", [&] {
      const auto s = unwrap(backend_.deviceSettings(ep));
      Options out;
      if (s.awakeWindow) {
        out["awake_window"] = sdbus::Variant(static_cast<double>(s.awakeWindow->count()) / 1000);
      }
      if (!s.smsNumber.empty()) out["sms_number"] = sdbus::Variant(s.smsNumber);
      if (s.serverInstance) out["server_instance"] = sdbus::Variant(*s.serverInstance);
      return out;
    });
  }

  std::string Version() override { return kVersion; }
  uint64_t Uptime() override { return backend_.uptimeSeconds(); }
  uint32_t DeviceCount() override { return backend_.totals().devices; }
  uint32_t QueuedRequests() override { return backend_.totals().queued; }
  uint32_t InFlightRequests() override { return backend_.totals().inFlight; }
  std::vector<std::string> Listen() override { return backend_.listenUrls(); }
  std::string ModemState() override { return backend_.modem().state; }
  std::string ModemSim() override { return backend_.modem().sim; }
  std::string ModemNetwork() override { return backend_.modem().network; }
  int32_t ModemSignal() override { return backend_.modem().signalPercent; }
  std::string ModemModel() override { return backend_.modem().model; }
  std::string ModemError() override { return backend_.modem().error; }

  Backend& backend_;
  std::shared_ptr<PendingReplies> pending_;
};

class Service::Device final
    : public sdbus::AdaptorInterfaces<org::lwgate::Gateway1::Device_adaptor,
                                      sdbus::ManagedObject_adaptor, sdbus::Properties_adaptor> {
 public:
  Device(sdbus::IConnection& connection, Backend& backend, std::string endpoint)
      : AdaptorInterfaces(connection, devicePath(endpoint)),
        backend_(backend),
        endpoint_(std::move(endpoint)) {
    registerAdaptor();
  }
  ~Device() { unregisterAdaptor(); }

 private:
  // The registration, or an empty one between its removal and this object's.
  const core::Registration& reg() {
    static const core::Registration kNone;
    const auto* r = backend_.registration(endpoint_);
    return r ? *r : kNone;
  }
  std::string Endpoint() override { return endpoint_; }
  std::string Location() override { return "rd/" + reg().location; }
  std::string Address() override { return peerUri(reg().peer); }
  std::string Binding() override { return reg().binding.text; }
  bool QueueMode() override { return reg().queueMode(); }
  std::string SmsNumber() override { return reg().smsNumber; }
  uint32_t Lifetime() override { return reg().lifetime; }
  std::string LwM2MVersion() override { return reg().version; }
  uint64_t RegisteredAt() override { return unixMillis(reg().registeredAt); }
  uint64_t LastSeen() override { return unixMillis(reg().lastSeen); }
  bool Awake() override { return backend_.awake(endpoint_); }
  uint32_t QueuedRequests() override { return backend_.unfinished(endpoint_); }
  std::vector<std::string> Objects() override {
    std::vector<std::string> out;
    for (const auto& link : reg().objects.links) {
      std::string text = "</" + std::to_string(link.objectId);
      if (link.instanceId) text += "/" + std::to_string(*link.instanceId);
      text += ">";
      if (link.version) text += ";ver=" + *link.version;
      out.push_back(std::move(text));
    }
    return out;
  }

  Backend& backend_;
  std::string endpoint_;
};

struct Service::State {
  BusChoice bus;
  Backend* backend = nullptr;
  std::unique_ptr<sdbus::IConnection> connection;
  std::shared_ptr<PendingReplies> pending = std::make_shared<PendingReplies>();
  std::unique_ptr<Root> root;
  std::map<std::string, std::unique_ptr<Device>, std::less<>> devices;
  std::set<std::string, std::less<>> changedQueues;
  bool totalsChanged = false;
  std::optional<core::SteadyTime> lastChangesEmitted;
  unsigned emitFailures = 0;
};

Result<std::unique_ptr<Service>> Service::connect(const BusChoice& bus, Backend& backend) {
  std::unique_ptr<Service> s(new Service());
  s->state_ = std::make_unique<State>();
  auto& st = *s->state_;
  st.bus = bus;
  st.backend = &backend;
  try {
    switch (bus.kind) {
      case BusChoice::Kind::kNone:
        return makeError(ErrorCode::kBadRequest, "D-Bus is turned off");
      case BusChoice::Kind::kSystem:
        st.connection = sdbus::createSystemBusConnection();
        break;
      case BusChoice::Kind::kSession:
        st.connection = sdbus::createSessionBusConnection();
        break;
      case BusChoice::Kind::kAddress:
        st.connection = connectToAddress(bus.address);
        break;
    }
    // Objects first, then the name: whoever sees the name appear finds them in place.
    st.root = std::make_unique<Root>(*st.connection, backend, st.pending);
    st.connection->requestName(kBusName);
  } catch (const sdbus::Error& e) {
    const bool taken = e.getMessage().find("File exists") != std::string::npos ||
                       e.getName().find("EEXIST") != std::string::npos;
    return makeError(taken ? ErrorCode::kLimitReached : ErrorCode::kInternal,
                     "cannot take " + std::string(kBusName) + " on " + describe(bus) + ": " +
                         (taken ? std::string("another process owns the name") : e.getMessage()));
  }
  return s;
}

Service::~Service() {
  if (!state_ || !state_->connection) return;
  state_->pending.reset();  // before the connection its replies refer to
  state_->devices.clear();
  state_->root.reset();
  try {
    state_->connection->releaseName(kBusName);
  } catch (const sdbus::Error&) {
    // The bus is gone already.
  }
}

int Service::fd() const {
  return state_->connection->getEventLoopPollData().fd;
}

std::uint32_t Service::events() const {
  const short e = state_->connection->getEventLoopPollData().events;
  std::uint32_t out = 0;
  if (e & POLLIN) out |= EPOLLIN;
  if (e & POLLOUT) out |= EPOLLOUT;
  return out;
}

std::uint64_t Service::timeout() const {
  return state_->connection->getEventLoopPollData().timeout_usec;
}

Result<void> Service::process() {
  try {
    // Bounded: one wake-up handles at most this many messages; the loop comes back for more.
    for (int k = 0; k < 256 && state_->connection->processPendingRequest(); ++k) {
    }
  } catch (const sdbus::Error& e) {
    return makeError(ErrorCode::kInternal, "the D-Bus connection failed: " + e.getMessage());
  }
  return {};
}

void Service::emitSafely(const char* what, const std::function<void()>& emit) {
  try {
    emit();
  } catch (const sdbus::Error& e) {
    // The connection's queue is full (a stuck bus): signals are dropped, never waited for.
    if (state_->emitFailures++ % 1000 == 0) {
      log::warning("LWG4003 cannot emit the D-Bus signal {} ({} dropped so far): {}", what,
                   state_->emitFailures, e.getMessage());
    }
  }
}

void Service::deviceRegistered(const core::Registration& reg, bool replaced) {
  auto& st = *state_;
  const std::string path = devicePath(reg.endpoint);
  emitSafely("DeviceRegistered", [&] {
    if (replaced && st.devices.contains(reg.endpoint)) {
      // The same object, a new registration behind it.
      st.devices[reg.endpoint]->emitPropertiesChangedSignal(kDeviceInterface);
    } else {
      auto device = std::make_unique<Device>(*st.connection, *st.backend, reg.endpoint);
      device->emitInterfacesAddedSignal({kDeviceInterface});
      st.devices[reg.endpoint] = std::move(device);
    }
    st.root->emitDeviceRegistered(reg.endpoint, sdbus::ObjectPath(path));
  });
  st.totalsChanged = true;
}

void Service::deviceRestored(const core::Registration& reg) {
  auto& st = *state_;
  if (st.devices.contains(reg.endpoint)) return;
  emitSafely("InterfacesAdded", [&] {
    auto device = std::make_unique<Device>(*st.connection, *st.backend, reg.endpoint);
    device->emitInterfacesAddedSignal({kDeviceInterface});
    st.devices[reg.endpoint] = std::move(device);
  });
}

void Service::deviceUpdated(const core::Registration& reg) {
  auto& st = *state_;
  auto it = st.devices.find(reg.endpoint);
  emitSafely("DeviceUpdated", [&] {
    if (it != st.devices.end()) {
      it->second->emitPropertiesChangedSignal(
          kDeviceInterface, {"Location", "Address", "Binding", "QueueMode", "SmsNumber", "Lifetime",
                             "LwM2MVersion", "Objects", "Awake"});
    }
    st.root->emitDeviceUpdated(reg.endpoint, sdbus::ObjectPath(devicePath(reg.endpoint)));
  });
}

void Service::deviceRemoved(const core::Registration& reg, bool expired) {
  auto& st = *state_;
  const sdbus::ObjectPath path(devicePath(reg.endpoint));
  emitSafely("DeviceDeregistered", [&] {
    if (auto it = st.devices.find(reg.endpoint); it != st.devices.end()) {
      it->second->emitInterfacesRemovedSignal({kDeviceInterface});
      st.devices.erase(it);
    }
    if (expired) {
      st.root->emitDeviceExpired(reg.endpoint, path);
    } else {
      st.root->emitDeviceDeregistered(reg.endpoint, path);
    }
  });
  st.changedQueues.erase(reg.endpoint);
  st.totalsChanged = true;
}

void Service::requestFinished(const core::DownlinkRequest& r, const core::RenderedResult& result) {
  emitSafely("RequestCompleted", [&] {
    state_->root->emitRequestCompleted(
        static_cast<std::uint64_t>(r.id), r.endpoint, std::string(core::stateName(r.state)),
        r.responseCode ? core::codeText(static_cast<core::Code>(*r.responseCode)) : "",
        r.reason.empty() ? result.decodeError : r.reason, result.json, r.responsePayload,
        r.responseFormat.value_or(65535));
  });
  queueChanged(r.endpoint);
}

void Service::requestProgress(std::int64_t id, std::string_view endpoint, std::string_view stage) {
  emitSafely("RequestProgress", [&] {
    state_->root->emitRequestProgress(static_cast<std::uint64_t>(id), std::string(endpoint),
                                      std::string(stage));
  });
}

void Service::notification(const core::Notification& n) {
  if (n.kind == core::NotificationKind::kSend) {
    emitSafely("Send", [&] {
      state_->root->emitSend(static_cast<std::uint64_t>(n.id), n.endpoint, notificationJson(n),
                             n.payload, n.contentFormat.value_or(65535));
    });
    return;
  }
  emitSafely("Notification", [&] {
    state_->root->emitNotification(static_cast<std::uint64_t>(n.id), n.endpoint, n.path,
                                   static_cast<std::uint64_t>(n.observationId.value_or(0)),
                                   notificationJson(n), n.decodeError.value_or(""), n.payload,
                                   n.contentFormat.value_or(65535));
  });
}

void Service::queueChanged(std::string_view endpoint) {
  auto& st = *state_;
  if (st.devices.contains(endpoint)) st.changedQueues.emplace(endpoint);
  st.totalsChanged = true;
}

void Service::deviceAwake(std::string_view endpoint, bool awake) {
  auto& st = *state_;
  if (!st.devices.contains(endpoint)) return;
  emitSafely(awake ? "DeviceAwake" : "DeviceAsleep", [&] {
    const std::string ep(endpoint);
    const sdbus::ObjectPath path(devicePath(ep));
    if (awake) {
      st.root->emitDeviceAwake(ep, path);
    } else {
      st.root->emitDeviceAsleep(ep, path);
    }
  });
  st.changedQueues.emplace(endpoint);
}

void Service::modemChanged() {
  emitSafely("PropertiesChanged", [&] {
    state_->root->emitPropertiesChangedSignal(
        "org.lwgate.Gateway1",
        {"ModemState", "ModemSim", "ModemNetwork", "ModemSignal", "ModemModel", "ModemError"});
  });
}

void Service::wakeDecision(std::string_view endpoint, bool sent, std::string_view kind,
                           std::string_view reason, std::int64_t smsId) {
  emitSafely("WakeDecision", [&] {
    state_->root->emitWakeDecision(std::string(endpoint), sent, std::string(kind),
                                   std::string(reason),
                                   static_cast<std::uint64_t>(std::max<std::int64_t>(smsId, 0)));
  });
}

std::optional<core::SteadyTime> Service::flushChanges(core::SteadyTime now) {
  auto& st = *state_;
  if (st.changedQueues.empty() && !st.totalsChanged) return std::nullopt;
  if (st.lastChangesEmitted && now < *st.lastChangesEmitted + kPropertiesInterval) {
    return *st.lastChangesEmitted + kPropertiesInterval;
  }
  st.lastChangesEmitted = now;
  for (const auto& ep : st.changedQueues) {
    if (auto it = st.devices.find(ep); it != st.devices.end()) {
      emitSafely("PropertiesChanged", [&] {
        it->second->emitPropertiesChangedSignal(kDeviceInterface, {"QueuedRequests", "Awake"});
      });
    }
  }
  st.changedQueues.clear();
  if (st.totalsChanged) {
    st.totalsChanged = false;
    emitSafely("PropertiesChanged", [&] {
      st.root->emitPropertiesChangedSignal("org.lwgate.Gateway1",
                                           {"DeviceCount", "QueuedRequests", "InFlightRequests"});
    });
  }
  return std::nullopt;
}

}  // namespace lwgate::dbus
