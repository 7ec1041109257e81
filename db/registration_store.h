#pragma once
// core::RegistrationStore on SQLite: the devices and registrations tables (db/migrations.cpp).
#include <memory>
#include <string_view>
#include <vector>

#include "db/sqlite.h"
#include "gateway/core/registration_store.h"

namespace lwgate::db {

// Statements are prepared once and kept for the life of the store. Every call is one
// transaction: Register is one BEGIN IMMEDIATE .. COMMIT around two statement steps (find the
// device, upsert its registration) or three for a new device; Update and De-register are a
// single statement each (its own transaction). Called while the daemon holds an outer
// Transaction (group commit), a call becomes part of it: a failed call still undoes all of its
// own changes (a savepoint for Register, statement atomicity for the others) and nothing else.
//
// Single-threaded like the Connection it uses, which must outlive the store (Database keeps its
// Connection at a fixed address, so pass database.connection()).
class SqliteRegistrationStore final : public core::RegistrationStore {
 public:
  // Prepares the statements on a connection from openDatabase(); fails (kStorage, naming the
  // statement and SQLite's reason) when the schema lacks the tables.
  static Result<std::unique_ptr<SqliteRegistrationStore>> create(Connection& connection);

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
  Statement upsertRegistration_;
  Statement updateRegistration_;
  Statement deleteRegistration_;
  Statement loadRegistrations_;
};

}  // namespace lwgate::db
