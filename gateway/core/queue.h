#pragma once
// The per-device downlink queue (LwM2M TS Core 6.5 "Queue Mode", spec/
// cr-queue-mode-clarifications.txt): every request is persisted before it is sent, goes out one
// at a time per device (NSTART=1, RFC 7252 4.7), to a queue-mode device only while it is awake,
// and ends in exactly one final state. Sans-I/O: time from the Clock, persistence through the
// RequestStore, transmissions and results through the QueueListener.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/downlink.h"
#include "gateway/core/request_store.h"
#include "gateway/util/result.h"

namespace lwgate::core {

struct QueueConfig {
  // How long a queue-mode device counts as awake after its last message: MAX_TRANSMIT_WAIT with
  // the default CoAP parameters (RFC 7252 4.8.2), which is how long the spec recommends a client
  // stays awake after its last message.
  Millis awakeWindow{93'000};
  // Transmissions that may end without any answer (retransmissions exhausted, RST) before the
  // request ends "failed".
  unsigned maxAttempts = 5;
  std::optional<Seconds> defaultTtl = Seconds(86'400);  // deadline of a request without one
  std::size_t maxPerDevice = 1000;                      // unfinished requests per device
  Seconds exchangeLifetime{247};                        // RFC 7252 4.8.2
  // Group commit of idempotent requests (Read, Discover, Write, Delete, ...; not Observe, whose
  // token is the observation's): such a request goes out without its in-flight state being
  // persisted first (after a crash it is simply sent again; it was committed when submitted),
  // and its answer is held in memory and persisted together with others. At most this many
  // such requests are between sends and their persisted answer at a time: the daemon starts its
  // Message IDs after a restart beyond the last persisted one by a margin that must cover them.
  // 0: every transmission is persisted before it is sent, every answer at once.
  std::size_t maxUnsavedSends = 32;
  // Answers held are persisted (and reported) when no such request is in flight any more, when
  // maxUnsavedSends answers are held, or this long after the first was held.
  Millis groupCommitDelay{5};
};

class QueueListener {
 public:
  virtual ~QueueListener() = default;
  // Transmit now, with request.messageId and request.token (already persisted) to the device's
  // registered address. Exactly one of responded()/transportFailed() must follow, unless the
  // gateway stops first.
  virtual void send(const DownlinkRequest& request) = 0;
  // Transmit now an idempotent request whose in-flight state, Message ID and token are not
  // persisted (QueueConfig::maxUnsavedSends): it need not wait for a commit. The same rules as
  // send() otherwise.
  virtual void sendUnsaved(const DownlinkRequest& request) { send(request); }
  // The request reached its final state (persisted; answers held for a group commit are told
  // when they are persisted).
  virtual void finished(const DownlinkRequest& request) = 0;
  // Whether the device can be sent to changed: a queue-mode device woke or its awake window
  // ended, a transmission failed, a silent device talked again, it registered or went away.
  virtual void reachabilityChanged(std::string_view endpoint, bool reachable) {
    (void)endpoint;
    (void)reachable;
  }
};

class DownlinkQueue {
 public:
  struct TransmissionIds {
    std::uint16_t messageId;
    std::vector<std::uint8_t> token;
  };
  using IdGenerator = std::function<TransmissionIds()>;

  DownlinkQueue(const Clock& clock, RequestStore& store, QueueConfig config, IdGenerator ids);
  void setListener(QueueListener* listener) { listener_ = listener; }
  void setConfig(const QueueConfig& config) { config_ = config; }

  struct Restored {
    std::size_t queued = 0;
    std::size_t resumed = 0;  // in flight when the gateway stopped; resent with the same ids
    std::vector<DownlinkRequest> failed;  // in flight too long ago and not idempotent
  };
  // Start-up: loads every unfinished request. Call once, before anything else.
  Result<Restored> restore();

  struct Submitted {
    std::int64_t id;
    bool existing;  // the idempotency key matched an earlier submission: its id
  };
  // Persists a new request at the tail of its device's queue and sends it if the device can be
  // reached now. kBadRequest for an empty endpoint/path, kLimitReached when the device already
  // has maxPerDevice unfinished requests.
  Result<Submitted> submit(DownlinkRequest request);
  // A queued request ends "cancelled". kNotFound if unknown or already final; kBadRequest while
  // it is in flight (it may already be executing on the device).
  Result<void> cancel(std::int64_t id, std::string_view reason = "cancelled by the caller");

  // The device registered (again): reachable at its new address. A queue-mode device is awake
  // now (a Register is a message from it). heardNow false is for registrations restored at
  // start-up: they say where a device is, not that it can be reached - after a restart there is
  // no session to it and a NAT may have closed - so nothing is sent until it talks.
  // awakeWindow overrides the configured one.
  void deviceRegistered(std::string_view endpoint, bool queueMode,
                        std::optional<Millis> awakeWindow = std::nullopt, bool heardNow = true);
  // Any message from the device (Update, Notify, Send, a request, a response): a queue-mode
  // device is awake for awakeWindow from now; a device marked unreachable is reachable again.
  void deviceMessage(std::string_view endpoint);
  // An operator changed the device's awake window (nullopt: the configured one). Applies from
  // the device's next message.
  void setAwakeWindow(std::string_view endpoint, std::optional<Millis> awakeWindow);
  // De-registered or expired: nothing is sent until it registers again; its queue stays.
  void deviceGone(std::string_view endpoint);

  // The device answered the request in flight: a final answer, whatever the code (TS Core 6.5:
  // a response tells the server the request was received and processed).
  void responded(std::int64_t id, std::uint8_t code, std::vector<std::uint8_t> payload,
                 std::optional<std::uint16_t> format);
  // No answer (retransmissions exhausted) or a RST: back to the head of the queue and the device
  // counts as asleep until it sends something; after maxAttempts the request fails.
  void transportFailed(std::int64_t id, std::string_view why);

  // The request in flight could not be transmitted at all (no way to encode it for this
  // device): it ends "failed" and the queue goes on.
  void abort(std::int64_t id, std::string_view why);

  // Ends requests whose deadline passed and persists held answers whose group-commit delay
  // passed. Call when nextTimer() is due.
  void tick();
  // Persists the answers held for a group commit now and reports them through finished(): before
  // a caller is told about requests (so what it reads is what a crash would leave) and when the
  // gateway stops.
  void persistHeld();
  std::size_t held() const { return held_.size(); }
  std::optional<SteadyTime> nextTimer() const;

  // Introspection.
  const DownlinkRequest* find(std::int64_t id) const;  // unfinished requests only
  std::size_t unfinished(std::string_view endpoint) const;
  bool reachable(std::string_view endpoint) const;
  std::optional<std::int64_t> inFlight(std::string_view endpoint) const;
  // What waits in the device's queue (not in flight), for the SMS wake-up; nullopt when nothing
  // does. O(the device's queue), which maxPerDevice bounds.
  struct Waiting {
    // The request a trigger is for: the first urgent one, else the one with the earliest
    // deadline, else the oldest.
    std::int64_t requestId = 0;
    std::optional<WallTime> deadline;  // the earliest of them
    bool urgent = false;               // any of them is
  };
  std::optional<Waiting> waiting(std::string_view endpoint) const;
  std::size_t totalUnfinished() const { return requests_.size(); }
  std::size_t totalInFlight() const;

 private:
  struct Device {
    bool registered = false;
    bool queueMode = false;
    bool unreachable = false;  // after a transport failure, until the next message
    std::optional<Millis> awakeWindow;
    SteadyTime awakeUntil{};
    std::deque<std::int64_t> queue;  // ids; the head goes next
    std::optional<std::int64_t> inFlight;
    bool wasReachable = false;           // what the listener was last told
    std::optional<SteadyTime> awakeEnd;  // its entry in awakeEnds_
  };

  Device& device(std::string_view endpoint);
  bool canSend(const Device& d) const;
  void dispatch(std::string_view endpoint);
  // Persists and reports a final state; removes the request from memory and returns it.
  DownlinkRequest finish(std::int64_t id, RequestState state, std::string reason);
  SteadyTime steadyFor(WallTime t) const;
  // Deadlines of queued requests, so the timer and tick() never walk every device (the daemon
  // asks for nextTimer() after every event).
  void trackDeadline(const DownlinkRequest& r);
  void untrackDeadline(const DownlinkRequest& r);
  // Tells the listener when canSend() changed, and keeps the awake window's end in awakeEnds_
  // so tick() notices it.
  void noteReachability(const std::string& endpoint, Device& d);
  // Whether the request may go out without its transmission persisted first.
  bool sendsUnsaved(const DownlinkRequest& r) const;
  bool groupCommitDue() const;

  const Clock& clock_;
  RequestStore& store_;
  QueueConfig config_;
  IdGenerator ids_;
  QueueListener* listener_ = nullptr;
  std::map<std::string, Device, std::less<>> devices_;
  std::unordered_map<std::int64_t, DownlinkRequest> requests_;  // unfinished
  // In flight when the gateway stopped: the next transmission reuses their Message ID and token
  // if still within EXCHANGE_LIFETIME, and a non-idempotent one fails after that.
  std::set<std::int64_t> resumed_;
  // Final states the store refused; tick() tries again, so a request that is done is never
  // found unfinished (and re-sent) after a restart if the disk recovers.
  std::vector<DownlinkRequest> unsaved_;
  // Sent without their transmission persisted (sendsUnsaved()), until a save of theirs; and the
  // answers of such requests held for the next group commit, in the order they came.
  std::set<std::int64_t> sentUnsaved_;
  std::vector<DownlinkRequest> held_;
  std::optional<SteadyTime> firstHeldAt_;
  std::set<std::pair<WallTime, std::int64_t>> deadlines_;
  std::set<std::pair<SteadyTime, std::string>> awakeEnds_;  // of reachable queue-mode devices
};

}  // namespace lwgate::core
