// The SMS wake-up end to end: the real lwgated with [modem] backend = "gammu" and gammu's AT
// driver talking to the AT modem simulator on a pty (tests/modem/at_modem_sim.py), a sleeping
// queue-mode device simulator with an SMS number, a Read queued over D-Bus on a private bus.
// What the modem was given is decoded from the PDUs the simulator recorded, independently of
// gammu and of lwgated.
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include <fstream>
#include <mutex>
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
  // Appended to the test's lwgated.toml (sections of its own, e.g. "[sms]\nbackoff = 2\n").
  virtual std::string extraConfig() const { return ""; }

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
                  dir.file("gammurc") + "\"\npoll_interval = 1\n" + extraConfig());
    auto args = bus.lwgatedArgs();
    args.insert(args.end(), {"--config", dir.file("lwgated.toml"), "--log-level", "debug"});
    ASSERT_TRUE(gw.start(args)) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG4001")) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG5000 modem connected", 30s)) << gw.log();
    connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    gateway = sdbus::createProxy(*connection, "org.lwgate.Gateway1", "/org/lwgate/Gateway1");
  }

  std::uint64_t read(const std::string& endpoint, const std::string& path, Dict options = {}) {
    std::uint64_t id = 0;
    gateway->callMethod("Read")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(endpoint, path, options)
        .storeResultsTo(id);
    return id;
  }
  std::uint64_t wake(const std::string& endpoint, bool force = false) {
    Dict options;
    if (force) options["force"] = sdbus::Variant(true);
    std::uint64_t id = 0;
    gateway->callMethod("Wake")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(endpoint, options)
        .storeResultsTo(id);
    return id;
  }
  // The D-Bus error Wake answers with: "Name: message", "" when it succeeded.
  std::string wakeError(const std::string& endpoint, bool force = false) {
    try {
      wake(endpoint, force);
      return "";
    } catch (const sdbus::Error& e) {
      return e.getName() + ": " + e.getMessage();
    }
  }
  std::vector<Dict> listSms(Dict options = {}) {
    std::vector<Dict> rows;
    gateway->callMethod("ListSms")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(options)
        .storeResultsTo(rows);
    return rows;
  }
  // WakeDecision signals from here on, as "endpoint sent kind sms-id: reason".
  void listenForWakeDecisions() {
    signalConnection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    signalProxy =
        sdbus::createProxy(*signalConnection, "org.lwgate.Gateway1", "/org/lwgate/Gateway1");
    signalProxy->uponSignal("WakeDecision")
        .onInterface("org.lwgate.Gateway1")
        .call([this](const std::string& endpoint, bool sent, const std::string& kind,
                     const std::string& reason, std::uint64_t sms) {
          std::lock_guard lock(decisionsMutex);
          decisions.push_back(endpoint + (sent ? " sent " : " refused ") + kind + " " +
                              std::to_string(sms) + ": " + reason);
        });
    signalProxy->finishRegistration();
    signalConnection->enterEventLoopAsync();
  }
  std::vector<std::string> wakeDecisions() {
    std::lock_guard lock(decisionsMutex);
    return decisions;
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
  std::string registerAndSleep(const std::string& endpoint, const std::string& lifetime = "200000",
                               const std::string& number = kMsisdn) {
    Background sim(dir.path(), "sim-register");
    std::vector<std::string> argv{LWGATE_SIM_PATH, "--server", gw.url(), "--ep",
                                  endpoint,        "--queue",  "--lt",   lifetime};
    if (!number.empty()) argv.insert(argv.end(), {"--sms", number});
    argv.push_back("register");
    sim.start(argv);
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
  std::mutex decisionsMutex;
  std::vector<std::string> decisions;
  // Declared last: the signal thread stops before what its handler touches goes away.
  std::unique_ptr<sdbus::IConnection> signalConnection;
  std::unique_ptr<sdbus::IProxy> signalProxy;

  void TearDown() override {
    if (signalConnection) signalConnection->leaveEventLoop();
  }
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

TEST_F(SmsE2E, AnUrgentRequestWakesADeviceWhoseNextUpdateWouldComeInTime) {
  // Lifetime 600 s: the regular Update comes long before a day-long deadline, so an ordinary
  // request waits for it...
  registerAndSleep("sms-urgent", "600");
  listenForWakeDecisions();
  const auto plain = read("sms-urgent", "/3/0/0");
  ASSERT_TRUE(gw.waitForLog("LWG5012 no trigger SMS for sms-urgent (request " +
                            std::to_string(plain) + "): the regular Update due in"))
      << gw.log();
  EXPECT_TRUE(pdus().empty());
  EXPECT_FALSE(request(plain)["urgent"].get<bool>());
  // ... and an urgent one does not.
  const auto urgent = read("sms-urgent", "/3/0/1", {{"urgent", sdbus::Variant(true)}});
  EXPECT_TRUE(request(urgent)["urgent"].get<bool>());
  ASSERT_TRUE(gw.waitForLog("LWG5011 trigger SMS for sms-urgent sent", 30s)) << gw.log();
  EXPECT_NE(gw.log().find("request " + std::to_string(urgent) + "): urgent request"),
            std::string::npos)
      << gw.log();
  EXPECT_EQ(pdus().size(), 1u);
  EXPECT_EQ(
      queryInt(gw.database(), "SELECT urgent FROM requests WHERE id = " + std::to_string(urgent)),
      1);
  // The log row says which request it was for; the signal told the send.
  auto rows = listSms({{"endpoint", sdbus::Variant(std::string("sms-urgent"))}});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["request"].get<std::uint64_t>(), urgent);
  const auto smsId = rows[0]["id"].get<std::uint64_t>();
  ASSERT_TRUE(waitUntil([&] { return !wakeDecisions().empty(); })) << gw.log();
  EXPECT_EQ(wakeDecisions()[0].rfind(
                "sms-urgent sent sent " + std::to_string(smsId) + ": urgent request", 0),
            0u)
      << wakeDecisions()[0];
  // An unknown option is refused, nothing queued.
  try {
    read("sms-urgent", "/3/0/2", {{"urgent", sdbus::Variant(std::string("yes"))}});
    ADD_FAILURE() << "urgent as a string was accepted";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), "org.lwgate.Gateway1.Error.InvalidArgs");
  }
}

TEST_F(SmsE2E, AnOperatorWakesADeviceAndTheSmsLogShowsItDelivered) {
  const std::string location = registerAndSleep("sms-wake");
  listenForWakeDecisions();
  // Nothing waits for it: the automatic policy sends nothing, the operator can.
  const auto smsId = wake("sms-wake");
  EXPECT_GT(smsId, 0u);
  ASSERT_TRUE(gw.waitForLog("LWG5011 trigger SMS for sms-wake sent", 30s)) << gw.log();
  ASSERT_EQ(pdus().size(), 1u);
  auto coap = sms_test::parseCoap(lwgate::testing::decodeSubmit(pdus()[0])->data);
  ASSERT_TRUE(coap);
  EXPECT_EQ(coap->path, (std::vector<std::string>{"1", "0", "8"}));

  auto rows = listSms();
  ASSERT_EQ(rows.size(), 1u);
  auto& row = rows[0];
  EXPECT_EQ(row["id"].get<std::uint64_t>(), smsId);
  EXPECT_EQ(row["direction"].get<std::string>(), "out");
  EXPECT_EQ(row["endpoint"].get<std::string>(), "sms-wake");
  EXPECT_EQ(row["number"].get<std::string>(), kMsisdn);
  EXPECT_EQ(row["kind"].get<std::string>(), "trigger");
  EXPECT_EQ(row["parts"].get<std::uint32_t>(), 1u);
  EXPECT_EQ(row["status"].get<std::string>(), "sent");
  EXPECT_EQ(row["reference"].get<std::uint32_t>(), 1u);
  EXPECT_EQ(row.count("request"), 0u);  // no request waited
  EXPECT_GT(row["time"].get<std::uint64_t>(), 1'700'000'000'000u);

  // The SMS centre's delivery report (TP-ST 0: delivered) for message reference 1 to the
  // device's number comes in unsolicited (+CDS) and marks the row.
  std::ofstream(dir.file("control")) << "status-report 1 0 " << kMsisdn << "\n";
  ASSERT_TRUE(
      waitUntil([&] { return listSms()[0]["status"].get<std::string>() == "delivered"; }, 30s))
      << gw.log() << modem.out();
  EXPECT_EQ(listSms()[0]["detail"].get<std::string>(), "TP-ST 0");
  EXPECT_TRUE(gw.waitForLog("LWG5016 delivery report from the SMS centre: SMS 1 to " +
                            std::string(kMsisdn) + " delivered"))
      << gw.log();

  // Again at once: the trigger is outstanding (the device has not answered), so BackOff...
  const std::string again = wakeError("sms-wake");
  EXPECT_EQ(
      again.rfind("org.lwgate.Gateway1.Error.BackOff: not waking \"sms-wake\": a trigger sent ", 0),
      0u)
      << again;
  // ... unless forced: sent, logged and counted like any other.
  const auto forced = wake("sms-wake", true);
  EXPECT_GT(forced, smsId);
  ASSERT_TRUE(waitUntil([&] { return pdus().size() == 2; }, 30s)) << gw.log();
  // The forced one starts the back-off (and holds the trigger outstanding) again.
  const std::string afterForce = wakeError("sms-wake");
  EXPECT_NE(afterForce.find("org.lwgate.Gateway1.Error.BackOff"), std::string::npos) << afterForce;
  ASSERT_TRUE(waitUntil([&] { return wakeDecisions().size() >= 4; })) << gw.log();
  const auto told = wakeDecisions();
  EXPECT_EQ(told[0].rfind("sms-wake sent sent " + std::to_string(smsId) +
                              ": asked for by the operator; SMS in budget: device 0/2 this hour",
                          0),
            0u)
      << told[0];
  EXPECT_EQ(told[1].rfind("sms-wake refused outstanding 0: a trigger sent", 0), 0u) << told[1];
  EXPECT_EQ(told[2].rfind("sms-wake sent sent " + std::to_string(forced) +
                              ": asked for by the operator with force, overriding",
                          0),
            0u)
      << told[2];

  // The device wakes and updates: the next Wake within the back-off says back-off, not
  // outstanding.
  Background device(dir.path(), "sim-update");
  device.start({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "sms-wake", "--queue", "--sms",
                kMsisdn, "--lt", "200000", "--location", location, "update"});
  ASSERT_EQ(device.wait(), 0) << device.out() << device.err();
  const std::string backOff = wakeError("sms-wake");
  EXPECT_NE(backOff.find("BackOff: not waking \"sms-wake\": back-off: the last trigger was"),
            std::string::npos)
      << backOff;
}

TEST_F(SmsE2E, WakeRefusalsAreNamedErrors) {
  EXPECT_EQ(
      wakeError("nobody").rfind("org.lwgate.Gateway1.Error.NotFound: no device \"nobody\"", 0), 0u)
      << wakeError("nobody");
  registerAndSleep("no-number", "200000", "");
  EXPECT_EQ(wakeError("no-number").rfind("org.lwgate.Gateway1.Error.NoSmsNumber: ", 0), 0u)
      << wakeError("no-number");
  EXPECT_EQ(wakeError("no-number", true).rfind("org.lwgate.Gateway1.Error.NoSmsNumber: ", 0), 0u);
  try {
    gateway->callMethod("Wake")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(std::string("no-number"), Dict{{"now", sdbus::Variant(true)}});
    ADD_FAILURE() << "an unknown option was accepted";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), "org.lwgate.Gateway1.Error.InvalidArgs") << e.getMessage();
  }
  EXPECT_TRUE(listSms().empty());
  EXPECT_TRUE(pdus().empty());
  try {
    listSms({{"endpoint", sdbus::Variant(std::string("nobody"))}});
    ADD_FAILURE() << "ListSms of an unknown device";
  } catch (const sdbus::Error& e) {
    EXPECT_EQ(e.getName(), "org.lwgate.Gateway1.Error.NotFound") << e.getMessage();
  }
}

class SmsBudgetE2E : public SmsE2E {
 protected:
  std::string extraConfig() const override {
    return "[sms]\nper_device_per_hour = 1\nbackoff = 1\n";
  }
};

TEST_F(SmsBudgetE2E, AnExhaustedBudgetIsNamedAndToldOncePerChange) {
  registerAndSleep("sms-budget");
  listenForWakeDecisions();
  wake("sms-budget");
  ASSERT_TRUE(gw.waitForLog("LWG5011 trigger SMS for sms-budget sent", 30s)) << gw.log();
  // After the 1 s back-off, the hourly budget of one holds.
  std::string refused;
  ASSERT_TRUE(waitUntil(
      [&] {
        refused = wakeError("sms-budget");
        return refused.find("BudgetExhausted") != std::string::npos;
      },
      10s))
      << refused;
  EXPECT_EQ(refused.rfind("org.lwgate.Gateway1.Error.BudgetExhausted: per_device_per_hour: not "
                          "waking \"sms-budget\": budget: 1 SMS to the device in the last hour",
                          0),
            0u)
      << refused;
  // A queued request finds the budget used up: told once (signal and LWG5200), however often
  // the device is looked at again.
  read("sms-budget", "/3/0");
  read("sms-budget", "/3/0/0");
  read("sms-budget", "/3/0/1");
  ASSERT_TRUE(gw.waitForLog("LWG5200 no trigger SMS for sms-budget")) << gw.log();
  auto automatic = [&] {
    std::size_t n = 0;
    for (const auto& d : wakeDecisions()) {
      if (d.rfind("sms-budget refused budget 0: budget:", 0) == 0) ++n;
    }
    return n;
  };
  ASSERT_TRUE(waitUntil([&] { return automatic() >= 2; })) << gw.log();  // the Wake's + one
  EXPECT_TRUE(gw.waitForLog("LWG5012 no trigger SMS for sms-budget")) << gw.log();
  const std::string log = gw.log();
  EXPECT_EQ(log.find("LWG5200"), log.rfind("LWG5200")) << log;
  // Force still sends, and counts. Its signal comes after any told before it (one connection
  // keeps the order), so by then no second budget refusal was told.
  const auto forced = wake("sms-budget", true);
  EXPECT_GT(forced, 0u);
  ASSERT_TRUE(waitUntil([&] {
    const auto d = wakeDecisions();
    return !d.empty() && d.back().rfind("sms-budget sent sent " + std::to_string(forced), 0) == 0;
  })) << gw.log();
  EXPECT_EQ(automatic(), 2u);
  ASSERT_TRUE(waitUntil([&] { return pdus().size() == 2; }, 30s)) << gw.log();
}

class SmsRetryE2E : public SmsE2E {
 protected:
  // The periodic scan is out of the picture (an hour): only the end of the back-off can bring
  // the second trigger.
  std::string extraConfig() const override {
    return "[sms]\nbackoff = 2\nwake_scan_interval = 3600\n";
  }
};

TEST_F(SmsRetryE2E, AnUnansweredTriggerIsSentAgainWhenTheBackOffEnds) {
  registerAndSleep("sms-retry");
  read("sms-retry", "/3/0");
  ASSERT_TRUE(waitUntil([&] { return pdus().size() == 1; }, 30s)) << gw.log();
  // The device never answers; nothing else happens; the next trigger comes on its own.
  ASSERT_TRUE(waitUntil([&] { return pdus().size() == 2; }, 30s)) << gw.log();
  auto rows = listSms({{"direction", sdbus::Variant(std::string("out"))}});
  ASSERT_EQ(rows.size(), 2u);
  const auto gap = rows[1]["time"].get<std::uint64_t>() - rows[0]["time"].get<std::uint64_t>();
  EXPECT_GE(gap, 2000u);
}

}  // namespace
}  // namespace lwgate::e2e
