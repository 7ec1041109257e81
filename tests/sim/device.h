#pragma once
// SimDevice: one simulated LwM2M client with its own libcoap context and UDP session, used by
// lwgate-sim and by end-to-end tests to drive lwgated's registration interface (LwM2M 1.1
// TS Core section 6.2: Register, Update, De-register).
//
// The device is synchronous on purpose: every call sends one confirmable request and runs the
// context's own loop until the matching response, a NACK, or a deadline derived from the CoAP
// transmission parameters, so no call can block forever. Later extensions (answering Read /
// Write / Execute, sleeping like a queue-mode device) hang resources on the same context and
// get served from runFor().
#include <coap3/coap.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/util/result.h"

namespace lwgate::sim {

struct DeviceOptions {
  std::string serverUri;  // coap://HOST:PORT (IPv4, [IPv6] or a resolvable name)
  std::string endpoint;   // "ep"; empty omits the parameter (negative tests)
  // "lt" in seconds; nullopt omits it so the server has to learn it from /1/x/1.
  std::optional<std::uint32_t> lifetime = 300;
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
  // POST /<location>[?lt=..]: a Registration Update with an optional new lifetime.
  Result<Response> update(std::optional<std::uint32_t> lifetime = std::nullopt);
  // DELETE /<location>. The location stays set, so a following Update can check for 4.04.
  Result<Response> deregister();
  // Serves the context for a bounded time (answers the server, ACKs separate responses).
  Result<void> runFor(std::chrono::milliseconds duration);

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

  struct ContextDeleter {
    void operator()(coap_context_t* c) const { coap_free_context(c); }
  };
  struct SessionDeleter {
    void operator()(coap_session_t* s) const { coap_session_release(s); }
  };

  DeviceOptions options_;
  std::vector<std::string> location_;
  // Declared context first so the session is released before the context is freed.
  std::unique_ptr<coap_context_t, ContextDeleter> context_;
  std::unique_ptr<coap_session_t, SessionDeleter> session_;

  // The one exchange in flight (NSTART = 1, RFC 7252 section 4.7).
  struct Pending {
    std::vector<std::uint8_t> token;
    coap_mid_t mid = COAP_INVALID_MID;
    std::optional<Response> response;
    std::optional<std::string> failure;
  };
  Pending pending_;
};

}  // namespace lwgate::sim
