#include "db/sms_log_store.h"

namespace lwgate::db {

Result<std::unique_ptr<SqliteSmsLog>> SqliteSmsLog::create(Connection& c) {
  std::unique_ptr<SqliteSmsLog> log(new SqliteSmsLog(c));
  struct Spec {
    Statement* target;
    const char* sql;
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
      {&log->recent_,
       "SELECT s.id, s.direction, coalesce(d.endpoint, ''), s.msisdn, s.kind, s.request_id, "
       "s.parts, s.reference, s.status, coalesce(s.detail, ''), s.payload, s.created_at, "
       "s.updated_at FROM sms_log s LEFT JOIN devices d ON d.id = s.device_id ORDER BY s.id DESC "
       "LIMIT ?1",
       "list SMS log"},
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

Result<std::vector<SmsLogEntry>> SqliteSmsLog::recent(std::size_t limit) {
  std::vector<SmsLogEntry> out;
  ScopedReset reset(recent_);
  recent_.bindInt(1, static_cast<std::int64_t>(limit));
  for (;;) {
    auto row = recent_.step();
    if (!row) return row.error();
    if (!*row) break;
    SmsLogEntry e;
    e.id = recent_.columnInt(0);
    e.direction = recent_.columnText(1);
    e.endpoint = recent_.columnText(2);
    e.msisdn = recent_.columnText(3);
    e.kind = recent_.columnText(4);
    e.requestId = recent_.columnOptionalInt(5);
    e.parts = static_cast<unsigned>(recent_.columnInt(6));
    e.reference = recent_.columnOptionalInt(7);
    e.status = recent_.columnText(8);
    e.detail = recent_.columnText(9);
    e.payload = recent_.columnBlob(10);
    e.createdAt = core::fromUnixMillis(recent_.columnInt(11));
    e.updatedAt = core::fromUnixMillis(recent_.columnInt(12));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace lwgate::db
