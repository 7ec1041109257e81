#include "gateway/daemon/bridge.h"

#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <algorithm>
#include <random>

#include "db/sqlite.h"
#include "gateway/core/credentials.h"
#include "gateway/daemon/downlink.h"
#include "gateway/lwm2m/diagnostic.h"
#include "gateway/lwm2m/link_format.h"
#include "gateway/util/log.h"

namespace lwgate::daemon {
namespace {

// A resolved server address is used this long before the name is looked up again.
constexpr core::Seconds kResolveInterval{300};

std::vector<std::uint8_t> randomToken() {
  std::vector<std::uint8_t> token(8);
  std::size_t got = 0;
  while (got < token.size()) {
    ssize_t n = getrandom(token.data() + got, token.size() - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  return token;
}

std::string joined(const std::vector<std::string>& segments) {
  std::string out;
  for (const auto& s : segments) (out += '/') += s;
  return out;
}

const char* kindName(bridge::Outgoing::Kind kind) {
  switch (kind) {
    case bridge::Outgoing::Kind::kRegister:
      return "Register";
    case bridge::Outgoing::Kind::kUpdate:
      return "Update";
    case bridge::Outgoing::Kind::kDeregister:
      return "De-register";
  }
  return "?";
}

std::string codeText(std::uint8_t code) {
  return fmt::format("{}.{:02}", code >> 5, code & 0x1f);
}

// One socket per bridged device and server: thousands of descriptors. systemd starts services
// with a soft limit of 1024 and a high hard limit, and asks programs that need more to raise
// the soft limit themselves (systemd.exec(5), LimitNOFILE=). lwgated's loop is epoll-based.
void raiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    log::debug("LWG6009 open file limit raised from {} to {} for the upstream sockets", before,
               limit.rlim_cur);
  }
}

}  // namespace

Bridge::Bridge(const core::Clock& clock, db::Connection& connection, coap::Server& server,
               bridge::RegistrationTiming timing)
    : clock_(clock), connection_(connection), server_(server), timing_(timing) {
  server_.setClientHandlers([this](const coap::Server::ClientRequest& r) { return onRequest(r); },
                            [this](const coap::Server::ClientAnswer& a) { return onAnswer(a); },
                            [this](const coap::Server::ClientFailure& f) { onFailure(f); });
}

Bridge::~Bridge() {
  server_.setClientHandlers({}, {}, {});
  for (const auto& [id, key] : keys_) server_.closeClient(id);
}

Result<void> Bridge::open(const std::vector<bridge::UpstreamConfig>& servers) {
  auto store = db::SqliteUpstreamStore::create(connection_);
  if (!store) return store.error();
  store_ = std::move(*store);
  std::random_device seed;
  auto engine = std::make_shared<std::mt19937_64>(seed());
  registrations_ = std::make_unique<bridge::UpstreamRegistrations>(
      clock_, *store_, timing_,
      [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); });
  registrations_->setListener(this);
  if (auto restored = registrations_->restore(servers); !restored) return restored.error();
  if (!servers.empty()) raiseDescriptorLimit();
  return {};
}

void Bridge::reload() {
  exchanges_.clear();
  auto loaded = store_->loadExchanges();
  if (!loaded) {
    log::error("LWG6013 cannot load the upstream exchanges: {}", loaded.error().message);
    return;
  }
  for (auto& e : *loaded) exchanges_.add(std::move(e));
  auto observations = store_->loadObservations();
  if (!observations) {
    log::error("LWG6013 cannot load the upstream observations: {}", observations.error().message);
    return;
  }
  relayed_.clear();  // what was on its way goes again
  for (auto& o : *observations) relayed_[o.id] = Relayed{std::move(o), {}, {}, {}, 0, {}};
  loadSendCursors();
}

void Bridge::loadSendCursors() {
  auto cursors = store_->loadSendCursors();
  if (!cursors) {
    log::error("LWG6013 cannot load the forwarded Sends: {}", cursors.error().message);
    return;
  }
  // A Send in flight stays so (its answer moves the cursor on); the rest is as stored.
  std::map<Key, Forward> fresh;
  for (auto& c : *cursors) {
    const Key key{c.server, c.device};
    Forward f;
    if (auto it = forwards_.find(key); it != forwards_.end()) f = std::move(it->second);
    f.c = std::move(c);
    fresh[key] = std::move(f);
  }
  for (const auto& [key, f] : forwards_) {
    if (!fresh.contains(key) && f.client) {
      std::erase_if(pendingSends_, [&](const auto& p) { return p.second == key; });
    }
  }
  forwards_ = std::move(fresh);
}

void Bridge::start() {
  // Sends from before a restart that no server answered go once the device's upstream
  // registration is updated from its new socket (linkChanged).
  loadSendCursors();
  // Upstream observations from before a restart: what the server has not acknowledged goes
  // once the device's upstream registration is updated from its new socket.
  if (auto loaded = store_->loadObservations(); loaded) {
    for (auto& o : *loaded) relayed_[o.id] = Relayed{std::move(o), {}, {}, {}, 0, {}};
  } else {
    log::error("LWG6013 cannot load the upstream observations: {}", loaded.error().message);
  }
  // Exchanges from before a restart: answered now if their request finished meanwhile, else
  // they wait on (their answer goes from the device's new socket; a server that matches by
  // address drops it, one that matches by token takes it).
  if (auto loaded = store_->loadExchanges(); loaded) {
    for (auto& e : *loaded) {
      if (downlink_ && !downlink_->queue().find(e.requestId)) {
        auto stored = downlink_->store().findRequest(e.requestId);
        if (stored && *stored && core::isFinal((*stored)->state)) {
          finish(e, **stored);
          continue;
        }
      }
      exchanges_.add(std::move(e));
    }
  } else {
    log::error("LWG6013 cannot load the upstream exchanges: {}", loaded.error().message);
  }
  const auto& servers = registrations_->servers();
  for (const auto& s : servers) {
    log::notice(
        "LWG6000 bridging {} to {} ({} mode, lifetime {}s, first Register after {}s, "
        "{} per second)",
        fmt::join(s.devices, ","), s.uri, bridge::queueModeName(s.queueMode), s.lifetime, s.holdOff,
        s.registrationsPerSecond);
  }
  registrations_->start();
}

void Bridge::setServers(const std::vector<bridge::UpstreamConfig>& servers) {
  if (servers == registrations_->servers()) return;
  if (!servers.empty()) raiseDescriptorLimit();
  registrations_->setServers(servers);
  log::notice("LWG6008 bridge configuration changed: {} upstream server(s)", servers.size());
}

void Bridge::deviceRegistered(const core::Registration& reg) {
  registrations_->deviceRegistered(
      {reg.endpoint, reg.version, reg.queueMode(), lwm2m::formatObjectList(reg.objects)});
}

void Bridge::deviceGone(const core::Registration& reg) {
  registrations_->deviceGone(reg.endpoint);
}

Result<coap::Server::SocketAddress> Bridge::resolve(const std::string& uri) {
  const core::SteadyTime now = clock_.steadyNow();
  auto it = resolved_.find(uri);
  if (it != resolved_.end() && now - it->second.at < kResolveInterval) return it->second.address;
  auto parsed = bridge::parseUpstreamUri(uri);
  if (!parsed) return parsed.error();
  auto address = coap::Server::resolveUdp(parsed->host, parsed->port);
  if (!address) {
    if (it != resolved_.end()) return it->second.address;  // the last good one, for now
    return address.error();
  }
  resolved_[uri] = {*address, now};
  return *address;
}

Result<coap::Server::ClientPsk> Bridge::pskFor(const bridge::UpstreamConfig& config,
                                               const Key& key) {
  const std::string credential = config.credentialEndpoint(key.second);
  if (!pskSource_) return makeError(ErrorCode::kInternal, "no credential store");
  auto found = pskSource_(key.first, credential);
  if (!found) return found.error();
  if (!*found) {
    if (credential.empty()) {
      return makeError(ErrorCode::kNotFound,
                       "no upstream PSK for this gateway (psk = \"gateway\"): add one with "
                       "lwgatectl psk add --upstream " +
                           key.first + " IDENTITY");
    }
    return makeError(ErrorCode::kNotFound,
                     "no upstream PSK for this device: add one with lwgatectl psk add --upstream " +
                         key.first + " --endpoint " + key.second);
  }
  coap::Server::ClientPsk psk;
  psk.identity = (*found)->identity.value_or(config.upstreamEndpoint(key.second));
  psk.key = std::move((*found)->key);
  if (auto ok = core::checkPskIdentity(psk.identity); !ok) {
    explicit_bzero(psk.key.data(), psk.key.size());
    return makeError(ErrorCode::kBadRequest, "the upstream endpoint name cannot be the PSK " +
                                                 std::string("identity (") + ok.error().message +
                                                 "): give the identity in lwgatectl psk add");
  }
  return psk;
}

Result<coap::Server::ClientId> Bridge::session(const Key& key) {
  if (auto it = sessions_.find(key); it != sessions_.end()) return it->second;
  auto address = resolve(key.first);
  if (!address) return address.error();
  const bridge::UpstreamConfig* config = registrations_->serverConfig(key.first);
  std::optional<coap::Server::ClientPsk> psk;
  if (config && config->dtls()) {
    auto found = pskFor(*config, key);
    if (!found) {
      reportOnce(key, found.error().message);
      return found.error();
    }
    psk = std::move(*found);
  }
  auto id = server_.openClient(*address, psk ? &*psk : nullptr);
  if (psk) explicit_bzero(psk->key.data(), psk->key.size());
  if (!id) return id.error();
  sessions_[key] = *id;
  keys_[*id] = key;
  if (psk) {
    log::debug("LWG6014 DTLS session to {} for {} with PSK identity {}", key.first, key.second,
               lwm2m::quoteForMessage(core::pskIdentityText(psk->identity), 80));
  }
  return *id;
}

void Bridge::reportOnce(const Key& key, const std::string& what) {
  auto& last = reported_[key];
  if (last == what) return;
  last = what;
  log::warning("LWG6006 {} cannot reach {} over DTLS: {}; retrying with back-off", key.second,
               key.first, what);
}

void Bridge::dropSession(const Key& key) {
  if (auto it = sessions_.find(key); it != sessions_.end()) {
    toClose_.push_back(it->second);
    sessions_.erase(it);
  }
}

void Bridge::credentialsChanged(const std::string& server, const std::string& endpoint) {
  const bridge::UpstreamConfig* config = registrations_->server(server);
  if (!config || !config->dtls()) return;
  // A device's key matters only in device mode, the gateway-wide one only in gateway mode.
  if (endpoint.empty() != (config->pskMode == bridge::PskMode::kGateway)) return;
  for (auto it = reported_.begin(); it != reported_.end();) {
    if (it->first.first == server && (endpoint.empty() || it->first.second == endpoint)) {
      it = reported_.erase(it);
    } else {
      ++it;
    }
  }
  registrations_->retryNow(server, endpoint, false);
}

void Bridge::retryCoaps() {
  for (const auto& c : registrations_->servers()) {
    if (c.dtls()) registrations_->retryNow(c.uri, "", false);
  }
}

Result<void> Bridge::send(const bridge::Outgoing& m) {
  const Key key{m.server, m.device};
  auto id = session(key);
  if (!id) return id.error();
  core::OutgoingRequest r;
  switch (m.kind) {
    case bridge::Outgoing::Kind::kRegister:
      r.method = core::Method::kPost;
      r.uriPath = {"rd"};
      break;
    case bridge::Outgoing::Kind::kUpdate:
      r.method = core::Method::kPost;
      r.uriPath = m.location;
      break;
    case bridge::Outgoing::Kind::kDeregister:
      r.method = core::Method::kDelete;
      r.uriPath = m.location;
      break;
  }
  r.uriQuery = m.query;
  if (!m.payload.empty()) {
    r.contentFormat = core::kFormatLinkFormat;
    r.payload.assign(m.payload.begin(), m.payload.end());
  }
  const auto token = randomToken();
  if (auto sent = server_.sendClientRequest(*id, r, token); !sent) return sent.error();
  pending_[pendingKey(*id, token)] = {m.exchange, m.kind};
  log::debug("LWG6010 {} of {} to {} from port {}: {} {}{}{}", kindName(m.kind), m.device, m.server,
             server_.clientLocalPort(*id).value_or(0),
             m.kind == bridge::Outgoing::Kind::kDeregister ? "DELETE" : "POST",
             m.location.empty() ? "/rd" : joined(m.location), m.query.empty() ? "" : "?",
             fmt::join(m.query, "&"));
  return {};
}

std::string Bridge::pendingKey(coap::Server::ClientId id, const std::vector<std::uint8_t>& token) {
  std::string key = std::to_string(id) + "|";
  key.append(token.begin(), token.end());
  return key;
}

bool Bridge::onAnswer(const coap::Server::ClientAnswer& a) {
  if (auto s = pendingSends_.find(pendingKey(a.client, a.token)); s != pendingSends_.end()) {
    const Key key = s->second;
    pendingSends_.erase(s);
    sendAnswered(key, a);
    return true;
  }
  auto it = pending_.find(pendingKey(a.client, a.token));
  if (it == pending_.end()) return false;
  const Pending p = it->second;
  pending_.erase(it);
  auto k = keys_.find(a.client);
  const std::string device = k == keys_.end() ? "?" : k->second.second;
  const std::string server = k == keys_.end() ? "?" : k->second.first;
  if (a.code >> 5 == 2) {
    if (p.kind == bridge::Outgoing::Kind::kRegister) {
      log::info("LWG6001 {} registered on {} at /{} (from port {})", device, server,
                fmt::join(a.locationPath, "/"), server_.clientLocalPort(a.client).value_or(0));
    } else if (p.kind == bridge::Outgoing::Kind::kDeregister) {
      log::info("LWG6004 {} de-registered from {}", device, server);
    } else {
      log::debug("LWG6011 {} updated on {}", device, server);
    }
  } else {
    log::warning("LWG6002 {} of {} on {} answered {}{}{}", kindName(p.kind), device, server,
                 codeText(a.code), a.payload.empty() ? "" : ": ", a.payload.substr(0, 120));
  }
  registrations_->answered(p.exchange, a.code, a.locationPath);
  return true;
}

void Bridge::onFailure(const coap::Server::ClientFailure& f) {
  auto k = keys_.find(f.client);
  if (k == keys_.end()) return;
  if (!f.request) {
    for (auto& [id, r] : relayed_) {
      if (r.client != f.client) continue;
      if (f.pong && r.pingMid == f.messageId) {
        // Every notification before the ping was acknowledged (NSTART=1, none failed).
        r.o.forwardedId = r.sendingUpTo;
        if (auto saved = store_->setForwarded(id, r.sendingUpTo); !saved) {
          log::error("LWG6013 cannot store an upstream observation: {}", saved.error().message);
        }
        r.pingMid.reset();
        r.client.reset();
        r.mids.clear();
        r.unacknowledged = 0;
        pump(r);
        return;
      }
      if (!f.pong && r.mids.contains(f.messageId)) {
        if (f.reset) {
          // RFC 7641 3.6: the server is not interested any more.
          endObservation(id, "the server answered a notification with RST");
          return;
        }
        if (++r.unacknowledged >= kMaxUnacknowledged) {
          endObservation(id, "the server did not acknowledge its notifications " +
                                 std::to_string(kMaxUnacknowledged) + " times in a row");
          break;  // the link's failure below all the same
        }
        // The backhaul is down: what was not acknowledged goes again, in order, once the link
        // is back (linkChanged) or after a while (tick).
        log::info("LWG6028 notifications of {} {} for {} wait: {}", r.o.device, r.o.path,
                  r.o.server, f.why);
        r.pingMid.reset();
        r.client.reset();
        r.mids.clear();
        r.retryAt = clock_.steadyNow() + timing_.updateMargin;
        break;
      }
    }
  }
  if (f.dtls) {
    // The session cannot be used again: the next attempt makes a new handshake. Its other
    // messages' failures still find their link (keys_ stays until flush()).
    reportOnce(k->second, f.why);
    dropSession(k->second);
  }
  if (f.request) {
    if (auto s = pendingSends_.find(pendingKey(f.client, f.token)); s != pendingSends_.end()) {
      const Key key = s->second;
      pendingSends_.erase(s);
      if (auto fw = forwards_.find(key); fw != forwards_.end()) {
        fw->second.client.reset();
        fw->second.retryAt = clock_.steadyNow() + timing_.updateMargin;
        log::info("LWG6028 Sends of {} for {} wait: {}", key.second, key.first, f.why);
      }
      // The backhaul is down: the link backs off, and its next Update tells when it is back.
      registrations_->transportFailed(key.first, key.second, f.why);
      return;
    }
    auto it = pending_.find(pendingKey(f.client, f.token));
    if (it == pending_.end()) return;
    const Pending p = it->second;
    pending_.erase(it);
    log::debug("LWG6012 {} of {} to {}: {}", kindName(p.kind), k->second.second, k->second.first,
               f.why);
    registrations_->failed(p.exchange, f.why);
    return;
  }
  if (f.pong) return;
  registrations_->transportFailed(k->second.first, k->second.second, f.why);
}

void Bridge::tick() {
  registrations_->tick();
  const core::SteadyTime now = clock_.steadyNow();
  for (auto& [id, r] : relayed_) {
    if (r.retryAt && *r.retryAt <= now) {
      r.retryAt.reset();
      pump(r);
    }
  }
  for (auto& [key, f] : forwards_) {
    if (f.retryAt && *f.retryAt <= now) {
      f.retryAt.reset();
      pumpSends(key, f);
    }
  }
  for (std::int64_t id : exchanges_.due()) {
    auto e = exchanges_.take(id);
    if (!e) continue;
    // The queue may still hold it (asleep, no SMS budget): it goes, since nobody waits for its
    // answer any more. One already sent to the device cannot be called back; its answer is
    // dropped when it comes.
    if (downlink_)
      (void)downlink_->queue().cancel(id, "the upstream server's answer_timeout ran out");
    log::info("LWG6020 request {} from {} to {} not answered within answer_timeout: 5.04", id,
              e->server, e->device);
    answer(*e, bridge::gatewayTimeout("the device did not answer in time"));
    (void)store_->deleteExchange(id);
    if (e->observe) {
      // The server got no observation: its row goes (a late answer finds no exchange).
      auto rel = std::find_if(relayed_.begin(), relayed_.end(),
                              [&](const auto& x) { return x.second.o.requestId == id; });
      if (rel != relayed_.end()) endObservation(rel->first, "the Observe was not answered in time");
    }
  }
}

std::optional<core::SteadyTime> Bridge::nextTimer() const {
  auto a = registrations_->nextTimer();
  auto b = exchanges_.nextDeadline();
  for (const auto& [id, r] : relayed_) {
    if (r.retryAt && (!b || *r.retryAt < *b)) b = r.retryAt;
  }
  for (const auto& [key, f] : forwards_) {
    if (f.retryAt && (!b || *f.retryAt < *b)) b = f.retryAt;
  }
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

bool Bridge::track(const bridge::Exchange& e) {
  if (auto stored = store_->insertExchange(e); !stored) {
    log::error("LWG6013 cannot store an upstream exchange: {}", stored.error().message);
    return false;
  }
  exchanges_.add(e);
  return true;
}

std::optional<coap::Server::ImmediateResponse> Bridge::onRequest(
    const coap::Server::ClientRequest& in) {
  using Immediate = coap::Server::ImmediateResponse;
  auto k = keys_.find(in.client);
  const core::Registration* reg =
      k != keys_.end() && registry_ ? registry_->findByEndpoint(k->second.second) : nullptr;
  const bridge::UpstreamConfig* config =
      k != keys_.end() ? registrations_->server(k->second.first) : nullptr;
  if (!reg || !config || !downlink_) {
    return Immediate{static_cast<std::uint8_t>(core::Code::kNotFound),
                     "the device is not registered at the gateway", std::nullopt};
  }
  const auto& [server, device] = k->second;
  bridge::UpstreamRequest request{in.method, in.uriPath, in.uriQuery, in.contentFormat,
                                  in.accept, in.observe, in.payload};
  const core::WallTime now = clock_.wallNow();
  const auto timeout = std::chrono::duration_cast<core::Millis>(
      std::chrono::duration<double>(config->answerTimeout));
  auto mapped = bridge::toDownlink(request, *reg, now, now + timeout);
  auto refuse = [&](const Error& error) {
    log::info("LWG6021 {} refused a request from {}: {}", device, server, error.message);
    return Immediate{static_cast<std::uint8_t>(core::codeFor(error.code)), error.message,
                     std::nullopt};
  };
  if (!mapped) return refuse(mapped.error());
  if (mapped->operation == core::Operation::kObserveComposite) {
    return Immediate{0xa1, "Observe-Composite through the bridge is not available yet",
                     std::nullopt};
  }
  // RFC 7641 3.6: a GET with Observe 1 ends the server's observation of the path and is answered
  // like a GET. The device's own observation ends with it (the gateway observes for the server).
  if (mapped->operation == core::Operation::kCancelObserve) {
    std::vector<std::int64_t> ending;
    for (const auto& [id, r] : relayed_) {
      if (r.o.server == server && r.o.device == device && r.o.path == mapped->path) {
        ending.push_back(id);
      }
    }
    for (std::int64_t id : ending) endObservation(id, "the server's Cancel-Observe");
    mapped->operation = core::Operation::kRead;
    mapped->payload.clear();
  }
  const bool observe = mapped->operation == core::Operation::kObserve;
  const std::string path = mapped->path;
  if (observe) {
    // A server allocates rows here with every Observe: bounded per device and server.
    const auto count = std::count_if(relayed_.begin(), relayed_.end(), [&](const auto& x) {
      return x.second.o.server == server && x.second.o.device == device &&
             x.second.o.token != in.token;
    });
    if (static_cast<std::size_t>(count) >= kMaxObservationsPerDevice) {
      return refuse(makeError(ErrorCode::kLimitReached,
                              "at most " + std::to_string(kMaxObservationsPerDevice) +
                                  " upstream observations per device"));
    }
    // The same token again: the server re-registers its interest (RFC 7641 4.1).
    std::vector<std::int64_t> ending;
    for (const auto& [id, r] : relayed_) {
      if (r.o.server == server && r.o.device == device && r.o.token == in.token) {
        ending.push_back(id);
      }
    }
    for (std::int64_t id : ending) endObservation(id, "replaced by the server's new Observe");
  }
  const std::string what = std::string(core::operationName(mapped->operation)) + " " + mapped->path;
  // The request and its exchange are stored together or not at all.
  auto tx = db::Transaction::begin(connection_);
  if (!tx) return refuse(tx.error());
  auto submitted = downlink_->submit(std::move(*mapped));
  if (!submitted) return refuse(submitted.error());
  bridge::Exchange e{submitted->id, server, device, in.token, now + timeout, observe};
  std::optional<bridge::UpstreamObservation> upstream;
  if (observe) {
    upstream = bridge::UpstreamObservation{0,    server,      device,       in.token,
                                           path, e.requestId, std::nullopt, 0};
    auto id = store_->insertObservation(*upstream);
    if (!id) {
      log::error("LWG6013 cannot store an upstream observation: {}", id.error().message);
      upstream.reset();
    } else {
      upstream->id = *id;
    }
  }
  if ((observe && !upstream) || !track(e) || !tx->commit()) {
    exchanges_.take(e.requestId);
    tx->rollback();
    // The queue's memory holds what the rollback undid: the database is the truth.
    if (auto reloaded = downlink_->discardAndReload(); !reloaded) {
      log::error("LWG1097 cannot reload the downlink queue: {}", reloaded.error().message);
    }
    return refuse(makeError(ErrorCode::kStorage, "the gateway could not store the request"));
  }
  if (upstream) relayed_[upstream->id] = Relayed{*upstream, {}, {}, {}, 0, {}};
  log::info("LWG6022 {} asked {} for {}: request {}", server, device, what, submitted->id);
  return std::nullopt;  // an empty ACK now, the device's answer later
}

void Bridge::requestFinished(const core::DownlinkRequest& r) {
  auto e = exchanges_.take(r.id);
  if (!e) return;
  finish(*e, r);
}

void Bridge::finish(const bridge::Exchange& e, const core::DownlinkRequest& r) {
  bridge::UpstreamAnswer a = bridge::answerFor(r);
  if (e.observe) {
    auto rel = std::find_if(relayed_.begin(), relayed_.end(),
                            [&](const auto& x) { return x.second.o.requestId == r.id; });
    std::optional<std::pair<std::int64_t, std::int64_t>> observation;
    if (rel != relayed_.end() && a.code >> 5 == 2) {
      auto found = store_->observationOf(r.id);
      if (!found) {
        log::error("LWG6013 cannot read the observation of request {}: {}", r.id,
                   found.error().message);
      } else {
        observation = *found;
      }
    }
    if (rel != relayed_.end() && observation) {
      // The answer carries the value that started the observation; its notification id is the
      // first Observe number, and later ones follow it.
      Relayed& x = rel->second;
      x.o.observationId = observation->first;
      x.o.forwardedId = observation->second;
      if (auto saved =
              store_->establishObservation(x.o.id, observation->first, observation->second);
          !saved) {
        log::error("LWG6013 cannot store an upstream observation: {}", saved.error().message);
      }
      a.observe = bridge::observeNumber(observation->second);
      log::info("LWG6025 {} observes {} {} (upstream observation {}, the device's {})", e.server,
                e.device, x.o.path, x.o.id, observation->first);
    } else if (rel != relayed_.end()) {
      // No observation on the device (an error, or a 2.05 without Observe): the server sees a
      // plain answer and knows it is not observing (RFC 7641 3.1).
      endObservation(rel->first, "the device did not accept the Observe");
    }
  }
  answer(e, a);
  (void)store_->deleteExchange(r.id);
}

void Bridge::notification(const core::Notification& n) {
  if (n.kind == core::NotificationKind::kSend) {
    for (auto& [key, f] : forwards_) {
      if (key.second == n.endpoint) pumpSends(key, f);
    }
    return;
  }
  if (!n.observationId) return;
  for (auto& [id, r] : relayed_) {
    if (r.o.observationId == n.observationId) pump(r);
  }
}

void Bridge::pump(Relayed& r) {
  // Enough to keep the backhaul busy without holding much in libcoap's queue.
  constexpr std::size_t kBatch = 16;
  if (!r.o.observationId || r.pingMid) return;  // not established yet, or a batch on its way
  if (r.retryAt && clock_.steadyNow() < *r.retryAt) return;
  const auto st = registrations_->status(r.o.server, r.o.device);
  if (!st || !st->registered || st->failures > 0) return;  // linkChanged(up) pumps again
  auto batch = store_->notificationsAfter(*r.o.observationId, r.o.forwardedId, kBatch);
  if (!batch) {
    log::error("LWG6013 cannot read the notifications to forward: {}", batch.error().message);
    return;
  }
  if (batch->empty()) return;
  auto id = session({r.o.server, r.o.device});
  if (!id) return;
  r.mids.clear();
  for (const auto& n : *batch) {
    coap::Server::ClientResponse out;
    out.code = 0x45;  // 2.05 Content, as the device's notifications are stored
    out.token = r.o.token;
    out.observe = bridge::observeNumber(n.id);
    out.contentFormat = n.contentFormat;
    out.payload = n.payload;
    auto sent = server_.sendClientResponse(*id, out);
    if (!sent) {
      log::warning("LWG6023 cannot forward notification {} to {}: {}", n.id, r.o.server,
                   sent.error().message);
      break;
    }
    r.mids.insert(*sent);
    r.sendingUpTo = n.id;
  }
  auto ping = r.mids.empty()
                  ? Result<std::uint16_t>(makeError(ErrorCode::kInternal, "nothing sent"))
                  : server_.sendClientPing(*id);
  if (!ping) {
    r.mids.clear();
    r.retryAt = clock_.steadyNow() + timing_.updateMargin;
    return;
  }
  r.client = *id;
  r.pingMid = *ping;
  r.retryAt.reset();
  log::debug("LWG6026 forwarding {} notifications of {} {} to {} (up to {})", r.mids.size(),
             r.o.device, r.o.path, r.o.server, r.sendingUpTo);
}

void Bridge::sendStored(const std::string& device, std::int64_t id) {
  if (!registrations_) return;
  for (const auto& link : registrations_->list(device)) {
    const Key key{link.server, device};
    if (forwards_.contains(key)) continue;
    if (auto started = store_->startSends(link.server, device, id - 1); !started) {
      log::error("LWG6013 cannot store the forwarded Sends of {} for {}: {}", device, link.server,
                 started.error().message);
      continue;
    }
    Forward f;
    f.c = {link.server, device, id - 1};
    forwards_[key] = std::move(f);
  }
}

void Bridge::pumpSends(const Key& key, Forward& f) {
  if (f.client) return;  // one at a time: the answer sends the next
  if (f.retryAt && clock_.steadyNow() < *f.retryAt) return;
  const auto st = registrations_->status(key.first, key.second);
  if (!st || !st->registered || st->failures > 0) return;  // linkChanged(up) pumps again
  auto next = store_->sendsAfter(key.second, f.c.forwardedId, 1);
  if (!next) {
    log::error("LWG6013 cannot read the Sends to forward: {}", next.error().message);
    return;
  }
  if (next->empty()) return;
  auto id = session(key);
  if (!id) return;
  const auto token = randomToken();
  const bridge::StoredNotification& send = next->front();
  if (auto sent = server_.sendClientRequest(*id, bridge::forwardedSend(send), token); !sent) {
    log::warning("LWG6023 cannot forward Send {} of {} to {}: {}", send.id, key.second, key.first,
                 sent.error().message);
    f.retryAt = clock_.steadyNow() + timing_.updateMargin;
    return;
  }
  f.client = *id;
  f.token = token;
  f.sendingId = send.id;
  f.retryAt.reset();
  pendingSends_[pendingKey(*id, token)] = key;
  log::debug("LWG6029 forwarding Send {} of {} to {} (POST /dp, {} bytes)", send.id, key.second,
             key.first, send.payload.size());
}

void Bridge::sendAnswered(const Key& key, const coap::Server::ClientAnswer& a) {
  auto it = forwards_.find(key);
  if (it == forwards_.end() || !it->second.client) return;
  Forward& f = it->second;
  f.client.reset();
  f.c.forwardedId = f.sendingId;
  if (auto saved = store_->setSendsForwarded(key.first, key.second, f.sendingId); !saved) {
    log::error("LWG6013 cannot store the forwarded Sends of {}: {}", key.second,
               saved.error().message);
  }
  if (a.code >> 5 == 2) {
    log::info("LWG6030 Send {} of {} forwarded to {}: {}", f.sendingId, key.second, key.first,
              codeText(a.code));
  } else {
    // The server has it and refused it: sending it again would get the same answer.
    log::warning("LWG6031 {} answered Send {} of {} with {}{}{}; not sending it again", key.first,
                 f.sendingId, key.second, codeText(a.code), a.payload.empty() ? "" : ": ",
                 a.payload.substr(0, 120));
  }
  pumpSends(key, f);
}

void Bridge::endObservation(std::int64_t id, std::string_view why) {
  auto it = relayed_.find(id);
  if (it == relayed_.end()) return;
  const bridge::UpstreamObservation o = it->second.o;
  relayed_.erase(it);
  (void)store_->deleteObservation(id);
  log::info("LWG6027 {} no longer observes {} {}: {}", o.server, o.device, o.path, why);
  if (!o.observationId || !downlink_) return;
  for (const auto& [other, r] : relayed_) {
    if (r.o.observationId == o.observationId) return;  // another server still observes it
  }
  // Passive: the device's next notification is answered RST (RFC 7641 3.6), which also works
  // while it sleeps.
  if (auto forgot = downlink_->observations().forget(*o.observationId); !forgot) {
    log::debug("LWG6027 the device's observation {} was already gone: {}", *o.observationId,
               forgot.error().message);
  }
}

void Bridge::answer(const bridge::Exchange& e, const bridge::UpstreamAnswer& a) {
  auto id = session({e.server, e.device});
  if (!id) {
    log::warning("LWG6023 cannot answer {} for {} (request {}): {}", e.server, e.device,
                 e.requestId, id.error().message);
    return;
  }
  coap::Server::ClientResponse out;
  out.code = a.code;
  out.token = e.token;
  out.contentFormat = a.contentFormat;
  out.payload = a.payload;
  out.diagnostic = a.diagnostic;
  out.observe = a.observe;
  auto sent = server_.sendClientResponse(*id, out);
  if (!sent && sent.error().code == ErrorCode::kTooLarge) {
    // RFC 7252 5.9.3.3 Bad Gateway: what the device answered cannot be relayed.
    out.code = 0xa2;
    out.payload.clear();
    out.contentFormat.reset();
    out.diagnostic = sent.error().message;
    sent = server_.sendClientResponse(*id, out);
  }
  if (!sent) {
    log::warning("LWG6023 cannot answer {} for {} (request {}): {}", e.server, e.device,
                 e.requestId, sent.error().message);
    return;
  }
  log::info("LWG6024 answered {} for {} (request {}): {}", e.server, e.device, e.requestId,
            codeText(out.code));
}

void Bridge::registeredFresh(const std::string& server, const std::string& device) {
  // TS Core 6.2.1: a new registration ends the server's observations of the client.
  std::vector<std::int64_t> ending;
  for (const auto& [id, r] : relayed_) {
    if (r.o.server == server && r.o.device == device && r.o.observationId) ending.push_back(id);
  }
  for (std::int64_t id : ending) endObservation(id, "registered anew upstream");
}

void Bridge::linkChanged(const std::string& server, const std::string& device, bool up) {
  const auto st = registrations_->status(server, device);
  if (auto fw = forwards_.find({server, device}); fw != forwards_.end()) {
    if (up) {
      fw->second.retryAt.reset();
      pumpSends(fw->first, fw->second);
    } else if (fw->second.client) {
      // Its socket closes: the Send in flight goes again from the next one.
      std::erase_if(pendingSends_, [&](const auto& p) { return p.second == fw->first; });
      fw->second.client.reset();
    }
  }
  for (auto& [id, r] : relayed_) {
    if (r.o.server != server || r.o.device != device) continue;
    if (!up) {
      r.pingMid.reset();  // its socket closes: what was on its way goes again
      r.client.reset();
      r.mids.clear();
    } else {
      r.retryAt.reset();
      pump(r);
    }
  }
  if (up) {
    reported_.erase({server, device});
    if (st && st->failures == 0) log::debug("LWG6005 {} reachable through {}", device, server);
    return;
  }
  if (st && !st->lastError.empty()) {
    log::warning("LWG6003 {} is not registered on {} for now ({}); retrying with back-off", device,
                 server, st->lastError);
  }
  // A new socket for the next attempt: after a NAT rebinding or a server restart the old
  // mapping may be what failed. Closed after the callback that got us here has returned.
  if (auto it = sessions_.find({server, device}); it != sessions_.end()) {
    toClose_.push_back(it->second);
    keys_.erase(it->second);
    sessions_.erase(it);
  }
}

void Bridge::linkRemoved(const std::string& server, const std::string& device) {
  if (auto fw = forwards_.find({server, device}); fw != forwards_.end() && fw->second.client) {
    std::erase_if(pendingSends_, [&](const auto& p) { return p.second == fw->first; });
    fw->second.client.reset();
  }
  reported_.erase({server, device});
  dropSession({server, device});
}

void Bridge::flush() {
  std::vector<coap::Server::ClientId> ids;
  ids.swap(toClose_);
  for (auto id : ids) {
    std::erase_if(pending_,
                  [&](const auto& p) { return p.first.starts_with(std::to_string(id) + "|"); });
    keys_.erase(id);
    server_.closeClient(id);
  }
}

}  // namespace lwgate::daemon
