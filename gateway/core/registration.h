#pragma once
// A device's current registration, as the Registry keeps it and the store persists it.
#include <cstdint>
#include <string>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/lwm2m/link_format.h"
#include "gateway/lwm2m/registration_params.h"

namespace lwgate::core {

// Where a registration came from: the transport and the peer's address as seen in the packet
// (LwM2M TS 6.2.1: the server uses the source address and port for all later interactions).
struct Peer {
  std::string transport = "udp";  // "udp" now; "dtls" and "sms" later
  std::string address;            // "127.0.0.1", "::1", or an MSISDN for sms
  std::uint16_t port = 0;

  bool operator==(const Peer&) const = default;
};

// A stable text key for a peer ("udp|127.0.0.1|5683"), for maps keyed by where a message came
// from (deduplication, sessions, exchanges).
inline std::string peerKey(const Peer& p) {
  return p.transport + "|" + p.address + "|" + std::to_string(p.port);
}

struct Registration {
  std::string location;  // the id in Location-Path "rd/<location>"
  std::string endpoint;
  std::uint32_t lifetime = lwm2m::kDefaultLifetime;  // seconds
  // The client sent no lt=: the lifetime must be learned by reading /1/x/1
  // (spec/cr-registration-lifetime.txt). The downlink engine clears it once it has read it.
  bool lifetimeSyncPending = false;
  std::string version = "1.0";
  lwm2m::Binding binding;
  std::string smsNumber;  // empty when the client gave none
  lwm2m::ObjectList objects;
  Peer peer;
  WallTime registeredAt{};  // the Register that created this location
  WallTime updatedAt{};     // the last Register or Update: the lifetime counts from here
  WallTime lastSeen{};      // the last message of any kind from the device

  // Not persisted: when the lifetime runs out, on the steady clock.
  SteadyTime expiresAt{};

  bool queueMode() const { return binding.queueMode; }

  // The Server object instances (/1/x) the device listed. When there is exactly one it is this
  // gateway's: the target of the lifetime read (/1/x/1) and the Registration Update Trigger
  // (/1/x/8).
  std::vector<std::uint16_t> serverInstances() const {
    std::vector<std::uint16_t> out;
    for (const auto& link : objects.links) {
      if (link.objectId == 1 && link.instanceId) out.push_back(*link.instanceId);
    }
    return out;
  }
};

}  // namespace lwgate::core
