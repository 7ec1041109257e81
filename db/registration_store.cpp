#include "db/registration_store.h"

#include <fmt/format.h>

#include <limits>
#include <utility>

#include "gateway/lwm2m/link_format.h"
#include "gateway/util/log.h"

namespace lwgate::db {
namespace {

// Register: one row per device, so re-registration overwrites the device's row.
constexpr std::string_view kUpsertRegistration = R"sql(
INSERT INTO registrations (location, device_id, lifetime, lifetime_sync_pending, version,
  binding_text, binding_transports, queue_mode, sms_number, object_links, transport, address,
  port, registered_at, updated_at, last_seen)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
ON CONFLICT (device_id) DO UPDATE SET location = excluded.location,
  lifetime = excluded.lifetime, lifetime_sync_pending = excluded.lifetime_sync_pending,
  version = excluded.version, binding_text = excluded.binding_text,
  binding_transports = excluded.binding_transports, queue_mode = excluded.queue_mode,
  sms_number = excluded.sms_number, object_links = excluded.object_links,
  transport = excluded.transport, address = excluded.address, port = excluded.port,
  registered_at = excluded.registered_at, updated_at = excluded.updated_at,
  last_seen = excluded.last_seen
)sql";

constexpr std::string_view kUpdateRegistration = R"sql(
UPDATE registrations SET lifetime = ?3, lifetime_sync_pending = ?4, version = ?5,
  binding_text = ?6, binding_transports = ?7, queue_mode = ?8, sms_number = ?9,
  object_links = ?10, transport = ?11, address = ?12, port = ?13, registered_at = ?14,
  updated_at = ?15, last_seen = ?16
WHERE location = ?1
)sql";

constexpr std::string_view kLoadRegistrations = R"sql(
SELECT r.location, d.endpoint, r.lifetime, r.lifetime_sync_pending, r.version, r.binding_text,
  r.binding_transports, r.queue_mode, r.sms_number, r.object_links, r.transport, r.address,
  r.port, r.registered_at, r.updated_at, r.last_seen
FROM registrations r JOIN devices d ON d.id = r.device_id
ORDER BY r.registered_at, r.location
)sql";

// Binds ?1 and ?3..?16 (everything but the device id) for upsert and update alike.
void bindRegistration(Statement& s, const core::Registration& reg) {
  s.bindText(1, reg.location)
      .bindInt(3, reg.lifetime)
      .bindInt(4, reg.lifetimeSyncPending ? 1 : 0)
      .bindText(5, reg.version)
      .bindText(6, reg.binding.text)
      .bindText(7, reg.binding.transports)
      .bindInt(8, reg.binding.queueMode ? 1 : 0)
      .bindTextOrNull(9, reg.smsNumber)
      .bindText(10, lwm2m::formatObjectList(reg.objects))
      .bindText(11, reg.peer.transport)
      .bindText(12, reg.peer.address)
      .bindInt(13, reg.peer.port)
      .bindInt(14, core::toUnixMillis(reg.registeredAt))
      .bindInt(15, core::toUnixMillis(reg.updatedAt))
      .bindInt(16, core::toUnixMillis(reg.lastSeen));
}

Error withContext(const Error& error, std::string_view context) {
  return makeError(error.code, fmt::format("{}: {}", context, error.message));
}

}  // namespace

Result<std::unique_ptr<SqliteRegistrationStore>> SqliteRegistrationStore::create(Connection& c) {
  std::unique_ptr<SqliteRegistrationStore> store(new SqliteRegistrationStore(c));
  struct Spec {
    Statement* target;
    std::string_view sql;
    const char* label;
  };
  const Spec specs[] = {
      {&store->findDevice_, "SELECT id FROM devices WHERE endpoint = ?1", "find device"},
      {&store->insertDevice_, "INSERT INTO devices (endpoint, created_at) VALUES (?1, ?2)",
       "insert device"},
      {&store->upsertRegistration_, kUpsertRegistration, "insert registration"},
      {&store->updateRegistration_, kUpdateRegistration, "update registration"},
      {&store->deleteRegistration_, "DELETE FROM registrations WHERE location = ?1",
       "delete registration"},
      {&store->loadRegistrations_, kLoadRegistrations, "load registrations"},
  };
  for (const Spec& spec : specs) {
    auto stmt = c.prepare(spec.sql, spec.label);
    if (!stmt) return stmt.error();
    *spec.target = std::move(*stmt);
  }
  return store;
}

Result<void> SqliteRegistrationStore::insertRegistration(const core::Registration& reg) {
  const auto context = [&] {
    return fmt::format("storing registration {} of endpoint {}", reg.location, reg.endpoint);
  };
  auto tx = Transaction::begin(*connection_);
  if (!tx) return withContext(tx.error(), context());

  std::int64_t deviceId = 0;
  {
    ScopedReset reset(findDevice_);
    auto row = findDevice_.bindText(1, reg.endpoint).step();
    if (!row) return withContext(row.error(), context());
    if (*row) deviceId = findDevice_.columnInt(0);
  }
  if (deviceId == 0) {
    // Separate SELECT and INSERT rather than an UPSERT: re-registration (the common case for a
    // known fleet) then writes no device row at all.
    auto r = insertDevice_.bindText(1, reg.endpoint)
                 .bindInt(2, core::toUnixMillis(reg.registeredAt))
                 .run();
    if (!r) return withContext(r.error(), context());
    deviceId = connection_->lastInsertRowid();
  }
  bindRegistration(upsertRegistration_, reg);
  if (auto r = upsertRegistration_.bindInt(2, deviceId).run(); !r) {
    return withContext(r.error(), context());
  }
  if (auto r = tx->commit(); !r) return withContext(r.error(), context());
  return {};
}

Result<void> SqliteRegistrationStore::updateRegistration(const core::Registration& reg) {
  bindRegistration(updateRegistration_, reg);
  if (auto r = updateRegistration_.run(); !r) {
    return withContext(r.error(), fmt::format("updating registration {}", reg.location));
  }
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound, fmt::format("no registration {}", reg.location));
  }
  return {};
}

Result<void> SqliteRegistrationStore::deleteRegistration(std::string_view location) {
  if (auto r = deleteRegistration_.bindText(1, location).run(); !r) {
    return withContext(r.error(), fmt::format("deleting registration {}", location));
  }
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound, fmt::format("no registration {}", location));
  }
  return {};
}

Result<std::vector<core::Registration>> SqliteRegistrationStore::loadRegistrations() {
  // What we stored passed the limits of its day; the configuration may have lowered them since,
  // which must not lose registrations.
  const lwm2m::ObjectListLimits unlimited{.maxLinks = std::numeric_limits<std::size_t>::max()};
  std::vector<core::Registration> out;
  Statement& s = loadRegistrations_;
  ScopedReset reset(s);
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    core::Registration reg;
    reg.location = s.columnText(0);
    reg.endpoint = s.columnText(1);
    auto objects = lwm2m::parseObjectList(s.columnTextView(9), unlimited);
    if (!objects) {
      log::warning("registration {} of endpoint {} has unreadable object links, skipping it: {}",
                   reg.location, reg.endpoint, objects.error().message);
      continue;
    }
    reg.objects = std::move(*objects);
    reg.lifetime = static_cast<std::uint32_t>(s.columnInt(2));
    reg.lifetimeSyncPending = s.columnInt(3) != 0;
    reg.version = s.columnText(4);
    reg.binding.text = s.columnText(5);
    reg.binding.transports = s.columnText(6);
    reg.binding.queueMode = s.columnInt(7) != 0;
    reg.smsNumber = s.columnText(8);  // NULL reads as ""
    reg.peer.transport = s.columnText(10);
    reg.peer.address = s.columnText(11);
    reg.peer.port = static_cast<std::uint16_t>(s.columnInt(12));
    reg.registeredAt = core::fromUnixMillis(s.columnInt(13));
    reg.updatedAt = core::fromUnixMillis(s.columnInt(14));
    reg.lastSeen = core::fromUnixMillis(s.columnInt(15));
    out.push_back(std::move(reg));
  }
  return out;
}

}  // namespace lwgate::db
