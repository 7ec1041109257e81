// The modem thread against a scripted backend: sends, failures, reconnects with back-off, and
// received SMS that stay on the modem until the main loop says they are stored. Real thread,
// real time (short intervals); every wait is bounded and waits for a condition.
#include "modem/worker.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <map>
#include <mutex>
#include <set>

namespace lwgate::modem {
namespace {

using namespace std::chrono_literals;

namespace fake {

// What the test scripts and observes; shared with the backend the worker owns.
struct ModemState {
  std::mutex mutex;
  int connectFailures = 0;  // the next N connect() calls fail
  int connects = 0;
  bool loseOnNextSend = false;
  std::optional<int> refuseNextSend;  // +CMS ERROR code
  std::vector<std::pair<std::string, SmsPart>> sent;
  std::map<std::uint64_t, StoredSms> stored;
  std::vector<std::uint64_t> removed;
  std::set<std::uint64_t> undeletable;  // remove() fails for these (the connection stays)
  int nextReference = 0;
  int lists = 0;
};

class Backend final : public modem::Backend {
 public:
  explicit Backend(std::shared_ptr<ModemState> s) : s_(std::move(s)) {}
  Result<Health> connect() override {
    std::lock_guard lock(s_->mutex);
    ++s_->connects;
    if (s_->connectFailures > 0) {
      --s_->connectFailures;
      return makeError(ErrorCode::kLimitReached, "connecting: no such device");
    }
    connected_ = true;
    Health h;
    h.manufacturer = "fake";
    return h;
  }
  void disconnect() override { connected_ = false; }
  bool connected() const override { return connected_; }
  Result<int> sendPart(const std::string& msisdn, const SmsPart& part,
                       const SendOptions&) override {
    std::lock_guard lock(s_->mutex);
    if (s_->loseOnNextSend) {
      s_->loseOnNextSend = false;
      connected_ = false;
      return makeError(ErrorCode::kLimitReached, "sending an SMS: device write error");
    }
    if (s_->refuseNextSend) {
      auto code = *s_->refuseNextSend;
      s_->refuseNextSend.reset();
      return makeError(ErrorCode::kLimitReached, "+CMS ERROR " + std::to_string(code));
    }
    s_->sent.emplace_back(msisdn, part);
    return ++s_->nextReference;
  }
  Result<std::vector<StoredSms>> list() override {
    std::lock_guard lock(s_->mutex);
    ++s_->lists;
    std::vector<StoredSms> out;
    for (const auto& [h, sms] : s_->stored) out.push_back(sms);
    return out;
  }
  Result<void> remove(std::uint64_t handle) override {
    std::lock_guard lock(s_->mutex);
    if (s_->undeletable.count(handle)) {
      return makeError(ErrorCode::kLimitReached, "deleting a stored SMS: Unknown error.");
    }
    s_->stored.erase(handle);
    s_->removed.push_back(handle);
    return {};
  }
  Result<void> check(Health& h) override {
    h.sim = "ready";
    h.network = "home";
    h.signalPercent = 60;
    return {};
  }

 private:
  std::shared_ptr<ModemState> s_;
  bool connected_ = false;
};

}  // namespace fake

class WorkerTest : public ::testing::Test {
 protected:
  void start(int connectFailures = 0) {
    state->connectFailures = connectFailures;
    WorkerConfig config;
    config.pollInterval = 20ms;
    config.healthInterval = 50ms;
    config.reconnectMin = 20ms;
    config.reconnectMax = 80ms;
    auto w = Worker::start(std::make_unique<fake::Backend>(state), config, clock);
    ASSERT_TRUE(w.ok());
    worker = std::move(*w);
  }

  // Collects events until one satisfies `want` (bounded by `timeout`); returns it.
  template <class T>
  std::optional<T> next(const std::function<bool(const T&)>& want = {},
                        std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (; cursor < events.size(); ++cursor) {
        if (const auto* e = std::get_if<T>(&events[cursor])) {
          if (!want || want(*e)) return *e;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return std::nullopt;
      pollfd p{worker->eventFd(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
      for (auto& e : worker->takeEvents()) events.push_back(std::move(e));
    }
  }
  // Polls the fake's state (under its lock) until cond holds; bounded.
  bool until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      {
        std::lock_guard lock(state->mutex);
        if (cond()) return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
  }
  std::optional<Health> health(bool connected) {
    return next<Health>([&](const Health& h) { return h.connected == connected; });
  }

  SendJob job(std::int64_t id, std::size_t bytes) {
    std::vector<std::uint8_t> message(bytes, 0x42);
    return {id, "+4915112345678", *segment(message)};
  }

  StoredSms deliver(std::uint64_t handle, std::vector<std::uint8_t> header,
                    std::vector<std::uint8_t> data, bool eightBit = true) {
    StoredSms s;
    s.handle = handle;
    s.kind = StoredSms::Kind::kDeliver;
    s.msisdn = "+4915112345678";
    s.eightBit = eightBit;
    s.header = std::move(header);
    s.data = std::move(data);
    return s;
  }

  core::SystemClock clock;
  std::shared_ptr<fake::ModemState> state = std::make_shared<fake::ModemState>();
  std::unique_ptr<Worker> worker;
  std::vector<WorkerEvent> events;
  std::size_t cursor = 0;
};

TEST_F(WorkerTest, ConnectsReportsHealthAndSendsEveryPart) {
  start();
  auto h = health(true);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->manufacturer, "fake");
  EXPECT_EQ(h->sim, "ready");
  EXPECT_EQ(h->network, "home");
  EXPECT_EQ(h->signalPercent, 60);

  worker->send(job(7, 300));  // three parts
  auto done = next<SendDone>();
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->ok) << done->error;
  EXPECT_EQ(done->id, 7);
  EXPECT_EQ(done->partsSent, 3u);
  EXPECT_EQ(done->reference, 3);  // the last part's
  std::lock_guard lock(state->mutex);
  ASSERT_EQ(state->sent.size(), 3u);
  EXPECT_EQ(state->sent[0].first, "+4915112345678");
  EXPECT_EQ(state->sent[2].second.header[5], 3);  // sequence 3 of 3
}

TEST_F(WorkerTest, RetriesTheConnectionWithBackOff) {
  start(3);
  auto down = health(false);
  ASSERT_TRUE(down);
  EXPECT_NE(down->error.find("no such device"), std::string::npos);
  // A send while there is no modem fails at once, with the reason.
  worker->send(job(1, 10));
  auto failed = next<SendDone>();
  ASSERT_TRUE(failed);
  EXPECT_FALSE(failed->ok);
  EXPECT_NE(failed->error.find("no modem"), std::string::npos) << failed->error;
  ASSERT_TRUE(health(true));
  std::lock_guard lock(state->mutex);
  EXPECT_EQ(state->connects, 4);
}

TEST_F(WorkerTest, ADeviceErrorReconnectsAndTheNextSendWorks) {
  start();
  ASSERT_TRUE(health(true));
  {
    std::lock_guard lock(state->mutex);
    state->loseOnNextSend = true;
  }
  worker->send(job(1, 10));
  auto failed = next<SendDone>();
  ASSERT_TRUE(failed);
  EXPECT_FALSE(failed->ok);
  EXPECT_NE(failed->error.find("device write error"), std::string::npos);
  ASSERT_TRUE(health(false));
  ASSERT_TRUE(health(true));
  worker->send(job(2, 10));
  auto done = next<SendDone>([](const SendDone& d) { return d.id == 2; });
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->ok);
}

TEST_F(WorkerTest, ARefusedSmsIsAFailureButNotADisconnection) {
  start();
  ASSERT_TRUE(health(true));
  {
    std::lock_guard lock(state->mutex);
    state->refuseNextSend = 500;
  }
  worker->send(job(1, 10));
  auto failed = next<SendDone>();
  ASSERT_TRUE(failed);
  EXPECT_FALSE(failed->ok);
  EXPECT_NE(failed->error.find("+CMS ERROR 500"), std::string::npos);
  worker->send(job(2, 10));
  auto done = next<SendDone>([](const SendDone& d) { return d.id == 2; });
  ASSERT_TRUE(done && done->ok);
  std::lock_guard lock(state->mutex);
  EXPECT_EQ(state->connects, 1);
}

TEST_F(WorkerTest, ReceivedMessagesStayOnTheModemUntilStored) {
  {
    std::lock_guard lock(state->mutex);
    // Two parts of one message, out of order; a text SMS; a delivery report.
    state->stored[11] = deliver(11, {0x05, 0x00, 0x03, 0x09, 0x02, 0x02}, {0x03, 0x04});
    state->stored[10] = deliver(10, {0x05, 0x00, 0x03, 0x09, 0x02, 0x01}, {0x01, 0x02});
    state->stored[12] = deliver(12, {}, {'h', 'i'}, false);
    StoredSms report;
    report.handle = 13;
    report.kind = StoredSms::Kind::kStatusReport;
    report.msisdn = "+4915112345678";
    report.reference = 5;
    report.status = 0;
    state->stored[13] = report;
  }
  start();
  auto received = next<ReceivedMessage>();
  ASSERT_TRUE(received);
  EXPECT_EQ(received->message.message, (std::vector<std::uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(received->message.msisdn, "+4915112345678");
  auto text = next<DroppedParts>();
  ASSERT_TRUE(text);
  EXPECT_NE(text->dropped.reason.find("text SMS"), std::string::npos);
  auto report = next<DeliveryReport>();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->reference, 5);
  EXPECT_EQ(report->status, 0);

  // Three polls later the message is still on the modem and was not handed over twice.
  int lists = 0;
  {
    std::lock_guard lock(state->mutex);
    lists = state->lists;
  }
  ASSERT_TRUE(until([&] { return state->lists >= lists + 3; }));
  for (auto& e : worker->takeEvents()) events.push_back(std::move(e));
  std::size_t receivedCount = 0;
  for (const auto& e : events) receivedCount += std::holds_alternative<ReceivedMessage>(e);
  EXPECT_EQ(receivedCount, 1u);
  {
    std::lock_guard lock(state->mutex);
    EXPECT_EQ(state->stored.count(10), 1u);
    EXPECT_EQ(state->stored.count(11), 1u);
    EXPECT_EQ(state->stored.count(12), 0u);  // the text SMS went
    EXPECT_EQ(state->stored.count(13), 0u);  // so did the report
  }
  worker->remove(received->message.handles);
  EXPECT_TRUE(until([&] { return state->stored.empty(); })) << "stored SMS never removed";
}

// An SMS the backend cannot decode (garbage a modem holds) is reported and deleted, so it is
// neither listed at every poll nor left to fill the SIM's store.
TEST_F(WorkerTest, AnUndecodableStoredSmsIsReportedAndDeleted) {
  {
    std::lock_guard lock(state->mutex);
    StoredSms bad;
    bad.handle = 21;
    bad.kind = StoredSms::Kind::kUndecodable;
    bad.detail = "Unknown error.";
    state->stored[21] = bad;
  }
  start();
  auto dropped = next<DroppedParts>();
  ASSERT_TRUE(dropped);
  EXPECT_NE(dropped->dropped.reason.find("cannot be decoded (Unknown error.)"), std::string::npos)
      << dropped->dropped.reason;
  EXPECT_TRUE(until([&] { return state->stored.empty(); }));
  std::lock_guard lock(state->mutex);
  EXPECT_EQ(state->removed, std::vector<std::uint64_t>{21});
}

// One the backend cannot delete either stays on the modem and is reported once, not at every
// poll; a readable SMS that later takes its place is handled as usual.
TEST_F(WorkerTest, AnUndeletableUndecodableSmsIsReportedOnce) {
  {
    std::lock_guard lock(state->mutex);
    StoredSms bad;
    bad.handle = 22;
    bad.kind = StoredSms::Kind::kUndecodable;
    bad.detail = "Unknown error.";
    state->stored[22] = bad;
    state->undeletable.insert(22);
  }
  start();
  ASSERT_TRUE(next<DroppedParts>());
  int lists = 0;
  {
    std::lock_guard lock(state->mutex);
    lists = state->lists;
  }
  ASSERT_TRUE(until([&] { return state->lists >= lists + 3; }));
  for (auto& e : worker->takeEvents()) events.push_back(std::move(e));
  std::size_t dropped = 0;
  for (const auto& e : events) dropped += std::holds_alternative<DroppedParts>(e);
  EXPECT_EQ(dropped, 1u);
  {
    std::lock_guard lock(state->mutex);
    state->undeletable.clear();
    state->stored[22] = deliver(22, {}, {'h', 'i'}, false);  // a text SMS now
  }
  auto text = next<DroppedParts>(
      [](const DroppedParts& d) { return d.dropped.reason.find("text SMS") != std::string::npos; });
  ASSERT_TRUE(text);
  EXPECT_TRUE(until([&] { return state->stored.empty(); }));
}

}  // namespace
}  // namespace lwgate::modem
