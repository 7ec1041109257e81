#pragma once
// CoAP requests and responses as the core sees them: already parsed by the transport adapter
// (libcoap today, CoAP over SMS later), with only what the LwM2M logic needs.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/registration.h"
#include "gateway/util/result.h"

namespace lwgate::core {

enum class Method : std::uint8_t {
  kGet = 1,
  kPost = 2,
  kPut = 3,
  kDelete = 4,
  kFetch = 5,
  kPatch = 6,
  kIPatch = 7
};

// CoAP response codes (RFC 7252 12.1.2), class * 32 + detail.
enum class Code : std::uint8_t {
  kCreated = 0x41,
  kDeleted = 0x42,
  kChanged = 0x44,
  kContent = 0x45,
  kBadRequest = 0x80,
  kForbidden = 0x83,
  kNotFound = 0x84,
  kMethodNotAllowed = 0x85,
  kPreconditionFailed = 0x8c,
  kRequestEntityTooLarge = 0x8d,
  kUnsupportedContentFormat = 0x8f,
  kTooManyRequests = 0x9d,  // 4.29, RFC 8516
  kInternalServerError = 0xa0,
  kServiceUnavailable = 0xa3,
};

// "2.01" style text for logs.
std::string codeText(Code code);

inline constexpr std::uint16_t kFormatTextPlain = 0;
inline constexpr std::uint16_t kFormatLinkFormat = 40;

struct Request {
  Method method = Method::kGet;
  std::vector<std::string_view> uriPath;   // Uri-Path option values
  std::vector<std::string_view> uriQuery;  // Uri-Query option values
  std::optional<std::uint16_t> contentFormat;
  std::string_view payload;
  Peer peer;  // transport "dtls" when it came over a DTLS session
  // DTLS-PSK: the identity the session's handshake was made with (bytes); empty over NoSec.
  std::string_view pskIdentity;
};

struct Response {
  Code code = Code::kInternalServerError;
  std::vector<std::string> locationPath;
  std::string payload;  // for errors: a diagnostic text (RFC 7252 5.5.2), content format none
  std::optional<std::uint16_t> contentFormat;
  // Max-Age option (RFC 7252 5.10.5): with 4.29 or 5.03, the seconds after which the client
  // may try again (RFC 8516 4).
  std::optional<std::uint32_t> maxAge;
};

// The response for an Error: the CoAP code that carries its meaning and its message as the
// diagnostic payload.
Response errorResponse(const Error& error);
Code codeFor(ErrorCode code);

}  // namespace lwgate::core
