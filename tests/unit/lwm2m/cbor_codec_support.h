#pragma once
// Shared by the SenML CBOR and LwM2M CBOR codec tests: a hand-written object model and hex
// helpers, so the tests do not move when the compiled-in registry data changes.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/lwm2m/object_model.h"
#include "gateway/lwm2m/path.h"

namespace lwgate::lwm2m::testing::cbor_codec {

using Bytes = std::vector<std::uint8_t>;

// Part of the Device object (3) and a test object (9000) with one resource of every type;
// anything else is unknown.
class TestModel final : public ObjectModel {
 public:
  std::optional<ResourceInfo> resource(std::uint16_t o, std::uint16_t r) const override {
    if (o == 3) {
      switch (r) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 14:
        case 15:
        case 16:
          return ResourceInfo{DataType::kString};
        case 6:
        case 7:
        case 8:
        case 11:
          return ResourceInfo{DataType::kInteger, true};
        case 9:
        case 10:
          return ResourceInfo{DataType::kInteger};
        case 13:
          return ResourceInfo{DataType::kTime};
        case 22:
          return ResourceInfo{DataType::kObjlnk, true};
        default:
          return std::nullopt;
      }
    }
    if (o == 9000 && r <= 8) {
      static constexpr DataType kTypes[] = {
          DataType::kString, DataType::kInteger, DataType::kUnsignedInteger,
          DataType::kFloat,  DataType::kBoolean, DataType::kOpaque,
          DataType::kTime,   DataType::kObjlnk,  DataType::kCoreLink};
      return ResourceInfo{kTypes[r]};
    }
    if (o == 9000 && r == 9) return ResourceInfo{DataType::kInteger, true};
    return std::nullopt;
  }
};

inline const TestModel kModel;

inline Path path(std::string_view text) {
  return *Path::parse(text);
}

inline std::string toHex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

// Hex digits to bytes; spaces are for the reader.
inline Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    if (c == ' ') continue;
    const int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    if (high < 0) {
      high = digit;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + digit));
      high = -1;
    }
  }
  return out;
}

}  // namespace lwgate::lwm2m::testing::cbor_codec
