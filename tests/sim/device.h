#pragma once
// SimDevice: one simulated LwM2M client with its own libcoap context and UDP session, used by
// lwgate-sim and by end-to-end tests to drive lwgated's registration interface (LwM2M 1.1
// TS Core section 6.2: Register, Update, De-register).
//
// The device is synchronous on purpose: every call sends one confirmable request and runs the
// context's own loop until the matching response, a NACK, or a deadline derived from the CoAP
// transmission parameters, so no call can block forever.
//
// The server reaches the device over the same UDP session (LwM2M 1.1 TS Core section 6.3: the
// server sends its requests to the address and port the registration came from). libcoap
// hands requests that arrive on a client session to the resources of the client's context, so
// one catch-all resource on that context serves the ObjectStore whenever the loop runs: while
// an action waits for its own response, during runFor(), never during sleepFor(). Observations
// are the sim's own (not libcoap's observer lists, which do not work on the catch-all
// resource): the store decides what is due, the device sends it as CON (or NON) responses with
// the observation's token and an Observe option, and forgets an observation the server
// rejects with RST (RFC 7641 3.6).
#include <coap3/coap.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/util/result.h"
#include "tests/sim/objects.h"

namespace lwgate::sim {

struct DeviceOptions {
  // coap://HOST:PORT (IPv4, [IPv6] or a resolvable name), or coaps://HOST:PORT for DTLS-PSK
  // with pskIdentity and pskKey.
  std::string serverUri;
  std::string pskIdentity;
  std::vector<std::uint8_t> pskKey;
  std::string endpoint;  // "ep"; empty omits the parameter (negative tests)
  // "lt" in seconds; nullopt omits it so the server has to learn it from /1/x/1.
  std::optional<std::uint32_t> lifetime = 300;
  // The Lifetime resource /1/0/1 when lt is omitted (default 86400), so a test can tell the
  // value the server read from the default it would otherwise assume.
  std::optional<std::uint32_t> storedLifetime;
  std::string lwm2mVersion = "1.1";  // "lwm2m"; empty omits it
  std::string binding = "U";         // "b"; empty omits it
  // Queue mode: LwM2M 1.1 sends the "Q" parameter, 1.0 spells it as the "Q" binding letter.
  bool queueMode = false;
  std::string smsNumber;                  // "sms"; empty omits it
  std::string objects = "</1/0>,</3/0>";  // link-format payload of Register
  std::vector<std::string> extraQuery;    // raw "key=value" parameters appended to Register
  // RFC 7252 section 4.8 transmission parameters, settable so tests fail fast. libcoap 4.3.1
  // accepts ACK_TIMEOUT >= 1 s and MAX_RETRANSMIT >= 1 only; create() rejects other values.
  double ackTimeoutSeconds = 2.0;
  unsigned maxRetransmit = 4;
  // Also host object 5 (Firmware Update) next to 1 (Server) and 3 (Device).
  bool firmwareObject = false;
  // Also host object 3303 (Temperature) instance 0 with a float Sensor Value /3303/0/5700.
  bool temperatureSensor = false;
  // Notifications go out as NON instead of CON (RFC 7641 4.5 lets the server choose).
  bool notifyNon = false;
  // A numeric resource ("/3303/0/5700") that changes every tickMs while the device serves the
  // server, like a sensor: its observers are notified (subject to pmin/pmax).
  std::string tickResource;
  unsigned tickMs = 1000;
  // Block-wise transfers (RFC 7959, libcoap's COAP_BLOCK_USE_LIBCOAP): a Register whose object
  // list does not fit one datagram goes out in Block1 blocks, an answer that does not fit in
  // Block2 blocks. Off by default: the plain single-datagram exchanges stay as they were.
  bool blockwise = false;
  // When not 0: /3/0/17 (Device Type, a string) holds this many bytes, an answer that needs
  // Block2 (its bytes are "0123456789" repeated, so a test can check every one).
  std::size_t largeResourceBytes = 0;
};

// A CoAP response as the device saw it.
struct Response {
  std::uint8_t code = 0;  // class << 5 | detail, as on the wire
  std::string payload;    // diagnostic payload of error responses, if any
  // Location-Path options (Register's "rd", "<id>").
  std::vector<std::string> locationPath;

  int codeClass() const { return code >> 5; }
  bool success() const { return codeClass() == 2; }
  std::string codeText() const;  // "2.01"
};

// Routes libcoap's own log to stderr; verbose turns on its packet dumps (LOG_DEBUG).
void setCoapVerbose(bool verbose);

class SimDevice {
 public:
  // Resolves the server, creates the context and the session. Errors are values so a bad
  // --server becomes a message and exit code, not an abort.
  static Result<std::unique_ptr<SimDevice>> create(DeviceOptions options);
  ~SimDevice();
  SimDevice(const SimDevice&) = delete;
  SimDevice& operator=(const SimDevice&) = delete;

  // POST /rd?ep=..&lt=..&lwm2m=..&b=..[&Q][&sms=..][&extra] with the link-format payload. On
  // 2.01 the Location-Path becomes this device's location. An error value means a transport
  // failure (RST, ICMP; messages of timeouts start with "timeout"), never a CoAP error response.
  Result<Response> registerDevice();
  // POST /<location>[?lt=..]: a Registration Update. An explicit lifetime is also stored in
  // /1/0/1; without one, "lt" is sent only if the server wrote /1/0/1 since it last heard it.
  Result<Response> update(std::optional<std::uint32_t> lifetime = std::nullopt);
  // DELETE /<location>. The location stays set, so a following Update can check for 4.04.
  Result<Response> deregister();
  // LwM2M 1.1 Send (TS Core 6.4.6): POST /dp with the current values of `paths` in SenML JSON.
  // kNotFound when a path names nothing this device has.
  Result<Response> send(const std::vector<std::string>& paths);
  // POST /dp with any Content-Format (none when nullopt) and payload, for the server's refusals.
  Result<Response> sendRaw(std::optional<unsigned> contentFormat, const std::string& payload);
  // Serves the context for a bounded time (answers the server, ACKs separate responses).
  Result<void> runFor(std::chrono::milliseconds duration);
  // Sleeps like a queue-mode device with its radio off (TS Core, Queue Mode Operation): no I/O at
  // all for the duration, the socket stays open but unread. On waking it reads and drops whatever
  // arrived meanwhile, since a radio that was off never received it; returns how many
  // datagrams that was. The server's retransmissions after waking are answered as usual.
  Result<std::size_t> sleepFor(std::chrono::milliseconds duration);

  // Called after every server request the device answered (not for repeats it answered from
  // its deduplication cache).
  using RequestObserver = std::function<void(const ServerRequest&, const ServerReply&)>;
  void setRequestObserver(RequestObserver observer) { observer_ = std::move(observer); }
  // One line per notification sent or rejected, and per duplicate request ("notify /3/0/9
  // seq=12 2.05 CON", "notify-rejected /3/0/9 token=.. reason=..", "duplicate mid=..").
  using EventSink = std::function<void(const std::string&)>;
  void setEventSink(EventSink sink) { events_ = std::move(sink); }

  // ---- Observations (RFC 7641); notifications go out while the device serves ----
  // Changes a numeric resource now (integer +1, float +0.5) and sends what is due.
  Result<void> change(const std::string& path);
  // Sends a notification for the observation of `path` with a sequence number older than the
  // last one (a reordered message). Returns the number sent; kNotFound without an observation.
  Result<std::uint32_t> sendStale(const std::string& path);
  // Sends a notification with a payload that does not decode; returns its sequence number.
  Result<std::uint32_t> sendMalformed(const std::string& path);
  // Sends a CON notification on a token the server never made (a notification it cannot
  // want) and waits up to twice ACK_TIMEOUT: true when the server answered RST.
  Result<bool> sendRogue();
  const ObjectStore& store() const { return store_; }
  // The session's local UDP port: the source port of every request and the one the server
  // sends its requests to.
  std::uint16_t localPort() const;
  ObjectStore& objects() { return store_; }

  // The location as path segments, e.g. {"rd", "4e8c"}; empty before Register.
  const std::vector<std::string>& location() const { return location_; }
  // Adopts a location from an earlier process: "ID", "rd/ID" or "/rd/ID".
  void setLocation(const std::string& location);
  // The registration id to print: "4e8c" for {"rd", "4e8c"}, else the joined path.
  std::string locationId() const;
  const DeviceOptions& options() const { return options_; }

 private:
  explicit SimDevice(DeviceOptions options);
  Result<Response> exchange(coap_pdu_t* pdu);
  coap_pdu_t* newRequest(coap_pdu_code_t code);
  std::chrono::milliseconds maxWait() const;

  static coap_response_t onResponse(coap_session_t* session, const coap_pdu_t* sent,
                                    const coap_pdu_t* received, coap_mid_t mid);
  static void onNack(coap_session_t* session, const coap_pdu_t* sent, coap_nack_reason_t reason,
                     coap_mid_t mid);
  static void onRequest(coap_resource_t* resource, coap_session_t* session,
                        const coap_pdu_t* request, const coap_string_t* query,
                        coap_pdu_t* response);
  Result<void> addResources();
  std::size_t dropPending();
  // Runs the clock-driven parts: the tick resource, and notifications that are due.
  void service();
  void sendNotification(const Notification& n);
  void emit(const std::string& line) const {
    if (events_) events_(line);
  }
  std::int64_t nowMs() const;

  struct ContextDeleter {
    void operator()(coap_context_t* c) const { coap_free_context(c); }
  };
  struct SessionDeleter {
    void operator()(coap_session_t* s) const { coap_session_release(s); }
  };

  DeviceOptions options_;
  std::vector<std::string> location_;
  ObjectStore store_;
  // The lifetime the server last heard from us; Update sends "lt" only when /1/0/1 differs
  // (TS Core section 6.2.2: Update carries the parameters that changed).
  std::uint32_t serverLifetime_ = 0;
  RequestObserver observer_;
  EventSink events_;
  std::chrono::steady_clock::time_point nextTick_{};
  // Answers to recent confirmable requests by Message ID: a retransmission is answered again
  // without running the request twice (RFC 7252 4.5; libcoap 4.3.1 leaves this to the
  // application). Entries live EXCHANGE_LIFETIME.
  struct Answered {
    ServerReply reply;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::uint16_t, Answered> answered_;
  std::optional<std::string> rogueToken_;
  std::optional<bool> rogueRejected_;
  // The session's socket, found once so sleepFor() can drain it; -1 if it could not be found.
  int socketFd_ = -1;
  // Declared context first so the session is released before the context is freed.
  std::unique_ptr<coap_context_t, ContextDeleter> context_;
  std::unique_ptr<coap_session_t, SessionDeleter> session_;

  // The one exchange in flight (NSTART = 1, RFC 7252 section 4.7).
  struct Pending {
    std::vector<std::uint8_t> token;
    coap_mid_t mid = COAP_INVALID_MID;
    std::optional<Response> response;
    std::optional<std::string> failure;
    bool icmp = false;  // the failure was an ICMP error (nobody listening on the port just then)
  };
  Pending pending_;
};

}  // namespace lwgate::sim
