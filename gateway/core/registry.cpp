#include "gateway/core/registry.h"

#include <algorithm>
#include <cassert>

namespace lwgate::core {

Registry::Registry(const Clock& clock, RegistrationStore& store, RegistryLimits limits,
                   LocationGenerator newLocation)
    : clock_(clock), store_(store), limits_(limits), newLocation_(std::move(newLocation)) {}

Result<Registry::Restored> Registry::restore() {
  auto loaded = store_.loadRegistrations();
  if (!loaded) return loaded.error();
  Restored out;
  const WallTime wallNow = clock_.wallNow();
  const SteadyTime steadyNow = clock_.steadyNow();
  for (auto& reg : *loaded) {
    const WallTime wallDeadline = reg.updatedAt + Seconds(reg.lifetime);
    if (wallDeadline <= wallNow) {
      // Best effort: a row that cannot be deleted now is found expired again next start.
      (void)store_.deleteRegistration(reg.location);
      out.expired.push_back(std::move(reg));
      continue;
    }
    // If the wall clock went backwards since the Update, never grant more than one lifetime.
    auto remaining = std::min<std::chrono::system_clock::duration>(wallDeadline - wallNow,
                                                                   Seconds(reg.lifetime));
    reg.expiresAt = steadyNow + std::chrono::duration_cast<SteadyTime::duration>(remaining);
    insertInMemory(std::move(reg));
    ++out.active;
  }
  return out;
}

Result<Registry::Registered> Registry::registerClient(const lwm2m::RegisterParams& params,
                                                      lwm2m::ObjectList objects, const Peer& peer) {
  const Registration* previous = findByEndpoint(params.endpoint);
  if (!previous && byLocation_.size() >= limits_.maxDevices) {
    return makeError(ErrorCode::kLimitReached, "device limit reached (" +
                                                   std::to_string(limits_.maxDevices) +
                                                   " registered); try again later");
  }
  const WallTime now = clock_.wallNow();
  Registration reg;
  reg.location = freshLocation();
  reg.endpoint = params.endpoint;
  reg.lifetime = params.lifetime.value_or(lwm2m::kDefaultLifetime);
  reg.lifetimeSyncPending = !params.lifetime.has_value();
  reg.version = params.version;
  reg.binding = params.binding;
  reg.smsNumber = params.smsNumber.value_or("");
  reg.objects = std::move(objects);
  reg.peer = peer;
  reg.registeredAt = reg.updatedAt = reg.lastSeen = now;
  reg.expiresAt = deadlineFor(reg);

  if (auto saved = store_.insertRegistration(reg); !saved) return saved.error();

  Registered out{nullptr, std::nullopt};
  if (previous) out.replaced = eraseInMemory(previous->location);
  std::string location = reg.location;
  insertInMemory(std::move(reg));
  out.registration = findByLocation(location);
  if (listener_) listener_->registered(*out.registration, out.replaced ? &*out.replaced : nullptr);
  return out;
}

Result<const Registration*> Registry::update(std::string_view location,
                                             const lwm2m::UpdateParams& params,
                                             std::optional<lwm2m::ObjectList> objects,
                                             const Peer& peer) {
  const Registration* current = findByLocation(location);
  if (!current) {
    return makeError(ErrorCode::kNotFound, "no registration at this location; register again");
  }
  Registration next = *current;
  const Peer previousPeer = current->peer;
  if (params.lifetime) {
    next.lifetime = *params.lifetime;
    next.lifetimeSyncPending = false;
  }
  if (params.binding) {
    // An Update with only "Q" switches queue mode on and keeps the transports.
    if (!params.binding->transports.empty()) {
      next.binding = *params.binding;
    } else {
      next.binding.queueMode = params.binding->queueMode;
    }
  }
  if (params.smsNumber) next.smsNumber = *params.smsNumber;
  if (objects) next.objects = std::move(*objects);
  next.peer = peer;
  next.updatedAt = next.lastSeen = clock_.wallNow();
  next.expiresAt = deadlineFor(next);
  return replace(std::move(next), previousPeer);
}

Result<const Registration*> Registry::adoptLifetime(std::string_view location,
                                                    std::uint32_t lifetime) {
  const Registration* current = findByLocation(location);
  if (!current) return makeError(ErrorCode::kNotFound, "no registration at this location");
  Registration next = *current;
  next.lifetime = lifetime;
  next.lifetimeSyncPending = false;
  next.expiresAt = current->expiresAt - Seconds(current->lifetime) + Seconds(lifetime);
  const Peer peer = next.peer;
  return replace(std::move(next), peer);
}

Result<const Registration*> Registry::replace(Registration next, const Peer& previousPeer) {
  if (auto saved = store_.updateRegistration(next); !saved) return saved.error();
  const std::string location = next.location;
  eraseInMemory(location);
  insertInMemory(std::move(next));
  const Registration* replaced = findByLocation(location);
  if (listener_) listener_->updated(*replaced, previousPeer);
  return replaced;
}

Result<Registration> Registry::deregister(std::string_view location) {
  if (!findByLocation(location)) {
    return makeError(ErrorCode::kNotFound, "no registration at this location");
  }
  if (auto deleted = store_.deleteRegistration(location); !deleted) return deleted.error();
  Registration removed = eraseInMemory(location);
  if (listener_) listener_->deregistered(removed);
  return removed;
}

Registry::Expired Registry::expire() {
  Expired out;
  const SteadyTime now = clock_.steadyNow();
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    std::string location = expiries_.begin()->second;
    if (auto deleted = store_.deleteRegistration(location); !deleted && !out.storeError) {
      out.storeError = deleted.error();
    }
    out.removed.push_back(eraseInMemory(location));
    if (listener_) listener_->expired(out.removed.back());
  }
  return out;
}

std::optional<SteadyTime> Registry::nextExpiry() const {
  if (expiries_.empty()) return std::nullopt;
  return expiries_.begin()->first;
}

void Registry::touch(std::string_view location, WallTime at) {
  auto it = byLocation_.find(location);
  if (it != byLocation_.end()) it->second.lastSeen = std::max(it->second.lastSeen, at);
}

const Registration* Registry::findByLocation(std::string_view location) const {
  auto it = byLocation_.find(location);
  return it == byLocation_.end() ? nullptr : &it->second;
}

const Registration* Registry::findByEndpoint(std::string_view endpoint) const {
  auto it = locationByEndpoint_.find(endpoint);
  return it == locationByEndpoint_.end() ? nullptr : findByLocation(it->second);
}

const Registration* Registry::findByPeer(const Peer& peer) const {
  const Registration* best = nullptr;
  auto [first, last] = locationsByPeer_.equal_range(peerKey(peer));
  for (auto it = first; it != last; ++it) {
    const Registration* r = findByLocation(it->second);
    if (!r || r->peer != peer) continue;
    if (!best || r->updatedAt > best->updatedAt ||
        (r->updatedAt == best->updatedAt && r->registeredAt > best->registeredAt)) {
      best = r;
    }
  }
  return best;
}

std::string Registry::freshLocation() {
  // The generator is random; the loop only guards against the astronomically unlikely repeat.
  for (;;) {
    std::string loc = newLocation_();
    assert(!loc.empty());
    if (!byLocation_.contains(loc)) return loc;
  }
}

SteadyTime Registry::deadlineFor(const Registration& reg) const {
  return clock_.steadyNow() + Seconds(reg.lifetime);
}

void Registry::insertInMemory(Registration reg) {
  expiries_.emplace(reg.expiresAt, reg.location);
  locationByEndpoint_[reg.endpoint] = reg.location;
  locationsByPeer_.emplace(peerKey(reg.peer), reg.location);
  std::string key = reg.location;
  byLocation_.emplace(std::move(key), std::move(reg));
}

Registration Registry::eraseInMemory(std::string_view location) {
  auto it = byLocation_.find(location);
  assert(it != byLocation_.end());
  Registration reg = std::move(it->second);
  byLocation_.erase(it);
  expiries_.erase({reg.expiresAt, reg.location});
  auto ep = locationByEndpoint_.find(reg.endpoint);
  if (ep != locationByEndpoint_.end() && ep->second == reg.location) locationByEndpoint_.erase(ep);
  auto [first, last] = locationsByPeer_.equal_range(peerKey(reg.peer));
  for (auto p = first; p != last; ++p) {
    if (p->second == reg.location) {
      locationsByPeer_.erase(p);
      break;
    }
  }
  return reg;
}

}  // namespace lwgate::core
