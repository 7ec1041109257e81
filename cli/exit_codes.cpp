#include "cli/exit_codes.h"

#include <array>
#include <utility>

namespace lwgate::cli {

ExitCode exitCodeForError(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, ExitCode>, 25> kMap{{
      {"org.lwgate.Gateway1.Error.NotFound", kExitNotFound},
      {"org.lwgate.Gateway1.Error.InvalidArgs", kExitRefused},
      {"org.lwgate.Gateway1.Error.QueueFull", kExitRefused},
      {"org.lwgate.Gateway1.Error.TooLarge", kExitRefused},
      {"org.lwgate.Gateway1.Error.NotCancellable", kExitRefused},
      {"org.lwgate.Gateway1.Error.LimitReached", kExitRefused},
      // Wake's refusals: nothing was sent.
      {"org.lwgate.Gateway1.Error.NoSmsNumber", kExitRefused},
      {"org.lwgate.Gateway1.Error.NoServerInstance", kExitRefused},
      {"org.lwgate.Gateway1.Error.NoModem", kExitRefused},
      {"org.lwgate.Gateway1.Error.BackOff", kExitRefused},
      {"org.lwgate.Gateway1.Error.BudgetExhausted", kExitRefused},
      {"org.lwgate.Gateway1.Error.Failed", kExitFailed},
      {"org.freedesktop.DBus.Error.AccessDenied", kExitAccess},
      {"org.freedesktop.DBus.Error.AuthFailed", kExitAccess},
      {"System.Error.EACCES", kExitAccess},
      {"System.Error.EPERM", kExitAccess},
      // No daemon on the bus (not activatable, or activation failed) ...
      {"org.freedesktop.DBus.Error.ServiceUnknown", kExitNoDaemon},
      {"org.freedesktop.DBus.Error.NameHasNoOwner", kExitNoDaemon},
      {"org.freedesktop.DBus.Error.Spawn.ServiceNotFound", kExitNoDaemon},
      // ... or no bus: sd-bus reports a failed connect(2) as System.Error.<errno>.
      {"org.freedesktop.DBus.Error.NoServer", kExitNoDaemon},
      {"org.freedesktop.DBus.Error.Disconnected", kExitNoDaemon},
      {"org.freedesktop.DBus.Error.FileNotFound", kExitNoDaemon},  // sd-bus's ENOENT
      {"System.Error.ENOENT", kExitNoDaemon},
      {"System.Error.ECONNREFUSED", kExitNoDaemon},
      {"System.Error.ENOTCONN", kExitNoDaemon},
  }};
  for (const auto& [error, code] : kMap) {
    if (name == error) return code;
  }
  // The daemon went away while we talked to it.
  if (name == "System.Error.ECONNRESET" || name == "System.Error.EPIPE" ||
      name == "System.Error.ESHUTDOWN") {
    return kExitNoDaemon;
  }
  return kExitFailed;
}

std::string exitCodeHelp() {
  return "Exit status:\n"
         "  0  success (with --wait: the device answered 2.xx)\n"
         "  1  the request failed, expired or was cancelled, the device answered 4.xx/5.xx,\n"
         "     or the daemon failed\n"
         "  2  usage error (unknown verb or option, a value that does not parse)\n"
         "  3  lwgated is not running or the bus cannot be reached (or it left while --wait\n"
         "     waited)\n"
         "  4  no such device or request\n"
         "  5  access denied by the bus policy\n"
         "  6  --wait timed out\n"
         "  7  the daemon refused the arguments (invalid path or value, queue full, too large,\n"
         "     not cancellable) or the wake-up (no SMS number or server instance, no modem,\n"
         "     back-off, budget exhausted)\n";
}

}  // namespace lwgate::cli
