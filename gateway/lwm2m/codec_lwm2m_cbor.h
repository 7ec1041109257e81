#pragma once
// LwM2M CBOR (TS 1.2 Transport 7.4.7, 11544): nested maps keyed by path ids, with
// the path prefix collapsing rules; values typed by CBOR major type and tags. Uses cbor.h.
// Called through content_format.h decode()/encode(); see there for the contract.
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/lwm2m/content_format.h"

namespace lwgate::lwm2m::lwm2m_cbor {

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits);
Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath);

}  // namespace lwgate::lwm2m::lwm2m_cbor
