#pragma once
// Shared by the SenML JSON and LwM2M JSON codec tests.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "gateway/lwm2m/object_model.h"
#include "gateway/lwm2m/path.h"

namespace lwgate::lwm2m::testing::json_codec {

// A hand-written model so these tests do not move when the compiled-in registry data changes:
// the Device object (3) as far as the examples need it, and a test object 9999 with one resource
// of every data type. Object 3303 (temperature) is deliberately unknown.
class TestModel final : public ObjectModel {
 public:
  TestModel() {
    for (std::uint16_t r : {0, 1, 2, 3, 14, 15, 16, 17, 18, 19}) add(3, r, DataType::kString);
    for (std::uint16_t r : {9, 10, 20, 21}) add(3, r, DataType::kInteger);
    for (std::uint16_t r : {6, 7, 8, 11}) add(3, r, DataType::kInteger, true);
    add(3, 13, DataType::kTime);
    add(9999, 0, DataType::kString);
    add(9999, 1, DataType::kInteger);
    add(9999, 2, DataType::kUnsignedInteger);
    add(9999, 3, DataType::kFloat);
    add(9999, 4, DataType::kBoolean);
    add(9999, 5, DataType::kOpaque);
    add(9999, 6, DataType::kTime);
    add(9999, 7, DataType::kObjlnk);
    add(9999, 8, DataType::kCoreLink);
    add(9999, 9, DataType::kInteger, true);
  }
  std::optional<ResourceInfo> resource(std::uint16_t objectId,
                                       std::uint16_t resourceId) const override {
    auto it = resources_.find({objectId, resourceId});
    if (it == resources_.end()) return std::nullopt;
    return it->second;
  }

 private:
  void add(std::uint16_t o, std::uint16_t r, DataType type, bool multiple = false) {
    resources_[{o, r}] = ResourceInfo{type, multiple, false};
  }
  std::map<std::pair<std::uint16_t, std::uint16_t>, ResourceInfo> resources_;
};

inline const TestModel kModel;

inline std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline Path path(std::string_view text) {
  auto p = Path::parse(text);
  EXPECT_TRUE(p.ok()) << text;
  return p.ok() ? *p : Path();
}

}  // namespace lwgate::lwm2m::testing::json_codec
