#include "gateway/daemon/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gateway/coap/server.h"
#include "gateway/daemon/daemon.h"

namespace lwgate::daemon {
namespace {

const std::string kOrigin = "t.toml";

Config parsedOk(std::string_view text) {
  auto c = parseConfig(text, kOrigin);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? *c : Config{};
}

// The error message of a config that must be rejected ("" when it was accepted).
std::string errorOf(std::string_view text) {
  auto c = parseConfig(text, kOrigin);
  EXPECT_FALSE(c.ok()) << "accepted:\n" << text;
  if (c.ok()) return "";
  EXPECT_EQ(c.error().code, ErrorCode::kBadRequest);
  return c.error().message;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    if (nl == std::string::npos) return out;
    start = nl + 1;
  }
}

TEST(ParseConfig, EmptyTextGivesDefaults) {
  for (std::string_view text : {"", "\n# only a comment\n", "[server]\n[coap]\n[log]\n"}) {
    Config c = parsedOk(text);
    EXPECT_EQ(c.listen, (std::vector<std::string>{"0.0.0.0:5683"}));
    EXPECT_EQ(c.database, "/var/lib/lwgate/lwgate.db");
    EXPECT_FALSE(c.databaseSyncFull);
    EXPECT_EQ(c.maxDevices, 10000u);
    EXPECT_EQ(c.ackTimeout, 2.0);
    EXPECT_EQ(c.maxRetransmit, 4u);
    EXPECT_EQ(c.maxPayload, 16384u);
    EXPECT_EQ(c.maxObjects, 1024u);
    EXPECT_EQ(c.logLevel, log::Level::kInfo);
    EXPECT_TRUE(c.listenDtls.empty());
    EXPECT_EQ(c.rateLimit, 10.0);
    EXPECT_EQ(c.rateLimitBurst, 50.0);
  }
}

TEST(ParseConfig, DtlsListenersAndNoSecTurnedOff) {
  Config c = parsedOk("[server]\nlisten = []\nlisten_dtls = [\"0.0.0.0:5684\", \"[::1]:0\"]\n");
  EXPECT_TRUE(c.listen.empty());
  EXPECT_EQ(c.listenDtls, (std::vector<std::string>{"0.0.0.0:5684", "[::1]:0"}));
  // NoSec restricted to the loopback interface's address, DTLS on every address.
  c = parsedOk("[server]\nlisten = [\"127.0.0.1:5683\"]\nlisten_dtls = [\"0.0.0.0:5684\"]\n");
  EXPECT_EQ(c.listen, (std::vector<std::string>{"127.0.0.1:5683"}));
}

TEST(ParseConfig, EveryKeyIsParsed) {
  Config c = parsedOk(R"(
[server]
listen = ["127.0.0.1:5683", "[::1]:5684"]
listen_dtls = []
database = "/tmp/x.db"
database_sync = "full"
max_devices = 42

[coap]
ack_timeout = 3
max_retransmit = 7

[registration]
max_payload = 4096
max_objects = 77
rate_limit = 2.5
rate_limit_burst = 8

[log]
level = "debug"
)");
  EXPECT_EQ(c.listen, (std::vector<std::string>{"127.0.0.1:5683", "[::1]:5684"}));
  EXPECT_EQ(c.database, "/tmp/x.db");
  EXPECT_TRUE(c.databaseSyncFull);
  EXPECT_EQ(c.maxDevices, 42u);
  EXPECT_EQ(c.ackTimeout, 3.0);
  EXPECT_EQ(c.maxRetransmit, 7u);
  EXPECT_EQ(c.maxPayload, 4096u);
  EXPECT_EQ(c.maxObjects, 77u);
  EXPECT_EQ(c.rateLimit, 2.5);
  EXPECT_EQ(c.rateLimitBurst, 8.0);
  EXPECT_EQ(c.logLevel, log::Level::kDebug);
}

TEST(ParseConfig, AckTimeoutTakesFractions) {
  EXPECT_EQ(parsedOk("[coap]\nack_timeout = 0.5\n").ackTimeout, 0.5);
  EXPECT_EQ(parsedOk("[coap]\nack_timeout = 0.1\n").ackTimeout, 0.1);
  EXPECT_EQ(parsedOk("[coap]\nack_timeout = 300\n").ackTimeout, 300.0);
}

TEST(ParseConfig, BusIsSystemSessionNoneOrAnAddress) {
  EXPECT_EQ(parsedOk("").bus, "system");
  for (const char* bus : {"system", "session", "none", "unix:path=/run/x"}) {
    EXPECT_EQ(parsedOk(std::string("[dbus]\nbus = \"") + bus + "\"\n").bus, bus);
  }
  EXPECT_NE(errorOf("[dbus]\nbus = \"sytem\"\n").find("t.toml:2: [dbus] bus: bus \"sytem\""),
            std::string::npos);
  EXPECT_NE(errorOf("[dbus]\nbus = 1\n").find("expected a string"), std::string::npos);
}

TEST(ParseConfig, DatabaseSyncNormalIsNotFull) {
  EXPECT_FALSE(parsedOk("[server]\ndatabase_sync = \"normal\"\n").databaseSyncFull);
}

TEST(ParseConfig, EveryLogLevel) {
  EXPECT_EQ(parsedOk("[log]\nlevel = \"error\"\n").logLevel, log::Level::kError);
  EXPECT_EQ(parsedOk("[log]\nlevel = \"warning\"\n").logLevel, log::Level::kWarning);
  EXPECT_EQ(parsedOk("[log]\nlevel = \"notice\"\n").logLevel, log::Level::kNotice);
  EXPECT_EQ(parsedOk("[log]\nlevel = \"info\"\n").logLevel, log::Level::kInfo);
  EXPECT_EQ(parsedOk("[log]\nlevel = \"debug\"\n").logLevel, log::Level::kDebug);
}

TEST(ParseConfig, LimitsAtTheirBounds) {
  Config low = parsedOk(
      "[server]\nmax_devices = 1\n[coap]\nmax_retransmit = 0\n"
      "[registration]\nmax_payload = 64\nmax_objects = 1\n");
  EXPECT_EQ(low.maxDevices, 1u);
  EXPECT_EQ(low.maxRetransmit, 0u);
  EXPECT_EQ(low.maxPayload, 64u);
  EXPECT_EQ(low.maxObjects, 1u);
  Config high = parsedOk(
      "[server]\nmax_devices = 10000000\n[coap]\nmax_retransmit = 20\n"
      "[registration]\nmax_payload = 1048576\nmax_objects = 65536\n");
  EXPECT_EQ(high.maxDevices, 10'000'000u);
  EXPECT_EQ(high.maxRetransmit, 20u);
  EXPECT_EQ(high.maxPayload, 1048576u);
  EXPECT_EQ(high.maxObjects, 65536u);
}

struct BadValue {
  const char* text;  // the value on line 3, after a comment line and the section header
  const char* where;
  const char* what;
};

// Every bad value names the file, the line and the key, and says what is expected.
TEST(ParseConfig, BadValuesNameFileLineAndKey) {
  const std::vector<BadValue> cases = {
      {"[server]\nlisten = \"0.0.0.0:5683\"", "[server] listen", "expected an array of strings"},
      {"[server]\nlisten = [5683]", "[server] listen", "expected an array of strings"},
      {"[server]\nlisten = [\"a:1\", 2]", "[server] listen", "expected an array of strings"},
      {"[server]\nlisten_dtls = \"x\"", "[server] listen_dtls", "expected an array of strings"},
      {"[server]\nlisten_dtls = [\"0.0.0.0\"]", "[server] listen_dtls",
       "invalid listen address \"0.0.0.0\": expected HOST:PORT"},
      {"[server]\nlisten = []", "[server] listen",
       "no listener at all: give listen (CoAP/UDP) or listen_dtls (DTLS) addresses"},
      {"[registration]\nrate_limit = -1", "[registration] rate_limit",
       "expected requests per second from 0 to 1000000"},
      {"[registration]\nrate_limit = \"10\"", "[registration] rate_limit",
       "expected requests per second from 0 to 1000000"},
      {"[registration]\nrate_limit_burst = 0.5", "[registration] rate_limit_burst",
       "expected requests from 1 to 1000000"},
      {"[server]\ndatabase = 5", "[server] database", "expected a string"},
      {"[server]\ndatabase = \"\"", "[server] database", "must not be empty"},
      {"[server]\ndatabase_sync = \"fast\"", "[server] database_sync",
       "expected \"normal\" or \"full\""},
      {"[server]\ndatabase_sync = true", "[server] database_sync", "expected a string"},
      {"[server]\nmax_devices = 0", "[server] max_devices",
       "expected a whole number from 1 to 10000000"},
      {"[server]\nmax_devices = 10000001", "[server] max_devices",
       "expected a whole number from 1 to 10000000"},
      // Found by tests/fuzz/config: a float far beyond int64 was converted with undefined
      // behaviour (UBSan: "9e+123 is outside the range of representable values").
      {"[server]\nmax_devices = 9e123", "[server] max_devices",
       "expected a whole number from 1 to 10000000"},
      {"[server]\nmax_devices = 5.0", "[server] max_devices",
       "expected a whole number from 1 to 10000000"},
      {"[queue]\nmax_per_device = -inf", "[queue] max_per_device",
       "expected a whole number from 1 to 1000000"},
      {"[server]\nmax_devices = -1", "[server] max_devices",
       "expected a whole number from 1 to 10000000"},
      {"[server]\nmax_devices = 1.0", "[server] max_devices",
       "expected a whole number from 1 to 10000000"},
      {"[server]\nmax_devices = \"10\"", "[server] max_devices",
       "expected a whole number from 1 to 10000000"},
      {"[coap]\nack_timeout = 0.05", "[coap] ack_timeout", "expected seconds from 0.1 to 300"},
      {"[coap]\nack_timeout = 300.5", "[coap] ack_timeout", "expected seconds from 0.1 to 300"},
      {"[coap]\nack_timeout = 0", "[coap] ack_timeout", "expected seconds from 0.1 to 300"},
      {"[coap]\nack_timeout = -1", "[coap] ack_timeout", "expected seconds from 0.1 to 300"},
      {"[coap]\nack_timeout = inf", "[coap] ack_timeout", "expected seconds from 0.1 to 300"},
      {"[coap]\nack_timeout = nan", "[coap] ack_timeout", "expected seconds from 0.1 to 300"},
      {"[coap]\nack_timeout = \"2\"", "[coap] ack_timeout", "expected seconds from 0.1 to 300"},
      {"[coap]\nmax_retransmit = 21", "[coap] max_retransmit",
       "expected a whole number from 0 to 20"},
      {"[coap]\nmax_retransmit = -1", "[coap] max_retransmit",
       "expected a whole number from 0 to 20"},
      {"[coap]\nmax_retransmit = 2.5", "[coap] max_retransmit",
       "expected a whole number from 0 to 20"},
      {"[registration]\nmax_payload = 63", "[registration] max_payload",
       "expected a whole number from 64 to 1048576"},
      {"[registration]\nmax_payload = 1048577", "[registration] max_payload",
       "expected a whole number from 64 to 1048576"},
      {"[registration]\nmax_objects = 0", "[registration] max_objects",
       "expected a whole number from 1 to 65536"},
      {"[registration]\nmax_objects = 65537", "[registration] max_objects",
       "expected a whole number from 1 to 65536"},
      {"[log]\nlevel = \"verbose\"", "[log] level",
       "expected \"error\", \"warning\", \"notice\", \"info\" or \"debug\""},
      {"[log]\nlevel = 7", "[log] level", "expected a string"},
  };
  for (const auto& c : cases) {
    const std::string text = std::string("# lwgated\n") + c.text + "\n";
    SCOPED_TRACE(text);
    const std::string message = errorOf(text);
    EXPECT_EQ(message, std::string("t.toml:3: ") + c.where + ": " + c.what);
  }
}

TEST(ParseConfig, NoUpstreamByDefault) {
  EXPECT_TRUE(parsedOk("").upstreams.empty());
}

TEST(ParseConfig, UpstreamDefaultsAndEveryKey) {
  Config c = parsedOk(R"(
[[upstream]]
uri = "coap://lwm2m.example.net"

[[upstream]]
uri = "coap://[2001:db8::1]:5783/"
devices = ["meter-*", "pump-?"]
endpoint_prefix = "site7-"
lifetime = 300
hold_off = 12.5
registrations_per_second = 0.5
registrations_in_flight = 4
queue_mode = "mirror"
answer_timeout = 30
backoff_min = 1
backoff_max = 60
)");
  ASSERT_EQ(c.upstreams.size(), 2u);
  const bridge::UpstreamConfig& a = c.upstreams[0];
  EXPECT_EQ(a.uri, "coap://lwm2m.example.net");
  EXPECT_EQ(a.address.host, "lwm2m.example.net");
  EXPECT_EQ(a.address.port, 5683);
  EXPECT_EQ(a.devices, (std::vector<std::string>{"*"}));
  EXPECT_EQ(a.endpointPrefix, "");
  EXPECT_EQ(a.lifetime, 86400u);
  EXPECT_EQ(a.holdOff, 0.0);
  EXPECT_EQ(a.registrationsPerSecond, 50.0);
  EXPECT_EQ(a.registrationsInFlight, 32u);
  EXPECT_EQ(a.queueMode, bridge::QueueMode::kGateway);
  EXPECT_EQ(a.answerTimeout, 60.0);
  EXPECT_EQ(a.backoffMin, 5.0);
  EXPECT_EQ(a.backoffMax, 900.0);
  const bridge::UpstreamConfig& b = c.upstreams[1];
  EXPECT_EQ(b.address.host, "2001:db8::1");
  EXPECT_EQ(b.address.port, 5783);
  EXPECT_EQ(b.devices, (std::vector<std::string>{"meter-*", "pump-?"}));
  EXPECT_EQ(b.endpointPrefix, "site7-");
  EXPECT_EQ(b.upstreamEndpoint("meter-1"), "site7-meter-1");
  EXPECT_EQ(b.lifetime, 300u);
  EXPECT_EQ(b.holdOff, 12.5);
  EXPECT_EQ(b.registrationsPerSecond, 0.5);
  EXPECT_EQ(b.registrationsInFlight, 4u);
  EXPECT_EQ(b.queueMode, bridge::QueueMode::kMirror);
  EXPECT_EQ(b.answerTimeout, 30.0);
  EXPECT_EQ(b.backoffMin, 1.0);
  EXPECT_EQ(b.backoffMax, 60.0);
  EXPECT_TRUE(b.bridges("meter-17"));
  EXPECT_TRUE(b.bridges("pump-3"));
  EXPECT_FALSE(b.bridges("pump-33"));
  EXPECT_FALSE(b.bridges("sensor-1"));
}

TEST(ParseConfig, CoapsUpstreamWithItsPskMode) {
  Config c = parsedOk(R"(
[[upstream]]
uri = "coaps://lwm2m.example.net"

[[upstream]]
uri = "coaps://127.0.0.1:15684"
psk = "gateway"

[[upstream]]
uri = "coaps://[::1]"
psk = "device"
)");
  ASSERT_EQ(c.upstreams.size(), 3u);
  EXPECT_TRUE(c.upstreams[0].dtls());
  EXPECT_EQ(c.upstreams[0].address.port, 5684);
  EXPECT_EQ(c.upstreams[0].pskMode, bridge::PskMode::kDevice);  // the default
  EXPECT_EQ(c.upstreams[1].address.port, 15684);
  EXPECT_EQ(c.upstreams[1].pskMode, bridge::PskMode::kGateway);
  EXPECT_EQ(c.upstreams[2].address.host, "::1");
  EXPECT_EQ(c.upstreams[2].pskMode, bridge::PskMode::kDevice);
  EXPECT_FALSE(parsedOk("[[upstream]]\nuri = \"coap://h\"\n").upstreams[0].dtls());
}

TEST(ParseConfig, UpstreamDevicesMayBeOnePattern) {
  EXPECT_EQ(parsedOk("[[upstream]]\nuri = \"coap://h\"\ndevices = \"a*\"\n").upstreams[0].devices,
            (std::vector<std::string>{"a*"}));
}

// Every bad [[upstream]] value names the file, the line, the server (by position) and the key.
TEST(ParseConfig, BadUpstreamValuesNameFileLineAndKey) {
  const std::vector<BadValue> cases = {
      {"[[upstream]]\nuri = \"coaps+tcp://h:5684\"", "[upstream 1] uri",
       "\"coaps+tcp://h:5684\": expected coap://HOST[:PORT] or coaps://HOST[:PORT]"},
      {"[[upstream]]\nuri = \"http://h\"", "[upstream 1] uri",
       "\"http://h\": expected coap://HOST[:PORT] or coaps://HOST[:PORT]"},
      {"[[upstream]]\nuri = \"coap://h:0\"", "[upstream 1] uri",
       "\"coap://h:0\": the port must be a number from 1 to 65535"},
      {"[[upstream]]\nuri = \"coap://h/rd\"", "[upstream 1] uri",
       "\"coap://h/rd\": only coap://HOST[:PORT] or coaps://HOST[:PORT] (no path, query or "
       "user)"},
      {"[[upstream]]\npsk = \"each\"", "[upstream 1] psk",
       "expected \"device\" (one PSK per bridged device) or \"gateway\" (one for the whole "
       "gateway)"},
      {"[[upstream]]\npsk = 1", "[upstream 1] psk", "expected a string"},
      // A NoSec server has no use for a key (the uri, coap://h, comes after the bad line).
      {"[[upstream]]\npsk = \"gateway\"", "[upstream 1] psk",
       "only for coaps:// servers (DTLS-PSK)"},
      {"[[upstream]]\nuri = 5", "[upstream 1] uri", "expected a string"},
      {"[[upstream]]\ndevices = []", "[upstream 1] devices",
       "empty list (\"*\" bridges every device)"},
      {"[[upstream]]\ndevices = [\"a b\"]", "[upstream 1] devices",
       "endpoint pattern \"a b\" has spaces or control characters"},
      {"[[upstream]]\ndevices = 3", "[upstream 1] devices", "expected an array of strings"},
      {"[[upstream]]\nendpoint_prefix = \"x y\"", "[upstream 1] endpoint_prefix",
       "endpoint prefix has spaces or control characters"},
      {"[[upstream]]\nlifetime = 0", "[upstream 1] lifetime",
       "expected a whole number from 1 to 4294967295"},
      {"[[upstream]]\nhold_off = -1", "[upstream 1] hold_off", "expected seconds from 0 to 604800"},
      {"[[upstream]]\nregistrations_per_second = 0", "[upstream 1] registrations_per_second",
       "expected a number from 0.01 to 100000"},
      {"[[upstream]]\nregistrations_in_flight = 0", "[upstream 1] registrations_in_flight",
       "expected a whole number from 1 to 10000"},
      {"[[upstream]]\nqueue_mode = \"queue\"", "[upstream 1] queue_mode",
       "expected \"gateway\" or \"mirror\""},
      {"[[upstream]]\nanswer_timeout = 0", "[upstream 1] answer_timeout",
       "expected seconds from 1 to 86400"},
      {"[[upstream]]\nbackoff_min = 0", "[upstream 1] backoff_min",
       "expected seconds from 0.1 to 3600"},
      {"[[upstream]]\nbackoff_max = 0.5", "[upstream 1] backoff_max",
       "expected seconds from 1 to 86400"},
      {"[[upstream]]\nbackoff_max = 5\nbackoff_min = 10", "[upstream 1] backoff_max",
       "must not be below backoff_min"},
      {"[[upstream]]\nfoo = 1", "[upstream 1] foo",
       "unknown key (known: uri, devices, endpoint_prefix, lifetime, hold_off, "
       "registrations_per_second, registrations_in_flight, queue_mode, answer_timeout, "
       "backoff_min, "
       "backoff_max, psk)"},
  };
  for (const auto& c : cases) {
    // The uri goes after the bad line, so the bad value is on line 3 either way.
    std::string text = std::string("# lwgated\n") + c.text + "\n";
    if (std::string(c.where) != "[upstream 1] uri") text += "uri = \"coap://h\"\n";
    SCOPED_TRACE(text);
    EXPECT_EQ(errorOf(text), std::string("t.toml:3: ") + c.where + ": " + c.what);
  }
}

TEST(ParseConfig, UpstreamNeedsAUriAndEachUriOnce) {
  EXPECT_EQ(errorOf("[[upstream]]\nlifetime = 60\n"),
            "t.toml:1: [upstream 1] uri: missing: the upstream server, coap://HOST[:PORT] or "
            "coaps://HOST[:PORT]");
  EXPECT_EQ(errorOf("[[upstream]]\nuri = \"coap://h\"\n[[upstream]]\nuri = \"coap://h\"\n"),
            "t.toml:4: [upstream 2] uri: listed twice");
  EXPECT_EQ(errorOf("[upstream]\nuri = \"coap://h\"\n"),
            "t.toml:1: upstream: must be an array of tables: one [[upstream]] per server");
}

TEST(ParseConfig, QueueSection) {
  auto c = parseConfig(
      "[queue]\nawake_window = 30.5\nrequest_ttl = 600\nmax_per_device = 7\n"
      "max_attempts = 2\nmax_notifications_per_device = 50\n",
      "t.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_DOUBLE_EQ(c->awakeWindow, 30.5);
  EXPECT_DOUBLE_EQ(c->requestTtl, 600);
  EXPECT_EQ(c->maxPerDevice, 7u);
  EXPECT_EQ(c->maxAttempts, 2u);
  EXPECT_EQ(c->maxNotificationsPerDevice, 50u);
  EXPECT_EQ(parseConfig("", "t.toml")->maxNotificationsPerDevice, 1000u) << "the default";
  EXPECT_EQ(errorOf("# lwgated\n[queue]\nmax_notifications_per_device = 0\n"),
            "t.toml:3: [queue] max_notifications_per_device: expected a whole number from 1 to "
            "1000000");
  EXPECT_EQ(errorOf("# lwgated\n[queue]\nmax_notifications_per_device = \"lots\"\n"),
            "t.toml:3: [queue] max_notifications_per_device: expected a whole number from 1 to "
            "1000000");
  EXPECT_EQ(errorOf("# lwgated\n[queue]\nawake_window = 0\n"),
            "t.toml:3: [queue] awake_window: expected seconds from 1 to 86400");
  EXPECT_EQ(errorOf("# lwgated\n[queue]\nmax_attempts = 0\n"),
            "t.toml:3: [queue] max_attempts: expected a whole number from 1 to 100");
  EXPECT_EQ(errorOf("# lwgated\n[queue]\nsize = 3\n"),
            "t.toml:3: [queue] size: unknown key (known: awake_window, request_ttl, "
            "max_per_device, max_attempts, max_notifications_per_device)");
}

// An empty string is not one of the accepted values either.
TEST(ParseConfig, EmptyEnumStringsAreBadValues) {
  EXPECT_EQ(errorOf("# lwgated\n[log]\nlevel = \"\"\n"),
            "t.toml:3: [log] level: expected \"error\", \"warning\", \"notice\", \"info\" or "
            "\"debug\"");
  EXPECT_EQ(errorOf("# lwgated\n[server]\ndatabase_sync = \"\"\n"),
            "t.toml:3: [server] database_sync: expected \"normal\" or \"full\"");
}

TEST(ParseConfig, EmptyListenAddressNamesTheLine) {
  const std::string message = errorOf("# lwgated\n[server]\nlisten = [\"\"]\n");
  EXPECT_NE(message.find("[server] listen"), std::string::npos) << message;
  EXPECT_NE(message.find("empty address"), std::string::npos) << message;
  EXPECT_EQ(message, "t.toml:3: [server] listen: empty address");
}

TEST(ParseConfig, UnknownKeyListsTheKnownOnes) {
  EXPECT_EQ(errorOf("[server]\nmax_device = 5\n"),
            "t.toml:2: [server] max_device: unknown key (known: listen, listen_dtls, database, "
            "database_sync, max_devices)");
  EXPECT_EQ(errorOf("[coap]\nack = 1\n"),
            "t.toml:2: [coap] ack: unknown key (known: ack_timeout, max_retransmit)");
  EXPECT_EQ(
      errorOf("[registration]\nmax = 1\n"),
      "t.toml:2: [registration] max: unknown key (known: max_payload, max_objects, rate_limit, "
      "rate_limit_burst)");
  EXPECT_EQ(errorOf("[log]\nlvl = \"debug\"\n"), "t.toml:2: [log] lvl: unknown key (known: level)");
}

TEST(ParseConfig, UnknownSectionListsTheKnownOnes) {
  EXPECT_EQ(errorOf("# lwgated\n[modems]\ndevice = \"/dev/ttyUSB0\"\n"),
            "t.toml:2: modems: unknown key (known: server, coap, registration, queue, dbus, "
            "modem, sms, log, upstream)");
  EXPECT_EQ(errorOf("listen = 1\n"),
            "t.toml:1: listen: unknown key (known: server, coap, registration, queue, dbus, "
            "modem, sms, log, upstream)");
}

TEST(ParseConfig, ModemAndSmsSections) {
  Config d = parsedOk("");
  EXPECT_EQ(d.modemBackend, "none");
  EXPECT_EQ(d.gammuConfig, "");
  EXPECT_EQ(d.modemPollInterval, 10.0);
  EXPECT_EQ(d.smsPerDevicePerHour, 2u);
  EXPECT_EQ(d.smsPerDevicePerDay, 6u);
  EXPECT_EQ(d.smsGlobalPerDay, 500u);
  EXPECT_EQ(d.smsBackoff, 600.0);
  EXPECT_EQ(d.smsValidity, 86400.0);
  EXPECT_TRUE(d.smsAllow.empty());
  EXPECT_EQ(d.smsIncomingPerHour, 60u);
  EXPECT_EQ(d.smsResponseTimeout, 300.0);
  EXPECT_EQ(d.smsWakeScanInterval, 60.0);

  Config c = parsedOk(R"([modem]
backend = "gammu"
gammu_config = "/etc/lwgate/gammurc"
poll_interval = 2.5
[sms]
per_device_per_hour = 1
per_device_per_day = 3
global_per_day = 0
backoff = 1800
validity = 3600
allow = ["+4915112345678", "0170123"]
incoming_per_hour = 0
response_timeout = 30.5
wake_scan_interval = 5
)");
  EXPECT_EQ(c.modemBackend, "gammu");
  EXPECT_EQ(c.gammuConfig, "/etc/lwgate/gammurc");
  EXPECT_EQ(c.modemPollInterval, 2.5);
  EXPECT_EQ(c.smsPerDevicePerHour, 1u);
  EXPECT_EQ(c.smsPerDevicePerDay, 3u);
  EXPECT_EQ(c.smsGlobalPerDay, 0u);  // no SMS at all
  EXPECT_EQ(c.smsBackoff, 1800.0);
  EXPECT_EQ(c.smsValidity, 3600.0);
  EXPECT_EQ(c.smsAllow, (std::vector<std::string>{"+4915112345678", "0170123"}));
  EXPECT_EQ(c.smsIncomingPerHour, 0u);  // no CoAP by SMS at all
  EXPECT_EQ(c.smsResponseTimeout, 30.5);
  EXPECT_EQ(c.smsWakeScanInterval, 5.0);

  EXPECT_EQ(errorOf("[modem]\nbackend = \"mmcli\"\n"),
            "t.toml:2: [modem] backend: expected \"none\" or \"gammu\"");
  EXPECT_EQ(errorOf("[modem]\nbackend = \"gammu\"\n"),
            "t.toml:2: [modem] gammu_config: backend \"gammu\" needs a gammurc file "
            "(connection = at, device = ...)");
  EXPECT_EQ(errorOf("[modem]\nbackend = \"gammu\"\ngammu_config = \"\"\n"),
            "t.toml:3: [modem] gammu_config: backend \"gammu\" needs a gammurc file "
            "(connection = at, device = ...)");
  EXPECT_EQ(errorOf("[modem]\npoll_interval = 0\n"),
            "t.toml:2: [modem] poll_interval: expected seconds from 1 to 3600");
  EXPECT_EQ(errorOf("[modem]\ndevice = \"/dev/ttyUSB0\"\n"),
            "t.toml:2: [modem] device: unknown key (known: backend, gammu_config, poll_interval)");
  EXPECT_EQ(errorOf("[sms]\nper_device_per_hour = -1\n"),
            "t.toml:2: [sms] per_device_per_hour: expected a whole number from 0 to 1000");
  EXPECT_EQ(errorOf("[sms]\nbackoff = \"10m\"\n"),
            "t.toml:2: [sms] backoff: expected seconds from 1 to 604800");
  EXPECT_EQ(errorOf("[sms]\nvalidity = 60\n"),
            "t.toml:2: [sms] validity: expected seconds from 300 to 38102400");
  EXPECT_EQ(errorOf("[sms]\nbudget = 1\n"),
            "t.toml:2: [sms] budget: unknown key (known: per_device_per_hour, "
            "per_device_per_day, global_per_day, backoff, validity, allow, incoming_per_hour, "
            "response_timeout, wake_scan_interval)");
  EXPECT_EQ(errorOf("[sms]\nallow = \"+49151\"\n"),
            "t.toml:2: [sms] allow: expected an array of strings");
  auto bad = errorOf("[sms]\nallow = [\n  \"+49151\",\n  \"+49-151\",\n]\n");
  EXPECT_NE(bad.find("t.toml:4: [sms] allow: "), std::string::npos) << bad;
  EXPECT_NE(bad.find("expected an MSISDN"), std::string::npos) << bad;
  EXPECT_EQ(errorOf("[sms]\nincoming_per_hour = 1001\n"),
            "t.toml:2: [sms] incoming_per_hour: expected a whole number from 0 to 1000");
  EXPECT_EQ(errorOf("[sms]\nresponse_timeout = 5\n"),
            "t.toml:2: [sms] response_timeout: expected seconds from 10 to 86400");
  EXPECT_EQ(errorOf("[sms]\nwake_scan_interval = 0\n"),
            "t.toml:2: [sms] wake_scan_interval: expected seconds from 1 to 3600");
}

TEST(ParseConfig, SectionThatIsNotATable) {
  EXPECT_EQ(errorOf("# lwgated\nserver = 5\n"), "t.toml:2: server: must be a table ([server])");
}

TEST(ParseConfig, EveryProblemIsReportedOnItsOwnLine) {
  const std::string message = errorOf(R"([server]
max_devices = 0
bogus = 1
[coap]
max_retransmit = 99
[log]
level = "loud"
[extra]
)");
  EXPECT_EQ(
      lines(message),
      (std::vector<std::string>{
          "t.toml:8: extra: unknown key (known: server, coap, registration, queue, dbus, modem, "
          "sms, log, upstream)",
          "t.toml:3: [server] bogus: unknown key (known: listen, listen_dtls, database, "
          "database_sync, max_devices)",
          "t.toml:2: [server] max_devices: expected a whole number from 1 to 10000000",
          "t.toml:5: [coap] max_retransmit: expected a whole number from 0 to 20",
          "t.toml:7: [log] level: expected \"error\", \"warning\", \"notice\", \"info\" or "
          "\"debug\"",
      }))
      << message;
}

TEST(ParseConfig, SyntaxErrorCarriesTheLine) {
  const std::string message = errorOf("[server]\nmax_devices = 1\nmax_payload = = 3\n");
  EXPECT_EQ(message.rfind("t.toml:3: ", 0), 0u) << message;
  EXPECT_GT(message.size(), std::string("t.toml:3: ").size());
  const std::string unterminated = errorOf("# lwgated\n\n[server\n");
  EXPECT_EQ(unterminated.rfind("t.toml:3: ", 0), 0u) << unterminated;
}

TEST(ParseConfig, DuplicateKeyIsAnError) {
  const std::string message = errorOf("[server]\nmax_devices = 1\nmax_devices = 2\n");
  EXPECT_EQ(message.rfind("t.toml:3: ", 0), 0u) << message;
}

// A private directory for config files, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lwgate-config-XXXXXX");
    if (!mkdtemp(pattern.data())) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file) << text;
    return file.string();
  }
  std::string path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

constexpr const char* kFile = R"([server]
listen = ["127.0.0.1:6000"]
database = "/tmp/from-file.db"
max_devices = 5
[log]
level = "warning"
)";

TEST(ResolveConfig, FileValuesWithoutOverrides) {
  TempDir dir;
  Overrides o;
  o.configPath = dir.write("lwgated.toml", kFile);
  std::string source = "stale";
  auto c = resolveConfig(o, &source);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(source, *o.configPath);
  EXPECT_EQ(c->listen, (std::vector<std::string>{"127.0.0.1:6000"}));
  EXPECT_EQ(c->database, "/tmp/from-file.db");
  EXPECT_EQ(c->maxDevices, 5u);
  EXPECT_EQ(c->logLevel, log::Level::kWarning);
}

TEST(ResolveConfig, OverridesWinOverTheFile) {
  TempDir dir;
  Overrides o;
  o.configPath = dir.write("lwgated.toml", kFile);
  o.database = "/tmp/from-cli.db";
  o.listen = {"[::1]:7000", "127.0.0.1:0"};
  o.logLevel = log::Level::kDebug;
  std::string source;
  auto c = resolveConfig(o, &source);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(source, *o.configPath);
  EXPECT_EQ(c->database, "/tmp/from-cli.db");
  EXPECT_EQ(c->listen, (std::vector<std::string>{"[::1]:7000", "127.0.0.1:0"}));
  EXPECT_EQ(c->logLevel, log::Level::kDebug);
  EXPECT_EQ(c->maxDevices, 5u);  // not overridden: from the file
}

TEST(ResolveConfig, BadListenOverrideIsRejected) {
  TempDir dir;
  Overrides o;
  o.configPath = dir.write("lwgated.toml", kFile);
  o.listen = {"127.0.0.1:1", "127.0.0.1"};
  std::string source;
  auto c = resolveConfig(o, &source);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kBadRequest);
  EXPECT_NE(c.error().message.find("invalid listen address \"127.0.0.1\""), std::string::npos)
      << c.error().message;
}

TEST(ResolveConfig, BadListenInTheFileNamesFileLineAndKey) {
  TempDir dir;
  Overrides o;
  o.configPath = dir.write("lwgated.toml", "[server]\nlisten = [\"127.0.0.1\"]\n");
  std::string source;
  auto c = resolveConfig(o, &source);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("invalid listen address"), std::string::npos)
      << c.error().message;
  EXPECT_NE(c.error().message.find(*o.configPath + ":2: [server] listen"), std::string::npos)
      << c.error().message;
}

TEST(ResolveConfig, BadFileIsAnErrorNamingThePath) {
  TempDir dir;
  Overrides o;
  o.configPath = dir.write("bad.toml", "[server]\nmax_devices = 0\n");
  std::string source;
  auto c = resolveConfig(o, &source);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message,
            *o.configPath + ":2: [server] max_devices: expected a whole number from 1 to 10000000");
}

TEST(ResolveConfig, MissingFileIsNotFound) {
  TempDir dir;
  Overrides o;
  o.configPath = dir.path("absent.toml");
  std::string source;
  auto c = resolveConfig(o, &source);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(c.error().message, "cannot read config file " + *o.configPath);
}

TEST(ResolveConfig, EmptyDatabaseOverrideIsRejected) {
  TempDir dir;
  Overrides o;
  o.configPath = dir.write("lwgated.toml", kFile);
  o.database = "";
  std::string source;
  auto c = resolveConfig(o, &source);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "--db: empty path");
}

TEST(ParseListenAddress, Valid) {
  auto a = coap::parseListenAddress("127.0.0.1:5683");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5683);
  auto b = coap::parseListenAddress("[::1]:0");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = coap::parseListenAddress("0.0.0.0:65535");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->host, "0.0.0.0");
  EXPECT_EQ(c->port, 65535);
  auto d = coap::parseListenAddress("localhost:5683");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->host, "localhost");
}

TEST(ParseListenAddress, Invalid) {
  for (std::string_view text :
       {"127.0.0.1", "[::1]5683", "::1:5683", "host:", ":5683", "h:65536", "h:-1", "h:12a", "",
        "[::1", "[]:5683", "[::1]:", "h:+1", "h:000001", "h: 1"}) {
    SCOPED_TRACE(text);
    auto a = coap::parseListenAddress(text);
    ASSERT_FALSE(a.ok()) << a->host << " " << a->port;
    EXPECT_EQ(a.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(a.error().message.rfind("invalid listen address \"" + std::string(text) + "\": ", 0),
              0u)
        << a.error().message;
  }
}

}  // namespace
}  // namespace lwgate::daemon
