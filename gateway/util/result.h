#pragma once
// Expected failures (bad input, busy database, unknown location) travel as values: Result<T> holds
// either a T or an Error. Exceptions are kept for start-up and configuration loading.
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace lwgate {

// What kind of failure this is. Adapters map it to their protocol: CoAP response codes, D-Bus
// error names, exit codes. Keep the list short and about meaning, not about any one protocol.
enum class ErrorCode {
  kBadRequest,          // the peer's input is malformed or invalid (CoAP 4.00)
  kForbidden,           // valid but not allowed for this peer (4.03)
  kNotFound,            // unknown location, device or request (4.04)
  kPreconditionFailed,  // e.g. an LwM2M version the server does not support (4.12)
  kTooLarge,            // payload or list larger than a configured limit (4.13)
  kUnsupportedFormat,   // content format we cannot handle (4.15)
  kLimitReached,        // a capacity limit such as max_devices (5.03)
  kStorage,             // the database failed (5.00)
  kInternal,            // a bug or an impossible state (5.00)
};

struct Error {
  ErrorCode code;
  std::string message;  // one line a person can act on; never contains secrets
};

inline Error makeError(ErrorCode code, std::string message) {
  return {code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)
      : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{ErrorCode::kInternal, {}};
  bool ok_ = true;
};

}  // namespace lwgate
