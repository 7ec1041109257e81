// LwM2M 1.1 Send (POST /dp) end to end: the real lwgated, lwgate-sim devices sending over UDP on
// 127.0.0.1, a private dbus-daemon with lwgatectl reading what was stored and what was signalled,
// real SQLite files whose rows are counted. The bridge's forwarding has a second real lwgated as
// its upstream server: npm lwm2m-node-lib's server (the other bridge tests' upstream) routes only
// /rd and leaves POST /dp unanswered, so it cannot take a Send; lwgated B, once it accepts Send,
// stores what lwgated A forwards where the test can read it.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <memory>

#include "gateway/lwm2m/content_format.h"
#include "tests/e2e/bridge_harness.h"
#include "tests/e2e/cli_harness.h"
#include "tests/e2e/harness.h"

namespace lwgate::e2e::send_e2e {
namespace {

using bridge_e2e::freeUdpPort;
using bridge_e2e::Interactive;
using clitest::jsonLines;
using clitest::lwgatectl;
using clitest::parseJson;
using Json = nlohmann::json;
using namespace std::chrono_literals;

std::string show(const RunResult& r) {
  return "exit " + std::to_string(r.exitCode) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::string hex(const std::string& text) {
  return hex(std::vector<std::uint8_t>(text.begin(), text.end()));
}

// The payloads of a device's stored Sends, oldest first (SenML JSON is text).
std::vector<std::string> sendPayloads(const std::string& database, const std::string& endpoint) {
  std::vector<std::string> out;
  const auto count = queryInt(database,
                              "SELECT count(*) FROM notifications n JOIN devices d ON d.id = "
                              "n.device_id WHERE n.kind = 'send' AND d.endpoint = '" +
                                  endpoint + "'");
  for (std::int64_t k = 0; k < count; ++k) {
    out.push_back(queryText(database,
                            "SELECT CAST(n.payload AS TEXT) FROM notifications n JOIN devices d "
                            "ON d.id = n.device_id WHERE n.kind = 'send' AND d.endpoint = '" +
                                endpoint + "' ORDER BY n.id LIMIT 1 OFFSET " + std::to_string(k))
                      .value_or("?"));
  }
  return out;
}

// Each value once, in the order of its first arrival: a Send the upstream server got twice (its
// answer lost in the outage, so it came again from the device's new upstream socket) repeats.
std::vector<std::string> firsts(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

class SendE2E : public ::testing::Test {
 protected:
  void startGateway(const std::string& config) {
    writeFile(dir.file("lwgated.toml"), config);
    ASSERT_TRUE(gw.start({"--config", dir.file("lwgated.toml"), "--bus", bus.address()}))
        << gw.log();
    ASSERT_TRUE(waitUntil([&] { return ctl({"status"}).exitCode == 0; }, 15s))
        << show(ctl({"status"})) << gw.log();
  }
  RunResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--bus", bus.address()});
    return lwgatectl(args);
  }
  // A device that registers and then takes actions from stdin.
  std::unique_ptr<Interactive> startSim(const std::string& ep, std::vector<std::string> extra = {},
                                        bool registers = true) {
    std::vector<std::string> argv{
        LWGATE_SIM_PATH, "--server", gw.url(),           "--ep", ep, "--sensor",
        "--ack-timeout", "1",        "--max-retransmit", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (registers) argv.push_back("register");
    argv.push_back("stdin");
    auto sim = std::make_unique<Interactive>(dir.path(), "sim-" + ep, argv);
    if (registers) {
      EXPECT_TRUE(sim->waitFor("register 2.01")) << sim->out() << sim->err();
    }
    return sim;
  }
  std::int64_t sends() {
    return queryInt(gw.database(), "SELECT count(*) FROM notifications WHERE kind = 'send'");
  }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Lwgated gw{dir.path()};
};

// A Send in each of the three formats is stored (kind send, bounded with the notifications),
// told on D-Bus (the Send signal, seen by lwgatectl monitor) and listed by lwgatectl.
TEST_F(SendE2E, SendsAreStoredSignalledAndListed) {
  startGateway("[queue]\nmax_notifications_per_device = 4\n");
  Background monitor(dir.path(), "monitor");
  monitor.start({clitest::lwgatectlPath(), "--bus", bus.address(), "monitor", "--json"});
  // Printed once the match rules are on the bus.
  ASSERT_TRUE(waitUntil([&] { return monitor.err().find("Monitoring") != std::string::npos; }))
      << monitor.err();
  auto sim = startSim("meter-1");
  ASSERT_TRUE(monitor.waitForOut("\"DeviceRegistered\"")) << monitor.out() << monitor.err();

  sim->send("send=/3/0/9,/3303/0/5700");
  ASSERT_TRUE(sim->waitFor("send 2.04")) << sim->out() << gw.log();
  EXPECT_EQ(sends(), 1);
  ASSERT_TRUE(monitor.waitForOut("\"Send\"")) << monitor.out();
  bool signalled = false;
  for (const Json& e : jsonLines(monitor.out())) {
    if (e.value("signal", "") != "Send") continue;
    signalled = true;
    EXPECT_EQ(e["endpoint"], "meter-1") << e;
    EXPECT_EQ(e["format"], 110) << e;
    ASSERT_TRUE(e["result"].is_array()) << e;
    ASSERT_EQ(e["result"].size(), 2u) << e;
    EXPECT_EQ(e["result"][0]["path"], "/3/0/9") << e;
    EXPECT_EQ(e["result"][0]["value"], 95) << e;
    EXPECT_EQ(e["result"][1]["path"], "/3303/0/5700") << e;
    EXPECT_EQ(e["result"][1]["value"], 21.5) << e;
  }
  EXPECT_TRUE(signalled) << monitor.out();

  // SenML CBOR and LwM2M CBOR, encoded by the gateway's codecs here (the sim writes SenML JSON).
  const std::vector<lwm2m::Record> records = {
      {lwm2m::Path::resource(3, 0, 9), lwm2m::Value::integer(42), std::nullopt}};
  for (std::uint16_t format : {lwm2m::format::kSenmlCbor, lwm2m::format::kLwm2mCbor}) {
    auto bytes = lwm2m::encode(format, records, lwm2m::Path{});
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    sim->send("send-raw=" + std::to_string(format) + ":" + hex(*bytes));
  }
  ASSERT_TRUE(sim->waitFor("send-raw 2.04", 10s, 2)) << sim->out() << gw.log();
  EXPECT_EQ(sends(), 3);

  RunResult listed = ctl({"notifications", "meter-1", "--json"});
  ASSERT_EQ(listed.exitCode, 0) << show(listed);
  Json all = parseJson(listed.out);
  ASSERT_TRUE(all.is_array() && all.size() == 3u) << listed.out;
  for (const Json& n : all) {
    EXPECT_EQ(n["kind"], "send") << n;
    EXPECT_EQ(n["endpoint"], "meter-1") << n;
    EXPECT_TRUE(n["path"].is_null()) << n;
    EXPECT_TRUE(n["observation"].is_null()) << n;
    EXPECT_TRUE(n["decode_error"].is_null()) << n;
  }
  EXPECT_EQ(all[0]["format"], 110);
  EXPECT_EQ(all[1]["format"], 112);
  EXPECT_EQ(all[2]["format"], 11544);
  EXPECT_EQ(all[2]["result"][0]["path"], "/3/0/9") << all[2];
  EXPECT_EQ(all[2]["result"][0]["value"], 42) << all[2];
  RunResult table = ctl({"notifications", "meter-1"});
  EXPECT_EQ(table.out.rfind("ID KIND PATH", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("1  send -    "), std::string::npos) << table.out;

  // max_notifications_per_device bounds Sends too: the oldest go.
  for (int k = 0; k < 3; ++k) sim->send("send=/3/0/9");
  ASSERT_TRUE(sim->waitFor("send 2.04", 10s, 4)) << sim->out();
  EXPECT_EQ(sends(), 4);
  Json kept = parseJson(ctl({"notifications", "meter-1", "--json"}).out);
  ASSERT_EQ(kept.size(), 4u) << kept;
  EXPECT_EQ(kept[0]["format"], 11544) << kept;  // the SenML JSON and SenML CBOR ones were pruned
}

// Every refusal has its code and a diagnostic, and stores nothing.
TEST_F(SendE2E, RefusedSendsStoreNothing) {
  startGateway("");
  auto sim = startSim("meter-1");
  const std::string good = R"([{"n":"/3/0/9","v":95}])";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"send-raw=60:" + hex(good), "send-raw 4.15 payload=\"Content-Format 60 is not one for Send"},
      {"send-raw=none:" + hex(good), "send-raw 4.15 payload=\"Send needs a Content-Format"},
      {"send-raw=110:", "send-raw 4.00 payload=\"empty Send"},
      {"send-raw=110:" + hex("[{\"n\":\"/3/0/9\",\"v\":"),
       "send-raw 4.00 payload=\"Send payload is not valid SenML JSON"},
      {"send-raw=112:ff00", "send-raw 4.00 payload=\"Send payload is not valid SenML CBOR"},
      {"send-raw=110:" + hex("[]"), "send-raw 4.00 payload=\"Send payload holds no values"},
  };
  for (const auto& [action, answer] : cases) {
    sim->send(action);
    EXPECT_TRUE(sim->waitFor(answer)) << action << "\n" << sim->out();
  }
  // A device that never registered, and an LwM2M 1.0 device: 4.04.
  auto stranger = startSim("stranger", {}, false);
  stranger->send("send=/3/0/9");
  EXPECT_TRUE(stranger->waitFor("send 4.04 payload=\"no registration from this address"))
      << stranger->out();
  auto old = startSim("old-1", {"--lwm2m", "1.0"});
  old->send("send=/3/0/9");
  EXPECT_TRUE(
      old->waitFor("send 4.04 payload=\"Send is LwM2M 1.1; old-1 registered with lwm2m=1.0"))
      << old->out();
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM notifications"), 0);
  EXPECT_EQ(ctl({"notifications", "meter-1", "--json"}).out, "[]\n");
  // The gateway logged each refusal once, with the reason.
  EXPECT_NE(gw.log().find("LWG2010 POST /dp from 127.0.0.1:"), std::string::npos) << gw.log();
  // And a good one after all that is stored.
  sim->send("send=/3/0/9");
  ASSERT_TRUE(sim->waitFor("send 2.04")) << sim->out();
  EXPECT_EQ(sends(), 1);
}

// A Send is a message from the device: a queue-mode device that was asleep is awake again, and
// the request that waited for it goes out.
TEST_F(SendE2E, ASendWakesAQueueModeDevice) {
  startGateway("[queue]\nawake_window = 1\n");
  auto sim = startSim("sleepy", {"--queue"});
  ASSERT_TRUE(waitUntil([&] {
    Json d = parseJson(ctl({"show", "sleepy", "--json"}).out);
    return d.is_object() && d["awake"] == false;
  })) << gw.log();
  RunResult read = ctl({"read", "sleepy", "/3/0/9"});
  ASSERT_EQ(read.exitCode, 0) << show(read);
  const std::string id = read.out.substr(0, read.out.find('\n'));
  // It waits: nothing goes to a sleeping device.
  Json waiting = parseJson(ctl({"request", id, "--json"}).out);
  EXPECT_EQ(waiting["state"], "queued") << waiting;
  EXPECT_FALSE(sim->has("request GET /3/0/9")) << sim->out();

  sim->send("send=/3303/0/5700");
  ASSERT_TRUE(sim->waitFor("send 2.04")) << sim->out();
  ASSERT_TRUE(sim->waitFor("request GET /3/0/9")) << sim->out() << gw.log();
  RunResult done = ctl({"request", id, "--wait", "--timeout", "10", "--json"});
  ASSERT_EQ(done.exitCode, 0) << show(done);
  Json r = parseJson(done.out);
  EXPECT_EQ(r["state"], "done") << r;
  EXPECT_EQ(r["code"], "2.05") << r;
}

// ---- The bridge: lwgated A bridges its devices to lwgated B ------------------------------------

class BridgeSendE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    upstreamPort = freeUdpPort();
    gatewayPort = freeUdpPort();
  }
  // B, the upstream LwM2M server, on a fixed port (A finds it again after it stops).
  void startUpstream() {
    ASSERT_TRUE(up.start({"--listen", "127.0.0.1:" + std::to_string(upstreamPort)})) << up.log();
  }
  // A, bridging everything to B; short CoAP timers and back-off so an outage shows quickly.
  void startGateway() {
    writeFile(dirA.file("lwgated.toml"),
              "[coap]\nack_timeout = 0.5\nmax_retransmit = 1\n"
              "[[upstream]]\nuri = \"coap://127.0.0.1:" +
                  std::to_string(upstreamPort) +
                  "\"\nendpoint_prefix = \"gw-\"\nbackoff_min = 0.5\nbackoff_max = 1\n");
    ASSERT_TRUE(gw.start({"--config", dirA.file("lwgated.toml"), "--listen",
                          "127.0.0.1:" + std::to_string(gatewayPort), "--log-level", "debug"}))
        << gw.log();
  }
  std::unique_ptr<Interactive> startSim(const std::string& ep) {
    std::vector<std::string> argv{LWGATE_SIM_PATH,
                                  "--server",
                                  "coap://127.0.0.1:" + std::to_string(gatewayPort),
                                  "--ep",
                                  ep,
                                  "--sensor",
                                  "--lt",
                                  "300",
                                  "--ack-timeout",
                                  "1",
                                  "--max-retransmit",
                                  "1",
                                  "register",
                                  "stdin"};
    auto sim = std::make_unique<Interactive>(dirA.path(), "sim-" + ep, argv);
    EXPECT_TRUE(sim->waitFor("register 2.01")) << sim->out() << sim->err() << gw.log();
    return sim;
  }
  bool registeredUpstream(const std::string& ep) {
    return waitUntil(
        [&] {
          return queryInt(up.database(),
                          "SELECT count(*) FROM registrations r JOIN devices d ON d.id = "
                          "r.device_id WHERE d.endpoint = '" +
                              ep + "'") == 1;
        },
        20s);
  }
  // `n` Sends of /3303/0/5700, its value changed before each, so every one is different.
  void sendValues(Interactive& sim, int n, std::size_t answeredBefore) {
    for (int k = 0; k < n; ++k) {
      sim.send("notify=/3303/0/5700");
      sim.send("send=/3303/0/5700");
    }
    ASSERT_TRUE(sim.waitFor("send 2.04", 20s, answeredBefore + n)) << sim.out() << gw.log();
  }

  TempDir dirA;
  TempDir dirB;
  Lwgated gw{dirA.path()};  // A
  Lwgated up{dirB.path()};  // B
  std::uint16_t upstreamPort = 0;
  std::uint16_t gatewayPort = 0;
};

TEST_F(BridgeSendE2E, SendsReachTheUpstreamServerInOrder) {
  startUpstream();
  startGateway();
  auto sim = startSim("meter-1");
  ASSERT_TRUE(registeredUpstream("gw-meter-1")) << gw.log() << up.log();
  sendValues(*sim, 5, 0);
  ASSERT_TRUE(waitUntil([&] { return sendPayloads(up.database(), "gw-meter-1").size() == 5; }))
      << gw.log() << up.log();
  const auto sent = sendPayloads(gw.database(), "meter-1");
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sendPayloads(up.database(), "gw-meter-1"), sent);
  EXPECT_EQ(sent[0], R"([{"n":"/3303/0/5700","v":22}])");
  // A's cursor follows B's answers.
  EXPECT_TRUE(waitUntil([&] {
    return queryInt(gw.database(),
                    "SELECT count(*) FROM upstream_sends WHERE forwarded_id = (SELECT max(id) FROM "
                    "notifications WHERE kind = 'send')") == 1;
  })) << gw.log();
}

// B stops answering (SIGSTOP: a hung server, the backhaul gone); A keeps the device's Sends and
// sends them, in order, once B answers again.
TEST_F(BridgeSendE2E, SendsDuringAnOutageArriveInOrderAfterIt) {
  startUpstream();
  startGateway();
  auto sim = startSim("meter-1");
  ASSERT_TRUE(registeredUpstream("gw-meter-1")) << gw.log() << up.log();
  sendValues(*sim, 2, 0);
  ASSERT_TRUE(waitUntil([&] { return sendPayloads(up.database(), "gw-meter-1").size() == 2; }))
      << gw.log() << up.log();
  up.signal(SIGSTOP);
  sendValues(*sim, 4, 2);  // the device's Sends are answered by A all the same
  // A noticed the outage: a Send unanswered (LWG6028), or the link already backing off.
  ASSERT_TRUE(waitUntil(
      [&] {
        const std::string log = gw.log();
        return log.find("LWG6028 Sends of meter-1") != std::string::npos ||
               log.find("LWG6003 meter-1 is not registered") != std::string::npos;
      },
      20s))
      << gw.log();
  up.signal(SIGCONT);
  const auto sent = sendPayloads(gw.database(), "meter-1");
  ASSERT_EQ(sent.size(), 6u);
  ASSERT_TRUE(
      waitUntil([&] { return firsts(sendPayloads(up.database(), "gw-meter-1")) == sent; }, 30s))
      << gw.log() << up.log();
  // Only the Send on its way when B stopped can come twice (B read it late from its socket, and
  // A sent it again from the device's new upstream socket).
  EXPECT_LE(sendPayloads(up.database(), "gw-meter-1").size(), sent.size() + 1);
}

// kill -9 of A while Sends wait for B: they are in A's database with their cursor, and the
// restarted A sends them from the device's new upstream socket once B answers.
TEST_F(BridgeSendE2E, Kill9WithSendsWaitingLosesNone) {
  startUpstream();
  startGateway();
  auto sim = startSim("meter-1");
  ASSERT_TRUE(registeredUpstream("gw-meter-1")) << gw.log() << up.log();
  sendValues(*sim, 1, 0);
  ASSERT_TRUE(waitUntil([&] { return sendPayloads(up.database(), "gw-meter-1").size() == 1; }))
      << gw.log() << up.log();
  up.signal(SIGSTOP);
  sendValues(*sim, 3, 1);
  gw.kill9();
  startGateway();
  up.signal(SIGCONT);
  const auto sent = sendPayloads(gw.database(), "meter-1");
  ASSERT_EQ(sent.size(), 4u);
  ASSERT_TRUE(
      waitUntil([&] { return firsts(sendPayloads(up.database(), "gw-meter-1")) == sent; }, 30s))
      << gw.log() << up.log();
  EXPECT_LE(sendPayloads(up.database(), "gw-meter-1").size(), sent.size() + 1);
  EXPECT_EQ(queryText(gw.database(), "PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace lwgate::e2e::send_e2e
