#pragma once
// End-to-end helpers for lwgatectl on top of harness.h (TempDir, run, Background, PrivateBus):
// running the CLI under test and reading its --json output. Its own namespace so nothing here
// can clash with another test header.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/harness.h"

namespace lwgate::e2e::clitest {

using namespace std::chrono_literals;

// The lwgatectl binary under test.
std::string lwgatectlPath();
// Runs lwgatectl with the arguments (nothing added) to completion, bounded.
RunResult lwgatectl(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s);

// JSON of a command's stdout; a discarded value (is_discarded()) if it is not JSON.
nlohmann::json parseJson(const std::string& text);
// Every line of text that parses as JSON (monitor --json prints one object per line).
std::vector<nlohmann::json> jsonLines(const std::string& text);

}  // namespace lwgate::e2e::clitest
