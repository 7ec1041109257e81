#include "gateway/util/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

namespace lwgate::log {
namespace {
std::atomic<Level> gLevel{Level::kInfo};
}

void setLevel(Level l) {
  gLevel.store(l, std::memory_order_relaxed);
}
Level level() {
  return gLevel.load(std::memory_order_relaxed);
}

bool parseLevel(std::string_view t, Level* out) {
  struct Name {
    std::string_view name;
    Level level;
  };
  static constexpr Name kNames[] = {{"error", Level::kError},     {"err", Level::kError},
                                    {"warning", Level::kWarning}, {"warn", Level::kWarning},
                                    {"notice", Level::kNotice},   {"info", Level::kInfo},
                                    {"debug", Level::kDebug}};
  for (const auto& n : kNames) {
    if (n.name == t) {
      *out = n.level;
      return true;
    }
  }
  return false;
}

void write(Level l, std::string_view message) {
  std::string line = fmt::format("<{}>", static_cast<int>(l));
  line.reserve(line.size() + message.size() + 1);
  for (char c : message) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  line.push_back('\n');
  // One write(2) per line so lines from different threads never interleave.
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace lwgate::log
