#pragma once
// LwM2M JSON (TS 1.0 Transport 6.4.4, 11543): {"bn":"/3/0/","e":[{"n":"0","sv":"x"},
// {"n":"9","v":95},{"n":"13","t":..},{"bv":true},{"ov":"3:0"}]}; decoding also accepts "bt".
// May use nlohmann-json (Debian nlohmann-json3-dev) inside the .cpp only.
// Called through content_format.h decode()/encode(); see there for the contract.
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/lwm2m/content_format.h"

namespace lwgate::lwm2m::lwm2m_json {

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits);
Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath);

}  // namespace lwgate::lwm2m::lwm2m_json
