#include "bridge/registration.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace lwgate::bridge {
namespace {

constexpr std::size_t kMaxEndpointLength = 255;  // TS Core: the Register's ep

std::string codeText(std::uint8_t code) {
  char text[8];
  std::snprintf(text, sizeof text, "%d.%02d", code >> 5, code & 0x1f);
  return text;
}

std::vector<std::string> bindingQuery(const UpstreamParams& p) {
  // LwM2M 1.0 (TS 1.0 5.3.1.1) writes queue mode into the binding ("UQ"); 1.1 and later have
  // b=U and a separate Q parameter (TS Core 1.1 6.2.1.1).
  if (p.version == "1.0") return {p.queueMode ? "b=UQ" : "b=U"};
  if (p.queueMode) return {"b=U", "Q"};
  return {"b=U"};
}

}  // namespace

std::vector<std::string> registerQuery(const UpstreamParams& p) {
  std::vector<std::string> q{"ep=" + p.endpoint, "lt=" + std::to_string(p.lifetime),
                             "lwm2m=" + p.version};
  for (auto& b : bindingQuery(p)) q.push_back(std::move(b));
  return q;
}

std::vector<std::string> updateQuery(const UpstreamParams& told, const UpstreamParams& now) {
  std::vector<std::string> q;
  if (told.lifetime != now.lifetime) q.push_back("lt=" + std::to_string(now.lifetime));
  if (told.queueMode != now.queueMode) {
    for (auto& b : bindingQuery(now)) q.push_back(std::move(b));
  }
  return q;
}

std::string_view linkStateName(LinkState s) {
  switch (s) {
    case LinkState::kWaiting:
      return "waiting";
    case LinkState::kRegistering:
      return "registering";
    case LinkState::kRegistered:
      return "registered";
    case LinkState::kUpdating:
      return "updating";
    case LinkState::kRetrying:
      return "retrying";
    case LinkState::kDeregistering:
      return "deregistering";
  }
  return "?";
}

UpstreamRegistrations::UpstreamRegistrations(const core::Clock& clock,
                                             UpstreamRegistrationStore& store,
                                             RegistrationTiming timing, Random random)
    : clock_(clock), store_(store), timing_(timing), random_(std::move(random)) {}

UpstreamRegistrations::Server* UpstreamRegistrations::findServer(std::string_view uri) {
  auto it = byUri_.find(uri);
  return it == byUri_.end() ? nullptr : &it->second;
}
const UpstreamRegistrations::Server* UpstreamRegistrations::findServer(std::string_view uri) const {
  auto it = byUri_.find(uri);
  return it == byUri_.end() ? nullptr : &it->second;
}

const UpstreamConfig* UpstreamRegistrations::server(std::string_view uri) const {
  const Server* s = findServer(uri);
  return s && !s->removed ? &s->config : nullptr;
}

const UpstreamConfig* UpstreamRegistrations::serverConfig(std::string_view uri) const {
  const Server* s = findServer(uri);
  return s ? &s->config : nullptr;
}

void UpstreamRegistrations::addServer(UpstreamConfig config) {
  const core::SteadyTime now = clock_.steadyNow();
  const auto holdOff =
      std::chrono::duration_cast<core::Millis>(std::chrono::duration<double>(config.holdOff));
  Server& s = byUri_[config.uri];
  s.config = std::move(config);
  s.removed = false;
  s.holdOffUntil = now + holdOff;
  s.nextSlot = s.holdOffUntil;
  s.queue.clear();
}

Result<void> UpstreamRegistrations::restore(std::vector<UpstreamConfig> servers) {
  for (const auto& c : servers) addServer(c);
  servers_ = std::move(servers);
  auto loaded = store_.loadRegistrations();
  if (!loaded) return loaded.error();
  const core::SteadyTime steadyNow = clock_.steadyNow();
  const core::WallTime wallNow = clock_.wallNow();
  for (auto& r : *loaded) {
    if (!server(r.server) || r.location.empty()) {
      // Its server is no longer configured: nothing to talk to; the server lets it expire.
      (void)store_.removeRegistration(r.server, r.device);
      continue;
    }
    Link& l = links_[{r.server, r.device}];
    l.location = std::move(r.location);
    l.told = std::move(r.told);
    l.updatedAt = r.updatedAt;
    // Never in the future, in case the wall clock went backwards while stopped.
    l.updatedSteady =
        steadyNow -
        std::max(core::Millis(0), std::chrono::duration_cast<core::Millis>(wallNow - r.updatedAt));
    // The server knows the device at the address of the socket before the restart.
    l.restartUpdate = true;
    l.state = LinkState::kWaiting;
  }
  return {};
}

void UpstreamRegistrations::start() {
  started_ = true;
  std::vector<Key> keys;
  for (const auto& [key, l] : links_) keys.push_back(key);
  for (const auto& key : keys) advance(key);
}

void UpstreamRegistrations::setServers(std::vector<UpstreamConfig> servers) {
  const core::SteadyTime now = clock_.steadyNow();
  std::vector<std::string> reannounce;
  std::vector<std::string> gone;
  for (const auto& [uri, s] : byUri_) {
    if (!s.removed && std::ranges::none_of(servers, [&](const auto& c) { return c.uri == uri; })) {
      gone.push_back(uri);
    }
  }
  for (const auto& uri : gone) removeServer(uri);
  for (const auto& c : servers) {
    Server* s = findServer(c.uri);
    if (!s || s->removed) {
      addServer(c);
      reannounce.push_back(c.uri);
      continue;
    }
    const bool registrationsChange =
        c.devices != s->config.devices || c.endpointPrefix != s->config.endpointPrefix ||
        c.lifetime != s->config.lifetime || c.queueMode != s->config.queueMode;
    if (c.devices != s->config.devices || c.endpointPrefix != s->config.endpointPrefix) {
      // Registrations this change starts wait for the hold-off, like at start-up.
      s->holdOffUntil =
          now + std::chrono::duration_cast<core::Millis>(std::chrono::duration<double>(c.holdOff));
      s->nextSlot = std::max(s->nextSlot, s->holdOffUntil);
    }
    s->config = c;
    if (registrationsChange) reannounce.push_back(c.uri);
  }
  servers_ = std::move(servers);
  for (const auto& uri : reannounce) {
    // Devices that left the server's patterns lose their link, new ones get one.
    for (auto& [key, l] : links_) {
      if (key.first == uri && !devices_.contains(key.second)) l.wanted.reset();
    }
    std::vector<std::string> endpoints;
    for (const auto& [key, l] : links_) {
      if (key.first == uri) endpoints.push_back(key.second);
    }
    for (const auto& [ep, d] : devices_) endpoints.push_back(ep);
    std::ranges::sort(endpoints);
    endpoints.erase(std::unique(endpoints.begin(), endpoints.end()), endpoints.end());
    for (const auto& ep : endpoints) {
      auto d = devices_.find(ep);
      announce({uri, ep}, d == devices_.end() ? nullptr : &d->second);
    }
    if (Server* s = findServer(uri)) grantSlots(*s);
  }
  // Removed servers without links left go now.
  std::erase_if(byUri_, [&](const auto& entry) {
    if (!entry.second.removed) return false;
    return std::ranges::none_of(links_,
                                [&](const auto& l) { return l.first.first == entry.first; });
  });
}

void UpstreamRegistrations::removeServer(const std::string& uri) {
  Server* s = findServer(uri);
  if (!s) return;
  s->removed = true;
  s->queue.clear();
  std::vector<Key> keys;
  for (auto& [key, l] : links_) {
    if (key.first != uri) continue;
    l.wanted.reset();
    l.inQueue = false;
    keys.push_back(key);
  }
  for (const auto& key : keys) advance(key);
}

std::optional<UpstreamParams> UpstreamRegistrations::paramsFor(const UpstreamConfig& c,
                                                               const DeviceInfo& d) const {
  if (!c.bridges(d.endpoint)) return std::nullopt;
  UpstreamParams p;
  p.endpoint = c.upstreamEndpoint(d.endpoint);
  if (p.endpoint.size() > kMaxEndpointLength) return std::nullopt;
  p.lifetime = c.lifetime;
  p.version = d.version;
  // Gateway mode shows every device as always reachable: lwgate absorbs the sleep.
  p.queueMode = c.queueMode == QueueMode::kMirror && d.queueMode;
  p.objectLinks = d.objectLinks;
  return p;
}

void UpstreamRegistrations::announce(const Key& key, const DeviceInfo* device) {
  const Server* s = findServer(key.first);
  std::optional<UpstreamParams> wanted;
  if (s && !s->removed && device) wanted = paramsFor(s->config, *device);
  auto it = links_.find(key);
  if (it == links_.end()) {
    if (!wanted) return;
    it = links_.emplace(key, Link{}).first;
  }
  it->second.wanted = std::move(wanted);
  advance(key);
}

void UpstreamRegistrations::deviceRegistered(const DeviceInfo& device) {
  devices_[device.endpoint] = device;
  std::vector<std::string> uris;
  for (const auto& [uri, s] : byUri_) uris.push_back(uri);
  for (const auto& uri : uris) announce({uri, device.endpoint}, &device);
}

void UpstreamRegistrations::deviceGone(std::string_view endpoint) {
  devices_.erase(std::string(endpoint));
  std::vector<Key> keys;
  for (auto& [key, l] : links_) {
    if (key.second == endpoint) {
      l.wanted.reset();
      keys.push_back(key);
    }
  }
  for (const auto& key : keys) advance(key);
}

void UpstreamRegistrations::deviceWoke(std::string_view endpoint) {
  for (auto& [key, l] : links_) {
    if (key.second != endpoint || !l.told || !l.told->queueMode) continue;
    const Server* s = findServer(key.first);
    if (!s || s->config.queueMode != QueueMode::kMirror) continue;
    // TS Core 6.5: a queue-mode client is reachable after it sent an Update; the server's queue
    // sends what it holds now.
    l.updateNow = true;
    advance(key);
  }
}

core::SteadyTime UpstreamRegistrations::updateDue(const Link& l, const UpstreamConfig&) const {
  const core::Millis lifetime = core::Seconds(l.told ? l.told->lifetime : 86400);
  const core::Millis margin = std::min(timing_.updateMargin, lifetime / 2);
  return l.updatedSteady + lifetime - margin;
}

core::Millis UpstreamRegistrations::backoff(const UpstreamConfig& c, unsigned failures) const {
  double seconds = c.backoffMin * std::pow(2.0, std::min(failures, 30u) - 1.0);
  seconds = std::min(seconds, c.backoffMax);
  // Jitter: somewhere in the second half of the interval, so devices that failed together
  // (the server went away) do not come back together.
  seconds *= 0.5 + 0.5 * std::clamp(random_(), 0.0, 1.0);
  return core::Millis(static_cast<std::int64_t>(seconds * 1000));
}

void UpstreamRegistrations::schedule(const Key& key, Link& l, std::optional<core::SteadyTime> at) {
  if (l.timer) timers_.erase({*l.timer, key});
  l.timer = at;
  if (at) timers_.insert({*at, key});
}

void UpstreamRegistrations::setUp(const Key& key, Link& l, bool up) {
  if (l.up == up) return;
  l.up = up;
  if (listener_) listener_->linkChanged(key.first, key.second, up);
}

void UpstreamRegistrations::advance(const Key& key) {
  auto it = links_.find(key);
  if (it == links_.end()) return;
  Link& l = it->second;
  if (!started_ || l.exchange) return;  // an exchange in flight: its answer decides
  Server* s = findServer(key.first);
  const core::SteadyTime now = clock_.steadyNow();
  const bool registered = !l.location.empty();
  if (!l.wanted || !s) {
    if (registered) {
      sendDeregister(key, l);
    } else {
      erase(key);
    }
    return;
  }
  if (l.retryAt && now < *l.retryAt) {
    l.state = LinkState::kRetrying;
    schedule(key, l, l.retryAt);
    return;
  }
  l.retryAt.reset();
  const UpstreamParams& wanted = *l.wanted;
  if (registered && wanted.endpoint != l.told->endpoint) {
    // Another name upstream (a new prefix): the old registration goes first.
    sendDeregister(key, l);
    return;
  }
  const bool expired =
      registered && now >= l.updatedSteady + core::Seconds(l.told->lifetime);  // the server forgot
  if (!registered || expired || wanted.version != l.told->version) {
    // An Update cannot change the LwM2M version: a new Register replaces the registration.
    if (registered) forget(key, l);
    l.needsSlot = true;
  } else if (l.restartUpdate) {
    l.needsSlot = true;
  } else if (*l.told != wanted || l.updateNow || now >= updateDue(l, s->config)) {
    sendUpdate(key, l);
    return;
  } else {
    l.needsSlot = false;
    l.state = LinkState::kRegistered;
    schedule(key, l, updateDue(l, s->config));
    return;
  }
  l.state = LinkState::kWaiting;
  schedule(key, l, std::nullopt);
  if (!l.inQueue) {
    s->queue.push_back(key.second);
    l.inQueue = true;
  }
  grantSlots(*s);
}

void UpstreamRegistrations::grantSlots(Server& s) {
  const core::SteadyTime now = clock_.steadyNow();
  const Key serverKey{s.config.uri, std::string()};
  auto armServer = [&](std::optional<core::SteadyTime> at) {
    if (s.timer) timers_.erase({*s.timer, serverKey});
    s.timer = at;
    if (at) timers_.insert({*at, serverKey});
  };
  armServer(std::nullopt);
  const auto interval = std::chrono::duration_cast<core::SteadyTime::duration>(
      std::chrono::duration<double>(1.0 / s.config.registrationsPerSecond));
  while (!s.queue.empty()) {
    // Slots are spaced exactly `interval` apart, and one that the loop reaches late (a timer
    // fires a little after its time, a coarse tick) is caught up, so the average rate is the
    // configured one. After an idle spell (or a timer that fired very late) at most kCatchUp
    // worth of Registers goes out in a burst.
    constexpr core::Millis kCatchUp{100};
    if (s.nextSlot + kCatchUp < now) s.nextSlot = now - kCatchUp;
    const core::SteadyTime at = std::max(s.holdOffUntil, s.nextSlot);
    if (now < at) {
      armServer(at);
      return;
    }
    if (s.inFlight >= s.config.registrationsInFlight) return;  // releaseSlot arms the timer
    const Key key{s.config.uri, s.queue.front()};
    s.queue.pop_front();
    auto it = links_.find(key);
    if (it == links_.end() || !it->second.inQueue) continue;
    Link& l = it->second;
    l.inQueue = false;
    if (l.exchange || !l.wanted || !l.needsSlot) {
      advance(key);
      continue;
    }
    s.nextSlot = std::max(s.nextSlot, s.holdOffUntil) + interval;
    l.needsSlot = false;
    if (!l.location.empty() && l.restartUpdate) {
      sendUpdate(key, l);
    } else {
      sendRegister(key, l);
    }
    if (l.exchange) {
      l.holdsSlot = true;
      ++s.inFlight;
    }
  }
}

void UpstreamRegistrations::releaseSlot(const Key& key, Link& l) {
  if (!l.holdsSlot) return;
  l.holdsSlot = false;
  Server* s = findServer(key.first);
  if (!s) return;
  --s->inFlight;
  if (s->queue.empty()) return;
  const Key serverKey{s->config.uri, std::string()};
  if (s->timer) timers_.erase({*s->timer, serverKey});
  s->timer = clock_.steadyNow();
  timers_.insert({*s->timer, serverKey});
}

bool UpstreamRegistrations::transmit(const Key& key, Link& l, Outgoing message) {
  const std::uint64_t id = ++nextExchange_;
  message.exchange = id;
  message.server = key.first;
  message.device = key.second;
  l.exchange = id;
  l.sentKind = message.kind;
  exchanges_[id] = key;
  schedule(key, l, clock_.steadyNow() + timing_.exchangeTimeout);
  Result<void> sent = listener_ ? listener_->send(message)
                                : Result<void>(makeError(ErrorCode::kInternal, "no transport"));
  if (sent) return true;
  exchanges_.erase(id);
  l.exchange.reset();
  if (message.kind == Outgoing::Kind::kDeregister) {
    erase(key);
  } else {
    fail(key, l, sent.error().message, false);
  }
  return false;
}

void UpstreamRegistrations::sendRegister(const Key& key, Link& l) {
  l.sent = *l.wanted;
  l.state = LinkState::kRegistering;
  Outgoing m;
  m.kind = Outgoing::Kind::kRegister;
  m.query = registerQuery(*l.sent);
  m.payload = l.sent->objectLinks;
  transmit(key, l, std::move(m));
}

void UpstreamRegistrations::sendUpdate(const Key& key, Link& l) {
  l.sent = *l.wanted;
  l.updateNow = false;
  l.restartUpdate = false;
  l.state = LinkState::kUpdating;
  Outgoing m;
  m.kind = Outgoing::Kind::kUpdate;
  m.location = l.location;
  m.query = updateQuery(*l.told, *l.sent);
  if (l.told->objectLinks != l.sent->objectLinks) m.payload = l.sent->objectLinks;
  transmit(key, l, std::move(m));
}

void UpstreamRegistrations::sendDeregister(const Key& key, Link& l) {
  l.state = LinkState::kDeregistering;
  Outgoing m;
  m.kind = Outgoing::Kind::kDeregister;
  m.location = l.location;
  transmit(key, l, std::move(m));
}

void UpstreamRegistrations::fail(const Key& key, Link& l, std::string why, bool permanent) {
  const Server* s = findServer(key.first);
  ++l.failures;
  l.lastError = std::move(why);
  const core::Millis delay =
      s ? (permanent ? core::Millis(static_cast<std::int64_t>(s->config.backoffMax * 1000))
                     : backoff(s->config, l.failures))
        : core::Millis(0);
  l.retryAt = clock_.steadyNow() + delay;
  l.state = LinkState::kRetrying;
  setUp(key, l, false);
  schedule(key, l, l.retryAt);
}

void UpstreamRegistrations::forget(const Key& key, Link& l) {
  if (!l.location.empty()) (void)store_.removeRegistration(key.first, key.second);
  l.location.clear();
  l.told.reset();
  l.restartUpdate = false;
  setUp(key, l, false);
}

void UpstreamRegistrations::erase(const Key& key) {
  auto it = links_.find(key);
  if (it == links_.end()) return;
  Link& l = it->second;
  schedule(key, l, std::nullopt);
  if (l.exchange) exchanges_.erase(*l.exchange);
  releaseSlot(key, l);
  if (!l.location.empty()) (void)store_.removeRegistration(key.first, key.second);
  const bool wasUp = l.up;
  links_.erase(it);
  if (listener_) {
    if (wasUp) listener_->linkChanged(key.first, key.second, false);
    listener_->linkRemoved(key.first, key.second);
  }
  Server* s = findServer(key.first);
  if (s && s->removed &&
      std::ranges::none_of(links_, [&](const auto& e) { return e.first.first == key.first; })) {
    byUri_.erase(key.first);
  }
}

void UpstreamRegistrations::answered(std::uint64_t exchange, std::uint8_t code,
                                     std::vector<std::string> location) {
  auto e = exchanges_.find(exchange);
  if (e == exchanges_.end()) return;  // timed out already, or the link went
  const Key key = e->second;
  exchanges_.erase(e);
  auto it = links_.find(key);
  if (it == links_.end()) return;
  Link& l = it->second;
  l.exchange.reset();
  releaseSlot(key, l);
  schedule(key, l, std::nullopt);
  const unsigned cls = code >> 5;
  auto succeeded = [&] {
    l.told = l.sent;
    l.updatedAt = clock_.wallNow();
    l.updatedSteady = clock_.steadyNow();
    l.failures = 0;
    l.lastError.clear();
    l.state = LinkState::kRegistered;
    // The registration counts once it is stored: after a restart it is Updated, not redone.
    (void)store_.saveRegistration({key.first, key.second, l.location, *l.told, l.updatedAt});
    setUp(key, l, true);
  };
  switch (l.sentKind) {
    case Outgoing::Kind::kRegister:
      if (code == 0x41 && !location.empty()) {
        l.location = std::move(location);
        succeeded();
        if (listener_) listener_->registeredFresh(key.first, key.second);
      } else if (cls == 2) {
        fail(key, l, "the server answered the Register " + codeText(code) + " without a location",
             true);
      } else {
        // 4.xx: the server refuses this device as it is (4.00, 4.03, 4.12): no point in trying
        // again soon. 5.xx: it may recover.
        fail(key, l, "the server answered the Register " + codeText(code), cls == 4);
      }
      break;
    case Outgoing::Kind::kUpdate:
      if (cls == 2) {
        succeeded();
      } else if (cls == 4) {
        // TS Core 6.2.2: 4.04 means the server does not know the registration (it expired or
        // the server lost it): a full Register follows. Any other 4.xx is treated the same,
        // since a fresh Register is the one way to make the server's view ours again.
        l.lastError = "the server answered the Update " + codeText(code) + "; registering again";
        forget(key, l);
      } else {
        fail(key, l, "the server answered the Update " + codeText(code), false);
      }
      break;
    case Outgoing::Kind::kDeregister:
      forget(key, l);
      if (!l.wanted) {
        erase(key);
        return;
      }
      break;
  }
  advance(key);
}

void UpstreamRegistrations::failed(std::uint64_t exchange, std::string_view why) {
  auto e = exchanges_.find(exchange);
  if (e == exchanges_.end()) return;
  const Key key = e->second;
  exchanges_.erase(e);
  auto it = links_.find(key);
  if (it == links_.end()) return;
  Link& l = it->second;
  l.exchange.reset();
  releaseSlot(key, l);
  if (l.sentKind == Outgoing::Kind::kDeregister) {
    // One attempt: the server drops the registration when its lifetime runs out anyway.
    forget(key, l);
    if (!l.wanted) {
      erase(key);
      return;
    }
    advance(key);
    return;
  }
  const char* what = l.sentKind == Outgoing::Kind::kRegister ? "Register" : "Update";
  fail(key, l, std::string(what) + ": " + std::string(why), false);
}

void UpstreamRegistrations::transportFailed(std::string_view server, std::string_view device,
                                            std::string_view why) {
  auto it = links_.find({std::string(server), std::string(device)});
  if (it == links_.end() || it->second.exchange || it->second.location.empty()) return;
  Link& l = it->second;
  if (l.state == LinkState::kRetrying) return;  // already backing off
  l.updateNow = true;  // after the back-off, an Update tells whether the server is back
  fail(it->first, l, std::string(why), false);
}

void UpstreamRegistrations::retryNow(std::string_view server, std::string_view device,
                                     bool registeredToo) {
  std::vector<Key> keys;
  for (auto& [key, l] : links_) {
    if (key.first != server || (!device.empty() && key.second != device) || l.exchange) continue;
    const bool registered = !l.location.empty();
    if (l.retryAt) {
      l.retryAt.reset();
      if (registered) l.updateNow = true;  // the probe the back-off was waiting to send
    } else if (registeredToo && registered && !l.restartUpdate) {
      l.updateNow = true;
    } else {
      continue;
    }
    keys.push_back(key);
  }
  for (const auto& key : keys) advance(key);
}

void UpstreamRegistrations::tick() {
  const core::SteadyTime now = clock_.steadyNow();
  // Bounded: each entry is taken off before it is handled, and handling one schedules its link
  // in the future (or sends, which schedules the exchange's deadline).
  for (std::size_t guard = timers_.size() + 1; guard > 0 && !timers_.empty(); --guard) {
    auto first = timers_.begin();
    if (first->first > now) break;
    const Key key = first->second;
    timers_.erase(first);
    if (key.second.empty()) {
      if (Server* s = findServer(key.first)) {
        s->timer.reset();
        grantSlots(*s);
      }
      continue;
    }
    auto it = links_.find(key);
    if (it == links_.end()) continue;
    Link& l = it->second;
    l.timer.reset();
    if (l.exchange) {
      failed(*l.exchange,
             "no answer within " + std::to_string(timing_.exchangeTimeout.count() / 1000) + "s");
    } else {
      advance(key);
    }
  }
}

std::optional<core::SteadyTime> UpstreamRegistrations::nextTimer() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

std::optional<LinkStatus> UpstreamRegistrations::status(std::string_view server,
                                                        std::string_view device) const {
  auto it = links_.find({std::string(server), std::string(device)});
  if (it == links_.end()) return std::nullopt;
  const Link& l = it->second;
  LinkStatus st;
  st.server = it->first.first;
  st.device = it->first.second;
  if (l.wanted) {
    st.upstreamEndpoint = l.wanted->endpoint;
  } else if (l.told) {
    st.upstreamEndpoint = l.told->endpoint;
  }
  st.state = l.state;
  st.registered = !l.location.empty();
  st.location = l.location;
  st.lastError = l.lastError;
  st.failures = l.failures;
  if (!l.location.empty()) st.updatedAt = l.updatedAt;
  return st;
}

std::vector<LinkStatus> UpstreamRegistrations::list(std::string_view device) const {
  std::vector<LinkStatus> out;
  for (const auto& [key, l] : links_) {
    if (!device.empty() && key.second != device) continue;
    out.push_back(*status(key.first, key.second));
  }
  return out;
}

bool UpstreamRegistrations::up(std::string_view server, std::string_view device) const {
  auto it = links_.find({std::string(server), std::string(device)});
  return it != links_.end() && it->second.up;
}

std::size_t UpstreamRegistrations::waiting(std::string_view server) const {
  std::size_t n = 0;
  for (const auto& [key, l] : links_) {
    if (key.first == server && l.inQueue) ++n;
  }
  return n;
}

std::optional<core::SteadyTime> UpstreamRegistrations::holdOffUntil(std::string_view server) const {
  const Server* s = findServer(server);
  if (!s) return std::nullopt;
  return s->holdOffUntil;
}

}  // namespace lwgate::bridge
