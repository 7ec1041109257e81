#include "db/device_settings_store.h"

namespace lwgate::db {
namespace {

core::DeviceSettings readSettings(const Statement& s, int first) {
  core::DeviceSettings out;
  if (auto ms = s.columnOptionalInt(first)) out.awakeWindow = core::Millis(*ms);
  if (!s.columnIsNull(first + 1)) out.smsNumber = s.columnText(first + 1);
  if (auto i = s.columnOptionalInt(first + 2)) {
    out.serverInstance = static_cast<std::uint16_t>(*i);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<SqliteDeviceSettingsStore>> SqliteDeviceSettingsStore::create(
    Connection& c) {
  std::unique_ptr<SqliteDeviceSettingsStore> store(new SqliteDeviceSettingsStore());
  store->connection_ = &c;
  struct Spec {
    Statement* target;
    const char* sql;
    const char* label;
  };
  const Spec specs[] = {
      {&store->load_,
       "SELECT awake_window_ms, sms_number, server_instance FROM devices WHERE endpoint = ?1",
       "load device settings"},
      {&store->save_,
       "UPDATE devices SET awake_window_ms = ?2, sms_number = ?3, server_instance = ?4 "
       "WHERE endpoint = ?1",
       "save device settings"},
      {&store->loadAll_,
       "SELECT endpoint, awake_window_ms, sms_number, server_instance FROM devices WHERE "
       "awake_window_ms IS NOT NULL OR sms_number IS NOT NULL OR server_instance IS NOT NULL",
       "load all device settings"},
  };
  for (const Spec& spec : specs) {
    auto stmt = c.prepare(spec.sql, spec.label);
    if (!stmt) return stmt.error();
    *spec.target = std::move(*stmt);
  }
  return store;
}

Result<std::optional<core::DeviceSettings>> SqliteDeviceSettingsStore::load(
    std::string_view endpoint) {
  ScopedReset reset(load_);
  auto row = load_.bindText(1, endpoint).step();
  if (!row) return row.error();
  if (!*row) return std::optional<core::DeviceSettings>();
  return std::optional<core::DeviceSettings>(readSettings(load_, 0));
}

Result<void> SqliteDeviceSettingsStore::save(std::string_view endpoint,
                                             const core::DeviceSettings& s) {
  std::optional<std::int64_t> window;
  if (s.awakeWindow) window = s.awakeWindow->count();
  std::optional<std::int64_t> instance;
  if (s.serverInstance) instance = *s.serverInstance;
  auto saved = save_.bindText(1, endpoint)
                   .bindOptionalInt(2, window)
                   .bindTextOrNull(3, s.smsNumber)
                   .bindOptionalInt(4, instance)
                   .run();
  if (!saved) return saved.error();
  if (connection_->changes() == 0) {
    return makeError(ErrorCode::kNotFound,
                     "no device \"" + std::string(endpoint) + "\" (it never registered here)");
  }
  return {};
}

Result<std::vector<std::pair<std::string, core::DeviceSettings>>>
SqliteDeviceSettingsStore::loadAll() {
  std::vector<std::pair<std::string, core::DeviceSettings>> out;
  ScopedReset reset(loadAll_);
  for (;;) {
    auto row = loadAll_.step();
    if (!row) return row.error();
    if (!*row) break;
    out.emplace_back(loadAll_.columnText(0), readSettings(loadAll_, 1));
  }
  return out;
}

}  // namespace lwgate::db
