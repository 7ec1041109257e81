#include "gateway/core/observation.h"

#include <algorithm>
#include <cstdio>

#include "gateway/lwm2m/content_format.h"
#include "gateway/lwm2m/path.h"

namespace lwgate::core {
namespace {

std::string codeText(std::uint8_t code) {
  char text[8];
  std::snprintf(text, sizeof text, "%d.%02d", code >> 5, code & 0x1f);
  return text;
}

bool isSuccess(std::uint8_t code) {
  return code >> 5 == 2;
}

}  // namespace

std::string_view notificationKindName(NotificationKind kind) {
  return kind == NotificationKind::kSend ? "send" : "notify";
}

void decodeNotification(Notification& n, std::optional<std::uint16_t> fallbackFormat) {
  n.records.clear();
  n.decodeError.reset();
  if (n.payload.empty()) return;  // e.g. an instance without readable resources
  // TLV, text/plain and opaque values are relative to the observed path; SenML and LwM2M JSON
  // carry their own names. Composite observations list several paths: decode from the root.
  lwm2m::Path base;
  if (n.path.find(' ') == std::string::npos) {
    if (auto p = lwm2m::Path::parse(n.path)) base = *p;
  }
  const std::uint16_t format =
      n.contentFormat.value_or(fallbackFormat.value_or(lwm2m::format::kTextPlain));
  auto decoded = lwm2m::decode(format, n.payload, base, lwm2m::coreObjects());
  if (!decoded) {
    n.decodeError = decoded.error().message;
    return;
  }
  n.records = std::move(*decoded);
}

bool isFresher(std::uint32_t v1, SteadyTime t1, std::uint32_t v2, SteadyTime t2) {
  // RFC 7641 3.4: (V1 < V2 and V2 - V1 < 2^23) or (V1 > V2 and V1 - V2 > 2^23) or
  // (T2 > T1 + 128 seconds).
  constexpr std::uint32_t kHalf = 1u << 23;
  if (v1 < v2 && v2 - v1 < kHalf) return true;
  if (v1 > v2 && v1 - v2 > kHalf) return true;
  return t2 > t1 + Seconds(128);
}

ObservationTable::ObservationTable(const Clock& clock, ObservationStore& store,
                                   ObservationConfig config)
    : clock_(clock), store_(store), config_(config) {}

Result<std::size_t> ObservationTable::restore() {
  auto loaded = store_.loadObservations();
  if (!loaded) return loaded.error();
  entries_.clear();
  byToken_.clear();
  byEndpoint_.clear();
  for (auto& o : *loaded) {
    Entry e;
    e.lastAt = o.lastNotificationAt ? steadyFor(*o.lastNotificationAt) : clock_.steadyNow();
    e.reestablish = true;
    e.o = std::move(o);
    const std::int64_t id = e.o.id;
    index(e);
    entries_.emplace(id, std::move(e));
  }
  return entries_.size();
}

ObservationTable::Event ObservationTable::observeAnswered(const DownlinkRequest& request,
                                                          const ObserveMessage& m) {
  if (request.operation != Operation::kObserve &&
      request.operation != Operation::kObserveComposite) {
    return {};
  }
  Entry* existing = entryFor(request.endpoint, request.token);
  if (!isSuccess(m.code) || !m.observe) {
    // RFC 7641 3.1/3.2: without an Observe option the device did not add us as an observer; an
    // error ends any observation on this token.
    const std::string why = isSuccess(m.code)
                                ? "the device answered " + codeText(m.code) +
                                      " without Observe: it does not observe " + request.path
                                : "the device answered the Observe with " + codeText(m.code);
    if (existing) return end(existing->o.id, why);
    Event refused;
    refused.kind = Event::Kind::kRefused;
    refused.detail = why;
    return refused;
  }
  const std::string attributes = request.operation == Operation::kObserve
                                     ? std::string(request.payload.begin(), request.payload.end())
                                     : std::string();
  if (existing) {
    // A re-observe (same token), or the Observe sent again after a restart.
    existing->o.requestId = request.id;
    existing->o.attributes = attributes;
    existing->o.acceptFormat = request.acceptFormat;
    existing->reestablish = false;
    return storeNotification(*existing, m, /*restart=*/true, Event::Kind::kRenewed);
  }
  Observation o;
  o.endpoint = request.endpoint;
  o.operation = request.operation;
  o.path = request.path;
  o.token = request.token;
  o.attributes = attributes;
  o.acceptFormat = request.acceptFormat;
  o.requestId = request.id;
  o.createdAt = clock_.wallNow();
  auto id = store_.insertObservation(o);
  if (!id) {
    Event failed;
    failed.kind = Event::Kind::kStoreFailed;
    failed.detail = id.error().message;
    return failed;
  }
  o.id = *id;
  Entry e;
  e.o = std::move(o);
  index(e);
  Entry& stored = entries_.emplace(*id, std::move(e)).first->second;
  return storeNotification(stored, m, /*restart=*/true, Event::Kind::kEstablished);
}

ObservationTable::Event ObservationTable::notify(std::int64_t id, const ObserveMessage& m) {
  Entry* e = entry(id);
  if (!e) return {};
  if (!isSuccess(m.code)) {
    // RFC 7641 3.2: an error notification ends the observation.
    return end(id, "the device ended it with " + codeText(m.code));
  }
  if (!m.observe) {
    // A 2.xx without Observe is the last one (RFC 7641 3.2): keep its value, then end.
    Event stored = storeNotification(*e, m, /*restart=*/true, Event::Kind::kStored);
    Event ended = end(id, "the device sent a final " + codeText(m.code) + " without Observe");
    ended.notification = std::move(stored.notification);
    if (stored.storeError) ended.storeError = stored.storeError;
    return ended;
  }
  return storeNotification(*e, m, /*restart=*/m.piggybacked, Event::Kind::kStored);
}

ObservationTable::Event ObservationTable::storeNotification(Entry& e, const ObserveMessage& m,
                                                            bool restart, Event::Kind kind) {
  const SteadyTime now = clock_.steadyNow();
  Event out;
  if (!restart && m.observe && e.o.lastObserveSeq &&
      !isFresher(*e.o.lastObserveSeq, e.lastAt, *m.observe, now)) {
    out.kind = Event::Kind::kStale;
    out.observation = e.o;
    out.detail = "sequence " + std::to_string(*m.observe) + " is not newer than " +
                 std::to_string(*e.o.lastObserveSeq);
    return out;
  }
  Notification n;
  n.endpoint = e.o.endpoint;
  n.observationId = e.o.id;
  n.path = e.o.path;
  n.token = e.o.token;
  n.observeSeq = m.observe;
  n.receivedAt = clock_.wallNow();
  n.contentFormat = m.contentFormat;
  n.payload = m.payload;
  decodeNotification(n, e.o.acceptFormat);
  out.kind = kind;
  if (auto id = store_.insertNotification(n, config_.maxNotificationsPerDevice); id) {
    n.id = *id;
    out.notification = std::move(n);
  } else {
    out.storeError = id.error().message;
  }
  if (m.observe) e.o.lastObserveSeq = m.observe;
  e.o.lastNotificationAt = clock_.wallNow();
  e.lastAt = now;
  if (auto saved = store_.saveObservation(e.o); !saved && !out.storeError) {
    out.storeError = saved.error().message;
  }
  out.observation = e.o;
  return out;
}

ObservationTable::Event ObservationTable::requestFinished(const DownlinkRequest& r) {
  if (r.operation == Operation::kCancelObserve && r.state == RequestState::kDone) {
    if (Entry* e = entryFor(r.endpoint, r.token)) {
      return end(e->o.id,
                 "cancelled (the device answered " + codeText(r.responseCode.value_or(0)) + ")");
    }
    return {};
  }
  // A re-observe that never got an answer: try again at the device's next Update.
  if (r.operation == Operation::kObserve && r.state != RequestState::kDone && r.idempotencyKey &&
      r.idempotencyKey->starts_with(kReestablishPrefix)) {
    if (Entry* e = entryFor(r.endpoint, r.token)) e->reestablish = true;
  }
  return {};
}

std::vector<ObservationTable::Reestablish> ObservationTable::reestablish(std::string_view endpoint,
                                                                         std::string_view location,
                                                                         bool newRegistration) {
  std::vector<Reestablish> out;
  auto [first, last] = byEndpoint_.equal_range(endpoint);
  for (auto it = first; it != last; ++it) {
    Entry& e = entries_.at(it->second);
    if (newRegistration) e.reestablish = true;
    if (!e.reestablish || e.o.operation != Operation::kObserve) continue;
    DownlinkRequest r;
    r.endpoint = e.o.endpoint;
    r.operation = Operation::kObserve;
    r.path = e.o.path;
    r.payload.assign(e.o.attributes.begin(), e.o.attributes.end());
    r.acceptFormat = e.o.acceptFormat;
    // The same token: for the device it replaces the entry it may still have (RFC 7641 3.3.1),
    // so there are never two observations of one path after a re-observe.
    r.token = e.o.token;
    r.idempotencyKey = reestablishKey(e.o, location);
    out.push_back({e.o.id, std::move(r)});
  }
  return out;
}

void ObservationTable::reestablishQueued(std::int64_t id) {
  if (Entry* e = entry(id)) e->reestablish = false;
}

bool ObservationTable::pendingReestablish(std::int64_t id) const {
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.reestablish;
}

std::string ObservationTable::reestablishKey(const Observation& o, std::string_view location) {
  return std::string(kReestablishPrefix) + std::to_string(o.id) + ":" + std::string(location) +
         ":" + (o.requestId ? std::to_string(*o.requestId) : "-");
}

Result<DownlinkRequest> ObservationTable::cancelRequest(std::int64_t id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return makeError(ErrorCode::kNotFound, "no observation " + std::to_string(id));
  }
  const Observation& o = it->second.o;
  if (o.operation != Operation::kObserve) {
    return makeError(ErrorCode::kBadRequest,
                     "an Observe-Composite is cancelled passively: forget it and the device's "
                     "next notification is answered RST");
  }
  DownlinkRequest r;
  r.endpoint = o.endpoint;
  r.operation = Operation::kCancelObserve;
  r.path = o.path;
  r.acceptFormat = o.acceptFormat;
  r.token = o.token;  // RFC 7641 3.6: the token of the observation to cancel
  return r;
}

ObservationTable::Event ObservationTable::forget(std::int64_t id, std::string_view why) {
  if (!entry(id)) {
    Event none;
    none.detail = "no observation " + std::to_string(id);
    return none;
  }
  return end(id, std::string(why));
}

ObservationTable::Event ObservationTable::end(std::int64_t id, std::string why) {
  Event out;
  auto it = entries_.find(id);
  if (it == entries_.end()) return out;
  if (auto deleted = store_.deleteObservation(id); !deleted) {
    out.kind = Event::Kind::kStoreFailed;
    out.detail = deleted.error().message;
    out.observation = it->second.o;
    return out;
  }
  const Observation& o = it->second.o;
  for (auto [a, b] = byToken_.equal_range(o.token); a != b; ++a) {
    if (a->second == id) {
      byToken_.erase(a);
      break;
    }
  }
  for (auto [a, b] = byEndpoint_.equal_range(o.endpoint); a != b; ++a) {
    if (a->second == id) {
      byEndpoint_.erase(a);
      break;
    }
  }
  out.kind = Event::Kind::kEnded;
  out.observation = std::move(it->second.o);
  out.detail = std::move(why);
  entries_.erase(it);
  return out;
}

const Observation* ObservationTable::find(std::int64_t id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second.o;
}

std::vector<std::int64_t> ObservationTable::findByToken(const Token& token) const {
  std::vector<std::int64_t> out;
  for (auto [a, b] = byToken_.equal_range(token); a != b; ++a) out.push_back(a->second);
  return out;
}

std::vector<Observation> ObservationTable::list(std::string_view endpoint) const {
  std::vector<Observation> out;
  if (endpoint.empty()) {
    for (const auto& [id, e] : entries_) out.push_back(e.o);
    return out;
  }
  for (auto [a, b] = byEndpoint_.equal_range(endpoint); a != b; ++a) {
    out.push_back(entries_.at(a->second).o);
  }
  std::ranges::sort(out, {}, &Observation::id);
  return out;
}

ObservationTable::Entry* ObservationTable::entry(std::int64_t id) {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

ObservationTable::Entry* ObservationTable::entryFor(std::string_view endpoint, const Token& token) {
  if (token.empty()) return nullptr;
  for (auto [a, b] = byToken_.equal_range(token); a != b; ++a) {
    Entry& e = entries_.at(a->second);
    if (e.o.endpoint == endpoint) return &e;
  }
  return nullptr;
}

void ObservationTable::index(const Entry& e) {
  byToken_.emplace(e.o.token, e.o.id);
  byEndpoint_.emplace(e.o.endpoint, e.o.id);
}

SteadyTime ObservationTable::steadyFor(WallTime t) const {
  const WallTime now = clock_.wallNow();
  if (t >= now) return clock_.steadyNow();  // the wall clock went back: count it as just now
  return clock_.steadyNow() - std::chrono::duration_cast<SteadyTime::duration>(now - t);
}

}  // namespace lwgate::core
