#pragma once
// The sms_log table (db/migrations.cpp): every SMS sent or received, the audit trail and what
// the SMS budgets and back-off count after a restart (core::WakePolicy::restore).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "db/sqlite.h"
#include "gateway/core/clock.h"
#include "gateway/core/sms_log.h"
#include "gateway/core/wake_policy.h"

namespace lwgate::db {

using SmsLogEntry = core::SmsLogEntry;
using SmsLogFilter = core::SmsLogFilter;

// Prepared once; single-threaded like its Connection, which must outlive it.
class SqliteSmsLog {
 public:
  static Result<std::unique_ptr<SqliteSmsLog>> create(Connection& connection);

  // An SMS handed to the modem ("queued"). endpoint may be empty; a known endpoint is linked to
  // its device row. Returns the row id.
  Result<std::int64_t> insertOutgoing(std::string_view endpoint, std::string_view msisdn,
                                      std::string_view kind, std::optional<std::int64_t> requestId,
                                      unsigned parts, core::WallTime at);
  // The modem's answer: "sent" with the message reference, or "failed" with why.
  Result<void> updateStatus(std::int64_t id, std::string_view status,
                            std::optional<std::int64_t> reference, std::string_view detail,
                            core::WallTime at);
  // A delivery report for the newest outgoing SMS to `msisdn` with this TP-MR. The number is
  // compared on its last 8 digits too: a report may give it in national format. False when no
  // entry matched.
  Result<bool> updateByReference(std::string_view msisdn, std::int64_t reference,
                                 std::string_view status, std::string_view detail,
                                 core::WallTime at);
  // A received (reassembled) message.
  Result<std::int64_t> insertIncoming(std::string_view endpoint, std::string_view msisdn,
                                      std::string_view kind, unsigned parts,
                                      std::span<const std::uint8_t> payload,
                                      std::string_view status, std::string_view detail,
                                      core::WallTime at);

  // Outgoing SMS created after `since`, for the budgets: "failed" ones are marked so.
  Result<std::vector<core::SentSms>> outgoingSince(core::WallTime since);
  // The newest entries first, at most `limit` (lwgatectl sms log, tests).
  Result<std::vector<SmsLogEntry>> recent(std::size_t limit);
  // Rows matching the filter, oldest (lowest id) first.
  Result<std::vector<SmsLogEntry>> list(const SmsLogFilter& filter);

 private:
  explicit SqliteSmsLog(Connection& connection) : connection_(&connection) {}
  Result<std::optional<std::int64_t>> deviceId(std::string_view endpoint);
  static Result<std::vector<SmsLogEntry>> entries(Statement& query);

  Connection* connection_;
  Statement findDevice_;
  Statement insert_;
  Statement update_;
  Statement updateByReference_;
  Statement outgoingSince_;
  Statement recent_;
  Statement newest_;  // list() without afterId
  Statement after_;   // list() with afterId
};

}  // namespace lwgate::db
