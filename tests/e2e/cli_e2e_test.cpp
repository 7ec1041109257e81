// lwgatectl end to end: the real lwgated on a private dbus-daemon, lwgate-sim devices on
// 127.0.0.1, and the CLI as an operator runs it. Output is checked field by field through
// --json; every wait is for a condition, bounded.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <regex>

#include "tests/e2e/cli_harness.h"
#include "tests/e2e/harness.h"

namespace lwgate::e2e::clitest {
namespace {

using Json = nlohmann::json;

std::string show(const RunResult& r) {
  return "exit " + std::to_string(r.exitCode) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

class CliE2E : public ::testing::Test {
 protected:
  void SetUp() override { startGateway(""); }

  void startGateway(const std::string& config) {
    writeFile(dir.file("lwgated.toml"), config);
    ASSERT_TRUE(gw.start({"--config", dir.file("lwgated.toml"), "--bus", bus.address()}))
        << gw.log();
    // READY may come before the name is on the bus; lwgatectl status is what operators see.
    ASSERT_TRUE(waitUntil([&] { return ctl({"status"}).exitCode == 0; }, 15s))
        << show(ctl({"status"})) << gw.log();
  }

  RunResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--bus", bus.address()});
    return lwgatectl(args);
  }
  Json ctlJson(std::vector<std::string> args) {
    args.push_back("--json");
    RunResult r = ctl(args);
    Json j = parseJson(r.out);
    EXPECT_FALSE(j.is_discarded()) << show(r);
    return j;
  }

  // A simulated device that registers and then runs `actions` (default: serve for a minute).
  std::unique_ptr<Background> startSim(const std::string& endpoint,
                                       std::vector<std::string> options = {},
                                       std::vector<std::string> actions = {"register",
                                                                           "awake=60"}) {
    std::vector<std::string> argv{LWGATE_SIM_PATH, "--server", gw.url(), "--ep", endpoint};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), actions.begin(), actions.end());
    auto sim = std::make_unique<Background>(dir.path(), "sim-" + endpoint);
    sim->start(argv);
    EXPECT_TRUE(sim->waitForOut("register 2.01")) << sim->out() << sim->err() << gw.log();
    return sim;
  }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Lwgated gw{dir.path()};
};

TEST_F(CliE2E, ListAndShowARegisteredDevice) {
  auto sim = startSim("sim-1", {"--lt", "300", "--lwm2m", "1.1"});

  Json list = ctlJson({"list"});
  ASSERT_TRUE(list.is_array()) << list;
  ASSERT_EQ(list.size(), 1u) << list;
  const Json& d = list[0];
  EXPECT_EQ(d["endpoint"], "sim-1");
  EXPECT_EQ(d["object_path"], "/org/lwgate/Gateway1/device/sim_2d1");
  EXPECT_TRUE(std::regex_match(d["location"].get<std::string>(), std::regex("rd/[a-z0-9]+"))) << d;
  EXPECT_TRUE(
      std::regex_match(d["address"].get<std::string>(), std::regex(R"(udp://127\.0\.0\.1:\d+)")))
      << d;
  EXPECT_EQ(d["binding"], "U");
  EXPECT_EQ(d["queue_mode"], false);
  EXPECT_EQ(d["sms_number"], "");
  EXPECT_EQ(d["lifetime"], 300);
  EXPECT_EQ(d["lwm2m_version"], "1.1");
  EXPECT_GT(d["registered_at"].get<std::uint64_t>(), 1600000000000u);
  EXPECT_GE(d["last_seen"].get<std::uint64_t>(), d["registered_at"].get<std::uint64_t>());
  EXPECT_EQ(d["awake"], true);
  EXPECT_EQ(d["queued"], 0);
  ASSERT_TRUE(d["objects"].is_array()) << d;
  EXPECT_NE(std::find(d["objects"].begin(), d["objects"].end(), "</3/0>"), d["objects"].end()) << d;

  // show --json is the same object; the global option also works after the verb.
  RunResult shown = lwgatectl({"show", "sim-1", "--json", "--bus", bus.address()});
  ASSERT_EQ(shown.exitCode, 0) << show(shown);
  Json one = parseJson(shown.out);
  EXPECT_EQ(one["endpoint"], "sim-1");
  EXPECT_EQ(one["location"], d["location"]);
  EXPECT_EQ(one["lifetime"], 300);

  // For people: a table with a legend, rows alone with --no-legend, a key/value block.
  RunResult table = ctl({"list"});
  ASSERT_EQ(table.exitCode, 0) << show(table);
  EXPECT_EQ(table.out.rfind("ENDPOINT ADDRESS", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("QUEUE-MODE AWAKE QUEUED LAST-SEEN"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\nsim-1 "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("1 device listed."), std::string::npos) << table.out;
  RunResult bare = ctl({"--no-legend", "list"});
  EXPECT_EQ(bare.out.rfind("sim-1 ", 0), 0u) << bare.out;
  EXPECT_EQ(std::count(bare.out.begin(), bare.out.end(), '\n'), 1) << bare.out;
  RunResult block = ctl({"show", "sim-1"});
  EXPECT_NE(block.out.find("Endpoint: sim-1\n"), std::string::npos) << block.out;
  EXPECT_NE(block.out.find("Queue mode: no\n"), std::string::npos) << block.out;

  Json status = ctlJson({"status"});
  EXPECT_EQ(status["devices"], 1) << status;
  EXPECT_TRUE(status["version"].is_string()) << status;
  ASSERT_TRUE(status["listen"].is_array()) << status;
  EXPECT_EQ(status["listen"][0], gw.url()) << status;
}

TEST_F(CliE2E, ReadWriteExecuteRoundTrips) {
  auto sim = startSim("sim-1");

  // Read one resource: the decoded value, field by field.
  Json read = ctlJson({"read", "sim-1", "/3/0/0", "--wait", "--timeout", "30"});
  EXPECT_EQ(read["state"], "done") << read;
  EXPECT_EQ(read["code"], "2.05") << read;
  EXPECT_EQ(read["endpoint"], "sim-1");
  EXPECT_EQ(read["operation"], "read");
  EXPECT_EQ(read["path"], "/3/0/0");
  EXPECT_EQ(read["attempts"], 0);  // transmissions that went unanswered
  EXPECT_TRUE(read["id"].is_number_unsigned()) << read;
  EXPECT_TRUE(read["payload"].is_string()) << read;
  ASSERT_TRUE(read["result"].is_array()) << read;
  ASSERT_EQ(read["result"].size(), 1u) << read;
  EXPECT_EQ(read["result"][0]["path"], "/3/0/0");
  EXPECT_EQ(read["result"][0]["type"], "string");
  EXPECT_EQ(read["result"][0]["value"], "lwgate-sim");

  // Write the lifetime (a string the daemon types by the object model), read it back.
  Json write = ctlJson({"write", "sim-1", "/1/0/1", "600", "--wait", "--timeout", "30"});
  EXPECT_EQ(write["state"], "done") << write;
  EXPECT_EQ(write["code"], "2.04") << write;
  EXPECT_EQ(write["operation"], "write");
  Json back = ctlJson({"read", "sim-1", "/1/0/1", "--wait", "--timeout", "30"});
  ASSERT_EQ(back["result"].size(), 1u) << back;
  EXPECT_EQ(back["result"][0]["type"], "integer") << back;
  EXPECT_EQ(back["result"][0]["value"], 600) << back;

  // An instance write with an explicitly typed value, partial (POST).
  Json partial = ctlJson(
      {"write", "sim-1", "/1/0", "1:integer=700", "--partial", "--wait", "--timeout", "30"});
  EXPECT_EQ(partial["code"], "2.04") << partial;
  EXPECT_EQ(partial["operation"], "write-partial") << partial;
  back = ctlJson({"read", "sim-1", "/1/0/1", "--wait", "--timeout", "30"});
  EXPECT_EQ(back["result"][0]["value"], 700) << back;

  // Execute: the device counts it.
  Json exec = ctlJson({"exec", "sim-1", "/3/0/4", "--wait", "--timeout", "30"});
  EXPECT_EQ(exec["state"], "done") << exec;
  EXPECT_EQ(exec["code"], "2.04") << exec;
  EXPECT_EQ(exec["operation"], "execute");

  // Discover: link-format as a string in JSON, one link per line for people.
  Json discover = ctlJson({"discover", "sim-1", "/3/0", "--wait", "--timeout", "30"});
  EXPECT_EQ(discover["code"], "2.05") << discover;
  ASSERT_TRUE(discover["result"].is_string()) << discover;
  EXPECT_NE(discover["result"].get<std::string>().find("</3/0/0>"), std::string::npos) << discover;

  // A read for people: a PATH TYPE VALUE table (stdout is not a terminal: no progress line).
  RunResult human = ctl({"read", "sim-1", "/3/0/9", "--wait", "--timeout", "30"});
  ASSERT_EQ(human.exitCode, 0) << show(human);
  EXPECT_NE(human.out.find("done: 2.05 Content\n"), std::string::npos) << human.out;
  EXPECT_TRUE(
      std::regex_search(human.out, std::regex(R"(PATH\s+TYPE\s+VALUE\n/3/0/9\s+integer\s+95\n)")))
      << human.out;

  // The device answering an error is exit 1 with the code on stderr.
  RunResult missing = ctl({"read", "sim-1", "/3/0/77", "--wait", "--timeout", "30"});
  EXPECT_EQ(missing.exitCode, 1) << show(missing);
  EXPECT_NE(missing.err.find("4.04 Not Found"), std::string::npos) << show(missing);

  // Every request is in the list; `request ID` shows one.
  Json all = ctlJson({"requests", "sim-1"});
  ASSERT_TRUE(all.is_array()) << all;
  EXPECT_GE(all.size(), 8u) << all;
  Json one = ctlJson({"request", std::to_string(exec["id"].get<std::uint64_t>())});
  EXPECT_EQ(one["operation"], "execute") << one;
  EXPECT_EQ(one["state"], "done") << one;

  sim->kill9();
}

TEST_F(CliE2E, SubmitWithoutWaitPrintsTheIdAtOnce) {
  auto sim = startSim("sim-1");
  RunResult r = ctl({"read", "sim-1", "/3/0/2"});
  ASSERT_EQ(r.exitCode, 0) << show(r);
  ASSERT_TRUE(std::regex_match(r.out, std::regex("[0-9]+\n"))) << r.out;
  const std::string id = r.out.substr(0, r.out.size() - 1);
  Json done = ctlJson({"request", id, "--wait", "--timeout", "30"});
  EXPECT_EQ(done["state"], "done") << done;
  EXPECT_EQ(done["result"][0]["value"], "sim-1") << done;  // /3/0/2 serial = endpoint

  // The same idempotency key gives the same id instead of a second request.
  Json first = ctlJson({"read", "sim-1", "/3/0/0", "--idempotency-key", "k1"});
  Json again = ctlJson({"read", "sim-1", "/3/0/0", "--idempotency-key", "k1"});
  EXPECT_EQ(first["id"], again["id"]) << first << again;
  // --wait on a request that finished long ago returns at once (GetRequest after subscribing).
  Json waited =
      ctlJson({"read", "sim-1", "/3/0/0", "--idempotency-key", "k1", "--wait", "--timeout", "30"});
  EXPECT_EQ(waited["id"], first["id"]) << waited;
  EXPECT_EQ(waited["state"], "done") << waited;
}

// Queue Mode: a request to a sleeping device waits in the queue; `--wait` returns when the
// device wakes (its Update) and answers.
TEST_F(CliE2E, WaitOnASleepingDeviceCompletesAfterItWakes) {
  gw.stop();
  startGateway("[queue]\nawake_window = 1\n");
  // Registers in queue mode, sleeps (radio off) for 8 s, then updates and serves for 20 s.
  auto sim = startSim("sleepy", {"--queue"}, {"register", "sleep=8", "update", "awake=20"});
  ASSERT_TRUE(waitUntil(
      [&] {
        return ctlJson({"show", "sleepy"})["awake"] == false;
      },
      10s))
      << ctl({"show", "sleepy"}).out;

  Background waiting(dir.path(), "ctl-wait");
  waiting.start({lwgatectlPath(), "--bus", bus.address(), "read", "sleepy", "/3/0/0", "--wait",
                 "--timeout", "60", "--json"});
  // Submitted while the device sleeps: queued, not sent, and the CLI still waiting.
  ASSERT_TRUE(waitUntil(
      [&] {
        Json list = ctlJson({"requests", "sleepy", "--state", "unfinished"});
        return list.is_array() && list.size() == 1 && list[0]["operation"] == "read";
      },
      10s))
      << ctl({"requests"}).out << waiting.err();
  EXPECT_TRUE(waiting.running());
  EXPECT_EQ(sim->out().find("update"), std::string::npos) << "the device woke too early";

  ASSERT_EQ(waiting.wait(60s), 0) << waiting.out() << waiting.err() << sim->out() << gw.log();
  Json result = parseJson(waiting.out());
  EXPECT_EQ(result["state"], "done") << result;
  EXPECT_EQ(result["code"], "2.05") << result;
  EXPECT_EQ(result["result"][0]["value"], "lwgate-sim") << result;
  // The answer came after the wake-up Update, not before.
  std::string simOut = sim->out();
  auto update = simOut.find("update 2.04");
  auto served = simOut.find("request GET /3/0/0");
  ASSERT_NE(update, std::string::npos) << simOut;
  ASSERT_NE(served, std::string::npos) << simOut;
  EXPECT_LT(update, served) << simOut;
}

TEST_F(CliE2E, UrgentWakeSmsLogAndModemWithoutAModem) {
  gw.stop();
  startGateway("[queue]\nawake_window = 1\n");
  auto sim = startSim("sleeper", {"--queue", "--sms", "+4915112345678"}, {"register", "sleep=60"});
  // --urgent is stored with the request.
  RunResult submitted = ctl({"read", "sleeper", "/3/0/0", "--urgent", "--json"});
  ASSERT_EQ(submitted.exitCode, 0) << show(submitted);
  const auto id = parseJson(submitted.out)["id"].get<std::uint64_t>();
  Json r = ctlJson({"request", std::to_string(id)});
  EXPECT_EQ(r["urgent"], true) << r;
  EXPECT_NE(ctl({"request", std::to_string(id)}).out.find("Urgent: yes"), std::string::npos);
  Json plain = ctlJson({"read", "sleeper", "/3/0/1"});
  EXPECT_EQ(ctlJson({"request", std::to_string(plain["id"].get<std::uint64_t>())})["urgent"],
            false);

  // No modem: wake is refused with its own exit code and a message that says why.
  RunResult wake = ctl({"wake", "sleeper"});
  EXPECT_EQ(wake.exitCode, 7) << show(wake);
  EXPECT_NE(wake.err.find("lwgatectl: not waking \"sleeper\": no modem is configured"),
            std::string::npos)
      << show(wake);
  EXPECT_EQ(ctl({"wake", "nobody"}).exitCode, 4);
  EXPECT_EQ(ctl({"wake"}).exitCode, 2);

  // The SMS log is empty (table and JSON), and filters are checked.
  RunResult log = ctl({"sms", "log"});
  ASSERT_EQ(log.exitCode, 0) << show(log);
  EXPECT_EQ(log.out.rfind("ID TIME DIR ENDPOINT NUMBER KIND REQUEST PARTS STATUS REF DETAIL\n", 0),
            0u)
      << log.out;
  EXPECT_NE(log.out.find("0 SMS listed."), std::string::npos) << log.out;
  EXPECT_EQ(ctlJson({"sms", "log", "sleeper", "--limit", "5"}), Json::array());
  EXPECT_EQ(ctl({"sms", "log", "nobody"}).exitCode, 4);
  EXPECT_EQ(ctl({"sms", "log", "--direction", "sideways"}).exitCode, 2);
  EXPECT_EQ(ctl({"sms", "log", "--limit", "0"}).exitCode, 7);
  EXPECT_EQ(ctl({"sms"}).exitCode, 2);

  Json modem = ctlJson({"modem"});
  EXPECT_EQ(modem["state"], "none") << modem;
  EXPECT_TRUE(modem["signal"].is_null()) << modem;
  EXPECT_NE(ctl({"modem"}).out.find("State: none (no modem configured"), std::string::npos);
}

TEST_F(CliE2E, WaitTimesOutAndAQueuedRequestCanBeCancelled) {
  gw.stop();
  startGateway("[queue]\nawake_window = 1\n");
  auto sim = startSim("sleepy", {"--queue"}, {"register", "sleep=60"});
  ASSERT_TRUE(waitUntil([&] { return ctlJson({"show", "sleepy"})["awake"] == false; }, 10s));

  RunResult timedOut = ctl({"read", "sleepy", "/3/0/0", "--wait", "--timeout", "1"});
  EXPECT_EQ(timedOut.exitCode, 6) << show(timedOut);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(timedOut.err, m, std::regex(R"(request (\d+) is still (\w+))")))
      << show(timedOut);
  const std::string id = m[1];
  EXPECT_EQ(ctlJson({"request", id})["state"], "queued");

  RunResult cancelled = ctl({"cancel", id});
  EXPECT_EQ(cancelled.exitCode, 0) << show(cancelled);
  Json after = ctlJson({"request", id});
  EXPECT_EQ(after["state"], "cancelled") << after;
  EXPECT_FALSE(after["finished"].is_null()) << after;

  // A final request cannot be cancelled again: the daemon refuses (exit 7).
  RunResult again = ctl({"cancel", id});
  EXPECT_EQ(again.exitCode, 7) << show(again);
  EXPECT_EQ(again.err.rfind("lwgatectl: ", 0), 0u) << again.err;

  // --wait on a cancelled request ends at once with exit 1.
  RunResult waitCancelled = ctl({"request", id, "--wait", "--timeout", "10"});
  EXPECT_EQ(waitCancelled.exitCode, 1) << show(waitCancelled);
}

// A wait does not outlive the daemon: when lwgated leaves the bus, --wait ends with exit 3 (the
// request stays in the database for the next start).
TEST_F(CliE2E, WaitEndsWhenTheDaemonLeaves) {
  gw.stop();
  startGateway("[queue]\nawake_window = 1\n");
  auto sim = startSim("sleepy", {"--queue"}, {"register", "sleep=60"});
  ASSERT_TRUE(waitUntil([&] { return ctlJson({"show", "sleepy"})["awake"] == false; }, 10s));
  Background waiting(dir.path(), "ctl-wait");
  waiting.start({lwgatectlPath(), "--bus", bus.address(), "read", "sleepy", "/3/0/0", "--wait"});
  ASSERT_TRUE(waitUntil([&] {
    Json list = ctlJson({"requests", "sleepy", "--state", "unfinished"});
    return list.is_array() && list.size() == 1;
  }));
  EXPECT_EQ(gw.stop(), 0) << gw.log();
  EXPECT_EQ(waiting.wait(20s), 3) << waiting.out() << waiting.err();
  EXPECT_NE(waiting.err().find("was not final when lwgated left the bus"), std::string::npos)
      << waiting.err();
}

TEST_F(CliE2E, ErrorsHaveDistinctExitCodes) {
  auto sim = startSim("sim-1");
  auto expectExit = [&](std::vector<std::string> args, int code) {
    RunResult r = ctl(args);
    EXPECT_EQ(r.exitCode, code) << show(r);
    if (code != 0 && code != 2) {
      EXPECT_EQ(r.err.rfind("lwgatectl: ", 0), 0u) << show(r);
    }
    return r;
  };
  // Usage errors (CLI11 and values that do not parse): 2, before anything is sent.
  expectExit({"frobnicate"}, 2);
  expectExit({"read", "sim-1"}, 2);
  expectExit({"read", "sim-1", "/3/0", "--bogus"}, 2);
  expectExit({"write", "sim-1", "/1/0/1", "abc", "--type", "integer"}, 2);
  expectExit({"write", "sim-1", "/1/0/1", "1", "--type", "int"}, 2);
  expectExit({"write", "sim-1", "/1/0", "300"}, 2);
  expectExit({"attrs", "sim-1", "/3/0/9", "pmin=soon"}, 2);
  // Not found: 4.
  expectExit({"read", "nobody", "/3/0"}, 4);
  expectExit({"show", "nobody"}, 4);
  expectExit({"request", "987654321"}, 4);
  expectExit({"cancel", "987654321"}, 4);
  // The daemon refuses the arguments: 7, and nothing is stored.
  Json before = ctlJson({"requests"});
  expectExit({"read", "sim-1", "/3/x/0"}, 7);
  expectExit({"write", "sim-1", "/1/0/1", "abc"}, 7);  // Lifetime is an integer
  expectExit({"read", "sim-1", "/3/0", "--format", "klingon"}, 7);
  EXPECT_EQ(ctlJson({"requests"}).size(), before.size());
  // Help is not an error.
  RunResult help = ctl({"read", "--help"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos) << help.out;
  RunResult top = lwgatectl({"--help"});
  EXPECT_NE(top.out.find("Exit status:"), std::string::npos) << top.out;
}

// Observe with attributes, the first value at once, then notifications: live in monitor,
// stored for `notifications`, the observation in `observations` until it is forgotten.
TEST_F(CliE2E, ObserveNotificationsAndObservations) {
  Background monitor(dir.path(), "monitor");
  monitor.start({lwgatectlPath(), "--bus", bus.address(), "monitor", "--json"});
  ASSERT_TRUE(waitUntil([&] { return monitor.err().find("Monitoring") != std::string::npos; }));
  auto sim =
      startSim("sensor", {"--sensor", "--tick-resource", "/3303/0/5700", "--tick-ms", "100"});

  // SenML JSON carries the type (in TLV a resource outside the core objects stays opaque).
  Json observe = ctlJson({"observe", "sensor", "/3303/0/5700", "pmin=0", "--format", "senml-json",
                          "--wait", "--timeout", "30"});
  EXPECT_EQ(observe["state"], "done") << observe;
  EXPECT_EQ(observe["code"], "2.05") << observe;
  EXPECT_EQ(observe["operation"], "observe") << observe;
  ASSERT_TRUE(observe["result"].is_array()) << observe;
  EXPECT_EQ(observe["result"][0]["path"], "/3303/0/5700") << observe;
  EXPECT_EQ(observe["result"][0]["type"], "float") << observe;

  Json observations = ctlJson({"observations", "sensor"});
  ASSERT_EQ(observations.size(), 1u) << observations;
  const Json& o = observations[0];
  EXPECT_EQ(o["endpoint"], "sensor");
  EXPECT_EQ(o["path"], "/3303/0/5700");
  EXPECT_EQ(o["attributes"], "pmin=0");
  EXPECT_EQ(o["request"], observe["id"]);
  EXPECT_TRUE(o["created"].is_number_unsigned()) << o;

  ASSERT_TRUE(waitUntil([&] {
    return ctlJson({"notifications", "sensor"}).size() >= 3;
  })) << ctl({"notifications", "sensor"}).out
      << gw.log();
  Json listed = ctlJson({"notifications", "sensor", "--limit", "2"});
  ASSERT_EQ(listed.size(), 2u) << listed;
  const Json& n = listed[0];
  EXPECT_EQ(n["endpoint"], "sensor");
  EXPECT_EQ(n["path"], "/3303/0/5700");
  EXPECT_EQ(n["observation"], o["id"]);
  EXPECT_TRUE(n["received"].is_number_unsigned()) << n;
  EXPECT_TRUE(n["payload"].is_string()) << n;
  EXPECT_TRUE(n["decode_error"].is_null() || n["decode_error"] == "") << n;
  ASSERT_TRUE(n["result"].is_array()) << n;
  EXPECT_EQ(n["result"][0]["type"], "float") << n;
  EXPECT_LT(listed[0]["id"].get<std::uint64_t>(), listed[1]["id"].get<std::uint64_t>());
  Json later = ctlJson(
      {"notifications", "sensor", "--after", std::to_string(listed[1]["id"].get<std::uint64_t>())});
  ASSERT_FALSE(later.empty()) << later;
  EXPECT_GT(later[0]["id"].get<std::uint64_t>(), listed[1]["id"].get<std::uint64_t>());
  RunResult table = ctl({"notifications", "sensor", "--limit", "1"});
  EXPECT_TRUE(
      std::regex_search(table.out, std::regex(R"(ID\s+KIND\s+PATH\s+RECEIVED\s+SEQ\s+VALUE\n)")))
      << table.out;

  // The same notifications came live to monitor.
  EXPECT_TRUE(waitUntil([&] {
    for (const auto& j : jsonLines(monitor.out())) {
      if (j["signal"] == "Notification" && j["endpoint"] == "sensor" &&
          j["path"] == "/3303/0/5700" && j["observation"] == o["id"] && j["result"].is_array()) {
        return true;
      }
    }
    return false;
  })) << monitor.out();

  const std::string id = std::to_string(o["id"].get<std::uint64_t>());
  EXPECT_EQ(ctl({"forget-observation", id}).exitCode, 0);
  EXPECT_TRUE(ctlJson({"observations", "sensor"}).empty());
  EXPECT_EQ(ctl({"forget-observation", id}).exitCode, 4);
  EXPECT_EQ(ctl({"notifications", "nobody"}).exitCode, 4);
  EXPECT_EQ(ctl({"cancel-observe", "sensor", "/3/0/9"}).exitCode, 4);  // nothing observes it
  EXPECT_EQ(monitor.stop(), 0);
}

TEST_F(CliE2E, DeviceSettingsAreSetShownAndCleared) {
  auto sim = startSim("sim-1");
  Json none = ctlJson({"settings", "sim-1"});
  EXPECT_EQ(none, Json::parse(R"({"endpoint":"sim-1","awake_window":null,"sms_number":null,
      "server_instance":null})"));
  Json set = ctlJson({"settings", "sim-1", "awake_window=30", "sms_number=+4915112345678"});
  EXPECT_EQ(set["awake_window"], 30) << set;
  EXPECT_EQ(set["sms_number"], "+4915112345678") << set;
  EXPECT_TRUE(set["server_instance"].is_null()) << set;
  Json cleared = ctlJson({"settings", "sim-1", "sms_number="});
  EXPECT_TRUE(cleared["sms_number"].is_null()) << cleared;
  EXPECT_EQ(cleared["awake_window"], 30) << cleared;
  RunResult block = ctl({"settings", "sim-1"});
  EXPECT_NE(block.out.find("Awake window: 30s\n"), std::string::npos) << block.out;

  EXPECT_EQ(ctl({"settings", "nobody"}).exitCode, 4);
  EXPECT_EQ(ctl({"settings", "sim-1", "awake_window=soon"}).exitCode, 2);
  EXPECT_EQ(ctl({"settings", "sim-1", "colour=blue"}).exitCode, 7);
}

TEST_F(CliE2E, MonitorPrintsSignalsUntilInterrupted) {
  Background monitor(dir.path(), "monitor");
  monitor.start({lwgatectlPath(), "--bus", bus.address(), "monitor", "--json"});
  // Printed once the match rules are on the bus.
  ASSERT_TRUE(waitUntil([&] { return monitor.err().find("Monitoring") != std::string::npos; }))
      << monitor.err();

  auto sim = startSim("sim-1");
  Json read = ctlJson({"read", "sim-1", "/3/0/9", "--wait", "--timeout", "30"});
  ASSERT_EQ(read["state"], "done") << read;
  const auto id = read["id"].get<std::uint64_t>();

  auto seen = [&](const std::function<bool(const Json&)>& match) {
    return waitUntil([&] {
      for (const auto& j : jsonLines(monitor.out())) {
        if (match(j)) return true;
      }
      return false;
    });
  };
  EXPECT_TRUE(seen([](const Json& j) {
    return j["signal"] == "DeviceRegistered" && j["endpoint"] == "sim-1" &&
           j["object_path"] == "/org/lwgate/Gateway1/device/sim_2d1";
  })) << monitor.out();
  EXPECT_TRUE(seen([](const Json& j) {
    return j["signal"] == "InterfacesAdded" && j["endpoint"] == "sim-1" &&
           j["interfaces"].is_array() &&
           std::find(j["interfaces"].begin(), j["interfaces"].end(),
                     "org.lwgate.Gateway1.Device") != j["interfaces"].end();
  })) << monitor.out();
  EXPECT_TRUE(seen([&](const Json& j) {
    return j["signal"] == "RequestProgress" && j["id"] == id && j["stage"] == "sent";
  })) << monitor.out();
  EXPECT_TRUE(seen([&](const Json& j) {
    return j["signal"] == "RequestCompleted" && j["id"] == id && j["state"] == "done" &&
           j["code"] == "2.05" && j["result"].is_array() && j["result"][0]["value"] == 95 &&
           j["time"].is_number_unsigned();
  })) << monitor.out();

  // The device leaves: InterfacesRemoved.
  sim->kill9();
  RunResult bye =
      run({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "sim-1", "register", "deregister"});
  EXPECT_EQ(bye.exitCode, 0) << bye.out << bye.err;
  EXPECT_TRUE(seen([](const Json& j) {
    return j["signal"] == "InterfacesRemoved" && j["endpoint"] == "sim-1";
  })) << monitor.out();

  // SIGTERM (Background::stop) ends it like Ctrl-C: cleanly, exit 0.
  EXPECT_EQ(monitor.stop(), 0) << monitor.err();
}

TEST_F(CliE2E, BackupWritesAConsistentCopyOfTheDatabase) {
  auto sim = startSim("sim-b");
  const std::string copy = dir.file("backup.db");
  Json done = ctlJson({"backup", copy});
  EXPECT_EQ(done["path"], copy);
  EXPECT_EQ(queryText(copy, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(queryInt(copy, "SELECT count(*) FROM registrations"), 1);
  // A file that exists is refused by lwgated (exit 7) and left alone.
  RunResult again = ctl({"backup", copy});
  EXPECT_EQ(again.exitCode, 7) << show(again);
}

TEST_F(CliE2E, BusComesFromTheEnvironmentToo) {
  Background env(dir.path(), "ctl-env");
  env.start({lwgatectlPath(), "status", "--json"}, {"LWGATE_BUS=" + bus.address()});
  EXPECT_EQ(env.wait(), 0) << env.err();
  EXPECT_EQ(parseJson(env.out())["devices"], 0) << env.out();
}

// No lwgated on the bus, or no bus at all: exit 3 with a message saying so.
TEST(CliWithoutDaemon, ExitsThree) {
  TempDir dir;
  PrivateBus bus(dir.path());
  RunResult noDaemon = lwgatectl({"--bus", bus.address(), "list"});
  EXPECT_EQ(noDaemon.exitCode, 3) << show(noDaemon);
  EXPECT_NE(noDaemon.err.find("lwgatectl: lwgated is not running"), std::string::npos)
      << noDaemon.err;
  RunResult submit = lwgatectl({"--bus", bus.address(), "read", "x", "/3/0", "--wait"});
  EXPECT_EQ(submit.exitCode, 3) << show(submit);

  RunResult noBus = lwgatectl({"--bus", "unix:path=" + dir.file("nothing-here"), "status"});
  EXPECT_EQ(noBus.exitCode, 3) << show(noBus);
  EXPECT_EQ(noBus.err.rfind("lwgatectl: cannot connect to", 0), 0u) << noBus.err;
}

}  // namespace
}  // namespace lwgate::e2e::clitest

namespace lwgate::e2e::clitest {
namespace {

// A bus whose policy refuses Read (as the shipped system-bus policy refuses method calls to
// users outside group lwgate): exit 5, while reading properties still works.
TEST(CliAccessDenied, ExitsFive) {
  TempDir dir;
  writeFile(dir.file("bus.conf"),
            R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=)" +
                dir.file("bus") +
                R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <deny send_destination="org.lwgate.Gateway1" send_interface="org.lwgate.Gateway1"
          send_member="Read"/>
  </policy>
</busconfig>
)");
  Background bus(dir.path(), "dbus-daemon");
  bus.start(
      {"dbus-daemon", "--config-file=" + dir.file("bus.conf"), "--nofork", "--print-address"});
  ASSERT_TRUE(bus.waitForOut("unix:path=")) << bus.err();
  const std::string address = "unix:path=" + dir.file("bus");
  Lwgated gw(dir.path());
  ASSERT_TRUE(gw.start({"--bus", address})) << gw.log();
  ASSERT_TRUE(waitUntil([&] {
    return lwgatectl({"--bus", address, "status"}).exitCode == 0;
  })) << gw.log();

  RunResult denied = lwgatectl({"--bus", address, "read", "sim-1", "/3/0"});
  EXPECT_EQ(denied.exitCode, 5) << show(denied);
  EXPECT_EQ(denied.err.rfind("lwgatectl: permission denied: this needs root or membership in "
                             "group lwgate",
                             0),
            0u)
      << denied.err;
  EXPECT_EQ(lwgatectl({"--bus", address, "list"}).exitCode, 0);
}

}  // namespace
}  // namespace lwgate::e2e::clitest
