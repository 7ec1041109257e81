// The persistent downlink queue end to end (issue 3): the real lwgated on a private dbus-daemon,
// the device simulator in queue mode on 127.0.0.1, requests submitted through the generated
// D-Bus proxy, and the real SQLite file. Every wait is bounded and waits for a condition.
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "lwgate/dbus/gateway1_proxy.h"
#include "tests/e2e/harness.h"

namespace lwgate::e2e {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;
using Element = sdbus::Struct<std::string, std::string, std::string, sdbus::Variant, Dict>;

// Records RequestCompleted signals in the order they arrive.
class QueueClient final : public sdbus::ProxyInterfaces<org::lwgate::Gateway1_proxy> {
 public:
  explicit QueueClient(sdbus::IConnection& c)
      : ProxyInterfaces(c, "org.lwgate.Gateway1", "/org/lwgate/Gateway1") {
    registerProxy();
  }
  ~QueueClient() { unregisterProxy(); }

  struct Completed {
    std::uint64_t id;
    std::string state, code;
  };
  std::vector<Completed> completed() {
    std::lock_guard lock(mutex_);
    return completed_;
  }
  std::size_t completedCount() {
    std::lock_guard lock(mutex_);
    return completed_.size();
  }
  // RequestProgress stages and "completed", per request, in the order the signals came.
  std::vector<std::string> stages(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    return stages_[id];
  }

 private:
  void onRequestCompleted(const uint64_t& id, const std::string&, const std::string& state,
                          const std::string& code, const std::string&, const std::string&,
                          const std::vector<uint8_t>&, const uint16_t&) override {
    std::lock_guard lock(mutex_);
    completed_.push_back({id, state, code});
    stages_[id].push_back("completed");
  }
  void onRequestProgress(const uint64_t& id, const std::string&,
                         const std::string& stage) override {
    std::lock_guard lock(mutex_);
    stages_[id].push_back(stage);
  }
  void onWakeDecision(const std::string&, const bool&, const std::string&, const std::string&,
                      const uint64_t&) override {}
  void onNotification(const uint64_t&, const std::string&, const std::string&, const uint64_t&,
                      const std::string&, const std::string&, const std::vector<uint8_t>&,
                      const uint16_t&) override {}
  void onSend(const uint64_t&, const std::string&, const std::string&, const std::vector<uint8_t>&,
              const uint16_t&) override {}
  void onDeviceRegistered(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceUpdated(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceDeregistered(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceExpired(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceAwake(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceAsleep(const std::string&, const sdbus::ObjectPath&) override {}

  std::mutex mutex_;
  std::vector<Completed> completed_;
  std::map<std::uint64_t, std::vector<std::string>> stages_;
};

// The gateway's QueuedRequests as PropertiesChanged announces it: every value seen, in order.
class QueuedRequestsWatch {
 public:
  explicit QueuedRequestsWatch(sdbus::IConnection& c)
      : proxy_(sdbus::createProxy(c, "org.lwgate.Gateway1", "/org/lwgate/Gateway1")) {
    proxy_->uponSignal("PropertiesChanged")
        .onInterface("org.freedesktop.DBus.Properties")
        .call([this](const std::string& interface,
                     const std::map<std::string, sdbus::Variant>& changed,
                     const std::vector<std::string>&) {
          if (interface != "org.lwgate.Gateway1" || !changed.count("QueuedRequests")) return;
          std::lock_guard lock(mutex_);
          values_.push_back(changed.at("QueuedRequests").get<std::uint32_t>());
        });
    proxy_->finishRegistration();
  }
  std::vector<std::uint32_t> values() {
    std::lock_guard lock(mutex_);
    return values_;
  }

 private:
  std::unique_ptr<sdbus::IProxy> proxy_;
  std::mutex mutex_;
  std::vector<std::uint32_t> values_;
};

// Lines of the simulator's stdout that start with prefix.
std::vector<std::string> linesStarting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

// The simulator's requests and own actions in order, runs of identical lines folded ("x12").
std::string foldedLog(const std::string& out) {
  std::string folded, last;
  int run = 0;
  auto flush = [&] {
    if (run > 0) folded += last + (run > 1 ? " x" + std::to_string(run) : "") + "\n";
  };
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line == last) {
      ++run;
      continue;
    }
    flush();
    last = line;
    run = 1;
  }
  flush();
  return folded;
}

class QueueE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    writeFile(dir.file("lwgated.toml"), "[queue]\nawake_window = 2\n");
    ASSERT_TRUE(startGateway({})) << gw.log();
    connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
    connection->enterEventLoopAsync();
    client = std::make_unique<QueueClient>(*connection);
  }
  void TearDown() override {
    client.reset();
    if (connection) connection->leaveEventLoop();
  }

  // Starts lwgated on the bus; extra args (a fixed --listen for restarts) are appended.
  bool startGateway(std::vector<std::string> extra) {
    auto args = bus.lwgatedArgs();
    args.insert(args.end(), {"--config", dir.file("lwgated.toml")});
    args.insert(args.end(), extra.begin(), extra.end());
    return gw.start(args) && gw.waitForLog("LWG4001");
  }

  std::unique_ptr<sdbus::IProxy> device(const std::string& ep) {
    return sdbus::createProxy(*connection, "org.lwgate.Gateway1",
                              "/org/lwgate/Gateway1/device/" + ep);
  }
  bool awake(const std::string& ep) {
    return device(ep)->getProperty("Awake").onInterface("org.lwgate.Gateway1.Device").get<bool>();
  }
  std::int64_t count(const std::string& where) {
    return queryInt(gw.database(), "SELECT count(*) FROM requests WHERE " + where);
  }
  // The simulator's log and the gateway's, for a failure message.
  std::string executeReport(const std::string& simOut) {
    return "simulator:\n" + foldedLog(simOut) + "lwgated (last run):\n" + gw.log();
  }
  static std::uint64_t u64(Dict& d, const std::string& key) {
    return d.count(key) ? d[key].get<uint64_t>() : 0;
  }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Lwgated gw{dir.path()};
  Background sim{dir.path(), "sim"};
  std::unique_ptr<sdbus::IConnection> connection;
  std::unique_ptr<QueueClient> client;
};

// 100 requests queued while a queue-mode device sleeps stay queued; after its Update they all
// end done, in id order, one at a time: each is sent only after the previous one finished.
TEST_F(QueueE2E, HundredQueuedRequestsDrainInOrderOneAtATimeAfterAWake) {
  sim.start({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "sleepy", "--queue", "register",
             "sleep=6", "update", "awake=30"});
  ASSERT_TRUE(waitUntil([&] { return sim.out().find("register 2.01") != std::string::npos; }))
      << gw.log() << sim.err();
  // The awake window (2 s) after the Register runs out while the simulator sleeps.
  ASSERT_TRUE(waitUntil([&] { return !awake("sleepy"); }, 10s)) << gw.log();

  const std::vector<std::string> reads{"/3/0/0", "/3/0/1", "/3/0/2", "/3/0/3", "/3/0/9"};
  std::vector<Element> batch;
  std::vector<std::string> expectedSimLines;  // what the simulator should log, in order
  for (int k = 0; k < 100; ++k) {
    if (k % 4 == 3) {
      batch.push_back(Element{"sleepy", "write", "/1/0/1",
                              sdbus::Variant(std::string(std::to_string(300 + k))), Dict{}});
      expectedSimLines.push_back("request PUT /1/0/1");
    } else {
      const auto& path = reads[static_cast<std::size_t>(k) % reads.size()];
      batch.push_back(Element{"sleepy", "read", path, sdbus::Variant(""), Dict{}});
      expectedSimLines.push_back("request GET " + path);
    }
  }
  QueuedRequestsWatch queued(*connection);
  const auto ids = client->SubmitBatch(batch);
  ASSERT_EQ(ids.size(), 100u);
  for (std::size_t k = 1; k < ids.size(); ++k) ASSERT_EQ(ids[k], ids[k - 1] + 1);

  // Still asleep: all 100 wait.
  auto listed = client->ListRequests({{"endpoint", sdbus::Variant("sleepy")}});
  ASSERT_EQ(listed.size(), 100u);
  for (auto& r : listed) EXPECT_EQ(r["state"].get<std::string>(), "queued");
  EXPECT_EQ(count("state = 'queued'"), 100);
  ASSERT_EQ(sim.out().find("update"), std::string::npos)
      << "the simulator woke before the requests could be checked; raise sleep=";
  EXPECT_TRUE(linesStarting(sim.out(), "request ").empty()) << sim.out();

  // The Update wakes it and the queue drains.
  ASSERT_TRUE(waitUntil([&] { return client->completedCount() >= 100; }, 60s))
      << client->completedCount() << " completed\n"
      << gw.log() << sim.out();
  auto completed = client->completed();
  ASSERT_EQ(completed.size(), 100u);
  for (std::size_t k = 0; k < completed.size(); ++k) {
    EXPECT_EQ(completed[k].id, ids[k]) << "RequestCompleted #" << k;
    EXPECT_EQ(completed[k].state, "done");
    EXPECT_EQ(completed[k].code, k % 4 == 3 ? "2.04" : "2.05") << "request " << ids[k];
    // Every request was told waiting (submitted to a sleeping device), then sent - for the
    // unsaved Reads and Writes together with a group of results, but always before its own.
    EXPECT_EQ(client->stages(ids[k]), (std::vector<std::string>{"waiting", "sent", "completed"}))
        << "request " << ids[k];
  }

  // The database agrees: sent and finished times show one request in flight at a time.
  std::uint64_t previousFinished = 0;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    auto r = client->GetRequest(ids[k]);
    ASSERT_EQ(r["state"].get<std::string>(), "done") << ids[k];
    const auto sent = u64(r, "sent");
    const auto finished = u64(r, "finished");
    ASSERT_GT(sent, 0u) << ids[k];
    EXPECT_LE(sent, finished) << ids[k];
    if (k > 0) {
      EXPECT_GE(finished, previousFinished)
          << "request " << ids[k] << " finished before " << ids[k - 1];
      EXPECT_GE(sent, previousFinished)
          << "request " << ids[k] << " was sent before " << ids[k - 1] << " finished (NSTART=1)";
    }
    previousFinished = finished;
  }
  EXPECT_EQ(count("state = 'done'"), 100);

  // QueuedRequests was announced as it went down, coalesced (at most every 100 ms, not once per
  // request), and the last announcement is the final value.
  ASSERT_TRUE(waitUntil([&] {
    auto v = queued.values();
    return !v.empty() && v.back() == 0;
  })) << ::testing::PrintToString(queued.values());
  EXPECT_LT(queued.values().size(), 50u) << ::testing::PrintToString(queued.values());

  // The device saw them in the same order, each once.
  auto seen = linesStarting(sim.out(), "request ");
  ASSERT_EQ(seen.size(), expectedSimLines.size()) << sim.out();
  for (std::size_t k = 0; k < seen.size(); ++k) {
    EXPECT_EQ(seen[k].rfind(expectedSimLines[k] + " ", 0), 0u) << k << ": " << seen[k];
  }
}

// kill -9 in the middle of a drain, three times at different moments, on one database: every
// request still ends in exactly one final state, nothing is lost, and the device executes each
// Execute at most once - as often as execute requests ended done.
TEST_F(QueueE2E, KillNineDuringADrainLosesNothingAndExecutesNothingTwice) {
  const std::string port = std::to_string(gw.port());
  // Queue mode, an Update about every second (the awake window is 2 s) for at most ~80 s: it
  // keeps answering while lwgated is down (its Update retransmits until lwgated is back).
  std::vector<std::string> argv{LWGATE_SIM_PATH, "--server", gw.url(),  "--ep",
                                "crashy",        "--queue",  "register"};
  for (int k = 0; k < 80; ++k) argv.insert(argv.end(), {"awake=1", "update"});
  sim.start(argv);
  ASSERT_TRUE(waitUntil([&] { return sim.out().find("register 2.01") != std::string::npos; }))
      << gw.log() << sim.err();

  constexpr int kPerCycle = 60;
  // Kill after this many of the cycle's requests are done (a fraction of the cycle).
  const std::vector<int> killAfter{5, 27, 48};
  std::vector<std::uint64_t> all;
  std::set<std::uint64_t> executes;
  int midDrainKills = 0;
  int executesInFlightAtKill = 0;
  // Three kills in the middle of a drain; a kill that came too late (the drain of 60 takes a
  // fraction of a second, and a loaded machine may not schedule the poll in time) is repeated,
  // up to six cycles in all.
  for (std::size_t cycle = 0; cycle < 2 * killAfter.size() && midDrainKills < 3; ++cycle) {
    std::vector<Element> batch;
    for (int k = 0; k < kPerCycle; ++k) {
      if (k % 5 == 2) {
        const Dict key{{"idempotency_key", sdbus::Variant("reboot-" + std::to_string(cycle) + "-" +
                                                          std::to_string(k))}};
        batch.push_back(Element{"crashy", "execute", "/3/0/4", sdbus::Variant(""), key});
      } else {
        batch.push_back(Element{"crashy", "read", "/3/0/9", sdbus::Variant(""), Dict{}});
      }
    }
    const auto ids = client->SubmitBatch(batch);
    ASSERT_EQ(ids.size(), batch.size());
    for (std::size_t k = 0; k < ids.size(); ++k) {
      all.push_back(ids[k]);
      if (k % 5 == 2) executes.insert(ids[k]);
    }
    const std::string mine =
        "id BETWEEN " + std::to_string(ids.front()) + " AND " + std::to_string(ids.back());
    // Poll the database as fast as it answers (bounded) and kill at the chosen moment.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline &&
           count(mine + " AND state = 'done'") < killAfter[cycle % killAfter.size()]) {
    }
    gw.kill9();
    const auto doneAtKill = count(mine + " AND state = 'done'");
    ASSERT_GE(doneAtKill, killAfter[cycle % killAfter.size()]) << "the drain did not start\n"
                                                               << gw.log();
    if (doneAtKill < kPerCycle) ++midDrainKills;
    if (queryText(gw.database(), "SELECT operation FROM requests WHERE state = 'in_flight' AND " +
                                     mine) == "execute") {
      ++executesInFlightAtKill;
    }
    std::cerr << "cycle " << cycle << ": killed with " << doneAtKill << "/" << kPerCycle
              << " done, " << count(mine + " AND state = 'in_flight'") << " in flight\n";

    // Same database, same port (the simulator keeps sending its Updates there).
    ASSERT_TRUE(startGateway({"--listen", "127.0.0.1:" + port})) << gw.log();
    ASSERT_TRUE(waitUntil([&] { return count(mine + " AND finished_at IS NULL") == 0; }, 30s))
        << count(mine + " AND finished_at IS NULL") << " unfinished\n"
        << gw.log() << sim.out();
    // A caller that cannot tell whether its submit got through sends it again: the keys
    // survived the kill, so the Executes come back with their first ids and nothing is added.
    std::vector<Element> again;
    std::vector<std::uint64_t> executeIds;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      if (k % 5 == 2) {
        again.push_back(batch[k]);
        executeIds.push_back(ids[k]);
      }
    }
    EXPECT_EQ(client->SubmitBatch(again), executeIds);
    EXPECT_EQ(count("id > " + std::to_string(ids.back())), 0);
  }
  EXPECT_GE(midDrainKills, 2) << "most kills came after the drain had ended";

  // Every request has exactly one final state; none was lost.
  const std::string id0 = std::to_string(all.front()), id1 = std::to_string(all.back());
  EXPECT_EQ(count("id BETWEEN " + id0 + " AND " + id1), static_cast<std::int64_t>(all.size()));
  EXPECT_EQ(count("state IN ('queued', 'in_flight')"), 0);
  for (auto id : all) {
    auto r = client->GetRequest(id);
    const auto state = r["state"].get<std::string>();
    EXPECT_TRUE(state == "done" || state == "failed") << id << " " << state;
    if (state == "failed") ADD_FAILURE() << id << " failed: " << r["reason"].get<std::string>();
  }
  // A request is reported final at most once (a signal may be lost with the process that was
  // about to send it; the database has the state).
  std::map<std::uint64_t, int> signals;
  for (const auto& c : client->completed()) ++signals[c.id];
  for (const auto& [id, n] : signals) EXPECT_EQ(n, 1) << "request " << id << " completed " << n;

  // The device executed exactly as many times as execute requests ended done. An Execute in
  // flight at the kill is resent after the restart with the Message ID and token stored before
  // it was first sent, so a device that deduplicates (RFC 7252 4.5) answers the repeat without
  // running it again. A simulator without deduplication ("EXECUTED" lines come with it) runs
  // such a repeat again; then at most those may be extra.
  const auto executedDone = count("operation = 'execute' AND state = 'done'");
  EXPECT_EQ(executedDone, static_cast<std::int64_t>(executes.size()));
  const std::string simOut = sim.out();
  const bool simDeduplicates =
      run({LWGATE_SIM_PATH, "--help"}).out.find("--journal") != std::string::npos;
  const auto executedBySim = static_cast<std::int64_t>(
      linesStarting(simOut, simDeduplicates ? "EXECUTED /3/0/4 " : "request POST /3/0/4 ").size());
  if (simDeduplicates) {
    EXPECT_EQ(executedBySim, executedDone) << executeReport(simOut);
  } else {
    EXPECT_GE(executedBySim, executedDone) << executeReport(simOut);
    EXPECT_LE(executedBySim, executedDone + executesInFlightAtKill) << executeReport(simOut);
  }
  EXPECT_EQ(queryText(gw.database(), "PRAGMA integrity_check"), "ok");
  std::cerr << all.size() << " requests, " << executedDone << " executes done, " << executedBySim
            << " executed by the device ("
            << (simDeduplicates ? "it deduplicates" : "it does not deduplicate") << "), "
            << executesInFlightAtKill << " executes in flight at a kill, "
            << linesStarting(simOut, "duplicate mid=").size() << " duplicates answered as before\n";
}

}  // namespace
}  // namespace lwgate::e2e
