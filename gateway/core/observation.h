#pragma once
// Observations the gateway holds on devices and the notifications they bring (LwM2M TS Core 6.4
// "Information Reporting Interface", CoAP Observe RFC 7641). Sans-I/O like the queue: time from
// the Clock, persistence through the ObservationStore; the daemon feeds it the device's answers
// and submits the requests it asks for.
//
// Life of an observation:
//  - an Observe request (kObserve, kObserveComposite) is answered 2.xx with an Observe option:
//    the observation exists, persisted, and the answer is its first notification;
//  - later answers on its token are notifications: stored when fresh (RFC 7641 3.4), dropped
//    when stale; an error code, or a 2.xx without Observe, ends it (RFC 7641 3.2);
//  - a Cancel-Observe answered by the device, or forget() (the passive cancel of RFC 7641 3.6:
//    the next notification is answered RST), ends it;
//  - it survives restarts and re-registration: after a gateway restart, and whenever the device
//    registers again (a client drops its observations when it registers, TS Core 6.2.1), the
//    observation is re-established on the device's next Register/Update by a new Observe with
//    the same token, path and attributes (RFC 7641 3.3.1 re-registration).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/downlink.h"
#include "gateway/lwm2m/value.h"
#include "gateway/util/result.h"

namespace lwgate::core {

using Token = std::vector<std::uint8_t>;

struct Observation {
  std::int64_t id = 0;  // assigned by the store
  std::string endpoint;
  Operation operation = Operation::kObserve;  // or kObserveComposite
  // LwM2M path relative to the alternate path; for Observe-Composite the paths, space-separated.
  std::string path;
  Token token;
  std::string attributes;  // notification attributes sent with the Observe ("pmin=10&pmax=60")
  std::optional<std::uint16_t> acceptFormat;
  std::optional<std::int64_t> requestId;  // the Observe request that (last) set it up
  WallTime createdAt{};
  std::optional<std::uint32_t> lastObserveSeq;  // Observe option of the newest notification
  std::optional<WallTime> lastNotificationAt;
};

// What brought a stored value: a notification of an observation (RFC 7641), or an LwM2M 1.1
// Send (POST /dp, TS Core 6.4.6), which the device sends without being asked. Both are kept in
// one table, bounded together per device (max_notifications_per_device).
enum class NotificationKind : std::uint8_t { kNotify, kSend };
std::string_view notificationKindName(NotificationKind kind);  // "notify", "send"

struct Notification {
  std::int64_t id = 0;  // assigned by the store: arrival order
  NotificationKind kind = NotificationKind::kNotify;
  std::string endpoint;
  std::optional<std::int64_t> observationId;  // none for a Send
  std::string path;  // the observation's, copied so it outlives the observation; "" for a Send
  Token token;
  std::optional<std::uint32_t> observeSeq;
  WallTime receivedAt{};
  std::optional<std::uint16_t> contentFormat;
  std::vector<std::uint8_t> payload;
  // Decoded with the LwM2M codecs (not persisted: decoded again when listed). A payload that
  // does not decode is kept as received with the reason here.
  std::vector<lwm2m::Record> records;
  std::optional<std::string> decodeError;
};

// Decodes n.payload into n.records, or sets n.decodeError. `fallbackFormat` is used when the
// notification names no Content-Format (the observation's Accept, else text/plain).
void decodeNotification(Notification& n, std::optional<std::uint16_t> fallbackFormat);

// RFC 7641 3.4: whether a notification with sequence number v2 received at t2 is newer than the
// last one, v1 received at t1. Sequence numbers are 24-bit and wrap; after 128 s the number says
// nothing any more and the newer arrival wins.
bool isFresher(std::uint32_t v1, SteadyTime t1, std::uint32_t v2, SteadyTime t2);

// The port through which observations and notifications persist (db/ implements it with
// SQLite). Every call is atomic.
class ObservationStore {
 public:
  virtual ~ObservationStore() = default;
  // Inserts a new observation (the device row is created if needed); returns its id.
  virtual Result<std::int64_t> insertObservation(const Observation& o) = 0;
  // Writes token, attributes, accept format, request id, last sequence number and time.
  virtual Result<void> saveObservation(const Observation& o) = 0;
  virtual Result<void> deleteObservation(std::int64_t id) = 0;
  virtual Result<std::vector<Observation>> loadObservations() = 0;
  // Appends a notification and deletes the device's oldest beyond `keep`; returns its id.
  virtual Result<std::int64_t> insertNotification(const Notification& n, std::size_t keep) = 0;
  // The device's notifications with id > afterId, oldest first, at most `limit`.
  virtual Result<std::vector<Notification>> listNotifications(std::string_view endpoint,
                                                              std::size_t limit,
                                                              std::int64_t afterId) = 0;
};

struct ObservationConfig {
  std::size_t maxNotificationsPerDevice = 1000;
};

// An answer that arrived on an observation's token (or on an Observe request's), as the
// transport saw it.
struct ObserveMessage {
  Token token;
  std::uint8_t code = 0;                 // CoAP code byte (2.05 = 0x45)
  std::optional<std::uint32_t> observe;  // the Observe option
  std::optional<std::uint16_t> contentFormat;
  std::vector<std::uint8_t> payload;
  // Piggybacked in the ACK of our request: certainly the answer to our (re-)registration,
  // never an older notification, so it starts a new sequence (RFC 7641 3.4, last paragraph).
  bool piggybacked = false;
};

class ObservationTable {
 public:
  ObservationTable(const Clock& clock, ObservationStore& store, ObservationConfig config);
  void setConfig(const ObservationConfig& config) { config_ = config; }

  // Start-up: loads every observation. Each is to be re-established on its device's next
  // Register or Update, since the device may have dropped it while the gateway was away (a
  // CON notification nobody acknowledged ends it, RFC 7641 4.5). Returns how many.
  Result<std::size_t> restore();

  struct Event {
    enum class Kind : std::uint8_t {
      kNone,         // nothing for the table (not an Observe answer, not a known token)
      kEstablished,  // a new observation, answer stored as its first notification
      kRenewed,      // an existing one re-established (same token), answer stored
      kRefused,      // the Observe was answered without Observe option or with an error
      kStored,       // a notification stored
      kStale,        // a notification older than the last one (RFC 7641 3.4), dropped
      kEnded,        // the observation ended (error code, final 2.xx, cancel, forget)
      kStoreFailed,  // the database refused it; nothing changed
    };
    Kind kind = Kind::kNone;
    std::optional<Observation> observation;    // as it is now (or was, when it ended)
    std::optional<Notification> notification;  // what was stored (with its id)
    std::string detail;                        // why ended/refused, or the store's error
    // Set when the change is made but storing part of it failed (e.g. the notification of an
    // observation that was established): logged by the caller.
    std::optional<std::string> storeError;
  };

  // The answer to the Observe request `request` (still in flight): starts or renews the
  // observation when it is a 2.xx with an Observe option; an error answer to a re-observe ends
  // the observation it was for. kNone for other operations.
  Event observeAnswered(const DownlinkRequest& request, const ObserveMessage& m);

  // A message on observation `id`'s token outside any request: a notification.
  Event notify(std::int64_t id, const ObserveMessage& m);

  // A request reached its final state: a Cancel-Observe the device answered ends its
  // observation; a re-observe that failed, expired or was cancelled leaves its observation to be
  // re-established at the next Update. Returns the event (kEnded) or kNone.
  Event requestFinished(const DownlinkRequest& r);

  // The device registered (newRegistration) or sent an Update. A new registration means the
  // client dropped its observations. Returns the re-observe requests to submit now, for every
  // observation of the device that is to be re-established; call reestablishQueued() for each
  // one the queue accepted (the others are tried again at the next Update). Observe-Composite
  // observations are not re-established (the request's path list is not kept); they stay
  // known, so the device's notifications are stored as long as it keeps sending them.
  struct Reestablish {
    std::int64_t observationId;
    DownlinkRequest request;
  };
  std::vector<Reestablish> reestablish(std::string_view endpoint, std::string_view location,
                                       bool newRegistration);
  void reestablishQueued(std::int64_t id);

  // A Cancel-Observe (GET with Observe: 1 on the observation's token, RFC 7641 3.6) to submit.
  Result<DownlinkRequest> cancelRequest(std::int64_t id) const;
  // The passive cancel: forgotten now; the device's next notification is answered RST.
  Event forget(std::int64_t id, std::string_view why);

  const Observation* find(std::int64_t id) const;
  // Observations with this token (tokens are random 8-byte values, so normally one).
  std::vector<std::int64_t> findByToken(const Token& token) const;
  // The device's observations (every device's when endpoint is empty), in id order.
  std::vector<Observation> list(std::string_view endpoint) const;
  std::size_t size() const { return entries_.size(); }
  bool pendingReestablish(std::int64_t id) const;

  // The idempotency key of a re-observe: queued once per observation, registration and
  // set-up request, so a crash after queueing it does not queue it twice, while a later
  // restart (a new set-up request by then) queues a new one.
  static std::string reestablishKey(const Observation& o, std::string_view location);
  static constexpr std::string_view kReestablishPrefix = "reobserve:";

 private:
  struct Entry {
    Observation o;
    SteadyTime lastAt{};  // steady time of the newest notification, for RFC 7641 3.4
    bool reestablish = false;
  };

  Event storeNotification(Entry& e, const ObserveMessage& m, bool restart, Event::Kind kind);
  Event end(std::int64_t id, std::string why);
  Entry* entry(std::int64_t id);
  Entry* entryFor(std::string_view endpoint, const Token& token);
  void index(const Entry& e);
  SteadyTime steadyFor(WallTime t) const;

  const Clock& clock_;
  ObservationStore& store_;
  ObservationConfig config_;
  std::map<std::int64_t, Entry> entries_;
  std::multimap<Token, std::int64_t> byToken_;
  std::multimap<std::string, std::int64_t, std::less<>> byEndpoint_;
};

}  // namespace lwgate::core
