#include "gateway/coap/server.h"

#include <arpa/inet.h>
#include <coap3/coap.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <string.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "gateway/coap/client_callbacks.h"
#include "gateway/core/credentials.h"
#include "gateway/lwm2m/diagnostic.h"
#include "gateway/util/log.h"

namespace lwgate::coap {
namespace {

std::string addressText(const coap_address_t* addr, std::uint16_t* port) {
  char buf[INET6_ADDRSTRLEN] = "?";
  const sockaddr* sa = &addr->addr.sa;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &addr->addr.sin.sin_addr, buf, sizeof buf);
    *port = ntohs(addr->addr.sin.sin_port);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &addr->addr.sin6.sin6_addr, buf, sizeof buf);
    *port = ntohs(addr->addr.sin6.sin6_port);
  } else {
    *port = 0;
  }
  return buf;
}

std::string urlFor(const std::string& host, std::uint16_t port, bool dtls = false) {
  const bool v6 = host.find(':') != std::string::npos;
  return (dtls ? "coaps://" : "coap://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// The peer's transport as core and the database name it.
const char* transportOf(const coap_session_t* session) {
  return coap_session_get_proto(session) == COAP_PROTO_DTLS ? "dtls" : "udp";
}

// What the handshake agreed on, for the log: "TLS_PSK_WITH_AES_128_CCM_8 (DTLS1.2)".
std::string negotiated(const coap_session_t* session) {
  coap_tls_library_t library = COAP_TLS_LIBRARY_NOTLS;
  void* tls = coap_session_get_tls(session, &library);
  if (!tls || library != COAP_TLS_LIBRARY_GNUTLS) return "?";
  auto* g = static_cast<gnutls_session_t>(tls);
  const char* suite = gnutls_ciphersuite_get(g);
  const char* version = gnutls_protocol_get_name(gnutls_protocol_get_version(g));
  return std::string(suite ? suite : "?") + " (" + (version ? version : "?") + ")";
}

log::Level levelFromCoap(coap_log_t level) {
  if (level <= LOG_ERR) return log::Level::kError;
  if (level == LOG_WARNING) return log::Level::kWarning;
  if (level == LOG_NOTICE) return log::Level::kNotice;
  if (level == LOG_INFO) return log::Level::kInfo;
  return log::Level::kDebug;
}

void coapLogHandler(coap_log_t level, const char* message) {
  std::string_view m(message);
  while (!m.empty() && (m.back() == '\n' || m.back() == '\r')) m.remove_suffix(1);
  // libcoap 4.3.1 logs every RST at ALERT unless it answers its own keep-alive ping; a RST is an
  // ordinary answer (a device ending an observation, an upstream server answering our ping)
  // that reaches us through the NACK handler.
  if (m.starts_with("got RST for mid=")) level = LOG_DEBUG;
  // Peers make libcoap log ("discard malformed PDU" for every garbage datagram): a flood of
  // datagrams must not become a flood of log lines. Debug output is for a person watching.
  static const core::SystemClock clock;
  static LogThrottle throttle(clock, core::Millis(1000));
  const log::Level ours = levelFromCoap(level);
  std::size_t suppressed = 0;
  if (ours != log::Level::kDebug && !throttle.allow(&suppressed)) return;
  if (suppressed > 0) {
    log::warning("LWG8003 libcoap: {} messages not logged in the last second or more", suppressed);
  }
  log::at(ours, "libcoap: {}", m);
}

}  // namespace

void wipe(std::vector<std::uint8_t>& secret) {
  if (!secret.empty()) explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

// A response held back until the batch it belongs to is committed.
struct Server::Held {
  coap_session_t* session;  // referenced while held
  coap_pdu_t* pdu;          // ready to send: type, Message ID, token and options as libcoap made
  core::Peer peer;          // for failHeldResponses: the dedup entry to forget
  std::uint16_t requestMid;
  std::vector<std::uint8_t> requestToken;  // an empty ACK has none; an error response needs it
};

// libcoap calls plain C functions; these find the Server through the context's app data.
struct ServerCallbacks {
  static void onRequest(coap_resource_t*, coap_session_t* session, const coap_pdu_t* pdu,
                        const coap_string_t*, coap_pdu_t* response) {
    auto* self = static_cast<Server*>(coap_get_app_data(coap_session_get_context(session)));
    if (auto client = ClientCallbacks::clientOf(session)) {
      onClientRequest(self, *client, session, pdu, response);
      return;
    }
    announce(self, session);
    core::Request req;
    req.method = static_cast<core::Method>(coap_pdu_get_code(pdu));
    req.peer = peerOf(session);
    if (coap_session_get_proto(session) == COAP_PROTO_DTLS) {
      if (const coap_bin_const_t* id = coap_session_get_psk_identity(session)) {
        req.pskIdentity = std::string_view(reinterpret_cast<const char*>(id->s), id->length);
      }
    }

    std::optional<std::uint32_t> block1;  // RFC 7959: this payload is one block of a body
    std::optional<std::uint64_t> size1;
    coap_opt_iterator_t it;
    coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
    while (coap_opt_t* opt = coap_option_next(&it)) {
      std::string_view value(reinterpret_cast<const char*>(coap_opt_value(opt)),
                             coap_opt_length(opt));
      switch (it.number) {
        case COAP_OPTION_URI_PATH:
          req.uriPath.push_back(value);
          break;
        case COAP_OPTION_URI_QUERY:
          req.uriQuery.push_back(value);
          break;
        case COAP_OPTION_CONTENT_FORMAT:
          req.contentFormat = static_cast<std::uint16_t>(
              coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt)));
          break;
        case COAP_OPTION_BLOCK1:
          // Over 3 bytes is no Block1 value (RFC 7959 2.2); decodeBlock() refuses 0xffffffff.
          block1 = value.size() > 3 ? 0xffffffffu
                                    : coap_decode_var_bytes(coap_opt_value(opt), value.size());
          break;
        case COAP_OPTION_SIZE1:
          size1 = value.size() > 8 ? UINT64_MAX
                                   : coap_decode_var_bytes8(coap_opt_value(opt), value.size());
          break;
        default:
          break;
      }
    }
    // libcoap runs without COAP_BLOCK_SINGLE_BODY (blockwise.h says why): the payload is this
    // message's own, one block when Block1 is present.
    size_t len = 0;
    const uint8_t* data = nullptr;
    if (coap_get_data(pdu, &len, &data) && data) {
      req.payload = std::string_view(reinterpret_cast<const char*>(data), len);
    }

    const auto mid = static_cast<std::uint16_t>(coap_pdu_get_mid(pdu));
    self->current_ = session;
    core::Response out;
    if (const core::Response* seen = self->dedup_.find(req.peer, mid)) {
      log::debug("duplicate message id {} from {}:{}, answering as before", mid, req.peer.address,
                 req.peer.port);
      out = *seen;
    } else {
      std::string body;  // a reassembled Block1 body, while the handler reads it
      try {
        std::optional<core::Response> early;
        if (block1) early = self->takeUploadBlock(req, *block1, size1, &body);
        out = early ? std::move(*early) : self->handler_(req);
      } catch (const std::exception& e) {
        // One bad event never stops the loop.
        log::error("LWG1900 internal error handling a request from {}: {}", req.peer.address,
                   e.what());
        out = core::errorResponse(makeError(ErrorCode::kInternal, "internal error"));
      }
      self->dedup_.remember(req.peer, mid, out);
    }
    self->current_ = nullptr;
    ++self->handled_;
    // libcoap's response PDU already has the right type, Message ID and token, and any option
    // libcoap added itself (Block1 on a 2.31 Continue).
    if (block1) addBlock1Options(out, *block1, self->options_.maxUploadBody, response);
    writeResponse(out, response);
    if (self->deferResponses_) hold(self, session, response, req.peer, mid);
  }

  // RFC 7959 2.3: a success answer to a block echoes its Block1 option (libcoap adds it only to
  // 2.31 Continue); 2.9.3: a 4.13 tells the client the largest body taken in Size1.
  static void addBlock1Options(const core::Response& out, std::uint32_t block1, std::size_t maxBody,
                               coap_pdu_t* response) {
    const auto code = static_cast<std::uint8_t>(out.code);
    uint8_t buf[8];
    coap_opt_iterator_t it;
    auto block = decodeBlock(block1);
    if (block && code >> 5 == 2 && !coap_check_option(response, COAP_OPTION_BLOCK1, &it)) {
      coap_add_option(response, COAP_OPTION_BLOCK1,
                      coap_encode_var_safe(buf, sizeof buf, block->encode()), buf);
    }
    if (out.code == core::Code::kRequestEntityTooLarge) {
      if (!coap_check_option(response, COAP_OPTION_SIZE1, &it)) {
        coap_add_option(response, COAP_OPTION_SIZE1,
                        coap_encode_var_safe8(buf, sizeof buf, maxBody), buf);
      }
    }
  }

  // A request from an upstream server on one of the bridge's client sessions: answered like a
  // device's (deduplicated, held back until the batch commits), by the client request handler.
  static void onClientRequest(Server* self, Server::ClientId id, coap_session_t* session,
                              const coap_pdu_t* pdu, coap_pdu_t* response) {
    // The dedup key names the session: the server may use the same Message IDs towards two
    // devices (two sessions, one server address).
    core::Peer key{"upstream", "#" + std::to_string(id), 0};
    const auto mid = static_cast<std::uint16_t>(coap_pdu_get_mid(pdu));
    core::Response out;
    if (const core::Response* seen = self->dedup_.find(key, mid)) {
      out = *seen;
    } else {
      out = ClientCallbacks::request(self, id, pdu);
      self->dedup_.remember(key, mid, out);
    }
    ++self->handled_;
    // Code 0: answered later in a separate response; libcoap sends the empty ACK (without the
    // token) for a CON request and nothing for a NON one.
    if (static_cast<unsigned>(out.code) != 0) writeResponse(out, response);
    if (self->deferResponses_) hold(self, session, response, key, mid);
  }

  static void hold(Server* self, coap_session_t* session, coap_pdu_t* response,
                   const core::Peer& peer, std::uint16_t requestMid) {
    const coap_bin_const_t token = coap_pdu_get_token(response);
    const bool empty = coap_pdu_get_code(response) == COAP_EMPTY_CODE;
    if (empty && coap_pdu_get_type(response) != COAP_MESSAGE_ACK) return;  // nothing to send
    // The copy gets every option; its payload and Message ID are set again below. An empty ACK
    // carries no token (RFC 7252 4.1).
    coap_pdu_t* copy = coap_pdu_duplicate(response, session, empty ? 0 : token.length,
                                          empty ? nullptr : token.s, nullptr);
    if (!copy) return;  // out of memory: libcoap sends the response right away instead
    coap_pdu_set_mid(copy, coap_pdu_get_mid(response));
    size_t len = 0;
    const uint8_t* data = nullptr;
    if (coap_get_data(response, &len, &data) && len > 0 && !coap_add_data(copy, len, data)) {
      coap_delete_pdu(copy);
      return;
    }
    self->held_.push_back({coap_session_reference(session), copy, peer, requestMid,
                           std::vector<std::uint8_t>(token.s, token.s + token.length)});
    // libcoap drops an empty non-confirmable response instead of sending it (net.c
    // no_response(): "response is 0.00, and this is ... non-confirmable").
    coap_pdu_set_code(response, COAP_EMPTY_CODE);
    coap_pdu_set_type(response, COAP_MESSAGE_NON);
  }

  static void writeResponse(const core::Response& out, coap_pdu_t* response) {
    coap_pdu_set_code(response, static_cast<coap_pdu_code_t>(out.code));
    // Options in ascending number order: Location-Path (8) before Content-Format (12).
    for (const auto& seg : out.locationPath) {
      coap_add_option(response, COAP_OPTION_LOCATION_PATH, seg.size(),
                      reinterpret_cast<const uint8_t*>(seg.data()));
    }
    uint8_t buf[4];
    if (out.contentFormat) {
      coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
                      coap_encode_var_safe(buf, sizeof buf, *out.contentFormat), buf);
    }
    if (out.maxAge) {  // option 14, after Content-Format (12)
      coap_add_option(response, COAP_OPTION_MAXAGE,
                      coap_encode_var_safe(buf, sizeof buf, *out.maxAge), buf);
    }
    if (!out.payload.empty()) {
      coap_add_data(response, out.payload.size(),
                    reinterpret_cast<const uint8_t*>(out.payload.data()));
    }
  }

  static core::Peer peerOf(const coap_session_t* session) {
    core::Peer peer;
    peer.transport = transportOf(session);
    peer.address = addressText(coap_session_get_addr_remote(session), &peer.port);
    return peer;
  }

  static std::vector<std::uint8_t> tokenOf(const coap_pdu_t* pdu) {
    const coap_bin_const_t t = coap_pdu_get_token(pdu);
    return {t.s, t.s + t.length};
  }

  static coap_response_t onResponse(coap_session_t* session, const coap_pdu_t* sent,
                                    const coap_pdu_t* received, const coap_mid_t) {
    auto* self = static_cast<Server*>(coap_get_app_data(coap_session_get_context(session)));
    if (auto client = ClientCallbacks::clientOf(session)) {
      const bool wanted = ClientCallbacks::response(self, *client, received);
      return wanted || coap_pdu_get_type(received) == COAP_MESSAGE_ACK ? COAP_RESPONSE_OK
                                                                       : COAP_RESPONSE_FAIL;
    }
    if (coap_session_get_type(session) == COAP_SESSION_TYPE_CLIENT) return COAP_RESPONSE_OK;
    if (!self->onAnswer_) return COAP_RESPONSE_OK;
    Server::Answer a;
    a.peer = peerOf(session);
    a.token = tokenOf(received);
    a.code = static_cast<std::uint8_t>(coap_pdu_get_code(received));
    coap_opt_iterator_t it;
    if (coap_opt_t* o = coap_check_option(received, COAP_OPTION_CONTENT_FORMAT, &it)) {
      a.contentFormat =
          static_cast<std::uint16_t>(coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)));
    }
    if (coap_opt_t* o = coap_check_option(received, COAP_OPTION_OBSERVE, &it)) {
      a.observe = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
    }
    const coap_pdu_type_t type = coap_pdu_get_type(received);
    a.piggybacked = type == COAP_MESSAGE_ACK;
    size_t len = 0;
    const uint8_t* data = nullptr;
    if (coap_get_data(received, &len, &data) && data) {
      a.payload.assign(reinterpret_cast<const char*>(data), len);
    }
    // One block of a Block2 answer (libcoap has put our request's token back on it and asked
    // for the next block already): held until the last one.
    std::optional<BlockValue> block;
    if (coap_opt_t* o = coap_check_option(received, COAP_OPTION_BLOCK2, &it);
        o && coap_opt_length(o) <= 3 && a.code >> 5 == 2) {
      block = decodeBlock(coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)));
    }
    if (block) {
      if (sent) {
        const std::vector<std::uint8_t> sentToken = tokenOf(sent);
        if (sentToken != a.token) self->answers_.noteFollowUp(a.peer, a.token, followUpTag(sent));
      }
      AnswerStep step = self->answers_.accept(a.peer, a.token, *block, a.payload,
                                              {a.code, a.contentFormat, a.observe, a.piggybacked});
      switch (step.kind) {
        case AnswerStep::Kind::kPartial:
        case AnswerStep::Kind::kIgnored:
          return COAP_RESPONSE_OK;
        case AnswerStep::Kind::kFailed:
          a.code = step.head.code;
          a.contentFormat = step.head.contentFormat;
          a.observe = step.head.observe;
          a.piggybacked = step.head.piggybacked;
          a.payload.clear();
          a.error = std::move(step.reason);
          break;
        case AnswerStep::Kind::kComplete:
          a.code = step.head.code;
          a.contentFormat = step.head.contentFormat;
          a.observe = step.head.observe;
          a.piggybacked = step.head.piggybacked;
          a.payload = std::move(step.body);
          break;
      }
    }
    self->current_ = session;  // keepSession() may be called for it
    const bool wanted = self->deliverAnswer(a);
    self->current_ = nullptr;
    // COAP_RESPONSE_FAIL makes libcoap answer RST (net.c handle_response); for an ACK there is
    // nothing to answer.
    return wanted || type == COAP_MESSAGE_ACK ? COAP_RESPONSE_OK : COAP_RESPONSE_FAIL;
  }

  // libcoap 4.3.1 (block.c) sends the follow-up requests of a Block2 transfer with tokens of its
  // own, a 48-bit base per transfer plus a counter in the top 16 bits (STATE_TOKEN_FULL), so
  // the base names the transfer a lost follow-up belonged to.
  static std::uint64_t followUpTag(const coap_pdu_t* pdu) {
    const coap_bin_const_t t = coap_pdu_get_token(pdu);
    return coap_decode_var_bytes8(t.s, t.length) & 0xffffffffffffULL;
  }

  static void onNack(coap_session_t* session, const coap_pdu_t* sent, coap_nack_reason_t reason,
                     const coap_mid_t) {
    auto* self = static_cast<Server*>(coap_get_app_data(coap_session_get_context(session)));
    if (auto client = ClientCallbacks::clientOf(session)) {
      ClientCallbacks::nack(self, *client, sent, reason);
      return;
    }
    // A client session being closed: what it had pending is dropped on purpose.
    if (coap_session_get_type(session) == COAP_SESSION_TYPE_CLIENT) return;
    if (!self->onFailure_ || !sent) return;
    const char* why = "no answer";
    switch (reason) {
      case COAP_NACK_TOO_MANY_RETRIES:
        why = "no answer after all retransmissions";
        break;
      case COAP_NACK_NOT_DELIVERABLE:
        why = "not deliverable";
        break;
      case COAP_NACK_RST:
        why = "the device answered RST";
        break;
      case COAP_NACK_TLS_FAILED:
        why = "DTLS failure";
        break;
      case COAP_NACK_ICMP_ISSUE:
        why = "ICMP error (port unreachable?)";
        break;
    }
    const core::Peer peer = peerOf(session);
    // A lost follow-up request for the next block of an answer: the device answered the
    // request itself (the first block), so that answer ends as failed, it is not retried.
    if (coap_pdu_get_code(sent) == COAP_REQUEST_CODE_GET ||
        coap_pdu_get_code(sent) == COAP_REQUEST_CODE_FETCH) {
      if (auto lost = self->answers_.abandon(peer, followUpTag(sent))) {
        Server::Answer a;
        a.peer = peer;
        a.token = std::move(lost->token);
        a.code = lost->head.code;
        a.contentFormat = lost->head.contentFormat;
        a.observe = lost->head.observe;
        a.piggybacked = lost->head.piggybacked;
        a.error = std::string("the device stopped sending the blocks of its answer (") + why + ")";
        self->deliverAnswer(a);
      }
    }
    self->onFailure_(peer, tokenOf(sent), why);
  }

  // libcoap asks for the key of the identity a client offers in its DTLS handshake (RFC 4279
  // 2); nullptr refuses the handshake.
  static const coap_bin_const_t* onPskIdentity(coap_bin_const_t* identity, coap_session_t* session,
                                               void* arg) {
    auto* self = static_cast<Server*>(arg);
    // Single-threaded: libcoap copies the key before anything else can call in here.
    static coap_bin_const_t handed{};
    wipe(self->pskBuffer_);
    const std::string_view id(reinterpret_cast<const char*>(identity->s), identity->length);
    const core::Peer peer = peerOf(session);
    std::optional<std::vector<std::uint8_t>> key;
    try {
      if (self->pskLookup_) key = self->pskLookup_(id, peer);
    } catch (const std::exception& e) {
      log::error("LWG1902 internal error looking up a PSK identity: {}", e.what());
    }
    if (!key || key->empty()) {
      ++self->handshakesRefusedUnlogged_;
      if (self->handshakeLogAllowed()) {
        log::info("LWG7010 DTLS handshake from {}:{} refused: unknown PSK identity {}{}",
                  peer.address, peer.port, lwm2m::quoteForMessage(core::pskIdentityText(id)),
                  self->handshakesRefusedUnlogged_ > 1
                      ? fmt::format(" ({} refused since the last such line)",
                                    self->handshakesRefusedUnlogged_)
                      : std::string());
        self->handshakesRefusedUnlogged_ = 0;
      }
      return nullptr;
    }
    self->pskBuffer_ = std::move(*key);
    handed = {self->pskBuffer_.size(), self->pskBuffer_.data()};
    return &handed;
  }

  // The first message of a DTLS session: says who it is and what the handshake agreed on.
  // libcoap 4.3.1's GnuTLS server path completes the handshake without a
  // COAP_EVENT_DTLS_CONNECTED (coap_dtls_receive calls coap_session_connected only), so the
  // session's app data marks it as announced instead.
  static void announce(Server* self, coap_session_t* session) {
    static int announced = 0;
    if (coap_session_get_proto(session) != COAP_PROTO_DTLS ||
        coap_session_get_app_data(session) == &announced) {
      return;
    }
    coap_session_set_app_data(session, &announced);
    wipe(self->pskBuffer_);
    const core::Peer peer = peerOf(session);
    const coap_bin_const_t* id = coap_session_get_psk_identity(session);
    log::info("LWG7001 DTLS session with {}:{}, PSK identity {}, {}", peer.address, peer.port,
              lwm2m::quoteForMessage(core::pskIdentityText(
                  id ? std::string_view(reinterpret_cast<const char*>(id->s), id->length)
                     : std::string_view())),
              negotiated(session));
  }

  static int onEvent(coap_session_t* session, coap_event_t event) {
    auto* self = static_cast<Server*>(coap_get_app_data(coap_session_get_context(session)));
    if (event == COAP_EVENT_DTLS_CONNECTED || event == COAP_EVENT_DTLS_ERROR ||
        event == COAP_EVENT_DTLS_CLOSED) {
      wipe(self->pskBuffer_);
    }
    if (event != COAP_EVENT_SERVER_SESSION_NEW) return 0;
    const double t = self->options_.ackTimeout;
    coap_fixed_point_t fp{static_cast<uint16_t>(t),
                          static_cast<uint16_t>((t - static_cast<uint16_t>(t)) * 1000 + 0.5)};
    coap_session_set_ack_timeout(session, fp);
    coap_session_set_max_retransmit(session, self->options_.maxRetransmit);
    // libcoap 4.3.1 cancels the observations a session holds when the session is freed
    // (coap_session_mfree: a NON GET with Observe: 1 each), which would end every device's
    // observations whenever lwgated stops or a device moves to another port. Observations
    // belong to the gateway, persisted, and outlive its restarts (Observations re-establishes
    // them); they end only when the gateway decides.
    coap_session_set_no_observe_cancel(session);
    return 0;
  }
};

Result<ListenAddress> parseListenAddress(std::string_view text) {
  auto fail = [&](std::string why) {
    return makeError(ErrorCode::kBadRequest,
                     "invalid listen address \"" + std::string(text) + "\": " + why);
  };
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after IPv6 address");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return fail("expected [IPv6]:PORT");
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected HOST:PORT");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return fail("write IPv6 as [ADDR]:PORT");
    port = text.substr(colon + 1);
  }
  if (host.empty()) return fail("empty host");
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoul(std::string(port)) > 65535) {
    return fail("port must be a number from 0 to 65535");
  }
  return ListenAddress{std::string(host),
                       static_cast<std::uint16_t>(std::stoul(std::string(port)))};
}

namespace {

// RFC 7252 4.8.2 MAX_TRANSMIT_WAIT for our transmission parameters (ACK_RANDOM_FACTOR 1.5).
core::Millis maxTransmitWait(const ServerOptions& o) {
  const double factor = static_cast<double>((2u << std::min(o.maxRetransmit, 20u)) - 1);
  return core::Millis(static_cast<std::int64_t>(o.ackTimeout * factor * 1.5 * 1000.0));
}

UploadLimits uploadLimits(const ServerOptions& o) {
  UploadLimits limits;
  limits.maxBody = o.maxUploadBody;
  return limits;
}

AnswerLimits answerLimits(const ServerOptions& o) {
  AnswerLimits limits;
  // A backstop only: libcoap reports a lost follow-up after MAX_TRANSMIT_WAIT (onNack).
  limits.idleTimeout = std::max(limits.idleTimeout, 2 * maxTransmitWait(o));
  return limits;
}

}  // namespace

Server::Server(const core::Clock& clock, ServerOptions options, Handler handler)
    : options_(options),
      handler_(std::move(handler)),
      dedup_(clock, options.dedupEntries),
      clock_(clock),
      uploads_(clock, uploadLimits(options)),
      answers_(clock, answerLimits(options)),
      uploadRefusals_(clock, core::Millis(10'000)),
      answerFailures_(clock, core::Millis(10'000)) {}

bool Server::handshakeLogAllowed() {
  static constexpr unsigned kLinesPerMinute = 10;
  const core::SteadyTime now = clock_.steadyNow();
  if (handshakeLogLines_ == 0 || now - handshakeLogWindow_ >= std::chrono::minutes(1)) {
    handshakeLogWindow_ = now;
    handshakeLogLines_ = 0;
  }
  if (handshakeLogLines_ >= kLinesPerMinute) return false;
  ++handshakeLogLines_;
  return true;
}

Result<void> Server::enablePsk(PskLookup lookup) {
  if (!coap_dtls_is_supported()) {
    return makeError(ErrorCode::kInternal, "this libcoap has no DTLS support");
  }
  pskLookup_ = std::move(lookup);
  coap_dtls_spsk_t setup{};
  setup.version = COAP_DTLS_SPSK_SETUP_VERSION;
  setup.validate_id_call_back = &ServerCallbacks::onPskIdentity;
  setup.id_call_back_arg = this;
  if (!coap_context_set_psk2(ctx_, &setup)) {
    return makeError(ErrorCode::kInternal, "libcoap: cannot set up DTLS-PSK");
  }
  return {};
}

std::optional<core::Response> Server::takeUploadBlock(core::Request& req, std::uint32_t block1,
                                                      std::optional<std::uint64_t> size1,
                                                      std::string* body) {
  auto block = decodeBlock(block1);
  if (!block) {
    // RFC 7959 2.2: SZX 7 is reserved (BERT needs a reliable transport, RFC 8323); an
    // unusable critical option is 4.02 (RFC 7252 5.4.1).
    core::Response out;
    out.code = static_cast<core::Code>(kCodeBadOption);
    out.payload = "Block1 option value not usable over UDP";
    return out;
  }
  UploadStep step = uploads_.accept(req.peer, uploadKey(req), *block, size1, req.payload);
  switch (step.kind) {
    case UploadStep::Kind::kComplete:
      *body = std::move(step.body);
      req.payload = *body;
      return std::nullopt;
    case UploadStep::Kind::kContinue: {
      core::Response out;
      out.code = static_cast<core::Code>(kCodeContinue);
      return out;
    }
    case UploadStep::Kind::kRefused:
      break;
  }
  std::size_t suppressed = 0;
  if (uploadRefusals_.allow(&suppressed)) {
    log::at(step.capReached ? log::Level::kWarning : log::Level::kInfo,
            "LWG8001 block-wise upload from {} refused with {}: {}{}", core::peerKey(req.peer),
            core::codeText(static_cast<core::Code>(step.code)), step.reason,
            suppressed ? " (" + std::to_string(suppressed) + " more refusals not logged)" : "");
  }
  core::Response out;
  out.code = static_cast<core::Code>(step.code);
  out.payload = std::move(step.reason);
  return out;
}

bool Server::deliverAnswer(const Answer& a) {
  std::size_t suppressed = 0;
  if (!a.error.empty() && answerFailures_.allow(&suppressed)) {
    log::notice("LWG8002 block-wise answer from {} dropped: {}{}", core::peerKey(a.peer), a.error,
                suppressed ? " (" + std::to_string(suppressed) + " more not logged)" : "");
  }
  try {
    return onAnswer_(a);
  } catch (const std::exception& e) {
    log::error("LWG1901 internal error handling an answer from {}: {}", a.peer.address, e.what());
    return true;  // ACK it: the device did nothing wrong
  }
}

void Server::expireTransfers() {
  uploads_.expire();
  for (auto& lost : answers_.expire()) {
    if (lost.failedBefore || !onAnswer_) continue;
    Answer a;
    a.peer = std::move(lost.peer);
    a.token = std::move(lost.token);
    a.error = "the device stopped sending the blocks of its answer";
    deliverAnswer(a);
  }
}

Result<std::unique_ptr<Server>> Server::create(const core::Clock& clock, ServerOptions options,
                                               Handler handler) {
  static const bool started = [] {
    coap_startup();
    return true;
  }();
  (void)started;
  std::unique_ptr<Server> self(new Server(clock, options, std::move(handler)));
  self->ctx_ = coap_new_context(nullptr);
  if (!self->ctx_) return makeError(ErrorCode::kInternal, "libcoap: cannot create a context");
  coap_set_app_data(self->ctx_, self.get());
  // libcoap answers 2.31 to Block1 uploads, fetches the Block2 blocks of devices' answers and
  // sends large requests in blocks; without COAP_BLOCK_SINGLE_BODY it hands every block to us
  // and blockwise.h keeps the bodies within bounds (it says why libcoap's own would not be).
  coap_context_set_block_mode(self->ctx_, COAP_BLOCK_USE_LIBCOAP);
  coap_register_event_handler(self->ctx_, &ServerCallbacks::onEvent);
  coap_context_set_max_idle_sessions(self->ctx_, options.maxIdleSessions);
  coap_context_set_max_handshake_sessions(self->ctx_, options.maxHandshakes);
  coap_register_response_handler(self->ctx_, &ServerCallbacks::onResponse);
  coap_register_nack_handler(self->ctx_, &ServerCallbacks::onNack);

  // Every path goes to one handler: the core decides what is a resource (/rd, /rd/<id>, /dp,
  // later /bs) and answers 4.04 itself.
  coap_resource_t* any = coap_resource_unknown_init2(&ServerCallbacks::onRequest, 0);
  for (coap_request_t m : {COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_DELETE,
                           COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH}) {
    coap_register_request_handler(any, m, &ServerCallbacks::onRequest);
  }
  coap_add_resource(self->ctx_, any);
  return self;
}

void Server::keepSession(const core::Peer& peer) {
  if (!current_) return;
  auto& slot = sessions_[core::peerKey(peer)];
  if (slot == current_) return;
  if (slot) coap_session_release(slot);
  slot = coap_session_reference(current_);
}

void Server::dropSession(const core::Peer& peer) {
  auto it = sessions_.find(core::peerKey(peer));
  if (it == sessions_.end()) return;
  coap_session_release(it->second);
  sessions_.erase(it);
}

Result<void> Server::sendRequest(const core::Peer& peer, const core::OutgoingRequest& request,
                                 std::uint16_t messageId, const std::vector<std::uint8_t>& token) {
  auto it = sessions_.find(core::peerKey(peer));
  if (it == sessions_.end()) {
    return makeError(ErrorCode::kNotFound, "no session with " + peer.address + ":" +
                                               std::to_string(peer.port) +
                                               "; waiting for the device to talk first");
  }
  coap_session_t* session = it->second;
  if (request.observe == 1 && !token.empty()) {
    coap_binary_t bin{token.size(), const_cast<uint8_t*>(token.data())};
    if (coap_cancel_observe(session, &bin, COAP_MESSAGE_CON)) return {};
    // libcoap does not track it (e.g. observed before a restart): a plain request keeps the
    // token as it is.
  }
  coap_pdu_t* pdu = coap_pdu_init(COAP_MESSAGE_CON, static_cast<coap_pdu_code_t>(request.method),
                                  messageId, coap_session_max_pdu_size(session));
  if (!pdu) return makeError(ErrorCode::kInternal, "libcoap: cannot allocate a request");
  auto fail = [&](const char* what) {
    coap_delete_pdu(pdu);
    return makeError(ErrorCode::kInternal, std::string("libcoap: cannot add ") + what);
  };
  if (!coap_add_token(pdu, token.size(), token.data())) return fail("the token");
  uint8_t buf[4];
  // Options in ascending number order: Observe 6, Uri-Path 11, Content-Format 12,
  // Uri-Query 15, Accept 17.
  if (request.observe &&
      !coap_add_option(pdu, COAP_OPTION_OBSERVE,
                       coap_encode_var_safe(buf, sizeof buf, *request.observe), buf)) {
    return fail("Observe");
  }
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
  if (request.accept &&
      !coap_add_option(pdu, COAP_OPTION_ACCEPT,
                       coap_encode_var_safe(buf, sizeof buf, *request.accept), buf)) {
    return fail("Accept");
  }
  if (!request.payload.empty() && !addRequestPayload(session, pdu, request.payload)) {
    return fail("the payload");
  }
  if (coap_send(session, pdu) == COAP_INVALID_MID) {
    return makeError(ErrorCode::kInternal, "libcoap could not send the request");
  }
  return {};
}

Server::~Server() {
  while (!clients_.empty()) closeClient(clients_.begin()->first);
  wipe(pskBuffer_);
  for (auto& [key, session] : sessions_) coap_session_release(session);
  sessions_.clear();
  releaseHeld();
  if (ctx_) coap_free_context(ctx_);
}

void Server::flushResponses() {
  for (Held& h : held_) {
    coap_send(h.session, h.pdu);  // takes the PDU, also on failure
    coap_session_release(h.session);
  }
  held_.clear();
}

void Server::failHeldResponses(const Error& error) {
  const core::Response failed = core::errorResponse(error);
  for (Held& h : held_) {
    dedup_.forget(h.peer, h.requestMid);
    coap_pdu_t* pdu = coap_pdu_init(coap_pdu_get_type(h.pdu), COAP_EMPTY_CODE,
                                    coap_pdu_get_mid(h.pdu), coap_session_max_pdu_size(h.session));
    coap_delete_pdu(h.pdu);
    h.pdu = nullptr;
    if (pdu && coap_add_token(pdu, h.requestToken.size(), h.requestToken.data())) {
      ServerCallbacks::writeResponse(failed, pdu);
      h.pdu = pdu;
    } else if (pdu) {
      coap_delete_pdu(pdu);
    }
  }
  std::erase_if(held_, [](const Held& h) {
    if (h.pdu) return false;
    coap_session_release(h.session);
    return true;
  });
}

void Server::releaseHeld() {
  for (Held& h : held_) {
    coap_delete_pdu(h.pdu);
    coap_session_release(h.session);
  }
  held_.clear();
}

Result<std::vector<std::string>> Server::listenUdp(const ListenAddress& address) {
  return listen(address, false);
}

Result<std::vector<std::string>> Server::listenDtls(const ListenAddress& address) {
  if (!pskLookup_) return makeError(ErrorCode::kInternal, "DTLS listener before enablePsk()");
  return listen(address, true);
}

Result<std::vector<std::string>> Server::listen(const ListenAddress& address, bool dtls) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return makeError(ErrorCode::kBadRequest,
                     "cannot resolve listen host \"" + address.host + "\": " + gai_strerror(rc));
  }
  std::vector<std::string> bound;
  std::optional<Error> failure;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    coap_address_t addr;
    coap_address_init(&addr);
    std::memcpy(&addr.addr, ai->ai_addr, ai->ai_addrlen);
    addr.size = ai->ai_addrlen;
    coap_endpoint_t* ep = coap_new_endpoint(ctx_, &addr, dtls ? COAP_PROTO_DTLS : COAP_PROTO_UDP);
    std::uint16_t boundPort = 0;
    std::string host = addressText(&addr, &boundPort);
    if (!ep) {
      failure =
          makeError(ErrorCode::kInternal, "cannot listen on " + urlFor(host, boundPort, dtls) +
                                              " (address in use or not available)");
      continue;
    }
    // libcoap records the address the kernel bound (getsockname), so port 0 shows its pick.
    std::string epText = coap_endpoint_str(ep);
    auto space = epText.find(' ');
    std::string hostPort = epText.substr(0, space);
    auto colon = hostPort.rfind(':');
    boundPort = static_cast<std::uint16_t>(std::stoul(hostPort.substr(colon + 1)));
    bound.push_back(urlFor(host, boundPort, dtls));
  }
  freeaddrinfo(res);
  if (bound.empty()) {
    return failure ? *failure
                   : makeError(ErrorCode::kInternal, "no address to listen on for " + address.host);
  }
  return bound;
}

int Server::fd() const {
  return coap_context_get_coap_fd(ctx_);
}

std::size_t Server::process() {
  handled_ = 0;
  coap_io_process(ctx_, COAP_IO_NO_WAIT);
  expireTransfers();
  return handled_;
}

void Server::routeLibraryLog(log::Level level) {
  coap_set_log_handler(&coapLogHandler);
  // Our levels are the syslog numbers libcoap uses too.
  coap_set_log_level(static_cast<coap_log_t>(level));
}

bool addRequestPayload(coap_session_t* session, coap_pdu_t* pdu,
                       const std::vector<std::uint8_t>& payload) {
  auto* copy = new std::vector<std::uint8_t>(payload);
  if (coap_add_data_large_request(
          session, pdu, copy->size(), copy->data(),
          [](coap_session_t*, void* p) { delete static_cast<std::vector<std::uint8_t>*>(p); },
          copy)) {
    return true;
  }
  delete copy;
  return false;
}

}  // namespace lwgate::coap
