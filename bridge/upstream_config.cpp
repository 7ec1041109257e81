#include "bridge/upstream_config.h"

#include <charconv>

namespace lwgate::bridge {
namespace {

Error bad(std::string message) {
  return makeError(ErrorCode::kBadRequest, std::move(message));
}

bool printableNoSpace(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string_view queueModeName(QueueMode mode) {
  return mode == QueueMode::kMirror ? "mirror" : "gateway";
}

std::string_view pskModeName(PskMode mode) {
  return mode == PskMode::kGateway ? "gateway" : "device";
}

Result<UpstreamUri> parseUpstreamUri(std::string_view uri) {
  const std::string quoted = "\"" + std::string(uri.substr(0, 200)) + "\"";
  UpstreamUri out;
  std::string_view rest;
  if (uri.starts_with("coaps://")) {
    out.dtls = true;
    out.port = 5684;  // RFC 7252 6.2
    rest = uri.substr(8);
  } else if (uri.starts_with("coap://")) {
    rest = uri.substr(7);
  } else {
    return bad(quoted + ": expected coap://HOST[:PORT] or coaps://HOST[:PORT]");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // "coap://h:5683/" is usual
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return bad(quoted + ": only coap://HOST[:PORT] or coaps://HOST[:PORT] (no path, query or " +
               "user)");
  }
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad(quoted + ": missing ']' after IPv6 address");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(quoted + ": expected :PORT after ']'");
      port = after.substr(1);
      if (port.empty()) return bad(quoted + ": empty port");
    }
  } else if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.find(':') != std::string_view::npos) {
      return bad(quoted + ": write an IPv6 address in brackets, coap://[ADDR]:PORT");
    }
    if (port.empty()) return bad(quoted + ": empty port");
  }
  if (host.empty()) return bad(quoted + ": empty host");
  if (!printableNoSpace(host)) return bad(quoted + ": the host has spaces or control characters");
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad(quoted + ": the port must be a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  out.host = std::string(host);
  return out;
}

bool matchesPattern(std::string_view pattern, std::string_view text) {
  // Iterative glob with one backtracking point: linear-ish, no recursion on peer input.
  std::size_t p = 0, t = 0;
  std::size_t starP = std::string_view::npos, starT = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      starP = p++;
      starT = t;
    } else if (starP != std::string_view::npos) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<void> checkDevicePattern(std::string_view pattern) {
  if (pattern.empty()) return bad("empty endpoint pattern (\"*\" bridges every device)");
  if (pattern.size() > 255) return bad("endpoint pattern longer than 255 bytes");
  if (!printableNoSpace(pattern)) {
    return bad("endpoint pattern \"" + std::string(pattern.substr(0, 64)) +
               "\" has spaces or control characters");
  }
  return {};
}

Result<void> checkEndpointPrefix(std::string_view prefix) {
  if (prefix.size() > 128) return bad("endpoint prefix longer than 128 bytes");
  if (!printableNoSpace(prefix)) return bad("endpoint prefix has spaces or control characters");
  return {};
}

bool UpstreamConfig::bridges(std::string_view endpoint) const {
  for (const auto& p : devices) {
    if (matchesPattern(p, endpoint)) return true;
  }
  return false;
}

}  // namespace lwgate::bridge
