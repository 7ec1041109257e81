// lwgated: the lwgate LwM2M gateway daemon. Thin main: options in, daemon/ does the work.
#include <coap3/coap.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "gateway/daemon/daemon.h"
#include "lwgate/version.h"

int main(int argc, char** argv) {
  using namespace lwgate;
  CLI::App app{
      "lwgated - LwM2M gateway daemon: registrations, persistent downlink queue, SMS "
      "wake-up and upstream bridge for the devices around this router",
      "lwgated"};
  daemon::Overrides o;
  std::string configPath, database, logLevel, checkFile;
  bool version = false;
  app.add_option("-c,--config", configPath,
                 std::string("TOML configuration file (default: ") + daemon::kDefaultConfigPath +
                     " when it exists)");
  app.add_option(
      "--db", database,
      std::string("SQLite database file (default: ") + daemon::kDefaultDatabasePath + ")");
  app.add_option("--listen", o.listen,
                 "CoAP/UDP address HOST:PORT or [IPv6]:PORT to listen on, repeatable; port 0 "
                 "picks a free port (logged). Replaces [server] listen");
  std::string bus;
  app.add_option("--bus", bus,
                 "D-Bus to offer org.lwgate.Gateway1 on: system (default), session, none, or an "
                 "address such as unix:path=/run/dbus/system_bus_socket. Replaces [dbus] bus");
  app.add_option("--log-level", logLevel, "error, warning, notice, info (default) or debug");
  auto* check = app.add_option("--check-config", checkFile,
                               "validate the configuration (FILE, or --config, or the default "
                               "file) and exit 0 if it is valid, 1 if not")
                    ->expected(0, 1);
  std::string restoreFile;
  auto* restore =
      app.add_option("--restore", restoreFile,
                     "replace the database (--db, or the configuration's) with a copy of FILE, "
                     "an lwgate database such as a backup, keeping the current one as "
                     "<db>.before-restore-<unix time>, and exit: 0 restored, 1 refused or "
                     "failed (nothing changed), 2 the database is in use (stop lwgated first)");
  restore->type_name("FILE");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::printf("lwgated %s (%s, SQLite %s)\n", kVersion, LIBCOAP_PACKAGE_STRING,
                sqlite3_libversion());
    return 0;
  }
  if (!configPath.empty()) o.configPath = configPath;
  if (!database.empty()) o.database = database;
  if (!bus.empty()) o.bus = bus;
  if (!logLevel.empty()) {
    log::Level level;
    if (!log::parseLevel(logLevel, &level)) {
      std::fprintf(stderr,
                   "lwgated: --log-level: unknown level \"%s\" (use error, warning, "
                   "notice, info or debug)\n",
                   logLevel.c_str());
      return 1;
    }
    o.logLevel = level;
  }
  if (check->count() > 0) {
    if (!checkFile.empty()) o.configPath = checkFile;
    std::string source;
    auto config = daemon::resolveConfig(o, &source);
    if (!config) {
      std::fprintf(stderr, "lwgated: configuration is invalid:\n%s\n",
                   config.error().message.c_str());
      return 1;
    }
    std::string upstreams;
    for (const auto& u : config->upstreams) upstreams += (upstreams.empty() ? "" : ", ") + u.uri;
    std::printf("lwgated: configuration OK (%s)%s%s\n",
                source.empty() ? "built-in defaults" : source.c_str(),
                upstreams.empty() ? "" : "; bridged to ", upstreams.c_str());
    return 0;
  }
  if (restore->count() > 0) {
    if (check->count() > 0) {
      std::fprintf(stderr, "lwgated: --restore and --check-config do not go together\n");
      return 1;
    }
    return daemon::runRestore(o, restoreFile);
  }
  return daemon::runDaemon(o);
}
