#include "gateway/core/queue.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "tests/support/manual_clock.h"

namespace lwgate::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// In-memory RequestStore with switchable failures; it records the state each request had when
// it was last saved, so a test can check "persisted before sent".
class FakeRequestStore final : public RequestStore {
 public:
  Result<std::int64_t> insertRequest(const DownlinkRequest& r) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    DownlinkRequest copy = r;
    copy.id = ++lastId;
    rows[copy.id] = copy;
    return copy.id;
  }
  Result<std::optional<DownlinkRequest>> findByIdempotencyKey(std::string_view endpoint,
                                                              std::string_view key) override {
    for (const auto& [id, r] : rows) {
      if (r.endpoint == endpoint && r.idempotencyKey && *r.idempotencyKey == key) {
        return std::optional<DownlinkRequest>(r);
      }
    }
    return std::optional<DownlinkRequest>();
  }
  Result<void> saveRequest(const DownlinkRequest& r) override {
    if (fail) return makeError(ErrorCode::kStorage, "disk full");
    rows[r.id] = r;
    return {};
  }
  Result<std::vector<DownlinkRequest>> loadUnfinished() override {
    std::vector<DownlinkRequest> out;
    for (const auto& [id, r] : rows) {
      if (!isFinal(r.state)) out.push_back(r);
    }
    return out;
  }

  std::map<std::int64_t, DownlinkRequest> rows;
  std::int64_t lastId = 0;
  bool fail = false;
};

class Recorder final : public QueueListener {
 public:
  explicit Recorder(FakeRequestStore& store) : store_(store) {}
  void send(const DownlinkRequest& r) override {
    // OMA issue #104: by the time it goes out, the store holds it in flight with these ids.
    const DownlinkRequest& saved = store_.rows.at(r.id);
    EXPECT_EQ(saved.state, RequestState::kInFlight);
    EXPECT_EQ(saved.messageId, r.messageId);
    EXPECT_EQ(saved.token, r.token);
    sent.push_back(r);
  }
  // Group commit: only an idempotent request with a token of the queue's own goes out before
  // its transmission is persisted; the store holds it as it was submitted or last saved.
  void sendUnsaved(const DownlinkRequest& r) override {
    EXPECT_TRUE(isIdempotent(r.operation)) << operationName(r.operation);
    EXPECT_FALSE(takesCallerToken(r.operation)) << operationName(r.operation);
    EXPECT_TRUE(store_.rows.contains(r.id)) << "committed when it was submitted";
    EXPECT_NE(store_.rows.at(r.id).state, RequestState::kInFlight);
    unsaved.push_back(r.id);
    sent.push_back(r);
  }
  void finished(const DownlinkRequest& r) override {
    // Reported only once persisted in this final state (or refused by a failing store).
    if (!store_.fail) {
      EXPECT_EQ(store_.rows.at(r.id).state, r.state);
    }
    done.push_back(r);
  }
  void reachabilityChanged(std::string_view endpoint, bool reachable) override {
    reachability.push_back(std::string(endpoint) + (reachable ? " awake" : " asleep"));
  }

  std::vector<DownlinkRequest> sent;
  std::vector<std::int64_t> unsaved;  // ids of sent that went out unsaved
  std::vector<DownlinkRequest> done;
  std::vector<std::string> reachability;

 private:
  FakeRequestStore& store_;
};

DownlinkRequest request(std::string path, Operation op = Operation::kRead,
                        std::string endpoint = "dev") {
  DownlinkRequest r;
  r.endpoint = std::move(endpoint);
  r.operation = op;
  r.path = std::move(path);
  return r;
}

class QueueTest : public ::testing::Test {
 protected:
  QueueTest() { q->setListener(&rec); }

  // The tests of the strict path (every transmission persisted before it is sent, every
  // answer at once) run with maxUnsavedSends 0 unless they set unsavedSends; the GroupCommit
  // tests below cover the rest.
  std::unique_ptr<DownlinkQueue> makeQueue(QueueConfig config = {}) {
    config.maxUnsavedSends = unsavedSends;
    return std::make_unique<DownlinkQueue>(clock, store, config, [this] {
      ++mid;
      return DownlinkQueue::TransmissionIds{mid, {static_cast<std::uint8_t>(mid & 0xff), 0x7a}};
    });
  }
  std::int64_t submit(std::string path, Operation op = Operation::kRead) {
    auto s = q->submit(request(std::move(path), op));
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? s->id : -1;
  }

  testing::ManualClock clock;
  FakeRequestStore store;
  std::uint16_t mid = 100;
  std::size_t unsavedSends = 0;
  std::unique_ptr<DownlinkQueue> q = makeQueue();
  Recorder rec{store};
};

TEST_F(QueueTest, NonQueueModeDeviceGetsRequestAtOnceAfterItIsPersisted) {
  q->deviceRegistered("dev", /*queueMode=*/false);
  const auto id = submit("/3/0/0");
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].id, id);
  EXPECT_EQ(rec.sent[0].messageId, 101);
  EXPECT_EQ(store.rows[id].state, RequestState::kInFlight);
  EXPECT_EQ(store.rows[id].deadline, clock.wallNow() + seconds(86400)) << "default TTL";
  q->responded(id, 0x45, {'4', '2'}, 0);
  ASSERT_EQ(rec.done.size(), 1u);
  EXPECT_EQ(store.rows[id].state, RequestState::kDone);
  EXPECT_EQ(store.rows[id].responseCode, 0x45);
  EXPECT_EQ(store.rows[id].responsePayload, (std::vector<std::uint8_t>{'4', '2'}));
  EXPECT_EQ(q->find(id), nullptr) << "final requests leave memory";
}

TEST_F(QueueTest, ReachabilityChangesAreToldOnceEachAndTheAwakeWindowEndsOnTheTimer) {
  q->deviceRegistered("dev", /*queueMode=*/true);
  EXPECT_EQ(rec.reachability, std::vector<std::string>{"dev awake"});
  EXPECT_EQ(q->nextTimer(), clock.steadyNow() + milliseconds(93'000)) << "the window's end";
  clock.advance(milliseconds(50'000));
  q->deviceMessage("dev");  // still awake: nothing new, the window moves on
  EXPECT_EQ(rec.reachability.size(), 1u);
  EXPECT_EQ(q->nextTimer(), clock.steadyNow() + milliseconds(93'000));
  clock.advance(milliseconds(93'000));
  q->tick();
  EXPECT_EQ(rec.reachability, (std::vector<std::string>{"dev awake", "dev asleep"}));
  EXPECT_FALSE(q->reachable("dev"));
  q->deviceMessage("dev");
  const auto id = submit("/3/0/0");
  q->transportFailed(id, "no answer");
  q->deviceGone("dev");  // already unreachable: nothing new
  EXPECT_EQ(rec.reachability,
            (std::vector<std::string>{"dev awake", "dev asleep", "dev awake", "dev asleep"}));
  // A device not in queue mode has no window: only failures and messages change it.
  q->deviceRegistered("always", false);
  clock.advance(milliseconds(200'000));
  q->tick();
  EXPECT_EQ(rec.reachability.back(), "always awake");
  EXPECT_TRUE(q->reachable("always"));
}

TEST_F(QueueTest, APerDeviceAwakeWindowAppliesFromTheNextMessage) {
  q->deviceRegistered("dev", /*queueMode=*/true, milliseconds(5'000));
  clock.advance(milliseconds(6'000));
  EXPECT_FALSE(q->reachable("dev"));
  q->setAwakeWindow("dev", milliseconds(60'000));
  EXPECT_FALSE(q->reachable("dev"));
  q->deviceMessage("dev");
  clock.advance(milliseconds(59'000));
  EXPECT_TRUE(q->reachable("dev"));
  q->setAwakeWindow("dev", std::nullopt);  // back to the configured 93 s
  q->deviceMessage("dev");
  clock.advance(milliseconds(92'000));
  EXPECT_TRUE(q->reachable("dev"));
  clock.advance(milliseconds(2'000));
  EXPECT_FALSE(q->reachable("dev"));
}

TEST_F(QueueTest, OneRequestInFlightPerDeviceInSubmissionOrder) {
  q->deviceRegistered("dev", false);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit("/3/0/" + std::to_string(i)));
  ASSERT_EQ(rec.sent.size(), 1u);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(rec.sent.size(), i + 1);
    EXPECT_EQ(rec.sent.back().id, ids[i]);
    EXPECT_EQ(q->inFlight("dev"), ids[i]);
    q->responded(ids[i], 0x45, {}, std::nullopt);
  }
  EXPECT_EQ(q->unfinished("dev"), 0u);
}

TEST_F(QueueTest, ErrorResponseIsAFinalAnswer) {
  q->deviceRegistered("dev", false);
  const auto id = submit("/99/0");
  q->responded(id, 0x84, {}, std::nullopt);  // 4.04
  EXPECT_EQ(store.rows[id].state, RequestState::kDone);
  EXPECT_EQ(store.rows[id].responseCode, 0x84);
}

TEST_F(QueueTest, QueueModeDeviceIsSentToOnlyWhileAwake) {
  q->deviceRegistered("dev", /*queueMode=*/true, std::nullopt, /*heardNow=*/false);
  const auto a = submit("/3/0/0");
  EXPECT_TRUE(rec.sent.empty()) << "asleep: never heard from since the gateway started";
  q->deviceMessage("dev");  // e.g. an Update
  ASSERT_EQ(rec.sent.size(), 1u);
  q->responded(a, 0x45, {}, std::nullopt);  // awake again from now
  clock.advance(milliseconds(92'999));
  const auto b = submit("/3/0/1");
  ASSERT_EQ(rec.sent.size(), 2u) << "still inside the 93 s awake window";
  q->responded(b, 0x45, {}, std::nullopt);
  clock.advance(seconds(94));
  submit("/3/0/2");
  EXPECT_EQ(rec.sent.size(), 2u) << "the awake window is over";
  EXPECT_FALSE(q->reachable("dev"));
  q->deviceMessage("dev");
  EXPECT_EQ(rec.sent.size(), 3u);
}

TEST_F(QueueTest, PerDeviceAwakeWindowOverridesTheDefault) {
  q->deviceRegistered("dev", true, milliseconds(5'000));
  clock.advance(milliseconds(5'001));
  submit("/3/0/0");
  EXPECT_TRUE(rec.sent.empty());
  q->deviceMessage("dev");
  EXPECT_EQ(rec.sent.size(), 1u);
}

TEST_F(QueueTest, ReRegistrationIsAWakeUpAndKeepsTheQueue) {
  q->deviceRegistered("dev", true, std::nullopt, false);
  submit("/3/0/0");
  submit("/3/0/1");
  q->deviceGone("dev");  // expired or de-registered
  q->deviceMessage("dev");
  EXPECT_TRUE(rec.sent.empty()) << "not registered: no address to send to";
  q->deviceRegistered("dev", true);  // a full Register wakes it
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].path, "/3/0/0");
  EXPECT_EQ(q->unfinished("dev"), 2u);
}

TEST_F(QueueTest, TransportFailureReturnsToHeadAndWaitsForTheDevice) {
  q->deviceRegistered("dev", false);
  const auto a = submit("/3/0/4", Operation::kExecute);
  const auto b = submit("/3/0/0");
  ASSERT_EQ(rec.sent.size(), 1u);
  const auto firstMid = rec.sent[0].messageId;
  const auto firstToken = rec.sent[0].token;
  q->transportFailed(a, "retransmissions exhausted");
  EXPECT_EQ(store.rows[a].state, RequestState::kQueued);
  EXPECT_EQ(store.rows[a].attempts, 1u);
  EXPECT_FALSE(q->reachable("dev")) << "counts as asleep until it talks again";
  EXPECT_EQ(rec.sent.size(), 1u) << "b waits behind a";
  clock.advance(seconds(60));
  q->deviceMessage("dev");
  ASSERT_EQ(rec.sent.size(), 2u);
  EXPECT_EQ(rec.sent[1].id, a) << "back at the head";
  EXPECT_EQ(rec.sent[1].messageId, firstMid) << "same exchange within EXCHANGE_LIFETIME";
  EXPECT_EQ(rec.sent[1].token, firstToken);
  q->responded(a, 0x44, {}, std::nullopt);
  EXPECT_EQ(rec.sent.back().id, b);
}

TEST_F(QueueTest, ResendAfterExchangeLifetimeIsANewExchange) {
  q->deviceRegistered("dev", false);
  const auto a = submit("/3/0/0");
  const auto firstMid = rec.sent[0].messageId;
  q->transportFailed(a, "RST");
  clock.advance(seconds(248));
  q->deviceMessage("dev");
  ASSERT_EQ(rec.sent.size(), 2u);
  EXPECT_NE(rec.sent[1].messageId, firstMid);
  EXPECT_EQ(store.rows[a].sentAt, clock.wallNow());
}

TEST_F(QueueTest, TooManyTransportFailuresFail) {
  q = makeQueue({.maxAttempts = 3});
  q->setListener(&rec);
  q->deviceRegistered("dev", false);
  const auto a = submit("/3/0/0");
  for (int i = 0; i < 3; ++i) {
    q->transportFailed(a, "retransmissions exhausted");
    q->deviceMessage("dev");
  }
  EXPECT_EQ(store.rows[a].state, RequestState::kFailed);
  EXPECT_NE(store.rows[a].reason.find("no answer after 3 attempts"), std::string::npos);
  EXPECT_EQ(rec.sent.size(), 3u);
}

TEST_F(QueueTest, QueuedRequestsExpireAtTheirDeadline) {
  q->deviceRegistered("dev", true, std::nullopt, false);
  DownlinkRequest r = request("/3/0/0");
  r.deadline = clock.wallNow() + seconds(30);
  auto s = q->submit(r);
  ASSERT_TRUE(s.ok());
  submit("/3/0/1");  // default TTL: one day
  EXPECT_EQ(q->nextTimer(), clock.steadyNow() + seconds(30));
  clock.advance(seconds(29));
  q->tick();
  EXPECT_EQ(store.rows[s->id].state, RequestState::kQueued);
  clock.advance(seconds(1));
  q->tick();
  EXPECT_EQ(store.rows[s->id].state, RequestState::kExpired);
  ASSERT_EQ(rec.done.size(), 1u);
  EXPECT_EQ(q->unfinished("dev"), 1u);
  EXPECT_EQ(q->nextTimer(), clock.steadyNow() + seconds(86400 - 30));
}

TEST_F(QueueTest, WaitingTellsTheWakeUpTheEarliestDeadlineAndAnyUrgentRequest) {
  EXPECT_EQ(q->waiting("dev"), std::nullopt);
  q->deviceRegistered("dev", true, std::nullopt, false);
  const auto first = submit("/3/0/0");  // default TTL: one day
  auto w = q->waiting("dev");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->requestId, first);
  EXPECT_EQ(w->deadline, clock.wallNow() + seconds(86400));
  EXPECT_FALSE(w->urgent);

  DownlinkRequest soon = request("/3/0/1");
  soon.deadline = clock.wallNow() + seconds(60);
  const auto early = q->submit(soon)->id;
  w = q->waiting("dev");
  EXPECT_EQ(w->requestId, early);
  EXPECT_EQ(w->deadline, clock.wallNow() + seconds(60));

  DownlinkRequest now = request("/3/0/2");
  now.urgent = true;
  const auto urgent = q->submit(now)->id;
  w = q->waiting("dev");
  EXPECT_TRUE(w->urgent);
  EXPECT_EQ(w->requestId, urgent);
  EXPECT_EQ(w->deadline, clock.wallNow() + seconds(60));
  EXPECT_TRUE(store.rows[urgent].urgent);

  // Only what waits counts: once the urgent one is cancelled, nothing urgent is left.
  ASSERT_TRUE(q->cancel(urgent).ok());
  EXPECT_FALSE(q->waiting("dev")->urgent);
}

TEST_F(QueueTest, InFlightDoesNotExpireButARequeuedOneDoes) {
  q->deviceRegistered("dev", false);
  DownlinkRequest r = request("/3/0/0");
  r.deadline = clock.wallNow() + seconds(30);
  auto s = q->submit(r);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(q->nextTimer().has_value()) << "in flight: the CoAP layer decides";
  clock.advance(seconds(31));
  q->tick();
  EXPECT_EQ(store.rows[s->id].state, RequestState::kInFlight);
  q->transportFailed(s->id, "no answer");
  EXPECT_EQ(q->nextTimer(), clock.steadyNow() - seconds(1)) << "back in the queue, overdue";
  q->tick();
  EXPECT_EQ(store.rows[s->id].state, RequestState::kExpired);
  EXPECT_FALSE(q->nextTimer().has_value());
}

TEST_F(QueueTest, IdempotencyKeyReturnsTheFirstRequest) {
  DownlinkRequest r = request("/3/0/4", Operation::kExecute);
  r.idempotencyKey = "reboot-2026-11-22";
  auto first = q->submit(r);
  auto second = q->submit(r);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_FALSE(first->existing);
  EXPECT_TRUE(second->existing);
  EXPECT_EQ(first->id, second->id);
  EXPECT_EQ(store.rows.size(), 1u);
}

TEST_F(QueueTest, QueueLengthIsBounded) {
  q = makeQueue({.maxPerDevice = 2});
  q->setListener(&rec);
  submit("/3/0/0");
  submit("/3/0/1");
  auto third = q->submit(request("/3/0/2"));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kLimitReached);
  EXPECT_EQ(store.rows.size(), 2u);
  EXPECT_TRUE(q->submit(request("/3/0/2", Operation::kRead, "other")).ok());
}

TEST_F(QueueTest, BadSubmissionsStoreNothing) {
  EXPECT_EQ(q->submit(request("")).error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(q->submit(request("/3", Operation::kRead, "")).error().code, ErrorCode::kBadRequest);
  store.fail = true;
  EXPECT_EQ(q->submit(request("/3")).error().code, ErrorCode::kStorage);
  EXPECT_TRUE(store.rows.empty());
  EXPECT_EQ(q->unfinished("dev"), 0u);
}

TEST_F(QueueTest, CancelOnlyWhileQueued) {
  q->deviceRegistered("dev", false);
  const auto a = submit("/3/0/0");
  const auto b = submit("/3/0/1");
  EXPECT_EQ(q->cancel(a).error().code, ErrorCode::kBadRequest) << "in flight";
  ASSERT_TRUE(q->cancel(b).ok());
  EXPECT_EQ(store.rows[b].state, RequestState::kCancelled);
  EXPECT_EQ(q->cancel(b).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(q->cancel(999).error().code, ErrorCode::kNotFound);
  q->responded(a, 0x45, {}, std::nullopt);
  EXPECT_EQ(rec.sent.size(), 1u) << "the cancelled one is never sent";
}

TEST_F(QueueTest, StaleAndUnknownAnswersAreIgnored) {
  q->deviceRegistered("dev", false);
  const auto a = submit("/3/0/0");
  q->responded(12345, 0x45, {}, std::nullopt);
  q->transportFailed(12345, "x");
  q->responded(a, 0x45, {}, std::nullopt);
  q->responded(a, 0x80, {}, std::nullopt);  // a late duplicate
  EXPECT_EQ(store.rows[a].responseCode, 0x45);
  EXPECT_EQ(rec.done.size(), 1u);
}

TEST_F(QueueTest, StoreFailureBeforeSendingSendsNothing) {
  q->deviceRegistered("dev", true, std::nullopt, false);
  const auto a = submit("/3/0/0");
  store.fail = true;
  q->deviceMessage("dev");
  EXPECT_TRUE(rec.sent.empty()) << "never sent unless persisted in flight";
  EXPECT_EQ(store.rows[a].state, RequestState::kQueued);
  store.fail = false;
  q->deviceMessage("dev");
  ASSERT_EQ(rec.sent.size(), 1u);
}

TEST_F(QueueTest, FinalStateTheStoreRefusedIsSavedLater) {
  q->deviceRegistered("dev", false);
  const auto a = submit("/3/0/0");
  store.fail = true;
  q->responded(a, 0x45, {}, std::nullopt);
  EXPECT_EQ(rec.done.size(), 1u);
  EXPECT_EQ(store.rows[a].state, RequestState::kInFlight);
  ASSERT_TRUE(q->nextTimer().has_value());
  store.fail = false;
  q->tick();
  EXPECT_EQ(store.rows[a].state, RequestState::kDone);
}

// Restart: what the store holds is what the new queue starts from.
class QueueRestartTest : public QueueTest {
 protected:
  // Puts a request in flight on a device, then "restarts": a new queue over the same store.
  std::int64_t inFlightThenRestart(Operation op, seconds downFor) {
    q->deviceRegistered("dev", false);
    const auto id = submit("/3/0/4", op);
    submit("/3/0/0");
    EXPECT_EQ(store.rows[id].state, RequestState::kInFlight);
    clock.advance(downFor);
    q = makeQueue();
    q->setListener(&rec);
    rec.sent.clear();
    auto restored = q->restore();
    EXPECT_TRUE(restored.ok());
    if (restored.ok()) lastRestored = *restored;
    return id;
  }
  DownlinkQueue::Restored lastRestored;
};

TEST_F(QueueRestartTest, InFlightWithinExchangeLifetimeIsResentWithTheSameIds) {
  const auto id = inFlightThenRestart(Operation::kExecute, seconds(10));
  const auto oldMid = store.rows[id].messageId;
  EXPECT_EQ(lastRestored.resumed, 1u);
  EXPECT_EQ(lastRestored.queued, 1u);
  q->deviceRegistered("dev", false, std::nullopt, /*heardNow=*/false);
  EXPECT_TRUE(rec.sent.empty()) << "no session after a restart until the device talks";
  q->deviceMessage("dev");
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].id, id);
  EXPECT_EQ(rec.sent[0].messageId, oldMid) << "the device's deduplication drops a repeat";
  EXPECT_EQ(q->cancel(id).error().code, ErrorCode::kBadRequest);
}

TEST_F(QueueRestartTest, NonIdempotentInFlightTooLongAgoFailsAsOutcomeUnknown) {
  const auto id = inFlightThenRestart(Operation::kExecute, seconds(300));
  ASSERT_EQ(lastRestored.failed.size(), 1u);
  EXPECT_EQ(store.rows[id].state, RequestState::kFailed);
  EXPECT_NE(store.rows[id].reason.find("outcome unknown"), std::string::npos);
  q->deviceRegistered("dev", false);
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].path, "/3/0/0") << "the rest of the queue goes on";
}

TEST_F(QueueRestartTest, IdempotentInFlightTooLongAgoIsResentAsANewExchange) {
  const auto id = inFlightThenRestart(Operation::kRead, seconds(300));
  const auto oldMid = store.rows[id].messageId;
  EXPECT_TRUE(lastRestored.failed.empty());
  q->deviceRegistered("dev", false);
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].id, id);
  EXPECT_NE(rec.sent[0].messageId, oldMid);
}

TEST_F(QueueRestartTest, ResumedExecuteFailsIfTheDeviceComesBackTooLate) {
  const auto id = inFlightThenRestart(Operation::kExecute, seconds(10));
  clock.advance(seconds(300));
  q->deviceRegistered("dev", false);
  EXPECT_EQ(store.rows[id].state, RequestState::kFailed);
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].path, "/3/0/0");
}

TEST_F(QueueRestartTest, QueuedRequestsSurviveInOrder) {
  q->deviceRegistered("dev", true, std::nullopt, false);
  for (int i = 0; i < 10; ++i) submit("/3/0/" + std::to_string(i));
  q = makeQueue();
  q->setListener(&rec);
  ASSERT_TRUE(q->restore().ok());
  q->deviceRegistered("dev", true);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(rec.sent.size(), static_cast<std::size_t>(i + 1));
    EXPECT_EQ(rec.sent.back().path, "/3/0/" + std::to_string(i));
    q->responded(rec.sent.back().id, 0x45, {}, std::nullopt);
  }
}

TEST_F(QueueTest, ObserveAndCancelObserveKeepTheCallersTokenOtherOperationsGetAFreshOne) {
  q->deviceRegistered("dev", false);
  const std::vector<std::uint8_t> token{1, 2, 3, 4, 5, 6, 7, 8};
  DownlinkRequest read = request("/3/0/9");
  read.token = token;
  auto r = q->submit(read);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(rec.sent.back().token, token);
  q->responded(r->id, 0x45, {}, std::nullopt);
  for (Operation op : {Operation::kObserve, Operation::kCancelObserve}) {
    DownlinkRequest o = request("/3/0/9", op);
    o.token = token;
    auto s = q->submit(o);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(store.rows[s->id].token, token) << "persisted with the submission";
    EXPECT_EQ(rec.sent.back().token, token);
    EXPECT_EQ(rec.sent.back().messageId, mid) << "the Message ID is still a fresh one";
    q->responded(s->id, 0x45, {}, std::nullopt);
  }
  DownlinkRequest tooLong = request("/3/0/9", Operation::kObserve);
  tooLong.token.assign(9, 0);
  EXPECT_EQ(q->submit(tooLong).error().code, ErrorCode::kBadRequest);
}

TEST_F(QueueTest, AnObserveSentAgainAsANewExchangeKeepsItsToken) {
  q->deviceRegistered("dev", false);
  const auto id = submit("/3/0/9", Operation::kObserve);
  const auto first = rec.sent.back();
  q->transportFailed(id, "no answer");
  clock.advance(seconds(300));  // past EXCHANGE_LIFETIME: a new exchange
  q->deviceMessage("dev");
  ASSERT_EQ(rec.sent.size(), 2u);
  EXPECT_NE(rec.sent.back().messageId, first.messageId);
  EXPECT_EQ(rec.sent.back().token, first.token) << "RFC 7641 3.3.1: renews, never doubles";
}

TEST_F(QueueTest, AbortEndsTheRequestInFlightAndGoesOn) {
  q->deviceRegistered("dev", false);
  const auto a = submit("/3/0/0");
  submit("/3/0/1");
  q->abort(a, "cannot encode");
  EXPECT_EQ(store.rows[a].state, RequestState::kFailed);
  EXPECT_EQ(store.rows[a].reason, "cannot encode");
  ASSERT_EQ(rec.sent.size(), 2u);
  EXPECT_EQ(rec.sent[1].path, "/3/0/1");
}

// Group commit (QueueConfig::maxUnsavedSends): idempotent requests go out without their
// transmission persisted, answers are held and persisted together.
class GroupCommitTest : public QueueTest {
 protected:
  GroupCommitTest() {
    unsavedSends = 4;
    q = makeQueue();
    q->setListener(&rec);
  }
  // Answers the request in flight on "dev" (2.05) and returns its id.
  std::int64_t answer() {
    const auto id = q->inFlight("dev");
    EXPECT_TRUE(id.has_value());
    if (!id) return -1;
    q->responded(*id, 0x45, {'1'}, 0);
    return *id;
  }
};

TEST_F(GroupCommitTest, AnswersOfADrainArePersistedAndReportedInGroupsInOrder) {
  q->deviceRegistered("dev", true, std::nullopt, /*heardNow=*/false);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(submit("/3/0/" + std::to_string(i)));
  for (auto id : ids) EXPECT_EQ(store.rows[id].state, RequestState::kQueued);
  q->deviceMessage("dev");  // wakes: the first goes out unsaved
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.unsaved, std::vector<std::int64_t>{ids[0]});
  EXPECT_EQ(store.rows[ids[0]].state, RequestState::kQueued) << "not persisted in flight";

  // Three answers are held (the next request is in flight each time): nothing persisted or
  // reported yet, and each answer lets the next request go out at once.
  for (int i = 0; i < 3; ++i) answer();
  EXPECT_TRUE(rec.done.empty());
  EXPECT_EQ(q->held(), 3u);
  EXPECT_EQ(rec.sent.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(store.rows[ids[i]].state, RequestState::kQueued);
  // The group-commit delay is the next timer.
  ASSERT_TRUE(q->nextTimer().has_value());
  EXPECT_EQ(*q->nextTimer(), clock.steadyNow() + milliseconds(5));

  // The fourth answer fills the group (maxUnsavedSends): persisted before the fifth goes out.
  answer();
  ASSERT_EQ(rec.done.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(rec.done[i].id, ids[i]) << "reported in the order they were answered";
    EXPECT_EQ(store.rows[ids[i]].state, RequestState::kDone);
    EXPECT_EQ(store.rows[ids[i]].responseCode, 0x45);
    EXPECT_EQ(store.rows[ids[i]].messageId, rec.sent[i].messageId) << "the ids it went with";
    EXPECT_EQ(store.rows[ids[i]].token, rec.sent[i].token);
  }
  EXPECT_EQ(q->held(), 0u);
  ASSERT_EQ(rec.sent.size(), 5u);
  EXPECT_EQ(rec.unsaved.size(), 5u) << "the group was persisted first, so the fifth goes unsaved";

  // The rest drain; the last answer leaves nothing in flight: persisted at once.
  for (int i = 4; i < 10; ++i) answer();
  EXPECT_EQ(q->held(), 0u);
  ASSERT_EQ(rec.done.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(rec.done[i].id, ids[i]);
    EXPECT_EQ(store.rows[ids[i]].state, RequestState::kDone);
  }
  EXPECT_EQ(rec.sent.size(), 10u);
}

TEST_F(GroupCommitTest, ASingleAnswerIsPersistedAtOnce) {
  q->deviceRegistered("dev", false);
  const auto id = submit("/3/0/0");
  ASSERT_EQ(rec.unsaved, std::vector<std::int64_t>{id});
  answer();
  ASSERT_EQ(rec.done.size(), 1u) << "nothing else in flight: no reason to wait";
  EXPECT_EQ(store.rows[id].state, RequestState::kDone);
  EXPECT_FALSE(q->nextTimer().has_value());
}

TEST_F(GroupCommitTest, HeldAnswersArePersistedWhenTheDelayPasses) {
  q->deviceRegistered("dev", false);
  q->deviceRegistered("other", false);
  const auto a = submit("/3/0/0");
  const auto b = q->submit(request("/3/0/1", Operation::kRead, "other"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(rec.unsaved.size(), 2u);
  answer();  // "other" still waits for its answer: this one is held
  EXPECT_EQ(q->held(), 1u);
  EXPECT_TRUE(rec.done.empty());
  clock.advance(milliseconds(4));
  q->tick();
  EXPECT_TRUE(rec.done.empty()) << "before the delay";
  clock.advance(milliseconds(1));
  ASSERT_EQ(q->nextTimer(), clock.steadyNow());
  q->tick();
  ASSERT_EQ(rec.done.size(), 1u);
  EXPECT_EQ(rec.done[0].id, a);
  EXPECT_EQ(store.rows[a].state, RequestState::kDone);
  EXPECT_EQ(store.rows[b->id].state, RequestState::kQueued) << "still in flight, unsaved";
}

TEST_F(GroupCommitTest, PersistHeldReportsAtOnce) {
  q->deviceRegistered("dev", false);
  q->deviceRegistered("other", false);
  submit("/3/0/0");
  ASSERT_TRUE(q->submit(request("/3/0/1", Operation::kRead, "other")).ok());
  const auto a = answer();
  ASSERT_TRUE(rec.done.empty());
  q->persistHeld();  // e.g. a caller asks for a request
  ASSERT_EQ(rec.done.size(), 1u);
  EXPECT_EQ(store.rows[a].state, RequestState::kDone);
  EXPECT_FALSE(q->nextTimer().has_value());
}

TEST_F(GroupCommitTest, NonIdempotentAndObserveRequestsArePersistedFirstAndHeldAnswersBeforeThem) {
  q->deviceRegistered("dev", false);
  q->deviceRegistered("other", false);
  ASSERT_TRUE(q->submit(request("/3/0/1", Operation::kRead, "other")).ok());  // keeps a group
  const auto read = submit("/3/0/0");
  const auto exec = submit("/3/0/4", Operation::kExecute);
  const auto observe = submit("/3/0/9", Operation::kObserve);
  EXPECT_EQ(rec.unsaved.size(), 2u);
  answer();  // the Read's answer is held ... then the Execute goes out:
  ASSERT_EQ(rec.sent.back().id, exec);
  EXPECT_EQ(rec.unsaved.size(), 2u) << "not unsaved";
  // Recorder::send checked that it was persisted in flight with its ids; the Read's answer
  // was persisted (and reported) before it.
  ASSERT_EQ(rec.done.size(), 1u);
  EXPECT_EQ(rec.done[0].id, read);
  EXPECT_EQ(store.rows[read].state, RequestState::kDone);
  answer();  // Execute: persisted at once, not held
  EXPECT_EQ(store.rows[exec].state, RequestState::kDone);
  EXPECT_EQ(q->held(), 0u);
  ASSERT_EQ(rec.sent.back().id, observe);
  EXPECT_EQ(rec.unsaved.size(), 2u) << "an Observe's token is the observation's: persisted";
  EXPECT_EQ(store.rows[observe].state, RequestState::kInFlight);
}

TEST_F(GroupCommitTest, AtMostMaxUnsavedSendsAreOutUnsavedAtATime) {
  // Five devices, one request each: four go out unsaved, the fifth is persisted first.
  for (int i = 0; i < 5; ++i) {
    const std::string ep = "d" + std::to_string(i);
    q->deviceRegistered(ep, false);
    ASSERT_TRUE(q->submit(request("/3/0/0", Operation::kRead, ep)).ok());
  }
  EXPECT_EQ(rec.sent.size(), 5u);
  EXPECT_EQ(rec.unsaved.size(), 4u);
  EXPECT_EQ(store.rows[rec.sent[4].id].state, RequestState::kInFlight);
  // The unsaved ones stay counted until their answers are persisted.
  q->responded(rec.sent[0].id, 0x45, {}, std::nullopt);
  EXPECT_EQ(q->held(), 1u);
  q->deviceRegistered("d5", false);
  ASSERT_TRUE(q->submit(request("/3/0/0", Operation::kRead, "d5")).ok());
  EXPECT_EQ(rec.unsaved.size(), 4u) << "held answers still count";
  EXPECT_EQ(rec.done.size(), 1u) << "and were persisted before the strict one";
  q->deviceRegistered("d6", false);
  ASSERT_TRUE(q->submit(request("/3/0/0", Operation::kRead, "d6")).ok());
  EXPECT_EQ(rec.unsaved.size(), 5u) << "room again after that";
}

TEST_F(GroupCommitTest, ATransportFailurePersistsTheRequestBackInTheQueue) {
  q->deviceRegistered("dev", false);
  q->deviceRegistered("other", false);
  ASSERT_TRUE(q->submit(request("/3/0/1", Operation::kRead, "other")).ok());
  const auto a = submit("/3/0/0");
  const auto b = submit("/3/0/1");
  answer();  // held
  ASSERT_EQ(q->inFlight("dev"), b);
  q->transportFailed(b, "no answer");
  EXPECT_EQ(store.rows[a].state, RequestState::kDone) << "held answers persisted first";
  EXPECT_EQ(store.rows[b].state, RequestState::kQueued);
  EXPECT_EQ(store.rows[b].messageId, rec.sent.back().messageId)
      << "persisted with the ids it went with, for a resend within EXCHANGE_LIFETIME";
  EXPECT_EQ(store.rows[b].attempts, 1u);
}

TEST_F(GroupCommitTest, ACrashLosesHeldAnswersAndTheRequestsGoOutAgain) {
  q->deviceRegistered("dev", false);
  q->deviceRegistered("other", false);
  ASSERT_TRUE(q->submit(request("/3/0/1", Operation::kRead, "other")).ok());
  const auto a = submit("/3/0/0");
  const auto b = submit("/3/0/1");
  answer();
  ASSERT_EQ(q->held(), 1u);
  // "kill -9": a new queue over what the store holds.
  q = makeQueue();
  q->setListener(&rec);
  rec.sent.clear();
  auto restored = q->restore();
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->queued, 3u) << "never persisted in flight: queued, sent again";
  EXPECT_EQ(restored->resumed, 0u);
  EXPECT_TRUE(restored->failed.empty());
  q->deviceRegistered("dev", false);
  ASSERT_EQ(rec.sent.size(), 1u);
  EXPECT_EQ(rec.sent[0].id, a);
  answer();
  ASSERT_EQ(rec.sent.back().id, b);
}

TEST(DownlinkNames, RoundTripAndIdempotence) {
  for (auto op :
       {Operation::kRead, Operation::kDiscover, Operation::kWrite, Operation::kWritePartial,
        Operation::kWriteAttributes, Operation::kExecute, Operation::kCreate, Operation::kDelete,
        Operation::kObserve, Operation::kCancelObserve, Operation::kReadComposite,
        Operation::kWriteComposite, Operation::kObserveComposite}) {
    EXPECT_EQ(parseOperation(operationName(op)), op);
  }
  EXPECT_FALSE(parseOperation("reboot").has_value());
  EXPECT_FALSE(isIdempotent(Operation::kExecute));
  EXPECT_FALSE(isIdempotent(Operation::kCreate));
  EXPECT_FALSE(isIdempotent(Operation::kWritePartial));
  EXPECT_TRUE(isIdempotent(Operation::kWrite));
  EXPECT_TRUE(isIdempotent(Operation::kRead));
  EXPECT_EQ(parseState("in_flight"), RequestState::kInFlight);
  EXPECT_EQ(stateName(RequestState::kCancelled), "cancelled");
  EXPECT_TRUE(isFinal(RequestState::kExpired));
  EXPECT_FALSE(isFinal(RequestState::kInFlight));
}

}  // namespace
}  // namespace lwgate::core
