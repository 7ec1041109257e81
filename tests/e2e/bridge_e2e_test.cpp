// The bridge end to end (issue 6): the real lwgated with an [[upstream]] section, lwgate-sim as
// the local device, and npm lwm2m-node-lib's LwM2M server (tests/interop/node_server.js) as the
// third-party upstream server, all over UDP on 127.0.0.1, with a real SQLite file.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>

#include "tests/e2e/bridge_harness.h"
#include "tests/e2e/harness.h"

namespace lwgate::e2e::bridge_e2e {
namespace {

const std::string kInterop = std::string(LWGATE_SOURCE_DIR) + "/tests/interop";

// One "T register EP ... port=P ..." line of the node server.
struct Seen {
  std::int64_t timeMs = 0;
  std::string verb;
  std::string endpoint;
  std::string rest;
  int port = 0;
};

std::vector<Seen> seen(const Interactive& node, const std::string& verb) {
  std::vector<Seen> out;
  static const std::regex line("^(\\d+) (\\S+) (\\S+)(.*)$");
  static const std::regex port(" port=(\\d+)");
  for (const auto& l : node.lines()) {
    std::smatch m;
    if (!std::regex_match(l, m, line) || m[2] != verb) continue;
    Seen s{std::stoll(m[1]), m[2], m[3], m[4], 0};
    std::smatch p;
    if (std::regex_search(s.rest, p, port)) s.port = std::stoi(p[1]);
    out.push_back(s);
  }
  return out;
}

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class BridgeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kInterop + "/node_modules/lwm2m-node-lib"))
        << "run: npm ci --prefix tests/interop (scripts/test.sh does)";
    upstreamPort = freeUdpPort();
    gatewayPort = freeUdpPort();
  }

  void startUpstream() {
    node =
        std::make_unique<Interactive>(dir.path(), "node-" + std::to_string(++upstreamRuns),
                                      std::vector<std::string>{"node", kInterop + "/node_server.js",
                                                               std::to_string(upstreamPort)});
    ASSERT_TRUE(node->waitFor("listening")) << node->out() << node->err();
  }

  // The gateway with one [[upstream]] (the node server) plus `upstreamKeys`, on a fixed port so
  // devices find it again after a restart. Short CoAP timers so failures show quickly.
  // `extra`: more lwgated arguments (--bus).
  void startGateway(const std::string& upstreamKeys = "", std::vector<std::string> extra = {}) {
    writeFile(dir.file("lwgated.toml"),
              "[coap]\nack_timeout = 0.5\nmax_retransmit = 1\n"
              "[[upstream]]\nuri = \"coap://127.0.0.1:" +
                  std::to_string(upstreamPort) + "\"\nendpoint_prefix = \"gw-\"\n" + upstreamKeys);
    std::vector<std::string> args{"--config",    dir.file("lwgated.toml"),
                                  "--listen",    "127.0.0.1:" + std::to_string(gatewayPort),
                                  "--log-level", "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(gw.start(args)) << gw.log();
  }

  // A device that registers and then takes actions from stdin.
  std::unique_ptr<Interactive> startSim(const std::string& ep,
                                        std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{LWGATE_SIM_PATH,
                                  "--server",
                                  "coap://127.0.0.1:" + std::to_string(gatewayPort),
                                  "--ep",
                                  ep,
                                  "--lt",
                                  "300",
                                  "--ack-timeout",
                                  "1",
                                  "--max-retransmit",
                                  "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"register", "stdin"});
    auto sim = std::make_unique<Interactive>(dir.path(), "sim-" + ep, argv);
    EXPECT_TRUE(sim->waitFor("register 2.01")) << sim->out() << sim->err() << gw.log();
    return sim;
  }

  std::int64_t rows(const std::string& sql) { return queryInt(gw.database(), sql); }

  TempDir dir;
  Lwgated gw{dir.path()};
  std::uint16_t upstreamPort = 0;
  std::uint16_t gatewayPort = 0;
  int upstreamRuns = 0;
  std::unique_ptr<Interactive> node;
};

TEST_F(BridgeE2E, LocalDeviceAppearsUpstreamAndLeavesWithIt) {
  startUpstream();
  startGateway("lifetime = 120\n");
  auto sim = startSim("meter-1", {"--lwm2m", "1.0", "--objects", "</1/0>,</3/0>,</3303/0>"});
  ASSERT_TRUE(node->waitFor("register gw-meter-1")) << node->out() << gw.log();
  auto regs = seen(*node, "register");
  ASSERT_EQ(regs.size(), 1u);
  // Its own endpoint (with the prefix), version, object links; always reachable (gateway mode).
  EXPECT_EQ(regs[0].rest, " lt=120 lwm2m=1.0 b=U port=" + std::to_string(regs[0].port) +
                              " payload=</1/0>,</3/0>,</3303/0>");
  // From a socket of its own, not the gateway's listening port.
  EXPECT_NE(regs[0].port, gatewayPort);
  EXPECT_TRUE(gw.waitForLog("LWG6001 meter-1 registered on coap://127.0.0.1:" +
                            std::to_string(upstreamPort) + " at /rd/"))
      << gw.log();
  EXPECT_EQ(rows("SELECT count(*) FROM upstream_registrations WHERE endpoint = 'gw-meter-1' "
                 "AND lifetime = 120 AND version = '1.0'"),
            1);

  // A second device gets a socket of its own.
  auto other = startSim("meter-2");
  ASSERT_TRUE(node->waitFor("register gw-meter-2")) << node->out();
  EXPECT_NE(seen(*node, "register")[1].port, regs[0].port);

  // De-registered locally: de-registered upstream.
  sim->send("deregister");
  ASSERT_TRUE(sim->waitFor("deregister 2.02")) << sim->out();
  ASSERT_TRUE(node->waitFor("unregister gw-meter-1")) << node->out() << gw.log();
  EXPECT_TRUE(waitUntil([&] {
    return rows("SELECT count(*) FROM upstream_registrations WHERE endpoint = 'gw-meter-1'") == 0;
  }));
  node->send("devices");
  ASSERT_TRUE(node->waitFor(" devices ")) << node->out();
  EXPECT_TRUE(node->has(" devices gw-meter-2")) << node->out();
}

TEST_F(BridgeE2E, DevicesOutsideThePatternStayLocal) {
  startUpstream();
  startGateway("devices = [\"meter-*\"]\n");
  auto pump = startSim("pump-1");
  auto meter = startSim("meter-1");
  ASSERT_TRUE(node->waitFor("register gw-meter-1")) << node->out() << gw.log();
  EXPECT_FALSE(node->has("gw-pump-1")) << node->out();
}

// spec/cr-maintenance-upgrade-holdoff.txt: the first Register only after the hold-off, then
// at most registrations_per_second, in the order the devices came.
TEST_F(BridgeE2E, HoldOffAndRateAreRespected) {
  startUpstream();
  const std::int64_t started = nowMs();
  startGateway("hold_off = 2\nregistrations_per_second = 4\n");
  std::vector<std::unique_ptr<Interactive>> sims;
  for (int k = 0; k < 6; ++k) sims.push_back(startSim("d" + std::to_string(k)));
  ASSERT_TRUE(node->waitFor("register gw-d", 30s, 6)) << node->out() << gw.log();
  auto regs = seen(*node, "register");
  ASSERT_EQ(regs.size(), 6u);
  EXPECT_GE(regs[0].timeMs - started, 2000) << node->out();
  for (std::size_t k = 1; k < regs.size(); ++k) {
    // 250 ms apart by the gateway's clock; the node server's timestamps add a little noise.
    EXPECT_GE(regs[k].timeMs - regs[k - 1].timeMs, 200) << node->out();
  }
  // 6 Registers at 4 per second take at least 1.25 s.
  EXPECT_GE(regs.back().timeMs - regs.front().timeMs, 1250 - 50) << node->out();
}

// After kill -9 the gateway comes back with new sockets: each remembered upstream registration
// gets an Update from its new port (the server learns the new address), not a new Register.
TEST_F(BridgeE2E, RestartUpdatesFromTheNewSocketInsteadOfRegisteringAgain) {
  startUpstream();
  startGateway();
  auto sim = startSim("meter-1");
  ASSERT_TRUE(node->waitFor("register gw-meter-1")) << node->out() << gw.log();
  const int firstPort = seen(*node, "register")[0].port;
  // The kill comes once the registration is stored (the server logs the Register before its
  // answer reaches the gateway).
  ASSERT_TRUE(waitUntil([&] {
    return queryInt(gw.database(), "SELECT count(*) FROM upstream_registrations") == 1;
  })) << gw.log();
  gw.kill9();
  startGateway();
  ASSERT_TRUE(node->waitFor("update gw-meter-1")) << node->out() << gw.log();
  auto updates = seen(*node, "update");
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_NE(updates[0].port, firstPort);
  EXPECT_EQ(seen(*node, "register").size(), 1u) << node->out();
  // The server reaches the device at its new address (once the device talked to the restarted
  // gateway, which has no session to it before).
  sim->send("update");
  ASSERT_TRUE(sim->waitFor("update 2.04")) << sim->out();
  node->send("read gw-meter-1 /3/0/0");
  ASSERT_TRUE(node->waitFor("read gw-meter-1 /3/0/0 ok lwgate-sim")) << node->out() << gw.log();
}

// The upstream server goes away and comes back without its registrations (lwm2m-node-lib keeps
// them in memory): the gateway backs off while it is gone, and its next Update, answered 4.04,
// becomes a full Register.
TEST_F(BridgeE2E, ServerRestartIsFollowedByAFreshRegister) {
  startUpstream();
  startGateway("lifetime = 6\nbackoff_min = 0.5\nbackoff_max = 2\n");
  auto sim = startSim("meter-1");
  ASSERT_TRUE(node->waitFor("register gw-meter-1")) << node->out() << gw.log();
  ASSERT_TRUE(node->waitFor("update gw-meter-1", 10s)) << node->out() << gw.log();
  node->kill9();
  ASSERT_TRUE(gw.waitForLog("LWG6003 meter-1 is not registered on", 20s)) << gw.log();
  startUpstream();
  ASSERT_TRUE(node->waitFor("register gw-meter-1", 30s)) << node->out() << gw.log();
  EXPECT_TRUE(gw.waitForLog("LWG6001 meter-1 registered on")) << gw.log();
}

// ---- Downlink from upstream ---------------------------------------------------------------------

// The server's Read, Write and Execute go through the device's queue; each is acknowledged at
// once and answered when the device answers (a separate response with the server's token).
TEST_F(BridgeE2E, UpstreamReadWriteExecuteReachTheDeviceAndTheAnswersReturn) {
  startUpstream();
  startGateway();
  auto sim = startSim("meter-1");
  ASSERT_TRUE(node->waitFor("register gw-meter-1")) << node->out() << gw.log();
  node->send("read gw-meter-1 /3/0/0");
  ASSERT_TRUE(node->waitFor("read gw-meter-1 /3/0/0 ok lwgate-sim")) << node->out() << gw.log();
  node->send("write gw-meter-1 /1/0/1 300");
  ASSERT_TRUE(node->waitFor("write gw-meter-1 /1/0/1 ok")) << node->out() << gw.log();
  node->send("read gw-meter-1 /1/0/1");
  ASSERT_TRUE(node->waitFor("read gw-meter-1 /1/0/1 ok 300")) << node->out() << gw.log();
  node->send("execute gw-meter-1 /3/0/4");
  ASSERT_TRUE(node->waitFor("execute gw-meter-1 /3/0/4 ok")) << node->out() << gw.log();
  EXPECT_TRUE(sim->waitFor("EXECUTED /3/0/4 count=1")) << sim->out();
  // The device's own errors go back as they are.
  node->send("read gw-meter-1 /3/0/77");
  ASSERT_TRUE(node->waitFor("read gw-meter-1 /3/0/77 error")) << node->out();
  // Each went through the queue once and is done there.
  EXPECT_EQ(rows("SELECT count(*) FROM requests"), 5);
  EXPECT_EQ(rows("SELECT count(*) FROM requests WHERE state = 'done'"), 5);
  EXPECT_TRUE(waitUntil([&] { return rows("SELECT count(*) FROM upstream_exchanges") == 0; }));
  EXPECT_EQ(sim->count("request PUT /1/0/1 ct=0 -> 2.04"), 1u) << sim->out();
}

// Gateway mode: the server sees an always-reachable device; a Read while the device sleeps
// waits in the queue and is answered once the device wakes.
TEST_F(BridgeE2E, SleepingDeviceIsAnsweredAfterItWakes) {
  startUpstream();
  startGateway("answer_timeout = 60\n[queue]\nawake_window = 1\n");
  auto sim = startSim("sleepy", {"--queue"});
  ASSERT_TRUE(node->waitFor("register gw-sleepy lt=86400 lwm2m=1.1 b=U ")) << node->out();
  sim->send("sleep=5");
  // Asleep for the gateway too once the awake window after its Register is over.
  ASSERT_TRUE(gw.waitForLog("LWG3007 sleepy is asleep")) << gw.log();
  node->send("read gw-sleepy /3/0/0");
  ASSERT_TRUE(gw.waitForLog("LWG6022 coap://127.0.0.1:" + std::to_string(upstreamPort) +
                            " asked sleepy for read /3/0/0"))
      << gw.log();
  ASSERT_TRUE(sim->waitFor("sleep 5000ms", 20s)) << sim->out();
  EXPECT_FALSE(node->has("read gw-sleepy /3/0/0 ok")) << node->out();  // not before it woke
  sim->send("update");
  ASSERT_TRUE(node->waitFor("read gw-sleepy /3/0/0 ok lwgate-sim", 20s)) << node->out() << gw.log();
  EXPECT_TRUE(sim->has("request GET /3/0/0 accept=0 -> 2.05")) << sim->out();
  EXPECT_FALSE(gw.log().find("LWG6020") != std::string::npos) << gw.log();
}

// Gateway mode: no answer within answer_timeout -> 5.04 Gateway Timeout, and the request leaves
// the queue (the device never executes what nobody waits for).
TEST_F(BridgeE2E, UnansweredRequestGets504AndIsCancelled) {
  startUpstream();
  startGateway("answer_timeout = 2\n[queue]\nawake_window = 1\n");
  auto sim = startSim("sleepy", {"--queue"});
  ASSERT_TRUE(node->waitFor("register gw-sleepy")) << node->out();
  sim->send("sleep=6");
  ASSERT_TRUE(gw.waitForLog("LWG3007 sleepy is asleep")) << gw.log();
  node->send("execute gw-sleepy /3/0/4");
  ASSERT_TRUE(
      node->waitFor("execute gw-sleepy /3/0/4 error Error code recieved from the client: "
                    "5.04",
                    20s))
      << node->out() << gw.log();
  // The queue expires it at answer_timeout, or the bridge cancels it (LWG6020): 5.04 either way.
  EXPECT_TRUE(gw.waitForLog("(request 1): 5.04")) << gw.log();
  ASSERT_TRUE(sim->waitFor("sleep 6000ms", 20s)) << sim->out();
  sim->send("update");
  ASSERT_TRUE(sim->waitFor("update 2.04")) << sim->out();
  sim->send("wait=2");
  ASSERT_TRUE(sim->waitFor("wait 2000ms")) << sim->out();
  EXPECT_FALSE(sim->has("EXECUTED /3/0/4")) << sim->out();
  EXPECT_EQ(rows("SELECT count(*) FROM requests WHERE operation = 'execute' AND state IN "
                 "('cancelled', 'expired')"),
            1);
  EXPECT_EQ(rows("SELECT count(*) FROM upstream_exchanges"), 0);
}

// kill -9 while the server's request waits for a sleeping device: after the restart the request
// is still queued, the device executes it once when it wakes, and the answer reaches the server.
TEST_F(BridgeE2E, Kill9WhileARequestWaitsLosesNothing) {
  startUpstream();
  startGateway("answer_timeout = 120\n[queue]\nawake_window = 1\n");
  auto sim = startSim("sleepy", {"--queue"});
  ASSERT_TRUE(node->waitFor("register gw-sleepy")) << node->out();
  sim->send("sleep=6");
  ASSERT_TRUE(gw.waitForLog("LWG3007 sleepy is asleep")) << gw.log();
  node->send("execute gw-sleepy /3/0/4");
  ASSERT_TRUE(gw.waitForLog("asked sleepy for execute /3/0/4")) << gw.log();
  EXPECT_TRUE(waitUntil([&] { return rows("SELECT count(*) FROM upstream_exchanges") == 1; }));
  gw.kill9();
  startGateway("answer_timeout = 120\n[queue]\nawake_window = 1\n");
  ASSERT_TRUE(sim->waitFor("sleep 6000ms", 20s)) << sim->out();
  sim->send("update");
  ASSERT_TRUE(node->waitFor("execute gw-sleepy /3/0/4 ok", 20s)) << node->out() << gw.log();
  EXPECT_EQ(sim->count("EXECUTED /3/0/4"), 1u) << sim->out();
  EXPECT_TRUE(waitUntil([&] { return rows("SELECT count(*) FROM upstream_exchanges") == 0; }));
}

// Mirror mode: the sleeping device is registered upstream with Q, and each time it wakes the
// server gets an Update from it (TS Core 6.5: the moment a queue-mode client can be reached).
// lwm2m-node-lib has no queue of its own, so the test plays the server's queue: it sends the
// Read once the mirrored Update arrived, and the device, awake, answers it.
TEST_F(BridgeE2E, MirrorModeRegistersWithQAndUpdatesWhenTheDeviceWakes) {
  startUpstream();
  startGateway("queue_mode = \"mirror\"\n[queue]\nawake_window = 1\n");
  auto sim = startSim("sleepy", {"--queue"});
  auto awake = startSim("awake");
  ASSERT_TRUE(node->waitFor("register gw-sleepy")) << node->out();
  ASSERT_TRUE(node->waitFor("register gw-awake")) << node->out();
  EXPECT_TRUE(gw.waitForLog("LWG6010 Register of sleepy to coap://127.0.0.1:" +
                            std::to_string(upstreamPort)))
      << gw.log();
  EXPECT_NE(gw.log().find("/rd?ep=gw-sleepy&lt=86400&lwm2m=1.1&b=U&Q"), std::string::npos)
      << gw.log();
  EXPECT_NE(gw.log().find("/rd?ep=gw-awake&lt=86400&lwm2m=1.1&b=U\n"), std::string::npos)
      << gw.log();
  sim->send("sleep=2");
  ASSERT_TRUE(gw.waitForLog("LWG3007 sleepy is asleep")) << gw.log();
  EXPECT_EQ(node->count("update gw-sleepy"), 0u) << node->out();
  ASSERT_TRUE(sim->waitFor("sleep 2000ms", 20s)) << sim->out();
  sim->send("update");  // it wakes
  ASSERT_TRUE(node->waitFor("update gw-sleepy")) << node->out() << gw.log();
  node->send("read gw-sleepy /3/0/0");
  ASSERT_TRUE(node->waitFor("read gw-sleepy /3/0/0 ok lwgate-sim")) << node->out() << gw.log();
  // A device that is never asleep is never announced again.
  EXPECT_EQ(node->count("update gw-awake"), 0u) << node->out();
}

// ---- Observe from upstream
// -----------------------------------------------------------------------

// The notifications of one upstream observation, in the order the server printed them.
std::vector<std::string> notified(const Interactive& node, const std::string& what) {
  std::vector<std::string> out;
  const std::string prefix = "notify " + what + " ";
  for (const auto& l : node.lines()) {
    const auto at = l.find(prefix);
    if (at != std::string::npos) out.push_back(l.substr(at + prefix.size()));
  }
  return out;
}

// The server's Observe becomes the device's observation; its answer and each notification go
// upstream with the server's token and growing Observe numbers, and the server acknowledges
// each (forwarded_id reaches the newest).
TEST_F(BridgeE2E, UpstreamObserveForwardsEveryNotificationInOrder) {
  startUpstream();
  startGateway();
  auto sim = startSim("obs-1", {"--sensor"});
  ASSERT_TRUE(node->waitFor("register gw-obs-1")) << node->out();
  node->send("observe gw-obs-1 /3303/0/5700");
  ASSERT_TRUE(node->waitFor("observe gw-obs-1 /3303/0/5700 ok 21.5")) << node->out() << gw.log();
  EXPECT_TRUE(sim->has("request GET /3303/0/5700 accept=0 observe=0 -> 2.05")) << sim->out();
  for (int k = 0; k < 3; ++k) sim->send("notify=/3303/0/5700");
  ASSERT_TRUE(node->waitFor("notify gw-obs-1 /3303/0/5700 23")) << node->out() << gw.log();
  EXPECT_EQ(notified(*node, "gw-obs-1 /3303/0/5700"),
            (std::vector<std::string>{"22", "22.5", "23"}))
      << node->out();
  EXPECT_TRUE(waitUntil([&] {
    return rows(
               "SELECT count(*) FROM upstream_observations u WHERE forwarded_id = "
               "(SELECT max(id) FROM notifications n WHERE n.observation_id = u.observation_id)") ==
           1;
  })) << gw.log();
}

// The backhaul goes down (the server stops answering): notifications keep being stored, wait,
// and reach the server in order once it answers again; none is lost.
TEST_F(BridgeE2E, NotificationsDuringABackhaulOutageArriveInOrderAfterIt) {
  startUpstream();
  startGateway("backoff_min = 0.5\nbackoff_max = 1\n");
  auto sim = startSim("obs-1", {"--sensor"});
  ASSERT_TRUE(node->waitFor("register gw-obs-1")) << node->out();
  node->send("observe gw-obs-1 /3303/0/5700");
  ASSERT_TRUE(node->waitFor("observe gw-obs-1 /3303/0/5700 ok 21.5")) << node->out() << gw.log();
  node->pause();
  for (int k = 0; k < 4; ++k) sim->send("notify=/3303/0/5700");
  // The gateway notices the outage: a notification unacknowledged (LWG6028), or, when a slow
  // moment had already taken the link down, the registration backing off (LWG6003).
  ASSERT_TRUE(waitUntil(
      [&] {
        const std::string log = gw.log();
        return log.find("LWG6028 notifications of obs-1 /3303/0/5700") != std::string::npos ||
               log.find("LWG6003 obs-1 is not registered") != std::string::npos;
      },
      20s))
      << gw.log();
  EXPECT_TRUE(waitUntil([&] {
    return rows(
               "SELECT count(*) FROM notifications n JOIN upstream_observations u ON "
               "u.observation_id = n.observation_id WHERE n.id > u.forwarded_id") == 4;
  })) << gw.log();
  node->resume();
  ASSERT_TRUE(node->waitFor("notify gw-obs-1 /3303/0/5700 23.5", 30s)) << node->out() << gw.log();
  // In order; a value the server got twice (a retransmission it saw late) only repeats.
  auto got = notified(*node, "gw-obs-1 /3303/0/5700");
  got.erase(std::unique(got.begin(), got.end()), got.end());
  std::vector<std::string> firsts;
  for (const auto& v : got) {
    if (std::find(firsts.begin(), firsts.end(), v) == firsts.end()) firsts.push_back(v);
  }
  EXPECT_EQ(firsts, (std::vector<std::string>{"22", "22.5", "23", "23.5"})) << node->out();
}

// kill -9 of lwgated while notifications wait for the backhaul: they are in SQLite, and the
// restarted gateway sends them from the device's new upstream socket once the server answers.
TEST_F(BridgeE2E, Kill9WithNotificationsWaitingLosesNone) {
  startUpstream();
  const std::string keys = "backoff_min = 0.5\nbackoff_max = 1\n";
  startGateway(keys);
  auto sim = startSim("obs-1", {"--sensor"});
  ASSERT_TRUE(node->waitFor("register gw-obs-1")) << node->out();
  node->send("observe gw-obs-1 /3303/0/5700");
  ASSERT_TRUE(node->waitFor("observe gw-obs-1 /3303/0/5700 ok 21.5")) << node->out() << gw.log();
  node->pause();
  for (int k = 0; k < 3; ++k) sim->send("notify=/3303/0/5700");
  ASSERT_TRUE(waitUntil([&] {
    return rows(
               "SELECT count(*) FROM notifications n JOIN upstream_observations u ON "
               "u.observation_id = n.observation_id WHERE n.id > u.forwarded_id") == 3;
  })) << gw.log();
  gw.kill9();
  startGateway(keys);
  node->resume();
  ASSERT_TRUE(node->waitFor("notify gw-obs-1 /3303/0/5700 23", 30s)) << node->out() << gw.log();
  // After the restart the device's observation goes on too.
  sim->send("notify=/3303/0/5700");
  ASSERT_TRUE(node->waitFor("notify gw-obs-1 /3303/0/5700 23.5", 30s)) << node->out() << gw.log();
  auto got = notified(*node, "gw-obs-1 /3303/0/5700");
  std::vector<std::string> firsts;
  for (const auto& v : got) {
    if (std::find(firsts.begin(), firsts.end(), v) == firsts.end()) firsts.push_back(v);
  }
  EXPECT_EQ(firsts, (std::vector<std::string>{"22", "22.5", "23", "23.5"})) << node->out();
  EXPECT_EQ(seen(*node, "register").size(), 1u) << node->out();
}

// The server stops observing. lwm2m-node-lib's cancel only closes its stream: the next
// notifications are neither acknowledged nor answered RST, while its registration answers. After
// three such rounds the upstream observation ends, and so does the device's (passively: its next
// notification is answered RST). No notification reaches the server after the cancel.
TEST_F(BridgeE2E, AServerThatStopsAcknowledgingEndsTheRelayedObservation) {
  startUpstream();
  startGateway("backoff_min = 0.2\nbackoff_max = 1\n");
  auto sim = startSim("obs-1", {"--sensor"});
  ASSERT_TRUE(node->waitFor("register gw-obs-1")) << node->out();
  node->send("observe gw-obs-1 /3303/0/5700");
  ASSERT_TRUE(node->waitFor("observe gw-obs-1 /3303/0/5700 ok 21.5")) << node->out() << gw.log();
  node->send("cancel gw-obs-1 /3303/0/5700");
  ASSERT_TRUE(node->waitFor("cancel gw-obs-1 /3303/0/5700 ok")) << node->out();
  sim->send("notify=/3303/0/5700");
  ASSERT_TRUE(gw.waitForLog("LWG6027 coap://127.0.0.1:" + std::to_string(upstreamPort) +
                                " no longer observes obs-1 /3303/0/5700: the server did not "
                                "acknowledge its notifications 3 times in a row",
                            30s))
      << gw.log() << node->out();
  EXPECT_TRUE(waitUntil([&] { return rows("SELECT count(*) FROM upstream_observations") == 0; }));
  // The device's next notification is refused by the gateway too.
  sim->send("notify=/3303/0/5700");
  EXPECT_TRUE(waitUntil([&] { return rows("SELECT count(*) FROM observations") == 0; }))
      << gw.log();
  EXPECT_FALSE(node->has("notify gw-obs-1")) << node->out();
}

// Gateway mode: an Observe the sleeping device does not answer within answer_timeout gets 5.04
// and leaves no upstream observation behind.
TEST_F(BridgeE2E, UnansweredObserveGets504AndLeavesNoObservation) {
  startUpstream();
  startGateway("answer_timeout = 2\n[queue]\nawake_window = 1\n");
  auto sim = startSim("sleepy", {"--queue", "--sensor"});
  ASSERT_TRUE(node->waitFor("register gw-sleepy")) << node->out();
  sim->send("sleep=6");
  ASSERT_TRUE(gw.waitForLog("LWG3007 sleepy is asleep")) << gw.log();
  node->send("observe gw-sleepy /3303/0/5700");
  // lwm2m-node-lib reports no error answer to an Observe: the gateway's log says what it sent.
  ASSERT_TRUE(gw.waitForLog("for sleepy (request 1): 5.04", 20s)) << gw.log();
  EXPECT_TRUE(waitUntil([&] { return rows("SELECT count(*) FROM upstream_observations") == 0; }))
      << gw.log();
  EXPECT_EQ(rows("SELECT count(*) FROM upstream_exchanges"), 0);
}

// ---- Visible state
// -------------------------------------------------------------------------------

// lwgatectl upstream lists the servers and their health; lwgatectl upstream EP and show EP give
// the device's upstream registration (state, location, name upstream, last error).
TEST_F(BridgeE2E, LwgatectlShowsTheServersAndEachDevicesUpstreamState) {
  PrivateBus bus{dir.path()};
  startUpstream();
  startGateway("lifetime = 600\n", bus.lwgatedArgs());
  auto sim = startSim("meter-1");
  ASSERT_TRUE(node->waitFor("register gw-meter-1")) << node->out();
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {LWGATECTL_PATH, "--bus", bus.address()});
    return run(args);
  };
  const std::string uri = "coap://127.0.0.1:" + std::to_string(upstreamPort);
  RunResult servers;
  ASSERT_TRUE(waitUntil([&] {
    servers = ctl({"upstream", "--json"});
    return servers.out.find("\"registered\":1") != std::string::npos;
  })) << servers.out
      << servers.err;
  EXPECT_EQ(servers.exitCode, 0);
  EXPECT_NE(servers.out.find("\"uri\":\"" + uri + "\""), std::string::npos) << servers.out;
  EXPECT_NE(servers.out.find("\"queue_mode\":\"gateway\""), std::string::npos) << servers.out;
  EXPECT_NE(servers.out.find("\"failing\":0"), std::string::npos) << servers.out;
  RunResult table = ctl({"upstream"});
  EXPECT_EQ(table.exitCode, 0) << table.err;
  EXPECT_NE(table.out.find("SERVER"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("1 upstream server listed."), std::string::npos) << table.out;

  RunResult links = ctl({"upstream", "meter-1"});
  EXPECT_EQ(links.exitCode, 0) << links.err;
  EXPECT_NE(links.out.find("gw-meter-1"), std::string::npos) << links.out;
  EXPECT_NE(links.out.find("registered"), std::string::npos) << links.out;
  EXPECT_NE(links.out.find("/rd/"), std::string::npos) << links.out;

  RunResult show = ctl({"show", "meter-1"});
  EXPECT_EQ(show.exitCode, 0) << show.err;
  EXPECT_NE(show.out.find("Upstream: " + uri + " registered at /rd/"), std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find(" as gw-meter-1"), std::string::npos) << show.out;
  RunResult showJson = ctl({"show", "meter-1", "--json"});
  EXPECT_NE(showJson.out.find("\"upstream_endpoint\":\"gw-meter-1\""), std::string::npos)
      << showJson.out;
  RunResult nobody = ctl({"upstream", "nobody"});  // not bridged: an empty list
  EXPECT_EQ(nobody.exitCode, 0) << nobody.err;
  EXPECT_NE(nobody.out.find("0 upstream registrations listed."), std::string::npos) << nobody.out;
}

}  // namespace
}  // namespace lwgate::e2e::bridge_e2e
