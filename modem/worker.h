#pragma once
// The modem thread (DESIGN.md "Threads"): it alone touches the Backend (libgammu has no locks).
// The main loop hands it commands (send, remove) through a queue and learns what happened
// (sent or failed with the message reference, received messages, dropped parts, delivery
// reports, health) from events it takes after the eventfd it watches becomes readable.
//
// The worker keeps the modem connected: after a device error it disconnects and connects again
// with exponential back-off (reconnectMin doubling up to reconnectMax), and meanwhile fails
// sends at once, so the rest of the gateway keeps working without a modem.
//
// Received SMS stay on the modem until the main loop has stored their message and calls
// remove() with its handles; parts that are dropped (garbage, timeout, limits), text SMS and
// delivery reports are removed by the worker itself once reported.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "gateway/core/clock.h"
#include "modem/backend.h"
#include "modem/reassembly.h"

namespace lwgate::modem {

struct WorkerConfig {
  SendOptions send;
  core::Millis pollInterval{10'000};    // how often stored SMS are listed
  core::Millis healthInterval{60'000};  // SIM, network and signal checks
  core::Millis reconnectMin{2'000};
  core::Millis reconnectMax{300'000};
  ReassemblyLimits reassembly;
};

struct SendJob {
  std::int64_t id = 0;  // the caller's, returned in SendDone (the SMS log row)
  std::string msisdn;
  std::vector<SmsPart> parts;  // from segment()
};

struct SendDone {
  std::int64_t id = 0;
  std::string msisdn;
  bool ok = false;
  std::optional<int> reference;  // TP-MR of the last part
  unsigned partsSent = 0;
  std::string error;  // why not, when !ok
};
struct ReceivedMessage {
  Reassembled message;
};
struct DroppedParts {
  Dropped dropped;
};
struct DeliveryReport {
  std::string msisdn;
  int reference = -1;
  int status = -1;  // TP-ST
};
using WorkerEvent = std::variant<SendDone, ReceivedMessage, DroppedParts, DeliveryReport, Health>;

class Worker {
 public:
  // Starts the thread. The clock must outlive the worker and be safe to call from any thread
  // (SystemClock is).
  static Result<std::unique_ptr<Worker>> start(std::unique_ptr<Backend> backend,
                                               const WorkerConfig& config,
                                               const core::Clock& clock);
  ~Worker();  // stop()
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Asks the thread to finish and joins it: after the libgammu call it is in, if any (each is
  // bounded by its own timeout).
  void stop();

  // Readable (EFD_NONBLOCK) when events are waiting.
  int eventFd() const { return eventFd_; }
  std::vector<WorkerEvent> takeEvents();

  void send(SendJob job);
  void remove(std::vector<std::uint64_t> handles);

 private:
  struct Remove {
    std::vector<std::uint64_t> handles;
  };
  using Command = std::variant<SendJob, Remove>;

  Worker(std::unique_ptr<Backend> backend, const WorkerConfig& config, const core::Clock& clock,
         int eventFd);
  void run();
  void post(WorkerEvent event);
  void connect();
  void lost(const std::string& why);
  void doSend(const SendJob& job);
  void doRemove(const std::vector<std::uint64_t>& handles);
  void poll();
  void reportDropped(std::vector<Dropped> dropped);
  void checkHealth();
  void setHealth(Health health);

  std::unique_ptr<Backend> backend_;
  const WorkerConfig config_;
  const core::Clock& clock_;
  int eventFd_ = -1;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Command> commands_;
  std::vector<WorkerEvent> events_;

  // The thread's own state.
  Reassembler reassembler_;
  Health health_;
  std::set<std::uint64_t> seen_;          // stored SMS already handled or in reassembly
  std::vector<std::uint64_t> unremoved_;  // to remove once connected again
  // Undecodable SMS the backend could not delete either: reported once, skipped while listed.
  std::set<std::uint64_t> undeletable_;
  std::string listError_;  // the last listing error logged (LWG5004), empty after a success
  core::Millis backoff_;
  core::SteadyTime nextConnect_{};
  core::SteadyTime nextPoll_{};
  core::SteadyTime nextHealth_{};

  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace lwgate::modem
