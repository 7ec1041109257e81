#pragma once
// core::DeviceSettings on SQLite: the awake_window_ms, sms_number and server_instance columns of
// the devices table (db/migrations.cpp). One statement per call.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/sqlite.h"
#include "gateway/core/device_settings.h"

namespace lwgate::db {

class SqliteDeviceSettingsStore {
 public:
  static Result<std::unique_ptr<SqliteDeviceSettingsStore>> create(Connection& connection);

  // nullopt when the endpoint has no device row (it never registered).
  Result<std::optional<core::DeviceSettings>> load(std::string_view endpoint);
  // kNotFound when the endpoint has no device row.
  Result<void> save(std::string_view endpoint, const core::DeviceSettings& settings);
  // Every device with at least one setting.
  Result<std::vector<std::pair<std::string, core::DeviceSettings>>> loadAll();

 private:
  SqliteDeviceSettingsStore() = default;
  Connection* connection_ = nullptr;
  Statement load_;
  Statement save_;
  Statement loadAll_;
};

}  // namespace lwgate::db
