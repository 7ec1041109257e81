#pragma once
// Downlink requests: what a caller (D-Bus, the bridge, the gateway itself) asks a device to do,
// from submission to its one final state. The values here are what the queue persists.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.h"

namespace lwgate::core {

// LwM2M Device Management & Service Enablement and Information Reporting operations
// (TS Core 6.3, 6.4) the gateway sends.
enum class Operation : std::uint8_t {
  kRead,
  kDiscover,
  kWrite,         // replace (PUT)
  kWritePartial,  // partial update (POST)
  kWriteAttributes,
  kExecute,
  kCreate,
  kDelete,
  kObserve,
  kCancelObserve,
  kReadComposite,
  kWriteComposite,
  kObserveComposite,
};

std::string_view operationName(Operation op);  // "read", "write-partial", ... (the db's names)
std::optional<Operation> parseOperation(std::string_view name);

// Whether sending the request twice has the effect of sending it once (RFC 7252 5.1 and the
// methods LwM2M maps each operation to). After a restart an in-flight request whose exchange may
// have reached the device is re-sent only if this holds (OMA issue #104); otherwise it ends
// "failed" with the reason "outcome unknown".
bool isIdempotent(Operation op);

// Whether a caller may choose the request's token: an Observe sent again to re-establish an
// observation (RFC 7641 3.3.1) and a Cancel-Observe (3.6) must carry the observation's token.
// Every other request gets a fresh random token from the queue.
bool takesCallerToken(Operation op);

enum class RequestState : std::uint8_t { kQueued, kInFlight, kDone, kFailed, kExpired, kCancelled };
std::string_view stateName(RequestState state);  // "queued", "in_flight", "done", ...
std::optional<RequestState> parseState(std::string_view name);
inline bool isFinal(RequestState s) {
  return s != RequestState::kQueued && s != RequestState::kInFlight;
}

struct DownlinkRequest {
  std::int64_t id = 0;  // assigned by the store on insert
  std::string endpoint;
  Operation operation = Operation::kRead;
  std::string path;  // LwM2M path(s) relative to the device's alternate path ("/3/0/1")
  std::vector<std::uint8_t> payload;
  std::optional<std::uint16_t> contentFormat;  // of payload
  std::optional<std::uint16_t> acceptFormat;   // asked-for response format
  std::optional<std::string> idempotencyKey;
  // The caller wants the device woken for it now: the SMS wake-up skips its "the next regular
  // Update comes in time for the deadline" rule (back-off and budgets still apply).
  bool urgent = false;

  RequestState state = RequestState::kQueued;
  WallTime createdAt{};
  std::optional<WallTime> deadline;  // expires when not done by then
  unsigned attempts = 0;             // transmissions that ended without a response

  // The (last) transmission, persisted before it is sent: a restart retransmits with the same
  // Message ID and token so the device's deduplication drops the repeat. A caller may set the
  // token of an operation that takesCallerToken(); it is then kept for every transmission.
  std::optional<std::uint16_t> messageId;
  std::vector<std::uint8_t> token;
  std::optional<WallTime> sentAt;

  // The answer, when done: the device's CoAP code (2.05, 4.04, ...) and payload.
  std::optional<std::uint8_t> responseCode;
  std::vector<std::uint8_t> responsePayload;
  std::optional<std::uint16_t> responseFormat;
  std::string reason;  // why failed / expired / cancelled
  std::optional<WallTime> finishedAt;
};

// Which requests a caller wants to see (D-Bus ListRequests).
struct RequestFilter {
  std::optional<std::string> endpoint;
  std::vector<RequestState> states;  // empty: any
  std::int64_t afterId = 0;          // ids above this only (paging)
  std::size_t limit = 100;
};

}  // namespace lwgate::core
