#pragma once
// Logging to stderr with sd-daemon(3) "<N>" priority prefixes, which journald turns into
// priorities. Messages for operators start with a stable id ("LWG1001") so they can be grepped
// and documented (docs/LOG-MESSAGES.md). Formatting uses {fmt} (GCC 12 has no std::format).
#include <fmt/format.h>

#include <string_view>

namespace lwgate::log {

enum class Level { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

void setLevel(Level level);
Level level();
inline bool enabled(Level l) {
  return static_cast<int>(l) <= static_cast<int>(level());
}
// Accepts "error", "warning", "notice", "info", "debug" (and "err", "warn").
bool parseLevel(std::string_view text, Level* out);
// Writes one line; newlines inside the message are replaced so one event stays one line.
void write(Level level, std::string_view message);

template <class... Args>
void at(Level l, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(l)) write(l, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  at(Level::kError, f, std::forward<Args>(args)...);
}
template <class... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  at(Level::kWarning, f, std::forward<Args>(args)...);
}
template <class... Args>
void notice(fmt::format_string<Args...> f, Args&&... args) {
  at(Level::kNotice, f, std::forward<Args>(args)...);
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  at(Level::kInfo, f, std::forward<Args>(args)...);
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  at(Level::kDebug, f, std::forward<Args>(args)...);
}

}  // namespace lwgate::log
