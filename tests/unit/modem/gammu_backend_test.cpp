// The libgammu backend against gammu's dummy driver (a directory that plays a phone): connect,
// health, stored SMS from inbox files, delete, send. The AT path is covered end to end against
// the pty modem simulator (tests/e2e).
#include "modem/gammu_backend.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace lwgate::modem {
namespace {

namespace fs = std::filesystem;

TEST(RelativeValidity, RoundsUpToTheNextStep) {
  EXPECT_EQ(relativeValidity(core::Seconds(1)), 0);  // 5 minutes, the least
  EXPECT_EQ(relativeValidity(core::Seconds(300)), 0);
  EXPECT_EQ(relativeValidity(core::Seconds(301)), 1);
  EXPECT_EQ(relativeValidity(core::Seconds(3600)), 11);
  EXPECT_EQ(relativeValidity(core::Seconds(12 * 3600)), 143);
  EXPECT_EQ(relativeValidity(core::Seconds(12 * 3600 + 1)), 144);
  EXPECT_EQ(relativeValidity(core::Seconds(86400)), 167);
  EXPECT_EQ(relativeValidity(core::Seconds(86401)), 168);  // 2 days
  EXPECT_EQ(relativeValidity(core::Seconds(30 * 86400)), 196);
  EXPECT_EQ(relativeValidity(core::Seconds(31 * 86400)), 197);  // 5 weeks
  EXPECT_EQ(relativeValidity(core::Seconds(63 * 7 * 86400)), 255);
  EXPECT_EQ(relativeValidity(core::Seconds(1000 * 86400)), 255);
}

namespace dummy {

// A dummy phone directory with a gammurc pointing at it, removed at the end.
class Phone {
 public:
  Phone() {
    std::string pattern = fs::temp_directory_path().string() + "/lwgate-dummy-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp";
    dir_ = pattern;
    fs::create_directories(dir_ + "/phone/sms/1");
    std::ofstream(dir_ + "/gammurc")
        << "[gammu]\ndevice = " << dir_ << "/phone/\nconnection = none\nmodel = dummy\n";
  }
  ~Phone() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string config() const { return dir_ + "/gammurc"; }
  std::string inbox(int n) const { return dir_ + "/phone/sms/1/" + std::to_string(n); }
  void deliver(int n, const std::string& udhHex, const std::string& textHex,
               const std::string& coding = "8bit") const {
    std::ofstream f(inbox(n));
    f << "[SMSBackup000]\nNumber = \"+4915112345678\"\nPDU = Deliver\nCoding = " << coding << "\n";
    if (!udhHex.empty()) f << "UDH = " << udhHex << "\n";
    f << "Text00 = " << textHex << "\n";
  }

 private:
  std::string dir_;
};

}  // namespace dummy

TEST(GammuBackend, DummyDriverConnectsListsRemovesAndSends) {
  dummy::Phone phone;
  phone.deliver(1, "050003090201", "0102");
  phone.deliver(2, "", "40020001");
  auto backend = makeGammuBackend({phone.config(), core::Seconds(5)});
  EXPECT_FALSE(backend->connected());
  auto h = backend->connect();
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_TRUE(backend->connected());
  EXPECT_EQ(h->manufacturer, "Gammu");
  EXPECT_EQ(h->imei, "999999999999999");
  Health health = *h;
  ASSERT_TRUE(backend->check(health).ok());
  EXPECT_EQ(health.sim, "ready");
  EXPECT_EQ(health.network, "home");

  auto stored = backend->list();
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_EQ(stored->size(), 2u);
  const StoredSms& first = (*stored)[0];
  EXPECT_EQ(first.kind, StoredSms::Kind::kDeliver);
  EXPECT_EQ(first.msisdn, "+4915112345678");
  EXPECT_TRUE(first.eightBit);
  EXPECT_EQ(first.header, (std::vector<std::uint8_t>{0x05, 0x00, 0x03, 0x09, 0x02, 0x01}));
  EXPECT_EQ(first.data, (std::vector<std::uint8_t>{0x01, 0x02}));
  EXPECT_TRUE((*stored)[1].header.empty());
  EXPECT_EQ((*stored)[1].data, (std::vector<std::uint8_t>{0x40, 0x02, 0x00, 0x01}));

  ASSERT_TRUE(backend->remove(first.handle).ok());
  EXPECT_FALSE(fs::exists(phone.inbox(1)));
  EXPECT_TRUE(fs::exists(phone.inbox(2)));
  auto after = backend->list();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 1u);

  // The dummy driver answers every send with reference 255 and records nothing.
  auto parts = segment(std::vector<std::uint8_t>(200, 0x42));
  ASSERT_TRUE(parts.ok());
  auto mr = backend->sendPart("+4915112345678", (*parts)[0], SendOptions{});
  ASSERT_TRUE(mr.ok()) << mr.error().message;
  EXPECT_EQ(*mr, 255);
  backend->disconnect();
  EXPECT_FALSE(backend->connected());
}

TEST(GammuBackend, TextSmsIsNotEightBit) {
  dummy::Phone phone;
  phone.deliver(1, "", "00680069", "Unicode_No_Compression");
  auto backend = makeGammuBackend({phone.config(), core::Seconds(5)});
  ASSERT_TRUE(backend->connect().ok());
  auto stored = backend->list();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_FALSE((*stored)[0].eightBit);
}

TEST(GammuBackend, AMissingDeviceIsAnErrorNotAConnection) {
  dummy::Phone phone;
  std::string rc = phone.config() + ".at";
  std::ofstream(rc) << "[gammu]\ndevice = /nonexistent/ttyUSB9\nconnection = at\n";
  auto backend = makeGammuBackend({rc, core::Seconds(5)});
  auto h = backend->connect();
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("connecting"), std::string::npos) << h.error().message;
  EXPECT_FALSE(backend->connected());
  // A gammurc that does not exist either.
  auto none = makeGammuBackend({phone.config() + ".missing", core::Seconds(5)});
  EXPECT_FALSE(none->connect().ok());
}

}  // namespace
}  // namespace lwgate::modem
