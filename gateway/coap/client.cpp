// The upstream half of the libcoap adapter: client sessions to LwM2M servers for the bridge.
#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>

#include "gateway/coap/client_callbacks.h"
#include "gateway/util/log.h"

namespace lwgate::coap {
namespace {

void* tagOf(Server::ClientId id) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
}

std::string optionText(const coap_opt_t* opt) {
  return std::string(reinterpret_cast<const char*>(coap_opt_value(opt)), coap_opt_length(opt));
}

std::uint32_t optionUint(const coap_opt_t* opt) {
  return coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
}

std::vector<std::uint8_t> tokenOf(const coap_pdu_t* pdu) {
  const coap_bin_const_t t = coap_pdu_get_token(pdu);
  return {t.s, t.s + t.length};
}

}  // namespace

std::string Server::SocketAddress::text() const {
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

Result<Server::SocketAddress> Server::resolveUdp(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return makeError(ErrorCode::kNotFound, "cannot resolve \"" + host + "\": " + gai_strerror(rc));
  }
  SocketAddress out;
  std::memcpy(&out.storage, res->ai_addr, res->ai_addrlen);
  out.length = res->ai_addrlen;
  freeaddrinfo(res);
  return out;
}

Result<Server::ClientId> Server::openClient(const SocketAddress& server, const ClientPsk* psk) {
  coap_address_t remote;
  coap_address_init(&remote);
  std::memcpy(&remote.addr, &server.storage, server.length);
  remote.size = server.length;
  // The wildcard address of the server's family with port 0: the kernel picks the port, and
  // connect() inside libcoap picks the source address by the route.
  coap_address_t local;
  coap_address_init(&local);
  local.addr.sa.sa_family = server.storage.ss_family;
  local.size = server.storage.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  // With thousands of sessions open libcoap refused about one new client session in 1,000 as
  // a duplicate ("already exists"; its sockets have SO_REUSEADDR, which lets Linux give a new
  // socket an ephemeral port another one has). Each such device then waited out a back-off of
  // seconds; another try gets another port.
  std::unique_ptr<ClientPsk> kept;
  coap_dtls_cpsk_t setup{};
  if (psk) {
    if (!coap_dtls_is_supported()) {
      return makeError(ErrorCode::kInternal, "this libcoap has no DTLS support");
    }
    kept = std::make_unique<ClientPsk>(*psk);
    setup.version = COAP_DTLS_CPSK_SETUP_VERSION;
    setup.psk_info.identity = {kept->identity.size(),
                               reinterpret_cast<const uint8_t*>(kept->identity.data())};
    setup.psk_info.key = {kept->key.size(), kept->key.data()};
  }
  coap_session_t* session = nullptr;
  for (int attempt = 0; attempt < 4 && !session; ++attempt) {
    // With a PSK this sends the ClientHello now; the first request waits in the session until
    // the handshake is done.
    session = psk ? coap_new_client_session_psk2(ctx_, &local, &remote, COAP_PROTO_DTLS, &setup)
                  : coap_new_client_session(ctx_, &local, &remote, COAP_PROTO_UDP);
  }
  if (!session) {
    const int error = errno;
    if (kept) wipe(kept->key);
    return makeError(ErrorCode::kLimitReached, std::string("cannot open a ") +
                                                   (psk ? "DTLS" : "UDP") + " session to " +
                                                   server.text() + ": " + std::strerror(error));
  }
  const double t = options_.ackTimeout;
  coap_fixed_point_t fp{static_cast<uint16_t>(t),
                        static_cast<uint16_t>((t - static_cast<uint16_t>(t)) * 1000 + 0.5)};
  coap_session_set_ack_timeout(session, fp);
  coap_session_set_max_retransmit(session, options_.maxRetransmit);
  coap_session_set_no_observe_cancel(session);
  const ClientId id = ++nextClient_;
  coap_session_set_app_data(session, tagOf(id));
  clients_[id] = session;  // the reference coap_new_client_session returned
  if (kept) clientPsks_[id] = std::move(kept);
  return id;
}

void Server::closeClient(ClientId id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  coap_session_t* session = it->second;
  clients_.erase(it);
  // Untagged first: freeing the session cancels what it had pending and calls the NACK
  // handler for each, which must not reach the bridge any more.
  coap_session_set_app_data(session, nullptr);
  coap_session_release(session);
  if (auto psk = clientPsks_.find(id); psk != clientPsks_.end()) {
    wipe(psk->second->key);
    clientPsks_.erase(psk);
  }
}

std::optional<std::uint16_t> Server::clientLocalPort(ClientId id) const {
  auto it = clients_.find(id);
  if (it == clients_.end()) return std::nullopt;
  const coap_address_t* local = coap_session_get_addr_local(it->second);
  if (!local) return std::nullopt;
  if (local->addr.sa.sa_family == AF_INET) return ntohs(local->addr.sin.sin_port);
  if (local->addr.sa.sa_family == AF_INET6) return ntohs(local->addr.sin6.sin6_port);
  return std::nullopt;
}

Result<void> Server::sendClientRequest(ClientId id, const core::OutgoingRequest& request,
                                       const std::vector<std::uint8_t>& token) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return makeError(ErrorCode::kNotFound, "no such upstream session");
  coap_session_t* session = it->second;
  coap_pdu_t* pdu = coap_pdu_init(COAP_MESSAGE_CON, static_cast<coap_pdu_code_t>(request.method),
                                  coap_new_message_id(session), coap_session_max_pdu_size(session));
  if (!pdu) return makeError(ErrorCode::kInternal, "libcoap: cannot allocate a request");
  auto fail = [&](const char* what) {
    coap_delete_pdu(pdu);
    return makeError(ErrorCode::kInternal, std::string("libcoap: cannot add ") + what);
  };
  if (!coap_add_token(pdu, token.size(), token.data())) return fail("the token");
  uint8_t buf[4];
  // Ascending option numbers: Uri-Path 11, Content-Format 12, Uri-Query 15.
  for (const auto& seg : request.uriPath) {
    if (!coap_add_option(pdu, COAP_OPTION_URI_PATH, seg.size(),
                         reinterpret_cast<const uint8_t*>(seg.data()))) {
      return fail("Uri-Path");
    }
  }
  if (request.contentFormat &&
      !coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                       coap_encode_var_safe(buf, sizeof buf, *request.contentFormat), buf)) {
    return fail("Content-Format");
  }
  for (const auto& q : request.uriQuery) {
    if (!coap_add_option(pdu, COAP_OPTION_URI_QUERY, q.size(),
                         reinterpret_cast<const uint8_t*>(q.data()))) {
      return fail("Uri-Query");
    }
  }
  // A long object list goes with Block1.
  if (!request.payload.empty() && !addRequestPayload(session, pdu, request.payload)) {
    return fail("the payload");
  }
  if (coap_send(session, pdu) == COAP_INVALID_MID) {
    return makeError(ErrorCode::kInternal, "libcoap could not send the request");
  }
  return {};
}

Result<std::uint16_t> Server::sendClientResponse(ClientId id, const ClientResponse& r) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return makeError(ErrorCode::kNotFound, "no such upstream session");
  coap_session_t* session = it->second;
  const coap_mid_t mid = coap_new_message_id(session);
  coap_pdu_t* pdu =
      coap_pdu_init(r.confirmable ? COAP_MESSAGE_CON : COAP_MESSAGE_NON,
                    static_cast<coap_pdu_code_t>(r.code), mid, coap_session_max_pdu_size(session));
  if (!pdu) return makeError(ErrorCode::kInternal, "libcoap: cannot allocate a response");
  auto fail = [&](ErrorCode code, std::string what) {
    coap_delete_pdu(pdu);
    return makeError(code, std::move(what));
  };
  if (!coap_add_token(pdu, r.token.size(), r.token.data())) {
    return fail(ErrorCode::kInternal, "libcoap: cannot add the token");
  }
  uint8_t buf[4];
  // Observe 6, Content-Format 12.
  if (r.observe && !coap_add_option(pdu, COAP_OPTION_OBSERVE,
                                    coap_encode_var_safe(buf, sizeof buf, *r.observe), buf)) {
    return fail(ErrorCode::kInternal, "libcoap: cannot add Observe");
  }
  if (r.contentFormat &&
      !coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                       coap_encode_var_safe(buf, sizeof buf, *r.contentFormat), buf)) {
    return fail(ErrorCode::kInternal, "libcoap: cannot add Content-Format");
  }
  const std::string_view diagnostic = r.diagnostic;
  if (!r.payload.empty()) {
    // A separate response has no request PDU left for libcoap's Block2 machinery: it must fit
    // in one datagram.
    if (!coap_add_data(pdu, r.payload.size(), r.payload.data())) {
      return fail(ErrorCode::kTooLarge,
                  "the answer (" + std::to_string(r.payload.size()) +
                      " bytes) does not fit in one CoAP message to the upstream server");
    }
  } else if (!diagnostic.empty()) {
    (void)coap_add_data(pdu, diagnostic.size(),
                        reinterpret_cast<const uint8_t*>(diagnostic.data()));
  }
  if (coap_send(session, pdu) == COAP_INVALID_MID) {
    return makeError(ErrorCode::kInternal, "libcoap could not send the response");
  }
  return static_cast<std::uint16_t>(mid);
}

Result<std::uint16_t> Server::sendClientPing(ClientId id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return makeError(ErrorCode::kNotFound, "no such upstream session");
  const coap_mid_t mid = coap_session_send_ping(it->second);
  if (mid == COAP_INVALID_MID) return makeError(ErrorCode::kInternal, "libcoap could not ping");
  return static_cast<std::uint16_t>(mid);
}

std::optional<Server::ClientId> ClientCallbacks::clientOf(const coap_session_t* session) {
  if (coap_session_get_type(session) != COAP_SESSION_TYPE_CLIENT) return std::nullopt;
  const auto tag = reinterpret_cast<std::uintptr_t>(coap_session_get_app_data(session));
  if (tag == 0) return std::nullopt;
  return static_cast<Server::ClientId>(tag);
}

core::Response ClientCallbacks::request(Server* self, Server::ClientId id, const coap_pdu_t* pdu) {
  core::Response out;
  out.code = static_cast<core::Code>(0);  // later: an empty ACK now
  if (!self->onClientRequest_) {
    out.code = core::Code::kNotFound;
    return out;
  }
  Server::ClientRequest req;
  req.client = id;
  req.method = static_cast<core::Method>(coap_pdu_get_code(pdu));
  req.token = tokenOf(pdu);
  req.confirmable = coap_pdu_get_type(pdu) == COAP_MESSAGE_CON;
  coap_opt_iterator_t it;
  coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
  while (coap_opt_t* opt = coap_option_next(&it)) {
    switch (it.number) {
      case COAP_OPTION_URI_PATH:
        req.uriPath.push_back(optionText(opt));
        break;
      case COAP_OPTION_URI_QUERY:
        req.uriQuery.push_back(optionText(opt));
        break;
      case COAP_OPTION_CONTENT_FORMAT:
        req.contentFormat = static_cast<std::uint16_t>(optionUint(opt));
        break;
      case COAP_OPTION_ACCEPT:
        req.accept = static_cast<std::uint16_t>(optionUint(opt));
        break;
      case COAP_OPTION_OBSERVE:
        req.observe = optionUint(opt);
        break;
      default:
        break;
    }
  }
  size_t len = 0, offset = 0, total = 0;
  const uint8_t* data = nullptr;
  if (coap_get_data_large(pdu, &len, &data, &offset, &total) && data) {
    req.payload.assign(reinterpret_cast<const char*>(data), len);
  }
  std::optional<Server::ImmediateResponse> now;
  try {
    now = self->onClientRequest_(req);
  } catch (const std::exception& e) {
    log::error("LWG1900 internal error handling a request from an upstream server: {}", e.what());
    return core::errorResponse(makeError(ErrorCode::kInternal, "internal error"));
  }
  if (now) {
    out.code = static_cast<core::Code>(now->code);
    out.payload = now->payload;
    out.contentFormat = now->contentFormat;
  }
  return out;
}

bool ClientCallbacks::response(Server* self, Server::ClientId id, const coap_pdu_t* received) {
  if (!self->onClientAnswer_) return true;
  Server::ClientAnswer a;
  a.client = id;
  a.token = tokenOf(received);
  a.code = static_cast<std::uint8_t>(coap_pdu_get_code(received));
  coap_opt_iterator_t it;
  coap_option_iterator_init(received, &it, COAP_OPT_ALL);
  while (coap_opt_t* opt = coap_option_next(&it)) {
    if (it.number == COAP_OPTION_LOCATION_PATH) a.locationPath.push_back(optionText(opt));
    if (it.number == COAP_OPTION_CONTENT_FORMAT) {
      a.contentFormat = static_cast<std::uint16_t>(optionUint(opt));
    }
  }
  size_t len = 0, offset = 0, total = 0;
  const uint8_t* data = nullptr;
  if (coap_get_data_large(received, &len, &data, &offset, &total) && data) {
    a.payload.assign(reinterpret_cast<const char*>(data), len);
  }
  try {
    return self->onClientAnswer_(a);
  } catch (const std::exception& e) {
    log::error("LWG1901 internal error handling an answer from an upstream server: {}", e.what());
    return true;
  }
}

void ClientCallbacks::nack(Server* self, Server::ClientId id, const coap_pdu_t* sent,
                           coap_nack_reason_t reason) {
  // After an ICMP error libcoap keeps the message and retransmits it: not the final word.
  if (!self->onClientFailure_ || !sent || reason == COAP_NACK_ICMP_ISSUE) return;
  Server::ClientFailure f;
  f.client = id;
  f.messageId = static_cast<std::uint16_t>(coap_pdu_get_mid(sent));
  f.token = tokenOf(sent);
  const auto code = coap_pdu_get_code(sent);
  f.request = code != 0 && (code >> 5) == 0;
  const bool ping = code == 0;
  f.pong = ping && reason == COAP_NACK_RST;
  f.reset = reason == COAP_NACK_RST;
  switch (reason) {
    case COAP_NACK_TOO_MANY_RETRIES:
      f.why = "no acknowledgement after all retransmissions";
      break;
    case COAP_NACK_RST:
      f.why = "the server answered RST";
      break;
    case COAP_NACK_NOT_DELIVERABLE:
      f.why = "not deliverable";
      break;
    case COAP_NACK_TLS_FAILED:
      // libcoap does not say why; with a server that answers, a wrong identity or key is the
      // usual cause (libcoap's own log line, at debug level, has GnuTLS's reason).
      f.dtls = true;
      f.why =
          "the DTLS handshake failed or the DTLS session ended (wrong PSK identity or key, or "
          "no DTLS server there?)";
      break;
    default:
      f.why = "transmission failed";
      break;
  }
  try {
    self->onClientFailure_(f);
  } catch (const std::exception& e) {
    log::error("LWG1901 internal error handling a failure towards an upstream server: {}",
               e.what());
  }
}

}  // namespace lwgate::coap
