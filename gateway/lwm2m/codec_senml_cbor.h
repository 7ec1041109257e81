#pragma once
// SenML CBOR (RFC 8428 section 6, TS Transport 7.4.6): integer labels (bn -2, bt -3,
// n 0, v 2, vs 3, vb 4, vd 8, t 6, vlo "vlo"), CBOR integers keep their type (unsigned when major
// type 0 and the model does not say signed), floats half/single/double. Uses the shared minimal
// CBOR reader/writer in cbor.h (bounded depth and lengths, no third-party code).
// Called through content_format.h decode()/encode(); see there for the contract.
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/lwm2m/content_format.h"

namespace lwgate::lwm2m::senml_cbor {

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits);
Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath);

}  // namespace lwgate::lwm2m::senml_cbor
