#pragma once
// SenML JSON (RFC 8428, TS Transport 7.4.5): bn/bt/n/t/v/vs/vb/vd/vlo; LwM2M names
// (bn+n) are paths; vd is base64url without padding; vlo is objlnk. The model types a "v" (integer,
// unsigned, float, time); unknown resources keep a number as kFloat. May use nlohmann-json
// (Debian nlohmann-json3-dev) inside the .cpp only.
// Called through content_format.h decode()/encode(); see there for the contract.
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/lwm2m/content_format.h"

namespace lwgate::lwm2m::senml_json {

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits);
Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath);

// Not part of the content-format contract. LwM2M JSON (11543, codec_lwm2m_json.h) is SenML JSON's
// LwM2M 1.0 predecessor: the same flat records, base name and base time under other field names
// and one wrapping object. Both formats go through one engine in codec_senml_json.cpp so the
// typing, limits and malformed-input handling cannot drift apart.
namespace detail {
enum class JsonDialect : std::uint8_t { kSenml, kLwm2m };
Result<std::vector<Record>> decodeJson(JsonDialect dialect, std::span<const std::uint8_t> payload,
                                       const Path& requestPath, const ObjectModel& model,
                                       const DecodeLimits& limits);
Result<std::vector<std::uint8_t>> encodeJson(JsonDialect dialect,
                                             const std::vector<Record>& records,
                                             const Path& requestPath);
}  // namespace detail

}  // namespace lwgate::lwm2m::senml_json
