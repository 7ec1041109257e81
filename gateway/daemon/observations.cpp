#include "gateway/daemon/observations.h"

#include "gateway/util/log.h"

namespace lwgate::daemon {
namespace {

using Kind = core::ObservationTable::Event::Kind;

std::string hex(const core::Token& token) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : token) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out.empty() ? "(empty)" : out;
}

core::ObserveMessage messageOf(const coap::Server::Answer& a) {
  core::ObserveMessage m;
  m.token = a.token;
  m.code = a.code;
  m.observe = a.observe;
  m.contentFormat = a.contentFormat;
  m.payload.assign(a.payload.begin(), a.payload.end());
  m.piggybacked = a.piggybacked;
  return m;
}

}  // namespace

Observations::Observations(const core::Clock& clock, db::Connection& connection,
                           core::ObservationConfig config)
    : clock_(clock), connection_(connection), config_(config) {}

Result<void> Observations::open() {
  auto store = db::SqliteObservationStore::create(connection_);
  if (!store) return store.error();
  store_ = std::move(*store);
  table_ = std::make_unique<core::ObservationTable>(clock_, *store_, config_);
  auto restored = table_->restore();
  if (!restored) return restored.error();
  log::notice(
      "LWG3100 restored {} observations; each is re-established at its device's next "
      "Register or Update",
      *restored);
  return {};
}

Result<void> Observations::reload() {
  pending_.clear();
  table_ = std::make_unique<core::ObservationTable>(clock_, *store_, config_);
  auto restored = table_->restore();
  if (!restored) return restored.error();
  return {};
}

std::vector<core::Observation> Observations::listObservations(std::string_view endpoint) const {
  return table_->list(endpoint);
}

Result<std::vector<core::Notification>> Observations::listNotifications(std::string_view endpoint,
                                                                        std::size_t limit,
                                                                        std::int64_t afterId) {
  auto listed = store_->listNotifications(endpoint, limit, afterId);
  if (!listed) return listed.error();
  for (auto& n : *listed) {
    // What was decided when it arrived stands: one that did not decode keeps its reason.
    if (n.decodeError) continue;
    std::optional<std::uint16_t> accept;
    if (n.observationId) {
      if (const core::Observation* o = table_->find(*n.observationId)) accept = o->acceptFormat;
    }
    core::decodeNotification(n, accept);
  }
  return listed;
}

Result<core::DownlinkQueue::Submitted> Observations::cancel(std::int64_t observationId) {
  auto request = table_->cancelRequest(observationId);
  if (!request) return request.error();
  if (!queue_) return makeError(ErrorCode::kInternal, "no downlink queue");
  return queue_->submit(std::move(*request));
}

Result<void> Observations::bindCancel(core::DownlinkRequest& request) const {
  const core::Observation* newest = nullptr;
  for (const auto& o : table_->list(request.endpoint)) {
    if (o.operation == core::Operation::kObserve && o.path == request.path) {
      newest = table_->find(o.id);
    }
  }
  if (!newest) {
    return makeError(ErrorCode::kNotFound,
                     "no observation of " + request.path + " on " + request.endpoint);
  }
  request.token = newest->token;
  if (!request.acceptFormat) request.acceptFormat = newest->acceptFormat;
  return {};
}

Result<void> Observations::forget(std::int64_t observationId) {
  auto e =
      table_->forget(observationId, "forgotten (passive cancel: its next notification gets RST)");
  if (e.kind == Kind::kNone) return makeError(ErrorCode::kNotFound, e.detail);
  report(e, "");
  if (e.kind == Kind::kStoreFailed) return makeError(ErrorCode::kStorage, e.detail);
  return {};
}

void Observations::answered(const core::DownlinkRequest& request,
                            const coap::Server::Answer& answer) {
  report(table_->observeAnswered(request, messageOf(answer)),
         "request " + std::to_string(request.id));
}

bool Observations::unsolicited(const coap::Server::Answer& answer) {
  const core::Registration* reg = nullptr;
  std::int64_t id = 0;
  for (std::int64_t candidate : table_->findByToken(answer.token)) {
    const core::Observation* o = table_->find(candidate);
    const core::Registration* r = registry_ ? registry_->findByEndpoint(o->endpoint) : nullptr;
    // Only the device itself, from where it registered, can speak on its observation's token.
    if (r && r->peer == answer.peer) {
      reg = r;
      id = candidate;
      break;
    }
  }
  if (!reg) {
    if (!answer.piggybacked) {
      // RFC 7641 3.6: a notification we do not want is rejected, and the device then forgets
      // the observation. Also the way a passive cancel reaches the device.
      log::info("LWG3106 {} sent a message on unknown token {} ({}), answering RST",
                core::peerKey(answer.peer), hex(answer.token),
                answer.observe ? "observe " + std::to_string(*answer.observe) : "no Observe");
    }
    return false;
  }
  // A notification is a message from the device: a queue-mode device is awake (TS Core 6.5).
  if (queue_) queue_->deviceMessage(reg->endpoint);
  registry_->touch(reg->location, clock_.wallNow());
  report(table_->notify(id, messageOf(answer)), "");
  return true;
}

Result<std::int64_t> Observations::storeSend(core::Notification send) {
  auto id = store_->insertNotification(send, config_.maxNotificationsPerDevice);
  if (!id) {
    log::warning("LWG3107 cannot store a Send of {}: {}", send.endpoint, id.error().message);
    return makeError(ErrorCode::kStorage, "the gateway could not store this; try again later");
  }
  send.id = *id;
  log::debug("LWG3112 Send {} of {}: {} values", send.id, send.endpoint, send.records.size());
  pending_.push_back(std::move(send));
  return *id;
}

void Observations::finished(const core::DownlinkRequest& request) {
  report(table_->requestFinished(request), "request " + std::to_string(request.id));
}

void Observations::deviceTalked(const core::Registration& reg, bool newRegistration) {
  if (!queue_) return;
  for (auto& [observationId, request] :
       table_->reestablish(reg.endpoint, reg.location, newRegistration)) {
    const std::string path = request.path;
    auto submitted = submitOnce(std::move(request));
    if (!submitted) {
      log::warning("LWG3104 cannot queue the re-observe of {} on {} (observation {}): {}", path,
                   reg.endpoint, observationId, submitted.error().message);
      continue;
    }
    table_->reestablishQueued(observationId);
    if (!submitted->existing) {
      log::info("LWG3103 re-establishing observation {} of {} on {}: request {}", observationId,
                path, reg.endpoint, submitted->id);
    }
  }
}

Result<core::DownlinkQueue::Submitted> Observations::submitOnce(core::DownlinkRequest request) {
  auto submitted = queue_->submit(request);
  // The key was used before by a re-observe that is over (no answer, expired): a new one,
  // under a key derived from the old one, so a restart in between still finds it.
  while (submitted && submitted->existing && !queue_->find(submitted->id)) {
    request.idempotencyKey = *request.idempotencyKey + "#" + std::to_string(submitted->id);
    submitted = queue_->submit(request);
  }
  return submitted;
}

void Observations::flush() {
  std::vector<core::Notification> ready;
  ready.swap(pending_);
  if (!hook_) return;
  for (const auto& n : ready) {
    try {
      hook_(n);
    } catch (const std::exception& e) {
      log::error("LWG3111 internal error in the notification hook: {}", e.what());
    }
  }
}

void Observations::report(const core::ObservationTable::Event& e, std::string_view context) {
  const core::Observation* o = e.observation ? &*e.observation : nullptr;
  const std::string where = o ? o->path + " on " + o->endpoint : std::string();
  switch (e.kind) {
    case Kind::kNone:
      return;
    case Kind::kEstablished:
    case Kind::kRenewed:
      log::info("LWG3101 {} observation {} of {} (token {}{}{})",
                e.kind == Kind::kEstablished ? "started" : "re-established", o->id, where,
                hex(o->token), context.empty() ? "" : ", ", context);
      break;
    case Kind::kRefused:
      log::info("LWG3108 the Observe ({}) started no observation: {}", context, e.detail);
      return;
    case Kind::kStored:
      break;
    case Kind::kStale:
      log::debug("LWG3105 dropped a stale notification of observation {} ({}): {}", o->id, where,
                 e.detail);
      return;
    case Kind::kEnded:
      log::info("LWG3102 observation {} of {} ended: {}", o->id, where, e.detail);
      break;
    case Kind::kStoreFailed:
      log::warning("LWG3107 cannot store observation data{}{}: {}", where.empty() ? "" : " of ",
                   where, e.detail);
      return;
  }
  if (e.storeError) {
    log::warning("LWG3107 cannot store a notification{}{}: {}", where.empty() ? "" : " of ", where,
                 *e.storeError);
  }
  if (!e.notification) return;
  const core::Notification& n = *e.notification;
  if (n.decodeError) {
    log::info("LWG3109 notification {} of {} does not decode (stored as received): {}", n.id, where,
              *n.decodeError);
  } else {
    log::debug("LWG3110 notification {} of {}: observe {}, {} values", n.id, where,
               n.observeSeq ? std::to_string(*n.observeSeq) : "-", n.records.size());
  }
  pending_.push_back(n);
}

}  // namespace lwgate::daemon
