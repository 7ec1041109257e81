#include "gateway/daemon/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "gateway/coap/server.h"
#include "gateway/dbus/service.h"
#include "gateway/lwm2m/registration_params.h"

namespace lwgate::daemon {
namespace {

// Collects every problem in the file, so one run of --check-config shows them all.
class Checker {
 public:
  explicit Checker(const std::string& origin) : origin_(origin) {}

  void problem(const toml::node* node, const std::string& key, const std::string& what) {
    std::string where = origin_;
    if (node && node->source().begin.line) where += fmt::format(":{}", node->source().begin.line);
    errors_.push_back(fmt::format("{}: {}: {}", where, key, what));
  }

  // Rejects keys of `table` that are not in `known`.
  void onlyKeys(const toml::table& table, const std::string& prefix,
                std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : table) {
      bool found = false;
      for (auto n : known) found = found || k.str() == n;
      if (!found) {
        std::string all;
        for (auto n : known) all += (all.empty() ? "" : ", ") + std::string(n);
        problem(&v, prefix + std::string(k.str()), "unknown key (known: " + all + ")");
      }
    }
  }

  const toml::table* section(const toml::table& root, std::string_view name) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
      problem(n, std::string(name), "must be a table ([" + std::string(name) + "])");
      return nullptr;
    }
    return n->as_table();
  }

  void count(const toml::table* t, std::string_view section, std::string_view key, std::size_t min,
             std::size_t max, std::size_t* out) {
    const toml::node* n = t ? t->get(key) : nullptr;
    if (!n) return;
    // Only an integer node: node::value<int64_t>() would also convert a float, and toml++
    // does that with a plain cast, undefined beyond int64's range (max_devices = 9e99).
    const toml::value<std::int64_t>* i = n->as_integer();
    if (!i || i->get() < static_cast<std::int64_t>(min) ||
        static_cast<std::uint64_t>(i->get()) > max) {
      problem(n, name(section, key),
              fmt::format("expected a whole number from {} to {}", min, max));
      return;
    }
    *out = static_cast<std::size_t>(i->get());
  }

  void seconds(const toml::table* t, std::string_view section, std::string_view key, double min,
               double max, double* out) {
    const toml::node* n = t ? t->get(key) : nullptr;
    if (!n) return;
    auto v = n->value<double>();  // integers convert too
    if (!(n->is_integer() || n->is_floating_point()) || !v || !std::isfinite(*v) || *v < min ||
        *v > max) {
      problem(n, name(section, key), fmt::format("expected seconds from {} to {}", min, max));
      return;
    }
    *out = *v;
  }

  // A number (integer or not) in [min, max]; `unit` names it in the message.
  void number(const toml::table* t, std::string_view section, std::string_view key, double min,
              double max, std::string_view unit, double* out) {
    const toml::node* n = t ? t->get(key) : nullptr;
    if (!n) return;
    auto v = n->value<double>();
    if (!(n->is_integer() || n->is_floating_point()) || !v || !std::isfinite(*v) || *v < min ||
        *v > max) {
      problem(n, name(section, key), fmt::format("expected {} from {} to {}", unit, min, max));
      return;
    }
    *out = *v;
  }

  void string(const toml::table* t, std::string_view section, std::string_view key,
              std::string* out) {
    const toml::node* n = t ? t->get(key) : nullptr;
    if (!n) return;
    if (!n->is_string()) {
      problem(n, name(section, key), "expected a string");
      return;
    }
    *out = **n->as_string();
  }

  void strings(const toml::table* t, std::string_view section, std::string_view key,
               std::vector<std::string>* out) {
    const toml::node* n = t ? t->get(key) : nullptr;
    if (!n) return;
    const toml::array* a = n->as_array();
    std::vector<std::string> values;
    if (a) {
      for (const auto& e : *a) {
        if (!e.is_string()) {
          a = nullptr;
          break;
        }
        values.push_back(**e.as_string());
      }
    }
    if (!a) {
      problem(n, name(section, key), "expected an array of strings");
      return;
    }
    *out = std::move(values);
  }

  // A number with its own unit ("registrations per second"), not seconds.
  void number(const toml::table* t, std::string_view section, std::string_view key, double min,
              double max, double* out) {
    const toml::node* n = t ? t->get(key) : nullptr;
    if (!n) return;
    auto v = n->value<double>();
    if (!(n->is_integer() || n->is_floating_point()) || !v || !std::isfinite(*v) || *v < min ||
        *v > max) {
      problem(n, name(section, key), fmt::format("expected a number from {} to {}", min, max));
      return;
    }
    *out = *v;
  }

  static std::string name(std::string_view section, std::string_view key) {
    return fmt::format("[{}] {}", section, key);
  }

  bool ok() const { return errors_.empty(); }
  std::string message() const {
    std::string m;
    for (const auto& e : errors_) m += (m.empty() ? "" : "\n") + e;
    return m;
  }

 private:
  const std::string& origin_;
  std::vector<std::string> errors_;
};

// One [[upstream]] table (README "Bridge"). `n` counts from 1 for messages.
void parseUpstream(Checker& ck, const toml::table& t, std::size_t n,
                   std::vector<bridge::UpstreamConfig>* out) {
  const std::string section = fmt::format("upstream {}", n);
  ck.onlyKeys(t, "[" + section + "] ",
              {"uri", "devices", "endpoint_prefix", "lifetime", "hold_off",
               "registrations_per_second", "registrations_in_flight", "queue_mode",
               "answer_timeout", "backoff_min", "backoff_max", "psk"});
  bridge::UpstreamConfig u;
  const toml::node* uri = t.get("uri");
  ck.string(&t, section, "uri", &u.uri);
  if (!uri) {
    ck.problem(&t, "[" + section + "] uri",
               "missing: the upstream server, coap://HOST[:PORT] or coaps://HOST[:PORT]");
  } else if (uri->is_string()) {
    if (auto parsed = bridge::parseUpstreamUri(u.uri); !parsed) {
      ck.problem(uri, "[" + section + "] uri", parsed.error().message);
    } else {
      u.address = *parsed;
    }
    for (const auto& other : *out) {
      if (other.uri == u.uri) ck.problem(uri, "[" + section + "] uri", "listed twice");
    }
  }
  if (const toml::node* d = t.get("devices")) {
    if (d->is_string()) {
      u.devices = {**d->as_string()};
    } else {
      ck.strings(&t, section, "devices", &u.devices);
      if (d->is_array() && u.devices.empty()) {
        ck.problem(d, "[" + section + "] devices", "empty list (\"*\" bridges every device)");
      }
    }
    for (const auto& p : u.devices) {
      if (auto ok = bridge::checkDevicePattern(p); !ok)
        ck.problem(d, "[" + section + "] devices", ok.error().message);
    }
  }
  ck.string(&t, section, "endpoint_prefix", &u.endpointPrefix);
  if (auto ok = bridge::checkEndpointPrefix(u.endpointPrefix); !ok)
    ck.problem(t.get("endpoint_prefix"), "[" + section + "] endpoint_prefix", ok.error().message);
  std::size_t lifetime = u.lifetime;
  ck.count(&t, section, "lifetime", 1, 4294967295u, &lifetime);
  u.lifetime = static_cast<std::uint32_t>(lifetime);
  ck.seconds(&t, section, "hold_off", 0, 604'800, &u.holdOff);
  ck.number(&t, section, "registrations_per_second", 0.01, 100'000, &u.registrationsPerSecond);
  std::size_t inFlight = u.registrationsInFlight;
  ck.count(&t, section, "registrations_in_flight", 1, 10'000, &inFlight);
  u.registrationsInFlight = static_cast<std::uint32_t>(inFlight);
  std::string mode = "gateway";
  ck.string(&t, section, "queue_mode", &mode);
  if (mode == "mirror") {
    u.queueMode = bridge::QueueMode::kMirror;
  } else if (mode != "gateway") {
    ck.problem(t.get("queue_mode"), "[" + section + "] queue_mode",
               "expected \"gateway\" or \"mirror\"");
  }
  ck.seconds(&t, section, "answer_timeout", 1, 86'400, &u.answerTimeout);
  ck.seconds(&t, section, "backoff_min", 0.1, 3600, &u.backoffMin);
  ck.seconds(&t, section, "backoff_max", 1, 86'400, &u.backoffMax);
  if (u.backoffMax < u.backoffMin) {
    ck.problem(t.get("backoff_max"), "[" + section + "] backoff_max",
               "must not be below backoff_min");
  }
  // The keys themselves live in the credential store (lwgatectl psk add --upstream), never here.
  if (const toml::node* psk = t.get("psk")) {
    std::string pskMode;
    ck.string(&t, section, "psk", &pskMode);
    if (pskMode == "gateway") u.pskMode = bridge::PskMode::kGateway;
    if (pskMode != "gateway" && pskMode != "device" && psk->is_string()) {
      ck.problem(psk, "[" + section + "] psk",
                 "expected \"device\" (one PSK per bridged device) or \"gateway\" (one for "
                 "the whole gateway)");
    } else if (psk->is_string() && !u.address.dtls && !u.address.host.empty()) {
      ck.problem(psk, "[" + section + "] psk", "only for coaps:// servers (DTLS-PSK)");
    }
  }
  out->push_back(std::move(u));
}

}  // namespace

Result<Config> parseConfig(std::string_view text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return makeError(ErrorCode::kBadRequest,
                     fmt::format("{}:{}: {}", origin, e.source().begin.line, e.description()));
  }
  Config c;
  Checker ck(origin);
  ck.onlyKeys(
      root, "",
      {"server", "coap", "registration", "queue", "dbus", "modem", "sms", "log", "upstream"});

  if (const toml::table* s = ck.section(root, "server")) {
    ck.onlyKeys(*s, "[server] ",
                {"listen", "listen_dtls", "database", "database_sync", "max_devices"});
    ck.strings(s, "server", "listen", &c.listen);
    ck.strings(s, "server", "listen_dtls", &c.listenDtls);
    for (const char* key : {"listen", "listen_dtls"}) {
      const toml::array* a = s->get_as<toml::array>(key);
      if (!a) continue;
      // Each address is checked where it stands, so the message names its line.
      for (const auto& e : *a) {
        const std::string* text = e.is_string() ? &**e.as_string() : nullptr;
        if (!text) continue;
        if (text->empty()) {
          ck.problem(&e, std::string("[server] ") + key, "empty address");
        } else if (auto parsed = coap::parseListenAddress(*text); !parsed) {
          ck.problem(&e, std::string("[server] ") + key, parsed.error().message);
        }
      }
    }
    if (c.listen.empty() && c.listenDtls.empty()) {
      ck.problem(s->get("listen") ? s->get("listen") : s->get("listen_dtls"), "[server] listen",
                 "no listener at all: give listen (CoAP/UDP) or listen_dtls (DTLS) addresses");
    }
    ck.string(s, "server", "database", &c.database);
    if (s->get("database") && c.database.empty()) {
      ck.problem(s->get("database"), "[server] database", "must not be empty");
    }
    std::string sync = "normal";
    ck.string(s, "server", "database_sync", &sync);
    if (sync == "full") {
      c.databaseSyncFull = true;
    } else if (sync != "normal") {
      ck.problem(s->get("database_sync"), "[server] database_sync",
                 "expected \"normal\" or \"full\"");
    }
    ck.count(s, "server", "max_devices", 1, 10'000'000, &c.maxDevices);
  }
  if (const toml::table* s = ck.section(root, "coap")) {
    ck.onlyKeys(*s, "[coap] ", {"ack_timeout", "max_retransmit"});
    ck.seconds(s, "coap", "ack_timeout", 0.1, 300, &c.ackTimeout);
    std::size_t retransmit = c.maxRetransmit;
    ck.count(s, "coap", "max_retransmit", 0, 20, &retransmit);
    c.maxRetransmit = static_cast<unsigned>(retransmit);
  }
  if (const toml::table* s = ck.section(root, "registration")) {
    ck.onlyKeys(*s, "[registration] ",
                {"max_payload", "max_objects", "rate_limit", "rate_limit_burst"});
    ck.count(s, "registration", "max_payload", 64, 1 << 20, &c.maxPayload);
    ck.count(s, "registration", "max_objects", 1, 65536, &c.maxObjects);
    ck.number(s, "registration", "rate_limit", 0, 1'000'000, "requests per second", &c.rateLimit);
    ck.number(s, "registration", "rate_limit_burst", 1, 1'000'000, "requests", &c.rateLimitBurst);
  }
  if (const toml::table* s = ck.section(root, "queue")) {
    ck.onlyKeys(*s, "[queue] ",
                {"awake_window", "request_ttl", "max_per_device", "max_attempts",
                 "max_notifications_per_device"});
    ck.seconds(s, "queue", "awake_window", 1, 86400, &c.awakeWindow);
    ck.seconds(s, "queue", "request_ttl", 1, 31'536'000, &c.requestTtl);
    ck.count(s, "queue", "max_per_device", 1, 1'000'000, &c.maxPerDevice);
    ck.count(s, "queue", "max_attempts", 1, 100, &c.maxAttempts);
    ck.count(s, "queue", "max_notifications_per_device", 1, 1'000'000,
             &c.maxNotificationsPerDevice);
  }
  if (const toml::table* s = ck.section(root, "dbus")) {
    ck.onlyKeys(*s, "[dbus] ", {"bus"});
    ck.string(s, "dbus", "bus", &c.bus);
    if (auto b = dbus::parseBusChoice(c.bus); !b)
      ck.problem(s->get("bus"), "[dbus] bus", b.error().message);
  }
  if (const toml::table* s = ck.section(root, "modem")) {
    ck.onlyKeys(*s, "[modem] ", {"backend", "gammu_config", "poll_interval"});
    ck.string(s, "modem", "backend", &c.modemBackend);
    if (c.modemBackend != "none" && c.modemBackend != "gammu") {
      ck.problem(s->get("backend"), "[modem] backend", "expected \"none\" or \"gammu\"");
    }
    ck.string(s, "modem", "gammu_config", &c.gammuConfig);
    if (c.modemBackend == "gammu" && c.gammuConfig.empty()) {
      ck.problem(s->get("gammu_config") ? s->get("gammu_config") : s->get("backend"),
                 "[modem] gammu_config",
                 "backend \"gammu\" needs a gammurc file (connection = at, device = ...)");
    }
    ck.seconds(s, "modem", "poll_interval", 1, 3600, &c.modemPollInterval);
  }
  if (const toml::table* s = ck.section(root, "sms")) {
    ck.onlyKeys(
        *s, "[sms] ",
        {"per_device_per_hour", "per_device_per_day", "global_per_day", "backoff", "validity",
         "allow", "incoming_per_hour", "response_timeout", "wake_scan_interval"});
    ck.count(s, "sms", "per_device_per_hour", 0, 1000, &c.smsPerDevicePerHour);
    ck.count(s, "sms", "per_device_per_day", 0, 10'000, &c.smsPerDevicePerDay);
    ck.count(s, "sms", "global_per_day", 0, 10'000'000, &c.smsGlobalPerDay);
    ck.seconds(s, "sms", "backoff", 1, 604'800, &c.smsBackoff);
    // TP-VP relative: 5 minutes to 63 weeks (3GPP TS 23.040 9.2.3.12.1).
    ck.seconds(s, "sms", "validity", 300, 38'102'400, &c.smsValidity);
    ck.strings(s, "sms", "allow", &c.smsAllow);
    if (const toml::array* a = s->get_as<toml::array>("allow")) {
      // Each number is checked where it stands, so the message names its line.
      for (const auto& e : *a) {
        const std::string* text = e.is_string() ? &**e.as_string() : nullptr;
        if (!text) continue;
        if (auto ok = lwm2m::checkMsisdn(*text); !ok) {
          ck.problem(&e, "[sms] allow", ok.error().message);
        }
      }
    }
    ck.count(s, "sms", "incoming_per_hour", 0, 1000, &c.smsIncomingPerHour);
    ck.seconds(s, "sms", "response_timeout", 10, 86'400, &c.smsResponseTimeout);
    ck.seconds(s, "sms", "wake_scan_interval", 1, 3600, &c.smsWakeScanInterval);
  }
  if (const toml::table* s = ck.section(root, "log")) {
    ck.onlyKeys(*s, "[log] ", {"level"});
    std::string level = "info";
    ck.string(s, "log", "level", &level);
    if (!log::parseLevel(level, &c.logLevel)) {
      ck.problem(s->get("level"), "[log] level",
                 "expected \"error\", \"warning\", \"notice\", \"info\" or \"debug\"");
    }
  }
  if (const toml::node* u = root.get("upstream")) {
    const toml::array* a = u->as_array();
    if (!a || !a->is_array_of_tables()) {
      ck.problem(u, "upstream", "must be an array of tables: one [[upstream]] per server");
    } else {
      for (std::size_t k = 0; k < a->size(); ++k) {
        parseUpstream(ck, *a->get(k)->as_table(), k + 1, &c.upstreams);
      }
    }
  }
  if (!ck.ok()) return makeError(ErrorCode::kBadRequest, ck.message());
  return c;
}

Result<Config> loadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError(ErrorCode::kNotFound, "cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path);
}

}  // namespace lwgate::daemon
