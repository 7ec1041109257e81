#pragma once
// The LwM2M 1.1 Information Reporting "Send" operation (TS Core 6.4.6, TS Transport 6.4): a
// client reports values without being asked, with CoAP POST /dp carrying SenML JSON (110), SenML
// CBOR (112) or LwM2M CBOR (11544); the server answers 2.04 Changed. The server knows the client
// only by where the request came from (its registration's address and port, DTLS session or SMS
// number): /dp carries no endpoint name and no location. Pure code: the request and the sender's
// registration in, the value to store or the refusal out.
//
// Refusals (TS Transport lists 4.00, 4.04 and 4.15 for Send; nothing is stored for any of them):
//   4.04 /dp/anything, no registration at the request's source (a client that is not registered,
//        or whose address changed without an Update: it registers or updates, as after a 4.04 to
//        an Update), or a sender registered as LwM2M 1.0 (it has no Send; a 1.0 server has no
//        /dp resource);
//   4.05 a method other than POST;
//   4.15 no Content-Format, or one other than the three above;
//   4.13 a payload over the limit ([registration] max_payload, as for Block1 bodies);
//   4.00 an empty payload, one that does not decode, or one with no values; the diagnostic says
//        why.
#include <cstddef>
#include <optional>

#include "gateway/core/message.h"
#include "gateway/core/observation.h"
#include "gateway/core/registration.h"

namespace lwgate::core {

// True when the request is for the Send resource (first Uri-Path segment "dp").
bool isSendRequest(const Request& request);

// Whether the LwM2M version a client registered with has the Send operation (1.1 and later).
bool versionHasSend(std::string_view version);

struct SendLimits {
  std::size_t maxPayload = 16384;  // bytes
};

// Checks a Send from `sender` (the registration at the request's source; nullptr when there is
// none) and decodes it. Returns nullopt and fills `out` (kind kSend, endpoint, format, payload,
// decoded records, received at `now`) when it is to be stored and answered 2.04; else the
// response to refuse it with.
std::optional<Response> checkSend(const Request& request, const Registration* sender, WallTime now,
                                  const SendLimits& limits, Notification* out);

}  // namespace lwgate::core
