#pragma once
// core::RequestStore on SQLite: the requests table (db/migrations.cpp), one row per downlink
// request from submission to its final state.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/sqlite.h"
#include "gateway/core/request_store.h"

namespace lwgate::db {

// Statements are prepared once. insertRequest is one transaction (device row, next seq, insert;
// a savepoint inside the daemon's batch transaction); the others are one statement each.
// Single-threaded like its Connection, which must outlive the store.
class SqliteRequestStore final : public core::RequestStore {
 public:
  static Result<std::unique_ptr<SqliteRequestStore>> create(Connection& connection);

  Result<std::int64_t> insertRequest(const core::DownlinkRequest& request) override;
  Result<std::optional<core::DownlinkRequest>> findByIdempotencyKey(std::string_view endpoint,
                                                                    std::string_view key) override;
  Result<void> saveRequest(const core::DownlinkRequest& request) override;
  Result<std::vector<core::DownlinkRequest>> loadUnfinished() override;
  // One request in any state (callers asking for a result after it left the queue's memory).
  Result<std::optional<core::DownlinkRequest>> findRequest(std::int64_t id);

  using Filter = core::RequestFilter;
  // Requests matching the filter, oldest (lowest id) first.
  Result<std::vector<core::DownlinkRequest>> listRequests(const Filter& filter);
  // Whether the endpoint ever registered (or had a request queued for it).
  Result<bool> deviceKnown(std::string_view endpoint);
  // The Message ID of the exchange started last (the latest sent_at), if any: a restarted
  // gateway counts on from there instead of reusing IDs a device still remembers.
  Result<std::optional<std::uint16_t>> lastMessageId();

 private:
  explicit SqliteRequestStore(Connection& connection) : connection_(&connection) {}
  Result<std::optional<core::DownlinkRequest>> one(Statement& query);
  static Result<std::vector<core::DownlinkRequest>> all(Statement& query);
  static Statement& bindRequest(Statement& insert, const core::DownlinkRequest& r);

  Connection* connection_;
  Statement findDevice_;
  Statement insertDevice_;
  Statement insertRequest_;
  Statement insertForKnownDevice_;
  Statement findByKey_;
  Statement findById_;
  Statement save_;
  Statement loadUnfinished_;
};

}  // namespace lwgate::db
