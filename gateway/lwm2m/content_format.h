#pragma once
// Encoding and decoding of LwM2M payloads by CoAP Content-Format (TS Transport 7.4/7.5 and the
// LwM2M 1.2 CBOR format). Pure code: bounded input, no allocation beyond the output, malformed
// payloads are kBadRequest with a message naming what and where, never a crash.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gateway/lwm2m/object_model.h"
#include "gateway/lwm2m/value.h"
#include "gateway/util/result.h"

namespace lwgate::lwm2m {

namespace format {
inline constexpr std::uint16_t kTextPlain = 0;
inline constexpr std::uint16_t kLinkFormat = 40;
inline constexpr std::uint16_t kOpaque = 42;
inline constexpr std::uint16_t kSenmlJson = 110;
inline constexpr std::uint16_t kSenmlCbor = 112;
inline constexpr std::uint16_t kTlv = 11542;
inline constexpr std::uint16_t kLwm2mJson = 11543;
inline constexpr std::uint16_t kLwm2mCbor = 11544;
// LwM2M 1.0 clients may still send the pre-registration numbers.
inline constexpr std::uint16_t kLegacyTlv = 1542;
inline constexpr std::uint16_t kLegacyJson = 1543;
}  // namespace format

struct DecodeLimits {
  std::size_t maxRecords = 4096;  // records one payload may decode to
  std::size_t maxDepth = 8;       // nesting (TLV, CBOR)
};

// Decodes a payload the device sent in answer to a request on `requestPath` (the base that
// TLV, text/plain and opaque values are relative to; SenML/JSON carry their own names).
//  - kTextPlain: one resource or resource instance value; typed by the model, else kString.
//  - kOpaque: one value, kOpaque.
//  - kTlv: object / instance / resource / multiple-resource nesting per TS Transport 7.4.3.
//  - kSenmlJson, kSenmlCbor (RFC 8428 with LwM2M rules, TS Transport 7.4.5/7.4.6),
//    kLwm2mJson (TS 1.0 7.3.4), kLwm2mCbor (TS 1.2 7.4.7).
// Unknown format: kUnsupportedFormat. Records come out in payload order.
Result<std::vector<Record>> decode(std::uint16_t contentFormat,
                                   std::span<const std::uint8_t> payload, const Path& requestPath,
                                   const ObjectModel& model, const DecodeLimits& limits = {});

// Encodes records for a Write/Create/Write-Composite to `requestPath`. Every record path must
// lie within requestPath. kTextPlain and kOpaque take exactly one record at requestPath.
Result<std::vector<std::uint8_t>> encode(std::uint16_t contentFormat,
                                         const std::vector<Record>& records,
                                         const Path& requestPath);

bool isSupportedFormat(std::uint16_t contentFormat);

}  // namespace lwgate::lwm2m
