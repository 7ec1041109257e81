#pragma once
// lwgatectl's exit codes (documented in --help and lwgatectl(1), EXIT STATUS) and the mapping
// from D-Bus error names to them. Pure, so the mapping is unit-tested.
#include <string>
#include <string_view>

namespace lwgate::cli {

enum ExitCode : int {
  kExitOk = 0,
  // The request ended failed, expired or cancelled; the device answered 4.xx/5.xx; the daemon
  // failed (Error.Failed: database); any error not listed below.
  kExitFailed = 1,
  kExitUsage = 2,     // the command line is wrong (CLI11's errors, values that do not parse)
  kExitNoDaemon = 3,  // lwgated is not running or the bus cannot be reached
  kExitNotFound = 4,  // no such device or request (Error.NotFound)
  kExitAccess = 5,    // the bus policy refused the call (org.freedesktop.DBus.Error.AccessDenied)
  kExitTimeout = 6,   // --wait ran out before the request finished
  kExitRefused = 7,   // the daemon refused the arguments: InvalidArgs, QueueFull, TooLarge,
                      // NotCancellable
};

// The exit code for a D-Bus error name (org.lwgate.Gateway1.Error.*, org.freedesktop.DBus.Error.*
// and sd-bus's System.Error.<errno> for failures to connect).
ExitCode exitCodeForError(std::string_view errorName);

// The "EXIT STATUS" text of --help.
std::string exitCodeHelp();

}  // namespace lwgate::cli
