#include "gateway/core/operation_mapping.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

#include "gateway/lwm2m/content_format.h"
#include "gateway/lwm2m/object_model.h"
#include "gateway/lwm2m/path.h"

namespace lwgate::core {
namespace {

namespace fmt = lwm2m::format;

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

bool isNumber(std::string_view v) {
  if (v.empty()) return false;
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  return ec == std::errc() && p == v.data() + v.size();
}

// Splits "a=1&b=2" into query options, checking names and values.
Result<std::vector<std::string>> attributeQuery(std::string_view text, const Registration& reg) {
  static constexpr std::array<std::string_view, 7> kBase{"pmin", "pmax",  "gt",   "lt",
                                                         "st",   "epmin", "epmax"};
  static constexpr std::array<std::string_view, 3> k12{"edge", "con", "hqmax"};
  std::vector<std::string> out;
  std::vector<std::string_view> seen;
  if (text.empty()) return bad("write-attributes needs at least one attribute, e.g. pmin=10");
  while (!text.empty()) {
    auto amp = text.find('&');
    std::string_view item = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    auto eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    const bool known = std::ranges::find(kBase, name) != kBase.end() ||
                       (reg.version >= "1.2" && std::ranges::find(k12, name) != k12.end());
    if (!known) return bad("unknown attribute \"" + std::string(name.substr(0, 24)) + "\"");
    if (std::ranges::find(seen, name) != seen.end()) {
      return bad("attribute " + std::string(name) + " given twice");
    }
    seen.push_back(name);
    if (eq == std::string_view::npos) return bad("attribute " + std::string(name) + " needs =");
    std::string_view value = item.substr(eq + 1);
    if (!value.empty() && !isNumber(value)) {
      return bad("attribute " + std::string(name) + " must be a number");
    }
    out.emplace_back(item);
  }
  return out;
}

}  // namespace

std::uint16_t preferredFormat(const Registration& reg) {
  const auto& declared = reg.objects.contentFormats;
  for (std::uint16_t f : {fmt::kSenmlCbor, fmt::kSenmlJson, fmt::kTlv, fmt::kLwm2mJson}) {
    if (std::ranges::find(declared, f) != declared.end()) return f;
  }
  return fmt::kTlv;
}

std::uint16_t preferredFormat(const Registration& reg, std::string_view pathText) {
  if (reg.version == "1.0" && reg.objects.contentFormats.empty()) {
    if (auto path = lwm2m::Path::parse(pathText)) {
      if (path->isResourceInstance()) return fmt::kTextPlain;
      if (path->isResource()) {
        auto info = lwm2m::coreObjects().resource(path->objectId(), path->resourceId());
        if (info && !info->multiple && !info->executable) return fmt::kTextPlain;
      }
    }
  }
  return preferredFormat(reg);
}

Result<OutgoingRequest> toCoapRequest(const DownlinkRequest& request, const Registration& reg) {
  const bool composite = request.operation == Operation::kReadComposite ||
                         request.operation == Operation::kWriteComposite ||
                         request.operation == Operation::kObserveComposite;
  // A composite request's path lists its paths for people ("/3/0/9 /1/0/1"); the payload
  // carries them to the device and the request goes to the root.
  auto path = composite ? Result<lwm2m::Path>(lwm2m::Path()) : lwm2m::Path::parse(request.path);
  if (!path) return path.error();
  if (composite && reg.version == "1.0") {
    return bad("composite operations need an LwM2M 1.1 or newer device (it registered as 1.0)");
  }

  OutgoingRequest out;
  // The alternate path ("/lwm2m") prefixes every path the device serves.
  std::string_view alt = reg.objects.altPath;
  while (!alt.empty()) {
    alt.remove_prefix(alt.front() == '/' ? 1 : 0);
    auto slash = alt.find('/');
    if (!alt.empty()) out.uriPath.emplace_back(alt.substr(0, slash));
    alt = slash == std::string_view::npos ? std::string_view() : alt.substr(slash);
  }
  if (!composite) {
    for (std::size_t k = 0; k < path->depth(); ++k) {
      out.uriPath.push_back(std::to_string(path->id(k)));
    }
  }
  const std::uint16_t format = request.acceptFormat.value_or(
      composite ? preferredFormat(reg) : preferredFormat(reg, request.path));
  auto needPayload = [&]() -> Result<void> {
    if (request.payload.empty())
      return bad(std::string(operationName(request.operation)) + " needs a payload");
    return {};
  };

  switch (request.operation) {
    case Operation::kRead:
      if (path->isRoot()) return bad("read needs an object, instance or resource path");
      out.method = Method::kGet;
      out.accept = format;
      break;
    case Operation::kDiscover:
      if (path->isRoot() || path->isResourceInstance()) {
        return bad("discover takes an object, instance or resource path");
      }
      out.method = Method::kGet;
      out.accept = fmt::kLinkFormat;
      break;
    case Operation::kWrite:
    case Operation::kWritePartial:
      if (path->depth() < 2) return bad("write takes an instance or resource path");
      // Partial update: an object instance, or (1.1+) a multiple-instance resource whose
      // instances it adds to.
      if (request.operation == Operation::kWritePartial && path->isResourceInstance()) {
        return bad("a partial write (POST) takes an instance or resource path");
      }
      if (auto p = needPayload(); !p) return p.error();
      out.method = request.operation == Operation::kWrite ? Method::kPut : Method::kPost;
      out.contentFormat = request.contentFormat.value_or(format);
      out.payload = request.payload;
      break;
    case Operation::kWriteAttributes: {
      if (path->isRoot()) return bad("write-attributes needs an object, instance or resource");
      auto q =
          attributeQuery(std::string_view(reinterpret_cast<const char*>(request.payload.data()),
                                          request.payload.size()),
                         reg);
      if (!q) return q.error();
      out.method = Method::kPut;
      out.uriQuery = std::move(*q);
      break;
    }
    case Operation::kExecute:
      if (!path->isResource()) return bad("execute takes a resource path (/O/I/R)");
      out.method = Method::kPost;
      if (!request.payload.empty()) {
        out.contentFormat = fmt::kTextPlain;
        out.payload = request.payload;
      }
      break;
    case Operation::kCreate:
      if (!path->isObject()) return bad("create takes an object path (/O)");
      if (auto p = needPayload(); !p) return p.error();
      out.method = Method::kPost;
      out.contentFormat = request.contentFormat.value_or(format);
      out.payload = request.payload;
      break;
    case Operation::kDelete:
      if (!path->isInstance()) return bad("delete takes an object instance path (/O/I)");
      out.method = Method::kDelete;
      break;
    case Operation::kObserve:
    case Operation::kCancelObserve:
      if (path->isRoot()) return bad("observe needs an object, instance or resource path");
      out.method = Method::kGet;
      out.observe = request.operation == Operation::kObserve ? 0 : 1;
      out.accept = format;
      // Notification attributes may ride on the Observe itself (the early TS's table 7
      // "GET with Observe option /O/R?pmin=..&pmax=..", LwM2M 1.2 6.4.1).
      if (request.operation == Operation::kObserve && !request.payload.empty()) {
        auto q =
            attributeQuery(std::string_view(reinterpret_cast<const char*>(request.payload.data()),
                                            request.payload.size()),
                           reg);
        if (!q) return q.error();
        out.uriQuery = std::move(*q);
      }
      break;
    case Operation::kReadComposite:
    case Operation::kObserveComposite:
    case Operation::kWriteComposite: {
      // The payload lists the paths (read/observe) or the values (write) in a SenML format.
      if (auto p = needPayload(); !p) return p.error();
      const std::uint16_t ct = request.contentFormat.value_or(
          format == fmt::kSenmlJson || format == fmt::kSenmlCbor ? format : fmt::kSenmlCbor);
      if (ct != fmt::kSenmlJson && ct != fmt::kSenmlCbor && ct != fmt::kLwm2mCbor) {
        return bad("composite operations take SenML JSON, SenML CBOR or LwM2M CBOR");
      }
      out.contentFormat = ct;
      out.payload = request.payload;
      if (request.operation == Operation::kWriteComposite) {
        out.method = Method::kIPatch;
      } else {
        out.method = Method::kFetch;
        out.accept = ct;
        if (request.operation == Operation::kObserveComposite) out.observe = 0;
      }
      break;
    }
  }
  return out;
}

}  // namespace lwgate::core
