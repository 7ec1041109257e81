#pragma once
// The bridge's state on SQLite (the upstream_* tables of db/migrations.cpp, schema 5): upstream
// registrations (bridge::UpstreamRegistrationStore). One statement per call.
#include <memory>
#include <string_view>
#include <vector>

#include "bridge/registration.h"
#include "db/sqlite.h"

namespace lwgate::db {

class SqliteUpstreamStore final : public bridge::UpstreamRegistrationStore {
 public:
  static Result<std::unique_ptr<SqliteUpstreamStore>> create(Connection& connection);

  // bridge::UpstreamRegistrationStore. Saving needs the device's row (it registered here):
  // kNotFound otherwise.
  Result<void> saveRegistration(const bridge::StoredRegistration& r) override;
  Result<void> removeRegistration(std::string_view server, std::string_view device) override;
  Result<std::vector<bridge::StoredRegistration>> loadRegistrations() override;

 private:
  SqliteUpstreamStore() = default;
  Connection* connection_ = nullptr;
  Statement saveRegistration_;
  Statement removeRegistration_;
  Statement loadRegistrations_;
};

}  // namespace lwgate::db
