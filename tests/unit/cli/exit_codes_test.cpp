// D-Bus error names to lwgatectl's exit codes (cli/exit_codes.h).
#include "cli/exit_codes.h"

#include <gtest/gtest.h>

namespace lwgate::cli {
namespace {

TEST(ExitCodes, DaemonErrors) {
  EXPECT_EQ(exitCodeForError("org.lwgate.Gateway1.Error.NotFound"), kExitNotFound);
  EXPECT_EQ(exitCodeForError("org.lwgate.Gateway1.Error.InvalidArgs"), kExitRefused);
  EXPECT_EQ(exitCodeForError("org.lwgate.Gateway1.Error.QueueFull"), kExitRefused);
  EXPECT_EQ(exitCodeForError("org.lwgate.Gateway1.Error.TooLarge"), kExitRefused);
  EXPECT_EQ(exitCodeForError("org.lwgate.Gateway1.Error.NotCancellable"), kExitRefused);
  EXPECT_EQ(exitCodeForError("org.lwgate.Gateway1.Error.Failed"), kExitFailed);
  for (const char* refused :
       {"NoSmsNumber", "NoServerInstance", "NoModem", "BackOff", "BudgetExhausted"}) {
    EXPECT_EQ(exitCodeForError(std::string("org.lwgate.Gateway1.Error.") + refused), kExitRefused)
        << refused;
  }
}

TEST(ExitCodes, BusErrors) {
  EXPECT_EQ(exitCodeForError("org.freedesktop.DBus.Error.AccessDenied"), kExitAccess);
  EXPECT_EQ(exitCodeForError("org.freedesktop.DBus.Error.ServiceUnknown"), kExitNoDaemon);
  EXPECT_EQ(exitCodeForError("org.freedesktop.DBus.Error.NameHasNoOwner"), kExitNoDaemon);
  EXPECT_EQ(exitCodeForError("org.freedesktop.DBus.Error.FileNotFound"), kExitNoDaemon);
  EXPECT_EQ(exitCodeForError("System.Error.ECONNREFUSED"), kExitNoDaemon);
  EXPECT_EQ(exitCodeForError("org.freedesktop.DBus.Error.NoReply"), kExitFailed);
  EXPECT_EQ(exitCodeForError("com.example.Whatever"), kExitFailed);
}

TEST(ExitCodes, AreDistinctAndDocumented) {
  std::string help = exitCodeHelp();
  for (int code : {kExitOk, kExitFailed, kExitUsage, kExitNoDaemon, kExitNotFound, kExitAccess,
                   kExitTimeout, kExitRefused}) {
    EXPECT_NE(help.find("\n  " + std::to_string(code) + "  "), std::string::npos) << code;
  }
}

}  // namespace
}  // namespace lwgate::cli
