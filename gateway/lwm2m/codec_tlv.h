#pragma once
// OMA-TLV (TS Transport 7.4.3): type byte, 8/16-bit ids, 0-3 byte length; values are big-endian
// integers (1/2/4/8 bytes), IEEE floats (4/8), booleans (1 byte 0/1), objlnk (4 bytes), UTF-8
// strings, opaque bytes.
// Called through content_format.h decode()/encode(); see there for the contract.
//
// Decoding: the top-level TLVs are children of the request path, or repeat its own ids as a
// wrapper (an object instance TLV for /3/0, a multiple resource TLV for /3/0/6 or /3/0/6/1);
// every value must land within the request path, and a path may appear only once. Bits 2-0 of
// the type byte are ignored when a length field follows. Exceeding DecodeLimits (records,
// nesting) is kTooLarge; everything else malformed is kBadRequest.
// Encoding: /O gives object instance TLVs, /O/I resource TLVs, /O/I/R one resource TLV (a
// multiple resource TLV when the records are its instances), /O/I/R/RI one resource instance
// TLV; groups keep the records' first-seen order. Integers and times take the smallest of
// 1/2/4/8 bytes; unsigned values below 2^63 take the smallest length that leaves the top bit
// clear (200 is 00 C8), so a peer reading the resource as a signed Integer agrees; floats take
// 4 bytes when single precision holds the value exactly (NaN never), else 8.
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
