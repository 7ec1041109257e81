#include "modem/trigger.h"

#include <cassert>
#include <string>

namespace lwgate::modem {

std::vector<std::uint8_t> registrationUpdateTrigger(std::uint16_t instance, std::uint16_t messageId,
                                                    std::span<const std::uint8_t> token) {
  assert(token.size() <= 8);
  constexpr std::uint8_t kVersion1Con = 0x40;  // Ver 1, T = CON (0)
  constexpr std::uint8_t kPost = 0x02;
  constexpr std::uint8_t kUriPath = 11;
  std::vector<std::uint8_t> m;
  m.reserve(4 + token.size() + 16);
  m.push_back(static_cast<std::uint8_t>(kVersion1Con | token.size()));
  m.push_back(kPost);
  m.push_back(static_cast<std::uint8_t>(messageId >> 8));
  m.push_back(static_cast<std::uint8_t>(messageId & 0xff));
  for (std::uint8_t b : token) m.push_back(b);
  // Uri-Path "1", "<instance>", "8": option deltas 11, 0, 0; every value fits in 12 bytes.
  const std::string segments[] = {"1", std::to_string(instance), "8"};
  std::uint8_t delta = kUriPath;
  for (const auto& s : segments) {
    m.push_back(static_cast<std::uint8_t>(delta << 4 | s.size()));
    for (char ch : s) m.push_back(static_cast<std::uint8_t>(ch));
    delta = 0;
  }
  return m;
}

}  // namespace lwgate::modem
