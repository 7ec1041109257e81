#include "gateway/core/credentials.h"

#include "gateway/lwm2m/diagnostic.h"

namespace lwgate::core {
namespace {

Error forbidden(std::string message) {
  return makeError(ErrorCode::kForbidden, std::move(message));
}

}  // namespace

Result<void> checkPskIdentity(std::string_view identity) {
  if (identity.empty() || identity.size() > kMaxPskIdentity) {
    return makeError(ErrorCode::kBadRequest,
                     "a PSK identity has 1 to " + std::to_string(kMaxPskIdentity) +
                         " bytes, this one " + std::to_string(identity.size()));
  }
  if (identity.find('\0') != std::string_view::npos) {
    return makeError(ErrorCode::kBadRequest,
                     "a PSK identity cannot contain a zero byte (the DTLS library passes "
                     "identities as C strings)");
  }
  return {};
}

Result<void> checkPskKey(std::span<const std::uint8_t> key) {
  if (key.empty() || key.size() > kMaxPskKey) {
    // The length only: nothing about a key goes into a message.
    return makeError(ErrorCode::kBadRequest, "a PSK key has 1 to " + std::to_string(kMaxPskKey) +
                                                 " bytes, this one " + std::to_string(key.size()));
  }
  return {};
}

std::string pskIdentityText(std::string_view identity) {
  bool printable = !identity.empty();
  for (unsigned char c : identity) printable = printable && c >= 0x20 && c < 0x7f;
  if (printable && !identity.starts_with("hex:")) return std::string(identity);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "hex:";
  for (unsigned char c : identity) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

Result<void> checkEndpointAccess(CredentialLookup& lookup, const Request& request,
                                 std::string_view endpoint) {
  if (request.peer.transport == "dtls") {
    // The handshake found the identity; it may have been removed since (RemovePsk takes effect
    // for sessions that are already up, at their next request).
    auto bound = lookup.endpointForIdentity(request.pskIdentity);
    if (!bound) return bound.error();
    if (!*bound) {
      return forbidden("PSK identity " +
                       lwm2m::quoteForMessage(pskIdentityText(request.pskIdentity)) +
                       " is not known (any more)");
    }
    if (**bound != endpoint) {
      return forbidden("PSK identity " +
                       lwm2m::quoteForMessage(pskIdentityText(request.pskIdentity)) +
                       " may act only as endpoint " + lwm2m::quoteForMessage(**bound));
    }
    return {};
  }
  auto secured = lookup.endpointHasPsk(endpoint);
  if (!secured) return secured.error();
  if (*secured) {
    return forbidden("endpoint " + lwm2m::quoteForMessage(endpoint) +
                     " has a DTLS pre-shared key: it must use coaps (DTLS)");
  }
  return {};
}

}  // namespace lwgate::core
