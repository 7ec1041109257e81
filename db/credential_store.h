#pragma once
// The DTLS-PSK credential store: the psk_credentials table (db/migrations.cpp, version 4).
// PSK identity (bytes) -> key (bytes) -> the endpoint name the identity may register as. And the
// bridge's keys towards coaps:// upstream servers: upstream_psk_credentials (version 7),
// (server, endpoint or "" for the gateway-wide one) -> identity (or the upstream endpoint name)
// and key.
//
// Keys go in through put() and out only through find(), which the DTLS handshake uses; nothing
// here logs, and list() never reads the key column. One statement per call; callers on the
// main loop get the daemon's open batch transaction around them like every other store.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "db/sqlite.h"
#include "gateway/core/credentials.h"

namespace lwgate::db {

class SqliteCredentialStore final : public core::CredentialLookup {
 public:
  static Result<std::unique_ptr<SqliteCredentialStore>> create(Connection& connection);

  // Adds the identity, or replaces its key and endpoint (key rotation, a device renamed).
  // Checks the identity, key and endpoint first (kBadRequest, nothing stored). Returns true when
  // an existing identity was replaced.
  Result<bool> put(std::string_view identity, std::span<const std::uint8_t> key,
                   std::string_view endpoint, std::int64_t nowMs);
  // Returns whether the identity existed.
  Result<bool> remove(std::string_view identity);
  // Credentials without their keys, ordered by endpoint then identity; "" lists every
  // endpoint's. At most `limit` rows.
  Result<std::vector<core::PskInfo>> list(std::string_view endpoint, std::size_t limit);
  Result<std::int64_t> count();

  struct Found {
    std::vector<std::uint8_t> key;
    std::string endpoint;
  };
  // For the DTLS handshake: the key and endpoint of an identity; nullopt when unknown.
  Result<std::optional<Found>> find(std::string_view identity);

  // ---- Upstream PSKs (the bridge as a DTLS client) ----
  // Adds or replaces the PSK of (server, endpoint); endpoint "" is the gateway-wide one, which
  // needs an identity. Checks server, endpoint, identity and key first (kBadRequest, nothing
  // stored). Returns true when one existed.
  Result<bool> putUpstream(std::string_view server, std::string_view endpoint,
                           const std::optional<std::string>& identity,
                           std::span<const std::uint8_t> key, std::int64_t nowMs);
  Result<bool> removeUpstream(std::string_view server, std::string_view endpoint);
  // Without keys, ordered by server then endpoint; "" for any server. At most `limit`.
  Result<std::vector<core::UpstreamPskInfo>> listUpstream(std::string_view server,
                                                          std::size_t limit);
  Result<std::int64_t> countUpstream(std::string_view server);
  struct FoundUpstream {
    std::optional<std::string> identity;
    std::vector<std::uint8_t> key;
  };
  // For opening a DTLS session: nullopt when (server, endpoint) has none.
  Result<std::optional<FoundUpstream>> findUpstream(std::string_view server,
                                                    std::string_view endpoint);

  // core::CredentialLookup
  Result<std::optional<std::string>> endpointForIdentity(std::string_view identity) override;
  Result<bool> endpointHasPsk(std::string_view endpoint) override;

 private:
  SqliteCredentialStore() = default;
  Connection* connection_ = nullptr;
  Statement exists_;
  Statement put_;
  Statement remove_;
  Statement listAll_;
  Statement listEndpoint_;
  Statement count_;
  Statement find_;
  Statement endpointOf_;
  Statement hasEndpoint_;
  Statement upExists_;
  Statement upPut_;
  Statement upRemove_;
  Statement upList_;
  Statement upCount_;
  Statement upFind_;
};

}  // namespace lwgate::db
