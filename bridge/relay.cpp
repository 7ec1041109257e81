#include "bridge/relay.h"

#include "gateway/core/operation_mapping.h"
#include "gateway/lwm2m/path.h"

namespace lwgate::bridge {
namespace {

constexpr std::uint16_t kLinkFormat = 40;

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

std::vector<std::string> segmentsOf(std::string_view alt) {
  std::vector<std::string> out;
  while (!alt.empty()) {
    if (alt.front() == '/') {
      alt.remove_prefix(1);
      continue;
    }
    const auto slash = alt.find('/');
    out.emplace_back(alt.substr(0, slash));
    alt = slash == std::string_view::npos ? std::string_view() : alt.substr(slash);
  }
  return out;
}

std::string join(const std::vector<std::string>& segments, std::size_t from) {
  std::string out;
  for (std::size_t k = from; k < segments.size(); ++k) (out += '/') += segments[k];
  return out.empty() ? "/" : out;
}

}  // namespace

Result<core::DownlinkRequest> toDownlink(const UpstreamRequest& in, const core::Registration& reg,
                                         core::WallTime now, core::WallTime deadline,
                                         const RelayLimits& limits) {
  if (in.payload.size() > limits.maxPayload) {
    return makeError(ErrorCode::kTooLarge, "payload of " + std::to_string(in.payload.size()) +
                                               " bytes, at most " +
                                               std::to_string(limits.maxPayload) + " relayed");
  }
  // The server addresses the device's objects below its alternate path (TS Core 6.2.1: the
  // object links it registered with carry it).
  const auto alt = segmentsOf(reg.objects.altPath);
  if (in.uriPath.size() < alt.size() || !std::equal(alt.begin(), alt.end(), in.uriPath.begin())) {
    return makeError(ErrorCode::kNotFound, "not below the device's alternate path " + join(alt, 0));
  }
  const std::string pathText = join(in.uriPath, alt.size());
  auto path = lwm2m::Path::parse(pathText);
  if (!path) return path.error();

  core::DownlinkRequest r;
  r.endpoint = reg.endpoint;
  r.path = path->toString();
  r.payload.assign(in.payload.begin(), in.payload.end());
  r.contentFormat = in.contentFormat;
  r.acceptFormat = in.accept;
  r.createdAt = now;
  r.deadline = deadline;
  std::string query;
  for (const auto& q : in.uriQuery) (query += query.empty() ? "" : "&") += q;
  switch (in.method) {
    case core::Method::kGet:
      if (in.observe == 0u) {
        r.operation = core::Operation::kObserve;
        // Attributes on the Observe itself (LwM2M 1.2 6.4.1) travel as its payload.
        r.payload.assign(query.begin(), query.end());
      } else if (in.observe == 1u) {
        r.operation = core::Operation::kCancelObserve;
      } else if (in.accept == kLinkFormat) {
        r.operation = core::Operation::kDiscover;
      } else {
        r.operation = core::Operation::kRead;
      }
      if (in.observe && *in.observe > 1u) return bad("Observe must be 0 or 1 in a request");
      if (!in.payload.empty()) return bad("a GET carries no payload");
      break;
    case core::Method::kPut:
      if (in.payload.empty() && !query.empty()) {
        r.operation = core::Operation::kWriteAttributes;
        r.payload.assign(query.begin(), query.end());
      } else {
        r.operation = core::Operation::kWrite;
      }
      break;
    case core::Method::kPost:
      if (path->isResource()) {
        r.operation = core::Operation::kExecute;
      } else if (path->isObject()) {
        r.operation = core::Operation::kCreate;
      } else {
        r.operation = core::Operation::kWritePartial;
      }
      break;
    case core::Method::kDelete:
      r.operation = core::Operation::kDelete;
      break;
    case core::Method::kFetch:
      r.operation =
          in.observe == 0u ? core::Operation::kObserveComposite : core::Operation::kReadComposite;
      break;
    case core::Method::kIPatch:
      r.operation = core::Operation::kWriteComposite;
      break;
    case core::Method::kPatch:
      return bad("PATCH is no LwM2M operation");
  }
  if (in.method != core::Method::kGet && in.observe && in.method != core::Method::kFetch) {
    return bad("Observe goes with GET or FETCH only");
  }
  // Once, as the queue will: what cannot be sent to this device is refused now with a reason.
  if (auto mapped = core::toCoapRequest(r, reg); !mapped) return mapped.error();
  return r;
}

UpstreamAnswer answerFor(const core::DownlinkRequest& r) {
  if (r.state == core::RequestState::kDone && r.responseCode) {
    UpstreamAnswer a;
    a.code = *r.responseCode;
    a.payload = r.responsePayload;
    a.contentFormat = r.responseFormat;
    return a;
  }
  std::string why;
  switch (r.state) {
    case core::RequestState::kExpired:
      why = "the device did not answer in time";
      break;
    case core::RequestState::kCancelled:
      why = "cancelled at the gateway";
      break;
    default:
      why = "the device did not answer";
      break;
  }
  if (!r.reason.empty()) why += " (" + r.reason + ")";
  return gatewayTimeout(why);
}

UpstreamAnswer gatewayTimeout(std::string why) {
  UpstreamAnswer a;
  a.code = kGatewayTimeout;
  a.diagnostic = std::move(why);
  return a;
}

core::SteadyTime Exchanges::steadyFor(core::WallTime t) const {
  return clock_.steadyNow() +
         std::chrono::duration_cast<core::SteadyTime::duration>(t - clock_.wallNow());
}

void Exchanges::clear() {
  byId_.clear();
  deadlines_.clear();
}

void Exchanges::add(Exchange e) {
  take(e.requestId);
  const core::SteadyTime at = steadyFor(e.answerBy);
  deadlines_.insert({at, e.requestId});
  const std::int64_t id = e.requestId;
  byId_.emplace(id, std::make_pair(std::move(e), at));
}

std::optional<Exchange> Exchanges::take(std::int64_t requestId) {
  auto it = byId_.find(requestId);
  if (it == byId_.end()) return std::nullopt;
  deadlines_.erase({it->second.second, requestId});
  Exchange e = std::move(it->second.first);
  byId_.erase(it);
  return e;
}

const Exchange* Exchanges::find(std::int64_t requestId) const {
  auto it = byId_.find(requestId);
  return it == byId_.end() ? nullptr : &it->second.first;
}

std::vector<std::int64_t> Exchanges::due() const {
  std::vector<std::int64_t> out;
  const core::SteadyTime now = clock_.steadyNow();
  for (const auto& [at, id] : deadlines_) {
    if (at > now) break;
    out.push_back(id);
  }
  return out;
}

std::optional<core::SteadyTime> Exchanges::nextDeadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

std::vector<std::int64_t> Exchanges::of(const std::string& server,
                                        const std::string& device) const {
  std::vector<std::int64_t> out;
  for (const auto& [id, entry] : byId_) {
    if (entry.first.server == server && entry.first.device == device) out.push_back(id);
  }
  return out;
}

core::OutgoingRequest forwardedSend(const StoredNotification& send) {
  core::OutgoingRequest r;
  r.method = core::Method::kPost;
  r.uriPath = {"dp"};
  r.contentFormat = send.contentFormat;
  r.payload = send.payload;
  return r;
}

}  // namespace lwgate::bridge
