#include "gateway/core/message.h"

namespace lwgate::core {

std::string codeText(Code code) {
  const auto c = static_cast<unsigned>(code);
  std::string out = std::to_string(c >> 5) + ".";
  const unsigned detail = c & 0x1f;
  if (detail < 10) out += '0';
  return out + std::to_string(detail);
}

Code codeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
      return Code::kBadRequest;
    case ErrorCode::kForbidden:
      return Code::kForbidden;
    case ErrorCode::kNotFound:
      return Code::kNotFound;
    case ErrorCode::kPreconditionFailed:
      return Code::kPreconditionFailed;
    case ErrorCode::kTooLarge:
      return Code::kRequestEntityTooLarge;
    case ErrorCode::kUnsupportedFormat:
      return Code::kUnsupportedContentFormat;
    case ErrorCode::kLimitReached:
      return Code::kServiceUnavailable;
    case ErrorCode::kStorage:
    case ErrorCode::kInternal:
      return Code::kInternalServerError;
  }
  return Code::kInternalServerError;
}

Response errorResponse(const Error& error) {
  Response r;
  r.code = codeFor(error.code);
  r.payload = error.message;
  return r;
}

}  // namespace lwgate::core
