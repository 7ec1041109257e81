// The SMS binding end to end (CoAP carried in SMS), with the real lwgated and a real modem path:
//  - gammu's dummy driver: SMS dropped into its inbox directory as files. A CoAP Update by SMS
//    from a registered device's number wakes the sleeping device (its queued Read goes out over
//    UDP and completes); the same from an unknown number is stored, ignored and not answered.
//  - gammu's AT driver against the AT modem simulator on a pty (tests/modem/at_modem_sim.py):
//    a device on the [sms] allow list Registers by SMS and gets 2.01 back by SMS; a Read queued
//    for it goes out by SMS and the SMS answer the simulator delivers completes it. Malformed
//    CoAP by SMS is marked and never answered.
// The CoAP in and out of the SMS is written and read here with a small codec of the test's own
// (RFC 7252 section 3), independently of the gateway's.
#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "tests/e2e/harness.h"
#include "tests/support/sms_pdu.h"

namespace lwgate::e2e {
namespace {

namespace sms_binding_test {

using Bytes = std::vector<std::uint8_t>;
using Dict = std::map<std::string, sdbus::Variant>;

constexpr const char* kDevice = "+4915112345678";
constexpr const char* kStranger = "+4917099999999";
constexpr const char* kAllowed = "+4915187654321";

struct Coap {
  int type = 0;  // 0 CON, 1 NON, 2 ACK, 3 RST
  int code = 0;
  int messageId = 0;
  Bytes token;
  std::vector<std::pair<int, std::string>> options;  // in ascending number order
  std::string payload;

  std::vector<std::string> values(int number) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : options) {
      if (n == number) out.push_back(v);
    }
    return out;
  }
};

void putExtended(Bytes& out, std::size_t v, int& nibble) {
  if (v < 13) {
    nibble = static_cast<int>(v);
  } else if (v < 269) {
    nibble = 13;
    out.push_back(static_cast<std::uint8_t>(v - 13));
  } else {
    nibble = 14;
    out.push_back(static_cast<std::uint8_t>((v - 269) >> 8));
    out.push_back(static_cast<std::uint8_t>((v - 269) & 0xff));
  }
}

Bytes encode(const Coap& m) {
  Bytes out{static_cast<std::uint8_t>(0x40 | m.type << 4 | m.token.size()),
            static_cast<std::uint8_t>(m.code), static_cast<std::uint8_t>(m.messageId >> 8),
            static_cast<std::uint8_t>(m.messageId & 0xff)};
  out.insert(out.end(), m.token.begin(), m.token.end());
  int previous = 0;
  for (const auto& [number, value] : m.options) {
    Bytes ext;
    int deltaNibble = 0;
    int lengthNibble = 0;
    putExtended(ext, static_cast<std::size_t>(number - previous), deltaNibble);
    putExtended(ext, value.size(), lengthNibble);
    out.push_back(static_cast<std::uint8_t>(deltaNibble << 4 | lengthNibble));
    out.insert(out.end(), ext.begin(), ext.end());
    out.insert(out.end(), value.begin(), value.end());
    previous = number;
  }
  if (!m.payload.empty()) {
    out.push_back(0xff);
    out.insert(out.end(), m.payload.begin(), m.payload.end());
  }
  return out;
}

std::optional<Coap> decode(const Bytes& b) {
  if (b.size() < 4 || (b[0] >> 6) != 1 || (b[0] & 15) > 8) return std::nullopt;
  Coap m;
  m.type = (b[0] >> 4) & 3;
  m.code = b[1];
  m.messageId = b[2] << 8 | b[3];
  std::size_t at = 4 + (b[0] & 15);
  if (at > b.size()) return std::nullopt;
  m.token.assign(b.begin() + 4, b.begin() + static_cast<std::ptrdiff_t>(at));
  int number = 0;
  auto extended = [&](int nibble, std::size_t& v) {
    if (nibble < 13) {
      v = static_cast<std::size_t>(nibble);
    } else if (nibble == 13 && at < b.size()) {
      v = b[at++] + 13u;
    } else if (nibble == 14 && at + 1 < b.size()) {
      v = (std::size_t{b[at]} << 8 | b[at + 1]) + 269;
      at += 2;
    } else {
      return false;
    }
    return true;
  };
  while (at < b.size()) {
    const std::uint8_t first = b[at++];
    if (first == 0xff) {
      if (at == b.size()) return std::nullopt;
      m.payload.assign(b.begin() + static_cast<std::ptrdiff_t>(at), b.end());
      break;
    }
    std::size_t delta = 0;
    std::size_t length = 0;
    if (!extended(first >> 4, delta) || !extended(first & 15, length)) return std::nullopt;
    if (at + length > b.size()) return std::nullopt;
    number += static_cast<int>(delta);
    m.options.emplace_back(number,
                           std::string(b.begin() + static_cast<std::ptrdiff_t>(at),
                                       b.begin() + static_cast<std::ptrdiff_t>(at + length)));
    at += length;
  }
  return m;
}

std::string hex(const Bytes& b) {
  return lwgate::testing::toHex(b);
}

std::vector<std::string> lines(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// A CON Update of the registration at `location` (POST /rd/<location>).
Coap updateOf(const std::string& location, int messageId) {
  Coap m;
  m.type = 0;
  m.code = 0x02;
  m.messageId = messageId;
  m.token = {0x5a, 0x5b};
  m.options = {{11, "rd"}, {11, location}};
  return m;
}

class Client {
 public:
  explicit Client(const std::string& address)
      : connection_(sdbus::createSessionBusConnectionWithAddress(address)),
        gateway_(sdbus::createProxy(*connection_, "org.lwgate.Gateway1", "/org/lwgate/Gateway1")) {}
  std::uint64_t read(const std::string& endpoint, const std::string& path) {
    std::uint64_t id = 0;
    gateway_->callMethod("Read")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(endpoint, path, Dict{})
        .storeResultsTo(id);
    return id;
  }
  Dict request(std::uint64_t id) {
    Dict r;
    gateway_->callMethod("GetRequest")
        .onInterface("org.lwgate.Gateway1")
        .withArguments(id)
        .storeResultsTo(r);
    return r;
  }
  std::string state(std::uint64_t id) { return request(id)["state"].get<std::string>(); }

 private:
  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<sdbus::IProxy> gateway_;
};

// ---- gammu's dummy driver: SMS from files in its inbox directory ----

class SmsBindingDummyE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir.file("phone/sms/1"));
    writeFile(dir.file("gammurc"),
              "[gammu]\ndevice = " + dir.file("phone/") + "\nconnection = none\nmodel = dummy\n");
    writeFile(dir.file("lwgated.toml"),
              "[queue]\nawake_window = 1\n[modem]\nbackend = \"gammu\"\n"
              "gammu_config = \"" +
                  dir.file("gammurc") + "\"\npoll_interval = 1\n");
    auto args = bus.lwgatedArgs();
    args.insert(args.end(), {"--config", dir.file("lwgated.toml"), "--log-level", "debug"});
    ASSERT_TRUE(gw.start(args)) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG4001")) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG5000 modem connected", 30s)) << gw.log();
    client.emplace(bus.address());
  }

  // An 8-bit SMS in gammu's backup format, moved into the inbox whole (the modem thread polls
  // the directory every second and must never see half a file).
  void deliver(int n, const std::string& msisdn, const Bytes& data) {
    const std::string staged = dir.file("staged-" + std::to_string(n));
    writeFile(staged, "[SMSBackup000]\nNumber = \"" + msisdn +
                          "\"\nPDU = Deliver\nCoding = 8bit\nText00 = " + hex(data) + "\n");
    std::filesystem::rename(staged, dir.file("phone/sms/1/" + std::to_string(n)));
  }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Lwgated gw{dir.path()};
  std::optional<Client> client;
};

TEST_F(SmsBindingDummyE2E, AnUpdateBySmsWakesTheDeviceAndAnUnknownNumberIsIgnored) {
  // A queue-mode device with an SMS number registers over UDP and keeps serving its port, but
  // the gateway counts it asleep after the awake window (1 s). Its lifetime is short enough
  // for the regular Update to meet the Read's deadline: no trigger SMS.
  Background device(dir.path(), "sim");
  device.start({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "sms-dev", "--queue", "--sms",
                kDevice, "--lt", "3600", "register", "wait=120"});
  ASSERT_TRUE(device.waitForOut("location=", 20s)) << device.out() << device.err();
  std::smatch match;
  const std::string out = device.out();
  ASSERT_TRUE(std::regex_search(out, match, std::regex("location=(?:rd/)?([a-z0-9]+)"))) << out;
  const std::string location = match[1];
  ASSERT_TRUE(gw.waitForLog("LWG3007 sms-dev is asleep")) << gw.log();
  const auto id = client->read("sms-dev", "/3/0/0");
  EXPECT_EQ(client->state(id), "queued");

  // The Update from a number that is no device's: stored, ignored, never answered; the device
  // stays asleep.
  deliver(1, kStranger, encode(updateOf(location, 0x0101)));
  ASSERT_TRUE(gw.waitForLog("LWG5020 SMS 1 from " + std::string(kStranger), 30s)) << gw.log();
  EXPECT_NE(gw.log().find("ignored: not a known device's number"), std::string::npos);
  EXPECT_TRUE(waitUntil([&] { return !std::filesystem::exists(dir.file("phone/sms/1/1")); }))
      << "not deleted from the modem";
  EXPECT_EQ(queryInt(gw.database(),
                     "SELECT count(*) FROM sms_log WHERE direction = 'in' AND "
                     "status = 'ignored' AND device_id IS NULL AND msisdn = '" +
                         std::string(kStranger) + "'"),
            1);
  EXPECT_EQ(queryInt(gw.database(), "SELECT count(*) FROM sms_log WHERE direction = 'out'"), 0);
  EXPECT_EQ(gw.log().find("LWG5302"), std::string::npos) << gw.log();
  EXPECT_EQ(client->state(id), "queued");

  // The same Update from the device's number: handled like one over UDP (2.04, answered by
  // SMS), the device is awake, and the Read goes out over UDP to where it registered from.
  deliver(2, kDevice, encode(updateOf(location, 0x0102)));
  ASSERT_TRUE(waitUntil([&] { return client->state(id) == "done"; }, 30s))
      << gw.log() << device.out();
  EXPECT_EQ(client->request(id)["code"].get<std::string>(), "2.05");
  EXPECT_TRUE(gw.waitForLog("LWG5021 SMS 2 from " + std::string(kDevice) + " (sms-dev"))
      << gw.log();
  EXPECT_NE(gw.log().find("LWG3007 sms-dev is awake"), std::string::npos) << gw.log();
  // The answer went by SMS (ACK 2.04), logged as CoAP and for the device.
  EXPECT_TRUE(
      gw.waitForLog("LWG5302 answer ACK 2.04 mid=258 token=5a5b by SMS to " + std::string(kDevice)))
      << gw.log();
  EXPECT_EQ(queryInt(gw.database(),
                     "SELECT count(*) FROM sms_log s JOIN devices d ON d.id = s.device_id WHERE "
                     "d.endpoint = 'sms-dev' AND s.direction = 'out' AND s.kind = 'coap'"),
            1);
  // The registration keeps its UDP address: an Update by SMS carries none.
  EXPECT_EQ(queryText(gw.database(),
                      "SELECT r.transport FROM registrations r JOIN devices d ON "
                      "d.id = r.device_id WHERE d.endpoint = 'sms-dev'"),
            "udp");
}

// ---- gammu's AT driver against the AT modem simulator ----

class SmsBindingAtE2E : public ::testing::Test {
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
              "[queue]\nawake_window = 1\n[modem]\nbackend = \"gammu\"\ngammu_config = \"" +
                  dir.file("gammurc") + "\"\npoll_interval = 1\n[sms]\nallow = [\"" + kAllowed +
                  "\"]\n");
    auto args = bus.lwgatedArgs();
    args.insert(args.end(), {"--config", dir.file("lwgated.toml"), "--log-level", "debug"});
    ASSERT_TRUE(gw.start(args)) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG4001")) << gw.log();
    ASSERT_TRUE(gw.waitForLog("LWG5000 modem connected", 30s)) << gw.log();
    client.emplace(bus.address());
  }

  void deliver(const std::string& msisdn, const Bytes& coap) {
    writeFile(dir.file("control"),
              "deliver " + lwgate::testing::deliverPdu(msisdn, {}, coap) + "\n");
  }
  std::vector<std::string> pdus() const { return lines(readFile(dir.file("pdus"))); }
  // The CoAP message in the n-th SMS the modem was given, to `msisdn`.
  std::optional<Coap> sentCoap(std::size_t n, const std::string& msisdn) {
    auto all = pdus();
    if (all.size() <= n) return std::nullopt;
    auto pdu = lwgate::testing::decodeSubmit(all[n]);
    EXPECT_TRUE(pdu) << all[n];
    if (!pdu) return std::nullopt;
    EXPECT_EQ(pdu->destination, msisdn);
    EXPECT_EQ(pdu->dcs, 0x04);  // 8-bit data
    EXPECT_FALSE(pdu->udhi);    // fits in one SMS
    auto coap = decode(pdu->data);
    EXPECT_TRUE(coap) << hex(pdu->data);
    return coap;
  }

  TempDir dir;
  PrivateBus bus{dir.path()};
  Background modem{dir.path(), "at-modem"};
  Lwgated gw{dir.path()};
  std::optional<Client> client;
};

TEST_F(SmsBindingAtE2E, ADeviceRegistersBySmsAndItsReadGoesBySms) {
  // Garbage first: marked in the SMS log, never answered.
  deliver(kAllowed, {0x40, 0x02, 0x00, 0x01, 0xff});
  ASSERT_TRUE(gw.waitForLog("LWG5301 SMS 1 from " + std::string(kAllowed), 30s)) << gw.log();
  EXPECT_NE(gw.log().find("payload marker with no payload"), std::string::npos);
  EXPECT_EQ(queryInt(gw.database(),
                     "SELECT count(*) FROM sms_log WHERE id = 1 AND status = "
                     "'malformed' AND direction = 'in'"),
            1);

  // Register by SMS: CON POST /rd?ep=sms-reg&lt=3600&b=S with its object links.
  Coap reg;
  reg.type = 0;
  reg.code = 0x02;
  reg.messageId = 0x1234;
  reg.token = {0xca, 0xfe, 0x01};
  reg.options = {{11, "rd"},         {12, std::string(1, '\x28')},
                 {15, "ep=sms-reg"}, {15, "lt=3600"},
                 {15, "lwm2m=1.1"},  {15, "b=S"}};
  reg.payload = "</1/0>,</3/0>";
  deliver(kAllowed, encode(reg));

  // Its 2.01 comes back by SMS: the piggybacked ACK of the Register, Location-Path rd/<id>.
  ASSERT_TRUE(waitUntil([&] { return !pdus().empty(); }, 30s)) << gw.log() << modem.out();
  auto created = sentCoap(0, kAllowed);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->type, 2);
  EXPECT_EQ(created->code, 0x41);
  EXPECT_EQ(created->messageId, 0x1234);
  EXPECT_EQ(created->token, reg.token);
  const auto location = created->values(8);
  ASSERT_EQ(location.size(), 2u);
  EXPECT_EQ(location[0], "rd");
  EXPECT_EQ(queryText(gw.database(),
                      "SELECT r.transport || ' ' || r.address || ' ' || "
                      "r.location FROM registrations r JOIN devices d ON d.id = "
                      "r.device_id WHERE d.endpoint = 'sms-reg'"),
            "sms " + std::string(kAllowed) + " " + location[1]);

  // A Read for it goes out by SMS (binding S, not queue mode: reachable at once).
  const auto id = client->read("sms-reg", "/3/0/0");
  ASSERT_TRUE(waitUntil([&] { return pdus().size() >= 2; }, 30s)) << gw.log() << modem.out();
  auto get = sentCoap(1, kAllowed);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->type, 0);     // CON
  EXPECT_EQ(get->code, 0x01);  // GET
  EXPECT_EQ(get->values(11), (std::vector<std::string>{"3", "0", "0"}));
  EXPECT_FALSE(get->token.empty());
  ASSERT_TRUE(waitUntil([&] { return client->state(id) == "in_flight"; }, 10s)) << gw.log();
  // Logged for the request; "sent" once the modem gave it a message reference.
  EXPECT_TRUE(waitUntil([&] {
    return queryInt(gw.database(),
                    "SELECT count(*) FROM sms_log WHERE direction = 'out' AND "
                    "kind = 'coap' AND status = 'sent' AND request_id = " +
                        std::to_string(id)) == 1;
  })) << gw.log();

  // The device answers by SMS: the piggybacked 2.05 with its Message ID and token.
  Coap content;
  content.type = 2;
  content.code = 0x45;
  content.messageId = get->messageId;
  content.token = get->token;
  content.options = {{12, ""}};  // text/plain (Content-Format 0: no bytes)
  content.payload = "lwgate";
  deliver(kAllowed, encode(content));
  ASSERT_TRUE(waitUntil([&] { return client->state(id) == "done"; }, 30s)) << gw.log();
  auto done = client->request(id);
  EXPECT_EQ(done["code"].get<std::string>(), "2.05");
  EXPECT_NE(done["json"].get<std::string>().find("lwgate"), std::string::npos)
      << done["json"].get<std::string>();
  // An ACK is not answered: still two SMS sent.
  EXPECT_EQ(pdus().size(), 2u);
  EXPECT_EQ(queryInt(gw.database(),
                     "SELECT count(*) FROM sms_log WHERE direction = 'in' AND status = 'received'"),
            2);
}

// A queue-mode device that only has SMS (b=SQ): it registers by SMS, falls asleep, is woken by
// a trigger SMS to the number it registered from, sends its Update by SMS, and its queued Read
// goes by SMS while it is awake.
TEST_F(SmsBindingAtE2E, ASleepingSmsOnlyDeviceIsTriggeredUpdatesBySmsAndGetsItsRead) {
  Coap reg;
  reg.type = 0;
  reg.code = 0x02;
  reg.messageId = 0x2000;
  reg.token = {0x01};
  reg.options = {
      {11, "rd"}, {12, std::string(1, '\x28')}, {15, "ep=sms-q"}, {15, "lt=200000"}, {15, "b=SQ"}};
  reg.payload = "</1/0>,</3/0>";
  deliver(kAllowed, encode(reg));
  ASSERT_TRUE(waitUntil([&] { return !pdus().empty(); }, 30s)) << gw.log() << modem.out();
  auto created = sentCoap(0, kAllowed);
  ASSERT_TRUE(created);
  ASSERT_EQ(created->code, 0x41);
  const auto location = created->values(8);
  ASSERT_EQ(location.size(), 2u);
  ASSERT_TRUE(gw.waitForLog("LWG3007 sms-q is asleep")) << gw.log();

  // Asleep with a Read due before its next regular Update: one trigger, to the number it
  // registered from (it gave no sms=).
  const auto id = client->read("sms-q", "/3/0/0");
  ASSERT_TRUE(waitUntil([&] { return pdus().size() >= 2; }, 30s)) << gw.log() << modem.out();
  auto trigger = sentCoap(1, kAllowed);
  ASSERT_TRUE(trigger);
  EXPECT_EQ(trigger->type, 0);
  EXPECT_EQ(trigger->code, 0x02);
  EXPECT_EQ(trigger->values(11), (std::vector<std::string>{"1", "0", "8"}));
  EXPECT_EQ(client->state(id), "queued");

  // Its Update by SMS: answered 2.04 by SMS, and the Read follows by SMS.
  deliver(kAllowed, encode(updateOf(location[1], 0x2001)));
  ASSERT_TRUE(waitUntil([&] { return pdus().size() >= 4; }, 30s)) << gw.log() << modem.out();
  auto changed = sentCoap(2, kAllowed);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->type, 2);
  EXPECT_EQ(changed->code, 0x44);
  EXPECT_EQ(changed->messageId, 0x2001);
  auto get = sentCoap(3, kAllowed);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->type, 0);
  EXPECT_EQ(get->code, 0x01);
  EXPECT_EQ(get->values(11), (std::vector<std::string>{"3", "0", "0"}));

  Coap content;
  content.type = 2;
  content.code = 0x45;
  content.messageId = get->messageId;
  content.token = get->token;
  content.options = {{12, ""}};
  content.payload = "lwgate";
  deliver(kAllowed, encode(content));
  ASSERT_TRUE(waitUntil([&] { return client->state(id) == "done"; }, 30s)) << gw.log();
  EXPECT_EQ(client->request(id)["code"].get<std::string>(), "2.05");
  // One trigger and three CoAP SMS, all in the log.
  EXPECT_EQ(queryInt(gw.database(),
                     "SELECT count(*) FROM sms_log WHERE direction = 'out' AND "
                     "kind = 'trigger'"),
            1);
  EXPECT_EQ(queryInt(gw.database(),
                     "SELECT count(*) FROM sms_log WHERE direction = 'out' AND kind = 'coap'"),
            3);
}

}  // namespace sms_binding_test

}  // namespace
}  // namespace lwgate::e2e
