#pragma once
// Internal to the libcoap adapter: what server.cpp's libcoap callbacks hand over to client.cpp
// when the session is one of the upstream client sessions.
#include <coap3/coap.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "gateway/coap/server.h"

namespace lwgate::coap {

struct ClientCallbacks {
  // The client id of an open upstream session; nullopt for device-side (server) sessions and
  // for client sessions being closed.
  static std::optional<Server::ClientId> clientOf(const coap_session_t* session);
  // A request from the upstream server: the handler's answer, code 0 for "later" (empty ACK).
  static core::Response request(Server* self, Server::ClientId id, const coap_pdu_t* pdu);
  static bool response(Server* self, Server::ClientId id, const coap_pdu_t* received);
  static void nack(Server* self, Server::ClientId id, const coap_pdu_t* sent,
                   coap_nack_reason_t reason);
};

// Overwrites a key before its memory goes back (explicit_bzero) and empties it.
void wipe(std::vector<std::uint8_t>& secret);

// Puts a request's payload into pdu; libcoap sends one larger than a datagram with Block1
// (RFC 7959) and needs the data until the transfer is done, so it gets a copy it frees.
bool addRequestPayload(coap_session_t* session, coap_pdu_t* pdu,
                       const std::vector<std::uint8_t>& payload);

}  // namespace lwgate::coap
