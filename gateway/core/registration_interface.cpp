#include "gateway/core/registration_interface.h"

#include "gateway/lwm2m/registration_params.h"

namespace lwgate::core {
namespace {

Response ok(Code code) {
  Response r;
  r.code = code;
  return r;
}

Response bad(Code code, std::string message) {
  Response r;
  r.code = code;
  r.payload = std::move(message);
  return r;
}

}  // namespace

bool RegistrationInterface::handles(const Request& request) {
  return !request.uriPath.empty() && request.uriPath[0] == "rd";
}

Response RegistrationInterface::handle(const Request& request) {
  const auto& path = request.uriPath;
  if (path.size() == 1) {
    if (request.method == Method::kPost) return registerClient(request);
    return bad(Code::kMethodNotAllowed, "only POST (Register) is allowed on /rd");
  }
  if (path.size() == 2) {
    switch (request.method) {
      case Method::kPost:
      case Method::kPut:
        return update(path[1], request);
      case Method::kDelete:
        return deregister(path[1], request);
      default:
        return bad(Code::kMethodNotAllowed, "use POST (Update) or DELETE (De-register)");
    }
  }
  return bad(Code::kNotFound, "no such registration resource");
}

Result<std::optional<lwm2m::ObjectList>> RegistrationInterface::objectsFrom(const Request& request,
                                                                            bool isUpdate) {
  if (request.payload.empty() && isUpdate) return std::optional<lwm2m::ObjectList>{};
  if (request.contentFormat && *request.contentFormat != kFormatLinkFormat) {
    // RFC 7252 5.9.2.10: a payload in a format the resource does not take is 4.15.
    return makeError(ErrorCode::kUnsupportedFormat,
                     "payload must be application/link-format (40), got content format " +
                         std::to_string(*request.contentFormat));
  }
  if (request.payload.size() > limits_.maxPayload) {
    return makeError(ErrorCode::kTooLarge,
                     "object list of " + std::to_string(request.payload.size()) +
                         " bytes is over the limit of " + std::to_string(limits_.maxPayload));
  }
  auto list = lwm2m::parseObjectList(request.payload, {.maxLinks = limits_.maxObjects});
  if (!list) return list.error();
  return std::optional<lwm2m::ObjectList>(std::move(*list));
}

Result<void> RegistrationInterface::checkAccess(const Request& request, std::string_view endpoint) {
  if (!credentials_) return {};
  return checkEndpointAccess(*credentials_, request, endpoint);
}

Response RegistrationInterface::registerClient(const Request& request) {
  auto params = lwm2m::parseRegisterParams(request.uriQuery);
  if (!params) return errorResponse(params.error());
  if (auto allowed = checkAccess(request, params->endpoint); !allowed) {
    return errorResponse(allowed.error());
  }
  auto objects = objectsFrom(request, /*isUpdate=*/false);
  if (!objects) return errorResponse(objects.error());
  auto done = registry_.registerClient(*params, std::move(**objects), request.peer);
  if (!done) return errorResponse(done.error());
  Response r = ok(Code::kCreated);
  r.locationPath = {"rd", done->registration->location};
  return r;
}

Response RegistrationInterface::update(std::string_view location, const Request& request) {
  // Check the location first: a client whose registration is gone must learn that (4.04) even
  // if its Update is also malformed, because only a new Register helps it.
  const Registration* reg = registry_.findByLocation(location);
  if (!reg) return bad(Code::kNotFound, "no registration at this location; register again");
  if (auto allowed = checkAccess(request, reg->endpoint); !allowed) {
    return errorResponse(allowed.error());
  }
  auto params = lwm2m::parseUpdateParams(request.uriQuery);
  if (!params) return errorResponse(params.error());
  auto objects = objectsFrom(request, /*isUpdate=*/true);
  if (!objects) return errorResponse(objects.error());
  auto done = registry_.update(location, *params, std::move(*objects), request.peer);
  if (!done) return errorResponse(done.error());
  return ok(Code::kChanged);
}

Response RegistrationInterface::deregister(std::string_view location, const Request& request) {
  if (const Registration* reg = registry_.findByLocation(location)) {
    if (auto allowed = checkAccess(request, reg->endpoint); !allowed) {
      return errorResponse(allowed.error());
    }
  }
  auto done = registry_.deregister(location);
  if (!done) return errorResponse(done.error());
  return ok(Code::kDeleted);
}

}  // namespace lwgate::core
