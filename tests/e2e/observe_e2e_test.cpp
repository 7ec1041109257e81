// Observations end to end: the gateway's libraries (tests/e2e/inprocess.h, since there is no
// public way to submit an Observe before D-Bus) and the real lwgated binary, against real
// lwgate-sim processes over UDP on 127.0.0.1 and a real SQLite file.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "gateway/lwm2m/content_format.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/inprocess.h"

namespace lwgate::e2e {
namespace {

using inproc::Gateway;
using inproc::GatewayOptions;
using inproc::Sim;
using Kind = core::ObservationTable::Event::Kind;

constexpr const char* kSensor = "/3303/0/5700";

std::vector<std::string> simArgs(const Gateway& gw, const std::string& endpoint,
                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--server", gw.url(), "--ep",          endpoint, "--sensor",
                                "--lt",     "300",    "--ack-timeout", "1",      "--max-retransmit",
                                "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"register", "stdin"});
  return args;
}

core::DownlinkRequest observe(const std::string& endpoint, const std::string& path,
                              std::uint16_t accept, const std::string& attributes = "") {
  core::DownlinkRequest r;
  r.endpoint = endpoint;
  r.operation = core::Operation::kObserve;
  r.path = path;
  r.acceptFormat = accept;
  r.payload.assign(attributes.begin(), attributes.end());
  return r;
}

std::vector<double> values(const std::vector<core::Notification>& ns) {
  std::vector<double> out;
  for (const auto& n : ns) {
    if (n.records.size() != 1) {
      out.push_back(-1);
      continue;
    }
    const auto& v = n.records[0].value;
    if (const double* d = v.get<double>()) {
      out.push_back(*d);
    } else if (const std::int64_t* i = v.get<std::int64_t>()) {
      out.push_back(static_cast<double>(*i));
    } else if (const std::string* s = v.get<std::string>()) {
      out.push_back(std::stod(*s));
    } else if (const lwm2m::Opaque* o = v.get<lwm2m::Opaque>(); o && o->size() == 8) {
      // TLV of an object the gateway has no model for (3303) stays opaque: the sim sends
      // floats as IEEE 754 binary64, big-endian.
      std::uint64_t bits = 0;
      for (std::uint8_t b : *o) bits = bits << 8 | b;
      double d = 0;
      std::memcpy(&d, &bits, sizeof d);
      out.push_back(d);
    } else {
      out.push_back(-2);
    }
  }
  return out;
}

std::string dump(const Sim& sim) {
  std::string out;
  for (const auto& line : sim.lines()) out += line + "\n";
  return out;
}

class ObserveE2E : public ::testing::Test {
 protected:
  GatewayOptions options() {
    GatewayOptions o;
    o.database = dir.file("lwgate.db");
    return o;
  }
  void start(GatewayOptions o) {
    gw = std::make_unique<Gateway>(std::move(o));
    gw->observations().setNotificationHook(
        [this](const core::Notification& n) { hooked.push_back(n); });
  }
  // Starts a sim that registers and then takes actions from stdin; waits for the registration.
  std::unique_ptr<Sim> startSim(const std::string& endpoint, std::vector<std::string> extra = {}) {
    auto sim = std::make_unique<Sim>(dir.file(endpoint + ".out"), simArgs(*gw, endpoint, extra));
    EXPECT_TRUE(gw->pumpUntil([&] { return sim->has("register 2.01"); }))
        << readFile(dir.file(endpoint + ".out.err"));
    return sim;
  }
  // Submits an Observe and waits for its final state; returns the observation id.
  std::int64_t establish(const std::string& endpoint, const std::string& path, std::uint16_t accept,
                         const std::string& attributes = "") {
    auto s = gw->submit(observe(endpoint, path, accept, attributes));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    if (!s.ok()) return 0;
    EXPECT_TRUE(gw->pumpUntil([&] { return !gw->queue().find(s->id); }));
    auto done = gw->request(s->id);
    EXPECT_TRUE(done && done->state == core::RequestState::kDone && done->responseCode == 0x45);
    auto list = gw->observations().listObservations(endpoint);
    for (const auto& o : list) {
      if (o.path == path && o.requestId == s->id) return o.id;
    }
    ADD_FAILURE() << "no observation of " << path << " after request " << s->id;
    return 0;
  }
  std::vector<core::Notification> notifications(const std::string& endpoint) {
    auto listed = gw->observations().listNotifications(endpoint, 100000, 0);
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? *listed : std::vector<core::Notification>{};
  }
  std::int64_t rows(const std::string& sql) { return queryInt(dir.file("lwgate.db"), sql); }

  TempDir dir;
  std::unique_ptr<Gateway> gw;
  std::vector<core::Notification> hooked;
};

TEST_F(ObserveE2E, ObservationIsEstablishedAndNotificationsAreStoredInOrder) {
  start(options());
  auto sim = startSim("obs-1");
  const std::int64_t id = establish("obs-1", kSensor, lwm2m::format::kSenmlJson);
  ASSERT_NE(id, 0);
  EXPECT_TRUE(sim->has("request GET /3303/0/5700 accept=110 observe=0 -> 2.05 observe="));
  EXPECT_EQ(rows("SELECT count(*) FROM observations WHERE path = '/3303/0/5700'"), 1);

  for (int i = 0; i < 4; ++i) sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-1").size() == 5; }));
  auto stored = notifications("obs-1");
  // The answer to the Observe is the first value; each change follows, in order, decoded.
  EXPECT_EQ(values(stored), (std::vector<double>{21.5, 22, 22.5, 23, 23.5}));
  for (std::size_t k = 1; k < stored.size(); ++k) {
    EXPECT_GT(stored[k].id, stored[k - 1].id);
    EXPECT_GT(*stored[k].observeSeq, *stored[k - 1].observeSeq);
    EXPECT_EQ(stored[k].observationId, id);
    EXPECT_EQ(stored[k].contentFormat, lwm2m::format::kSenmlJson);
    EXPECT_FALSE(stored[k].decodeError);
  }
  // The hook saw each one once, after its batch was committed.
  ASSERT_EQ(hooked.size(), 5u);
  EXPECT_EQ(hooked.back().id, stored.back().id);
  EXPECT_EQ(values(hooked), values(stored));
  // CON notifications were acknowledged: the sim still has its observer.
  EXPECT_FALSE(sim->has("notify-rejected"));
  EXPECT_EQ(sim->count("notify /3303/0/5700"), 4u);
}

TEST_F(ObserveE2E, StaleNotificationsAreDropped) {
  start(options());
  auto sim = startSim("obs-stale");
  const std::int64_t id = establish("obs-stale", kSensor, lwm2m::format::kTlv);
  ASSERT_NE(id, 0);
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-stale").size() == 2; }));
  // A reordered message (older sequence number) and then a fresh one: only the fresh one is
  // stored (RFC 7641 3.4), and the observation goes on.
  sim->send(std::string("stale=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->has("stale /3303/0/5700 seq="); }));
  gw->pump(200ms);
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-stale").size() == 3; }));
  gw->pump(200ms);
  auto stored = notifications("obs-stale");
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(values(stored), (std::vector<double>{21.5, 22, 22.5}));
  EXPECT_EQ(gw->observations().listObservations("obs-stale").at(0).lastObserveSeq,
            stored.back().observeSeq);
  EXPECT_FALSE(sim->has("notify-rejected")) << "a stale one is still acknowledged";
}

TEST_F(ObserveE2E, EachDeviceKeepsOnlyItsNewestNotifications) {
  GatewayOptions o = options();
  o.observations.maxNotificationsPerDevice = 5;
  start(o);
  auto sim = startSim("obs-bound");
  ASSERT_NE(establish("obs-bound", kSensor, lwm2m::format::kSenmlJson), 0);
  for (int i = 0; i < 8; ++i) sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->count("notify /3303/0/5700") == 8; }));
  ASSERT_TRUE(gw->pumpUntil([&] { return hooked.size() == 9; }));
  auto stored = notifications("obs-bound");
  // 9 arrived (the Observe's answer and 8 changes); the 4 oldest were pruned.
  EXPECT_EQ(values(stored), (std::vector<double>{23.5, 24, 24.5, 25, 25.5}));
  EXPECT_EQ(rows("SELECT count(*) FROM notifications"), 5);
}

TEST_F(ObserveE2E, UnknownTokensAreAnsweredWithRstAndForgettingCancelsPassively) {
  start(options());
  auto sim = startSim("obs-rst");
  const std::int64_t id = establish("obs-rst", kSensor, lwm2m::format::kTlv);
  ASSERT_NE(id, 0);
  // RFC 7641 3.6: a notification nobody wants is rejected with RST.
  sim->send("rogue");
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->has("rogue "); }));
  EXPECT_TRUE(sim->has("rogue rst"));
  EXPECT_EQ(notifications("obs-rst").size(), 1u);

  // The passive cancel: the gateway forgets, the next notification gets RST, and the device
  // drops its observer.
  ASSERT_TRUE(gw->observations().forget(id).ok());
  EXPECT_TRUE(gw->observations().listObservations("obs-rst").empty());
  EXPECT_EQ(rows("SELECT count(*) FROM observations"), 0);
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->has("notify-rejected"); }));
  EXPECT_TRUE(sim->has("reason=\"server answered with RST\""));
  EXPECT_EQ(notifications("obs-rst").size(), 1u);
  // The sim has no observer left: a change sends nothing.
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->count("changed /3303/0/5700") == 2; }));
  gw->pump(200ms);
  EXPECT_EQ(sim->count("notify /3303/0/5700"), 1u);
}

TEST_F(ObserveE2E, CancelObserveEndsItOnBothSides) {
  start(options());
  auto sim = startSim("obs-cancel");
  const std::int64_t id = establish("obs-cancel", kSensor, lwm2m::format::kTlv);
  ASSERT_NE(id, 0);
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-cancel").size() == 2; }));
  auto cancel = gw->observations().cancel(id);
  ASSERT_TRUE(cancel.ok()) << cancel.error().message;
  ASSERT_TRUE(gw->pumpUntil([&] { return !gw->queue().find(cancel->id); }));
  EXPECT_EQ(gw->request(cancel->id)->state, core::RequestState::kDone);
  EXPECT_TRUE(gw->observations().listObservations("obs-cancel").empty());
  // The device saw GET with Observe: 1 on the observation's token and ended it (libcoap would
  // have swapped the token of a plain coap_send(); see coap::Server::sendRequest).
  EXPECT_TRUE(sim->has("request GET /3303/0/5700 accept=11542 observe=1 -> 2.05"));
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->count("changed /3303/0/5700") == 2; }));
  gw->pump(200ms);
  EXPECT_EQ(sim->count("notify /3303/0/5700"), 1u) << "no observer left on the device";
  EXPECT_FALSE(sim->has("notify-rejected"));
}

TEST_F(ObserveE2E, NonNotificationsAndMalformedPayloadsAreStored) {
  start(options());
  auto sim = startSim("obs-non", {"--notify-non"});
  const std::int64_t id = establish("obs-non", kSensor, lwm2m::format::kTlv);
  ASSERT_NE(id, 0);
  sim->send(std::string("notify=") + kSensor);
  sim->send(std::string("malformed=") + kSensor);
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-non").size() == 4; }));
  auto stored = notifications("obs-non");
  EXPECT_TRUE(sim->has("notify /3303/0/5700 seq=") && sim->has(" NON"));
  EXPECT_FALSE(stored[1].decodeError);
  ASSERT_TRUE(stored[2].decodeError);
  EXPECT_EQ(stored[2].payload, (std::vector<std::uint8_t>{0xc8, 0x09, 0x7f}));
  EXPECT_EQ(stored[2].contentFormat, lwm2m::format::kTlv);
  EXPECT_EQ(values({stored[1], stored[3]}), (std::vector<double>{22, 22.5}));
  EXPECT_EQ(rows("SELECT count(*) FROM notifications WHERE decode_error IS NOT NULL"), 1);
}

TEST_F(ObserveE2E, ANotificationWakesAQueueModeDevice) {
  GatewayOptions o = options();
  o.queue.awakeWindow = core::Millis(300);
  start(o);
  auto sim = startSim("obs-queue", {"--queue"});
  ASSERT_NE(establish("obs-queue", kSensor, lwm2m::format::kTlv), 0);
  gw->pump(500ms);  // the awake window is over
  core::DownlinkRequest read;
  read.endpoint = "obs-queue";
  read.operation = core::Operation::kRead;
  read.path = "/3/0/9";
  auto r = gw->submit(read);
  ASSERT_TRUE(r.ok());
  gw->pump(200ms);
  EXPECT_EQ(gw->request(r->id)->state, core::RequestState::kQueued) << "asleep";
  // A notification is a message from the device (TS Core 6.5): awake again, the Read goes out.
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return !gw->queue().find(r->id); }));
  EXPECT_EQ(gw->request(r->id)->state, core::RequestState::kDone);
  EXPECT_TRUE(sim->has("request GET /3/0/9"));

  // Also as the first message after a gateway restart, before any Update: the request goes
  // out on the session the notification came in on.
  const std::uint16_t port = gw->port();
  gw.reset();
  o.port = port;
  start(o);
  r = gw->submit(read);
  ASSERT_TRUE(r.ok());
  gw->pump(200ms);
  EXPECT_EQ(gw->request(r->id)->state, core::RequestState::kQueued) << "not heard from yet";
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return !gw->queue().find(r->id); }));
  EXPECT_EQ(gw->request(r->id)->state, core::RequestState::kDone);
  EXPECT_EQ(gw->request(r->id)->attempts, 0u);
  EXPECT_EQ(sim->count("request GET /3/0/9"), 2u);
}

TEST_F(ObserveE2E, AnUpdateAfterAGatewayRestartReestablishesTheObservation) {
  GatewayOptions o = options();
  start(o);
  auto sim = startSim("obs-restart");
  const std::int64_t id = establish("obs-restart", kSensor, lwm2m::format::kSenmlJson);
  ASSERT_NE(id, 0);
  const core::Token token = gw->observations().listObservations("obs-restart").at(0).token;
  const std::uint16_t port = gw->port();
  gw.reset();  // the gateway stops

  // While it is away the device's CON notification is never acknowledged: the device drops
  // its observer (RFC 7641 4.5), as real clients do.
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(waitUntil([&] { return sim->has("notify-rejected"); }, 15s)) << dump(*sim);

  o.port = port;
  start(o);
  EXPECT_EQ(gw->observations().listObservations("obs-restart").size(), 1u) << "persisted";
  sim->send("update");
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->count("-> 2.05 observe=") == 2; }));
  ASSERT_TRUE(gw->pumpUntil([&] {
    auto list = gw->observations().listObservations("obs-restart");
    return list.size() == 1 && list[0].requestId && *list[0].requestId != 1;
  }));
  auto renewed = gw->observations().listObservations("obs-restart");
  ASSERT_EQ(renewed.size(), 1u);
  EXPECT_EQ(renewed[0].id, id);
  EXPECT_EQ(renewed[0].token, token) << "the same token (RFC 7641 3.3.1)";
  EXPECT_EQ(rows("SELECT count(*) FROM requests WHERE idempotency_key LIKE 'reobserve:%'"), 1);

  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-restart").size() == 3; }));
  // 21.5 at the first Observe; the change to 22 while the gateway was away was lost, and the
  // answer to the re-observe brings the value as it is now (22); then the next change.
  EXPECT_EQ(values(notifications("obs-restart")), (std::vector<double>{21.5, 22, 22.5}));

  // Queued once: another Update re-establishes nothing.
  sim->send("update");
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->count("update 2.04") == 2; }));
  gw->pump(200ms);
  EXPECT_EQ(sim->count("-> 2.05 observe="), 2u);
  EXPECT_EQ(rows("SELECT count(*) FROM requests WHERE idempotency_key LIKE 'reobserve:%'"), 1);
}

TEST_F(ObserveE2E, ARegistrationReestablishesTheObservation) {
  start(options());
  auto sim = startSim("obs-rereg");
  const std::int64_t id = establish("obs-rereg", kSensor, lwm2m::format::kTlv, "pmin=0&pmax=60");
  ASSERT_NE(id, 0);
  EXPECT_TRUE(sim->has("?\"pmin=0\" ?\"pmax=60\""));
  // Some clients wake with a full Register; LwM2M clients drop their observations then.
  sim->send("register");
  ASSERT_TRUE(gw->pumpUntil([&] { return sim->count("-> 2.05 observe=") == 2; }));
  EXPECT_EQ(sim->count("?\"pmin=0\" ?\"pmax=60\""), 2u) << "the same attributes";
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-rereg").size() == 2; }));
  EXPECT_EQ(gw->observations().listObservations("obs-rereg").size(), 1u);
}

TEST_F(ObserveE2E, ATickingSensorNotifiesNoMoreOftenThanPmin) {
  start(options());
  auto sim = startSim("obs-tick", {"--tick-resource", kSensor, "--tick-ms", "20"});
  ASSERT_NE(establish("obs-tick", kSensor, lwm2m::format::kSenmlJson, "pmin=0.2"), 0);
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-tick").size() >= 5; }));
  const auto v = values(notifications("obs-tick"));
  for (std::size_t k = 1; k < v.size(); ++k) EXPECT_GT(v[k], v[k - 1]) << "in order";
  // The value moves by 0.5 every 20 ms, but the device holds notifications back for pmin
  // (0.2 s): each one carries several ticks, where without pmin each tick would be one.
  EXPECT_GT((v.back() - v.front()) / static_cast<double>(v.size() - 1), 1.0);
}

// What the kill -9 tests of the queue need from the sim: each Execute is counted in a journal
// that outlives the sim, and a retransmission (same Message ID) is answered without running it
// again, as RFC 7252 4.5 asks of a device.
TEST_F(ObserveE2E, SimJournalsExecutesAndAnswersARetransmissionWithoutRunningItAgain) {
  GatewayOptions o = options();
  start(o);
  const std::string journal = dir.file("journal");
  auto sim = startSim("exec-1", {"--journal", journal});
  core::DownlinkRequest reboot;
  reboot.endpoint = "exec-1";
  reboot.operation = core::Operation::kExecute;
  reboot.path = "/3/0/4";
  auto first = gw->submit(reboot);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(gw->pumpUntil([&] { return !gw->queue().find(first->id); }));
  EXPECT_TRUE(sim->has("EXECUTED /3/0/4 count=1 mid="));

  // The gateway sends the next one and stops before it hears the answer; after its restart it
  // sends it again with the same Message ID and token (OMA issue #104).
  auto second = gw->submit(reboot);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(waitUntil([&] { return sim->has("EXECUTED /3/0/4 count=2"); }));
  const std::uint16_t port = gw->port();
  gw.reset();
  o.port = port;
  start(o);
  sim->send("update");  // the device talks: the request in flight goes out again
  ASSERT_TRUE(gw->pumpUntil([&] { return !gw->queue().find(second->id); }));
  auto done = gw->request(second->id);
  EXPECT_EQ(done->state, core::RequestState::kDone);
  EXPECT_EQ(done->responseCode, 0x44);
  EXPECT_TRUE(sim->has("duplicate mid=" + std::to_string(*done->messageId)));
  EXPECT_EQ(sim->count("EXECUTED /3/0/4"), 2u) << dump(*sim);

  // The journal has one line per Execute, and a new sim continues its count.
  sim->closeInput();
  EXPECT_EQ(sim->wait(), 0);
  std::string text = readFile(journal);
  EXPECT_NE(text.find("EXECUTED /3/0/4 count=1 "), std::string::npos);
  EXPECT_NE(text.find("EXECUTED /3/0/4 count=2 mid=" + std::to_string(*done->messageId)),
            std::string::npos);
  auto again = startSim("exec-1", {"--journal", journal});
  auto third = gw->submit(reboot);
  ASSERT_TRUE(third.ok());
  ASSERT_TRUE(gw->pumpUntil([&] { return !gw->queue().find(third->id); }))
      << dump(*again) << readFile(dir.file("exec-1.out.err"));
  EXPECT_TRUE(again->has("EXECUTED /3/0/4 count=3"));
}

// The state the gateway's libraries left in the database is what the real daemon starts from:
// lwgated restores the observation, re-establishes it at the device's next Update, stores the
// notifications, answers an unknown token with RST, and keeps all of it across a kill -9.
TEST_F(ObserveE2E, TheRealLwgatedReestablishesStoresAndSurvivesKill9) {
  start(options());
  auto sim = startSim("obs-lwgated");
  ASSERT_NE(establish("obs-lwgated", kSensor, lwm2m::format::kSenmlJson), 0);
  const std::string listen = "127.0.0.1:" + std::to_string(gw->port());
  gw.reset();

  Lwgated daemon(dir.path());
  ASSERT_TRUE(daemon.start({"--listen", listen})) << daemon.log();
  EXPECT_NE(daemon.log().find("LWG3100 restored 1 observations"), std::string::npos);
  sim->send("update");
  ASSERT_TRUE(daemon.waitForLog("LWG3101 re-established observation 1 of /3303/0/5700"))
      << daemon.log() << dump(*sim);
  EXPECT_EQ(sim->count("-> 2.05 observe="), 2u);
  sim->send(std::string("notify=") + kSensor);
  const std::string db = daemon.database();
  ASSERT_TRUE(waitUntil([&] { return queryInt(db, "SELECT count(*) FROM notifications") == 3; }));
  EXPECT_EQ(queryText(db, "SELECT payload FROM notifications ORDER BY id DESC LIMIT 1"),
            R"([{"n":"/3303/0/5700","v":22}])");
  sim->send("rogue");
  ASSERT_TRUE(waitUntil([&] { return sim->has("rogue "); }));
  EXPECT_TRUE(sim->has("rogue rst"));
  EXPECT_TRUE(daemon.waitForLog("LWG3106"));

  daemon.kill9();
  ASSERT_TRUE(daemon.start({"--listen", listen})) << daemon.log();
  EXPECT_NE(daemon.log().find("LWG3100 restored 1 observations"), std::string::npos);
  EXPECT_EQ(queryInt(db, "SELECT count(*) FROM notifications"), 3);
  // The device still has the observation (nothing told it otherwise): its next notification
  // is stored even before it sends an Update.
  sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(waitUntil([&] { return queryInt(db, "SELECT count(*) FROM notifications") == 4; }))
      << daemon.log();
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace lwgate::e2e
