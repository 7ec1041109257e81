#pragma once
// core::ObservationStore on SQLite: the observations and notifications tables
// (db/migrations.cpp).
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "db/sqlite.h"
#include "gateway/core/observation.h"

namespace lwgate::db {

// Statements are prepared once. insertObservation and insertNotification are one transaction
// each (a savepoint inside the daemon's batch transaction): device row, insert, and for
// notifications the pruning of the device's oldest beyond the bound. The others are one
// statement each. Single-threaded like its Connection, which must outlive the store.
class SqliteObservationStore final : public core::ObservationStore {
 public:
  static Result<std::unique_ptr<SqliteObservationStore>> create(Connection& connection);

  Result<std::int64_t> insertObservation(const core::Observation& o) override;
  Result<void> saveObservation(const core::Observation& o) override;
  Result<void> deleteObservation(std::int64_t id) override;
  Result<std::vector<core::Observation>> loadObservations() override;
  Result<std::int64_t> insertNotification(const core::Notification& n, std::size_t keep) override;
  // Notifications come back with payload and decode error as stored; records are not filled
  // in (core::decodeNotification does that).
  Result<std::vector<core::Notification>> listNotifications(std::string_view endpoint,
                                                            std::size_t limit,
                                                            std::int64_t afterId) override;

 private:
  explicit SqliteObservationStore(Connection& connection) : connection_(&connection) {}
  Result<std::int64_t> deviceId(std::string_view endpoint, core::WallTime createdAt);

  Connection* connection_;
  Statement findDevice_;
  Statement insertDevice_;
  Statement insertObservation_;
  Statement saveObservation_;
  Statement deleteObservation_;
  Statement loadObservations_;
  Statement insertNotification_;
  Statement pruneNotifications_;
  Statement listNotifications_;
};

}  // namespace lwgate::db
