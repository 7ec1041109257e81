// lwgatectl's output: tables, blocks, and the JSON keys scripts rely on (cli/format.h).
#include "cli/format.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace lwgate::cli {
namespace {

using Json = nlohmann::json;

class Utc : public ::testing::Environment {
 public:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};
const auto* const kUtc = ::testing::AddGlobalTestEnvironment(new Utc);

constexpr std::uint64_t kNow = 1700000000000;  // 2023-11-14 22:13:20 UTC

Dict device() {
  return Dict{{"Endpoint", std::string("sim-1")},
              {"Location", std::string("rd/abc")},
              {"Address", std::string("udp://127.0.0.1:5555")},
              {"Binding", std::string("UQ")},
              {"QueueMode", true},
              {"SmsNumber", std::string("")},
              {"Lifetime", std::uint64_t{300}},
              {"LwM2MVersion", std::string("1.1")},
              {"RegisteredAt", std::uint64_t{kNow - 65000}},
              {"LastSeen", std::uint64_t{kNow - 3000}},
              {"Awake", false},
              {"QueuedRequests", std::uint64_t{2}},
              {"Objects", std::vector<std::string>{"</1/0>", "</3/0>"}}};
}

TEST(Table, AlignsColumnsAndHonoursLegend) {
  Table t({"A", "LONGER", "C"});
  t.addRow({"xyz", "1", ""});
  t.addRow({"q", "22", "end"});
  EXPECT_EQ(t.render(true), "A   LONGER C\nxyz 1\nq   22     end\n");
  EXPECT_EQ(t.render(false), "xyz 1\nq   22 end\n");
  EXPECT_EQ(t.rows(), 2u);
}

TEST(Table, WidthCountsCodePointsAndCellsAreSanitized) {
  Table t({"N", "V"});
  t.addRow({"äö", "x"});
  t.addRow({"a\nb", "y"});
  EXPECT_EQ(t.render(true), "N      V\näö     x\na\\x0ab y\n");
}

TEST(Block, RightAlignsKeys) {
  EXPECT_EQ(renderBlock({{"Id", "7"}, {"Endpoint", "e"}, {"Empty", ""}}),
            "      Id: 7\nEndpoint: e\n   Empty: -\n");
}

TEST(Sanitize, EscapesControlsAndBrokenUtf8) {
  EXPECT_EQ(sanitize("plain ascii"), "plain ascii");
  EXPECT_EQ(sanitize("grüße €"), "grüße €");
  EXPECT_EQ(sanitize("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(sanitize("a\rb\x7f"), "a\\x0db\\x7f");
  EXPECT_EQ(sanitize("\xc2\x9b"), "\\xc2\\x9b");  // C1 CSI
  EXPECT_EQ(sanitize("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(sanitize("\xc0\xaf"), "\\xc0\\xaf");  // overlong '/'
  EXPECT_EQ(sanitize("\xe2\x82"), "\\xe2\\x82");  // truncated
}

TEST(Durations, Compact) {
  EXPECT_EQ(formatDuration(0), "0s");
  EXPECT_EQ(formatDuration(59), "59s");
  EXPECT_EQ(formatDuration(65), "1min 5s");
  EXPECT_EQ(formatDuration(3600), "1h");
  EXPECT_EQ(formatDuration(7380), "2h 3min");
  EXPECT_EQ(formatDuration(4 * 86400 + 5 * 3600 + 7), "4d 5h");
  EXPECT_EQ(formatAgo(kNow - 3000, kNow), "3s ago");
  EXPECT_EQ(formatAgo(kNow + 5000, kNow), "in 5s");
  EXPECT_EQ(formatAgo(0, kNow), "-");
  EXPECT_EQ(formatTimestamp(kNow), "2023-11-14 22:13:20 UTC");
  EXPECT_EQ(formatTimestamp(0), "-");
}

TEST(CoapCodes, NamesAndErrors) {
  EXPECT_EQ(coapCodeName("2.05"), "Content");
  EXPECT_EQ(coapCodeName("4.04"), "Not Found");
  EXPECT_EQ(coapCodeName("9.99"), "");
  EXPECT_TRUE(isErrorCode("4.00"));
  EXPECT_TRUE(isErrorCode("5.03"));
  EXPECT_FALSE(isErrorCode("2.04"));
  EXPECT_FALSE(isErrorCode(""));
}

TEST(Status, JsonKeysAndBlock) {
  Dict p{{"Version", std::string("0.1.0")},
         {"Uptime", std::uint64_t{3725}},
         {"DeviceCount", std::uint64_t{3}},
         {"QueuedRequests", std::uint64_t{4}},
         {"InFlightRequests", std::uint64_t{1}},
         {"Listen", std::vector<std::string>{"coap://127.0.0.1:5683"}},
         {"ModemState", std::string("none")}};
  EXPECT_EQ(statusJson(p), Json::parse(R"({"version":"0.1.0","uptime":3725,"devices":3,
      "queued":4,"in_flight":1,"listen":["coap://127.0.0.1:5683"],"modem":"none",
      "modem_sim":null,"modem_network":null,"modem_signal":null,"modem_model":null,
      "modem_error":null})"));
  std::string block = renderBlock(statusBlock(p));
  EXPECT_NE(block.find("         Uptime: 1h 2min\n"), std::string::npos) << block;
  EXPECT_NE(block.find("Queued requests: 4\n"), std::string::npos) << block;
  EXPECT_EQ(block.find("Signal"), std::string::npos) << "no modem, no modem details";
  // Missing properties are null, never missing keys.
  Json empty = statusJson({});
  EXPECT_EQ(empty.size(), 12u);
  for (const auto& [key, value] : empty.items()) EXPECT_TRUE(value.is_null()) << key;
}

TEST(Status, ModemDetailsWhenThereIsAModem) {
  Dict p{{"ModemState", std::string("connected")},    {"ModemSim", std::string("ready")},
         {"ModemNetwork", std::string("roaming")},    {"ModemSignal", std::int64_t{71}},
         {"ModemModel", std::string("Quectel EC25")}, {"ModemError", std::string("")}};
  std::string block = renderBlock(statusBlock(p));
  EXPECT_NE(block.find("    Signal: 71%\n"), std::string::npos) << block;
  EXPECT_NE(block.find("   Network: roaming\n"), std::string::npos) << block;
  EXPECT_EQ(block.find("Modem error"), std::string::npos) << block;
  EXPECT_EQ(statusJson(p)["modem_signal"], 71);
  p["ModemSignal"] = std::int64_t{-1};  // unknown
  EXPECT_TRUE(statusJson(p)["modem_signal"].is_null());
  EXPECT_NE(renderBlock(statusBlock(p)).find("Signal: -\n"), std::string::npos);
}

TEST(Modem, JsonAndBlock) {
  Dict p{{"ModemState", std::string("connected")},    {"ModemSim", std::string("ready")},
         {"ModemNetwork", std::string("home")},       {"ModemSignal", std::int64_t{55}},
         {"ModemModel", std::string("Quectel EC25")}, {"ModemError", std::string("")}};
  EXPECT_EQ(modemJson(p), Json::parse(R"({"state":"connected","sim":"ready","network":"home",
      "signal":55,"model":"Quectel EC25","error":""})"));
  std::string block = renderBlock(modemBlock(p));
  EXPECT_NE(block.find("  State: connected\n"), std::string::npos) << block;
  EXPECT_NE(block.find(" Signal: 55%\n"), std::string::npos) << block;
  EXPECT_NE(block.find("  Error: -\n"), std::string::npos) << block;
  Dict none{{"ModemState", std::string("none")}, {"ModemSignal", std::int64_t{-1}}};
  EXPECT_TRUE(modemJson(none)["signal"].is_null());
  EXPECT_NE(renderBlock(modemBlock(none)).find("State: none (no modem configured"),
            std::string::npos);
  Json empty = modemJson({});
  EXPECT_EQ(empty.size(), 6u);
  for (const auto& [key, value] : empty.items()) EXPECT_TRUE(value.is_null()) << key;
}

TEST(Sms, JsonAndTable) {
  Dict sent{{"id", std::uint64_t{7}},
            {"time", std::uint64_t{kNow}},
            {"updated", std::uint64_t{kNow + 1500}},
            {"direction", std::string("out")},
            {"endpoint", std::string("sim-1")},
            {"number", std::string("+4915112345678")},
            {"kind", std::string("trigger")},
            {"request", std::uint64_t{42}},
            {"parts", std::uint64_t{1}},
            {"status", std::string("delivered")},
            {"reference", std::uint64_t{3}},
            {"detail", std::string("TP-ST 0")}};
  Dict ignored{{"id", std::uint64_t{8}},
               {"time", std::uint64_t{kNow + 60000}},
               {"updated", std::uint64_t{kNow + 60000}},
               {"direction", std::string("in")},
               {"endpoint", std::string("")},
               {"number", std::string("+999")},
               {"kind", std::string("coap")},
               {"parts", std::uint64_t{2}},
               {"status", std::string("ignored")},
               {"detail", std::string("not a known device's number")}};
  EXPECT_EQ(smsJson(sent), Json::parse(R"({"id":7,"time":1700000000000,"updated":1700000001500,
      "direction":"out","endpoint":"sim-1","number":"+4915112345678","kind":"trigger",
      "request":42,"parts":1,"status":"delivered","reference":3,"detail":"TP-ST 0"})"));
  Json in = smsJson(ignored);
  EXPECT_EQ(in.size(), 12u);
  EXPECT_TRUE(in["endpoint"].is_null());
  EXPECT_TRUE(in["request"].is_null());
  EXPECT_TRUE(in["reference"].is_null());
  EXPECT_EQ(
      smsTable({sent, ignored}).render(true),
      "ID TIME                    DIR ENDPOINT NUMBER         KIND    REQUEST PARTS STATUS    "
      "REF DETAIL\n"
      "7  2023-11-14 22:13:20 UTC out sim-1    +4915112345678 trigger 42      1     delivered "
      "3   TP-ST 0\n"
      "8  2023-11-14 22:14:20 UTC in  -        +999           coap    -       2     ignored   "
      "-   not a known device's number\n");
}

TEST(Devices, JsonHasFixedKeys) {
  Json j = deviceJson("/org/lwgate/Gateway1/device/sim_2d1", device());
  EXPECT_EQ(j,
            Json::parse(R"({"endpoint":"sim-1","object_path":"/org/lwgate/Gateway1/device/sim_2d1",
      "location":"rd/abc","address":"udp://127.0.0.1:5555","binding":"UQ","queue_mode":true,
      "sms_number":"","lifetime":300,"lwm2m_version":"1.1","registered_at":1699999935000,
      "last_seen":1699999997000,"awake":false,"queued":2,"objects":["</1/0>","</3/0>"]})"));
  Json partial = deviceJson("/x", {{"Endpoint", std::string("e")}});
  EXPECT_EQ(partial.size(), j.size());
  EXPECT_TRUE(partial["awake"].is_null());
  EXPECT_TRUE(partial["objects"].is_null());
}

TEST(Devices, TableAndBlock) {
  Dict other = device();
  other["Endpoint"] = std::string("b");
  other["QueueMode"] = false;
  other["Awake"] = true;
  other.erase("LastSeen");
  EXPECT_EQ(deviceTable({device(), other}, kNow).render(true),
            "ENDPOINT ADDRESS              BINDING QUEUE-MODE AWAKE QUEUED LAST-SEEN\n"
            "sim-1    udp://127.0.0.1:5555 UQ      yes        no    2      3s ago\n"
            "b        udp://127.0.0.1:5555 UQ      no         yes   2      -\n");
  std::string block = renderBlock(deviceBlock(device(), kNow));
  EXPECT_NE(block.find("   Registered: 2023-11-14 22:12:15 UTC (1min 5s ago)\n"), std::string::npos)
      << block;
  EXPECT_NE(block.find("   SMS number: -\n"), std::string::npos) << block;
  EXPECT_NE(block.find("      Objects: </1/0> </3/0>\n"), std::string::npos) << block;
  EXPECT_NE(block.find("     Lifetime: 300s\n"), std::string::npos) << block;
}

TEST(Settings, JsonAndBlock) {
  Dict set{{"awake_window", 30.5}, {"sms_number", std::string("+49151")}};
  EXPECT_EQ(settingsJson("ep", set), Json::parse(R"({"endpoint":"ep","awake_window":30.5,
      "sms_number":"+49151","server_instance":null})"));
  EXPECT_EQ(settingsJson("ep", {{"awake_window", std::uint64_t{30}}})["awake_window"], 30);
  EXPECT_NE(renderBlock(settingsBlock("ep", {{"awake_window", 30.0}})).find("window: 30s\n"),
            std::string::npos);
  EXPECT_EQ(renderBlock(settingsBlock("ep", set)),
            "       Endpoint: ep\n"
            "   Awake window: 30.5s\n"
            "     SMS number: +49151\n"
            "Server instance: - (from the object links)\n");
}

Dict doneRead() {
  return Dict{{"id", std::uint64_t{42}},
              {"endpoint", std::string("sim-1")},
              {"operation", std::string("read")},
              {"path", std::string("/3/0")},
              {"state", std::string("done")},
              {"created", std::uint64_t{kNow}},
              {"attempts", std::uint64_t{1}},
              {"sent", std::uint64_t{kNow + 10}},
              {"finished", std::uint64_t{kNow + 20}},
              {"code", std::string("2.05")},
              {"payload", Bytes{0xc1, 0x00}},
              {"format", std::uint64_t{11542}},
              {"json", std::string(R"([{"path":"/3/0/0","type":"string","value":"Acme"}])")}};
}

TEST(Requests, JsonHasFixedKeysAndParsedResult) {
  Json j = requestJson(doneRead());
  EXPECT_EQ(j, Json::parse(R"({"id":42,"endpoint":"sim-1","operation":"read","path":"/3/0",
      "state":"done","code":"2.05","reason":null,"created":1700000000000,"deadline":null,
      "sent":1700000000010,"finished":1700000000020,"attempts":1,"urgent":null,"idempotency_key":null,
      "format":11542,"payload":"wQA=","result":[{"path":"/3/0/0","type":"string","value":"Acme"}],
      "decode_error":null})"));
  Json queued = requestJson({{"id", std::uint64_t{1}}, {"state", std::string("queued")}});
  EXPECT_EQ(queued.size(), j.size());
  EXPECT_TRUE(queued["result"].is_null());
  // Link-format answers are JSON strings; text that is not JSON stays a string.
  EXPECT_EQ(parseResultJson("\"</3/0>\""), Json("</3/0>"));
  EXPECT_EQ(parseResultJson(""), Json(nullptr));
  EXPECT_EQ(parseResultJson("not json"), Json("not json"));
}

TEST(Requests, SuccessAndFailureMessages) {
  EXPECT_TRUE(requestSucceeded(doneRead()));
  Dict notFound = doneRead();
  notFound["code"] = std::string("4.04");
  EXPECT_FALSE(requestSucceeded(notFound));
  EXPECT_EQ(requestFailureMessage(notFound), "request 42 done: 4.04 Not Found");
  Dict failed{{"id", std::uint64_t{7}},
              {"state", std::string("failed")},
              {"code", std::string("")},
              {"reason", std::string("no answer after 5 attempts")}};
  EXPECT_FALSE(requestSucceeded(failed));
  EXPECT_EQ(requestFailureMessage(failed), "request 7 failed: no answer after 5 attempts");
  EXPECT_EQ(requestFailureMessage({{"id", std::uint64_t{8}}, {"state", std::string("expired")}}),
            "request 8 expired");
}

TEST(Requests, TableAndBlock) {
  EXPECT_EQ(requestsTable({doneRead()}).render(true),
            "ID ENDPOINT OPERATION PATH STATE CODE CREATED\n"
            "42 sim-1    read      /3/0 done  2.05 2023-11-14 22:13:20 UTC\n");
  std::string block = renderBlock(requestBlock(doneRead()));
  EXPECT_NE(block.find("     Code: 2.05 Content\n"), std::string::npos) << block;
  EXPECT_NE(block.find("   Format: 11542 tlv\n"), std::string::npos) << block;
  EXPECT_NE(block.find("  Payload: 2 bytes\n"), std::string::npos) << block;
  EXPECT_EQ(block.find("Reason"), std::string::npos) << block;
}

TEST(Results, RecordsAsTable) {
  Json records = Json::parse(R"([
      {"path":"/3/0/0","type":"string","value":"Acme"},
      {"path":"/3/0/9","type":"integer","value":95},
      {"path":"/5/0/0","type":"opaque","value":"AP8Q"},
      {"path":"/3/0/13","type":"time","value":1700000000},
      {"path":"/3/0/99","type":"boolean","value":true},
      {"path":"/3/0/98","type":"objlnk","value":"3:0"},
      {"path":"/3/0/97","type":"float","value":1.5}])");
  EXPECT_EQ(renderResult(records, true),
            "PATH    TYPE    VALUE\n"
            "/3/0/0  string  Acme\n"
            "/3/0/9  integer 95\n"
            "/5/0/0  opaque  00ff10\n"
            "/3/0/13 time    1700000000 (2023-11-14 22:13:20 UTC)\n"
            "/3/0/99 boolean true\n"
            "/3/0/98 objlnk  3:0\n"
            "/3/0/97 float   1.5\n");
  EXPECT_EQ(renderResult(Json::parse(R"([{"path":"/3/0/0","type":"string","value":"x"}])"), false),
            "/3/0/0 string x\n");
}

TEST(Results, LinkFormatOneLinkPerLine) {
  EXPECT_EQ(renderResult(Json("</3/0>;pmin=10,</3/0/1>,</3/0/2>;title=\"a,b\""), true),
            "</3/0>;pmin=10\n</3/0/1>\n</3/0/2>;title=\"a,b\"\n");
  EXPECT_EQ(renderResult(Json("plain text"), true), "plain text\n");
  EXPECT_EQ(renderResult(Json(nullptr), true), "");
}

TEST(Observations, JsonAndTable) {
  Dict o{{"id", std::uint64_t{3}},
         {"endpoint", std::string("sensor")},
         {"path", std::string("/3303/0/5700")},
         {"attributes", std::string("pmin=10")},
         {"request", std::uint64_t{17}},
         {"created", std::uint64_t{kNow}}};
  EXPECT_EQ(observationJson(o), Json::parse(R"({"id":3,"endpoint":"sensor","path":"/3303/0/5700",
      "attributes":"pmin=10","format":null,"request":17,"created":1700000000000,"last_seq":null,
      "last_notification":null})"));
  EXPECT_EQ(observationsTable({o}).render(false),
            "3 sensor /3303/0/5700 pmin=10 2023-11-14 22:13:20 UTC -\n");
}

TEST(Notifications, JsonTableAndOneLineValues) {
  Dict n{{"id", std::uint64_t{9}},
         {"kind", std::string("notify")},
         {"endpoint", std::string("sensor")},
         {"path", std::string("/3303/0/5700")},
         {"observation", std::uint64_t{3}},
         {"observe_seq", std::uint64_t{12}},
         {"received", std::uint64_t{kNow}},
         {"format", std::uint64_t{110}},
         {"payload", Bytes{'x'}},
         {"json", std::string(R"([{"path":"/3303/0/5700","type":"float","value":21.5}])")}};
  Json j = notificationJson(n);
  EXPECT_EQ(j["result"][0]["value"], 21.5);
  EXPECT_EQ(j["payload"], "eA==");
  EXPECT_TRUE(j["decode_error"].is_null());
  EXPECT_EQ(j["kind"], "notify");
  EXPECT_EQ(j.size(), 11u);
  EXPECT_EQ(notificationsTable({n}).render(true),
            "ID KIND   PATH         RECEIVED                SEQ VALUE\n"
            "9  notify /3303/0/5700 2023-11-14 22:13:20 UTC 12  21.5\n");
  // A Send (POST /dp): no path, observation or sequence number; its records name the paths.
  Dict send{{"id", std::uint64_t{10}},
            {"kind", std::string("send")},
            {"endpoint", std::string("sensor")},
            {"path", std::string("")},
            {"received", std::uint64_t{kNow}},
            {"format", std::uint64_t{110}},
            {"payload", Bytes{'y'}},
            {"json", std::string(R"([{"path":"/3/0/9","type":"integer","value":95}])")}};
  Json s = notificationJson(send);
  EXPECT_EQ(s["kind"], "send");
  EXPECT_TRUE(s["path"].is_null());
  EXPECT_TRUE(s["observation"].is_null());
  EXPECT_EQ(s["result"][0]["path"], "/3/0/9");
  EXPECT_EQ(notificationsTable({send}).render(false), "10 send - 2023-11-14 22:13:20 UTC - 95\n");
  Dict broken = n;
  broken["json"] = std::string("");
  broken["decode_error"] = std::string("bad CBOR");
  EXPECT_NE(notificationsTable({broken}).render(false).find("(not decoded: bad CBOR)"),
            std::string::npos);
  EXPECT_EQ(resultLine(Json::parse(R"([{"path":"/3/0/0","type":"string","value":"Acme"},
      {"path":"/3/0/9","type":"integer","value":95}])")),
            "/3/0/0=Acme /3/0/9=95");
  EXPECT_EQ(resultLine(Json("</3/0>")), "</3/0>");
  EXPECT_EQ(resultLine(Json(nullptr)), "");
}

TEST(Events, LineAndJson) {
  Event completed{"RequestCompleted",
                  {{"id", std::uint64_t{42}},
                   {"endpoint", std::string("sim-1")},
                   {"state", std::string("done")},
                   {"code", std::string("2.05")},
                   {"reason", std::string("")},
                   {"json", std::string(R"([{"path":"/1/0/1","type":"integer","value":300}])")},
                   {"payload", Bytes{'3', '0', '0'}},
                   {"format", std::uint64_t{0}}}};
  EXPECT_EQ(
      eventLine(completed, kNow + 123),
      "22:13:20.123 RequestCompleted id=42 endpoint=sim-1 state=done code=2.05 reason=\"\" "
      "json=\"[{\\\"path\\\":\\\"/1/0/1\\\",\\\"type\\\":\\\"integer\\\",\\\"value\\\":300}]\" "
      "payload=333030 format=0");
  EXPECT_EQ(eventJson(completed, kNow), Json::parse(R"({"signal":"RequestCompleted",
      "time":1700000000000,"id":42,"endpoint":"sim-1","state":"done","code":"2.05","reason":"",
      "result":[{"path":"/1/0/1","type":"integer","value":300}],"payload":"MzAw","format":0})"));
  Event added{"InterfacesAdded",
              {{"object_path", std::string("/org/lwgate/Gateway1/device/a")},
               {"endpoint", std::string("a")},
               {"interfaces", std::vector<std::string>{"org.lwgate.Gateway1.Device"}}}};
  EXPECT_EQ(eventLine(added, kNow),
            "22:13:20.000 InterfacesAdded object_path=/org/lwgate/Gateway1/device/a endpoint=a "
            "interfaces=\"[\\\"org.lwgate.Gateway1.Device\\\"]\"");
  Event wake{"WakeDecision",
             {{"endpoint", std::string("sim-1")},
              {"sent", true},
              {"kind", std::string("sent")},
              {"reason", std::string("urgent request")},
              {"sms", std::uint64_t{9}}}};
  EXPECT_EQ(
      eventLine(wake, kNow),
      "22:13:20.000 WakeDecision endpoint=sim-1 sent=true kind=sent reason=\"urgent request\" "
      "sms=9");
  EXPECT_EQ(eventJson(wake, kNow), Json::parse(R"({"signal":"WakeDecision","time":1700000000000,
      "endpoint":"sim-1","sent":true,"kind":"sent","reason":"urgent request","sms":9})"));
  // A hostile endpoint name cannot forge a second line.
  Event evil{"DeviceAwake", {{"endpoint", std::string("x\nfake 1")}}};
  EXPECT_EQ(eventLine(evil, kNow), "22:13:20.000 DeviceAwake endpoint=\"x\\x0afake 1\"");
}

TEST(Json, InvalidUtf8DoesNotThrow) {
  EXPECT_EQ(dumpJson(Json("a\xff")), "\"a\xef\xbf\xbd\"");
}

TEST(PskFormat, ListShowsWhetherAKeyIsSetNeverAKey) {
  Dict text{{"identity", Bytes{'i', 'd'}},    {"identity_text", std::string("id")},
            {"endpoint", std::string("dev")}, {"key_set", true},
            {"created", std::uint64_t{1000}}, {"updated", std::uint64_t{2000}}};
  Dict binary{{"identity", Bytes{0x01, 0xff}},
              {"identity_text", std::string("hex:01ff")},
              {"endpoint", std::string("dev2")},
              {"key_set", false}};
  EXPECT_EQ(pskJson(text), (Json{{"identity", "id"},
                                 {"identity_hex", "6964"},
                                 {"endpoint", "dev"},
                                 {"key_set", true},
                                 {"created", 1000},
                                 {"updated", 2000}}));
  EXPECT_EQ(pskJson(binary)["identity_hex"], "01ff");
  EXPECT_EQ(pskJson(binary)["created"], nullptr);
  const std::string table = pskTable({text, binary}).render(true);
  EXPECT_NE(table.find("IDENTITY"), std::string::npos) << table;
  EXPECT_NE(table.find("set"), std::string::npos) << table;
  EXPECT_NE(table.find("hex:01ff"), std::string::npos) << table;
}

}  // namespace
}  // namespace lwgate::cli
