#pragma once
// core::RegistrationStore on SQLite: the devices and registrations tables (db/migrations.cpp).
#include <string_view>
#include <vector>

#include "db/database.h"
#include "db/sqlite.h"
#include "gateway/core/registration_store.h"

namespace lwgate::db {

// Statements are prepared once and kept for the life of the store. Every call is one
// transaction: Register is one BEGIN IMMEDIATE .. COMMIT of four or five statement steps, Update
// and De-register a single statement (its own transaction).
//
// Single-threaded like the Connection it uses. The Database must outlive the store.
class SqliteRegistrationStore final : public core::RegistrationStore {
 public:
  // Prepares the statements; fails when the database is not at a schema this store knows.
  static Result<SqliteRegistrationStore> create(Database& database);

  SqliteRegistrationStore(SqliteRegistrationStore&&) noexcept = default;
  SqliteRegistrationStore& operator=(SqliteRegistrationStore&&) noexcept = default;

  Result<void> insertRegistration(const core::Registration& reg) override;
  Result<void> updateRegistration(const core::Registration& reg) override;
  Result<void> deleteRegistration(std::string_view location) override;
  // Rows whose stored object links no longer parse (edited by hand, say) are skipped with a
  // warning instead of failing the start-up: that device gets 4.04 on its next Update and
  // registers again.
  Result<std::vector<core::Registration>> loadRegistrations() override;

 private:
  explicit SqliteRegistrationStore(Connection& connection) : connection_(&connection) {}

  Connection* connection_;
  Statement findDevice_;
  Statement insertDevice_;
  Statement deleteDeviceRegistration_;
  Statement insertRegistration_;
  Statement updateRegistration_;
  Statement deleteRegistration_;
  Statement loadRegistrations_;
};

}  // namespace lwgate::db
