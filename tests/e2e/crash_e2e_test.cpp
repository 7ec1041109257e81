// Crash test (issue 8): the real lwgated under load from real simulators - registrations,
// Updates, queued Reads and Executes, notifications - killed with SIGKILL at random moments
// many times in a row and restarted each time on the same database and port. At the end:
// every submitted request has exactly one final state, no Execute ran twice on a device (each
// simulator journals every Execute it runs), every registration a device saw acknowledged is
// in the database, notifications kept coming after the restarts, and PRAGMA integrity_check
// says ok.
//
// LWGATE_CRASH_CYCLES (default 50) sets the number of kills, LWGATE_CRASH_SEED the random
// moments (printed, so a failing run can be repeated); bench/run-crash-bench.sh runs many more.
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "tests/e2e/harness.h"

namespace lwgate::e2e {
namespace {

using Dict = std::map<std::string, sdbus::Variant>;
using Element = sdbus::Struct<std::string, std::string, std::string, sdbus::Variant, Dict>;

std::uint64_t envOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

std::size_t countLines(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

TEST(CrashE2E, RandomKillsUnderLoadLoseNothingAndExecuteNothingTwice) {
  const std::uint64_t cycles = envOr("LWGATE_CRASH_CYCLES", 50);
  const std::uint64_t seed = envOr("LWGATE_CRASH_SEED", std::random_device{}());
  std::cerr << "crash test: " << cycles << " kills, LWGATE_CRASH_SEED=" << seed << "\n";
  std::mt19937_64 random(seed);

  TempDir dir;
  PrivateBus bus(dir.path());
  Lwgated gw(dir.path());
  // Thousands of messages from 127.0.0.1: no per-address rate limit here.
  writeFile(dir.file("lwgated.toml"),
            "[queue]\nawake_window = 2\n[registration]\nrate_limit = 0\n");
  std::vector<std::string> args = bus.lwgatedArgs();
  args.insert(args.end(), {"--config", dir.file("lwgated.toml")});
  ASSERT_TRUE(gw.start(args) && gw.waitForLog("LWG4001")) << gw.log();
  args.insert(args.end(), {"--listen", "127.0.0.1:" + std::to_string(gw.port())});
  const std::string url = gw.url();

  // Two devices with a temperature that changes every 50 ms and an Update about every second
  // (so observations are re-established soon after each restart): one always reachable, one
  // in queue mode that takes requests only while awake. Each journals its Executes.
  const std::vector<std::string> devices{"steady", "sleepy"};
  std::map<std::string, std::unique_ptr<Background>> sims;
  for (const auto& ep : devices) {
    std::vector<std::string> argv{LWGATE_SIM_PATH,
                                  "--server",
                                  url,
                                  "--ep",
                                  ep,
                                  "--sensor",
                                  "--journal",
                                  dir.file(ep + ".journal"),
                                  "--tick-resource",
                                  "/3303/0/5700",
                                  "--tick-ms",
                                  "50",
                                  "--ack-timeout",
                                  "1",
                                  "--lt",
                                  "86400"};
    if (ep == "sleepy") argv.push_back("--queue");
    argv.push_back("register");
    for (int k = 0; k < 1000; ++k) argv.insert(argv.end(), {"awake=1", "update"});
    sims[ep] = std::make_unique<Background>(dir.path(), ep);
    sims[ep]->start(argv);
    ASSERT_TRUE(sims[ep]->waitForOut("register 2.01")) << sims[ep]->err() << gw.log();
  }

  auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
  connection->enterEventLoopAsync();
  auto gateway = sdbus::createProxy(*connection, "org.lwgate.Gateway1", "/org/lwgate/Gateway1");
  gateway->finishRegistration();
  std::uint64_t observeId = 0;
  gateway->callMethod("Observe")
      .onInterface("org.lwgate.Gateway1")
      .withArguments(std::string("steady"), std::string("/3303/0/5700"), Dict{})
      .storeResultsTo(observeId);

  std::vector<std::uint64_t> submitted;
  std::map<std::string, std::size_t> executesSubmitted;
  std::vector<std::unique_ptr<Background>> registrars;
  std::vector<std::int64_t> restartMs;
  std::uniform_int_distribution<int> killDelayMs(0, 400);
  for (std::uint64_t cycle = 0; cycle < cycles; ++cycle) {
    if (cycle > 0) {
      const auto t0 = std::chrono::steady_clock::now();
      ASSERT_TRUE(gw.start(args) && gw.waitForLog("LWG4001")) << "cycle " << cycle << "\n"
                                                              << gw.log();
      restartMs.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count());
    }
    // Ten requests, a third of them Executes, to either device.
    std::vector<Element> batch;
    for (int k = 0; k < 10; ++k) {
      const std::string& ep = devices[random() % devices.size()];
      if (k % 3 == 0) {
        batch.push_back(Element{ep, "execute", "/3/0/4", sdbus::Variant(""), Dict{}});
        ++executesSubmitted[ep];
      } else {
        batch.push_back(Element{ep, "read", "/3/0/9", sdbus::Variant(""), Dict{}});
      }
    }
    std::vector<std::uint64_t> ids;
    gateway->callMethod("SubmitBatch")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(batch)
        .storeResultsTo(ids);
    ASSERT_EQ(ids.size(), batch.size());
    submitted.insert(submitted.end(), ids.begin(), ids.end());
    // A new device registers in every cycle (it retransmits until some lwgated answers).
    auto reg = std::make_unique<Background>(dir.path(), "reg-" + std::to_string(cycle));
    reg->start({LWGATE_SIM_PATH, "--server", url, "--ep", "reg-" + std::to_string(cycle),
                "--ack-timeout", "1", "--lt", "86400", "register"});
    registrars.push_back(std::move(reg));
    // The kill comes at a random moment: this sleep is the schedule of the crash, not a wait
    // for an outcome.
    std::this_thread::sleep_for(std::chrono::milliseconds(killDelayMs(random)));
    gw.kill9();
  }

  ASSERT_TRUE(gw.start(args) && gw.waitForLog("LWG4001")) << gw.log();
  const auto unfinished = [&] {
    return queryInt(gw.database(), "SELECT count(*) FROM requests WHERE finished_at IS NULL");
  };
  EXPECT_TRUE(waitUntil([&] { return unfinished() == 0; }, 120s))
      << unfinished() << " requests unfinished\n"
      << "steady:\n"
      << sims["steady"]->err() << "sleepy:\n"
      << sims["sleepy"]->err() << "sleepy out tail:\n"
      << sims["sleepy"]->out().substr(
             sims["sleepy"]->out().size() > 3000 ? sims["sleepy"]->out().size() - 3000 : 0);
  for (auto& reg : registrars) reg->wait(60s);

  // Every request: exactly one final state, done (the devices always answer).
  // (The Observe, and its re-establishments after restarts, are requests of the gateway's own.)
  const std::string mine = "id BETWEEN " + std::to_string(submitted.front()) + " AND " +
                           std::to_string(submitted.back()) + " AND operation != 'observe'";
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM requests WHERE " + mine),
            static_cast<std::int64_t>(submitted.size()));
  const auto notDone = queryText(gw.database(),
                                 "SELECT group_concat(id || ' ' || state || ' ' || "
                                 "coalesce(reason, ''), '; ') FROM requests WHERE state != 'done'");
  EXPECT_FALSE(notDone.has_value()) << *notDone;

  // Each device ran each Execute once: its journal has as many lines as Executes were done.
  std::size_t executed = 0;
  for (const auto& ep : devices) {
    const auto journal = countLines(readFile(dir.file(ep + ".journal")), "EXECUTED /3/0/4 ");
    executed += journal;
    EXPECT_EQ(journal, executesSubmitted[ep]) << ep << "\n" << sims[ep]->out();
  }

  // Every registration a device saw acknowledged is there.
  std::size_t acknowledged = 0;
  for (std::uint64_t cycle = 0; cycle < cycles; ++cycle) {
    if (registrars[cycle]->out().find("register 2.01") == std::string::npos) {
      std::cerr << "reg-" << cycle << ": " << registrars[cycle]->out() << registrars[cycle]->err()
                << "\n";
      continue;
    }
    ++acknowledged;
    EXPECT_EQ(queryInt(gw.database(),
                       "SELECT count(*) FROM registrations r JOIN devices d ON d.id = "
                       "r.device_id WHERE d.endpoint = 'reg-" +
                           std::to_string(cycle) + "'"),
              1)
        << "reg-" << cycle << " was acknowledged but is not registered";
  }
  EXPECT_EQ(acknowledged, cycles) << "registrations that never got an answer";

  // Notifications: stored throughout, and still coming after the last restart.
  // (The newest id, not the count: the count stops at max_notifications_per_device, 1000, as
  // the oldest are pruned.)
  const auto stored = [&] {
    return queryInt(gw.database(),
                    "SELECT coalesce(max(n.id), 0) FROM notifications n JOIN devices d ON d.id = "
                    "n.device_id WHERE d.endpoint = 'steady'");
  };
  const auto before = stored();
  EXPECT_TRUE(waitUntil([&] { return stored() > before; }, 30s))
      << "no notification after the last restart\n"
      << gw.log();

  EXPECT_EQ(queryText(gw.database(), "PRAGMA integrity_check"), "ok");
  std::sort(restartMs.begin(), restartMs.end());
  std::cerr << "crash test: " << cycles << " kills, " << submitted.size() << " requests done, "
            << executed << " Executes each run once, " << acknowledged
            << " registrations acknowledged and kept, " << stored() << " notifications; restart "
            << "to ready p50 " << (restartMs.empty() ? 0 : restartMs[restartMs.size() / 2])
            << " ms, max " << (restartMs.empty() ? 0 : restartMs.back()) << " ms\n";
  connection->leaveEventLoop();
}

}  // namespace
}  // namespace lwgate::e2e
