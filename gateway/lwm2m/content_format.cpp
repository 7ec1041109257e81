#include "gateway/lwm2m/content_format.h"

#include <string>

#include "gateway/lwm2m/codec_lwm2m_cbor.h"
#include "gateway/lwm2m/codec_lwm2m_json.h"
#include "gateway/lwm2m/codec_senml_cbor.h"
#include "gateway/lwm2m/codec_senml_json.h"
#include "gateway/lwm2m/codec_text.h"
#include "gateway/lwm2m/codec_tlv.h"

namespace lwgate::lwm2m {
namespace {

Error unsupported(std::uint16_t contentFormat) {
  std::string message = "Content-Format " + std::to_string(contentFormat);
  if (contentFormat == format::kLinkFormat) {
    message += " (link-format) carries no resource values";
  } else {
    message += " is not supported";
  }
  return makeError(ErrorCode::kUnsupportedFormat, std::move(message));
}

}  // namespace

bool isSupportedFormat(std::uint16_t contentFormat) {
  switch (contentFormat) {
    case format::kTextPlain:
    case format::kOpaque:
    case format::kTlv:
    case format::kLegacyTlv:
      return true;
    case format::kSenmlJson:
      return true;
    case format::kLwm2mJson:
    case format::kLegacyJson:
      return true;
    case format::kSenmlCbor:
      return true;
    case format::kLwm2mCbor:
      return true;
    default:
      return false;
  }
}

Result<std::vector<Record>> decode(std::uint16_t contentFormat,
                                   std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits) {
  switch (contentFormat) {
    case format::kTextPlain:
      return text::decode(payload, requestPath, model, limits);
    case format::kOpaque:
      return text::decodeOpaque(payload, requestPath);
    case format::kTlv:
    case format::kLegacyTlv:
      return tlv::decode(payload, requestPath, model, limits);
    case format::kSenmlJson:
      return senml_json::decode(payload, requestPath, model, limits);
    case format::kLwm2mJson:
    case format::kLegacyJson:
      return lwm2m_json::decode(payload, requestPath, model, limits);
    case format::kSenmlCbor:
      return senml_cbor::decode(payload, requestPath, model, limits);
    case format::kLwm2mCbor:
      return lwm2m_cbor::decode(payload, requestPath, model, limits);
    default:
      return unsupported(contentFormat);
  }
}

Result<std::vector<std::uint8_t>> encode(std::uint16_t contentFormat,
                                         const std::vector<Record>& records,
                                         const Path& requestPath) {
  if (!isSupportedFormat(contentFormat)) return unsupported(contentFormat);
  // The contract every format shares: records are resources or resource instances within the
  // request path.
  for (const Record& r : records) {
    if (r.path.depth() < 3) {
      return makeError(ErrorCode::kBadRequest,
                       "record " + r.path.toString() + " is not a resource or resource instance");
    }
    if (!requestPath.contains(r.path)) {
      return makeError(ErrorCode::kBadRequest,
                       "record " + r.path.toString() + " is outside " + requestPath.toString());
    }
  }
  switch (contentFormat) {
    case format::kTextPlain:
      return text::encode(records, requestPath);
    case format::kOpaque:
      return text::encodeOpaque(records, requestPath);
    case format::kTlv:
    case format::kLegacyTlv:
      return tlv::encode(records, requestPath);
    case format::kSenmlJson:
      return senml_json::encode(records, requestPath);
    case format::kLwm2mJson:
    case format::kLegacyJson:
      return lwm2m_json::encode(records, requestPath);
    case format::kSenmlCbor:
      return senml_cbor::encode(records, requestPath);
    case format::kLwm2mCbor:
      return lwm2m_cbor::encode(records, requestPath);
    default:
      return unsupported(contentFormat);
  }
}

}  // namespace lwgate::lwm2m
