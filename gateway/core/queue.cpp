#include "gateway/core/queue.h"

#include <algorithm>
#include <cassert>

namespace lwgate::core {

DownlinkQueue::DownlinkQueue(const Clock& clock, RequestStore& store, QueueConfig config,
                             IdGenerator ids)
    : clock_(clock), store_(store), config_(config), ids_(std::move(ids)) {}

Result<DownlinkQueue::Restored> DownlinkQueue::restore() {
  auto loaded = store_.loadUnfinished();
  if (!loaded) return loaded.error();
  Restored out;
  const WallTime now = clock_.wallNow();
  for (auto& r : *loaded) {
    const std::int64_t id = r.id;
    const std::string endpoint = r.endpoint;
    if (r.state == RequestState::kInFlight) {
      const bool withinExchange = r.sentAt && now - *r.sentAt < config_.exchangeLifetime;
      if (!withinExchange && !isIdempotent(r.operation)) {
        requests_.emplace(id, std::move(r));
        out.failed.push_back(
            finish(id, RequestState::kFailed,
                   "outcome unknown: the gateway stopped while the request was in flight and "
                   "re-sending a non-idempotent operation could execute it twice"));
        continue;
      }
      resumed_.insert(id);
      ++out.resumed;
    } else {
      ++out.queued;
      trackDeadline(r);
    }
    requests_.emplace(id, std::move(r));
    device(endpoint).queue.push_back(id);
  }
  return out;
}

Result<DownlinkQueue::Submitted> DownlinkQueue::submit(DownlinkRequest request) {
  if (request.endpoint.empty()) return makeError(ErrorCode::kBadRequest, "no endpoint given");
  if (request.path.empty()) return makeError(ErrorCode::kBadRequest, "no path given");
  if (request.idempotencyKey) {
    auto earlier = store_.findByIdempotencyKey(request.endpoint, *request.idempotencyKey);
    if (!earlier) return earlier.error();
    if (*earlier) return Submitted{(*earlier)->id, true};
  }
  Device& d = device(request.endpoint);
  const std::size_t unfinished = d.queue.size() + (d.inFlight ? 1 : 0);
  if (unfinished >= config_.maxPerDevice) {
    return makeError(ErrorCode::kLimitReached, "the queue of " + request.endpoint + " is full (" +
                                                   std::to_string(config_.maxPerDevice) +
                                                   " unfinished requests)");
  }
  const WallTime now = clock_.wallNow();
  request.state = RequestState::kQueued;
  request.createdAt = now;
  if (!request.deadline && config_.defaultTtl) request.deadline = now + *config_.defaultTtl;
  request.attempts = 0;
  request.messageId.reset();
  if (!takesCallerToken(request.operation)) request.token.clear();
  if (request.token.size() > 8)
    return makeError(ErrorCode::kBadRequest, "a token has 0 to 8 bytes");
  request.sentAt.reset();
  request.responseCode.reset();
  request.responsePayload.clear();
  request.responseFormat.reset();
  request.reason.clear();
  request.finishedAt.reset();
  auto id = store_.insertRequest(request);
  if (!id) return id.error();
  request.id = *id;
  const std::string endpoint = request.endpoint;
  trackDeadline(request);
  requests_.emplace(*id, std::move(request));
  d.queue.push_back(*id);
  dispatch(endpoint);
  return Submitted{*id, false};
}

Result<void> DownlinkQueue::cancel(std::int64_t id, std::string_view reason) {
  auto it = requests_.find(id);
  if (it == requests_.end()) {
    return makeError(ErrorCode::kNotFound, "no unfinished request " + std::to_string(id));
  }
  if (it->second.state == RequestState::kInFlight || resumed_.contains(id)) {
    return makeError(ErrorCode::kBadRequest,
                     "request " + std::to_string(id) +
                         " is in flight and may already be executing on the device");
  }
  Device& d = device(it->second.endpoint);
  std::erase(d.queue, id);
  finish(id, RequestState::kCancelled, std::string(reason));
  return {};
}

void DownlinkQueue::deviceRegistered(std::string_view endpoint, bool queueMode,
                                     std::optional<Millis> awakeWindow, bool heardNow) {
  Device& d = device(endpoint);
  d.registered = true;
  d.queueMode = queueMode;
  d.awakeWindow = awakeWindow;
  d.unreachable = !heardNow;
  if (heardNow) d.awakeUntil = clock_.steadyNow() + d.awakeWindow.value_or(config_.awakeWindow);
  noteReachability(std::string(endpoint), d);
  dispatch(endpoint);
}

void DownlinkQueue::deviceMessage(std::string_view endpoint) {
  auto it = devices_.find(endpoint);
  if (it == devices_.end()) return;
  Device& d = it->second;
  d.unreachable = false;
  d.awakeUntil = clock_.steadyNow() + d.awakeWindow.value_or(config_.awakeWindow);
  noteReachability(it->first, d);
  dispatch(endpoint);
}

void DownlinkQueue::setAwakeWindow(std::string_view endpoint, std::optional<Millis> awakeWindow) {
  device(endpoint).awakeWindow = awakeWindow;
}

void DownlinkQueue::deviceGone(std::string_view endpoint) {
  auto it = devices_.find(endpoint);
  if (it == devices_.end()) return;
  it->second.registered = false;
  noteReachability(it->first, it->second);
}

void DownlinkQueue::responded(std::int64_t id, std::uint8_t code, std::vector<std::uint8_t> payload,
                              std::optional<std::uint16_t> format) {
  auto it = requests_.find(id);
  if (it == requests_.end() || it->second.state != RequestState::kInFlight) return;  // stale
  const std::string endpoint = it->second.endpoint;
  Device& d = device(endpoint);
  if (d.inFlight != id) return;
  d.inFlight.reset();
  it->second.responseCode = code;
  it->second.responsePayload = std::move(payload);
  it->second.responseFormat = format;
  finish(id, RequestState::kDone, "");
  // The response is a message from the device: it is awake (TS Core 6.5).
  d.unreachable = false;
  d.awakeUntil = clock_.steadyNow() + d.awakeWindow.value_or(config_.awakeWindow);
  noteReachability(endpoint, d);
  // A full group is persisted before the next request goes out, so that one need not wait.
  if (held_.size() >= config_.maxUnsavedSends) persistHeld();
  dispatch(endpoint);
  if (groupCommitDue()) persistHeld();
}

void DownlinkQueue::transportFailed(std::int64_t id, std::string_view why) {
  auto it = requests_.find(id);
  if (it == requests_.end() || it->second.state != RequestState::kInFlight) return;
  DownlinkRequest& r = it->second;
  const std::string endpoint = r.endpoint;
  Device& d = device(endpoint);
  if (d.inFlight != id) return;
  d.inFlight.reset();
  d.unreachable = true;  // asleep, or gone behind a NAT: wait until it talks again
  d.awakeUntil = clock_.steadyNow();
  noteReachability(endpoint, d);
  ++r.attempts;
  if (r.attempts >= config_.maxAttempts) {
    finish(id, RequestState::kFailed,
           "no answer after " + std::to_string(r.attempts) +
               " attempts (last: " + std::string(why) + ")");
    return;
  }
  r.state = RequestState::kQueued;
  r.reason = std::string(why);
  persistHeld();  // answers before later changes
  sentUnsaved_.erase(id);
  (void)store_.saveRequest(r);  // at worst it is found in flight after a restart: same rules
  resumed_.erase(id);
  trackDeadline(r);
  d.queue.push_front(id);
}

void DownlinkQueue::abort(std::int64_t id, std::string_view why) {
  auto it = requests_.find(id);
  if (it == requests_.end() || it->second.state != RequestState::kInFlight) return;
  const std::string endpoint = it->second.endpoint;
  Device& d = device(endpoint);
  if (d.inFlight == id) d.inFlight.reset();
  finish(id, RequestState::kFailed, std::string(why));
  dispatch(endpoint);
}

void DownlinkQueue::tick() {
  if (groupCommitDue()) persistHeld();
  std::vector<DownlinkRequest> retry;
  retry.swap(unsaved_);
  for (auto& r : retry) {
    if (!store_.saveRequest(r)) unsaved_.push_back(std::move(r));
  }
  const WallTime now = clock_.wallNow();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const std::int64_t id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    std::erase(device(requests_.at(id).endpoint).queue, id);
    finish(id, RequestState::kExpired, "its deadline passed before the device could be reached");
  }
  const SteadyTime steadyNow = clock_.steadyNow();
  while (!awakeEnds_.empty() && awakeEnds_.begin()->first <= steadyNow) {
    const std::string endpoint = awakeEnds_.begin()->second;
    Device& d = device(endpoint);
    awakeEnds_.erase(awakeEnds_.begin());
    d.awakeEnd.reset();
    noteReachability(endpoint, d);
  }
}

void DownlinkQueue::noteReachability(const std::string& endpoint, Device& d) {
  const bool now = canSend(d);
  if (d.awakeEnd) awakeEnds_.erase({*d.awakeEnd, endpoint});
  d.awakeEnd.reset();
  if (now && d.queueMode) {
    d.awakeEnd = d.awakeUntil;
    awakeEnds_.emplace(d.awakeUntil, endpoint);
  }
  if (now != d.wasReachable) {
    d.wasReachable = now;
    if (listener_) listener_->reachabilityChanged(endpoint, now);
  }
}

std::optional<SteadyTime> DownlinkQueue::nextTimer() const {
  std::optional<SteadyTime> next;
  if (!deadlines_.empty()) next = steadyFor(deadlines_.begin()->first);
  if (!awakeEnds_.empty() && (!next || awakeEnds_.begin()->first < *next)) {
    next = awakeEnds_.begin()->first;
  }
  if (firstHeldAt_) {
    const SteadyTime due = *firstHeldAt_ + config_.groupCommitDelay;
    if (!next || due < *next) next = due;
  }
  if (!unsaved_.empty()) {
    const SteadyTime retry = clock_.steadyNow() + Seconds(1);
    if (!next || retry < *next) next = retry;
  }
  return next;
}

const DownlinkRequest* DownlinkQueue::find(std::int64_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : &it->second;
}

std::size_t DownlinkQueue::unfinished(std::string_view endpoint) const {
  auto it = devices_.find(endpoint);
  if (it == devices_.end()) return 0;
  return it->second.queue.size() + (it->second.inFlight ? 1 : 0);
}

bool DownlinkQueue::reachable(std::string_view endpoint) const {
  auto it = devices_.find(endpoint);
  return it != devices_.end() && canSend(it->second);
}

std::optional<std::int64_t> DownlinkQueue::inFlight(std::string_view endpoint) const {
  auto it = devices_.find(endpoint);
  return it == devices_.end() ? std::nullopt : it->second.inFlight;
}

std::optional<DownlinkQueue::Waiting> DownlinkQueue::waiting(std::string_view endpoint) const {
  auto it = devices_.find(endpoint);
  if (it == devices_.end() || it->second.queue.empty()) return std::nullopt;
  Waiting w;
  w.requestId = it->second.queue.front();
  std::optional<std::int64_t> firstUrgent;
  std::optional<std::int64_t> earliest;
  for (std::int64_t id : it->second.queue) {
    auto r = requests_.find(id);
    if (r == requests_.end()) continue;
    if (r->second.urgent && !firstUrgent) firstUrgent = id;
    if (r->second.deadline && (!w.deadline || *r->second.deadline < *w.deadline)) {
      w.deadline = r->second.deadline;
      earliest = id;
    }
  }
  w.urgent = firstUrgent.has_value();
  if (firstUrgent) {
    w.requestId = *firstUrgent;
  } else if (earliest) {
    w.requestId = *earliest;
  }
  return w;
}

DownlinkQueue::Device& DownlinkQueue::device(std::string_view endpoint) {
  auto it = devices_.find(endpoint);
  if (it == devices_.end()) it = devices_.emplace(std::string(endpoint), Device{}).first;
  return it->second;
}

bool DownlinkQueue::canSend(const Device& d) const {
  return d.registered && !d.unreachable && (!d.queueMode || clock_.steadyNow() < d.awakeUntil);
}

void DownlinkQueue::dispatch(std::string_view endpoint) {
  Device& d = device(endpoint);
  while (canSend(d) && !d.inFlight && !d.queue.empty()) {
    const std::int64_t id = d.queue.front();
    DownlinkRequest& r = requests_.at(id);
    const WallTime now = clock_.wallNow();
    const bool sentBefore = r.messageId.has_value() && r.sentAt.has_value();
    const bool withinExchange = sentBefore && now - *r.sentAt < config_.exchangeLifetime;
    if (sentBefore && !withinExchange && resumed_.contains(id) && !isIdempotent(r.operation)) {
      d.queue.pop_front();
      resumed_.erase(id);
      finish(id, RequestState::kFailed,
             "outcome unknown: the gateway stopped while the request was in flight and the "
             "device was not reachable again within EXCHANGE_LIFETIME");
      continue;
    }
    const DownlinkRequest before = r;
    if (!withinExchange) {
      // A new exchange. Within EXCHANGE_LIFETIME of the first transmission the same Message ID
      // and token are reused, so a device that did get it drops the repeat (RFC 7252 4.5).
      TransmissionIds fresh = ids_();
      r.messageId = fresh.messageId;
      // An Observe keeps its token across exchanges too: sent again, it renews the same
      // observation on the device instead of adding a second one (RFC 7641 3.3.1).
      if (!takesCallerToken(r.operation) || r.token.empty()) r.token = std::move(fresh.token);
      r.sentAt = now;
    }
    r.state = RequestState::kInFlight;
    const bool unsaved = sendsUnsaved(r);
    if (unsaved) {
      sentUnsaved_.insert(id);
    } else {
      persistHeld();  // answers before the next request, in the order they came
      // Persisted before it is sent (OMA issue #104).
      if (!store_.saveRequest(r)) {
        r = before;  // not sent; the next event tries again
        return;
      }
      sentUnsaved_.erase(id);
    }
    d.queue.pop_front();
    d.inFlight = id;
    resumed_.erase(id);
    untrackDeadline(before);
    if (listener_) unsaved ? listener_->sendUnsaved(r) : listener_->send(r);
  }
}

bool DownlinkQueue::sendsUnsaved(const DownlinkRequest& r) const {
  // An Observe's token is the observation's, and a resumed request keeps the Message ID and
  // token a device may have seen: both are persisted before they go out.
  return sentUnsaved_.size() < config_.maxUnsavedSends && isIdempotent(r.operation) &&
         !takesCallerToken(r.operation) && !resumed_.contains(r.id);
}

bool DownlinkQueue::groupCommitDue() const {
  if (held_.empty()) return false;
  // Nothing sent unsaved is still waiting for its answer: no more answers are coming to join
  // the group, so waiting would only delay the results.
  if (sentUnsaved_.size() <= held_.size()) return true;
  return held_.size() >= config_.maxUnsavedSends ||
         clock_.steadyNow() >= *firstHeldAt_ + config_.groupCommitDelay;
}

void DownlinkQueue::persistHeld() {
  if (held_.empty()) return;
  std::vector<DownlinkRequest> group;
  group.swap(held_);
  firstHeldAt_.reset();
  for (const auto& r : group) {
    sentUnsaved_.erase(r.id);
    if (!store_.saveRequest(r)) unsaved_.push_back(r);
  }
  if (listener_) {
    for (const auto& r : group) listener_->finished(r);
  }
}

DownlinkRequest DownlinkQueue::finish(std::int64_t id, RequestState state, std::string reason) {
  auto it = requests_.find(id);
  assert(it != requests_.end());
  DownlinkRequest r = std::move(it->second);
  requests_.erase(it);
  resumed_.erase(id);
  untrackDeadline(r);
  r.state = state;
  r.reason = std::move(reason);
  r.finishedAt = clock_.wallNow();
  if (state == RequestState::kDone && sentUnsaved_.contains(id)) {
    // Its transmission was not persisted either: a crash before the group commit re-sends it,
    // which an idempotent request allows. Reported once persisted (persistHeld()).
    if (held_.empty()) firstHeldAt_ = clock_.steadyNow();
    held_.push_back(r);
    return r;
  }
  persistHeld();  // answers in the order they came
  sentUnsaved_.erase(id);
  if (!store_.saveRequest(r)) unsaved_.push_back(r);
  if (listener_) listener_->finished(r);
  return r;
}

void DownlinkQueue::trackDeadline(const DownlinkRequest& r) {
  if (r.deadline) deadlines_.emplace(*r.deadline, r.id);
}

void DownlinkQueue::untrackDeadline(const DownlinkRequest& r) {
  if (r.deadline) deadlines_.erase({*r.deadline, r.id});
}

SteadyTime DownlinkQueue::steadyFor(WallTime t) const {
  return clock_.steadyNow() +
         std::chrono::duration_cast<SteadyTime::duration>(t - clock_.wallNow());
}

std::size_t DownlinkQueue::totalInFlight() const {
  std::size_t n = 0;
  for (const auto& [endpoint, d] : devices_) n += d.inFlight ? 1 : 0;
  return n;
}

}  // namespace lwgate::core
