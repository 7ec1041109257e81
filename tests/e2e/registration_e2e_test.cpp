// The registration interface end to end: the real lwgated on 127.0.0.1, a real SQLite file,
// Debian's coap-client-notls and our device simulator as peers.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>

#include "tests/e2e/harness.h"

namespace lwgate::e2e {
namespace {

class RegistrationE2E : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(gw.start()) << gw.log(); }

  std::string rd(const std::string& query) { return gw.url() + "/rd?" + query; }
  std::int64_t count(const std::string& table) {
    return queryInt(gw.database(), "SELECT count(*) FROM " + table);
  }
  RunResult sim(std::vector<std::string> args) {
    std::vector<std::string> argv{LWGATE_SIM_PATH, "--server", gw.url()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 30s);
  }

  TempDir dir;
  Lwgated gw{dir.path()};
};

TEST_F(RegistrationE2E, RegisterUpdateDeregisterWithCoapClient) {
  // coap-client percent-decodes the URI, so %2B arrives as '+'.
  auto reg = coapClient("post", rd("ep=urn:dev:os:0001&lt=300&lwm2m=1.1&b=U&Q&sms=%2B4915100"),
                        "</>;rt=\"oma.lwm2m\";ct=110,</1/0>,</3>;ver=1.1,</3/0>,</5/0>");
  ASSERT_EQ(reg.code, "2.01") << reg.raw << gw.log();
  ASSERT_EQ(reg.locationPath.size(), 2u) << reg.raw;
  EXPECT_EQ(reg.locationPath[0], "rd");
  const std::string loc = reg.locationPath[1];
  EXPECT_TRUE(std::regex_match(loc, std::regex("[a-z0-9]{10}"))) << loc;

  // Everything the registration said is in the database.
  const std::string db = gw.database();
  const std::string where = " FROM registrations WHERE location='" + loc + "'";
  EXPECT_EQ(queryText(db,
                      "SELECT d.endpoint FROM registrations r JOIN devices d ON "
                      "d.id = r.device_id WHERE r.location='" +
                          loc + "'"),
            "urn:dev:os:0001");
  EXPECT_EQ(queryInt(db, "SELECT lifetime" + where), 300);
  EXPECT_EQ(queryText(db, "SELECT version" + where), "1.1");
  EXPECT_EQ(queryInt(db, "SELECT queue_mode" + where), 1);
  EXPECT_EQ(queryText(db, "SELECT sms_number" + where), "+4915100");
  EXPECT_EQ(queryText(db, "SELECT address" + where), "127.0.0.1");
  EXPECT_GT(queryInt(db, "SELECT port" + where), 0);
  auto links = queryText(db, "SELECT object_links" + where);
  ASSERT_TRUE(links.has_value());
  EXPECT_NE(links->find("</3>;ver=1.1"), std::string::npos) << *links;
  EXPECT_NE(links->find("ct="), std::string::npos) << *links;
  EXPECT_TRUE(gw.waitForLog("LWG2001 registered endpoint=urn:dev:os:0001"));

  auto upd = coapClient("post", gw.url() + "/rd/" + loc + "?lt=600");
  EXPECT_EQ(upd.code, "2.04") << upd.raw;
  EXPECT_EQ(queryInt(db, "SELECT lifetime" + where), 600);

  auto del = coapClient("delete", gw.url() + "/rd/" + loc);
  EXPECT_EQ(del.code, "2.02") << del.raw;
  EXPECT_EQ(count("registrations"), 0);
  EXPECT_EQ(count("devices"), 1)
      << "the device row (and later its queue) outlives the registration";

  EXPECT_EQ(coapClient("post", gw.url() + "/rd/" + loc).code, "4.04");
  EXPECT_EQ(coapClient("delete", gw.url() + "/rd/" + loc).code, "4.04");
}

struct BadRegister {
  const char* name;
  std::string query;
  std::optional<std::string> payload;
  const char* code;
};

TEST_F(RegistrationE2E, BadRegistrationsGetClearErrorsAndStoreNothing) {
  const std::vector<BadRegister> cases = {
      {"missing ep", "lt=300", "</3/0>", "4.00"},
      {"empty ep", "ep=&lt=300", "</3/0>", "4.00"},
      {"long ep", "ep=" + std::string(256, 'a'), "</3/0>", "4.00"},
      {"lt not a number", "ep=d&lt=abc", "</3/0>", "4.00"},
      {"lt zero", "ep=d&lt=0", "</3/0>", "4.00"},
      {"lt negative", "ep=d&lt=-5", "</3/0>", "4.00"},
      {"lt too big", "ep=d&lt=4294967296", "</3/0>", "4.00"},
      {"unknown binding", "ep=d&b=X", "</3/0>", "4.00"},
      {"unsupported version", "ep=d&lwm2m=2.0", "</3/0>", "4.12"},
      {"malformed version", "ep=d&lwm2m=one", "</3/0>", "4.00"},
      {"not link-format", "ep=d", "this is not a link", "4.00"},
      {"security object", "ep=d", "</0/0>,</3/0>", "4.00"},
      {"security object alone", "ep=d", "</0>", "4.00"},
      {"unknown parameter", "ep=d&foo=bar", "</3/0>", "4.00"},
      {"ep twice", "ep=d&ep=e", "</3/0>", "4.00"},
      {"bad sms", "ep=d&sms=12ab", "</3/0>", "4.00"},
  };
  for (const auto& c : cases) {
    auto r = coapClient("post", rd(c.query), c.payload);
    EXPECT_EQ(r.code, c.code) << c.name << "\n" << r.raw;
    EXPECT_FALSE(r.payload.empty()) << c.name << ": a diagnostic payload says why";
  }
  EXPECT_EQ(count("registrations"), 0);
  EXPECT_EQ(count("devices"), 0);
  EXPECT_TRUE(gw.waitForLog("LWG2010 POST /rd from 127.0.0.1"));
}

TEST_F(RegistrationE2E, PayloadInAnotherContentFormatIsUnsupported) {
  RunResult r = run({"coap-client-notls", "-v", "6", "-B", "10", "-m", "post", "-t", "50", "-e",
                     "{\"objects\":[3]}", rd("ep=jsonish")});
  EXPECT_NE(r.out.find("c:4.15"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(count("registrations"), 0);
}

TEST_F(RegistrationE2E, PayloadOverTheConfiguredLimitIsRefused) {
  gw.stop();
  writeFile(dir.file("small.toml"), "[registration]\nmax_payload = 100\nmax_objects = 3\n");
  ASSERT_TRUE(gw.start({"--config", dir.file("small.toml")})) << gw.log();
  std::string big;
  for (int i = 1; i <= 30; ++i)
    big += (big.empty() ? "" : ",") + ("</" + std::to_string(i + 100) + "/0>");
  EXPECT_EQ(coapClient("post", rd("ep=big"), big).code, "4.13");
  EXPECT_EQ(coapClient("post", rd("ep=many"), "</1/0>,</3/0>,</4/0>,</5/0>").code, "4.13");
  EXPECT_EQ(coapClient("post", rd("ep=ok"), "</1/0>,</3/0>,</4/0>").code, "2.01");
  EXPECT_EQ(count("registrations"), 1);
}

// A large object list arrives in Block1 pieces (RFC 7959); libcoap reassembles it and the
// registration is stored whole.
TEST_F(RegistrationE2E, BlockwiseRegisterIsReassembled) {
  std::string links;
  for (int i = 1000; i < 1060; ++i)
    links += (links.empty() ? "" : ",") + ("</" + std::to_string(i) + "/0>");
  std::vector<std::string> argv{"coap-client-notls",
                                "-v",
                                "6",
                                "-B",
                                "10",
                                "-b",
                                "64",
                                "-m",
                                "post",
                                "-t",
                                "40",
                                "-e",
                                links,
                                rd("ep=blocky&lt=300")};
  RunResult r = run(argv);
  EXPECT_NE(r.out.find("Block1:0/M/64"), std::string::npos) << "sent in blocks\n" << r.out;
  EXPECT_NE(r.out.find("c:2.01"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(queryInt(gw.database(), "SELECT length(object_links) FROM registrations"),
            static_cast<std::int64_t>(links.size()));
}

// npm's lwm2m-node-lib client (LwM2M 1.0; it repeats lwm2m= on every Update and sends each
// message from a new source port) registers, updates and de-registers.
TEST_F(RegistrationE2E, ThirdPartyNodeClientRegistersUpdatesAndDeregisters) {
  const std::string dir = std::string(LWGATE_SOURCE_DIR) + "/tests/interop";
  ASSERT_TRUE(std::filesystem::exists(dir + "/node_modules/lwm2m-node-lib"))
      << "run: npm ci --prefix tests/interop (scripts/test.sh does)";
  RunResult r = run(
      {"node", dir + "/node_client.js", "127.0.0.1", std::to_string(gw.port()), "node-client-1"},
      30s);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err << gw.log();
  EXPECT_NE(r.out.find("register ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("update ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unregister ok"), std::string::npos) << r.out;
  EXPECT_TRUE(gw.waitForLog("LWG2001 registered endpoint=node-client-1")) << gw.log();
  EXPECT_TRUE(gw.waitForLog("LWG2004 de-registered endpoint=node-client-1")) << gw.log();
  EXPECT_EQ(count("registrations"), 0);
}

TEST_F(RegistrationE2E, SimulatorRegistersUpdatesAndDeregisters) {
  auto r = sim({"--ep", "sim-1", "--lt", "120", "--lwm2m", "1.2", "--queue", "register", "update",
                "deregister"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err << gw.log();
  EXPECT_TRUE(std::regex_search(r.out, std::regex("register 2\\.01 location=[a-z0-9]+"))) << r.out;
  EXPECT_NE(r.out.find("update 2.04"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deregister 2.02"), std::string::npos) << r.out;
  EXPECT_EQ(count("registrations"), 0);
}

// spec/cr-registration-lifetime.txt: without lt= the server must read /1/x/1. The gateway
// queues that Read itself (persisted, sent on the device's own session, answered in text/plain)
// and adopts the value; the request ends "done" in the requests table.
TEST_F(RegistrationE2E, LifetimeIsReadFromTheDeviceWhenRegisterHasNone) {
  auto r = sim({"--ep", "no-lt", "--no-lt", "--lt", "777", "register", "awake=3"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err << gw.log();
  EXPECT_NE(r.out.find("request GET /1/0/1 accept=0 -> 2.05"), std::string::npos) << r.out;
  EXPECT_TRUE(gw.waitForLog("LWG2006 lifetime of no-lt synchronised from /1/0/1: 777s"))
      << gw.log();
  EXPECT_EQ(queryInt(gw.database(), "SELECT lifetime FROM registrations"), 777);
  EXPECT_EQ(queryInt(gw.database(), "SELECT lifetime_sync_pending FROM registrations"), 0);
  EXPECT_EQ(queryText(gw.database(),
                      "SELECT state || ' ' || path || ' ' || response_code "
                      "FROM requests"),
            "done /1/0/1 69");
}

// Queue Mode: a request sent while the device sleeps gets no answer, goes back to the head of
// the queue, and is sent again (same Message ID and token) when the device wakes with an Update.
TEST_F(RegistrationE2E, RequestToASleepingDeviceIsRetriedAfterItWakes) {
  gw.stop();
  // Short CoAP timers so "no answer" is decided in ~3 s instead of the default 93 s.
  writeFile(dir.file("fast.toml"), "[coap]\nack_timeout = 1\nmax_retransmit = 1\n");
  ASSERT_TRUE(gw.start({"--config", dir.file("fast.toml")})) << gw.log();
  auto r = sim({"--ep", "sleepy", "--queue", "--no-lt", "--lt", "900", "register", "sleep=6",
                "update", "awake=3"});
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err << gw.log();
  EXPECT_TRUE(std::regex_search(r.out, std::regex("sleep \\d+ms dropped=[1-9]"))) << r.out;
  EXPECT_NE(r.out.find("request GET /1/0/1 accept=0 -> 2.05"), std::string::npos) << r.out;
  EXPECT_TRUE(gw.waitForLog("LWG2006 lifetime of sleepy synchronised from /1/0/1: 900s"))
      << gw.log();
  EXPECT_EQ(queryText(gw.database(), "SELECT state || ' attempts=' || attempts FROM requests"),
            "done attempts=1")
      << "one transmission went unanswered while the device slept";
}

TEST_F(RegistrationE2E, ReRegistrationReplacesTheOldLocation) {
  auto first = coapClient("post", rd("ep=dev&lt=300"), "</3/0>");
  auto second = coapClient("post", rd("ep=dev&lt=300&b=UQ"), "</3/0>,</4/0>");
  ASSERT_EQ(first.code, "2.01");
  ASSERT_EQ(second.code, "2.01");
  ASSERT_EQ(first.locationPath.size(), 2u);
  ASSERT_EQ(second.locationPath.size(), 2u);
  EXPECT_NE(first.locationPath[1], second.locationPath[1]);
  EXPECT_EQ(count("registrations"), 1);
  EXPECT_EQ(count("devices"), 1);
  EXPECT_EQ(coapClient("post", gw.url() + "/rd/" + first.locationPath[1]).code, "4.04");
  EXPECT_EQ(coapClient("post", gw.url() + "/rd/" + second.locationPath[1]).code, "2.04");
  EXPECT_EQ(queryInt(gw.database(), "SELECT queue_mode FROM registrations"), 1);
}

TEST_F(RegistrationE2E, RegistrationSurvivesKill9AndUpdateToOldLocationWorks) {
  auto r = sim({"--ep", "crashy", "--lt", "3600", "register"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("location=([a-z0-9]+)"))) << r.out;
  const std::string loc = m[1];
  auto gone = coapClient("post", rd("ep=gone&lt=3600"), "</3/0>");
  ASSERT_EQ(gone.code, "2.01");
  ASSERT_EQ(coapClient("delete", gw.url() + "/rd/" + gone.locationPath.at(1)).code, "2.02");

  gw.kill9();
  ASSERT_TRUE(gw.start()) << gw.log();
  EXPECT_TRUE(gw.waitForLog("LWG1005 restored 1 registrations"));
  auto after = sim({"--ep", "crashy", "--location", loc, "update"});
  EXPECT_EQ(after.exitCode, 0) << after.out << after.err << gw.log();
  EXPECT_NE(after.out.find("update 2.04"), std::string::npos) << after.out;
  EXPECT_EQ(coapClient("post", gw.url() + "/rd/" + gone.locationPath.at(1)).code, "4.04");
  EXPECT_EQ(queryText(gw.database(), "PRAGMA integrity_check"), "ok");
}

TEST_F(RegistrationE2E, LifetimeExpiryRemovesTheRegistration) {
  auto r = coapClient("post", rd("ep=short&lt=1"), "</3/0>");
  ASSERT_EQ(r.code, "2.01");
  EXPECT_TRUE(gw.waitForLog("LWG2005 registration expired endpoint=short")) << gw.log();
  EXPECT_TRUE(waitUntil([&] { return count("registrations") == 0; }));
  EXPECT_EQ(coapClient("post", gw.url() + "/rd/" + r.locationPath.at(1)).code, "4.04");
}

TEST_F(RegistrationE2E, ExpiryContinuesFromStoredTimeAcrossRestart) {
  auto r = coapClient("post", rd("ep=sleepy&lt=2"), "</3/0>");
  ASSERT_EQ(r.code, "2.01");
  ASSERT_EQ(gw.stop(), 0) << gw.log();
  // Wait (a condition, not a fixed sleep) until the stored lifetime has run out.
  const auto deadline =
      queryInt(gw.database(), "SELECT updated_at + lifetime * 1000 FROM registrations");
  ASSERT_GT(deadline, 0);
  ASSERT_TRUE(waitUntil(
      [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() > deadline;
      },
      10s));
  ASSERT_TRUE(gw.start()) << gw.log();
  EXPECT_TRUE(gw.waitForLog("(1 expired while stopped)")) << gw.log();
  EXPECT_EQ(count("registrations"), 0);
  EXPECT_EQ(coapClient("post", gw.url() + "/rd/" + r.locationPath.at(1)).code, "4.04");
}

// A CON retransmission (same peer, same Message ID) gets the same answer and registers once.
TEST_F(RegistrationE2E, RetransmittedRegisterIsAnsweredOnce) {
  std::string pdu = {0x41, 0x02, 0x12, 0x34, 0x7a};  // CON POST MID 0x1234, token 7a
  pdu += "\xb2rd";                                   // Uri-Path "rd"
  pdu += "\x11\x28";                                 // Content-Format 40
  pdu +=
      "\x37"
      "ep=dup1";  // Uri-Query
  pdu +=
      "\x06"
      "lt=300";
  pdu += "\xff</3/0>";
  auto a = udpExchange(gw.port(), pdu);
  auto b = udpExchange(gw.port(), pdu);
  ASSERT_TRUE(a && b);
  ASSERT_GE(a->size(), 4u);
  EXPECT_EQ(static_cast<unsigned char>((*a)[1]), 0x41) << "2.01 Created";
  EXPECT_EQ(*a, *b) << "the retransmission gets the same location";
  EXPECT_EQ(count("registrations"), 1);
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM devices WHERE endpoint='dup1'"), 1);
}

TEST_F(RegistrationE2E, GarbageDatagramsDoNotHurt) {
  for (const std::string& junk :
       {std::string("\x00\x01", 2), std::string("hello world"),
        std::string("\x41\x02\x00\x01\x7a\xff", 6), std::string(1400, '\xff')}) {
    (void)udpExchange(gw.port(), junk, 200ms);
  }
  EXPECT_EQ(coapClient("post", rd("ep=after-junk"), "</3/0>").code, "2.01");
  EXPECT_EQ(coapClient("get", gw.url() + "/nothing").code, "4.04");
  EXPECT_EQ(coapClient("get", gw.url() + "/rd").code, "4.05");
}

TEST_F(RegistrationE2E, DeviceLimitAndReloadOnSighup) {
  gw.stop();
  writeFile(dir.file("gw.toml"), "[server]\nmax_devices = 1\n");
  ASSERT_TRUE(gw.start({"--config", dir.file("gw.toml")})) << gw.log();
  EXPECT_EQ(coapClient("post", rd("ep=one"), "</3/0>").code, "2.01");
  auto full = coapClient("post", rd("ep=two"), "</3/0>");
  EXPECT_EQ(full.code, "5.03") << full.raw;
  // Raise the limit and reload: no restart, the registration of "one" stays.
  writeFile(dir.file("gw.toml"), "[server]\nmax_devices = 2\n");
  gw.signal(SIGHUP);
  ASSERT_TRUE(gw.waitForLog("LWG1008 configuration reloaded")) << gw.log();
  EXPECT_EQ(coapClient("post", rd("ep=two"), "</3/0>").code, "2.01");
  // A broken file on reload is refused and the running configuration kept.
  writeFile(dir.file("gw.toml"), "[server]\nmax_devices = -4\n");
  gw.signal(SIGHUP);
  ASSERT_TRUE(gw.waitForLog("LWG1006 configuration reload failed")) << gw.log();
  EXPECT_EQ(count("registrations"), 2);
  EXPECT_EQ(gw.stop(), 0);
  EXPECT_NE(gw.log().find("LWG1003 lwgated stopped"), std::string::npos);
}

// What systemd sees with Type=notify and WatchdogSec=: READY=1 once the socket is bound,
// WATCHDOG=1 pings from the event loop, RELOADING=1/READY=1 around SIGHUP, STOPPING=1.
TEST(LwgatedSystemd, NotifiesReadyWatchdogReloadAndStopping) {
  TempDir dir;
  NotifySocket notify(dir.file("notify"));
  Lwgated gw(dir.path());
  gw.setEnvironment({"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=200000"});
  ASSERT_TRUE(gw.start()) << gw.log();
  EXPECT_TRUE(notify.waitFor("READY=1"));
  EXPECT_TRUE(notify.waitFor("STATUS=0 devices registered"));
  EXPECT_TRUE(notify.waitFor("WATCHDOG=1")) << "sd-event pings at half the watchdog interval";
  gw.signal(SIGHUP);
  EXPECT_TRUE(notify.waitFor("RELOADING=1"));
  EXPECT_EQ(gw.stop(), 0);
  EXPECT_TRUE(notify.waitFor("STOPPING=1"));
}

TEST(LwgatedIPv6, RegistersOverLoopbackV6) {
  TempDir dir;
  Lwgated gw(dir.path());
  if (!gw.start({"--listen", "[::1]:0"})) {
    if (gw.log().find("cannot listen") != std::string::npos) GTEST_SKIP() << "no ::1 here";
    FAIL() << gw.log();
  }
  ASSERT_EQ(gw.url().rfind("coap://[::1]:", 0), 0u) << gw.url();
  auto r = coapClient("post", gw.url() + "/rd?ep=v6dev&lt=60", "</3/0>");
  EXPECT_EQ(r.code, "2.01") << r.raw;
  EXPECT_EQ(queryText(gw.database(), "SELECT address FROM registrations"), "::1");
}

TEST(LwgatedCommandLine, CheckConfigVersionAndBadOptions) {
  TempDir dir;
  writeFile(dir.file("good.toml"),
            "[server]\nlisten = [\"127.0.0.1:5683\", \"[::1]:5683\"]\ndatabase = \"/tmp/x.db\"\n"
            "[coap]\nack_timeout = 2.5\n[log]\nlevel = \"debug\"\n");
  auto ok = run({LWGATED_PATH, "--check-config", dir.file("good.toml")});
  EXPECT_EQ(ok.exitCode, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("configuration OK"), std::string::npos);

  writeFile(dir.file("bad.toml"),
            "[server]\nmax_devices = 0\nlisten = [\"nowhere\"]\n[coap]\nspeed = 3\n");
  auto bad = run({LWGATED_PATH, "--check-config", dir.file("bad.toml")});
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.err.find("bad.toml:2: [server] max_devices"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("bad.toml:5: [coap] speed: unknown key"), std::string::npos) << bad.err;

  writeFile(dir.file("syntax.toml"), "[server\n");
  auto syntax = run({LWGATED_PATH, "--check-config", dir.file("syntax.toml")});
  EXPECT_EQ(syntax.exitCode, 1);
  EXPECT_NE(syntax.err.find("syntax.toml:1"), std::string::npos) << syntax.err;

  auto missing = run({LWGATED_PATH, "--check-config", dir.file("none.toml")});
  EXPECT_EQ(missing.exitCode, 1);

  auto version = run({LWGATED_PATH, "--version"});
  EXPECT_EQ(version.exitCode, 0);
  EXPECT_NE(version.out.find("lwgated "), std::string::npos);

  auto badListen = run({LWGATED_PATH, "--db", dir.file("x.db"), "--listen", "127.0.0.1"});
  EXPECT_EQ(badListen.exitCode, 1);
  EXPECT_NE(badListen.err.find("invalid listen address"), std::string::npos) << badListen.err;

  auto badDb = run({LWGATED_PATH, "--db", dir.file("no/such/dir/x.db"), "--listen", "127.0.0.1:0"});
  EXPECT_EQ(badDb.exitCode, 1);
  EXPECT_NE(badDb.err.find("LWG1091"), std::string::npos) << badDb.err;
}

}  // namespace
}  // namespace lwgate::e2e
