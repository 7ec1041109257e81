// The SMS wake-up end to end: the real lwgated with [modem] backend = "gammu" and gammu's AT
// driver talking to the AT modem simulator on a pty (tests/modem/at_modem_sim.py), a sleeping
// queue-mode device simulator with an SMS number, a Read queued over D-Bus on a private bus.
// What the modem was given is decoded from the PDUs the simulator recorded, independently of
// gammu and of lwgated.
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "tests/e2e/harness.h"
#include "tests/support/sms_pdu.h"

namespace lwgate::e2e {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;

constexpr const char* kMsisdn = "+4915112345678";

namespace sms_test {

// The CoAP header and Uri-Path of a message (RFC 7252 3), enough to tell a trigger.
struct CoapRequest {
  int type = -1;  // 0 CON, 1 NON
  int code = -1;
  std::vector<std::string> path;
};

std::optional<CoapRequest> parseCoap(const std::vector<std::uint8_t>& m) {
  if (m.size() < 4 || (m[0] >> 6) != 1) return std::nullopt;
  CoapRequest r;
  r.type = (m[0] >> 4) & 3;
  r.code = m[1];
  std::size_t at = 4 + (m[0] & 15);
  int option = 0;
  while (at < m.size() && m[at] != 0xff) {
    int delta = m[at] >> 4, length = m[at] & 15;
    ++at;
    if (delta > 12 || length > 12) return std::nullopt;  // extended forms: not in a trigger
    option += delta;
    if (at + length > m.size()) return std::nullopt;
    if (option == 11) r.path.emplace_back(m.begin() + at, m.begin() + at + length);
    at += length;
  }
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace sms_test

class SmsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    modem.start({"python3", std::string(LWGATE_SOURCE_DIR) + "/tests/modem/at_modem_sim.py",
                 "--link", dir.file("modem"), "--pdus", dir.file("pdus"), "--control",
                 dir.file("control")});
    ASSERT_TRUE(modem.waitForOut("ready ", 20s)) << modem.out() << modem.err();
    writeFile(dir.file("gammurc"), "[gammu]\ndevice = " + dir.file("modem") +
                                       "\nconnection = at\nlogfile = " + dir.file("gammu.log") +
                                       "\n");
    writeFile(dir.file("lwgated.toml"),
              "[queue]\nawake_window = 1\n[modem]\nbackend = \"gammu\"\n"
              "gammu_config = \"" +
                  dir.file("gammurc") + "\"\npoll_interval = 1\n");
    auto args = bus.lwgatedArgs();
    args.insert(args.end(), {"--config", dir.file("lwgated.toml"), "--log-level", "debug"});
    ASSERT_TRUE(gw.start(args)) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG4001")) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG5000 modem connected", 30s)) << gw.log();
    connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    gateway = sdbus::createProxy(*connection, "org.lwgate.Gateway1", "/org/lwgate/Gateway1");
  }

  std::uint64_t read(const std::string& endpoint, const std::string& path) {
    std::uint64_t id = 0;
    gateway->callMethod("Read")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(endpoint, path, Dict{})
        .storeResultsTo(id);
    return id;
  }
  Dict request(std::uint64_t id) {
    Dict r;
    gateway->callMethod("GetRequest")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(id)
        .storeResultsTo(r);
    return r;
  }
  std::vector<std::string> pdus() const { return sms_test::lines(readFile(dir.file("pdus"))); }

  // A queue-mode device with an SMS number that registers and goes away (asleep); returns its
  // location.
  std::string registerAndSleep(const std::string& endpoint) {
    Background sim(dir.path(), "sim-register");
    sim.start({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", endpoint, "--queue", "--sms", kMsisdn,
               "--lt", "200000", "register"});
    EXPECT_EQ(sim.wait(), 0) << sim.out() << sim.err();
    std::smatch m;
    const std::string out = sim.out();
    if (!std::regex_search(out, m, std::regex("location=(\\S+)"))) {
      ADD_FAILURE() << "no location in: " << out;
      return "";
    }
    // The awake window (1 s) after the Register runs out.
    EXPECT_TRUE(gw.waitForLog("LWG3007 " + endpoint + " is asleep")) << gw.log();
    return m[1];
  }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Background modem{dir.path(), "at-modem"};
  Lwgated gw{dir.path()};
  std::unique_ptr<sdbus::IConnection> connection;
  std::unique_ptr<sdbus::IProxy> gateway;
};

TEST_F(SmsE2E, SleepingDeviceGetsOneTriggerSmsAndItsUpdateCompletesTheRead) {
  const std::string location = registerAndSleep("sms-dev");
  ASSERT_FALSE(location.empty());
  const auto id = read("sms-dev", "/3/0");
  EXPECT_EQ(request(id)["state"].get<std::string>(), "queued");

  // Exactly one SMS reaches the modem: a binary SMS to the device's number carrying
  // CoAP CON POST /1/0/8 (its one Server object instance is /1/0).
  ASSERT_TRUE(waitUntil([&] { return !pdus().empty(); }, 30s)) << gw.log();
  ASSERT_TRUE(gw.waitForLog("LWG5011 trigger SMS for sms-dev sent", 30s)) << gw.log();
  auto sent = pdus();
  ASSERT_EQ(sent.size(), 1u);
  auto pdu = lwgate::testing::decodeSubmit(sent[0]);
  ASSERT_TRUE(pdu) << sent[0];
  EXPECT_EQ(pdu->destination, kMsisdn);
  EXPECT_EQ(pdu->dcs, 0x04);  // 8-bit data
  EXPECT_TRUE(pdu->statusReportRequest);
  EXPECT_FALSE(pdu->udhi);  // one SMS, no header
  auto coap = sms_test::parseCoap(pdu->data);
  ASSERT_TRUE(coap);
  EXPECT_EQ(coap->type, 0);     // CON
  EXPECT_EQ(coap->code, 0x02);  // POST
  EXPECT_EQ(coap->path, (std::vector<std::string>{"1", "0", "8"}));

  // The SMS log has it, sent with the modem's message reference, for this request.
  EXPECT_EQ(queryInt(gw.database(),
                     "SELECT count(*) FROM sms_log s JOIN devices d ON d.id = s.device_id "
                     "WHERE d.endpoint = 'sms-dev' AND s.direction = 'out' AND s.kind = 'trigger' "
                     "AND s.status = 'sent' AND s.reference = 1 AND s.request_id = " +
                         std::to_string(id)),
            1);

  // The device wakes (as the SMS would make it) and sends its Update over UDP: the Read goes out
  // and completes.
  Background device(dir.path(), "sim-update");
  device.start({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "sms-dev", "--queue", "--sms",
                kMsisdn, "--lt", "200000", "--location", location, "update", "awake=20"});
  ASSERT_TRUE(waitUntil([&] { return request(id)["state"].get<std::string>() == "done"; }, 30s))
      << gw.log() << device.out();
  EXPECT_EQ(request(id)["code"].get<std::string>(), "2.05");
  // Still exactly one trigger: the device was heard, nothing more was due.
  EXPECT_EQ(pdus().size(), 1u);
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM sms_log"), 1);
}

TEST_F(SmsE2E, ASecondRequestWhileTheTriggerIsOutstandingSendsNoSecondSms) {
  registerAndSleep("sms-dev2");
  read("sms-dev2", "/3/0");
  ASSERT_TRUE(gw.waitForLog("LWG5011 trigger SMS for sms-dev2 sent", 30s)) << gw.log();
  read("sms-dev2", "/3/0/0");
  ASSERT_TRUE(gw.waitForLog("LWG5012 no trigger SMS for sms-dev2")) << gw.log();
  EXPECT_NE(gw.log().find("is still outstanding"), std::string::npos) << gw.log();
  EXPECT_EQ(pdus().size(), 1u);
}

TEST_F(SmsE2E, AModemErrorIsLoggedAndCostsNoBudget) {
  std::ofstream(dir.file("control")) << "cms-error 500\n";
  ASSERT_TRUE(modem.waitForOut("control cms-error"));
  registerAndSleep("sms-dev3");
  read("sms-dev3", "/3/0");
  ASSERT_TRUE(gw.waitForLog("LWG5015 trigger SMS for sms-dev3", 30s)) << gw.log();
  EXPECT_NE(gw.log().find("+CMS ERROR 500"), std::string::npos) << gw.log();
  EXPECT_EQ(queryInt(gw.database(),
                     "SELECT count(*) FROM sms_log WHERE status = 'failed' AND detail LIKE "
                     "'%+CMS ERROR 500%'"),
            1);
  // The request still waits in the queue; nothing was lost.
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM requests WHERE state = 'queued'"), 1);
}

TEST_F(SmsE2E, AnUnpluggedModemIsReconnectedAndWakesDevicesAgain) {
  // Its health is on D-Bus (ModemState and friends).
  auto property = [&](const char* name) {
    return gateway->getProperty(name).onInterface("org.lwgate.Gateway1");
  };
  ASSERT_TRUE(
      waitUntil([&] { return property("ModemState").get<std::string>() == "connected"; }, 30s))
      << gw.log();
  EXPECT_EQ(property("ModemSim").get<std::string>(), "ready");
  EXPECT_GE(property("ModemSignal").get<int32_t>(), 0);

  std::ofstream(dir.file("control")) << "unplug 2\n";
  ASSERT_TRUE(modem.waitForOut("unplugged"));
  // The next look at the modem's SMS store finds the tty gone.
  ASSERT_TRUE(gw.waitForLog("LWG5002 modem connection lost", 30s)) << gw.log();
  EXPECT_TRUE(waitUntil(
      [&] {
        return property("ModemState").get<std::string>() == "disconnected" &&
               !property("ModemError").get<std::string>().empty();
      },
      30s))
      << gw.log();
  auto connects = [&] {
    const std::string log = gw.log();
    std::size_t n = 0;
    for (auto at = log.find("LWG5000 modem connected"); at != std::string::npos;
         at = log.find("LWG5000 modem connected", at + 1)) {
      ++n;
    }
    return n;
  };
  ASSERT_TRUE(waitUntil([&] { return connects() >= 2; }, 60s)) << gw.log() << modem.out();
  registerAndSleep("sms-dev4");
  read("sms-dev4", "/3/0");
  ASSERT_TRUE(gw.waitForLog("LWG5011 trigger SMS for sms-dev4 sent", 30s)) << gw.log();
  EXPECT_EQ(pdus().size(), 1u);
}

}  // namespace
}  // namespace lwgate::e2e
