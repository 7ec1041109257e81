#include "db/credential_store.h"

#include "gateway/lwm2m/registration_params.h"

namespace lwgate::db {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string identityOf(const Statement& s, int column) {
  auto blob = s.columnBlob(column);
  return {blob.begin(), blob.end()};
}

}  // namespace

Result<std::unique_ptr<SqliteCredentialStore>> SqliteCredentialStore::create(Connection& c) {
  std::unique_ptr<SqliteCredentialStore> store(new SqliteCredentialStore());
  store->connection_ = &c;
  struct Spec {
    Statement* target;
    const char* sql;
    const char* label;
  };
  const Spec specs[] = {
      {&store->exists_, "SELECT 1 FROM psk_credentials WHERE identity = ?1",
       "look up a PSK identity"},
      {&store->put_,
       "INSERT INTO psk_credentials (identity, psk, endpoint, created_at, updated_at) "
       "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (identity) DO UPDATE SET psk = excluded.psk, "
       "endpoint = excluded.endpoint, updated_at = excluded.updated_at",
       "store a PSK"},
      {&store->remove_, "DELETE FROM psk_credentials WHERE identity = ?1", "remove a PSK"},
      // The key column is never selected for listing.
      {&store->listAll_,
       "SELECT identity, endpoint, length(psk) > 0, created_at, updated_at FROM psk_credentials "
       "ORDER BY endpoint, identity LIMIT ?1",
       "list PSKs"},
      {&store->listEndpoint_,
       "SELECT identity, endpoint, length(psk) > 0, created_at, updated_at FROM psk_credentials "
       "WHERE endpoint = ?2 ORDER BY identity LIMIT ?1",
       "list an endpoint's PSKs"},
      {&store->count_, "SELECT count(*) FROM psk_credentials", "count PSKs"},
      {&store->find_, "SELECT psk, endpoint FROM psk_credentials WHERE identity = ?1",
       "find a PSK"},
      {&store->endpointOf_, "SELECT endpoint FROM psk_credentials WHERE identity = ?1",
       "find the endpoint of a PSK identity"},
      {&store->hasEndpoint_, "SELECT 1 FROM psk_credentials WHERE endpoint = ?1 LIMIT 1",
       "check whether an endpoint has a PSK"},
      {&store->upExists_,
       "SELECT 1 FROM upstream_psk_credentials WHERE server = ?1 AND endpoint = ?2",
       "look up an upstream PSK"},
      {&store->upPut_,
       "INSERT INTO upstream_psk_credentials (server, endpoint, identity, psk, created_at, "
       "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (server, endpoint) DO UPDATE SET "
       "identity = excluded.identity, psk = excluded.psk, updated_at = excluded.updated_at",
       "store an upstream PSK"},
      {&store->upRemove_,
       "DELETE FROM upstream_psk_credentials WHERE server = ?1 AND endpoint = ?2",
       "remove an upstream PSK"},
      // The key column is never selected for listing.
      {&store->upList_,
       "SELECT server, endpoint, identity, length(psk) > 0, created_at, updated_at "
       "FROM upstream_psk_credentials WHERE ?2 = '' OR server = ?2 ORDER BY server, endpoint "
       "LIMIT ?1",
       "list upstream PSKs"},
      {&store->upCount_,
       "SELECT count(*) FROM upstream_psk_credentials WHERE ?1 = '' OR server = ?1",
       "count upstream PSKs"},
      {&store->upFind_,
       "SELECT identity, psk FROM upstream_psk_credentials WHERE server = ?1 AND endpoint = ?2",
       "find an upstream PSK"},
  };
  for (const Spec& spec : specs) {
    auto stmt = c.prepare(spec.sql, spec.label);
    if (!stmt) return stmt.error();
    *spec.target = std::move(*stmt);
  }
  return store;
}

Result<bool> SqliteCredentialStore::put(std::string_view identity,
                                        std::span<const std::uint8_t> key,
                                        std::string_view endpoint, std::int64_t nowMs) {
  if (auto ok = core::checkPskIdentity(identity); !ok) return ok.error();
  if (auto ok = core::checkPskKey(key); !ok) return ok.error();
  if (auto ok = lwm2m::checkEndpoint(endpoint); !ok) return ok.error();
  bool existed = false;
  {
    ScopedReset reset(exists_);
    auto row = exists_.bindBlob(1, bytes(identity)).step();
    if (!row) return row.error();
    existed = *row;
  }
  auto saved = put_.bindBlob(1, bytes(identity))
                   .bindBlob(2, key)
                   .bindText(3, endpoint)
                   .bindInt(4, nowMs)
                   .run();
  // The statement keeps its bindings until the next call; the key must not linger in it.
  put_.bindNull(2);
  if (!saved) return saved.error();
  return existed;
}

Result<bool> SqliteCredentialStore::remove(std::string_view identity) {
  auto done = remove_.bindBlob(1, bytes(identity)).run();
  if (!done) return done.error();
  return connection_->changes() > 0;
}

Result<std::vector<core::PskInfo>> SqliteCredentialStore::list(std::string_view endpoint,
                                                               std::size_t limit) {
  Statement& s = endpoint.empty() ? listAll_ : listEndpoint_;
  ScopedReset reset(s);
  s.bindInt(1, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  if (!endpoint.empty()) s.bindText(2, endpoint);
  std::vector<core::PskInfo> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    core::PskInfo info;
    info.identity = identityOf(s, 0);
    info.endpoint = s.columnText(1);
    info.keySet = s.columnInt(2) != 0;
    info.createdAtMs = s.columnInt(3);
    info.updatedAtMs = s.columnInt(4);
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::int64_t> SqliteCredentialStore::count() {
  ScopedReset reset(count_);
  auto row = count_.step();
  if (!row) return row.error();
  return count_.columnInt(0);
}

Result<std::optional<SqliteCredentialStore::Found>> SqliteCredentialStore::find(
    std::string_view identity) {
  ScopedReset reset(find_);
  auto row = find_.bindBlob(1, bytes(identity)).step();
  if (!row) return row.error();
  if (!*row) return std::optional<Found>();
  return std::optional<Found>(Found{find_.columnBlob(0), find_.columnText(1)});
}

Result<bool> SqliteCredentialStore::putUpstream(std::string_view server, std::string_view endpoint,
                                                const std::optional<std::string>& identity,
                                                std::span<const std::uint8_t> key,
                                                std::int64_t nowMs) {
  if (server.empty() || server.size() > 1024) {
    return makeError(ErrorCode::kBadRequest, "the upstream server is its [[upstream]] uri");
  }
  if (!endpoint.empty()) {
    if (auto ok = lwm2m::checkEndpoint(endpoint); !ok) return ok.error();
  } else if (!identity) {
    return makeError(ErrorCode::kBadRequest,
                     "the gateway-wide upstream PSK needs an identity (only a device's PSK "
                     "defaults to its upstream endpoint name)");
  }
  if (identity) {
    if (auto ok = core::checkPskIdentity(*identity); !ok) return ok.error();
  }
  if (auto ok = core::checkPskKey(key); !ok) return ok.error();
  bool existed = false;
  {
    ScopedReset reset(upExists_);
    auto row = upExists_.bindText(1, server).bindText(2, endpoint).step();
    if (!row) return row.error();
    existed = *row;
  }
  upPut_.bindText(1, server).bindText(2, endpoint);
  if (identity) {
    upPut_.bindBlob(3, bytes(*identity));
  } else {
    upPut_.bindNull(3);
  }
  auto saved = upPut_.bindBlob(4, key).bindInt(5, nowMs).run();
  upPut_.bindNull(4);  // the key must not linger in the statement's bindings
  if (!saved) return saved.error();
  return existed;
}

Result<bool> SqliteCredentialStore::removeUpstream(std::string_view server,
                                                   std::string_view endpoint) {
  auto done = upRemove_.bindText(1, server).bindText(2, endpoint).run();
  if (!done) return done.error();
  return connection_->changes() > 0;
}

Result<std::vector<core::UpstreamPskInfo>> SqliteCredentialStore::listUpstream(
    std::string_view server, std::size_t limit) {
  ScopedReset reset(upList_);
  upList_.bindInt(1, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)))
      .bindText(2, server);
  std::vector<core::UpstreamPskInfo> out;
  for (;;) {
    auto row = upList_.step();
    if (!row) return row.error();
    if (!*row) break;
    core::UpstreamPskInfo info;
    info.server = upList_.columnText(0);
    info.endpoint = upList_.columnText(1);
    if (!upList_.columnIsNull(2)) info.identity = identityOf(upList_, 2);
    info.keySet = upList_.columnInt(3) != 0;
    info.createdAtMs = upList_.columnInt(4);
    info.updatedAtMs = upList_.columnInt(5);
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::int64_t> SqliteCredentialStore::countUpstream(std::string_view server) {
  ScopedReset reset(upCount_);
  auto row = upCount_.bindText(1, server).step();
  if (!row) return row.error();
  return upCount_.columnInt(0);
}

Result<std::optional<SqliteCredentialStore::FoundUpstream>> SqliteCredentialStore::findUpstream(
    std::string_view server, std::string_view endpoint) {
  ScopedReset reset(upFind_);
  auto row = upFind_.bindText(1, server).bindText(2, endpoint).step();
  if (!row) return row.error();
  if (!*row) return std::optional<FoundUpstream>();
  FoundUpstream found;
  if (!upFind_.columnIsNull(0)) found.identity = identityOf(upFind_, 0);
  found.key = upFind_.columnBlob(1);
  return std::optional<FoundUpstream>(std::move(found));
}

Result<std::optional<std::string>> SqliteCredentialStore::endpointForIdentity(
    std::string_view identity) {
  ScopedReset reset(endpointOf_);
  auto row = endpointOf_.bindBlob(1, bytes(identity)).step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(endpointOf_.columnText(0));
}

Result<bool> SqliteCredentialStore::endpointHasPsk(std::string_view endpoint) {
  ScopedReset reset(hasEndpoint_);
  auto row = hasEndpoint_.bindText(1, endpoint).step();
  if (!row) return row.error();
  return *row;
}

}  // namespace lwgate::db
