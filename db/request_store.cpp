#include "db/request_store.h"

#include <fmt/format.h>

#include "db/columns.h"

namespace lwgate::db {
namespace {

// Columns of every SELECT below, in this order (see readRequest).
constexpr std::string_view kColumns = R"sql(
r.id, d.endpoint, r.operation, r.path, r.payload, r.content_format, r.accept_format,
r.idempotency_key, r.state, r.created_at, r.deadline, r.attempts, r.coap_mid, r.coap_token,
r.sent_at, r.response_code, r.response_payload, r.response_format, r.reason, r.finished_at,
r.urgent
)sql";

Result<core::DownlinkRequest> readRequest(const Statement& s) {
  core::DownlinkRequest r;
  r.id = s.columnInt(0);
  r.endpoint = s.columnText(1);
  auto op = core::parseOperation(s.columnTextView(2));
  auto state = core::parseState(s.columnTextView(8));
  if (!op || !state) {
    return makeError(ErrorCode::kStorage,
                     fmt::format("request {} has an unknown operation or state", r.id));
  }
  r.operation = *op;
  r.state = *state;
  r.path = s.columnText(3);
  r.payload = s.columnBlob(4);
  if (auto v = s.columnOptionalInt(5)) r.contentFormat = static_cast<std::uint16_t>(*v);
  if (auto v = s.columnOptionalInt(6)) r.acceptFormat = static_cast<std::uint16_t>(*v);
  if (!s.columnIsNull(7)) r.idempotencyKey = s.columnText(7);
  r.createdAt = core::fromUnixMillis(s.columnInt(9));
  r.deadline = optionalTime(s, 10);
  r.attempts = static_cast<unsigned>(s.columnInt(11));
  if (auto v = s.columnOptionalInt(12)) r.messageId = static_cast<std::uint16_t>(*v);
  r.token = s.columnBlob(13);
  r.sentAt = optionalTime(s, 14);
  if (auto v = s.columnOptionalInt(15)) r.responseCode = static_cast<std::uint8_t>(*v);
  r.responsePayload = s.columnBlob(16);
  if (auto v = s.columnOptionalInt(17)) r.responseFormat = static_cast<std::uint16_t>(*v);
  if (!s.columnIsNull(18)) r.reason = s.columnText(18);
  r.finishedAt = optionalTime(s, 19);
  r.urgent = s.columnInt(20) != 0;
  return r;
}

}  // namespace

Result<std::unique_ptr<SqliteRequestStore>> SqliteRequestStore::create(Connection& c) {
  std::unique_ptr<SqliteRequestStore> store(new SqliteRequestStore(c));
  const std::string select = fmt::format(
      "SELECT {} FROM requests r JOIN devices d ON d.id = "
      "r.device_id ",
      kColumns);
  struct Spec {
    Statement* target;
    std::string sql;
    const char* label;
  };
  const Spec specs[] = {
      {&store->findDevice_, "SELECT id FROM devices WHERE endpoint = ?1", "find device"},
      {&store->insertDevice_, "INSERT INTO devices (endpoint, created_at) VALUES (?1, ?2)",
       "insert device"},
      {&store->insertRequest_,
       // seq orders a device's queue. max(id) is the rightmost key of the table's b-tree (one
       // page read), where a per-device max(seq) walked every row the device ever had: 440
       // inserts/s after 20,000 requests (bench/run-drain-bench.sh). Every seq so taken is above
       // every earlier one, old per-device numbering included, since those never exceed max(id).
       "INSERT INTO requests (device_id, seq, operation, path, payload, content_format, "
       "accept_format, idempotency_key, state, created_at, deadline, coap_token, urgent) VALUES "
       "(?1, (SELECT coalesce(max(id), 0) + 1 FROM requests), ?2, ?3, ?4, ?5, "
       "?6, ?7, 'queued', ?8, ?9, ?10, ?11)",
       "insert request"},
      // The same for a device that has a row, found in the same statement: one statement,
      // atomic by itself, where a new device needs a savepoint, a lookup and two inserts.
      {&store->insertForKnownDevice_,
       "INSERT INTO requests (device_id, seq, operation, path, payload, content_format, "
       "accept_format, idempotency_key, state, created_at, deadline, coap_token, urgent) SELECT "
       "d.id, (SELECT coalesce(max(id), 0) + 1 FROM requests), ?2, ?3, ?4, ?5, "
       "?6, ?7, 'queued', ?8, ?9, ?10, ?11 FROM devices d WHERE d.endpoint = ?1",
       "insert request for a known device"},
      {&store->findByKey_, select + "WHERE d.endpoint = ?1 AND r.idempotency_key = ?2",
       "find request by idempotency key"},
      {&store->findById_, select + "WHERE r.id = ?1", "find request"},
      {&store->save_,
       "UPDATE requests SET state = ?2, deadline = ?3, attempts = ?4, coap_mid = ?5, "
       "coap_token = ?6, sent_at = ?7, response_code = ?8, response_payload = ?9, "
       "response_format = ?10, reason = ?11, finished_at = ?12 WHERE id = ?1",
       "save request"},
      {&store->loadUnfinished_,
       select + "WHERE r.state IN ('queued', 'in_flight') ORDER BY r.device_id, r.seq",
       "load unfinished requests"},
  };
  for (const Spec& spec : specs) {
    auto stmt = c.prepare(spec.sql, spec.label);
    if (!stmt) return stmt.error();
    *spec.target = std::move(*stmt);
  }
  return store;
}

// Binds parameters 2.. of both insert statements (1 is the device: its id or its endpoint).
Statement& SqliteRequestStore::bindRequest(Statement& insert, const core::DownlinkRequest& r) {
  return insert.bindText(2, core::operationName(r.operation))
      .bindText(3, r.path)
      .bindBlob(4, r.payload)
      .bindOptionalInt(5, widen(r.contentFormat))
      .bindOptionalInt(6, widen(r.acceptFormat))
      .bindTextOrNull(7, r.idempotencyKey.value_or(""))
      .bindInt(8, core::toUnixMillis(r.createdAt))
      .bindOptionalInt(9, optionalMillis(r.deadline))
      .bindBlob(10, r.token)  // a caller's token (Observe, Cancel-Observe)
      .bindInt(11, r.urgent ? 1 : 0);
}

Result<std::int64_t> SqliteRequestStore::insertRequest(const core::DownlinkRequest& r) {
  {
    auto inserted = bindRequest(insertForKnownDevice_.bindText(1, r.endpoint), r).run();
    if (!inserted) return inserted.error();
    if (connection_->changes() == 1) return connection_->lastInsertRowid();
  }
  // A request may wait for a device that has not registered yet (provisioning ahead): its row
  // and the request in one savepoint.
  auto tx = Transaction::begin(*connection_);
  if (!tx) return tx.error();
  auto made =
      insertDevice_.bindText(1, r.endpoint).bindInt(2, core::toUnixMillis(r.createdAt)).run();
  if (!made) return made.error();
  const std::int64_t deviceId = connection_->lastInsertRowid();
  auto inserted = bindRequest(insertRequest_.bindInt(1, deviceId), r).run();
  if (!inserted) return inserted.error();
  const std::int64_t id = connection_->lastInsertRowid();
  if (auto c = tx->commit(); !c) return c.error();
  return id;
}

Result<std::optional<core::DownlinkRequest>> SqliteRequestStore::one(Statement& query) {
  ScopedReset reset(query);
  auto row = query.step();
  if (!row) return row.error();
  if (!*row) return std::optional<core::DownlinkRequest>();
  auto r = readRequest(query);
  if (!r) return r.error();
  return std::optional<core::DownlinkRequest>(std::move(*r));
}

Result<std::optional<core::DownlinkRequest>> SqliteRequestStore::findByIdempotencyKey(
    std::string_view endpoint, std::string_view key) {
  findByKey_.bindText(1, endpoint).bindText(2, key);
  return one(findByKey_);
}

Result<std::optional<core::DownlinkRequest>> SqliteRequestStore::findRequest(std::int64_t id) {
  findById_.bindInt(1, id);
  return one(findById_);
}

Result<void> SqliteRequestStore::saveRequest(const core::DownlinkRequest& r) {
  auto saved = save_.bindInt(1, r.id)
                   .bindText(2, core::stateName(r.state))
                   .bindOptionalInt(3, optionalMillis(r.deadline))
                   .bindInt(4, r.attempts)
                   .bindOptionalInt(5, widen(r.messageId))
                   .bindBlob(6, r.token)
                   .bindOptionalInt(7, optionalMillis(r.sentAt))
                   .bindOptionalInt(8, widen(r.responseCode))
                   .bindBlob(9, r.responsePayload)
                   .bindOptionalInt(10, widen(r.responseFormat))
                   .bindTextOrNull(11, r.reason)
                   .bindOptionalInt(12, optionalMillis(r.finishedAt))
                   .run();
  if (!saved) return saved.error();
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound, fmt::format("no request {}", r.id));
  }
  return {};
}

Result<std::vector<core::DownlinkRequest>> SqliteRequestStore::all(Statement& query) {
  std::vector<core::DownlinkRequest> out;
  ScopedReset reset(query);
  for (;;) {
    auto row = query.step();
    if (!row) return row.error();
    if (!*row) break;
    auto r = readRequest(query);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<std::vector<core::DownlinkRequest>> SqliteRequestStore::loadUnfinished() {
  return all(loadUnfinished_);
}

Result<std::vector<core::DownlinkRequest>> SqliteRequestStore::listRequests(const Filter& f) {
  // Built per call (a handful of shapes); states are bound from the fixed set of names.
  std::string sql = fmt::format(
      "SELECT {} FROM requests r JOIN devices d ON d.id = r.device_id WHERE r.id > ?1", kColumns);
  if (f.endpoint) sql += " AND d.endpoint = ?2";
  if (!f.states.empty()) {
    sql += " AND r.state IN (";
    for (std::size_t k = 0; k < f.states.size(); ++k) {
      sql += fmt::format("{}?{}", k ? ", " : "", k + 4);
    }
    sql += ")";
  }
  sql += " ORDER BY r.id LIMIT ?3";
  auto query = connection_->prepare(sql, "list requests");
  if (!query) return query.error();
  query->bindInt(1, f.afterId).bindInt(3, static_cast<std::int64_t>(f.limit));
  if (f.endpoint) query->bindText(2, *f.endpoint);
  for (std::size_t k = 0; k < f.states.size(); ++k) {
    query->bindText(static_cast<int>(k + 4), core::stateName(f.states[k]));
  }
  return all(*query);
}

Result<std::optional<std::uint16_t>> SqliteRequestStore::lastMessageId() {
  auto query = connection_->prepare(
      "SELECT coap_mid FROM requests WHERE sent_at IS NOT NULL AND coap_mid IS NOT NULL "
      "ORDER BY sent_at DESC, id DESC LIMIT 1",
      "find the last Message ID");
  if (!query) return query.error();
  auto row = query->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::uint16_t>();
  return std::optional<std::uint16_t>(static_cast<std::uint16_t>(query->columnInt(0)));
}

Result<bool> SqliteRequestStore::deviceKnown(std::string_view endpoint) {
  ScopedReset reset(findDevice_);
  auto row = findDevice_.bindText(1, endpoint).step();
  if (!row) return row.error();
  return *row;
}

}  // namespace lwgate::db
