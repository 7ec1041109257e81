#pragma once
// In-memory RegistrationStore for core tests, with switchable failures. Like the SQLite one, it
// keeps one registration per endpoint and commits each call atomically.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/registration_store.h"

namespace lwgate::testing {

class FakeStore final : public core::RegistrationStore {
 public:
  Result<void> insertRegistration(const core::Registration& reg) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    std::erase_if(rows, [&](const auto& kv) { return kv.second.endpoint == reg.endpoint; });
    rows[reg.location] = reg;
    return {};
  }
  Result<void> updateRegistration(const core::Registration& reg) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    auto it = rows.find(reg.location);
    if (it == rows.end()) return makeError(ErrorCode::kNotFound, "no such location");
    it->second = reg;
    return {};
  }
  Result<void> deleteRegistration(std::string_view location) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    if (rows.erase(std::string(location)) == 0) return makeError(ErrorCode::kNotFound, "none");
    return {};
  }
  Result<std::vector<core::Registration>> loadRegistrations() override {
    std::vector<core::Registration> out;
    for (const auto& [loc, reg] : rows) {
      core::Registration copy = reg;
      copy.expiresAt = {};
      out.push_back(copy);
    }
    return out;
  }

  std::map<std::string, core::Registration> rows;  // by location
  bool fail = false;                               // every write fails with kStorage
};

}  // namespace lwgate::testing
