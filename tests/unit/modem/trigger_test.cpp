#include "modem/trigger.h"

#include <gtest/gtest.h>

#include "modem/sms_codec.h"

namespace lwgate::modem {
namespace {

TEST(Trigger, ConfirmablePostToServerInstanceResource8) {
  const std::vector<std::uint8_t> token{0xde, 0xad, 0xbe, 0xef};
  auto m = registrationUpdateTrigger(0, 0x1234, token);
  // 0x44: Ver 1, CON, TKL 4; 0.02 POST; MID; token; Uri-Path 1 / 0 / 8.
  EXPECT_EQ(m, (std::vector<std::uint8_t>{0x44, 0x02, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0xb1, '1',
                                          0x01, '0', 0x01, '8'}));
  auto wide = registrationUpdateTrigger(65534, 1, {});
  EXPECT_EQ(wide, (std::vector<std::uint8_t>{0x40, 0x02, 0x00, 0x01, 0xb1, '1', 0x05, '6', '5', '5',
                                             '3', '4', 0x01, '8'}));
  // It always fits in one SMS without a header.
  auto parts = segment(m);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->size(), 1u);
  EXPECT_TRUE((*parts)[0].header.empty());
}

}  // namespace
}  // namespace lwgate::modem
