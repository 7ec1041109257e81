#pragma once
// Rows of the SMS log (db/sms_log_store.h keeps them in the sms_log table): every SMS sent or
// received, for operators (D-Bus ListSms, lwgatectl sms log) and for the budgets.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/clock.h"

namespace lwgate::core {

struct SmsLogEntry {
  std::int64_t id = 0;
  std::string direction;  // "out", "in"
  std::string endpoint;   // empty: not a known device
  std::string msisdn;
  std::string kind;  // "trigger", "coap", "other"
  std::optional<std::int64_t> requestId;
  unsigned parts = 1;
  std::optional<std::int64_t> reference;  // TP-MR of the last part sent
  std::string status;                     // "queued", "sent", "delivered", "failed", "received"
  std::string detail;
  std::vector<std::uint8_t> payload;
  WallTime createdAt{};
  WallTime updatedAt{};
};

// Which rows a caller wants (ListSms).
struct SmsLogFilter {
  std::optional<std::string> endpoint;   // that device's only
  std::optional<std::string> direction;  // "in" or "out"
  // 0: the newest `limit` rows; else the first `limit` rows with an id above it (paging on).
  std::int64_t afterId = 0;
  std::size_t limit = 100;
};

}  // namespace lwgate::core
