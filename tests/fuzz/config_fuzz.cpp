// Fuzz target: lwgated.toml (daemon/config.h). The file is the operator's, but it is also what a
// package upgrade, a config-management tool or a half-written file hands the daemon, and
// parseConfig must turn anything into a Config or errors naming file and line - never an
// exception, a crash or a hang. Properties: no exception escapes; an accepted file parses to
// the same Config again; an error names the file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/daemon/config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lwgate;
  using fuzz::check;
  const auto text = fuzz::asText(data, size);
  auto config = daemon::parseConfig(text, "fuzz.toml");
  if (!config) {
    check(config.error().message.find("fuzz.toml") != std::string::npos, "error names the file");
    return 0;
  }
  auto again = daemon::parseConfig(text, "fuzz.toml");
  check(again.ok() && again->listen == config->listen && again->database == config->database,
        "parsing is deterministic");
  return 0;
}
