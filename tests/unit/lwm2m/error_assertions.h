#pragma once
// Shared checks for codec errors: the code, a phrase of the message, and the rules every message
// sent back to a device must keep (one printable line, short).
#include <gtest/gtest.h>

#include <string_view>

#include "gateway/util/result.h"

namespace lwgate::lwm2m::testing {

inline const char* codeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
      return "kBadRequest";
    case ErrorCode::kForbidden:
      return "kForbidden";
    case ErrorCode::kNotFound:
      return "kNotFound";
    case ErrorCode::kPreconditionFailed:
      return "kPreconditionFailed";
    case ErrorCode::kTooLarge:
      return "kTooLarge";
    case ErrorCode::kUnsupportedFormat:
      return "kUnsupportedFormat";
    case ErrorCode::kLimitReached:
      return "kLimitReached";
    case ErrorCode::kStorage:
      return "kStorage";
    case ErrorCode::kInternal:
      return "kInternal";
  }
  return "?";
}

// Diagnostic payloads (RFC 7252 5.5.2) go to constrained devices: keep them under this length.
inline constexpr std::size_t kMaxMessageLength = 120;

// Passes when `result` failed with `code` and a message that contains `needle`, is one line of
// printable ASCII and is shorter than kMaxMessageLength.
template <class T>
::testing::AssertionResult failsWith(const Result<T>& result, ErrorCode code,
                                     std::string_view needle) {
  if (result.ok()) {
    return ::testing::AssertionFailure()
           << "succeeded; expected " << codeName(code) << " containing \"" << needle << "\"";
  }
  const Error& error = result.error();
  if (error.code != code) {
    return ::testing::AssertionFailure() << "code " << codeName(error.code) << ", expected "
                                         << codeName(code) << " (message: " << error.message << ")";
  }
  if (error.message.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message \"" << error.message << "\" does not contain \"" << needle << "\"";
  }
  if (error.message.size() >= kMaxMessageLength) {
    return ::testing::AssertionFailure()
           << "message is " << error.message.size() << " chars: " << error.message;
  }
  for (char c : error.message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      return ::testing::AssertionFailure()
             << "message has byte " << static_cast<int>(u) << ": " << error.message;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace lwgate::lwm2m::testing
