#include "gateway/core/observation.h"

#include <gtest/gtest.h>

#include <map>

#include "gateway/lwm2m/content_format.h"
#include "tests/support/manual_clock.h"

namespace lwgate::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = ObservationTable::Event::Kind;

// In-memory ObservationStore with a switchable failure; it prunes like the SQLite one.
class FakeObservationStore final : public ObservationStore {
 public:
  Result<std::int64_t> insertObservation(const Observation& o) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    Observation copy = o;
    copy.id = ++lastObservationId;
    observations[copy.id] = copy;
    return copy.id;
  }
  Result<void> saveObservation(const Observation& o) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    if (!observations.contains(o.id)) return makeError(ErrorCode::kNotFound, "none");
    observations[o.id] = o;
    return {};
  }
  Result<void> deleteObservation(std::int64_t id) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    observations.erase(id);
    return {};
  }
  Result<std::vector<Observation>> loadObservations() override {
    std::vector<Observation> out;
    for (const auto& [id, o] : observations) out.push_back(o);
    return out;
  }
  Result<std::int64_t> insertNotification(const Notification& n, std::size_t keep) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    Notification copy = n;
    copy.id = ++lastNotificationId;
    copy.records.clear();  // not persisted
    notifications.push_back(copy);
    lastKeep = keep;
    std::size_t mine = 0;
    for (const auto& x : notifications) mine += x.endpoint == n.endpoint ? 1 : 0;
    for (auto it = notifications.begin(); mine > keep && it != notifications.end();) {
      if (it->endpoint == n.endpoint) {
        it = notifications.erase(it);
        --mine;
      } else {
        ++it;
      }
    }
    return copy.id;
  }
  Result<std::vector<Notification>> listNotifications(std::string_view endpoint, std::size_t limit,
                                                      std::int64_t afterId) override {
    std::vector<Notification> out;
    for (const auto& n : notifications) {
      if (n.endpoint == endpoint && n.id > afterId && out.size() < limit) out.push_back(n);
    }
    return out;
  }

  std::map<std::int64_t, Observation> observations;
  std::vector<Notification> notifications;
  std::int64_t lastObservationId = 0;
  std::int64_t lastNotificationId = 0;
  std::size_t lastKeep = 0;
  bool fail = false;
};

const Token kToken{1, 2, 3, 4, 5, 6, 7, 8};

std::vector<std::uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

// The Observe request as the queue has it in flight: id, token and all.
DownlinkRequest observeRequest(std::string path = "/3/0/9", std::string attributes = "") {
  DownlinkRequest r;
  r.id = 41;
  r.endpoint = "dev-1";
  r.operation = Operation::kObserve;
  r.path = std::move(path);
  r.payload = bytes(attributes);
  r.acceptFormat = lwm2m::format::kTextPlain;
  r.token = kToken;
  r.state = RequestState::kInFlight;
  return r;
}

ObserveMessage message(std::optional<std::uint32_t> seq, std::string_view text,
                       std::uint8_t code = 0x45, bool piggybacked = false) {
  ObserveMessage m;
  m.token = kToken;
  m.code = code;
  m.observe = seq;
  m.contentFormat = lwm2m::format::kTextPlain;
  m.payload = bytes(text);
  m.piggybacked = piggybacked;
  return m;
}

class ObservationTableTest : public ::testing::Test {
 protected:
  // Establishes the observation of /3/0/9 (battery level) with the first value 95 at seq 10.
  std::int64_t establish() {
    auto e = table.observeAnswered(observeRequest("/3/0/9", "pmin=1&pmax=60"),
                                   message(10, "95", 0x45, true));
    EXPECT_EQ(e.kind, Kind::kEstablished) << e.detail;
    return e.observation ? e.observation->id : 0;
  }
  std::vector<std::string> storedValues() const {
    std::vector<std::string> out;
    for (const auto& n : store.notifications) out.emplace_back(n.payload.begin(), n.payload.end());
    return out;
  }

  testing::ManualClock clock;
  FakeObservationStore store;
  ObservationTable table{clock, store, {.maxNotificationsPerDevice = 1000}};
};

TEST(FreshnessTest, Rfc7641Section3Point4) {
  const SteadyTime t{seconds(1000)};
  EXPECT_TRUE(isFresher(5, t, 6, t));
  EXPECT_FALSE(isFresher(6, t, 5, t));
  EXPECT_FALSE(isFresher(6, t, 6, t));
  // 24-bit numbers wrap: 2^24 - 1 is followed by 0.
  EXPECT_TRUE(isFresher((1u << 24) - 1, t, 0, t));
  EXPECT_FALSE(isFresher(0, t, (1u << 24) - 1, t));
  // A jump of 2^23 or more is taken as going backwards.
  EXPECT_FALSE(isFresher(0, t, 1u << 23, t));
  EXPECT_TRUE(isFresher(0, t, (1u << 23) - 1, t));
  // After 128 s the number says nothing any more.
  EXPECT_FALSE(isFresher(6, t, 5, t + seconds(128)));
  EXPECT_TRUE(isFresher(6, t, 5, t + seconds(128) + milliseconds(1)));
}

TEST_F(ObservationTableTest, AnObserveAnsweredWithObserveStartsAnObservationAndStoresTheValue) {
  const std::int64_t id = establish();
  ASSERT_NE(id, 0);
  const Observation& o = store.observations.at(id);
  EXPECT_EQ(o.endpoint, "dev-1");
  EXPECT_EQ(o.path, "/3/0/9");
  EXPECT_EQ(o.token, kToken);
  EXPECT_EQ(o.attributes, "pmin=1&pmax=60");
  EXPECT_EQ(o.acceptFormat, lwm2m::format::kTextPlain);
  EXPECT_EQ(o.requestId, 41);
  EXPECT_EQ(o.lastObserveSeq, 10u);
  EXPECT_EQ(o.lastNotificationAt, clock.wallNow());
  ASSERT_EQ(store.notifications.size(), 1u);
  EXPECT_EQ(store.notifications[0].observationId, id);
  EXPECT_EQ(store.notifications[0].observeSeq, 10u);
  EXPECT_EQ(table.findByToken(kToken), std::vector<std::int64_t>{id});
  EXPECT_FALSE(table.pendingReestablish(id));
}

TEST_F(ObservationTableTest, NotificationsAreDecodedStoredInOrderAndStaleOnesDropped) {
  const std::int64_t id = establish();
  clock.advance(seconds(1));
  auto e = table.notify(id, message(11, "94"));
  ASSERT_EQ(e.kind, Kind::kStored);
  ASSERT_TRUE(e.notification);
  EXPECT_GT(e.notification->id, 0);
  ASSERT_EQ(e.notification->records.size(), 1u);
  EXPECT_EQ(e.notification->records[0].path.toString(), "/3/0/9");
  EXPECT_EQ(*e.notification->records[0].value.get<std::int64_t>(), 94);
  EXPECT_FALSE(e.notification->decodeError);

  EXPECT_EQ(table.notify(id, message(13, "92")).kind, Kind::kStored);
  // 12 overtook by 13 on the way: older than what we have, dropped (RFC 7641 3.4).
  auto stale = table.notify(id, message(12, "93"));
  EXPECT_EQ(stale.kind, Kind::kStale);
  EXPECT_EQ(table.notify(id, message(13, "92")).kind, Kind::kStale);  // a duplicate
  EXPECT_EQ(storedValues(), (std::vector<std::string>{"95", "94", "92"}));
  EXPECT_EQ(store.observations.at(id).lastObserveSeq, 13u);

  // Past 128 s the sequence number no longer orders anything: the newer arrival wins.
  clock.advance(seconds(129));
  EXPECT_EQ(table.notify(id, message(3, "90")).kind, Kind::kStored);
  EXPECT_EQ(store.observations.at(id).lastObserveSeq, 3u);
}

TEST_F(ObservationTableTest, SequenceNumbersWrapAround) {
  auto e = table.observeAnswered(observeRequest(), message((1u << 24) - 2, "1", 0x45, true));
  const std::int64_t id = e.observation->id;
  EXPECT_EQ(table.notify(id, message((1u << 24) - 1, "2")).kind, Kind::kStored);
  EXPECT_EQ(table.notify(id, message(0, "3")).kind, Kind::kStored);
  EXPECT_EQ(table.notify(id, message(1, "4")).kind, Kind::kStored);
  EXPECT_EQ(table.notify(id, message((1u << 24) - 1, "late")).kind, Kind::kStale);
}

TEST_F(ObservationTableTest, APiggybackedAnswerStartsANewSequence) {
  const std::int64_t id = establish();
  EXPECT_EQ(table.notify(id, message(50, "80")).kind, Kind::kStored);
  // The device re-registered us and counts from 2 again; its ACK cannot be an old message.
  EXPECT_EQ(table.notify(id, message(2, "79", 0x45, true)).kind, Kind::kStored);
  EXPECT_EQ(table.notify(id, message(3, "78")).kind, Kind::kStored);
}

TEST_F(ObservationTableTest, AMalformedPayloadIsStoredWithTheDecodeError) {
  const std::int64_t id = establish();
  ObserveMessage m = message(11, "");
  m.contentFormat = lwm2m::format::kTlv;
  m.payload = {0xc8, 0x09, 0x7f};  // a TLV header promising 127 bytes, with none
  auto e = table.notify(id, m);
  ASSERT_EQ(e.kind, Kind::kStored);
  ASSERT_TRUE(e.notification->decodeError);
  EXPECT_FALSE(e.notification->decodeError->empty());
  EXPECT_TRUE(e.notification->records.empty());
  ASSERT_EQ(store.notifications.size(), 2u);
  EXPECT_EQ(store.notifications[1].payload, m.payload);
  EXPECT_EQ(store.notifications[1].decodeError, e.notification->decodeError);
  // The observation goes on.
  EXPECT_EQ(table.notify(id, message(12, "90")).kind, Kind::kStored);
}

TEST_F(ObservationTableTest, TheBoundIsPassedToTheStore) {
  table.setConfig({.maxNotificationsPerDevice = 3});
  const std::int64_t id = establish();
  for (std::uint32_t seq = 11; seq <= 15; ++seq) {
    EXPECT_EQ(table.notify(id, message(seq, std::to_string(seq))).kind, Kind::kStored);
  }
  EXPECT_EQ(store.lastKeep, 3u);
  EXPECT_EQ(storedValues(), (std::vector<std::string>{"13", "14", "15"}));
}

TEST_F(ObservationTableTest, AnErrorNotificationEndsTheObservation) {
  const std::int64_t id = establish();
  auto e = table.notify(id, message(11, "", 0x84));  // 4.04: the resource went away
  EXPECT_EQ(e.kind, Kind::kEnded);
  EXPECT_NE(e.detail.find("4.04"), std::string::npos);
  EXPECT_FALSE(table.find(id));
  EXPECT_FALSE(store.observations.contains(id));
  EXPECT_TRUE(table.findByToken(kToken).empty());
  EXPECT_EQ(storedValues(), std::vector<std::string>{"95"});
}

TEST_F(ObservationTableTest, AFinal2xxWithoutObserveIsStoredAndEndsTheObservation) {
  const std::int64_t id = establish();
  auto e = table.notify(id, message(std::nullopt, "70"));
  EXPECT_EQ(e.kind, Kind::kEnded);
  ASSERT_TRUE(e.notification);
  EXPECT_EQ(storedValues(), (std::vector<std::string>{"95", "70"}));
  EXPECT_FALSE(table.find(id));
}

TEST_F(ObservationTableTest, AnObserveAnsweredWithoutObserveOrWithAnErrorStartsNothing) {
  auto plain = table.observeAnswered(observeRequest(), message(std::nullopt, "95"));
  EXPECT_EQ(plain.kind, Kind::kRefused);
  EXPECT_NE(plain.detail.find("without Observe"), std::string::npos);
  auto error = table.observeAnswered(observeRequest(), message(std::nullopt, "", 0x85));
  EXPECT_EQ(error.kind, Kind::kRefused);
  EXPECT_NE(error.detail.find("4.05"), std::string::npos);
  EXPECT_TRUE(store.observations.empty());
  EXPECT_TRUE(store.notifications.empty());
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(ObservationTableTest, OtherOperationsAreNotTheTablesBusiness) {
  DownlinkRequest read = observeRequest();
  read.operation = Operation::kRead;
  EXPECT_EQ(table.observeAnswered(read, message(1, "95")).kind, Kind::kNone);
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(ObservationTableTest, AStoreFailureLeavesNothingBehind) {
  store.fail = true;
  auto e = table.observeAnswered(observeRequest(), message(1, "95", 0x45, true));
  EXPECT_EQ(e.kind, Kind::kStoreFailed);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_TRUE(table.findByToken(kToken).empty());
}

TEST_F(ObservationTableTest, RestoredObservationsAreReestablishedOnceOnTheNextUpdate) {
  const std::int64_t id = establish();
  ASSERT_EQ(table.notify(id, message(20, "90")).kind, Kind::kStored);

  // The gateway restarts: a new table over the same store.
  ObservationTable after(clock, store, {});
  ASSERT_EQ(*after.restore(), 1u);
  EXPECT_TRUE(after.pendingReestablish(id));
  auto requests = after.reestablish("dev-1", "loc1", /*newRegistration=*/false);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].observationId, id);
  const DownlinkRequest& r = requests[0].request;
  EXPECT_EQ(r.operation, Operation::kObserve);
  EXPECT_EQ(r.endpoint, "dev-1");
  EXPECT_EQ(r.path, "/3/0/9");
  EXPECT_EQ(r.token, kToken);  // RFC 7641 3.3.1: the same token renews
  EXPECT_EQ(std::string(r.payload.begin(), r.payload.end()), "pmin=1&pmax=60");
  EXPECT_EQ(r.acceptFormat, lwm2m::format::kTextPlain);
  EXPECT_EQ(r.idempotencyKey, "reobserve:" + std::to_string(id) + ":loc1:41");
  // Not queued yet (the queue refused it, say): the next Update asks again.
  EXPECT_EQ(after.reestablish("dev-1", "loc1", false).size(), 1u);
  after.reestablishQueued(id);
  EXPECT_TRUE(after.reestablish("dev-1", "loc1", false).empty());
  EXPECT_TRUE(after.reestablish("other", "loc2", false).empty());

  // Notifications the device still sends on the old registration are stored meanwhile, in
  // order with what came before the restart.
  EXPECT_EQ(after.notify(id, message(19, "91")).kind, Kind::kStale);
  EXPECT_EQ(after.notify(id, message(21, "89")).kind, Kind::kStored);
}

TEST_F(ObservationTableTest, ANewRegistrationReestablishesEvenWithoutARestart) {
  const std::int64_t id = establish();
  EXPECT_TRUE(table.reestablish("dev-1", "loc1", /*newRegistration=*/false).empty());
  auto requests = table.reestablish("dev-1", "loc2", /*newRegistration=*/true);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].request.idempotencyKey, "reobserve:" + std::to_string(id) + ":loc2:41");
}

TEST_F(ObservationTableTest, AnsweredReobserveRenewsTheObservationAndRestartsTheSequence) {
  const std::int64_t id = establish();
  ASSERT_EQ(table.notify(id, message(60, "90")).kind, Kind::kStored);
  auto requests = table.reestablish("dev-1", "loc2", true);
  ASSERT_EQ(requests.size(), 1u);
  table.reestablishQueued(id);
  DownlinkRequest sent = requests[0].request;
  sent.id = 77;
  sent.state = RequestState::kInFlight;
  auto e = table.observeAnswered(sent, message(2, "88", 0x45, true));
  EXPECT_EQ(e.kind, Kind::kRenewed);
  EXPECT_EQ(e.observation->id, id);
  EXPECT_EQ(store.observations.at(id).requestId, 77);
  EXPECT_EQ(store.observations.at(id).lastObserveSeq, 2u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.notify(id, message(3, "87")).kind, Kind::kStored);
  EXPECT_EQ(storedValues(), (std::vector<std::string>{"95", "90", "88", "87"}));
  // The next restart makes a new key (a new set-up request), so it is queued again.
  EXPECT_EQ(table.reestablish("dev-1", "loc2", true)[0].request.idempotencyKey,
            "reobserve:" + std::to_string(id) + ":loc2:77");
}

TEST_F(ObservationTableTest, AReobserveThatGotNoAnswerIsTriedAgainAtTheNextUpdate) {
  const std::int64_t id = establish();
  auto requests = table.reestablish("dev-1", "loc2", true);
  table.reestablishQueued(id);
  DownlinkRequest failed = requests[0].request;
  failed.id = 78;
  failed.state = RequestState::kFailed;
  EXPECT_EQ(table.requestFinished(failed).kind, Kind::kNone);
  EXPECT_TRUE(table.pendingReestablish(id));
  EXPECT_EQ(table.reestablish("dev-1", "loc2", false).size(), 1u);
}

TEST_F(ObservationTableTest, AReobserveAnsweredWithAnErrorEndsTheObservation) {
  const std::int64_t id = establish();
  DownlinkRequest sent = table.reestablish("dev-1", "loc2", true)[0].request;
  sent.id = 79;
  auto e = table.observeAnswered(sent, message(std::nullopt, "", 0x84));
  EXPECT_EQ(e.kind, Kind::kEnded);
  EXPECT_FALSE(table.find(id));
}

TEST_F(ObservationTableTest, CancelObserveCarriesTheTokenAndEndsTheObservationWhenAnswered) {
  const std::int64_t id = establish();
  auto cancel = table.cancelRequest(id);
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->operation, Operation::kCancelObserve);
  EXPECT_EQ(cancel->token, kToken);
  EXPECT_EQ(cancel->path, "/3/0/9");
  // Not answered (yet): nothing ends.
  DownlinkRequest r = *cancel;
  r.state = RequestState::kFailed;
  EXPECT_EQ(table.requestFinished(r).kind, Kind::kNone);
  EXPECT_TRUE(table.find(id));
  r.state = RequestState::kDone;
  r.responseCode = 0x45;
  auto e = table.requestFinished(r);
  EXPECT_EQ(e.kind, Kind::kEnded);
  EXPECT_NE(e.detail.find("cancelled"), std::string::npos);
  EXPECT_FALSE(table.find(id));
  EXPECT_EQ(table.cancelRequest(id).error().code, ErrorCode::kNotFound);
}

TEST_F(ObservationTableTest, ForgetIsThePassiveCancel) {
  const std::int64_t id = establish();
  EXPECT_EQ(table.forget(id, "forgotten by the operator").kind, Kind::kEnded);
  EXPECT_TRUE(table.findByToken(kToken).empty());  // the next notification gets RST
  EXPECT_EQ(table.forget(id, "again").kind, Kind::kNone);
}

TEST_F(ObservationTableTest, CompositeObservationsAreKeptButNotReestablished) {
  DownlinkRequest r = observeRequest("/");
  r.operation = Operation::kObserveComposite;
  r.payload = bytes(R"([{"n":"/3/0/9"}])");
  auto e = table.observeAnswered(r, message(1, "", 0x45, true));
  ASSERT_EQ(e.kind, Kind::kEstablished);
  EXPECT_EQ(e.observation->attributes, "");  // the payload is the path list, not attributes
  EXPECT_TRUE(table.reestablish("dev-1", "loc2", true).empty());
  EXPECT_EQ(table.cancelRequest(e.observation->id).error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(table.notify(e.observation->id, message(2, "")).kind, Kind::kStored);
}

TEST_F(ObservationTableTest, ListsObservationsPerDevice) {
  establish();
  DownlinkRequest other = observeRequest("/3/0/0");
  other.endpoint = "dev-2";
  other.token = {9};
  ObserveMessage m = message(1, "x", 0x45, true);
  m.token = other.token;
  ASSERT_EQ(table.observeAnswered(other, m).kind, Kind::kEstablished);
  EXPECT_EQ(table.list("dev-1").size(), 1u);
  EXPECT_EQ(table.list("dev-2").at(0).path, "/3/0/0");
  EXPECT_EQ(table.list("").size(), 2u);
  EXPECT_TRUE(table.list("nobody").empty());
}

}  // namespace
}  // namespace lwgate::core
