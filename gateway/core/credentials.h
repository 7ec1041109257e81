#pragma once
// DTLS pre-shared keys (LwM2M 1.1 TS Transport 5.2.8 "Pre-Shared Keys": the PSK identity names
// the client, TLS_PSK_WITH_AES_128_CCM_8 is the mandatory suite) and the rule that ties a
// device's identity to its endpoint name.
//
// An operator binds each PSK identity to one endpoint name (D-Bus AddPsk, lwgatectl psk add).
// Then:
//  - a DTLS handshake with an identity nobody bound is refused (coap::Server asks the store);
//  - a request that came over DTLS may act only for the endpoint its identity is bound to:
//    Register with that ep=, Update and De-register only of that endpoint's registration;
//  - an endpoint with at least one PSK is served only over DTLS: a NoSec Register, Update or
//    De-register for it is refused, so nobody on the LAN can take over or end a secured
//    device's registration without its key (Leshan's security check does the same).
// Refusals are 4.03 Forbidden (RFC 7252 5.9.2.4) and change nothing.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gateway/core/message.h"
#include "gateway/util/result.h"

namespace lwgate::core {

// Bounds of what is stored (and what a D-Bus caller can make the gateway hold). RFC 4279
// allows identities up to 2^16-1 bytes; LwM2M clients use short ones (often the endpoint
// name). 64 bytes is libcoap's own PSK key bound (COAP_DTLS_MAX_PSK); 16 is what
// TLS_PSK_WITH_AES_128_CCM_8 needs.
inline constexpr std::size_t kMaxPskIdentity = 128;
inline constexpr std::size_t kMaxPskKey = 64;

// An identity as the store takes it: 1 to kMaxPskIdentity bytes, no zero byte (GnuTLS hands
// the server the identity as a C string, so one with a zero byte could never match).
Result<void> checkPskIdentity(std::string_view identity);
// 1 to kMaxPskKey bytes.
Result<void> checkPskKey(std::span<const std::uint8_t> key);

// The identity for people and logs: as it is when it is printable ASCII, else "hex:" and its
// bytes in hex. Never used for keys.
std::string pskIdentityText(std::string_view identity);

// A credential without its key: what listing shows (the key never leaves the store except to
// the DTLS handshake).
struct PskInfo {
  std::string identity;  // bytes
  std::string endpoint;
  bool keySet = false;
  std::int64_t createdAtMs = 0;  // Unix ms
  std::int64_t updatedAtMs = 0;
};

// A PSK the bridge uses towards a coaps:// upstream server, without its key.
struct UpstreamPskInfo {
  std::string server;                   // the [[upstream]] uri
  std::string endpoint;                 // the local device; "" for the gateway-wide one
  std::optional<std::string> identity;  // bytes; nullopt: the device's upstream endpoint name
  bool keySet = false;
  std::int64_t createdAtMs = 0;  // Unix ms
  std::int64_t updatedAtMs = 0;
};

// The credential store as the registration interface needs it (db::SqliteCredentialStore).
class CredentialLookup {
 public:
  virtual ~CredentialLookup() = default;
  // The endpoint a PSK identity is bound to; nullopt for an identity nobody bound.
  virtual Result<std::optional<std::string>> endpointForIdentity(std::string_view identity) = 0;
  // Whether any PSK identity is bound to the endpoint.
  virtual Result<bool> endpointHasPsk(std::string_view endpoint) = 0;
};

// Whether `request` may Register, Update or De-register as `endpoint` (the rules above).
// kForbidden with the reason; kStorage when the store failed.
Result<void> checkEndpointAccess(CredentialLookup& lookup, const Request& request,
                                 std::string_view endpoint);

}  // namespace lwgate::core
