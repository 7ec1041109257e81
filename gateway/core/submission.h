#pragma once
// What a caller (D-Bus today, the bridge later) asks a device to do, checked and turned into a
// DownlinkRequest ready for the queue: paths parsed, values typed by the object model and
// encoded in the device's format, the CoAP mapping tried once so a request the device could
// never be sent is refused at submission with a reason, not queued to fail later. Pure code.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/downlink.h"
#include "gateway/core/registration.h"
#include "gateway/lwm2m/object_model.h"
#include "gateway/lwm2m/value.h"
#include "gateway/util/result.h"

namespace lwgate::core {

// The longest deadline a caller may give: a request nobody wants done within ten years is a
// mistake, and the bound keeps now + ttl far from the clock type's range.
inline constexpr Seconds kMaxTtl{10LL * 365 * 86400};

struct SubmitOptions {
  std::optional<std::uint16_t> format;  // Accept, or the encoding of the payload
  std::optional<Seconds> ttl;           // 1 s .. kMaxTtl; else the queue's default
  std::optional<std::string> idempotencyKey;
  bool partial = false;                   // Write: partial update (POST) instead of replace
  std::optional<std::uint16_t> instance;  // Create: the new instance's id
  bool urgent = false;                    // wake a sleeping device by SMS now (DownlinkRequest)
};

// A value for Write / Create / Write-Composite. `path` is relative to the request path ("" for
// the path itself, "1" or "6/0" below an instance or object) or, for Write-Composite, absolute.
struct CallerValue {
  std::string path;
  lwm2m::Value value;
};

struct CallerRequest {
  Operation operation = Operation::kRead;
  std::string endpoint;
  std::string path;                 // every operation but the composites
  std::vector<std::string> paths;   // Read-Composite, Observe-Composite
  std::vector<CallerValue> values;  // Write, Create, Write-Composite
  // Execute: the arguments (TS Core 5.4.5 grammar). Write-Attributes, and optionally Observe
  // (attributes sent with it): "pmin=10&pmax=60".
  std::string text;
  SubmitOptions options;
};

struct SubmissionLimits {
  std::size_t maxPayload = 65536;  // encoded request payload, bytes
  std::size_t maxValues = 1024;    // values or paths in one request
  std::size_t maxKeyLength = 256;  // idempotency key
};

// Checks and encodes. `reg` is the device's current registration (its version, alternate path
// and declared formats decide the encoding); nullptr for a known device that is not registered
// now, which gets TLV (mandatory for LwM2M 1.0 and 1.1 clients). kBadRequest names what is wrong;
// kTooLarge for a payload over the limit.
Result<DownlinkRequest> prepareRequest(const CallerRequest& caller, const Registration* reg,
                                       const lwm2m::ObjectModel& model,
                                       const SubmissionLimits& limits, WallTime now);

// A caller's value converted to the type the object model gives the resource at `path` (a
// string "300" to the integer 300, an integer to a float, ...); unchanged when the model does
// not know the resource. kBadRequest when it cannot be converted or the resource is executable.
Result<lwm2m::Value> coerceValue(const lwm2m::Value& value, const lwm2m::Path& path,
                                 const lwm2m::ObjectModel& model);

// "tlv", "senml-json", ... or a Content-Format number ("11542") to the number; kBadRequest for
// anything lwgate cannot encode or decode.
Result<std::uint16_t> parseFormat(std::string_view name);
std::string_view formatName(std::uint16_t format);  // "tlv", ...; "" when unknown

// The result of a finished request for callers: the decoded payload as JSON (lwm2m::toJson
// records, or a JSON string for link-format and undecodable text), or "" with decodeError set.
struct RenderedResult {
  std::string json;
  std::string decodeError;
};
RenderedResult renderResult(const DownlinkRequest& request, const lwm2m::ObjectModel& model);

}  // namespace lwgate::core
