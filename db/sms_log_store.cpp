#include "db/sms_log_store.h"

#include <algorithm>

namespace lwgate::db {

namespace {

const std::string kSelect =
    "SELECT s.id, s.direction, coalesce(d.endpoint, ''), s.msisdn, s.kind, s.request_id, "
    "s.parts, s.reference, s.status, coalesce(s.detail, ''), s.payload, s.created_at, "
    "s.updated_at FROM sms_log s LEFT JOIN devices d ON d.id = s.device_id ";
const std::string kFilter =
    "WHERE (?1 IS NULL OR d.endpoint = ?1) AND (?2 IS NULL OR s.direction = ?2) AND s.id > ?3 ";

}  // namespace

Result<std::unique_ptr<SqliteSmsLog>> SqliteSmsLog::create(Connection& c) {
  std::unique_ptr<SqliteSmsLog> log(new SqliteSmsLog(c));
  struct Spec {
    Statement* target;
    std::string sql;
    const char* label;
  };
  const Spec specs[] = {
      {&log->findDevice_, "SELECT id FROM devices WHERE endpoint = ?1", "find device"},
      {&log->insert_,
       "INSERT INTO sms_log (direction, device_id, msisdn, kind, request_id, parts, status, "
       "detail, payload, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
       "?10)",
       "insert SMS log entry"},
      {&log->update_,
       "UPDATE sms_log SET status = ?2, reference = coalesce(?3, reference), detail = ?4, "
       "updated_at = ?5 WHERE id = ?1",
       "update SMS log entry"},
      {&log->updateByReference_,
       "UPDATE sms_log SET status = ?3, detail = ?4, updated_at = ?5 WHERE id = (SELECT id FROM "
       "sms_log WHERE direction = 'out' AND reference = ?2 AND (msisdn = ?1 OR (length(?1) >= 8 "
       "AND substr(msisdn, -8) = substr(?1, -8))) ORDER BY id DESC LIMIT 1)",
       "update SMS log entry by reference"},
      {&log->outgoingSince_,
       "SELECT coalesce(d.endpoint, ''), s.created_at, s.parts, s.status = 'failed', s.kind = "
       "'trigger' FROM sms_log s LEFT JOIN devices d ON d.id = s.device_id WHERE s.direction = "
       "'out' AND s.created_at > ?1 ORDER BY s.created_at",
       "list recent outgoing SMS"},
      {&log->recent_, kSelect + "ORDER BY s.id DESC LIMIT ?1", "list SMS log"},
      // ?1 endpoint or NULL, ?2 direction or NULL, ?3 after id, ?4 limit. The newest rows come
      // out newest first (the index walk) and are turned round by the caller.
      {&log->newest_, kSelect + kFilter + "ORDER BY s.id DESC LIMIT ?4", "list newest SMS"},
      {&log->after_, kSelect + kFilter + "ORDER BY s.id LIMIT ?4", "list SMS after an id"},
  };
  for (const Spec& spec : specs) {
    auto stmt = c.prepare(spec.sql, spec.label);
    if (!stmt) return stmt.error();
    *spec.target = std::move(*stmt);
  }
  return log;
}

Result<std::optional<std::int64_t>> SqliteSmsLog::deviceId(std::string_view endpoint) {
  if (endpoint.empty()) return std::optional<std::int64_t>();
  ScopedReset reset(findDevice_);
  auto row = findDevice_.bindText(1, endpoint).step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(findDevice_.columnInt(0));
}

Result<std::int64_t> SqliteSmsLog::insertOutgoing(std::string_view endpoint,
                                                  std::string_view msisdn, std::string_view kind,
                                                  std::optional<std::int64_t> requestId,
                                                  unsigned parts, core::WallTime at) {
  auto device = deviceId(endpoint);
  if (!device) return device.error();
  auto inserted = insert_.bindText(1, "out")
                      .bindOptionalInt(2, *device)
                      .bindText(3, msisdn)
                      .bindText(4, kind)
                      .bindOptionalInt(5, requestId)
                      .bindInt(6, parts)
                      .bindText(7, "queued")
                      .bindNull(8)
                      .bindNull(9)
                      .bindInt(10, core::toUnixMillis(at))
                      .run();
  if (!inserted) return inserted.error();
  return connection_->lastInsertRowid();
}

Result<void> SqliteSmsLog::updateStatus(std::int64_t id, std::string_view status,
                                        std::optional<std::int64_t> reference,
                                        std::string_view detail, core::WallTime at) {
  auto updated = update_.bindInt(1, id)
                     .bindText(2, status)
                     .bindOptionalInt(3, reference)
                     .bindTextOrNull(4, detail)
                     .bindInt(5, core::toUnixMillis(at))
                     .run();
  if (!updated) return updated.error();
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound, "no SMS log entry " + std::to_string(id));
  }
  return {};
}

Result<bool> SqliteSmsLog::updateByReference(std::string_view msisdn, std::int64_t reference,
                                             std::string_view status, std::string_view detail,
                                             core::WallTime at) {
  auto updated = updateByReference_.bindText(1, msisdn)
                     .bindInt(2, reference)
                     .bindText(3, status)
                     .bindTextOrNull(4, detail)
                     .bindInt(5, core::toUnixMillis(at))
                     .run();
  if (!updated) return updated.error();
  return connection_->changes() > 0;
}

Result<std::int64_t> SqliteSmsLog::insertIncoming(std::string_view endpoint,
                                                  std::string_view msisdn, std::string_view kind,
                                                  unsigned parts,
                                                  std::span<const std::uint8_t> payload,
                                                  std::string_view status, std::string_view detail,
                                                  core::WallTime at) {
  auto device = deviceId(endpoint);
  if (!device) return device.error();
  auto inserted = insert_.bindText(1, "in")
                      .bindOptionalInt(2, *device)
                      .bindText(3, msisdn)
                      .bindText(4, kind)
                      .bindNull(5)
                      .bindInt(6, parts)
                      .bindText(7, status)
                      .bindTextOrNull(8, detail)
                      .bindBlob(9, payload)
                      .bindInt(10, core::toUnixMillis(at))
                      .run();
  if (!inserted) return inserted.error();
  return connection_->lastInsertRowid();
}

Result<std::vector<core::SentSms>> SqliteSmsLog::outgoingSince(core::WallTime since) {
  std::vector<core::SentSms> out;
  ScopedReset reset(outgoingSince_);
  outgoingSince_.bindInt(1, core::toUnixMillis(since));
  // Bounded by the table's rows of one day, which the budgets themselves bound.
  for (;;) {
    auto row = outgoingSince_.step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({outgoingSince_.columnText(0), core::fromUnixMillis(outgoingSince_.columnInt(1)),
                   static_cast<unsigned>(outgoingSince_.columnInt(2)),
                   outgoingSince_.columnInt(3) != 0, outgoingSince_.columnInt(4) != 0});
  }
  return out;
}

Result<std::vector<SmsLogEntry>> SqliteSmsLog::entries(Statement& query) {
  std::vector<SmsLogEntry> out;
  ScopedReset reset(query);
  for (;;) {
    auto row = query.step();
    if (!row) return row.error();
    if (!*row) break;
    SmsLogEntry e;
    e.id = query.columnInt(0);
    e.direction = query.columnText(1);
    e.endpoint = query.columnText(2);
    e.msisdn = query.columnText(3);
    e.kind = query.columnText(4);
    e.requestId = query.columnOptionalInt(5);
    e.parts = static_cast<unsigned>(query.columnInt(6));
    e.reference = query.columnOptionalInt(7);
    e.status = query.columnText(8);
    e.detail = query.columnText(9);
    e.payload = query.columnBlob(10);
    e.createdAt = core::fromUnixMillis(query.columnInt(11));
    e.updatedAt = core::fromUnixMillis(query.columnInt(12));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<SmsLogEntry>> SqliteSmsLog::recent(std::size_t limit) {
  recent_.bindInt(1, static_cast<std::int64_t>(limit));
  return entries(recent_);
}

Result<std::vector<SmsLogEntry>> SqliteSmsLog::list(const SmsLogFilter& f) {
  Statement& query = f.afterId > 0 ? after_ : newest_;
  if (f.endpoint) {
    query.bindText(1, *f.endpoint);
  } else {
    query.bindNull(1);
  }
  if (f.direction) {
    query.bindText(2, *f.direction);
  } else {
    query.bindNull(2);
  }
  query.bindInt(3, f.afterId).bindInt(4, static_cast<std::int64_t>(f.limit));
  auto out = entries(query);
  if (out && f.afterId <= 0) std::reverse(out->begin(), out->end());
  return out;
}

}  // namespace lwgate::db
