// The upstream registration state machine with a manual clock: no sockets, no sleeps.
#include "bridge/registration.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/support/manual_clock.h"

namespace lwgate::bridge {
namespace {

using namespace std::chrono_literals;
using Kind = Outgoing::Kind;

constexpr std::uint8_t kCreated = 0x41, kChanged = 0x44, kDeleted = 0x42, kNotFound = 0x84,
                       kBadRequest = 0x80, kUnavailable = 0xa3;

class FakeRegistrationStore final : public UpstreamRegistrationStore {
 public:
  Result<void> saveRegistration(const StoredRegistration& r) override {
    rows[{r.server, r.device}] = r;
    return {};
  }
  Result<void> removeRegistration(std::string_view server, std::string_view device) override {
    rows.erase({std::string(server), std::string(device)});
    return {};
  }
  Result<std::vector<StoredRegistration>> loadRegistrations() override {
    std::vector<StoredRegistration> out;
    for (const auto& [k, r] : rows) out.push_back(r);
    return out;
  }
  std::map<std::pair<std::string, std::string>, StoredRegistration> rows;
};

class Recorder final : public UpstreamListener {
 public:
  Result<void> send(const Outgoing& m) override {
    if (refuse) return makeError(ErrorCode::kInternal, "cannot resolve");
    sent.push_back(m);
    return {};
  }
  void registeredFresh(const std::string& server, const std::string& device) override {
    fresh.push_back(server + " " + device);
  }
  void linkChanged(const std::string& server, const std::string& device, bool up) override {
    links.push_back(server + " " + device + (up ? " up" : " down"));
  }
  void linkRemoved(const std::string& server, const std::string& device) override {
    removed.push_back(server + " " + device);
  }
  std::vector<Outgoing> take() {
    std::vector<Outgoing> out;
    out.swap(sent);
    return out;
  }
  std::vector<Outgoing> sent;
  std::vector<std::string> fresh, links, removed;
  bool refuse = false;
};

UpstreamConfig server(std::string uri = "coap://up:5683") {
  UpstreamConfig c;
  c.uri = std::move(uri);
  c.address = *parseUpstreamUri(c.uri);
  c.lifetime = 600;
  c.registrationsPerSecond = 10;
  c.backoffMin = 4;
  c.backoffMax = 60;
  return c;
}

DeviceInfo device(std::string ep, bool queue = false) {
  return {std::move(ep), "1.1", queue, "</1/0>,</3/0>"};
}

class UpstreamRegistrationTest : public ::testing::Test {
 protected:
  void make(std::vector<UpstreamConfig> servers, double jitter = 1.0) {
    regs = std::make_unique<UpstreamRegistrations>(
        clock, store, RegistrationTiming{.exchangeTimeout = 30s, .updateMargin = 93s},
        [this] { return jitterValue; });
    jitterValue = jitter;
    regs->setListener(&rec);
    ASSERT_TRUE(regs->restore(std::move(servers)).ok());
  }
  // Moves time forward in steps, running what falls due.
  void run(core::Millis d, core::Millis step = 10ms) {
    for (core::Millis t{0}; t < d; t += step) {
      clock.advance(step);
      regs->tick();
    }
  }
  void answer(const Outgoing& m, std::uint8_t code, std::vector<std::string> location = {}) {
    regs->answered(m.exchange, code, std::move(location));
  }
  // Registers one device and answers 2.01.
  Outgoing registered(const std::string& ep, const std::string& loc) {
    regs->deviceRegistered(device(ep));
    auto sent = rec.take();
    EXPECT_EQ(sent.size(), 1u);
    if (sent.empty()) return {};
    EXPECT_EQ(sent[0].kind, Kind::kRegister);
    answer(sent[0], kCreated, {"rd", loc});
    return sent[0];
  }

  testing::ManualClock clock;
  FakeRegistrationStore store;
  Recorder rec;
  double jitterValue = 1.0;
  std::unique_ptr<UpstreamRegistrations> regs;
};

TEST(RegisterQuery, VersionDecidesHowQueueModeIsWritten) {
  UpstreamParams p{"gw-d1", 300, "1.1", false, "</3/0>"};
  EXPECT_EQ(registerQuery(p), (std::vector<std::string>{"ep=gw-d1", "lt=300", "lwm2m=1.1", "b=U"}));
  p.queueMode = true;
  EXPECT_EQ(registerQuery(p),
            (std::vector<std::string>{"ep=gw-d1", "lt=300", "lwm2m=1.1", "b=U", "Q"}));
  p.version = "1.0";
  EXPECT_EQ(registerQuery(p),
            (std::vector<std::string>{"ep=gw-d1", "lt=300", "lwm2m=1.0", "b=UQ"}));
  UpstreamParams now = p;
  EXPECT_TRUE(updateQuery(p, now).empty());
  now.lifetime = 60;
  now.queueMode = false;
  now.objectLinks = "</3/0>,</5/0>";  // links travel in the payload, not the query
  EXPECT_EQ(updateQuery(p, now), (std::vector<std::string>{"lt=60", "b=U"}));
}

TEST_F(UpstreamRegistrationTest, RegistersWithTheDevicesEndpointLinksAndVersion) {
  auto c = server();
  c.endpointPrefix = "site7-";
  make({c});
  regs->start();
  regs->deviceRegistered({"meter-1", "1.0", false, "</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/3/0>"});
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kRegister);
  EXPECT_EQ(sent[0].server, "coap://up:5683");
  EXPECT_EQ(sent[0].device, "meter-1");
  EXPECT_EQ(sent[0].query,
            (std::vector<std::string>{"ep=site7-meter-1", "lt=600", "lwm2m=1.0", "b=U"}));
  EXPECT_EQ(sent[0].payload, "</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/3/0>");
  EXPECT_EQ(regs->status(c.uri, "meter-1")->state, LinkState::kRegistering);
  answer(sent[0], kCreated, {"rd", "5a3f"});
  auto st = regs->status(c.uri, "meter-1");
  EXPECT_EQ(st->state, LinkState::kRegistered);
  EXPECT_EQ(st->location, (std::vector<std::string>{"rd", "5a3f"}));
  EXPECT_EQ(st->upstreamEndpoint, "site7-meter-1");
  EXPECT_TRUE(regs->up(c.uri, "meter-1"));
  EXPECT_EQ(rec.fresh, (std::vector<std::string>{"coap://up:5683 meter-1"}));
  EXPECT_EQ(rec.links, (std::vector<std::string>{"coap://up:5683 meter-1 up"}));
  ASSERT_EQ(store.rows.size(), 1u);
  EXPECT_EQ(store.rows.begin()->second.told.endpoint, "site7-meter-1");
}

TEST_F(UpstreamRegistrationTest, DevicesOutsideThePatternsAreNotBridged) {
  auto c = server();
  c.devices = {"meter-*"};
  make({c});
  regs->start();
  regs->deviceRegistered(device("pump-1"));
  EXPECT_TRUE(rec.take().empty());
  EXPECT_FALSE(regs->status(c.uri, "pump-1"));
  regs->deviceRegistered(device("meter-1"));
  EXPECT_EQ(rec.take().size(), 1u);
}

TEST_F(UpstreamRegistrationTest, GatewayModeHidesQueueModeMirrorModeShowsIt) {
  auto g = server("coap://gw:5683");
  auto m = server("coap://mirror:5683");
  m.queueMode = QueueMode::kMirror;
  make({g, m});
  regs->start();
  regs->deviceRegistered(device("sleepy", /*queue=*/true));
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& s : sent) {
    const bool hasQ = std::ranges::find(s.query, "Q") != s.query.end();
    EXPECT_EQ(hasQ, s.server == m.uri) << s.server;
  }
}

TEST_F(UpstreamRegistrationTest, HoldOffThenAtMostTheConfiguredRate) {
  auto c = server();
  c.holdOff = 5;
  c.registrationsPerSecond = 4;  // one every 250 ms
  make({c});
  regs->start();
  for (int k = 0; k < 10; ++k) regs->deviceRegistered(device("d" + std::to_string(k)));
  EXPECT_TRUE(rec.take().empty());
  EXPECT_EQ(regs->waiting(c.uri), 10u);
  EXPECT_EQ(regs->status(c.uri, "d0")->state, LinkState::kWaiting);
  ASSERT_TRUE(regs->nextTimer());
  EXPECT_EQ(*regs->nextTimer(), clock.steadyNow() + 5s);
  run(4990ms);
  EXPECT_TRUE(rec.take().empty());
  // The Registers' send times: the first at the end of the hold-off, then every 250 ms, in the
  // order the devices came.
  std::vector<std::pair<core::Millis, std::string>> times;
  const core::SteadyTime start = clock.steadyNow();
  for (int step = 0; step < 400; ++step) {
    clock.advance(10ms);
    regs->tick();
    for (const auto& m : rec.take()) {
      times.emplace_back(std::chrono::duration_cast<core::Millis>(clock.steadyNow() - start),
                         m.device);
    }
  }
  ASSERT_EQ(times.size(), 10u);
  for (std::size_t k = 0; k < times.size(); ++k) {
    EXPECT_EQ(times[k].first, core::Millis(10 + 250 * static_cast<int>(k))) << k;
    EXPECT_EQ(times[k].second, "d" + std::to_string(k));
  }
  EXPECT_EQ(regs->waiting(c.uri), 0u);
}

// However fast the rate, no more Registers wait for their answer at once than
// registrations_in_flight: a burst of thousands would overflow the server's socket buffer, and
// every Register lost there waits seconds for its retransmission. Each answer (or failure)
// frees a slot for the next device in the queue, in order.
TEST_F(UpstreamRegistrationTest, AtMostRegistrationsInFlightWaitForTheirAnswer) {
  auto c = server();
  c.registrationsPerSecond = 100'000;
  c.registrationsInFlight = 3;
  make({c});
  regs->start();
  for (int k = 0; k < 8; ++k) regs->deviceRegistered(device("d" + std::to_string(k)));
  run(100ms);
  auto first = rec.take();
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(regs->waiting(c.uri), 5u);
  run(10s, 1s);  // nothing answered: nothing more goes, however long it takes
  EXPECT_TRUE(rec.take().empty());

  answer(first[1], kCreated, {"rd", "1"});
  ASSERT_TRUE(regs->nextTimer());
  EXPECT_EQ(*regs->nextTimer(), clock.steadyNow());  // the freed slot is granted at once
  regs->tick();
  auto next = rec.take();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].device, "d3");

  // A failure frees its slot too (and backs off); so does a device that goes while its
  // Register waits for the answer (its De-register is not slotted).
  regs->failed(first[0].exchange, "no answer");
  run(10ms);  // past the next slot of the rate (10 us)
  next = rec.take();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].device, "d4");
  regs->deviceGone("d2");
  answer(first[2], kCreated, {"rd", "2"});  // d2's answer: a De-register follows
  run(10ms);
  next = rec.take();
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].kind, Kind::kDeregister);
  EXPECT_EQ(next[1].device, "d5");
  EXPECT_EQ(regs->waiting(c.uri), 2u);
}

TEST_F(UpstreamRegistrationTest, UpdateBeforeTheLifetimeRunsOut) {
  make({server()});
  regs->start();
  registered("d1", "a");
  // lifetime 600 s, margin min(93 s, 300 s): the Update goes at 507 s.
  run(506s, 1s);
  EXPECT_TRUE(rec.take().empty());
  run(1s, 1s);
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kUpdate);
  EXPECT_EQ(sent[0].location, (std::vector<std::string>{"rd", "a"}));
  EXPECT_TRUE(sent[0].query.empty());
  EXPECT_TRUE(sent[0].payload.empty());
  EXPECT_EQ(regs->status(server().uri, "d1")->state, LinkState::kUpdating);
  answer(sent[0], kChanged);
  EXPECT_EQ(regs->status(server().uri, "d1")->state, LinkState::kRegistered);
  run(506s, 1s);
  EXPECT_TRUE(rec.take().empty());
  run(1s, 1s);
  EXPECT_EQ(rec.take().size(), 1u);
}

TEST_F(UpstreamRegistrationTest, ShortLifetimeUpdatesAtHalfOfIt) {
  auto c = server();
  c.lifetime = 60;
  make({c});
  regs->start();
  registered("d1", "a");
  run(29s, 1s);
  EXPECT_TRUE(rec.take().empty());
  run(1s, 1s);
  EXPECT_EQ(rec.take().size(), 1u);
}

TEST_F(UpstreamRegistrationTest, ChangedObjectListIsSentInAnUpdate) {
  make({server()});
  regs->start();
  registered("d1", "a");
  auto changed = device("d1");
  changed.objectLinks = "</1/0>,</3/0>,</5/0>";
  regs->deviceRegistered(changed);
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kUpdate);
  EXPECT_EQ(sent[0].payload, "</1/0>,</3/0>,</5/0>");
  answer(sent[0], kChanged);
  // The same list again changes nothing upstream.
  regs->deviceRegistered(changed);
  EXPECT_TRUE(rec.take().empty());
  EXPECT_EQ(store.rows.begin()->second.told.objectLinks, "</1/0>,</3/0>,</5/0>");
}

TEST_F(UpstreamRegistrationTest, ChangesDuringAnExchangeWaitForItsAnswer) {
  make({server()});
  regs->start();
  regs->deviceRegistered(device("d1"));
  auto reg = rec.take();
  auto changed = device("d1");
  changed.objectLinks = "</3/0>";
  regs->deviceRegistered(changed);
  EXPECT_TRUE(rec.take().empty());
  answer(reg[0], kCreated, {"rd", "a"});
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kUpdate);
  EXPECT_EQ(sent[0].payload, "</3/0>");
}

TEST_F(UpstreamRegistrationTest, DeregisterWhenTheDeviceGoes) {
  make({server()});
  regs->start();
  registered("d1", "a");
  regs->deviceGone("d1");
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kDeregister);
  EXPECT_EQ(sent[0].location, (std::vector<std::string>{"rd", "a"}));
  answer(sent[0], kDeleted);
  EXPECT_FALSE(regs->status(server().uri, "d1"));
  EXPECT_TRUE(store.rows.empty());
  EXPECT_EQ(rec.removed, (std::vector<std::string>{"coap://up:5683 d1"}));
  EXPECT_EQ(rec.links.back(), "coap://up:5683 d1 down");
}

TEST_F(UpstreamRegistrationTest, DeregisterIsTriedOnce) {
  make({server()});
  regs->start();
  registered("d1", "a");
  regs->deviceGone("d1");
  auto sent = rec.take();
  regs->failed(sent[0].exchange, "no answer");
  EXPECT_FALSE(regs->status(server().uri, "d1"));
  EXPECT_TRUE(store.rows.empty());
  run(2000s, 1s);
  EXPECT_TRUE(rec.take().empty());
}

TEST_F(UpstreamRegistrationTest, GoneWhileRegisteringDeregistersAfterTheAnswer) {
  make({server()});
  regs->start();
  regs->deviceRegistered(device("d1"));
  auto reg = rec.take();
  regs->deviceGone("d1");
  EXPECT_TRUE(rec.take().empty());
  answer(reg[0], kCreated, {"rd", "a"});
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kDeregister);
}

TEST_F(UpstreamRegistrationTest, GoneBeforeItsSlotSendsNothing) {
  auto c = server();
  c.holdOff = 10;
  make({c});
  regs->start();
  regs->deviceRegistered(device("d1"));
  regs->deviceGone("d1");
  run(11s, 100ms);
  EXPECT_TRUE(rec.take().empty());
  EXPECT_FALSE(regs->status(c.uri, "d1"));
}

TEST_F(UpstreamRegistrationTest, NotFoundOnUpdateRegistersAgain) {
  make({server()});
  regs->start();
  registered("d1", "a");
  rec.fresh.clear();
  auto changed = device("d1");
  changed.objectLinks = "</3/0>";
  regs->deviceRegistered(changed);
  auto upd = rec.take();
  answer(upd[0], kNotFound);
  run(100ms);  // a Register takes a slot: 10 per second
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kRegister);
  EXPECT_EQ(sent[0].payload, "</3/0>");
  EXPECT_TRUE(store.rows.empty());  // the old location is gone
  answer(sent[0], kCreated, {"rd", "b"});
  EXPECT_EQ(regs->status(server().uri, "d1")->location, (std::vector<std::string>{"rd", "b"}));
  EXPECT_EQ(rec.fresh.size(), 1u);  // a new registration upstream: its observations are gone
}

TEST_F(UpstreamRegistrationTest, TimeoutsAndServerErrorsBackOffExponentiallyUpToTheMaximum) {
  make({server()}, /*jitter=*/1.0);  // the full interval, so the times are exact
  regs->start();
  regs->deviceRegistered(device("d1"));
  ASSERT_EQ(rec.take().size(), 1u);
  // No answer at all: the exchange's deadline (30 s) fails it.
  run(30s);
  auto st = regs->status(server().uri, "d1");
  EXPECT_EQ(st->state, LinkState::kRetrying);
  EXPECT_EQ(st->lastError, "Register: no answer within 30s");
  std::vector<core::Millis> gaps;
  core::SteadyTime last = clock.steadyNow();
  for (int attempt = 0; attempt < 6; ++attempt) {
    std::vector<Outgoing> sent;
    for (int guard = 0; guard < 10000 && sent.empty(); ++guard) {
      clock.advance(10ms);
      regs->tick();
      sent = rec.take();
    }
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].kind, Kind::kRegister);
    gaps.push_back(std::chrono::duration_cast<core::Millis>(clock.steadyNow() - last));
    last = clock.steadyNow();
    if (attempt % 2) {
      regs->failed(sent[0].exchange, "no answer after all retransmissions");
    } else {
      answer(sent[0], kUnavailable);
    }
  }
  // 4, 8, 16, 32, 60, 60 s: backoff_min 4, doubling, up to backoff_max 60.
  const int expected[] = {4, 8, 16, 32, 60, 60};
  for (std::size_t k = 0; k < gaps.size(); ++k) {
    EXPECT_EQ(gaps[k].count(), expected[k] * 1000) << k;
  }
  st = regs->status(server().uri, "d1");
  EXPECT_EQ(st->failures, 7u);
  EXPECT_EQ(st->lastError, "Register: no answer after all retransmissions");
  EXPECT_FALSE(regs->up(server().uri, "d1"));
}

TEST_F(UpstreamRegistrationTest, JitterKeepsTheRetryInTheSecondHalfOfTheInterval) {
  make({server()}, /*jitter=*/0.0);
  regs->start();
  regs->deviceRegistered(device("d1"));
  regs->failed(rec.take()[0].exchange, "no answer");
  run(1990ms);
  EXPECT_TRUE(rec.take().empty());
  run(20ms);
  EXPECT_EQ(rec.take().size(), 1u);  // half of 4 s
}

TEST_F(UpstreamRegistrationTest, RefusedRegisterWaitsTheLongestBackOff) {
  make({server()});
  regs->start();
  regs->deviceRegistered(device("d1"));
  answer(rec.take()[0], kBadRequest);
  auto st = regs->status(server().uri, "d1");
  EXPECT_EQ(st->state, LinkState::kRetrying);
  EXPECT_EQ(st->lastError, "the server answered the Register 4.00");
  run(59s, 1s);
  EXPECT_TRUE(rec.take().empty());
  run(2s, 1s);
  EXPECT_EQ(rec.take().size(), 1u);
}

TEST_F(UpstreamRegistrationTest, UnresolvableServerCountsAsAFailure) {
  make({server()});
  regs->start();
  rec.refuse = true;
  regs->deviceRegistered(device("d1"));
  auto st = regs->status(server().uri, "d1");
  EXPECT_EQ(st->state, LinkState::kRetrying);
  EXPECT_EQ(st->lastError, "cannot resolve");
  rec.refuse = false;
  run(5s);
  EXPECT_EQ(rec.take().size(), 1u);
}

// A coaps server whose PSK is missing or wrong: the link backs off like after any failure, and
// when the key is added (retryNow) it tries again at once, not at the end of its back-off.
TEST_F(UpstreamRegistrationTest, RetryNowEndsTheBackOffOfFailingLinksOnly) {
  auto c = server("coaps://up:5684");
  c.backoffMin = 60;
  c.backoffMax = 600;
  make({c});
  regs->start();
  rec.refuse = true;  // no PSK for d1: its session cannot be opened
  regs->deviceRegistered(device("d1"));
  EXPECT_EQ(regs->status(c.uri, "d1")->state, LinkState::kRetrying);
  rec.refuse = false;
  run(200ms);  // d1's try took the rate's slot
  registered("d2", "b");
  run(1s);
  EXPECT_TRUE(rec.take().empty());  // d1 waits for its back-off (30 s or more)

  // Another server's or another device's change does not touch d1.
  regs->retryNow("coap://other:5683", "", false);
  regs->retryNow(c.uri, "d3", false);
  run(1s);
  EXPECT_TRUE(rec.take().empty());

  regs->retryNow(c.uri, "d1", false);
  run(200ms);
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);  // d2 is registered and not asked to Update
  EXPECT_EQ(sent[0].device, "d1");
  EXPECT_EQ(sent[0].kind, Kind::kRegister);
  // A handshake failure is a failure like any other: back-off again.
  regs->failed(sent[0].exchange, "the DTLS handshake failed");
  EXPECT_EQ(regs->status(c.uri, "d1")->state, LinkState::kRetrying);
  EXPECT_EQ(regs->status(c.uri, "d1")->lastError, "Register: the DTLS handshake failed");
  EXPECT_EQ(regs->status(c.uri, "d1")->failures, 2u);
  // The whole server (a gateway-wide key): d1 again; with registeredToo d2 Updates as well.
  regs->retryNow(c.uri, "", true);
  run(200ms);
  sent = rec.take();
  ASSERT_EQ(sent.size(), 2u);
  std::map<std::string, Kind> kinds;
  for (const auto& m : sent) kinds[m.device] = m.kind;
  EXPECT_EQ(kinds["d1"], Kind::kRegister);
  EXPECT_EQ(kinds["d2"], Kind::kUpdate);
  for (const auto& m : sent)
    answer(m, m.kind == Kind::kRegister ? kCreated : kChanged, {"rd", "a"});
  EXPECT_TRUE(regs->up(c.uri, "d1"));
  EXPECT_EQ(regs->status(c.uri, "d1")->lastError, "");
  // Nothing is failing now: retryNow sends nothing.
  regs->retryNow(c.uri, "", false);
  run(200ms);
  EXPECT_TRUE(rec.take().empty());
}

TEST_F(UpstreamRegistrationTest, UpdateFailureRetriesTheUpdateAndRegistersOnceTheServerForgot) {
  auto c = server();
  c.lifetime = 60;
  make({c});
  regs->start();
  registered("d1", "a");
  run(30s, 1s);
  auto upd = rec.take();
  ASSERT_EQ(upd.size(), 1u);
  regs->failed(upd[0].exchange, "no answer");
  run(5s, 1s);
  upd = rec.take();
  ASSERT_EQ(upd.size(), 1u);
  EXPECT_EQ(upd[0].kind, Kind::kUpdate);  // still within the lifetime
  regs->failed(upd[0].exchange, "no answer");
  // 35 s + 8 s back-off: past the 60 s lifetime? not yet; then 16 s more: 59 s. Keep failing
  // until the retry falls after the lifetime ran out: then it is a Register.
  Kind kind = Kind::kUpdate;
  for (int k = 0; k < 5 && kind == Kind::kUpdate; ++k) {
    std::vector<Outgoing> sent;
    for (int guard = 0; guard < 100 && sent.empty(); ++guard) {
      run(1s, 1s);
      sent = rec.take();
    }
    ASSERT_EQ(sent.size(), 1u);
    kind = sent[0].kind;
    if (kind == Kind::kUpdate) regs->failed(sent[0].exchange, "no answer");
  }
  EXPECT_EQ(kind, Kind::kRegister);
}

TEST_F(UpstreamRegistrationTest, TransportFailureProbesWithAnUpdateAfterTheBackOff) {
  make({server()});
  regs->start();
  registered("d1", "a");
  regs->transportFailed(server().uri, "d1", "notification not acknowledged");
  EXPECT_FALSE(regs->up(server().uri, "d1"));
  EXPECT_EQ(rec.links.back(), "coap://up:5683 d1 down");
  run(4s);
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kUpdate);
  answer(sent[0], kChanged);
  EXPECT_TRUE(regs->up(server().uri, "d1"));
  EXPECT_EQ(rec.links.back(), "coap://up:5683 d1 up");
}

TEST_F(UpstreamRegistrationTest, MirrorModeSendsAnUpdateWhenTheDeviceWakes) {
  auto m = server("coap://mirror:5683");
  m.queueMode = QueueMode::kMirror;
  auto g = server("coap://gw:5683");
  make({g, m});
  regs->start();
  regs->deviceRegistered(device("sleepy", true));
  for (const auto& s : rec.take()) answer(s, kCreated, {"rd", "x"});
  regs->deviceWoke("sleepy");
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);  // only the mirror server hears it
  EXPECT_EQ(sent[0].server, m.uri);
  EXPECT_EQ(sent[0].kind, Kind::kUpdate);
  EXPECT_TRUE(sent[0].query.empty());
  // A device that is not in queue mode is always reachable: no Update for waking.
  answer(sent[0], kChanged);
  regs->deviceRegistered(device("awake"));
  for (const auto& s : rec.take()) answer(s, kCreated, {"rd", "y"});
  regs->deviceWoke("awake");
  EXPECT_TRUE(rec.take().empty());
}

TEST_F(UpstreamRegistrationTest, RestartUpdatesRememberedRegistrationsAfterTheHoldOff) {
  auto c = server();
  c.holdOff = 3;
  store.rows[{c.uri, "d1"}] = {
      c.uri, "d1", {"rd", "a"}, {"d1", 600, "1.1", false, "</1/0>,</3/0>"}, clock.wallNow() - 100s};
  store.rows[{c.uri, "gone"}] = {
      c.uri, "gone", {"rd", "g"}, {"gone", 600, "1.1", false, ""}, clock.wallNow() - 100s};
  store.rows[{"coap://old:5683", "d1"}] = {
      "coap://old:5683", "d1", {"rd", "o"}, {"d1", 600, "1.1", false, ""}, clock.wallNow()};
  make({c});
  EXPECT_EQ(store.rows.size(), 2u);  // the unconfigured server's row is dropped
  regs->deviceRegistered(device("d1"));
  regs->start();
  // "gone" has no device any more: De-registered at once.
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kDeregister);
  EXPECT_EQ(sent[0].device, "gone");
  answer(sent[0], kDeleted);
  run(2990ms);
  EXPECT_TRUE(rec.take().empty());
  run(20ms);
  sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kUpdate);  // from the new socket: the server learns the address
  EXPECT_EQ(sent[0].location, (std::vector<std::string>{"rd", "a"}));
  EXPECT_TRUE(rec.fresh.empty());
  answer(sent[0], kChanged);
  EXPECT_TRUE(regs->up(c.uri, "d1"));
}

TEST_F(UpstreamRegistrationTest, RestartAfterTheLifetimeRanOutRegistersAgain) {
  auto c = server();
  store.rows[{c.uri, "d1"}] = {
      c.uri, "d1", {"rd", "a"}, {"d1", 600, "1.1", false, "</1/0>,</3/0>"}, clock.wallNow() - 601s};
  make({c});
  regs->deviceRegistered(device("d1"));
  regs->start();
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kRegister);
}

TEST_F(UpstreamRegistrationTest, ConfigChangeDeregistersLeaversAndHoldsOffNewcomers) {
  auto c = server();
  c.devices = {"a*"};
  c.holdOff = 2;
  make({c});
  regs->start();
  run(2s);
  registered("a1", "1");
  regs->deviceRegistered(device("b1"));  // not bridged
  EXPECT_TRUE(rec.take().empty());
  auto changed = c;
  changed.devices = {"b*"};
  regs->setServers({changed});
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kDeregister);
  EXPECT_EQ(sent[0].device, "a1");
  answer(sent[0], kDeleted);
  run(1990ms);
  EXPECT_TRUE(rec.take().empty());  // b1 waits for the hold-off the change started
  run(20ms);
  sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].device, "b1");
  EXPECT_EQ(sent[0].kind, Kind::kRegister);
}

TEST_F(UpstreamRegistrationTest, NewPrefixDeregistersTheOldNameAndRegistersTheNew) {
  auto c = server();
  make({c});
  regs->start();
  registered("d1", "1");
  auto changed = c;
  changed.endpointPrefix = "gw-";
  regs->setServers({changed});
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kDeregister);
  answer(sent[0], kDeleted);
  run(100ms);
  sent = rec.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].kind, Kind::kRegister);
  EXPECT_EQ(sent[0].query[0], "ep=gw-d1");
}

TEST_F(UpstreamRegistrationTest, NewLifetimeIsAnUpdateAndRemovedServerIsDeregistered) {
  auto a = server("coap://a:5683");
  auto b = server("coap://b:5683");
  make({a, b});
  regs->start();
  regs->deviceRegistered(device("d1"));
  for (const auto& s : rec.take()) answer(s, kCreated, {"rd", "x"});
  auto a2 = a;
  a2.lifetime = 120;
  regs->setServers({a2});
  auto sent = rec.take();
  ASSERT_EQ(sent.size(), 2u);
  std::map<std::string, Outgoing> byServer;
  for (auto& s : sent) byServer[s.server] = s;
  EXPECT_EQ(byServer[a.uri].kind, Kind::kUpdate);
  EXPECT_EQ(byServer[a.uri].query, (std::vector<std::string>{"lt=120"}));
  EXPECT_EQ(byServer[b.uri].kind, Kind::kDeregister);
  answer(byServer[b.uri], kDeleted);
  EXPECT_EQ(regs->list("d1").size(), 1u);
  EXPECT_FALSE(regs->server(b.uri));
}

TEST_F(UpstreamRegistrationTest, TenThousandDevicesAreScheduledWithoutQuadraticWork) {
  auto c = server();
  c.registrationsPerSecond = 1000;
  make({c});
  regs->start();
  for (int k = 0; k < 10000; ++k) regs->deviceRegistered(device("d" + std::to_string(k)));
  std::size_t sent = 0;
  for (const auto& m : rec.take()) {
    answer(m, kCreated, {"rd", m.device});
    ++sent;
  }
  for (int step = 0; step < 1100 && sent < 10000; ++step) {
    clock.advance(10ms);
    regs->tick();
    for (const auto& m : rec.take()) {
      answer(m, kCreated, {"rd", m.device});
      ++sent;
    }
  }
  EXPECT_EQ(sent, 10000u);  // in about 10 s at 1000/s
  EXPECT_EQ(store.rows.size(), 10000u);
}

}  // namespace
}  // namespace lwgate::bridge
