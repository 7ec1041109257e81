#include "gateway/lwm2m/registration_params.h"

#include <charconv>
#include <system_error>
#include <utility>

#include "gateway/lwm2m/diagnostic.h"

namespace lwgate::lwm2m {
namespace {

// Error messages go back to the device as a CoAP diagnostic payload (RFC 7252 5.5.2), which must
// be UTF-8 and should be short: echo at most this many characters of the peer's input.

Error badRequest(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

bool isDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "X.Y": the shape of every LwM2M version so far (LwM2M 1.1 TS 6.2.1, lwm2m= parameter).
bool isWellFormedVersion(std::string_view v) {
  const auto dot = v.find('.');
  return dot != std::string_view::npos && isDigits(v.substr(0, dot)) && isDigits(v.substr(dot + 1));
}

enum class Operation { kRegister, kUpdate };

// Raw values as received; a bare "ep" counts as "ep=" so that the value check names the problem.
struct RawParams {
  std::optional<std::string_view> endpoint;
  std::optional<std::string_view> lifetime;
  std::optional<std::string_view> version;
  std::optional<std::string_view> binding;
  std::optional<std::string_view> sms;
  bool queue = false;
};

Result<RawParams> collect(const std::vector<std::string_view>& queries, Operation op) {
  RawParams raw;
  for (std::string_view query : queries) {
    const auto eq = query.find('=');
    const std::string_view key = query.substr(0, eq);
    // A bare name ("Q", "lt") has an empty value.
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : query.substr(eq + 1);

    if (key == "Q") {
      // LwM2M 1.1 TS 6.2.1: Q is a flag, it has no value.
      if (!value.empty()) {
        return badRequest("invalid parameter " + quoteForMessage(query) + ": Q takes no value");
      }
      if (raw.queue) return badRequest("parameter \"Q\" given twice");
      raw.queue = true;
      continue;
    }

    std::optional<std::string_view>* slot = nullptr;
    if (key == "lt") {
      slot = &raw.lifetime;
    } else if (key == "b") {
      slot = &raw.binding;
    } else if (key == "sms") {
      slot = &raw.sms;
    } else if (key == "ep") {
      if (op == Operation::kUpdate) {
        return badRequest("parameter \"ep\" is not allowed in an Update (only lt, b, sms, Q)");
      }
      slot = &raw.endpoint;
    } else if (key == "lwm2m") {
      // Not an Update parameter in the TS, but LwM2M 1.0 clients such as lwm2m-node-lib repeat
      // it on every Update; it is checked and otherwise ignored (the version is the Register's).
      slot = &raw.version;
    } else if (key.empty()) {
      return badRequest("registration parameter without a name: " + quoteForMessage(query));
    } else {
      // LwM2M 1.1 TS 6.2.1: 4.00 Bad Request when "an unknown parameter is specified".
      return badRequest("unknown registration parameter " + quoteForMessage(key));
    }
    if (slot->has_value()) {
      return badRequest("parameter \"" + std::string(key) + "\" given twice");
    }
    *slot = value;
  }
  return raw;
}

Result<std::uint32_t> parseLifetime(std::string_view text) {
  std::uint32_t value = 0;
  // from_chars takes no sign and no whitespace for unsigned types, and fails on "".
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return badRequest("invalid lifetime " + quoteForMessage(text) +
                      ": expected a number of seconds from 1 to 4294967295");
  }
  return value;
}

// Returns the offset of the first byte that is not part of valid UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or npos.
std::size_t invalidUtf8At(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

// LwM2M 1.0 TS 5.3.1.1 spells queue mode inside b= ("UQ", "SQ", "UQS"); 1.1+ has transport
// letters only (U, S, N, T; M, H from 1.2) and a separate Q parameter. Both are accepted for any
// version, because clients mix them.
Result<Binding> parseBinding(std::string_view text) {
  if (text.empty()) {
    return badRequest("invalid binding \"\": b needs transport letters such as U, UQ or US");
  }
  Binding binding;
  binding.text = std::string(text);
  bool seen[128] = {};
  for (char c : text) {
    if (std::string_view("USTNMHQ").find(c) == std::string_view::npos) {
      return badRequest("invalid binding " + quoteForMessage(text) + ": " +
                        quoteForMessage(std::string_view(&c, 1)) + " is not one of U S T N M H Q");
    }
    if (seen[static_cast<unsigned char>(c)]) {
      return badRequest("invalid binding " + quoteForMessage(text) + ": '" + c + "' given twice");
    }
    seen[static_cast<unsigned char>(c)] = true;
    if (c == 'Q') {
      // 1.0 style: Q qualifies the transport before it, so it cannot come first.
      if (binding.transports.empty()) {
        return badRequest("invalid binding " + quoteForMessage(text) +
                          ": Q must follow a transport letter, e.g. UQ");
      }
      binding.queueMode = true;
    } else {
      binding.transports += c;
    }
  }
  return binding;
}

}  // namespace

// MSISDN (ITU-T E.164): at most 15 digits; clients often write the international '+'.
Result<void> checkEndpoint(std::string_view ep) {
  if (ep.empty() || ep.size() > kMaxEndpointLength) {
    return badRequest("invalid endpoint name " + quoteForMessage(ep) + ": " +
                      std::to_string(ep.size()) + " bytes, expected 1 to " +
                      std::to_string(kMaxEndpointLength));
  }
  if (const auto at = invalidUtf8At(ep); at != std::string_view::npos) {
    return badRequest("invalid endpoint name " + quoteForMessage(ep) +
                      ": not valid UTF-8 at byte " + std::to_string(at));
  }
  for (std::size_t i = 0; i < ep.size(); ++i) {
    const auto c = static_cast<unsigned char>(ep[i]);
    if (c < 0x20 || c == 0x7f) {
      return badRequest("invalid endpoint name " + quoteForMessage(ep) +
                        ": control character at byte " + std::to_string(i));
    }
  }
  return {};
}

Result<void> checkMsisdn(std::string_view sms) {
  const std::string_view digits = sms.starts_with('+') ? sms.substr(1) : sms;
  if (!isDigits(digits) || digits.size() > 15) {
    return badRequest("invalid sms " + quoteForMessage(sms) +
                      ": expected an MSISDN, optional '+' then 1 to 15 digits");
  }
  return {};
}

bool isSupportedVersion(std::string_view version) {
  return version == "1.0" || version == "1.1" || version == "1.2";
}

Result<RegisterParams> parseRegisterParams(const std::vector<std::string_view>& queries) {
  // Version first: a newer client may send parameters we do not know yet, and it needs 4.12 (not
  // 4.00) to know that it should retry with an older version (LwM2M 1.1 TS 6.2.1).
  for (std::string_view query : queries) {
    if (!query.starts_with("lwm2m=")) continue;
    const std::string_view version = query.substr(6);
    if (isWellFormedVersion(version) && !isSupportedVersion(version)) {
      return makeError(ErrorCode::kPreconditionFailed,
                       "unsupported LwM2M version " + quoteForMessage(version) +
                           ": this server supports 1.0, 1.1 and 1.2");
    }
  }

  auto raw = collect(queries, Operation::kRegister);
  if (!raw) return raw.error();

  RegisterParams params;
  if (!raw->endpoint) return badRequest("missing endpoint name: Register needs ep=<name>");
  if (auto ok = checkEndpoint(*raw->endpoint); !ok) return ok.error();
  params.endpoint = std::string(*raw->endpoint);

  if (raw->lifetime) {
    auto lifetime = parseLifetime(*raw->lifetime);
    if (!lifetime) return lifetime.error();
    params.lifetime = *lifetime;
  }

  if (raw->version) {
    // Unsupported well-formed versions were answered above.
    if (!isWellFormedVersion(*raw->version)) {
      return badRequest("invalid LwM2M version " + quoteForMessage(*raw->version) +
                        ": expected lwm2m=1.0, 1.1 or 1.2");
    }
    params.version = std::string(*raw->version);
  }

  if (raw->binding) {
    auto binding = parseBinding(*raw->binding);
    if (!binding) return binding.error();
    params.binding = std::move(*binding);
  } else {
    params.binding = Binding{.transports = "U", .queueMode = false, .text = "U"};
  }
  params.binding.queueMode = params.binding.queueMode || raw->queue;

  if (raw->sms) {
    if (auto ok = checkMsisdn(*raw->sms); !ok) return ok.error();
    params.smsNumber = std::string(*raw->sms);
  }
  return params;
}

Result<UpdateParams> parseUpdateParams(const std::vector<std::string_view>& queries) {
  auto raw = collect(queries, Operation::kUpdate);
  if (!raw) return raw.error();
  // No version negotiation in an Update (so no 4.12): anything but a version this server speaks
  // is just a bad parameter.
  if (raw->version && !isSupportedVersion(*raw->version)) {
    return badRequest("invalid LwM2M version " + quoteForMessage(*raw->version) +
                      " in an Update: expected lwm2m=1.0, 1.1 or 1.2, or none");
  }

  UpdateParams params;
  if (raw->lifetime) {
    auto lifetime = parseLifetime(*raw->lifetime);
    if (!lifetime) return lifetime.error();
    params.lifetime = *lifetime;
  }
  if (raw->binding) {
    auto binding = parseBinding(*raw->binding);
    if (!binding) return binding.error();
    binding->queueMode = binding->queueMode || raw->queue;
    params.binding = std::move(*binding);
  } else if (raw->queue) {
    // Only Q: the client keeps its transports; the caller merges (see UpdateParams::binding).
    params.binding = Binding{.transports = "", .queueMode = true, .text = ""};
  }
  if (raw->sms) {
    if (auto ok = checkMsisdn(*raw->sms); !ok) return ok.error();
    params.smsNumber = std::string(*raw->sms);
  }
  return params;
}

}  // namespace lwgate::lwm2m
