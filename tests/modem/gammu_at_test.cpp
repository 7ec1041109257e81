// The libgammu backend over gammu's real AT driver, against the AT modem simulator on a pty
// (tests/modem/at_modem_sim.py): what lands in the modem is checked by decoding the PDUs the
// simulator recorded, independently of gammu. Faults: +CMS ERROR, no network, the tty closed
// and reopened.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "modem/gammu_backend.h"
#include "modem/sms_codec.h"
#include "tests/e2e/harness.h"
#include "tests/support/sms_pdu.h"

namespace lwgate::modem {
namespace {

using namespace std::chrono_literals;
using e2e::Background;
using e2e::TempDir;
using e2e::waitUntil;

namespace sim {

// The simulator as a child process; control commands go through its FIFO.
class AtModem {
 public:
  explicit AtModem(const TempDir& dir) : dir_(dir), process_(dir.path(), "at-modem") {
    process_.start({"python3", std::string(LWGATE_SOURCE_DIR) + "/tests/modem/at_modem_sim.py",
                    "--link", link(), "--pdus", pdus(), "--control", control()});
    ready_ = process_.waitForOut("ready ", 20s);
  }
  bool ready() const { return ready_; }
  std::string link() const { return dir_.file("modem"); }
  std::string pdus() const { return dir_.file("pdus"); }
  std::string control() const { return dir_.file("control"); }
  void command(const std::string& line) { std::ofstream(control()) << line << "\n"; }
  std::vector<std::string> recorded() const {
    std::istringstream in(e2e::readFile(pdus()));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(line);
    }
    return out;
  }
  std::string out() const { return process_.out(); }
  bool waitForOut(const std::string& needle) const { return process_.waitForOut(needle, 20s); }

 private:
  const TempDir& dir_;
  Background process_;
  bool ready_ = false;
};

}  // namespace sim

class GammuAtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(modem.ready()) << modem.out();
    e2e::writeFile(dir.file("gammurc"), "[gammu]\ndevice = " + modem.link() +
                                            "\nconnection = at\nlogfile = " +
                                            dir.file("gammu.log") + "\nlogformat = textall\n");
    backend = makeGammuBackend({dir.file("gammurc"), core::Seconds(20)});
  }
  void connect() {
    auto h = backend->connect();
    ASSERT_TRUE(h.ok()) << h.error().message;
    health = *h;
  }
  std::vector<SmsPart> parts(std::size_t bytes) {
    auto p = segment(std::vector<std::uint8_t>(bytes, 0x5a), {});
    EXPECT_TRUE(p.ok());
    return *p;
  }

  // The end of gammu's own log, for failure messages.
  std::string gammuLogTail() const {
    const std::string log = e2e::readFile(dir.file("gammu.log"));
    return log.size() > 4000 ? log.substr(log.size() - 4000) : log;
  }

  TempDir dir;
  sim::AtModem modem{dir};
  std::unique_ptr<Backend> backend;
  Health health;
};

TEST_F(GammuAtTest, ConnectsAndReportsHealth) {
  connect();
  EXPECT_EQ(health.manufacturer, "lwgate");
  EXPECT_EQ(health.imei, "356938035643809");
  ASSERT_TRUE(backend->check(health).ok());
  EXPECT_EQ(health.sim, "ready");
  EXPECT_EQ(health.network, "home");
  ASSERT_TRUE(health.signalPercent.has_value());
  modem.command("no-network");
  ASSERT_TRUE(modem.waitForOut("control no-network"));
  ASSERT_TRUE(backend->check(health).ok());
  EXPECT_EQ(health.network, "none");
}

TEST_F(GammuAtTest, SendsEachPartAsAn8BitPduWithStatusReportAndValidity) {
  connect();
  const auto p = parts(200);
  ASSERT_EQ(p.size(), 2u);
  SendOptions options;
  options.validity = core::Seconds(3600);
  for (std::size_t k = 0; k < p.size(); ++k) {
    auto mr = backend->sendPart("+4915112345678", p[k], options);
    ASSERT_TRUE(mr.ok()) << mr.error().message;
    EXPECT_EQ(*mr, static_cast<int>(k + 1));  // +CMGS: <mr> as the simulator counts
  }
  auto pdus = modem.recorded();
  ASSERT_EQ(pdus.size(), 2u);
  for (std::size_t k = 0; k < p.size(); ++k) {
    auto decoded = testing::decodeSubmit(pdus[k]);
    ASSERT_TRUE(decoded) << pdus[k];
    EXPECT_EQ(decoded->destination, "+4915112345678");
    EXPECT_EQ(decoded->smsc, "+491710760000");  // from AT+CSCA?
    EXPECT_TRUE(decoded->statusReportRequest);
    EXPECT_TRUE(decoded->udhi);
    EXPECT_EQ(decoded->validity, 11);  // one hour
    EXPECT_EQ(decoded->dcs, 0x04);     // 8-bit data, no class
    EXPECT_EQ(decoded->header, p[k].header);
    EXPECT_EQ(decoded->data, p[k].data);
  }
  // One part without a header: no UDHI.
  auto mr = backend->sendPart("+4915112345678", parts(20)[0], SendOptions{});
  ASSERT_TRUE(mr.ok());
  auto single = testing::decodeSubmit(modem.recorded().back());
  ASSERT_TRUE(single);
  EXPECT_FALSE(single->udhi);
  EXPECT_EQ(single->data.size(), 20u);
  EXPECT_EQ(single->validity, 167);  // the default: a day
}

TEST_F(GammuAtTest, CmsErrorAndNoNetworkFailTheSendButKeepTheConnection) {
  connect();
  modem.command("cms-error 500");
  ASSERT_TRUE(modem.waitForOut("control cms-error"));
  auto refused = backend->sendPart("+4915112345678", parts(10)[0], SendOptions{});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("+CMS ERROR 500"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(backend->connected());

  modem.command("no-network");
  ASSERT_TRUE(modem.waitForOut("control no-network"));
  auto noNet = backend->sendPart("+4915112345678", parts(10)[0], SendOptions{});
  ASSERT_FALSE(noNet.ok());
  EXPECT_NE(noNet.error().message.find("+CMS ERROR 331"), std::string::npos);
  EXPECT_TRUE(backend->connected());

  modem.command("network");
  ASSERT_TRUE(modem.waitForOut("control network"));
  auto ok = backend->sendPart("+4915112345678", parts(10)[0], SendOptions{});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
}

TEST_F(GammuAtTest, AClosedTtyIsADeviceLossAndReconnectingWorks) {
  connect();
  modem.command("unplug 1");
  ASSERT_TRUE(modem.waitForOut("unplugged"));
  auto lost = backend->sendPart("+4915112345678", parts(10)[0], SendOptions{});
  ASSERT_FALSE(lost.ok());
  EXPECT_FALSE(backend->connected()) << lost.error().message << "\n" << gammuLogTail();
  // The simulator comes back on a new pty; connecting again (as the worker does, with back-off)
  // succeeds once it is there.
  ASSERT_TRUE(waitUntil([&] { return backend->connect().ok(); }, 30s));
  auto sent = backend->sendPart("+4915112345678", parts(10)[0], SendOptions{});
  ASSERT_TRUE(sent.ok()) << sent.error().message;
}

TEST_F(GammuAtTest, ListsAndDeletesReceivedSms) {
  connect();
  const std::vector<std::uint8_t> header{0x05, 0x00, 0x03, 0x07, 0x02, 0x01};
  const std::vector<std::uint8_t> data{0x40, 0x02, 0x12, 0x34};
  modem.command("deliver " + testing::deliverPdu("+4915112345678", header, data));
  ASSERT_TRUE(modem.waitForOut("control deliver"));
  auto stored = backend->list();
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_EQ(stored->size(), 1u);
  const StoredSms& s = (*stored)[0];
  EXPECT_EQ(s.kind, StoredSms::Kind::kDeliver);
  EXPECT_EQ(s.msisdn, "+4915112345678");
  EXPECT_TRUE(s.eightBit);
  EXPECT_EQ(s.header, header);
  EXPECT_EQ(s.data, data);
  ASSERT_TRUE(backend->remove(s.handle).ok());
  auto after = backend->list();
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

}  // namespace
}  // namespace lwgate::modem
