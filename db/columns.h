#pragma once
// Conversions between the stores' column conventions (db/migrations.cpp: times are INTEGER Unix
// milliseconds, optional values NULL) and core's types.
#include <cstdint>
#include <optional>

#include "db/sqlite.h"
#include "gateway/core/clock.h"

namespace lwgate::db {

inline std::optional<core::WallTime> optionalTime(const Statement& s, int column) {
  auto ms = s.columnOptionalInt(column);
  if (!ms) return std::nullopt;
  return core::fromUnixMillis(*ms);
}

inline std::optional<std::int64_t> optionalMillis(const std::optional<core::WallTime>& t) {
  if (!t) return std::nullopt;
  return core::toUnixMillis(*t);
}

template <class T>
std::optional<std::int64_t> widen(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

}  // namespace lwgate::db
