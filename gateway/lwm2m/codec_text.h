#pragma once
// text/plain (TS Transport 7.4.1) and opaque (7.4.2): exactly one resource or resource
// instance value. text: integers/unsigned/float in decimal, booleans "0"/"1", time as decimal
// seconds, objlnk "O:I", opaque as base64 (RFC 4648 with padding). The model types the value;
// unknown resources decode as kString. Also exposes textOpaque* for Content-Format 42.
// Called through content_format.h decode()/encode(); see there for the contract.
//
// Parsing is strict: no whitespace, no '+', no "inf"/"nan"; floats are written with the
// shortest digits that read back the same (std::to_chars) and a non-finite float cannot be
// written; base64 needs its padding (non-zero bits before it are tolerated); Content-Format 42
// is kOpaque whatever the model says and encodes only an Opaque value.
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/lwm2m/content_format.h"

namespace lwgate::lwm2m::text {

// Content-Format 42: one value, kOpaque.
Result<std::vector<Record>> decodeOpaque(std::span<const std::uint8_t> payload,
                                         const Path& requestPath);
Result<std::vector<std::uint8_t>> encodeOpaque(const std::vector<Record>& records,
                                               const Path& requestPath);

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits);
Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath);

}  // namespace lwgate::lwm2m::text
