#pragma once
// lwgated's configuration: one TOML file (README "Configuration reference"), every key optional
// with a default, unknown keys and bad values are errors naming the file, line and key.
// Command-line options override the file.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "bridge/upstream_config.h"
#include "gateway/util/log.h"
#include "gateway/util/result.h"

namespace lwgate::daemon {

inline constexpr const char* kDefaultConfigPath = "/etc/lwgate/lwgated.toml";
inline constexpr const char* kDefaultDatabasePath = "/var/lib/lwgate/lwgate.db";

struct Config {
  // [server]
  std::vector<std::string> listen{"0.0.0.0:5683"};  // CoAP over UDP (NoSec); may be empty
  std::vector<std::string> listenDtls;              // DTLS-PSK ("coaps")
  std::string database = kDefaultDatabasePath;
  bool databaseSyncFull = false;  // database_sync = "normal" | "full" (power-loss safety)
  std::size_t maxDevices = 10000;
  // [coap]
  double ackTimeout = 2.0;
  unsigned maxRetransmit = 4;
  // [registration]
  std::size_t maxPayload = 16384;
  std::size_t maxObjects = 1024;
  // Per source address: Registers and requests naming no registration of the sender, a
  // second (0: no limit) and at once after a quiet time (core/rate_limiter.h).
  double rateLimit = 10;
  double rateLimitBurst = 50;
  // [queue]
  double awakeWindow = 93;    // seconds
  double requestTtl = 86400;  // seconds
  std::size_t maxPerDevice = 1000;
  std::size_t maxAttempts = 5;
  std::size_t maxNotificationsPerDevice = 1000;  // stored per device, the oldest pruned
  // [dbus]
  std::string bus = "system";  // "system", "session", "none" or a D-Bus address
  // [modem]
  std::string modemBackend = "none";  // "none" or "gammu"
  std::string gammuConfig;            // gammurc for backend "gammu"
  double modemPollInterval = 10;      // seconds between listings of stored SMS
  // [sms]
  std::size_t smsPerDevicePerHour = 2;
  std::size_t smsPerDevicePerDay = 6;
  std::size_t smsGlobalPerDay = 500;
  double smsBackoff = 600;     // seconds before another trigger to the same device
  double smsValidity = 86400;  // seconds the SMS centre keeps trying (TP-VP)
  // The SMS binding (CoAP over SMS): numbers that may send CoAP by SMS besides registered
  // devices' (devices that Register by SMS), incoming messages handled per number and hour,
  // and how long a request sent by SMS waits for its answer (no CoAP retransmission on SMS).
  std::vector<std::string> smsAllow;
  std::size_t smsIncomingPerHour = 60;
  double smsResponseTimeout = 300;
  // Seconds between looks for sleeping devices with work waiting (besides the ends of back-offs)
  double smsWakeScanInterval = 60;
  // [log]
  log::Level logLevel = log::Level::kInfo;
  // [[upstream]]: the bridge's upstream LwM2M servers, in file order (uris unique)
  std::vector<bridge::UpstreamConfig> upstreams;
};

// Parses TOML text; `origin` names the file in messages ("lwgated.toml:12: ...").
// Errors are kBadRequest with one message per problem, joined by newlines.
Result<Config> parseConfig(std::string_view text, const std::string& origin);
Result<Config> loadConfigFile(const std::string& path);

}  // namespace lwgate::daemon
