#include "db/observation_store.h"

#include <fmt/format.h>

#include <limits>

#include "db/columns.h"

namespace lwgate::db {
namespace {}  // namespace

Result<std::unique_ptr<SqliteObservationStore>> SqliteObservationStore::create(Connection& c) {
  std::unique_ptr<SqliteObservationStore> store(new SqliteObservationStore(c));
  struct Spec {
    Statement* target;
    std::string_view sql;
    const char* label;
  };
  const Spec specs[] = {
      {&store->findDevice_, "SELECT id FROM devices WHERE endpoint = ?1", "find device"},
      {&store->insertDevice_, "INSERT INTO devices (endpoint, created_at) VALUES (?1, ?2)",
       "insert device"},
      {&store->insertObservation_,
       "INSERT INTO observations (device_id, path, token, attributes, accept_format, request_id, "
       "created_at, last_observe_seq, last_notification_at, composite) VALUES (?1, ?2, ?3, ?4, "
       "?5, (SELECT id FROM requests WHERE id = ?6), ?7, ?8, ?9, ?10)",
       "insert observation"},
      {&store->saveObservation_,
       "UPDATE observations SET token = ?2, attributes = ?3, accept_format = ?4, request_id = "
       "(SELECT id FROM requests WHERE id = ?5), last_observe_seq = ?6, last_notification_at = "
       "?7 WHERE id = ?1",
       "save observation"},
      {&store->deleteObservation_, "DELETE FROM observations WHERE id = ?1", "delete observation"},
      {&store->loadObservations_,
       "SELECT o.id, d.endpoint, o.path, o.token, o.attributes, o.accept_format, o.request_id, "
       "o.created_at, o.last_observe_seq, o.last_notification_at, o.composite FROM observations o "
       "JOIN devices d ON d.id = o.device_id ORDER BY o.id",
       "load observations"},
      {&store->insertNotification_,
       "INSERT INTO notifications (device_id, kind, observation_id, path, token, observe_seq, "
       "received_at, content_format, payload, decode_error) VALUES (?1, ?10, (SELECT id FROM "
       "observations WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
       "insert notification"},
      // The (keep+1)-th newest and everything older: one walk down notifications_device.
      {&store->pruneNotifications_,
       "DELETE FROM notifications WHERE device_id = ?1 AND id <= (SELECT id FROM notifications "
       "WHERE device_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
       "prune notifications"},
      {&store->listNotifications_,
       "SELECT n.id, d.endpoint, n.observation_id, n.path, n.token, n.observe_seq, n.received_at, "
       "n.content_format, n.payload, n.decode_error, n.kind FROM notifications n JOIN devices d "
       "ON d.id = n.device_id WHERE d.endpoint = ?1 AND n.id > ?2 ORDER BY n.id LIMIT ?3",
       "list notifications"},
  };
  for (const Spec& spec : specs) {
    auto stmt = c.prepare(spec.sql, spec.label);
    if (!stmt) return stmt.error();
    *spec.target = std::move(*stmt);
  }
  return store;
}

Result<std::int64_t> SqliteObservationStore::deviceId(std::string_view endpoint,
                                                      core::WallTime createdAt) {
  {
    ScopedReset reset(findDevice_);
    auto row = findDevice_.bindText(1, endpoint).step();
    if (!row) return row.error();
    if (*row) return findDevice_.columnInt(0);
  }
  auto made = insertDevice_.bindText(1, endpoint).bindInt(2, core::toUnixMillis(createdAt)).run();
  if (!made) return made.error();
  return connection_->lastInsertRowid();
}

Result<std::int64_t> SqliteObservationStore::insertObservation(const core::Observation& o) {
  auto tx = Transaction::begin(*connection_);
  if (!tx) return tx.error();
  auto device = deviceId(o.endpoint, o.createdAt);
  if (!device) return device.error();
  auto inserted = insertObservation_.bindInt(1, *device)
                      .bindText(2, o.path)
                      .bindBlob(3, o.token)
                      .bindTextOrNull(4, o.attributes)
                      .bindOptionalInt(5, widen(o.acceptFormat))
                      .bindOptionalInt(6, o.requestId)
                      .bindInt(7, core::toUnixMillis(o.createdAt))
                      .bindOptionalInt(8, widen(o.lastObserveSeq))
                      .bindOptionalInt(9, optionalMillis(o.lastNotificationAt))
                      .bindInt(10, o.operation == core::Operation::kObserveComposite ? 1 : 0)
                      .run();
  if (!inserted) return inserted.error();
  const std::int64_t id = connection_->lastInsertRowid();
  if (auto c = tx->commit(); !c) return c.error();
  return id;
}

Result<void> SqliteObservationStore::saveObservation(const core::Observation& o) {
  auto saved = saveObservation_.bindInt(1, o.id)
                   .bindBlob(2, o.token)
                   .bindTextOrNull(3, o.attributes)
                   .bindOptionalInt(4, widen(o.acceptFormat))
                   .bindOptionalInt(5, o.requestId)
                   .bindOptionalInt(6, widen(o.lastObserveSeq))
                   .bindOptionalInt(7, optionalMillis(o.lastNotificationAt))
                   .run();
  if (!saved) return saved.error();
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound, fmt::format("no observation {}", o.id));
  }
  return {};
}

Result<void> SqliteObservationStore::deleteObservation(std::int64_t id) {
  return deleteObservation_.bindInt(1, id).run();
}

Result<std::vector<core::Observation>> SqliteObservationStore::loadObservations() {
  std::vector<core::Observation> out;
  ScopedReset reset(loadObservations_);
  for (;;) {
    auto row = loadObservations_.step();
    if (!row) return row.error();
    if (!*row) break;
    const Statement& s = loadObservations_;
    core::Observation o;
    o.id = s.columnInt(0);
    o.endpoint = s.columnText(1);
    o.path = s.columnText(2);
    o.token = s.columnBlob(3);
    if (!s.columnIsNull(4)) o.attributes = s.columnText(4);
    if (auto v = s.columnOptionalInt(5)) o.acceptFormat = static_cast<std::uint16_t>(*v);
    o.requestId = s.columnOptionalInt(6);
    o.createdAt = core::fromUnixMillis(s.columnInt(7));
    if (auto v = s.columnOptionalInt(8)) o.lastObserveSeq = static_cast<std::uint32_t>(*v);
    o.lastNotificationAt = optionalTime(s, 9);
    o.operation =
        s.columnInt(10) != 0 ? core::Operation::kObserveComposite : core::Operation::kObserve;
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::int64_t> SqliteObservationStore::insertNotification(const core::Notification& n,
                                                                std::size_t keep) {
  auto tx = Transaction::begin(*connection_);
  if (!tx) return tx.error();
  auto device = deviceId(n.endpoint, n.receivedAt);
  if (!device) return device.error();
  auto inserted = insertNotification_.bindInt(1, *device)
                      .bindOptionalInt(2, n.observationId)
                      .bindTextOrNull(3, n.path)
                      .bindBlob(4, n.token)
                      .bindOptionalInt(5, widen(n.observeSeq))
                      .bindInt(6, core::toUnixMillis(n.receivedAt))
                      .bindOptionalInt(7, widen(n.contentFormat))
                      .bindBlob(8, n.payload)
                      .bindTextOrNull(9, n.decodeError.value_or(""))
                      .bindText(10, core::notificationKindName(n.kind))
                      .run();
  if (!inserted) return inserted.error();
  const std::int64_t id = connection_->lastInsertRowid();
  const auto bound = static_cast<std::int64_t>(
      std::min<std::size_t>(keep, std::numeric_limits<std::int64_t>::max()));
  if (auto pruned = pruneNotifications_.bindInt(1, *device).bindInt(2, bound).run(); !pruned) {
    return pruned.error();
  }
  if (auto c = tx->commit(); !c) return c.error();
  return id;
}

Result<std::vector<core::Notification>> SqliteObservationStore::listNotifications(
    std::string_view endpoint, std::size_t limit, std::int64_t afterId) {
  std::vector<core::Notification> out;
  ScopedReset reset(listNotifications_);
  listNotifications_.bindText(1, endpoint)
      .bindInt(2, afterId)
      .bindInt(3, static_cast<std::int64_t>(
                      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
  for (;;) {
    auto row = listNotifications_.step();
    if (!row) return row.error();
    if (!*row) break;
    const Statement& s = listNotifications_;
    core::Notification n;
    n.id = s.columnInt(0);
    n.endpoint = s.columnText(1);
    n.observationId = s.columnOptionalInt(2);
    if (!s.columnIsNull(3)) n.path = s.columnText(3);
    n.token = s.columnBlob(4);
    if (auto v = s.columnOptionalInt(5)) n.observeSeq = static_cast<std::uint32_t>(*v);
    n.receivedAt = core::fromUnixMillis(s.columnInt(6));
    if (auto v = s.columnOptionalInt(7)) n.contentFormat = static_cast<std::uint16_t>(*v);
    n.payload = s.columnBlob(8);
    if (!s.columnIsNull(9)) n.decodeError = s.columnText(9);
    n.kind = s.columnText(10) == "send" ? core::NotificationKind::kSend
                                        : core::NotificationKind::kNotify;
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace lwgate::db
