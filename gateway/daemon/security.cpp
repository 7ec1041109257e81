#include "gateway/daemon/security.h"

#include <string.h>

#include "gateway/lwm2m/diagnostic.h"
#include "gateway/util/log.h"

namespace lwgate::daemon {
namespace {

std::string quotedIdentity(std::string_view identity) {
  return lwm2m::quoteForMessage(core::pskIdentityText(identity), 80);
}

}  // namespace

Security::Security(const core::Clock& clock, db::Connection& connection, SecurityConfig config)
    : clock_(clock), connection_(connection), config_(config), limiter_(clock, config.rateLimit) {}

Result<void> Security::open() {
  auto store = db::SqliteCredentialStore::create(connection_);
  if (!store) return store.error();
  store_ = std::move(*store);
  return {};
}

void Security::setConfig(const SecurityConfig& config) {
  config_ = config;
  limiter_.setLimit(config.rateLimit);
}

std::optional<std::vector<std::uint8_t>> Security::pskFor(std::string_view identity,
                                                          const core::Peer& peer) {
  auto found = store_->find(identity);
  if (!found) {
    log::error("LWG7011 cannot look up the PSK identity of a DTLS handshake from {}: {}",
               peer.address, found.error().message);
    return std::nullopt;
  }
  if (!*found) return std::nullopt;
  return std::move((*found)->key);
}

std::optional<core::Response> Security::admit(const core::Request& request,
                                              const core::Registry& registry) {
  if (!core::countsAgainstRateLimit(request, registry)) return std::nullopt;
  const auto d = limiter_.take(request.peer.address);
  if (d.allowed) return std::nullopt;
  if (d.log) {
    log::warning(
        "LWG7020 rate limit: {} sends more Registers and requests for unknown locations than "
        "[registration] rate_limit allows; answering 4.29 ({} refused since the last such "
        "line for it)",
        request.peer.address, d.refusedSinceLog);
  }
  return core::tooManyRequests(d.retryAfterSeconds);
}

Result<void> Security::addPsk(std::string_view identity, std::span<const std::uint8_t> key,
                              std::string_view endpoint) {
  auto tx = db::Transaction::begin(connection_);
  if (!tx) return tx.error();
  auto known = store_->endpointForIdentity(identity);
  if (!known) return known.error();
  if (!*known) {
    auto count = store_->count();
    if (!count) return count.error();
    if (static_cast<std::size_t>(*count) >= config_.maxPsks) {
      return makeError(ErrorCode::kLimitReached,
                       "the credential store is full: " + std::to_string(*count) +
                           " PSKs, as many as [server] max_devices allows; remove one first");
    }
  }
  auto put = store_->put(identity, key, endpoint, core::toUnixMillis(clock_.wallNow()));
  if (!put) return put.error();
  if (auto committed = tx->commit(); !committed) return committed;
  // The key itself is never logged, not even its length.
  log::notice("LWG7030 PSK identity {} {} for endpoint {}", quotedIdentity(identity),
              *put ? "replaced" : "added", lwm2m::quoteForMessage(endpoint, 80));
  return {};
}

Result<void> Security::removePsk(std::string_view identity) {
  auto removed = store_->remove(identity);
  if (!removed) return removed.error();
  if (!*removed) {
    return makeError(ErrorCode::kNotFound, "no PSK identity " + quotedIdentity(identity));
  }
  log::notice("LWG7031 PSK identity {} removed", quotedIdentity(identity));
  return {};
}

namespace {

std::string upstreamKeyText(std::string_view server, std::string_view endpoint) {
  return "for " + lwm2m::quoteForMessage(server, 120) +
         (endpoint.empty() ? std::string(" (the whole gateway)")
                           : " and endpoint " + lwm2m::quoteForMessage(endpoint, 80));
}

}  // namespace

Result<void> Security::addUpstreamPsk(std::string_view server, std::string_view endpoint,
                                      const std::optional<std::string>& identity,
                                      std::span<const std::uint8_t> key) {
  auto tx = db::Transaction::begin(connection_);
  if (!tx) return tx.error();
  auto known = store_->findUpstream(server, endpoint);
  if (!known) return known.error();
  if (!*known) {
    auto count = store_->countUpstream(server);
    if (!count) return count.error();
    if (static_cast<std::size_t>(*count) >= config_.maxPsks + 1) {
      return makeError(ErrorCode::kLimitReached,
                       "the credential store is full for this server: " + std::to_string(*count) +
                           " upstream PSKs, one per device of [server] max_devices and the "
                           "gateway-wide one; remove one first");
    }
  } else {
    explicit_bzero((*known)->key.data(), (*known)->key.size());
  }
  auto put =
      store_->putUpstream(server, endpoint, identity, key, core::toUnixMillis(clock_.wallNow()));
  if (!put) return put.error();
  if (auto committed = tx->commit(); !committed) return committed;
  // The key itself is never logged, not even its length.
  log::notice("LWG7032 upstream PSK {} {}, identity {}", upstreamKeyText(server, endpoint),
              *put ? "replaced" : "added",
              identity ? quotedIdentity(*identity) : std::string("(the upstream endpoint name)"));
  return {};
}

Result<void> Security::removeUpstreamPsk(std::string_view server, std::string_view endpoint) {
  auto removed = store_->removeUpstream(server, endpoint);
  if (!removed) return removed.error();
  if (!*removed) {
    return makeError(ErrorCode::kNotFound, "no upstream PSK " + upstreamKeyText(server, endpoint));
  }
  log::notice("LWG7033 upstream PSK {} removed", upstreamKeyText(server, endpoint));
  return {};
}

Result<std::vector<core::UpstreamPskInfo>> Security::listUpstreamPsks(std::string_view server,
                                                                      std::size_t limit) {
  return store_->listUpstream(server, limit);
}

Result<std::optional<db::SqliteCredentialStore::FoundUpstream>> Security::upstreamPsk(
    std::string_view server, std::string_view endpoint) {
  return store_->findUpstream(server, endpoint);
}

Result<std::vector<core::PskInfo>> Security::listPsks(std::string_view endpoint,
                                                      std::size_t limit) {
  return store_->list(endpoint, limit);
}

}  // namespace lwgate::daemon
