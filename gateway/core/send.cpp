#include "gateway/core/send.h"

#include <string>

#include "gateway/lwm2m/content_format.h"
#include "gateway/lwm2m/object_model.h"

namespace lwgate::core {
namespace {

Response refuse(Code code, std::string message) {
  Response r;
  r.code = code;
  r.payload = std::move(message);
  return r;
}

bool isSendFormat(std::uint16_t format) {
  return format == lwm2m::format::kSenmlJson || format == lwm2m::format::kSenmlCbor ||
         format == lwm2m::format::kLwm2mCbor;
}

const char* formatName(std::uint16_t format) {
  switch (format) {
    case lwm2m::format::kSenmlJson:
      return "SenML JSON";
    case lwm2m::format::kSenmlCbor:
      return "SenML CBOR";
    default:
      return "LwM2M CBOR";
  }
}

}  // namespace

bool isSendRequest(const Request& request) {
  return !request.uriPath.empty() && request.uriPath[0] == "dp";
}

bool versionHasSend(std::string_view version) {
  // Registration accepts only the versions it knows ("1.0", "1.1", "1.2"); Send came with 1.1.
  return !version.empty() && version != "1.0";
}

std::optional<Response> checkSend(const Request& request, const Registration* sender, WallTime now,
                                  const SendLimits& limits, Notification* out) {
  if (request.uriPath.size() != 1) {
    return refuse(Code::kNotFound, "no such resource; Send goes to /dp");
  }
  if (request.method != Method::kPost) {
    return refuse(Code::kMethodNotAllowed, "only POST (Send) is allowed on /dp");
  }
  if (!sender) {
    return refuse(Code::kNotFound,
                  "no registration from this address; register (or send an Update from the "
                  "new address) before Send");
  }
  if (!versionHasSend(sender->version)) {
    return refuse(Code::kNotFound, "Send is LwM2M 1.1; " + sender->endpoint +
                                       " registered with lwm2m=" + sender->version);
  }
  if (!request.contentFormat) {
    return refuse(Code::kUnsupportedContentFormat,
                  "Send needs a Content-Format: 110 (SenML JSON), 112 (SenML CBOR) or 11544 "
                  "(LwM2M CBOR)");
  }
  if (!isSendFormat(*request.contentFormat)) {
    return refuse(Code::kUnsupportedContentFormat,
                  "Content-Format " + std::to_string(*request.contentFormat) +
                      " is not one for Send: 110 (SenML JSON), 112 (SenML CBOR) or 11544 "
                      "(LwM2M CBOR)");
  }
  if (request.payload.size() > limits.maxPayload) {
    return refuse(Code::kRequestEntityTooLarge,
                  "Send payload of " + std::to_string(request.payload.size()) +
                      " bytes is over the limit of " + std::to_string(limits.maxPayload));
  }
  if (request.payload.empty()) return refuse(Code::kBadRequest, "empty Send: no values");
  Notification n;
  n.kind = NotificationKind::kSend;
  n.endpoint = sender->endpoint;
  n.receivedAt = now;
  n.contentFormat = *request.contentFormat;
  n.payload.assign(request.payload.begin(), request.payload.end());
  // SenML and LwM2M CBOR name every value with its full path: decoded from the root.
  auto decoded =
      lwm2m::decode(*request.contentFormat, n.payload, lwm2m::Path{}, lwm2m::coreObjects());
  if (!decoded) {
    return refuse(Code::kBadRequest, std::string("Send payload is not valid ") +
                                         formatName(*request.contentFormat) + ": " +
                                         decoded.error().message);
  }
  if (decoded->empty()) return refuse(Code::kBadRequest, "Send payload holds no values");
  n.records = std::move(*decoded);
  *out = std::move(n);
  return std::nullopt;
}

}  // namespace lwgate::core
