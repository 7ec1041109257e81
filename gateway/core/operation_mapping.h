#pragma once
// LwM2M operations as CoAP requests (TS Transport 1.1/1.2 section 6.4, "Device Management and
// Service Enablement Interface" and "Information Reporting Interface" tables):
//   Read               GET    path                 Accept
//   Discover           GET    path                 Accept: 40
//   Write (replace)    PUT    path                 Content-Format
//   Write (partial)    POST   path                 Content-Format
//   Write-Attributes   PUT    path?pmin=..&pmax=.. (no payload)
//   Execute            POST   path                 optional text/plain arguments
//   Create             POST   object path          Content-Format
//   Delete             DELETE instance path
//   Observe            GET    path, Observe: 0     Accept, optional ?pmin=..&pmax=.. (payload)
//   Cancel Observe     GET    path, Observe: 1     Accept (same token as the observation)
//   Read-Composite     FETCH  / (alt path)         Content-Format (names), Accept
//   Write-Composite    iPATCH / (alt path)         Content-Format
//   Observe-Composite  FETCH  / with Observe: 0    Content-Format (names), Accept
// Paths are prefixed with the device's alternate path. Pure code.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/downlink.h"
#include "gateway/core/message.h"
#include "gateway/core/registration.h"
#include "gateway/util/result.h"

namespace lwgate::core {

struct OutgoingRequest {
  Method method = Method::kGet;
  std::vector<std::string> uriPath;
  std::vector<std::string> uriQuery;
  std::optional<std::uint16_t> contentFormat;
  std::optional<std::uint16_t> accept;
  std::optional<std::uint32_t> observe;  // 0 register, 1 deregister
  std::vector<std::uint8_t> payload;
};

// The format to ask a device for (Accept) or to write in: the caller's choice if it made one,
// else the best the device declared in its registration's ct= (SenML CBOR, SenML JSON, TLV,
// LwM2M JSON, in that order), else TLV, which every LwM2M 1.0 and 1.1 client supports.
std::uint16_t preferredFormat(const Registration& reg);
// The same for one path: an LwM2M 1.0 device that declared no formats gets text/plain for a
// single value - a resource instance, or a resource the core object model knows to be
// single-instance. Plain text is what every 1.0 client serves for one value, and some (npm's
// lwm2m-node-lib) ignore a request with a TLV Accept or Content-Format altogether.
std::uint16_t preferredFormat(const Registration& reg, std::string_view path);

// Builds the CoAP request. For Write-Attributes the request payload holds the attributes as a
// query string ("pmin=10&pmax=60&gt=20.5"); names must be pmin, pmax, gt, lt, st, epmin, epmax
// (LwM2M 1.2 also: edge, con, hqmax) and values numbers, at most once each; an empty value
// ("pmin=") removes the attribute. An Observe may carry attributes the same way. For Execute the
// payload is the arguments' text (TS Core 5.4.5 grammar: 0='v',1 ...) sent as text/plain.
// kBadRequest for a path or payload the operation cannot take, e.g. Create on an instance
// path, Delete of a resource, Execute of an object, composite operations for a 1.0 device.
Result<OutgoingRequest> toCoapRequest(const DownlinkRequest& request, const Registration& reg);

}  // namespace lwgate::core
