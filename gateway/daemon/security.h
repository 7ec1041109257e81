#pragma once
// The daemon's security side (issue 8): the DTLS-PSK credential store behind the handshake and
// the registration interface's access rules, the D-Bus PSK methods, and the per-address rate
// limit in front of the CoAP handler. Runs on the main thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "db/credential_store.h"
#include "gateway/core/clock.h"
#include "gateway/core/message.h"
#include "gateway/core/rate_limiter.h"
#include "gateway/core/registry.h"

namespace lwgate::daemon {

struct SecurityConfig {
  core::RateLimit rateLimit;
  std::size_t maxPsks = 10000;  // [server] max_devices: one key per device is the rule
};

class Security {
 public:
  Security(const core::Clock& clock, db::Connection& connection, SecurityConfig config);

  Result<void> open();
  void setConfig(const SecurityConfig& config);

  // For coap::Server::enablePsk(): the key of an identity, nullopt for an unknown one (or when
  // the store fails, which is logged).
  std::optional<std::vector<std::uint8_t>> pskFor(std::string_view identity,
                                                  const core::Peer& peer);
  // For the registration interface.
  core::CredentialLookup& credentials() { return *store_; }

  // In front of the CoAP handler: a 4.29 answer when the request is over its sender's rate
  // limit (logged, the log line itself limited), else nullopt.
  std::optional<core::Response> admit(const core::Request& request, const core::Registry& registry);

  // D-Bus AddPsk / RemovePsk / ListPsks. Errors: kBadRequest (bad identity, key or endpoint),
  // kLimitReached (maxPsks credentials stored), kNotFound (RemovePsk of an unknown identity),
  // kStorage.
  Result<void> addPsk(std::string_view identity, std::span<const std::uint8_t> key,
                      std::string_view endpoint);
  Result<void> removePsk(std::string_view identity);
  Result<std::vector<core::PskInfo>> listPsks(std::string_view endpoint, std::size_t limit);

  // D-Bus AddUpstreamPsk / RemoveUpstreamPsk / ListUpstreamPsks: the bridge's keys towards
  // coaps:// upstream servers (db::SqliteCredentialStore::putUpstream). The caller checks that
  // the server is configured. kLimitReached past maxPsks + 1 per server (one per device and the
  // gateway-wide one).
  Result<void> addUpstreamPsk(std::string_view server, std::string_view endpoint,
                              const std::optional<std::string>& identity,
                              std::span<const std::uint8_t> key);
  Result<void> removeUpstreamPsk(std::string_view server, std::string_view endpoint);
  Result<std::vector<core::UpstreamPskInfo>> listUpstreamPsks(std::string_view server,
                                                              std::size_t limit);
  // For the bridge opening a DTLS session: the stored identity (nullopt: use the upstream
  // endpoint name) and key, nullopt when there is none; kStorage when the store failed.
  Result<std::optional<db::SqliteCredentialStore::FoundUpstream>> upstreamPsk(
      std::string_view server, std::string_view endpoint);

 private:
  const core::Clock& clock_;
  db::Connection& connection_;
  SecurityConfig config_;
  std::unique_ptr<db::SqliteCredentialStore> store_;
  core::RateLimiter limiter_;
};

}  // namespace lwgate::daemon
