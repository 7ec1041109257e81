// The D-Bus API end to end: the real lwgated on a private dbus-daemon, the device simulator on
// 127.0.0.1, a client built from the same XML (the generated proxy), and the real SQLite file.
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include <filesystem>
#include <mutex>

#include "lwgate/dbus/gateway1_proxy.h"
#include "tests/e2e/harness.h"

namespace lwgate::e2e {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;

struct Completed {
  std::uint64_t id;
  std::string endpoint, state, code, reason, json;
};

// A client of org.lwgate.Gateway1 that records the signals it hears.
class Client final
    : public sdbus::ProxyInterfaces<org::lwgate::Gateway1_proxy, sdbus::ObjectManager_proxy> {
 public:
  explicit Client(sdbus::IConnection& c)
      : ProxyInterfaces(c, "org.lwgate.Gateway1", "/org/lwgate/Gateway1") {
    registerProxy();
  }
  ~Client() { unregisterProxy(); }

  std::optional<Completed> completed(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    for (const auto& c : completed_) {
      if (c.id == id) return c;
    }
    return std::nullopt;
  }
  std::vector<std::string> progress(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    return progress_[id];
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // Notification signals as Completed values: id, endpoint, state = path, code = observation
  // id, reason = json, json = decode error.
  std::vector<Completed> notifications() {
    std::lock_guard lock(mutex_);
    return notifications_;
  }
  bool heard(const std::string& event) {
    std::lock_guard lock(mutex_);
    return std::find(events_.begin(), events_.end(), event) != events_.end();
  }

 private:
  void onRequestCompleted(const uint64_t& id, const std::string& endpoint, const std::string& state,
                          const std::string& code, const std::string& reason,
                          const std::string& json, const std::vector<uint8_t>&,
                          const uint16_t&) override {
    std::lock_guard lock(mutex_);
    completed_.push_back({id, endpoint, state, code, reason, json});
  }
  void onNotification(const uint64_t& id, const std::string& endpoint, const std::string& path,
                      const uint64_t& observation, const std::string& json,
                      const std::string& decodeError, const std::vector<uint8_t>&,
                      const uint16_t&) override {
    std::lock_guard lock(mutex_);
    notifications_.push_back({id, endpoint, path, std::to_string(observation), json, decodeError});
  }
  void onSend(const uint64_t&, const std::string&, const std::string&, const std::vector<uint8_t>&,
              const uint16_t&) override {}
  void onRequestProgress(const uint64_t& id, const std::string&,
                         const std::string& stage) override {
    std::lock_guard lock(mutex_);
    progress_[id].push_back(stage);
  }
  void onWakeDecision(const std::string&, const bool&, const std::string&, const std::string&,
                      const uint64_t&) override {}
  void record(std::string e) {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(e));
  }
  void onDeviceRegistered(const std::string& ep, const sdbus::ObjectPath&) override {
    record("registered " + ep);
  }
  void onDeviceUpdated(const std::string& ep, const sdbus::ObjectPath&) override {
    record("updated " + ep);
  }
  void onDeviceDeregistered(const std::string& ep, const sdbus::ObjectPath&) override {
    record("deregistered " + ep);
  }
  void onDeviceExpired(const std::string& ep, const sdbus::ObjectPath&) override {
    record("expired " + ep);
  }
  void onDeviceAwake(const std::string& ep, const sdbus::ObjectPath&) override {
    record("awake " + ep);
  }
  void onDeviceAsleep(const std::string& ep, const sdbus::ObjectPath&) override {
    record("asleep " + ep);
  }
  void onInterfacesAdded(
      const sdbus::ObjectPath& path,
      const std::map<std::string, std::map<std::string, sdbus::Variant>>&) override {
    record("added " + std::string(path));
  }
  void onInterfacesRemoved(const sdbus::ObjectPath& path,
                           const std::vector<std::string>&) override {
    record("removed " + std::string(path));
  }

  std::mutex mutex_;
  std::vector<Completed> completed_;
  std::vector<Completed> notifications_;
  std::map<std::uint64_t, std::vector<std::string>> progress_;
  std::vector<std::string> events_;
};

std::string errorName(const std::function<void()>& call) {
  try {
    call();
  } catch (const sdbus::Error& e) {
    return e.getName() + ": " + e.getMessage();
  }
  return "";
}

class DbusE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    writeFile(dir.file("lwgated.toml"), "[queue]\nawake_window = 2\n");
    auto args = bus.lwgatedArgs();
    args.insert(args.end(), {"--config", dir.file("lwgated.toml")});
    ASSERT_TRUE(gw.start(args)) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG4001")) << gw.log();
    connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    connection->enterEventLoopAsync();
    client = std::make_unique<Client>(*connection);
  }
  void TearDown() override {
    client.reset();
    if (connection) connection->leaveEventLoop();
  }

  // Starts the simulator with the actions and waits until the gateway has the device.
  void startSim(const std::string& ep, std::vector<std::string> actions, bool queue = false) {
    std::vector<std::string> argv{LWGATE_SIM_PATH, "--server", gw.url(), "--ep", ep};
    if (queue) argv.push_back("--queue");
    argv.insert(argv.end(), actions.begin(), actions.end());
    sim.start(argv);
    ASSERT_TRUE(waitUntil([&] { return client->heard("registered " + ep); }))
        << gw.log() << sim.err();
  }

  Completed waitCompleted(std::uint64_t id, std::chrono::milliseconds timeout = 15s) {
    std::optional<Completed> c;
    waitUntil([&] { return (c = client->completed(id)).has_value(); }, timeout);
    EXPECT_TRUE(c.has_value()) << "request " << id << " did not complete\n" << gw.log();
    return c.value_or(Completed{});
  }

  std::unique_ptr<sdbus::IProxy> device(const std::string& ep) {
    return sdbus::createProxy(*connection, "org.lwgate.Gateway1",
                              "/org/lwgate/Gateway1/device/" + ep);
  }
  sdbus::Variant deviceProperty(const std::string& ep, const std::string& name) {
    return device(ep)->getProperty(name).onInterface("org.lwgate.Gateway1.Device");
  }
  std::int64_t requestCount() { return queryInt(gw.database(), "SELECT count(*) FROM requests"); }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Lwgated gw{dir.path()};
  Background sim{dir.path(), "sim"};
  std::unique_ptr<sdbus::IConnection> connection;
  std::unique_ptr<Client> client;
};

TEST_F(DbusE2E, ReadWriteExecuteRoundTrips) {
  startSim("dev1", {"register", "awake=60"});

  const auto read = client->Read("dev1", "/3/0", {});
  auto done = waitCompleted(read);
  EXPECT_EQ(done.state, "done");
  EXPECT_EQ(done.code, "2.05");
  EXPECT_NE(done.json.find(R"({"path":"/3/0/0","type":"string","value":"lwgate-sim"})"),
            std::string::npos)
      << done.json;
  EXPECT_EQ(client->progress(read), std::vector<std::string>{"sent"});

  // A string for the integer /1/0/1 is typed by the object model; the simulator keeps it.
  const auto write = client->Write("dev1", "/1/0/1", sdbus::Variant(std::string("321")), {});
  EXPECT_EQ(waitCompleted(write).code, "2.04");
  const auto readBack = client->Read("dev1", "/1/0/1", {{"format", sdbus::Variant("text")}});
  EXPECT_EQ(waitCompleted(readBack).json, R"([{"path":"/1/0/1","type":"integer","value":321}])");

  const auto exec = client->Execute("dev1", "/3/0/4", "", {});
  auto executed = waitCompleted(exec);
  EXPECT_EQ(executed.state, "done");
  EXPECT_EQ(executed.code.substr(0, 2), "2.") << executed.code;

  // GetRequest has the same answer, from the database.
  auto got = client->GetRequest(read);
  EXPECT_EQ(got["state"].get<std::string>(), "done");
  EXPECT_EQ(got["code"].get<std::string>(), "2.05");
  EXPECT_EQ(got["operation"].get<std::string>(), "read");
  EXPECT_EQ(got["path"].get<std::string>(), "/3/0");
  EXPECT_EQ(got["endpoint"].get<std::string>(), "dev1");
  EXPECT_EQ(got["json"].get<std::string>(), done.json);
  EXPECT_EQ(
      queryText(gw.database(), "SELECT state FROM requests WHERE id = " + std::to_string(exec)),
      "done");

  auto listed = client->ListRequests({{"endpoint", sdbus::Variant("dev1")}});
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[0]["id"].get<uint64_t>(), read);
  EXPECT_EQ(listed[3]["id"].get<uint64_t>(), exec);
}

TEST_F(DbusE2E, BadArgumentsGetNamedErrorsAndStoreNothing) {
  startSim("dev1", {"register", "awake=60"});
  const std::string invalid = "org.lwgate.Gateway1.Error.InvalidArgs";
  EXPECT_EQ(errorName([&] { client->Read("dev1", "/3/x/0", {}); }).rfind(invalid, 0), 0u);
  EXPECT_EQ(errorName([&] {
              client->Read("nobody", "/3/0", {});
            }).rfind("org.lwgate.Gateway1.Error.NotFound", 0),
            0u);
  EXPECT_EQ(errorName([&] {
              client->Write("dev1", "/1/0/1", sdbus::Variant(std::string("soon")), {});
            }).rfind(invalid, 0),
            0u);
  EXPECT_EQ(errorName([&] {
              client->Write("dev1", "/1/0/6", sdbus::Variant(int64_t{2}), {});
            }).rfind(invalid, 0),
            0u);
  EXPECT_EQ(errorName([&] {
              client->Read("dev1", "/3/0", {{"bogus", sdbus::Variant(1)}});
            }).rfind(invalid, 0),
            0u);
  EXPECT_EQ(
      errorName([&] { client->Execute("dev1", "/3/0/4", "0=unquoted", {}); }).rfind(invalid, 0),
      0u);
  EXPECT_EQ(
      errorName([&] { client->GetRequest(424242); }).rfind("org.lwgate.Gateway1.Error.NotFound", 0),
      0u);
  // A batch is all or nothing: its second element is bad, so none is stored.
  using Element = sdbus::Struct<std::string, std::string, std::string, sdbus::Variant, Dict>;
  std::vector<Element> batch{
      Element{"dev1", "read", "/3/0", sdbus::Variant(""), Dict{}},
      Element{"dev1", "write", "/1/0/1", sdbus::Variant(std::string("soon")), Dict{}}};
  const auto error = errorName([&] { client->SubmitBatch(batch); });
  EXPECT_NE(error.find("request 1: /1/0/1 is an integer"), std::string::npos) << error;
  EXPECT_EQ(requestCount(), 0);
  EXPECT_EQ(client->ListRequests({}).size(), 0u);
}

TEST_F(DbusE2E, BatchIsQueuedInOrderAndIdempotencyKeysReturnTheFirstId) {
  startSim("dev1", {"register", "awake=60"});
  using Element = sdbus::Struct<std::string, std::string, std::string, sdbus::Variant, Dict>;
  std::vector<Element> batch;
  for (int k = 0; k < 20; ++k) {
    batch.push_back(Element{"dev1", "read", "/3/0/9", sdbus::Variant(""), Dict{}});
  }
  auto ids = client->SubmitBatch(batch);
  ASSERT_EQ(ids.size(), 20u);
  for (std::size_t k = 1; k < ids.size(); ++k) EXPECT_EQ(ids[k], ids[k - 1] + 1);
  for (auto id : ids) EXPECT_EQ(waitCompleted(id).state, "done");

  const Dict keyed{{"idempotency_key", sdbus::Variant(std::string("reboot-2026-11"))}};
  const auto first = client->Execute("dev1", "/3/0/4", "", keyed);
  const auto second = client->Execute("dev1", "/3/0/4", "", keyed);
  EXPECT_EQ(first, second);
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM requests WHERE operation='execute'"), 1);
}

// A queue-mode device that sleeps gets the request after it wakes; a second queued one is
// cancelled while it waits.
TEST_F(DbusE2E, SleepingDeviceGetsTheRequestWhenItWakesAndQueuedOnesCanBeCancelled) {
  startSim("sleepy", {"register", "sleep=4", "update", "awake=30"}, /*queue=*/true);
  // The awake window (2 s) after the Register runs out while the simulator sleeps.
  ASSERT_TRUE(waitUntil([&] { return !deviceProperty("sleepy", "Awake").get<bool>(); }, 10s))
      << gw.log();
  const auto read = client->Read("sleepy", "/3/0/0", {});
  const auto doomed = client->Read("sleepy", "/3/0/1", {});
  EXPECT_EQ(client->GetRequest(read)["state"].get<std::string>(), "queued");
  EXPECT_EQ(deviceProperty("sleepy", "QueuedRequests").get<uint32_t>(), 2u);
  client->CancelRequest(doomed);
  EXPECT_EQ(waitCompleted(doomed).state, "cancelled");
  EXPECT_EQ(errorName([&] {
              client->CancelRequest(doomed);
            }).rfind("org.lwgate.Gateway1.Error.NotCancellable", 0),
            0u);

  auto done = waitCompleted(read, 20s);
  EXPECT_EQ(done.state, "done");
  EXPECT_EQ(done.code, "2.05");
  auto stages = client->progress(read);
  ASSERT_FALSE(stages.empty());
  EXPECT_EQ(stages.front(), "waiting");
  EXPECT_EQ(stages.back(), "sent");
  EXPECT_TRUE(client->heard("updated sleepy"));
  // Awake at the Register, asleep when the window ended, awake again at the Update.
  std::vector<std::string> awake;
  for (const auto& e : client->events()) {
    if (e.starts_with("awake") || e.starts_with("asleep")) awake.push_back(e);
  }
  ASSERT_GE(awake.size(), 3u);
  EXPECT_EQ(awake[0], "awake sleepy");
  EXPECT_EQ(awake[1], "asleep sleepy");
  EXPECT_EQ(awake[2], "awake sleepy");
}

TEST_F(DbusE2E, DeviceObjectsFollowRegistrations) {
  startSim("dev-2", {"register", "wait=1", "deregister"});
  const std::string path = "/org/lwgate/Gateway1/device/dev_2d2";
  EXPECT_TRUE(client->heard("added " + path));
  ASSERT_TRUE(waitUntil([&] { return client->heard("deregistered dev-2"); })) << gw.log();
  EXPECT_TRUE(waitUntil([&] { return client->heard("removed " + path); }));
  EXPECT_EQ(sim.wait(), 0) << sim.err();

  startSim("dev3", {"register", "awake=60"});
  auto objects = client->GetManagedObjects();
  ASSERT_EQ(objects.size(), 1u);
  auto& props = objects.begin()->second.at("org.lwgate.Gateway1.Device");
  EXPECT_EQ(props.at("Endpoint").get<std::string>(), "dev3");
  EXPECT_EQ(props.at("Lifetime").get<uint32_t>(), 300u);
  EXPECT_EQ(props.at("LwM2MVersion").get<std::string>(), "1.1");
  EXPECT_NE(props.at("Address").get<std::string>().find("udp://127.0.0.1:"), std::string::npos);
  EXPECT_EQ(client->DeviceCount(), 1u);
  EXPECT_EQ(client->ModemState(), "none");
  EXPECT_EQ(client->ModemSignal(), -1);
}

TEST_F(DbusE2E, DeviceSettingsAreCheckedAndStored) {
  startSim("dev1", {"register", "awake=60"});
  EXPECT_TRUE(client->GetDeviceSettings("dev1").empty());
  client->SetDeviceSettings("dev1", {{"awake_window", sdbus::Variant(0.5)},
                                     {"sms_number", sdbus::Variant(std::string("+4915112345"))},
                                     {"server_instance", sdbus::Variant(uint16_t{1})}});
  auto got = client->GetDeviceSettings("dev1");
  EXPECT_EQ(got["awake_window"].get<double>(), 0.5);
  EXPECT_EQ(got["sms_number"].get<std::string>(), "+4915112345");
  EXPECT_EQ(got["server_instance"].get<uint16_t>(), 1u);
  EXPECT_EQ(queryInt(gw.database(), "SELECT awake_window_ms FROM devices WHERE endpoint='dev1'"),
            500);
  const std::string invalid = "org.lwgate.Gateway1.Error.InvalidArgs";
  EXPECT_EQ(errorName([&] {
              client->SetDeviceSettings("dev1", {{"sms_number", sdbus::Variant("call me")}});
            }).rfind(invalid, 0),
            0u);
  EXPECT_EQ(errorName([&] {
              client->SetDeviceSettings("dev1", {{"awake_window", sdbus::Variant(-1.0)}});
            }).rfind(invalid, 0),
            0u);
  EXPECT_EQ(errorName([&] {
              client->SetDeviceSettings("dev1", {{"colour", sdbus::Variant(1)}});
            }).rfind(invalid, 0),
            0u);
  EXPECT_EQ(errorName([&] {
              client->GetDeviceSettings("nobody");
            }).rfind("org.lwgate.Gateway1.Error.NotFound", 0),
            0u);
  EXPECT_EQ(client->GetDeviceSettings("dev1")["sms_number"].get<std::string>(), "+4915112345")
      << "a refused call changes nothing";
  // "" clears; the rest stays.
  client->SetDeviceSettings("dev1", {{"sms_number", sdbus::Variant("")}});
  got = client->GetDeviceSettings("dev1");
  EXPECT_FALSE(got.contains("sms_number"));
  EXPECT_EQ(got["awake_window"].get<double>(), 0.5);
}

// Without a bus lwgated serves CoAP and takes its name once the bus appears.
TEST(DbusDegrade, ServesCoapWithoutABusAndConnectsWhenItAppears) {
  TempDir dir;
  Lwgated gw(dir.path());
  ASSERT_TRUE(gw.start({"--bus", "unix:path=" + dir.file("bus")})) << gw.log();
  EXPECT_TRUE(gw.waitForLog("LWG4002")) << gw.log();
  auto reply = coapClient("post", gw.url() + "/rd?ep=nobus&lt=300", "</1/0>");
  EXPECT_EQ(reply.code, "2.01") << reply.raw;
  PrivateBus bus(dir.path());  // at the address lwgated keeps trying
  EXPECT_TRUE(gw.waitForLog("LWG4001", 30s)) << gw.log();
  auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
  auto proxy = sdbus::createProxy(*connection, "org.lwgate.Gateway1", "/org/lwgate/Gateway1");
  EXPECT_EQ(proxy->getProperty("DeviceCount").onInterface("org.lwgate.Gateway1").get<uint32_t>(),
            1u);
}

// Observe and CancelObserve over D-Bus: the observation and its notifications land in the
// database, and CancelObserve (by path) reaches the device with the observation's token.
TEST_F(DbusE2E, ObserveStoresNotificationsAndCancelObserveEndsIt) {
  startSim("obs1", {"--sensor", "--tick-resource", "/3303/0/5700", "--tick-ms", "50", "register",
                    "awake=60"});
  const auto observe =
      client->Observe("obs1", "/3303/0/5700", {{"format", sdbus::Variant("senml-json")}});
  auto done = waitCompleted(observe);
  EXPECT_EQ(done.state, "done");
  EXPECT_EQ(done.code, "2.05");
  const std::string db = gw.database();
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM observations WHERE path = '/3303/0/5700'"), 1);
  ASSERT_TRUE(waitUntil([&] { return queryInt(db, "SELECT count(*) FROM notifications") >= 3; }))
      << gw.log();

  // Cancelling a path nobody observes is refused, with nothing stored.
  const auto before = requestCount();
  EXPECT_EQ(errorName([&] {
              client->CancelObserve("obs1", "/3/0/9", {});
            }).rfind("org.lwgate.Gateway1.Error.NotFound", 0),
            0u);
  EXPECT_EQ(requestCount(), before);

  const auto cancel = client->CancelObserve("obs1", "/3303/0/5700", {});
  EXPECT_EQ(waitCompleted(cancel).state, "done");
  EXPECT_TRUE(sim.waitForOut("request GET /3303/0/5700 accept=110 observe=1 -> 2.05")) << sim.out();
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM observations"), 0);
  EXPECT_TRUE(gw.waitForLog("LWG3102 observation 1 of /3303/0/5700 on obs1 ended: cancelled"));
}

// Notification signals, ListObservations / ListNotifications, and the passive cancel.
TEST_F(DbusE2E, ObserveBringsNotificationSignalsThatAreKeptAndListed) {
  startSim("sensor", {"--sensor", "--tick-resource", "/3303/0/5700", "--tick-ms", "100", "register",
                      "awake=60"});
  const auto observe = client->Observe(
      "sensor", "/3303/0/5700",
      {{"attributes", sdbus::Variant(Dict{{"pmin", sdbus::Variant(uint32_t{0})}})}});
  EXPECT_EQ(waitCompleted(observe).code, "2.05");
  ASSERT_TRUE(waitUntil([&] { return client->notifications().size() >= 3; })) << gw.log();
  const auto heard = client->notifications();
  EXPECT_EQ(heard[0].endpoint, "sensor");
  EXPECT_EQ(heard[0].state, "/3303/0/5700");
  EXPECT_NE(heard[1].reason.find(R"([{"path":"/3303/0/5700","type":)"), std::string::npos)
      << heard[1].reason;
  EXPECT_EQ(heard[1].json, "") << "no decode error";

  auto observations = client->ListObservations("sensor");
  ASSERT_EQ(observations.size(), 1u);
  EXPECT_EQ(observations[0]["path"].get<std::string>(), "/3303/0/5700");
  EXPECT_EQ(observations[0]["attributes"].get<std::string>(), "pmin=0");
  EXPECT_EQ(observations[0]["request"].get<uint64_t>(), observe);

  auto listed = client->ListNotifications("sensor", {{"limit", sdbus::Variant(uint32_t{2})}});
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_LT(listed[0]["id"].get<uint64_t>(), listed[1]["id"].get<uint64_t>());
  auto later = client->ListNotifications(
      "sensor", {{"after", sdbus::Variant(listed[1]["id"].get<uint64_t>())}});
  ASSERT_FALSE(later.empty());
  EXPECT_GT(later[0]["id"].get<uint64_t>(), listed[1]["id"].get<uint64_t>());
  EXPECT_EQ(errorName([&] {
              client->ListNotifications("nobody", {});
            }).rfind("org.lwgate.Gateway1.Error.NotFound", 0),
            0u);

  // Forgotten (passive cancel): gone at once; the device's next notification gets RST.
  const auto id = observations[0]["id"].get<uint64_t>();
  client->ForgetObservation(id);
  EXPECT_TRUE(client->ListObservations("sensor").empty());
  EXPECT_EQ(errorName([&] {
              client->ForgetObservation(id);
            }).rfind("org.lwgate.Gateway1.Error.NotFound", 0),
            0u);
  EXPECT_TRUE(gw.waitForLog("LWG3106")) << gw.log();
}

// npm's lwm2m-node-lib client (a third-party LwM2M 1.0 client) answers Read, Write and Execute
// sent through the queue; it serves plain text only, which lwgate picks for single values of a
// 1.0 device that declared no formats.
TEST_F(DbusE2E, LwM2mNodeLibClientAnswersReadWriteAndExecute) {
  const std::string interop = std::string(LWGATE_SOURCE_DIR) + "/tests/interop";
  ASSERT_TRUE(std::filesystem::exists(interop + "/node_modules/lwm2m-node-lib"))
      << "run: npm ci --prefix tests/interop (scripts/test.sh does)";
  Background node(dir.path(), "node-client");
  node.start({"node", interop + "/node_client.js", "127.0.0.1", std::to_string(gw.port()), "node-1",
              "serve", "60"});
  ASSERT_TRUE(node.waitForOut("serving", 20s)) << node.out() << node.err();
  ASSERT_TRUE(waitUntil([&] { return client->heard("registered node-1"); })) << gw.log();

  auto read = waitCompleted(client->Read("node-1", "/3/0/0", {}));
  EXPECT_EQ(read.code, "2.05");
  EXPECT_EQ(read.json, R"([{"path":"/3/0/0","type":"string","value":"lwm2m-node-lib"}])");

  auto write =
      waitCompleted(client->Write("node-1", "/1/0/1", sdbus::Variant(std::string("300")), {}));
  EXPECT_EQ(write.code, "2.04");
  EXPECT_TRUE(node.waitForOut("write /1/0/1 300")) << node.out();
  auto readBack = waitCompleted(client->Read("node-1", "/1/0/1", {}));
  EXPECT_EQ(readBack.json, R"([{"path":"/1/0/1","type":"integer","value":300}])");

  auto exec = waitCompleted(client->Execute("node-1", "/3/0/4", "", {}));
  EXPECT_EQ(exec.code, "2.04");
  EXPECT_TRUE(node.waitForOut("execute /3/0/4")) << node.out();
}

}  // namespace
}  // namespace lwgate::e2e
