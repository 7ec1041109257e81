#pragma once
// Query parameters of the LwM2M Register and Update operations (LwM2M 1.1/1.2 TS Core 6.2.1,
// 6.2.2; 1.0 TS 5.3.1). Pure code: input is the list of Uri-Query option values as received.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/util/result.h"

namespace lwgate::lwm2m {

inline constexpr std::size_t kMaxEndpointLength = 255;
// Seconds; the LwM2M Server object /1/x/1 default.
inline constexpr std::uint32_t kDefaultLifetime = 86400;

// Binding as declared by the client. Transports are the letters of b= without 'Q':
// U (UDP), S (SMS), T (TCP, 1.1+), N (Non-IP, 1.1+), M (MQTT, 1.2), H (HTTP, 1.2).
struct Binding {
  std::string transports;  // e.g. "U", "US"; letters in the order the client sent them
  bool queueMode = false;  // from 1.0 style "UQ"/"UQS"/"SQ" or the 1.1+ "Q" parameter
  std::string text;        // b= exactly as received, for display and for the upstream bridge

  bool operator==(const Binding&) const = default;
};

struct RegisterParams {
  std::string endpoint;                   // ep=, required, 1..kMaxEndpointLength bytes
  std::optional<std::uint32_t> lifetime;  // lt=, 1..4294967295; absent -> caller uses default
  std::string version = "1.0";            // lwm2m=, "1.0" when absent
  Binding binding;                        // b=, "U" when absent
  std::optional<std::string> smsNumber;   // sms=, MSISDN: optional '+' then 1..15 digits

  bool operator==(const RegisterParams&) const = default;
};

struct UpdateParams {
  std::optional<std::uint32_t> lifetime;
  // Set when b= or Q is present. With b=, transports and text come from it and queueMode is
  // true when b= or Q says so (an Update with b= and no Q turns queue mode off). With Q alone,
  // transports and text are empty and queueMode is true: the caller keeps the device's current
  // transports and text and only switches queue mode on.
  std::optional<Binding> binding;
  std::optional<std::string> smsNumber;

  bool operator==(const UpdateParams&) const = default;
};

// Versions this server speaks. Any other well-formed "X.Y" is kPreconditionFailed (4.12, "the
// LwM2M versions of the Client and Server are not compatible"); a malformed one is kBadRequest.
bool isSupportedVersion(std::string_view version);

// Parses the Uri-Query values of a Register request ("ep=dev1", "lt=300", "Q", ...).
// Errors (kBadRequest unless noted), nothing partial is returned:
//  - ep missing, empty, longer than kMaxEndpointLength, not valid UTF-8, or with control chars;
//  - lt not a decimal number in 1..4294967295 (no sign, no spaces, no leading '+');
//  - lwm2m malformed (kBadRequest) or unsupported (kPreconditionFailed);
//  - b empty, with a letter outside "USTNMHQ", a repeated letter, or 'Q' with no transport;
//  - Q with a value other than empty;
//  - sms not an MSISDN;
//  - a parameter given twice, or an unknown parameter (LwM2M TS: "unknown parameter is
//    specified" -> 4.00).
// A well-formed but unsupported lwm2m= is checked before anything else, so a newer client that
// also sends parameters we do not know gets 4.12 and can fall back to an older version.
// Names are case-sensitive; a bare "lt" counts as "lt=" (empty, so invalid).
Result<RegisterParams> parseRegisterParams(const std::vector<std::string_view>& queries);

// Update accepts lt, b, sms and Q (all optional); ep on an Update is kBadRequest. lwm2m= is not
// an Update parameter in the TS, but LwM2M 1.0 clients such as lwm2m-node-lib repeat it on every
// Update: a well-formed supported version is accepted and ignored (the Register's stays).
Result<UpdateParams> parseUpdateParams(const std::vector<std::string_view>& queries);

// An MSISDN (ITU-T E.164) as sms= takes it: optional '+' then 1 to 15 digits; kBadRequest
// naming the value otherwise.
Result<void> checkMsisdn(std::string_view sms);

// An endpoint client name as ep= takes it: 1 to kMaxEndpointLength bytes of UTF-8 without
// control characters; kBadRequest naming the value otherwise.
Result<void> checkEndpoint(std::string_view endpoint);

}  // namespace lwgate::lwm2m
