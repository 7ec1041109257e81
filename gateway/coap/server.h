#pragma once
// The libcoap adapter: owns the coap_context_t and its endpoints, turns incoming PDUs into
// core::Request values, hands them to one handler, and writes the core::Response back. This is
// the one place where libcoap's handles, options and errors become ours.
// Threading: everything here runs on the main thread's event loop; process() is called when
// fd() is readable (libcoap keeps its sockets and its retransmission timer in that epoll fd).
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/coap/blockwise.h"
#include "gateway/core/clock.h"
#include "gateway/core/exchange_cache.h"
#include "gateway/core/message.h"
#include "gateway/core/operation_mapping.h"
#include "gateway/util/log.h"
#include "gateway/util/result.h"

struct coap_context_t;
struct coap_endpoint_t;
struct coap_pdu_t;
struct coap_session_t;

namespace lwgate::coap {

struct ListenAddress {
  std::string host;  // numeric IPv4/IPv6 literal or a name such as "localhost"
  std::uint16_t port = 5683;
};
// "127.0.0.1:5683", "[::1]:5683", "0.0.0.0:0" (port 0: the kernel picks one).
Result<ListenAddress> parseListenAddress(std::string_view text);

struct ServerOptions {
  double ackTimeout = 2.0;           // RFC 7252 ACK_TIMEOUT, seconds, for CON messages we send
  unsigned maxRetransmit = 4;        // RFC 7252 MAX_RETRANSMIT
  std::size_t dedupEntries = 20000;  // see core::ExchangeCache
  // Bytes of one Block1 request body ([registration] max_payload); blockwise.h has the other
  // limits on block-wise transfers.
  std::size_t maxUploadBody = UploadLimits{}.maxBody;
  // Sessions libcoap keeps for peers nobody references (no registration, nothing in flight):
  // beyond this many the least recently used is freed, so datagrams from many source
  // addresses or ports cannot pile up sessions (and DTLS state) until the 300 s idle timeout.
  unsigned maxIdleSessions = 2000;
  // DTLS handshakes under way at once; beyond it new ClientHellos are ignored.
  unsigned maxHandshakes = 100;
};

class Server {
 public:
  using Handler = std::function<core::Response(const core::Request&)>;

  static Result<std::unique_ptr<Server>> create(const core::Clock& clock, ServerOptions options,
                                                Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds a UDP (NoSec) endpoint on every address the host resolves to. Returns the bound
  // addresses as "coap://HOST:PORT" (with the real port when 0 was asked for).
  Result<std::vector<std::string>> listenUdp(const ListenAddress& address);

  // ---- DTLS-PSK (RFC 7252 9.1.3.1, LwM2M TS Transport 5.2.8) ----
  // The key of a PSK identity for a handshake from `peer`, or nullopt to refuse it (the
  // identity is unknown). Called on the main loop from inside process(); must not block.
  using PskLookup = std::function<std::optional<std::vector<std::uint8_t>>(
      std::string_view identity, const core::Peer& peer)>;
  // Turns on DTLS with per-identity keys; call once, before listenDtls(). kInternal when this
  // libcoap has no DTLS.
  Result<void> enablePsk(PskLookup lookup);
  // Binds a DTLS endpoint like listenUdp() does; returns "coaps://HOST:PORT". Requests that
  // come in on it have peer transport "dtls" and the session's PSK identity
  // (core::Request::pskIdentity); answers, downlink requests and notifications of such a
  // device use its DTLS session.
  Result<std::vector<std::string>> listenDtls(const ListenAddress& address);

  int fd() const;
  // Handles whatever is ready (packets, retransmission timers) without blocking. Returns how
  // many requests were handled.
  std::size_t process();

  // Group commit. While deferring, responses to requests are held back instead of being sent
  // from inside libcoap's handler, so the daemon can commit one database transaction for a whole
  // batch of requests first and only then let the devices hear 2.01/2.04/2.02: an answer a
  // device got is always backed by a commit. The held responses are exactly the piggybacked
  // ACKs (or NON responses) libcoap would have sent, a few microseconds later.
  void setDeferResponses(bool defer) { deferResponses_ = defer; }
  // Sends every held response.
  void flushResponses();
  // Whether responses are held back now (waiting for the batch's commit).
  bool holdsResponses() const { return !held_.empty(); }
  // The batch could not be committed: every held response becomes this error instead, and the
  // deduplication cache forgets the answers it remembered for them.
  void failHeldResponses(const Error& error);

  // ---- Downlink: requests from the gateway to devices ----
  // LwM2M clients expect server requests from the address and port they registered with (and a
  // NAT only lets those through), so requests go out on the server-side session the device's
  // own messages arrived on. keepSession() holds on to that session for a peer; call it while
  // handling the peer's request (Register/Update) or answer (a notification). dropSession()
  // lets it go.
  void keepSession(const core::Peer& peer);
  void dropSession(const core::Peer& peer);

  // Sends a confirmable request with the given Message ID and token (both chosen and persisted
  // by the caller beforehand) on the peer's session. libcoap retransmits it, reassembles a
  // Block2 answer and reports the outcome to the handlers below. kNotFound when no session is
  // kept for the peer: the device has to talk to us first.
  // A Cancel-Observe (Observe: 1) of an observation libcoap still tracks on this session goes
  // out through coap_cancel_observe() with a Message ID libcoap picks: libcoap 4.3.1's
  // coap_send() would replace the token of such a request with an internal one (net.c, "Need
  // to update token to server's version"), and the device would not know which observation
  // to end. Cancel-Observe is idempotent, so the persisted Message ID is not needed there.
  Result<void> sendRequest(const core::Peer& peer, const core::OutgoingRequest& request,
                           std::uint16_t messageId, const std::vector<std::uint8_t>& token);

  struct Answer {
    core::Peer peer;
    std::vector<std::uint8_t> token;
    std::uint8_t code = 0;
    std::optional<std::uint16_t> contentFormat;
    std::string payload;
    std::optional<std::uint32_t> observe;  // set on an Observe answer or notification
    // Piggybacked in the ACK of our request (else a separate CON or NON message: a separate
    // response or a notification).
    bool piggybacked = false;
    // Set when the device answered but its block-wise (Block2) answer cannot be taken whole:
    // over the size limit, a block missing, the device stopped sending blocks. The answer is
    // final (the device received and processed the request); payload is empty.
    std::string error;
  };
  // Returns whether the answer was wanted. An unwanted CON or NON message (a notification
  // nobody observes any more, a response to nothing) is rejected with RST, which also tells
  // the device to forget the observation (RFC 7641 3.6); an unwanted ACK is just dropped (an
  // ACK is never answered, RFC 7252 4.2). Otherwise libcoap ACKs a CON message.
  using AnswerHandler = std::function<bool(const Answer&)>;
  // No answer after all retransmissions, a RST, or an ICMP error.
  using FailureHandler = std::function<void(
      const core::Peer& peer, const std::vector<std::uint8_t>& token, std::string_view why)>;
  void setDownlinkHandlers(AnswerHandler onAnswer, FailureHandler onFailure) {
    onAnswer_ = std::move(onAnswer);
    onFailure_ = std::move(onFailure);
  }

  // ---- Upstream: client sessions to LwM2M servers (the bridge) ----
  // Each is a libcoap client session with a UDP socket of its own (local port 0, so the kernel
  // picks one): an upstream server addresses a device by the source address and port of its
  // registration, so every bridged device needs one. They live in this context, so the event
  // loop that serves the devices serves them too. Requests the server sends on them go to the
  // client request handler, not to the device-side handler.
  using ClientId = std::uint64_t;

  struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    std::string text() const;  // "192.0.2.1:5683", "[2001:db8::1]:5683"
  };
  // getaddrinfo for UDP (blocking: call it once per server, not per device).
  static Result<SocketAddress> resolveUdp(const std::string& host, std::uint16_t port);

  // A pre-shared key for a coaps:// server (RFC 7252 9.1.3.1): the session makes a DTLS
  // handshake with this identity and key before its first message goes out; a failed handshake
  // reaches the client failure handler as a failure of what was waiting (`dtls` set).
  struct ClientPsk {
    std::string identity;  // bytes, 1..128 (core::checkPskIdentity)
    std::vector<std::uint8_t> key;
  };
  // Opens a session: NoSec UDP, or DTLS-PSK when `psk` is given (the key is kept, for libcoap,
  // until the session closes, then wiped). kInternal when this libcoap has no DTLS.
  Result<ClientId> openClient(const SocketAddress& server, const ClientPsk* psk = nullptr);
  // Closes the socket; what was still pending on it is dropped without handler calls.
  void closeClient(ClientId id);
  std::optional<std::uint16_t> clientLocalPort(ClientId id) const;
  std::size_t clientCount() const { return clients_.size(); }

  // A confirmable request (Register, Update, De-register); its answer goes to the client answer
  // handler with this token, its failure to the client failure handler.
  Result<void> sendClientRequest(ClientId id, const core::OutgoingRequest& request,
                                 const std::vector<std::uint8_t>& token);

  // A response we owe the server: a separate response to one of its requests, or a
  // notification. Returns the Message ID.
  struct ClientResponse {
    std::uint8_t code = 0x45;
    std::vector<std::uint8_t> token;
    std::optional<std::uint32_t> observe;
    std::optional<std::uint16_t> contentFormat;
    std::vector<std::uint8_t> payload;
    bool confirmable = true;
    std::string diagnostic;  // for error codes without a payload: RFC 7252 5.5.2
  };
  Result<std::uint16_t> sendClientResponse(ClientId id, const ClientResponse& response);
  // A CoAP ping (an empty CON, RFC 7252 4.3): the server answers RST, which the failure
  // handler reports with `pong` set. libcoap sends one confirmable message at a time per
  // session (NSTART=1), so the pong also says every earlier CON on the session was
  // acknowledged.
  Result<std::uint16_t> sendClientPing(ClientId id);

  struct ClientRequest {
    ClientId client = 0;
    core::Method method = core::Method::kGet;
    std::vector<std::string> uriPath;
    std::vector<std::string> uriQuery;
    std::optional<std::uint16_t> contentFormat;
    std::optional<std::uint16_t> accept;
    std::optional<std::uint32_t> observe;
    std::vector<std::uint8_t> token;
    std::string payload;
    bool confirmable = true;
  };
  // What to answer at once. nullopt answers later: an empty ACK goes now (for a CON request) and
  // the caller sends the response with sendClientResponse() (RFC 7252 5.2.2, separate response).
  struct ImmediateResponse {
    std::uint8_t code = 0x45;
    std::string payload;  // a diagnostic for error codes
    std::optional<std::uint16_t> contentFormat;
  };
  using ClientRequestHandler =
      std::function<std::optional<ImmediateResponse>(const ClientRequest& request)>;
  struct ClientAnswer {
    ClientId client = 0;
    std::vector<std::uint8_t> token;
    std::uint8_t code = 0;
    std::vector<std::string> locationPath;
    std::optional<std::uint16_t> contentFormat;
    std::string payload;
  };
  // Returns whether the answer was wanted (else a CON one gets RST).
  using ClientAnswerHandler = std::function<bool(const ClientAnswer& answer)>;
  struct ClientFailure {
    ClientId client = 0;
    std::uint16_t messageId = 0;
    std::vector<std::uint8_t> token;
    bool request = false;  // it was one of our requests (else a response or a ping)
    bool pong = false;     // the RST that answers our ping: the server is there
    bool reset = false;    // answered RST (else no acknowledgement, or not sent)
    bool dtls = false;     // the DTLS handshake failed or the DTLS session ended
    std::string why;
  };
  // A confirmable message got no acknowledgement after all retransmissions, or a RST. ICMP
  // errors are not reported: libcoap keeps retransmitting after them, the final outcome follows.
  using ClientFailureHandler = std::function<void(const ClientFailure& failure)>;
  void setClientHandlers(ClientRequestHandler onRequest, ClientAnswerHandler onAnswer,
                         ClientFailureHandler onFailure) {
    onClientRequest_ = std::move(onRequest);
    onClientAnswer_ = std::move(onAnswer);
    onClientFailure_ = std::move(onFailure);
  }

  // Routes libcoap's own log lines into ours, at `level` and more severe.
  static void routeLibraryLog(log::Level level);

 private:
  Server(const core::Clock& clock, ServerOptions options, Handler handler);
  friend struct ServerCallbacks;
  friend struct ClientCallbacks;

  struct Held;
  void releaseHeld();
  Result<std::vector<std::string>> listen(const ListenAddress& address, bool dtls);
  // At most a few log lines a minute about refused handshakes, whatever a peer sends.
  bool handshakeLogAllowed();
  // Block-wise hooks (blockwise.h does the bookkeeping). A Block1 block: the answer to send
  // now (2.31 Continue or a refusal), or nullopt with req.payload set to the whole body, which
  // `body` keeps alive.
  std::optional<core::Response> takeUploadBlock(core::Request& req, std::uint32_t block1,
                                                std::optional<std::uint64_t> size1,
                                                std::string* body);
  // Expires idle transfers; an answer whose blocks stopped coming is reported as failed.
  void expireTransfers();
  // Hands an answer to onAnswer_; returns whether it was wanted.
  bool deliverAnswer(const Answer& answer);

  ServerOptions options_;
  Handler handler_;
  core::ExchangeCache dedup_;
  coap_context_t* ctx_ = nullptr;
  bool deferResponses_ = false;
  std::size_t handled_ = 0;
  std::vector<Held> held_;
  coap_session_t* current_ = nullptr;                // the session whose request is being handled
  std::map<std::string, coap_session_t*> sessions_;  // kept per peer, referenced
  AnswerHandler onAnswer_;
  FailureHandler onFailure_;
  const core::Clock& clock_;
  PskLookup pskLookup_;
  // What the identity callback hands libcoap, which copies it at once (coap_session_refresh_
  // psk_key); wiped at the next DTLS event.
  std::vector<std::uint8_t> pskBuffer_;
  core::SteadyTime handshakeLogWindow_{};
  unsigned handshakeLogLines_ = 0;
  std::uint64_t handshakesRefusedUnlogged_ = 0;
  UploadReassembler uploads_;
  AnswerReassembler answers_;
  LogThrottle uploadRefusals_;
  LogThrottle answerFailures_;
  std::map<ClientId, coap_session_t*> clients_;  // open client sessions, referenced
  // The identity and key of DTLS client sessions: libcoap keeps pointers to them (the
  // coap_dtls_cpsk_t it copies), so they live as long as the session and are wiped after it.
  std::map<ClientId, std::unique_ptr<ClientPsk>> clientPsks_;
  ClientId nextClient_ = 0;
  ClientRequestHandler onClientRequest_;
  ClientAnswerHandler onClientAnswer_;
  ClientFailureHandler onClientFailure_;
};

}  // namespace lwgate::coap
