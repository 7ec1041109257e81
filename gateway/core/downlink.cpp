#include "gateway/core/downlink.h"

#include <array>
#include <utility>

namespace lwgate::core {
namespace {

constexpr std::array<std::pair<Operation, std::string_view>, 13> kOperations{{
    {Operation::kRead, "read"},
    {Operation::kDiscover, "discover"},
    {Operation::kWrite, "write"},
    {Operation::kWritePartial, "write-partial"},
    {Operation::kWriteAttributes, "write-attributes"},
    {Operation::kExecute, "execute"},
    {Operation::kCreate, "create"},
    {Operation::kDelete, "delete"},
    {Operation::kObserve, "observe"},
    {Operation::kCancelObserve, "cancel-observe"},
    {Operation::kReadComposite, "read-composite"},
    {Operation::kWriteComposite, "write-composite"},
    {Operation::kObserveComposite, "observe-composite"},
}};

constexpr std::array<std::pair<RequestState, std::string_view>, 6> kStates{{
    {RequestState::kQueued, "queued"},
    {RequestState::kInFlight, "in_flight"},
    {RequestState::kDone, "done"},
    {RequestState::kFailed, "failed"},
    {RequestState::kExpired, "expired"},
    {RequestState::kCancelled, "cancelled"},
}};

}  // namespace

std::string_view operationName(Operation op) {
  for (const auto& [o, name] : kOperations) {
    if (o == op) return name;
  }
  return "?";
}

std::optional<Operation> parseOperation(std::string_view name) {
  for (const auto& [o, n] : kOperations) {
    if (n == name) return o;
  }
  return std::nullopt;
}

bool isIdempotent(Operation op) {
  switch (op) {
    // GET, FETCH, PUT and DELETE are idempotent (RFC 7252 5.1, RFC 8132 2). Write-Composite is
    // iPATCH, idempotent by definition (RFC 8132 3).
    case Operation::kRead:
    case Operation::kDiscover:
    case Operation::kWrite:
    case Operation::kWriteAttributes:
    case Operation::kDelete:
    case Operation::kObserve:
    case Operation::kCancelObserve:
    case Operation::kReadComposite:
    case Operation::kWriteComposite:
    case Operation::kObserveComposite:
      return true;
    // POST: Execute runs an action, Create makes an instance, a partial write may append.
    case Operation::kExecute:
    case Operation::kCreate:
    case Operation::kWritePartial:
      return false;
  }
  return false;
}

bool takesCallerToken(Operation op) {
  return op == Operation::kObserve || op == Operation::kCancelObserve ||
         op == Operation::kObserveComposite;
}

std::string_view stateName(RequestState state) {
  for (const auto& [s, name] : kStates) {
    if (s == state) return name;
  }
  return "?";
}

std::optional<RequestState> parseState(std::string_view name) {
  for (const auto& [s, n] : kStates) {
    if (n == name) return s;
  }
  return std::nullopt;
}

}  // namespace lwgate::core
