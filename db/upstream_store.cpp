#include "db/upstream_store.h"

namespace lwgate::db {

namespace {

// The rows of a bound statement selecting (id, content_format, payload) of notifications.
Result<std::vector<bridge::StoredNotification>> storedNotifications(Statement& statement) {
  std::vector<bridge::StoredNotification> out;
  for (;;) {
    auto row = statement.step();
    if (!row) return row.error();
    if (!*row) break;
    bridge::StoredNotification n;
    n.id = statement.columnInt(0);
    if (!statement.columnIsNull(1)) {
      n.contentFormat = static_cast<std::uint16_t>(statement.columnInt(1));
    }
    n.payload = statement.columnBlob(2);
    out.push_back(std::move(n));
  }
  return out;
}

std::string joinLocation(const std::vector<std::string>& segments) {
  std::string out;
  for (const auto& s : segments) (out += out.empty() ? "" : "/") += s;
  return out;
}

std::vector<std::string> splitLocation(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto slash = text.find('/');
    out.emplace_back(text.substr(0, slash));
    if (slash == std::string_view::npos) break;
    text.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<SqliteUpstreamStore>> SqliteUpstreamStore::create(Connection& c) {
  std::unique_ptr<SqliteUpstreamStore> store(new SqliteUpstreamStore());
  store->connection_ = &c;
  struct Spec {
    Statement* target;
    const char* sql;
    const char* label;
  };
  const Spec specs[] = {
      {&store->saveRegistration_,
       "INSERT INTO upstream_registrations (server, device_id, endpoint, location, lifetime, "
       "version, queue_mode, object_links, updated_at) "
       "SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM devices WHERE endpoint = ?2 "
       "ON CONFLICT (server, device_id) DO UPDATE SET endpoint = excluded.endpoint, "
       "location = excluded.location, lifetime = excluded.lifetime, version = excluded.version, "
       "queue_mode = excluded.queue_mode, object_links = excluded.object_links, "
       "updated_at = excluded.updated_at",
       "save an upstream registration"},
      {&store->removeRegistration_,
       "DELETE FROM upstream_registrations WHERE server = ?1 AND device_id = "
       "(SELECT id FROM devices WHERE endpoint = ?2)",
       "remove an upstream registration"},
      {&store->loadRegistrations_,
       "SELECT u.server, d.endpoint, u.endpoint, u.location, u.lifetime, u.version, "
       "u.queue_mode, u.object_links, u.updated_at FROM upstream_registrations u "
       "JOIN devices d ON d.id = u.device_id ORDER BY u.server, d.endpoint",
       "load the upstream registrations"},
      // The Observe flag is the request's operation: no column of its own.
      {&store->insertExchange_,
       "INSERT INTO upstream_exchanges (request_id, server, token, answer_by) "
       "VALUES (?1, ?2, ?3, ?4)",
       "store an upstream exchange"},
      {&store->deleteExchange_, "DELETE FROM upstream_exchanges WHERE request_id = ?1",
       "delete an upstream exchange"},
      {&store->loadExchanges_,
       "SELECT x.request_id, x.server, d.endpoint, x.token, x.answer_by, r.operation "
       "FROM upstream_exchanges x JOIN requests r ON r.id = x.request_id "
       "JOIN devices d ON d.id = r.device_id ORDER BY x.request_id",
       "load the upstream exchanges"},
      {&store->insertObservation_,
       "INSERT INTO upstream_observations (server, device_id, token, path, request_id, "
       "created_at) SELECT ?1, id, ?3, ?4, ?5, ?6 FROM devices WHERE endpoint = ?2",
       "store an upstream observation"},
      {&store->establishObservation_,
       "UPDATE upstream_observations SET observation_id = ?2, forwarded_id = ?3 WHERE id = ?1",
       "establish an upstream observation"},
      {&store->setForwarded_,
       "UPDATE upstream_observations SET forwarded_id = ?2 WHERE id = ?1 AND forwarded_id < ?2",
       "advance an upstream observation"},
      {&store->deleteObservation_, "DELETE FROM upstream_observations WHERE id = ?1",
       "delete an upstream observation"},
      {&store->loadObservations_,
       "SELECT u.id, u.server, d.endpoint, u.token, u.path, u.request_id, u.observation_id, "
       "u.forwarded_id FROM upstream_observations u JOIN devices d ON d.id = u.device_id "
       "ORDER BY u.id",
       "load the upstream observations"},
      {&store->observationOf_,
       "SELECT o.id, (SELECT max(n.id) FROM notifications n WHERE n.observation_id = o.id) "
       "FROM observations o WHERE o.request_id = ?1 ORDER BY o.id DESC LIMIT 1",
       "find the observation of a request"},
      {&store->notificationsAfter_,
       "SELECT id, content_format, payload FROM notifications WHERE observation_id = ?1 AND "
       "id > ?2 ORDER BY id LIMIT ?3",
       "load the notifications to forward"},
      {&store->startSends_,
       "INSERT OR IGNORE INTO upstream_sends (server, device_id, forwarded_id) SELECT ?1, id, ?3 "
       "FROM devices WHERE endpoint = ?2",
       "start forwarding Sends"},
      {&store->setSendsForwarded_,
       "UPDATE upstream_sends SET forwarded_id = max(forwarded_id, ?3) WHERE server = ?1 AND "
       "device_id = (SELECT id "
       "FROM devices WHERE endpoint = ?2)",
       "save the forwarded Sends"},
      {&store->loadSendCursors_,
       "SELECT s.server, d.endpoint, s.forwarded_id FROM upstream_sends s JOIN devices d ON d.id "
       "= s.device_id ORDER BY s.server, d.endpoint",
       "load the forwarded Sends"},
      {&store->sendsAfter_,
       "SELECT n.id, n.content_format, n.payload FROM notifications n WHERE n.device_id = (SELECT "
       "id FROM devices WHERE endpoint = ?1) AND n.id > ?2 AND n.kind = 'send' ORDER BY n.id "
       "LIMIT ?3",
       "load the Sends to forward"},
  };
  for (const Spec& spec : specs) {
    auto stmt = c.prepare(spec.sql, spec.label);
    if (!stmt) return stmt.error();
    *spec.target = std::move(*stmt);
  }
  return store;
}

Result<void> SqliteUpstreamStore::saveRegistration(const bridge::StoredRegistration& r) {
  auto saved = saveRegistration_.bindText(1, r.server)
                   .bindText(2, r.device)
                   .bindText(3, r.told.endpoint)
                   .bindText(4, joinLocation(r.location))
                   .bindInt(5, r.told.lifetime)
                   .bindText(6, r.told.version)
                   .bindInt(7, r.told.queueMode ? 1 : 0)
                   .bindText(8, r.told.objectLinks)
                   .bindInt(9, core::toUnixMillis(r.updatedAt))
                   .run();
  if (!saved) return saved.error();
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound,
                     "no device \"" + r.device + "\" to keep an upstream registration for");
  }
  return {};
}

Result<void> SqliteUpstreamStore::removeRegistration(std::string_view server,
                                                     std::string_view device) {
  return removeRegistration_.bindText(1, server).bindText(2, device).run();
}

Result<std::vector<bridge::StoredRegistration>> SqliteUpstreamStore::loadRegistrations() {
  std::vector<bridge::StoredRegistration> out;
  ScopedReset reset(loadRegistrations_);
  for (;;) {
    auto row = loadRegistrations_.step();
    if (!row) return row.error();
    if (!*row) break;
    const Statement& s = loadRegistrations_;
    bridge::StoredRegistration r;
    r.server = s.columnText(0);
    r.device = s.columnText(1);
    r.told.endpoint = s.columnText(2);
    r.location = splitLocation(s.columnTextView(3));
    r.told.lifetime = static_cast<std::uint32_t>(s.columnInt(4));
    r.told.version = s.columnText(5);
    r.told.queueMode = s.columnInt(6) != 0;
    r.told.objectLinks = s.columnText(7);
    r.updatedAt = core::fromUnixMillis(s.columnInt(8));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace lwgate::db

namespace lwgate::db {

Result<void> SqliteUpstreamStore::insertExchange(const bridge::Exchange& e) {
  return insertExchange_.bindInt(1, e.requestId)
      .bindText(2, e.server)
      .bindBlob(3, e.token)
      .bindInt(4, core::toUnixMillis(e.answerBy))
      .run();
}

Result<void> SqliteUpstreamStore::deleteExchange(std::int64_t requestId) {
  return deleteExchange_.bindInt(1, requestId).run();
}

Result<std::vector<bridge::Exchange>> SqliteUpstreamStore::loadExchanges() {
  std::vector<bridge::Exchange> out;
  ScopedReset reset(loadExchanges_);
  for (;;) {
    auto row = loadExchanges_.step();
    if (!row) return row.error();
    if (!*row) break;
    const Statement& s = loadExchanges_;
    bridge::Exchange e;
    e.requestId = s.columnInt(0);
    e.server = s.columnText(1);
    e.device = s.columnText(2);
    e.token = s.columnBlob(3);
    e.answerBy = core::fromUnixMillis(s.columnInt(4));
    const std::string op = s.columnText(5);
    e.observe = op == "observe" || op == "observe-composite";
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace lwgate::db

namespace lwgate::db {

Result<std::int64_t> SqliteUpstreamStore::insertObservation(const bridge::UpstreamObservation& o) {
  auto& st = insertObservation_.bindText(1, o.server)
                 .bindText(2, o.device)
                 .bindBlob(3, o.token)
                 .bindText(4, o.path);
  st.bindOptionalInt(5, o.requestId)
      .bindInt(6, core::toUnixMillis(std::chrono::system_clock::now()));
  if (auto ran = st.run(); !ran) return ran.error();
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound, "no device " + o.device);
  }
  return connection_->lastInsertRowid();
}

Result<void> SqliteUpstreamStore::establishObservation(std::int64_t id, std::int64_t observationId,
                                                       std::int64_t forwardedId) {
  return establishObservation_.bindInt(1, id)
      .bindInt(2, observationId)
      .bindInt(3, forwardedId)
      .run();
}

Result<void> SqliteUpstreamStore::setForwarded(std::int64_t id, std::int64_t forwardedId) {
  return setForwarded_.bindInt(1, id).bindInt(2, forwardedId).run();
}

Result<void> SqliteUpstreamStore::deleteObservation(std::int64_t id) {
  return deleteObservation_.bindInt(1, id).run();
}

Result<std::vector<bridge::UpstreamObservation>> SqliteUpstreamStore::loadObservations() {
  std::vector<bridge::UpstreamObservation> out;
  ScopedReset reset(loadObservations_);
  for (;;) {
    auto row = loadObservations_.step();
    if (!row) return row.error();
    if (!*row) break;
    const Statement& s = loadObservations_;
    bridge::UpstreamObservation o;
    o.id = s.columnInt(0);
    o.server = s.columnText(1);
    o.device = s.columnText(2);
    o.token = s.columnBlob(3);
    o.path = s.columnText(4);
    if (!s.columnIsNull(5)) o.requestId = s.columnInt(5);
    if (!s.columnIsNull(6)) o.observationId = s.columnInt(6);
    o.forwardedId = s.columnInt(7);
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::optional<std::pair<std::int64_t, std::int64_t>>> SqliteUpstreamStore::observationOf(
    std::int64_t requestId) {
  ScopedReset reset(observationOf_);
  observationOf_.bindInt(1, requestId);
  auto row = observationOf_.step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::pair<std::int64_t, std::int64_t>>();
  const std::int64_t newest = observationOf_.columnIsNull(1) ? 0 : observationOf_.columnInt(1);
  return std::optional(std::make_pair(observationOf_.columnInt(0), newest));
}

Result<std::vector<bridge::StoredNotification>> SqliteUpstreamStore::notificationsAfter(
    std::int64_t observationId, std::int64_t afterId, std::size_t limit) {
  ScopedReset reset(notificationsAfter_);
  notificationsAfter_.bindInt(1, observationId)
      .bindInt(2, afterId)
      .bindInt(3, static_cast<std::int64_t>(limit));
  return storedNotifications(notificationsAfter_);
}

Result<void> SqliteUpstreamStore::startSends(std::string_view server, std::string_view device,
                                             std::int64_t forwardedId) {
  auto started = startSends_.bindText(1, server).bindText(2, device).bindInt(3, forwardedId).run();
  if (!started) return started.error();
  return {};
}

Result<void> SqliteUpstreamStore::setSendsForwarded(std::string_view server,
                                                    std::string_view device,
                                                    std::int64_t forwardedId) {
  auto saved =
      setSendsForwarded_.bindText(1, server).bindText(2, device).bindInt(3, forwardedId).run();
  if (!saved) return saved.error();
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound, "no forwarded Sends of " + std::string(device) +
                                               " for " + std::string(server));
  }
  return {};
}

Result<std::vector<bridge::SendCursor>> SqliteUpstreamStore::loadSendCursors() {
  std::vector<bridge::SendCursor> out;
  ScopedReset reset(loadSendCursors_);
  for (;;) {
    auto row = loadSendCursors_.step();
    if (!row) return row.error();
    if (!*row) break;
    const Statement& s = loadSendCursors_;
    out.push_back({s.columnText(0), s.columnText(1), s.columnInt(2)});
  }
  return out;
}

Result<std::vector<bridge::StoredNotification>> SqliteUpstreamStore::sendsAfter(
    std::string_view device, std::int64_t afterId, std::size_t limit) {
  ScopedReset reset(sendsAfter_);
  sendsAfter_.bindText(1, device).bindInt(2, afterId).bindInt(3, static_cast<std::int64_t>(limit));
  return storedNotifications(sendsAfter_);
}

}  // namespace lwgate::db
