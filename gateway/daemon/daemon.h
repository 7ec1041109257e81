#pragma once
// lwgated's wiring: one sd-event loop on the main thread (DESIGN.md "Threads") that owns libcoap,
// SQLite and the core state machines. Start-up is linear (config, database and migrations,
// registrations restored, sockets bound) and only then READY=1 is sent to systemd.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/daemon/config.h"

namespace lwgate::daemon {

// What the command line says; it wins over the config file.
struct Overrides {
  std::optional<std::string> configPath;  // --config (else kDefaultConfigPath if it exists)
  std::optional<std::string> database;    // --db
  std::vector<std::string> listen;        // --listen (repeatable; replaces [server] listen)
  std::optional<log::Level> logLevel;     // --log-level
  std::optional<std::string> bus;         // --bus (replaces [dbus] bus)
};

// Loads the config file named by the overrides (or the default one when it exists, or built-in
// defaults) and applies the overrides. `source` is set to the file used, or "" for defaults.
Result<Config> resolveConfig(const Overrides& overrides, std::string* source);

// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
int runDaemon(const Overrides& overrides);

// Exit codes of runRestore().
inline constexpr int kRestoreOk = 0;
inline constexpr int kRestoreRefused = 1;  // FILE unusable, or an I/O error: nothing changed
inline constexpr int kRestoreInUse = 2;    // lwgated (or another program) has the database open

// lwgated --restore FILE: puts a copy of FILE (an lwgate database: a Backup, a pre-migration
// "<db>.schema-vN.bak") in place of the configured database, keeping the current one as
// "<db>.before-restore-<unix time>", and returns. The next start migrates it forward.
int runRestore(const Overrides& overrides, const std::string& file);

}  // namespace lwgate::daemon
