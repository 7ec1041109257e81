#pragma once
// The libcoap adapter: owns the coap_context_t and its endpoints, turns incoming PDUs into
// core::Request values, hands them to one handler, and writes the core::Response back. This is
// the one place where libcoap's handles, options and errors become ours.
// Threading: everything here runs on the main thread's event loop; process() is called when
// fd() is readable (libcoap keeps its sockets and its retransmission timer in that epoll fd).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/exchange_cache.h"
#include "gateway/core/message.h"
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
  // The batch could not be committed: every held response becomes this error instead, and the
  // deduplication cache forgets the answers it remembered for them.
  void failHeldResponses(const Error& error);

  // Routes libcoap's own log lines into ours, at `level` and more severe.
  static void routeLibraryLog(log::Level level);

 private:
  Server(const core::Clock& clock, ServerOptions options, Handler handler);
  friend struct ServerCallbacks;

  struct Held;
  void releaseHeld();

  ServerOptions options_;
  Handler handler_;
  core::ExchangeCache dedup_;
  coap_context_t* ctx_ = nullptr;
  bool deferResponses_ = false;
  std::size_t handled_ = 0;
  std::vector<Held> held_;
};

}  // namespace lwgate::coap
