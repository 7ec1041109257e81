#include "gateway/daemon/downlink.h"

#include <sys/random.h>

#include <algorithm>

#include "gateway/core/operation_mapping.h"
#include "gateway/lwm2m/content_format.h"
#include "gateway/util/log.h"

namespace lwgate::daemon {
namespace {

constexpr std::string_view kLifetimeSyncKey = "lifetime-sync:";

void randomBytes(void* out, std::size_t n) {
  auto* p = static_cast<unsigned char*>(out);
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(p + got, n - got, 0);
    if (r > 0) got += static_cast<std::size_t>(r);
  }
}

}  // namespace

Downlink::Downlink(const core::Clock& clock, db::Connection& connection, coap::Server& server,
                   core::QueueConfig config, core::ObservationConfig observationConfig)
    : clock_(clock),
      connection_(connection),
      server_(server),
      config_(config),
      observations_(std::make_unique<Observations>(clock, connection, observationConfig)) {
  // Message IDs start at a random point (RFC 7252 4.4) and count up; tokens are 8 random bytes,
  // so an off-path peer cannot forge answers (RFC 7252 5.3.1).
  randomBytes(&nextMessageId_, sizeof nextMessageId_);
  server_.setDownlinkHandlers([this](const coap::Server::Answer& a) { return onAnswer(a); },
                              [this](const core::Peer& p, const std::vector<std::uint8_t>& t,
                                     std::string_view why) { onFailure(p, t, why); });
}

std::unique_ptr<core::DownlinkQueue> Downlink::makeQueue() {
  auto q = std::make_unique<core::DownlinkQueue>(clock_, *store_, config_, [this] {
    core::DownlinkQueue::TransmissionIds ids{++nextMessageId_, std::vector<std::uint8_t>(8)};
    // Tokens come from a buffer filled 64 at a time: one getrandom() per 64 requests.
    if (tokenBytesUsed_ + ids.token.size() > tokenBytes_.size()) {
      randomBytes(tokenBytes_.data(), tokenBytes_.size());
      tokenBytesUsed_ = 0;
    }
    std::copy_n(tokenBytes_.begin() + static_cast<std::ptrdiff_t>(tokenBytesUsed_),
                ids.token.size(), ids.token.begin());
    tokenBytesUsed_ += ids.token.size();
    return ids;
  });
  q->setListener(this);
  return q;
}

Result<void> Downlink::open() {
  auto store = db::SqliteRequestStore::create(connection_);
  if (!store) return store.error();
  store_ = std::move(*store);
  // Message IDs go on from the last exchange in the database (the random start is for a new
  // one): a device remembers the IDs it saw for EXCHANGE_LIFETIME, and a random start after a
  // restart could hit one of them, which the device would take for a repeat and answer with an
  // old response. The margin covers exchanges started within the same millisecond as the last
  // one (32), and the requests sent without their Message ID persisted
  // (QueueConfig::maxUnsavedSends) - twice: those since the last group was persisted, and those
  // of that group, persisted but perhaps not yet committed. It is small so that even many
  // restarts within EXCHANGE_LIFETIME do not walk through all 65536 IDs (500 restarts: 48,000
  // IDs with the default 32).
  const auto margin = static_cast<std::uint16_t>(32 + 2 * config_.maxUnsavedSends);
  auto last = store_->lastMessageId();
  if (!last) return last.error();
  if (*last) nextMessageId_ = static_cast<std::uint16_t>(**last + margin);
  queue_ = makeQueue();
  auto restored = queue_->restore();
  if (!restored) return restored.error();
  if (auto observed = observations_->open(); !observed) return observed.error();
  observations_->setQueue(queue_.get());
  log::notice(
      "LWG3000 restored the downlink queue: {} queued, {} in flight to resend, {} failed "
      "as outcome unknown",
      restored->queued, restored->resumed, restored->failed.size());
  return {};
}

Result<void> Downlink::discardAndReload() {
  pending_.clear();
  unsaved_.clear();
  completed_.clear();
  waiting_.clear();
  sentUnsaved_.clear();
  reachability_.clear();
  inFlight_.clear();
  peerUsers_.clear();  // rebuilt below from the reloaded registry
  queue_ = makeQueue();
  auto loaded = queue_->restore();
  if (!loaded) return loaded.error();
  observations_->setQueue(queue_.get());
  if (auto observed = observations_->reload(); !observed) return observed.error();
  if (registry_) registry_->forEach([this](const core::Registration& r) { restored(r); });
  return {};
}

void Downlink::usePeer(const core::Peer& peer) {
  ++peerUsers_[core::peerKey(peer)];
  server_.keepSession(peer);  // the session of the request being handled, if any
}

void Downlink::releasePeer(const core::Peer& peer) {
  auto it = peerUsers_.find(core::peerKey(peer));
  if (it == peerUsers_.end()) return;
  if (--it->second > 0) return;
  peerUsers_.erase(it);
  server_.dropSession(peer);
}

void Downlink::restored(const core::Registration& reg) {
  ++peerUsers_[core::peerKey(reg.peer)];
  queue_->deviceRegistered(reg.endpoint, reg.queueMode(), awakeWindowOf_(reg.endpoint),
                           /*heardNow=*/false);
}

void Downlink::registered(const core::Registration& reg, const core::Registration* replaced) {
  usePeer(reg.peer);
  if (replaced) releasePeer(replaced->peer);
  queue_->deviceRegistered(reg.endpoint, reg.queueMode(), awakeWindowOf_(reg.endpoint));
  if (reg.lifetimeSyncPending) syncLifetime(reg);
  // A client drops its observations when it registers: re-establish the gateway's.
  observations_->deviceTalked(reg, /*newRegistration=*/true);
}

void Downlink::updated(const core::Registration& reg, const core::Peer& previousPeer) {
  if (previousPeer != reg.peer) {
    usePeer(reg.peer);
    releasePeer(previousPeer);
  } else {
    server_.keepSession(reg.peer);  // a new session object after libcoap dropped an idle one
  }
  queue_->deviceRegistered(reg.endpoint, reg.queueMode(), awakeWindowOf_(reg.endpoint));
  // The first Update after a gateway restart re-establishes the observations.
  observations_->deviceTalked(reg, /*newRegistration=*/false);
}

void Downlink::gone(const core::Registration& reg) {
  releasePeer(reg.peer);
  queue_->deviceGone(reg.endpoint);
}

Result<core::DownlinkQueue::Submitted> Downlink::submit(core::DownlinkRequest request) {
  if (request.operation == core::Operation::kCancelObserve && request.token.empty()) {
    if (auto bound = observations_->bindCancel(request); !bound) return bound.error();
  }
  return queue_->submit(std::move(request));
}

void Downlink::send(const core::DownlinkRequest& request) {
  pending_.push_back(request.id);
}

void Downlink::sendUnsaved(const core::DownlinkRequest& request) {
  unsaved_.push_back(request.id);
}

void Downlink::sendUnsaved() {
  std::vector<std::int64_t> ids;
  ids.swap(unsaved_);
  for (std::int64_t id : ids) {
    // By SMS: the SMS transport logs it in the open transaction, so it waits for the commit.
    const core::DownlinkRequest* r = smsRoute_ ? queue_->find(id) : nullptr;
    const core::Registration* reg =
        r && registry_ ? registry_->findByEndpoint(r->endpoint) : nullptr;
    if (reg && smsRoute_->smsRouteFor(*reg)) {
      pending_.push_back(id);
      continue;
    }
    transmit(id, /*unsaved=*/true);
  }
}

void Downlink::persistHeld() {
  if (queue_->held() == 0) return;
  // Nested in the daemon's batch when one is open (a savepoint), else a transaction of its own;
  // without one, each save commits alone.
  auto tx = db::Transaction::begin(connection_);
  queue_->persistHeld();
  if (tx) {
    if (auto committed = tx->commit(); !committed) {
      log::warning("LWG3008 cannot commit the answers of a group: {}", committed.error().message);
    }
  }
}

void Downlink::tick() {
  // Expiries and a held group: one commit; often nothing (an awake window ended).
  auto tx = db::Transaction::beginLazy(connection_);
  queue_->tick();
  {
    if (auto committed = tx.commit(); !committed) {
      log::warning("LWG3008 cannot commit the downlink queue's timers: {}",
                   committed.error().message);
    }
  }
}

void Downlink::flush() {
  // Results first: a request that finished frees its device's queue for the next, sent below.
  std::vector<core::DownlinkRequest> completed;
  completed.swap(completed_);
  std::vector<std::pair<std::int64_t, std::string>> waiting;
  waiting.swap(waiting_);
  std::vector<std::pair<std::string, bool>> reachability;
  reachability.swap(reachability_);
  // "sent" of requests that went out unsaved: with a group of results (before them: a request
  // is told sent before it is told done), or as soon as no answers are held.
  if (!completed.empty() || queue_->held() == 0) tellSent();
  if (events_) {
    for (const auto& [endpoint, reachable] : reachability) {
      events_->deviceReachability(endpoint, reachable);
    }
    for (const auto& r : completed) events_->requestFinished(r);
    for (const auto& [id, endpoint] : waiting) events_->requestWaiting(id, endpoint);
  }
  observations_->flush();  // stored notifications, after the commit like the results
  sendUnsaved();
  std::vector<std::int64_t> ids;
  ids.swap(pending_);
  for (std::int64_t id : ids) transmit(id);
  if (queue_->held() == 0) tellSent();  // nothing held: no group to wait for
}

void Downlink::tellSent() {
  std::vector<std::pair<std::int64_t, std::string>> sent;
  sent.swap(sentUnsaved_);
  if (!events_) return;
  for (const auto& [id, endpoint] : sent) events_->requestSent(id, endpoint);
}

void Downlink::transmit(std::int64_t id, bool unsaved) {
  const core::DownlinkRequest* r = queue_->find(id);
  if (!r || r->state != core::RequestState::kInFlight) return;
  const core::Registration* reg = registry_ ? registry_->findByEndpoint(r->endpoint) : nullptr;
  if (!reg) {
    queue_->transportFailed(id, "the device is not registered");
    return;
  }
  auto coap = core::toCoapRequest(*r, *reg);
  if (!coap) {
    log::warning("LWG3002 request {} to {} cannot be sent: {}", id, r->endpoint,
                 coap.error().message);
    queue_->abort(id, coap.error().message);
    return;
  }
  // The SMS binding: some devices get their requests by SMS (sms_transport.h).
  std::optional<std::string> smsNumber;
  if (smsRoute_) smsNumber = smsRoute_->smsRouteFor(*reg);
  const core::Peer peer = smsNumber ? core::Peer{"sms", *smsNumber, 0} : reg->peer;
  auto sent = smsNumber ? smsRoute_->sendBySms(*smsNumber, *r, *coap)
                        : server_.sendRequest(reg->peer, *coap, *r->messageId, r->token);
  if (!sent) {
    queue_->transportFailed(id, sent.error().message);
    return;
  }
  inFlight_[exchangeKey(peer, r->token)] = id;
  if (unsaved) {
    sentUnsaved_.emplace_back(id, r->endpoint);
  } else if (events_) {
    events_->requestSent(id, r->endpoint);
  }
  log::debug("LWG3003 sent request {} {} {} to {} at {} (mid {})", id,
             core::operationName(r->operation), r->path, r->endpoint, core::peerKey(peer),
             *r->messageId);
}

bool Downlink::onAnswer(const coap::Server::Answer& a) {
  auto it = inFlight_.find(exchangeKey(a.peer, a.token));
  if (!a.error.empty()) {
    // A block-wise answer that could not be taken whole (coap::Server logged why). The device
    // did answer, so the request is over - never sent again - and a notification is lost.
    if (it == inFlight_.end()) return true;
    const std::int64_t id = it->second;
    inFlight_.erase(it);
    queue_->abort(id, a.error);
    return true;
  }
  // A notification, or something nobody waits for (a late duplicate, a notification of an
  // observation that ended): Observations decides, and the unwanted get RST.
  if (it == inFlight_.end()) {
    if (!observations_->unsolicited(a)) return false;
    // A notification from the registered device: after a restart it may be the first message
    // from it, and requests go out on the session it came in on.
    server_.keepSession(a.peer);
    return true;
  }
  const std::int64_t id = it->second;
  inFlight_.erase(it);
  if (const core::DownlinkRequest* r = queue_->find(id)) {
    if (const core::Registration* reg =
            registry_ ? registry_->findByEndpoint(r->endpoint) : nullptr) {
      registry_->touch(reg->location,
                       clock_.wallNow());  // "last seen"; persisted by the next Update
    }
    // Before the queue hears it: an Observe answer starts the observation in the same batch.
    observations_->answered(*r, a);
  }
  queue_->responded(id, a.code, std::vector<std::uint8_t>(a.payload.begin(), a.payload.end()),
                    a.contentFormat);
  return true;
}

void Downlink::onFailure(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                         std::string_view why) {
  auto it = inFlight_.find(exchangeKey(peer, token));
  if (it == inFlight_.end()) return;
  const std::int64_t id = it->second;
  inFlight_.erase(it);
  queue_->transportFailed(id, why);
  if (const core::DownlinkRequest* r = queue_->find(id)) waiting_.emplace_back(id, r->endpoint);
}

void Downlink::reachabilityChanged(std::string_view endpoint, bool reachable) {
  reachability_.emplace_back(endpoint, reachable);
}

void Downlink::finished(const core::DownlinkRequest& r) {
  log::info("LWG3001 request {} {} {} to {}: {}{}{}", r.id, core::operationName(r.operation),
            r.path, r.endpoint, core::stateName(r.state),
            r.responseCode ? " " + core::codeText(static_cast<core::Code>(*r.responseCode)) : "",
            r.reason.empty() ? "" : " (" + r.reason + ")");
  if (r.idempotencyKey && r.idempotencyKey->starts_with(kLifetimeSyncKey)) adoptSyncedLifetime(r);
  completed_.push_back(r);
  observations_->finished(r);
}

// spec/cr-registration-lifetime.txt: "if the parameter Lifetime is absent, the Server MUST
// perform either a READ or WRITE on the Lifetime Resource of the Server Object Instance".
// The instance is this server's; it is known when the device lists exactly one /1 instance.
void Downlink::syncLifetime(const core::Registration& reg) {
  const auto instances = reg.serverInstances();
  if (instances.size() != 1) {
    log::notice(
        "LWG3004 {} registered without lt= and lists {} Server object instances; "
        "keeping the default lifetime of {}s",
        reg.endpoint, instances.size(), reg.lifetime);
    return;
  }
  core::DownlinkRequest r;
  r.endpoint = reg.endpoint;
  r.operation = core::Operation::kRead;
  r.path = "/1/" + std::to_string(instances.front()) + "/1";
  r.acceptFormat = lwm2m::format::kTextPlain;  // one integer: every client serves text/plain
  r.idempotencyKey = std::string(kLifetimeSyncKey) + reg.location;
  r.deadline = clock_.wallNow() + core::Seconds(reg.lifetime);
  if (auto s = queue_->submit(std::move(r)); !s) {
    log::warning("LWG3005 cannot queue the lifetime read for {}: {}", reg.endpoint,
                 s.error().message);
  }
}

void Downlink::adoptSyncedLifetime(const core::DownlinkRequest& r) {
  const std::string location = r.idempotencyKey->substr(kLifetimeSyncKey.size());
  if (r.state != core::RequestState::kDone || r.responseCode != 0x45) return;
  auto path = lwm2m::Path::parse(r.path);
  if (!path) return;
  auto records = lwm2m::decode(r.responseFormat.value_or(lwm2m::format::kTextPlain),
                               r.responsePayload, *path, lwm2m::coreObjects());
  const std::int64_t* value = nullptr;
  if (records && records->size() == 1) value = (*records)[0].value.get<std::int64_t>();
  if (!value || *value <= 0 || *value > 4294967295LL) {
    log::warning("LWG3006 {} answered the lifetime read with no usable lifetime{}", r.endpoint,
                 records ? "" : ": " + records.error().message);
    return;
  }
  if (!registry_) return;
  if (auto adopted = registry_->adoptLifetime(location, static_cast<std::uint32_t>(*value));
      adopted) {
    log::info("LWG2006 lifetime of {} synchronised from {}: {}s", r.endpoint, r.path, *value);
  }
}

std::string Downlink::exchangeKey(const core::Peer& peer, const std::vector<std::uint8_t>& token) {
  std::string key = core::peerKey(peer) + "|";
  key.append(token.begin(), token.end());
  return key;
}

}  // namespace lwgate::daemon
