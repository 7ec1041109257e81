// DTLS-PSK end to end: the real lwgated with a coaps listener on 127.0.0.1, keys provisioned
// with the real lwgatectl over a private dbus-daemon, and two DTLS peers - Debian's
// coap-client-gnutls (nobody here wrote it) and lwgate-sim - restricted by GnuTLS's system
// priority file to TLS_PSK_WITH_AES_128_CCM_8, the LwM2M mandatory suite. Also the
// per-address rate limit (4.29 with Max-Age) and the credential store's privacy.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>

#include "tests/e2e/bridge_harness.h"
#include "tests/e2e/harness.h"

namespace lwgate::e2e {
namespace dtls_test {

// 16 ASCII bytes: coap-client takes its -k key as text, lwgatectl as hex.
constexpr const char* kKeyText = "Sup3rS3cretPSK!!";

std::string keyHex(const std::string& text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

// GnuTLS's system-wide configuration (GNUTLS_SYSTEM_PRIORITY_FILE) with an [overrides]
// section that disables every cipher and key exchange but AES-128-CCM-8 and plain PSK: a peer
// started with it can only offer TLS_PSK_WITH_AES_128_CCM_8 (and fails if the server does not
// take it). GnuTLS 3.7 names as in `gnutls-cli --list`.
constexpr const char* kOnlyCcm8 = R"([overrides]
tls-disabled-cipher = AES-128-GCM
tls-disabled-cipher = AES-256-GCM
tls-disabled-cipher = AES-128-CBC
tls-disabled-cipher = AES-256-CBC
tls-disabled-cipher = AES-128-CCM
tls-disabled-cipher = AES-256-CCM
tls-disabled-cipher = AES-256-CCM-8
tls-disabled-cipher = CHACHA20-POLY1305
tls-disabled-cipher = CAMELLIA-128-GCM
tls-disabled-cipher = CAMELLIA-256-GCM
tls-disabled-cipher = CAMELLIA-128-CBC
tls-disabled-cipher = CAMELLIA-256-CBC
tls-disabled-cipher = 3DES-CBC
tls-disabled-kx = ECDHE-PSK
tls-disabled-kx = DHE-PSK
tls-disabled-kx = RSA-PSK
tls-disabled-kx = ECDHE-ECDSA
tls-disabled-kx = ECDHE-RSA
tls-disabled-kx = DHE-RSA
tls-disabled-kx = RSA
)";

class DtlsE2E : public ::testing::Test {
 protected:
  // NoSec on 127.0.0.1 too unless noSec is false; DTLS always.
  void startGateway(bool noSec, const std::string& extraConfig = "") {
    std::string config = "[server]\nlisten_dtls = [\"127.0.0.1:0\"]\n";
    if (!noSec) config += "listen = []\n";
    config += "[queue]\nawake_window = 5\n" + extraConfig;
    writeFile(dir.file("lwgated.toml"), config);
    writeFile(dir.file("only-ccm8.conf"), kOnlyCcm8);
    gw.setNoSec(noSec);
    auto args = bus.lwgatedArgs();
    args.insert(args.end(), {"--config", dir.file("lwgated.toml")});
    ASSERT_TRUE(gw.start(args)) << gw.log();
    ASSERT_NE(gw.dtlsPort(), 0) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG4001")) << gw.log();
  }

  RunResult ctl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {LWGATECTL_PATH, "--bus", bus.address()});
    if (input.empty()) return run(args);
    // Standard input from a file through sh, as an operator's pipe would give it.
    writeFile(dir.file("stdin"), input);
    std::string command;
    for (const auto& a : args) command += "'" + a + "' ";
    return run({"sh", "-c", command + "< '" + dir.file("stdin") + "'"});
  }

  void addPsk(const std::string& identity, const std::string& endpoint) {
    RunResult r = ctl({"psk", "add", identity, endpoint, "--key-hex", keyHex(kKeyText)});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  }

  std::vector<std::string> restricted() const {
    return {"env", "GNUTLS_SYSTEM_PRIORITY_FILE=" + dir.file("only-ccm8.conf"),
            "GNUTLS_SYSTEM_PRIORITY_FAIL_ON_INVALID=1"};
  }
  CoapReply gnutlsClient(const std::string& identity, const std::string& method,
                         const std::string& path,
                         const std::optional<std::string>& payload = std::nullopt) {
    auto command = restricted();
    command.insert(command.end(), {"coap-client-gnutls", "-u", identity, "-k", kKeyText});
    return coapClientWith(command, method, gw.dtlsUrl() + path, payload);
  }

  std::int64_t count(const std::string& sql) { return queryInt(gw.database(), sql); }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Lwgated gw{dir.path()};
};

TEST_F(DtlsE2E, CoapClientGnutlsRestrictedToCcm8RegistersOnlyAsItsEndpoint) {
  startGateway(/*noSec=*/false);
  // NoSec is off: only the DTLS listener is bound.
  EXPECT_EQ(gw.log().find("listening on coap://"), std::string::npos) << gw.log();
  addPsk("cg-1", "cg-dev");

  // Another endpoint name than the identity's: 4.03, nothing stored.
  CoapReply wrong = gnutlsClient("cg-1", "post", "/rd?ep=someone-else&lt=300", "</1/0>,</3/0>");
  EXPECT_EQ(wrong.code, "4.03") << wrong.raw;
  EXPECT_EQ(count("SELECT count(*) FROM registrations"), 0);

  CoapReply ok =
      gnutlsClient("cg-1", "post", "/rd?ep=cg-dev&lt=300&lwm2m=1.1&b=U", "</1/0>,</3/0>");
  ASSERT_EQ(ok.code, "2.01") << ok.raw << gw.log();
  ASSERT_EQ(ok.locationPath.size(), 2u);
  // The handshake agreed on the LwM2M mandatory suite (the client could offer nothing else).
  EXPECT_TRUE(gw.waitForLog("TLS_PSK_WITH_AES_128_CCM_8")) << gw.log();
  EXPECT_EQ(*queryText(gw.database(),
                       "SELECT r.transport || ' ' || d.endpoint FROM registrations r "
                       "JOIN devices d ON d.id = r.device_id"),
            "dtls cg-dev");

  // Update and De-register over DTLS with the same identity.
  const std::string location = "/rd/" + ok.locationPath[1];
  EXPECT_EQ(gnutlsClient("cg-1", "post", location + "?lt=600").code, "2.04");
  EXPECT_EQ(count("SELECT lifetime FROM registrations"), 600);

  // Another identity (bound to another endpoint) may not touch it.
  addPsk("cg-2", "cg-other");
  EXPECT_EQ(gnutlsClient("cg-2", "delete", location).code, "4.03");
  EXPECT_EQ(count("SELECT count(*) FROM registrations"), 1);

  EXPECT_EQ(gnutlsClient("cg-1", "delete", location).code, "2.02");
  EXPECT_EQ(count("SELECT count(*) FROM registrations"), 0);
}

TEST_F(DtlsE2E, UnknownIdentityAndWrongKeyAreRefusedAtTheHandshake) {
  startGateway(/*noSec=*/false);
  addPsk("known", "dev-k");
  CoapReply unknown = gnutlsClient("nobody", "post", "/rd?ep=dev-k&lt=300", "</1/0>");
  EXPECT_EQ(unknown.code, "") << unknown.raw;
  EXPECT_TRUE(gw.waitForLog("LWG7010")) << gw.log();
  EXPECT_NE(gw.log().find("unknown PSK identity \"nobody\""), std::string::npos) << gw.log();

  auto command = restricted();
  command.insert(command.end(), {"coap-client-gnutls", "-u", "known", "-k", "wrong-key-123456"});
  CoapReply wrongKey =
      coapClientWith(command, "post", gw.dtlsUrl() + "/rd?ep=dev-k&lt=300", "</1/0>");
  EXPECT_EQ(wrongKey.code, "") << wrongKey.raw;
  EXPECT_EQ(count("SELECT count(*) FROM registrations"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM devices"), 0);
}

TEST_F(DtlsE2E, SimOverDtlsRegistersAndAnswersDownlinkOnItsSession) {
  startGateway(/*noSec=*/true);
  addPsk("sim-id", "sim-dtls");
  Background sim(dir.path(), "sim");
  sim.start({LWGATE_SIM_PATH, "--server", gw.dtlsUrl(), "--ep", "sim-dtls", "--psk-identity",
             "sim-id", "--psk-key", keyHex(kKeyText), "--sensor", "register", "send=/3/0/9",
             "awake=60", "deregister"},
            {"GNUTLS_SYSTEM_PRIORITY_FILE=" + dir.file("only-ccm8.conf"),
             "GNUTLS_SYSTEM_PRIORITY_FAIL_ON_INVALID=1"});
  ASSERT_TRUE(sim.waitForOut("register 2.01")) << sim.out() << sim.err() << gw.log();
  EXPECT_TRUE(gw.waitForLog("TLS_PSK_WITH_AES_128_CCM_8")) << gw.log();
  // A Send on the DTLS session is the device's: stored under its endpoint.
  ASSERT_TRUE(sim.waitForOut("send 2.04")) << sim.out() << gw.log();
  EXPECT_EQ(count("SELECT count(*) FROM notifications n JOIN devices d ON d.id = n.device_id "
                  "WHERE n.kind = 'send' AND d.endpoint = 'sim-dtls'"),
            1);
  // A Send over NoSec from anywhere else (Debian's coap-client) names no registration.
  CoapReply stranger = coapClient("post", gw.url() + "/dp", "[]");
  EXPECT_EQ(stranger.code, "4.04") << stranger.raw;
  EXPECT_EQ(count("SELECT count(*) FROM notifications"), 1);

  // A Read goes out on the device's DTLS session and its answer comes back through it.
  RunResult read = ctl({"read", "sim-dtls", "/3/0/0", "--wait", "--timeout", "20"});
  EXPECT_EQ(read.exitCode, 0) << read.out << read.err << gw.log();
  EXPECT_NE(read.out.find("/3/0/0"), std::string::npos) << read.out;
  EXPECT_TRUE(sim.waitForOut("request GET /3/0/0")) << sim.out();

  // An observation and its notifications ride the same session.
  RunResult observe = ctl({"observe", "sim-dtls", "/3303/0/5700", "--wait", "--timeout", "20"});
  EXPECT_EQ(observe.exitCode, 0) << observe.out << observe.err;
  EXPECT_TRUE(waitUntil(
      [&] {
        return count("SELECT count(*) FROM notifications n WHERE n.path = '/3303/0/5700'") >= 1;
      },
      20s));

  // The same endpoint over NoSec is refused: it has a PSK.
  CoapReply nosec = coapClient("post", gw.url() + "/rd?ep=sim-dtls&lt=300", "</1/0>");
  EXPECT_EQ(nosec.code, "4.03") << nosec.raw;
  EXPECT_EQ(*queryText(gw.database(), "SELECT transport FROM registrations"), "dtls");
  sim.stop();
}

TEST_F(DtlsE2E, PskManagementNeverShowsTheKeyAndTheDatabaseIsPrivate) {
  startGateway(/*noSec=*/true);
  const std::string hex = keyHex(kKeyText);
  // From --key-hex, and from standard input (a pipe, so no prompt).
  ASSERT_EQ(ctl({"psk", "add", "alpha", "ep-a", "--key-hex", hex}).exitCode, 0);
  RunResult piped = ctl({"psk", "add", "beta", "ep-b"}, hex + "\n");
  ASSERT_EQ(piped.exitCode, 0) << piped.err;
  RunResult binary = ctl({"psk", "add", "01ff10", "ep-c", "--identity-hex", "--key-hex", "0102"});
  ASSERT_EQ(binary.exitCode, 0) << binary.err;
  // GnuTLS hands identities over as C strings: one with a zero byte could never match.
  RunResult zero = ctl({"psk", "add", "00ff10", "ep-c", "--identity-hex", "--key-hex", "0102"});
  EXPECT_EQ(zero.exitCode, 7) << zero.err;
  EXPECT_NE(zero.err.find("zero byte"), std::string::npos) << zero.err;

  RunResult list = ctl({"psk", "list"});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_NE(list.out.find("alpha"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("ep-b"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("hex:01ff10"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("set"), std::string::npos) << list.out;
  RunResult json = ctl({"psk", "list", "ep-a", "--json"});
  ASSERT_EQ(json.exitCode, 0) << json.err;
  EXPECT_NE(json.out.find("\"identity\":\"alpha\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"key_set\":true"), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("beta"), std::string::npos) << json.out;

  // Bad input: refused (exit 7), nothing stored, the key never echoed.
  RunResult badKey = ctl({"psk", "add", "gamma", "ep-g", "--key-hex", "zz" + hex});
  EXPECT_EQ(badKey.exitCode, 2) << badKey.err;  // not hex: a usage error before any call
  RunResult longKey = ctl({"psk", "add", "gamma", "ep-g", "--key-hex", std::string(130, 'a')});
  EXPECT_EQ(longKey.exitCode, 7) << longKey.err;
  RunResult badEp = ctl({"psk", "add", "gamma", "bad\x01name", "--key-hex", hex});
  EXPECT_EQ(badEp.exitCode, 7) << badEp.err;
  EXPECT_EQ(count("SELECT count(*) FROM psk_credentials WHERE endpoint = 'ep-g'"), 0);

  EXPECT_EQ(ctl({"psk", "remove", "alpha"}).exitCode, 0);
  EXPECT_EQ(ctl({"psk", "remove", "alpha"}).exitCode, 4);
  EXPECT_EQ(count("SELECT count(*) FROM psk_credentials"), 2);

  // The key is in the database (that is where it lives) and nowhere a person would read.
  for (const RunResult& r : {list, json, piped, badKey, longKey, badEp}) {
    EXPECT_EQ((r.out + r.err).find(hex), std::string::npos) << r.out << r.err;
    EXPECT_EQ((r.out + r.err).find(kKeyText), std::string::npos) << r.out << r.err;
  }
  EXPECT_EQ(gw.log().find(hex), std::string::npos);
  EXPECT_EQ(gw.log().find(kKeyText), std::string::npos);
  EXPECT_TRUE(gw.waitForLog("LWG7030 PSK identity \"alpha\" added for endpoint \"ep-a\""))
      << gw.log();
  struct stat st {};
  ASSERT_EQ(::stat(gw.database().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DtlsE2E, DatabaseReadableByOthersIsMadePrivateAtStart) {
  startGateway(/*noSec=*/true);
  gw.stop();
  ::chmod(gw.database().c_str(), 0644);
  auto args = bus.lwgatedArgs();
  args.insert(args.end(), {"--config", dir.file("lwgated.toml")});
  ASSERT_TRUE(gw.start(args)) << gw.log();
  EXPECT_NE(gw.log().find("LWG7003"), std::string::npos) << gw.log();
  struct stat st {};
  ASSERT_EQ(::stat(gw.database().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DtlsE2E, RateLimitAnswers429WithMaxAgeAndSparesTheDevicesOwnUpdates) {
  startGateway(/*noSec=*/true, "[registration]\nrate_limit = 0.2\nrate_limit_burst = 3\n");
  // A device's Register costs one token; its own Updates (same address and port) cost none.
  RunResult sim = run({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "rl-sim", "register",
                       "update", "update", "update", "update", "update"});
  EXPECT_EQ(sim.exitCode, 0) << sim.out << sim.err;
  EXPECT_EQ(count("SELECT count(*) FROM registrations"), 1);

  EXPECT_EQ(coapClient("post", gw.url() + "/rd?ep=rl-1&lt=300", "</1/0>").code, "2.01");
  EXPECT_EQ(coapClient("post", gw.url() + "/rd/guess", std::nullopt).code, "4.04");
  // The bucket is empty: the next counted request gets 4.29 with Max-Age (5 s to the next
  // token at 0.2/s), and nothing is stored.
  CoapReply limited = coapClient("post", gw.url() + "/rd?ep=rl-3&lt=300", "</1/0>");
  EXPECT_EQ(limited.code, "4.29") << limited.raw;
  EXPECT_TRUE(std::regex_search(limited.raw, std::regex("Max-Age:[1-5]\\b"))) << limited.raw;
  EXPECT_EQ(count("SELECT count(*) FROM devices WHERE endpoint = 'rl-3'"), 0);
  EXPECT_EQ(coapClient("get", gw.url() + "/anything").code, "4.29");
  EXPECT_TRUE(gw.waitForLog("LWG7020 rate limit: 127.0.0.1")) << gw.log();
  // One line for the address, however many were refused.
  const std::string log = gw.log();
  EXPECT_EQ(log.find("LWG7020", log.find("LWG7020") + 1), std::string::npos) << log;
}

}  // namespace dtls_test

namespace bridge_dtls_test {

using bridge_e2e::freeUdpPort;
using bridge_e2e::Interactive;
using dtls_test::keyHex;
using dtls_test::kKeyText;
using dtls_test::kOnlyCcm8;

// The bridge towards a coaps:// upstream server: gateway A bridges its devices to B, a second
// lwgated with only a DTLS listener and the devices' upstream identities in its credential
// store. A's DTLS client may only offer TLS_PSK_WITH_AES_128_CCM_8 (GnuTLS's system priority
// file), so the LwM2M mandatory suite is what the upstream sessions use.
class BridgeDtlsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    upstreamPort = freeUdpPort();
    uri = "coaps://127.0.0.1:" + std::to_string(upstreamPort);
  }
  void startUpstream() {
    writeFile(dirB.file("lwgated.toml"), "[server]\nlisten = []\nlisten_dtls = [\"127.0.0.1:" +
                                             std::to_string(upstreamPort) + "\"]\n");
    up.setNoSec(false);
    auto args = busB.lwgatedArgs();
    args.insert(args.end(), {"--config", dirB.file("lwgated.toml")});
    ASSERT_TRUE(up.start(args)) << up.log();
  }
  // A long back-off (60 s or more): a link that gets going within the tests' 20 s waits was
  // started again by the key's arrival, not by its back-off running out.
  void startGateway(const std::string& pskMode,
                    const std::string& timing = "backoff_min = 60\nbackoff_max = 120\n") {
    writeFile(dirA.file("lwgated.toml"),
              "[server]\nmax_devices = 2\n[coap]\nack_timeout = 0.5\nmax_retransmit = 1\n"
              "[[upstream]]\nuri = \"" +
                  uri + "\"\nendpoint_prefix = \"gw-\"\npsk = \"" + pskMode + "\"\n" + timing);
    writeFile(dirA.file("only-ccm8.conf"), kOnlyCcm8);
    gw.setEnvironment({"GNUTLS_SYSTEM_PRIORITY_FILE=" + dirA.file("only-ccm8.conf"),
                       "GNUTLS_SYSTEM_PRIORITY_FAIL_ON_INVALID=1"});
    auto args = busA.lwgatedArgs();
    args.insert(args.end(), {"--config", dirA.file("lwgated.toml"), "--log-level", "debug"});
    ASSERT_TRUE(gw.start(args)) << gw.log();
  }
  RunResult ctl(const PrivateBus& bus, std::vector<std::string> args) {
    args.insert(args.begin(), {LWGATECTL_PATH, "--bus", bus.address()});
    return run(args);
  }
  std::unique_ptr<Interactive> startSim(const std::string& ep) {
    auto sim = std::make_unique<Interactive>(
        dirA.path(), "sim-" + ep,
        std::vector<std::string>{LWGATE_SIM_PATH, "--server", gw.url(), "--ep", ep, "--sensor",
                                 "--lt", "300", "register", "stdin"});
    EXPECT_TRUE(sim->waitFor("register 2.01")) << sim->out() << sim->err() << gw.log();
    return sim;
  }
  // B's registrations of `endpoint` made over DTLS.
  std::int64_t upstreamRegistrations(const std::string& endpoint) {
    return queryInt(up.database(),
                    "SELECT count(*) FROM registrations r JOIN devices d ON d.id = r.device_id "
                    "WHERE r.transport = 'dtls' AND d.endpoint = '" +
                        endpoint + "'");
  }
  bool registeredUpstream(const std::string& endpoint) {
    return waitUntil([&] { return upstreamRegistrations(endpoint) == 1; }, 20s);
  }
  // A's `lwgatectl upstream` says the link is failing with `why`.
  bool failingWith(const std::string& why) {
    return waitUntil(
        [&] {
          RunResult r = ctl(busA, {"upstream", "--json"});
          return r.exitCode == 0 && r.out.find(why) != std::string::npos;
        },
        20s);
  }

  TempDir dirA;
  TempDir dirB;
  PrivateBus busA{dirA.path()};
  PrivateBus busB{dirB.path()};
  Lwgated gw{dirA.path()};  // A
  Lwgated up{dirB.path()};  // B
  std::uint16_t upstreamPort = 0;
  std::string uri;
};

TEST_F(BridgeDtlsE2E, DeviceKeysRegisterUpstreamOverDtlsAndTheServerReachesTheDevice) {
  const std::string hex = keyHex(kKeyText);
  startUpstream();
  ASSERT_EQ(ctl(busB, {"psk", "add", "gw-meter-1", "gw-meter-1", "--key-hex", hex}).exitCode, 0);
  startGateway("device");
  auto sim = startSim("meter-1");
  // No key for the device yet: the link fails and says what to do.
  ASSERT_TRUE(failingWith("no upstream PSK for this device")) << gw.log();
  EXPECT_EQ(upstreamRegistrations("gw-meter-1"), 0);

  // Its identity is its upstream endpoint name; the link tries again at once.
  RunResult add =
      ctl(busA, {"psk", "add", "--upstream", uri, "--endpoint", "meter-1", "--key-hex", hex});
  ASSERT_EQ(add.exitCode, 0) << add.err;
  ASSERT_TRUE(registeredUpstream("gw-meter-1")) << gw.log() << up.log();
  EXPECT_TRUE(up.waitForLog("TLS_PSK_WITH_AES_128_CCM_8")) << up.log();

  // B's Read goes through A's DTLS session to the device and back.
  RunResult read =
      ctl(busB, {"read", "gw-meter-1", "/3/0/9", "--wait", "--timeout", "20", "--json"});
  ASSERT_EQ(read.exitCode, 0) << read.out << read.err << gw.log();
  EXPECT_NE(read.out.find("\"state\":\"done\""), std::string::npos) << read.out;
  EXPECT_NE(read.out.find("\"code\":\"2.05\""), std::string::npos) << read.out;

  // Listed without the key; the key is nowhere in what an operator reads.
  RunResult list = ctl(busA, {"psk", "list", "--upstream", "--json"});
  ASSERT_EQ(list.exitCode, 0) << list.err;
  EXPECT_NE(list.out.find("\"endpoint\":\"meter-1\""), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\"identity\":null"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\"key_set\":true"), std::string::npos) << list.out;
  RunResult table = ctl(busA, {"psk", "list", "--upstream"});
  EXPECT_NE(table.out.find("(endpoint name)"), std::string::npos) << table.out;
  for (const RunResult& r : {add, list, table}) {
    EXPECT_EQ((r.out + r.err).find(hex), std::string::npos) << r.out << r.err;
  }
  EXPECT_EQ(gw.log().find(hex), std::string::npos);
  EXPECT_EQ(gw.log().find(kKeyText), std::string::npos);
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM upstream_psk_credentials"), 1);
}

TEST_F(BridgeDtlsE2E, AWrongKeyFailsTheHandshakeAndTheRightOneRecovers) {
  startUpstream();
  ASSERT_EQ(
      ctl(busB, {"psk", "add", "gw-meter-1", "gw-meter-1", "--key-hex", keyHex(kKeyText)}).exitCode,
      0);
  startGateway("device");
  ASSERT_EQ(ctl(busA, {"psk", "add", "--upstream", uri, "--endpoint", "meter-1", "--key-hex",
                       keyHex("WrongWrongWrong!")})
                .exitCode,
            0);
  auto sim = startSim("meter-1");
  ASSERT_TRUE(failingWith("DTLS handshake failed")) << gw.log();
  EXPECT_EQ(upstreamRegistrations("gw-meter-1"), 0);
  // Key rotation: the replaced key is used at once.
  ASSERT_EQ(ctl(busA, {"psk", "add", "--upstream", uri, "--endpoint", "meter-1", "--key-hex",
                       keyHex(kKeyText)})
                .exitCode,
            0);
  ASSERT_TRUE(registeredUpstream("gw-meter-1")) << gw.log() << up.log();
  RunResult servers = ctl(busA, {"upstream", "--json"});
  EXPECT_NE(servers.out.find("\"psk\":\"device\""), std::string::npos) << servers.out;
}

// The server restarts at once and has forgotten the DTLS session: the Update on the old session
// goes unanswered, and the link registers again from a new socket with a new handshake instead
// of sending on the dead session for ever. The server then reaches the device through it.
TEST_F(BridgeDtlsE2E, AnUpstreamRestartIsFollowedByANewHandshake) {
  startUpstream();
  ASSERT_EQ(
      ctl(busB, {"psk", "add", "gw-meter-1", "gw-meter-1", "--key-hex", keyHex(kKeyText)}).exitCode,
      0);
  startGateway("device", "lifetime = 6\nbackoff_min = 0.5\nbackoff_max = 2\n");
  ASSERT_EQ(ctl(busA, {"psk", "add", "--upstream", uri, "--endpoint", "meter-1", "--key-hex",
                       keyHex(kKeyText)})
                .exitCode,
            0);
  auto sim = startSim("meter-1");
  ASSERT_TRUE(registeredUpstream("gw-meter-1")) << gw.log() << up.log();
  up.kill9();
  auto args = busB.lwgatedArgs();
  args.insert(args.end(), {"--config", dirB.file("lwgated.toml")});
  ASSERT_TRUE(up.start(args)) << up.log();
  ASSERT_TRUE(up.waitForLog("LWG7001 DTLS session with 127.0.0.1", 20s)) << gw.log() << up.log();
  RunResult read =
      ctl(busB, {"read", "gw-meter-1", "/3/0/9", "--wait", "--timeout", "20", "--json"});
  ASSERT_EQ(read.exitCode, 0) << read.out << read.err << gw.log() << up.log();
  EXPECT_NE(read.out.find("\"code\":\"2.05\""), std::string::npos) << read.out;
}

TEST_F(BridgeDtlsE2E, OneGatewayKeyServesTheDevicesOfAServer) {
  startUpstream();
  ASSERT_EQ(
      ctl(busB, {"psk", "add", "site-7", "gw-meter-1", "--key-hex", keyHex(kKeyText)}).exitCode, 0);
  startGateway("gateway");
  // The gateway-wide key needs its identity; a server that is not a configured coaps:// one is
  // refused; nothing stored either time.
  RunResult noIdentity = ctl(busA, {"psk", "add", "--upstream", uri, "--key-hex", "01"});
  EXPECT_EQ(noIdentity.exitCode, 2) << noIdentity.err;
  RunResult unknown = ctl(
      busA, {"psk", "add", "--upstream", "coaps://elsewhere:5684", "site-7", "--key-hex", "01"});
  EXPECT_EQ(unknown.exitCode, 7) << unknown.err;
  EXPECT_NE(unknown.err.find("not a coaps:// [[upstream]] server"), std::string::npos)
      << unknown.err;
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM upstream_psk_credentials"), 0);

  auto sim = startSim("meter-1");
  ASSERT_TRUE(failingWith("no upstream PSK for this gateway")) << gw.log();
  ASSERT_EQ(ctl(busA, {"psk", "add", "--upstream", uri, "site-7", "--key-hex", keyHex(kKeyText)})
                .exitCode,
            0);
  ASSERT_TRUE(registeredUpstream("gw-meter-1")) << gw.log() << up.log();
  RunResult list = ctl(busA, {"psk", "list", "--upstream", "--json"});
  EXPECT_NE(list.out.find("\"endpoint\":\"\""), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("\"identity\":\"site-7\""), std::string::npos) << list.out;

  // At most [server] max_devices (2) + 1 keys per server; past it nothing is stored.
  for (const char* ep : {"meter-2", "meter-3"}) {
    ASSERT_EQ(
        ctl(busA, {"psk", "add", "--upstream", uri, "--endpoint", ep, "--key-hex", "01"}).exitCode,
        0);
  }
  RunResult full =
      ctl(busA, {"psk", "add", "--upstream", uri, "--endpoint", "meter-4", "--key-hex", "01"});
  EXPECT_EQ(full.exitCode, 7) << full.err;
  EXPECT_NE(full.err.find("full"), std::string::npos) << full.err;
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM upstream_psk_credentials"), 3);
  for (const char* ep : {"meter-2", "meter-3"}) {
    EXPECT_EQ(ctl(busA, {"psk", "remove", "--upstream", uri, "--endpoint", ep}).exitCode, 0);
  }

  // Removed: the session up keeps going; a new handshake would need a key again.
  EXPECT_EQ(ctl(busA, {"psk", "remove", "--upstream", uri}).exitCode, 0);
  EXPECT_EQ(ctl(busA, {"psk", "remove", "--upstream", uri}).exitCode, 4);
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM upstream_psk_credentials"), 0);
}

}  // namespace bridge_dtls_test
}  // namespace lwgate::e2e
