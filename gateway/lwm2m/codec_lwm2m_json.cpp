#include "gateway/lwm2m/codec_lwm2m_json.h"

#include "gateway/lwm2m/codec_senml_json.h"

// LwM2M JSON differs from SenML JSON only in its wrapping object ({"bn","bt","e":[...]}) and its
// value keys (sv/bv/ov, opaque as base64 in "sv" when the model says opaque); the shared engine
// in codec_senml_json.cpp takes the dialect. Without "bn" the names are relative to the request
// path; "bn"/"bt" count only at the top level.
namespace lwgate::lwm2m::lwm2m_json {

using senml_json::detail::JsonDialect;

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits) {
  return senml_json::detail::decodeJson(JsonDialect::kLwm2m, payload, requestPath, model, limits);
}

// {"bn":"<requestPath>/","e":[{"n":"<relative>",...}]}; "bn" moves up a level when a record is
// the request path itself (a Write to one resource), so that no "n" is empty.
Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath) {
  return senml_json::detail::encodeJson(JsonDialect::kLwm2m, records, requestPath);
}

}  // namespace lwgate::lwm2m::lwm2m_json
