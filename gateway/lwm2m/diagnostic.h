#pragma once
// Peer bytes in error messages. Errors go back as CoAP diagnostic payloads (RFC 7252 5.5.2) and
// D-Bus error texts: one printable line, short, and never more than a little of what the peer
// sent.
#include <cstddef>
#include <string>
#include <string_view>

namespace lwgate::lwm2m {

inline constexpr std::size_t kMaxEcho = 40;

// Printable ASCII as is ('"' and '\' escaped), any other byte as \xNN, cut with "..." once
// `budget` characters are used.
std::string escapeForMessage(std::string_view in, std::size_t budget = kMaxEcho);
// The same in double quotes.
std::string quoteForMessage(std::string_view in, std::size_t budget = kMaxEcho);

}  // namespace lwgate::lwm2m
