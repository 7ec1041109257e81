#pragma once
// What one [[upstream]] section of lwgated.toml says: an upstream LwM2M server the bridge
// registers devices with, which devices it sees and how they are presented to it. Pure code:
// the TOML parsing is in gateway/daemon/config.cpp; this is what it produces and checks.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/util/result.h"

namespace lwgate::bridge {

// How a queue-mode (sleeping) device is presented to the upstream server.
enum class QueueMode : std::uint8_t {
  // Registered upstream as always reachable (b=U): lwgate queues the server's requests, waits
  // and wakes the device, and answers when the device does, or 5.04 after answer_timeout.
  kGateway,
  // Registered upstream in queue mode (Q) whenever the device is; every time the device wakes
  // lwgate sends the server an Update, so the server's own queue logic sends while it is awake.
  kMirror,
};
std::string_view queueModeName(QueueMode mode);  // "gateway", "mirror"

struct UpstreamUri {
  std::string host;  // a name or a numeric address, without brackets
  std::uint16_t port = 5683;
  bool dtls = false;  // coaps://: DTLS with a pre-shared key (RFC 7252 9.1.3.1)
  bool operator==(const UpstreamUri&) const = default;
};
// "coap://HOST[:PORT]" (default port 5683) or "coaps://HOST[:PORT]" (DTLS-PSK, default port
// 5684, RFC 7252 6.2); IPv6 in brackets; no path, query, user info or fragment.
Result<UpstreamUri> parseUpstreamUri(std::string_view uri);

// Which pre-shared key a coaps:// server gets (the credential store holds them, never the
// configuration file).
enum class PskMode : std::uint8_t {
  // One PSK per bridged device: each device's DTLS session uses its own identity and key, so
  // the server can tell devices apart by identity (LwM2M servers bind an identity to one
  // endpoint name). The identity defaults to the device's upstream endpoint name.
  kDevice,
  // One PSK for the whole gateway: every device's session uses the same identity and key.
  kGateway,
};
std::string_view pskModeName(PskMode mode);  // "device", "gateway"

// Endpoint-name patterns: '*' matches any run of characters (also none), '?' one character
// (byte); everything else matches itself. "*" matches every endpoint.
bool matchesPattern(std::string_view pattern, std::string_view endpoint);

// Checks a pattern or a prefix: printable ASCII without spaces, 1..255 bytes for a pattern,
// 0..128 for a prefix. kBadRequest naming the problem.
Result<void> checkDevicePattern(std::string_view pattern);
Result<void> checkEndpointPrefix(std::string_view prefix);

struct UpstreamConfig {
  std::string uri;  // as written: the server's name in logs, D-Bus and the database
  UpstreamUri address;
  std::vector<std::string> devices{
      "*"};                            // endpoint-name patterns; a device matching any is bridged
  std::string endpointPrefix;          // upstream endpoint name = prefix + device endpoint
  std::uint32_t lifetime = 86400;      // seconds, the lt= of the upstream Register
  double holdOff = 0;                  // seconds after start or a config change
  double registrationsPerSecond = 50;  // Registers started per second, at most
  // Registers (and the Updates after a restart, which take a slot too) sent and not yet
  // answered, at most: what the server and the backhaul must buffer at once.
  std::uint32_t registrationsInFlight = 32;
  QueueMode queueMode = QueueMode::kGateway;
  double answerTimeout = 60;           // gateway mode: seconds until 5.04 Gateway Timeout
  double backoffMin = 5;               // seconds before the first retry after a failure
  double backoffMax = 900;             // the retry interval doubles up to this
  PskMode pskMode = PskMode::kDevice;  // coaps:// only

  bool dtls() const { return address.dtls; }
  // The endpoint under which the link's PSK is in the credential store: the device's own
  // endpoint in device mode, "" (the gateway-wide credential) in gateway mode.
  std::string credentialEndpoint(std::string_view endpoint) const {
    return pskMode == PskMode::kGateway ? std::string() : std::string(endpoint);
  }

  bool bridges(std::string_view endpoint) const;
  std::string upstreamEndpoint(std::string_view endpoint) const {
    return endpointPrefix + std::string(endpoint);
  }
  bool operator==(const UpstreamConfig&) const = default;
};

}  // namespace lwgate::bridge
