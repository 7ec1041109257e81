#pragma once
// OMA-TLV (TS Transport 7.4.3): type byte, 8/16-bit ids, 0-3 byte length; values are big-endian
// integers (1/2/4/8 bytes), IEEE floats (4/8), booleans (1 byte 0/1), objlnk (4 bytes), UTF-8
// strings, opaque bytes.
// Called through content_format.h decode()/encode(); see there for the contract.
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/lwm2m/content_format.h"

namespace lwgate::lwm2m::tlv {

Result<std::vector<Record>> decode(std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits);
Result<std::vector<std::uint8_t>> encode(const std::vector<Record>& records,
                                         const Path& requestPath);

}  // namespace lwgate::lwm2m::tlv
