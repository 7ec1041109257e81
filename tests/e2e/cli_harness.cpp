#include "tests/e2e/cli_harness.h"

#include <sstream>

namespace lwgate::e2e::clitest {

std::string lwgatectlPath() {
  return LWGATECTL_PATH;
}

RunResult lwgatectl(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{LWGATECTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout);
}

nlohmann::json parseJson(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::vector<nlohmann::json> jsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = parseJson(line);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace lwgate::e2e::clitest
