#pragma once
// A CoAP message in its RFC 7252 section 3 wire format, for the SMS binding (LwM2M TS
// Transport 1.1 section 7 "SMS binding", early TS 9.3.3): over SMS there is no libcoap, the
// 8-bit user data of the (reassembled) SMS is exactly one CoAP message. Pure code: parse and
// serialize, nothing else. Untrusted input is refused as a whole with the reason; nothing is
// guessed or repaired.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/util/result.h"

namespace lwgate::modem {

// RFC 7252 3: message types.
enum class CoapType : std::uint8_t { kCon = 0, kNon = 1, kAck = 2, kRst = 3 };

// Option numbers this code names (RFC 7252 5.10, RFC 7641 2).
namespace coap_option {
inline constexpr std::uint16_t kObserve = 6;
inline constexpr std::uint16_t kLocationPath = 8;
inline constexpr std::uint16_t kUriPath = 11;
inline constexpr std::uint16_t kContentFormat = 12;
inline constexpr std::uint16_t kUriQuery = 15;
inline constexpr std::uint16_t kAccept = 17;
}  // namespace coap_option

inline constexpr std::size_t kMaxTokenLength = 8;             // RFC 7252 3: TKL 9..15 reserved
inline constexpr std::size_t kMaxOptionLength = 65535 + 269;  // the 2-byte extended length
inline constexpr std::uint8_t kCodeEmpty = 0x00;

struct CoapOption {
  std::uint16_t number = 0;
  std::vector<std::uint8_t> value;
  bool operator==(const CoapOption&) const = default;
};

struct CoapMessage {
  CoapType type = CoapType::kCon;
  std::uint8_t code = kCodeEmpty;  // class * 32 + detail: 0x02 POST, 0x45 2.05, ...
  std::uint16_t messageId = 0;
  std::vector<std::uint8_t> token;
  // In the order they appear; parse() returns them sorted by number as on the wire, and
  // serialize() sorts them (stable: repeated options keep their order).
  std::vector<CoapOption> options;
  std::vector<std::uint8_t> payload;

  bool operator==(const CoapMessage&) const = default;

  bool isEmpty() const { return code == kCodeEmpty; }
  bool isRequest() const { return code >= 1 && code < 32; }     // class 0, not Empty
  bool isResponse() const { return code >= 64 && code < 192; }  // classes 2, 4, 5

  // Helpers for building and reading messages.
  void add(std::uint16_t number, std::string_view value);
  void addUint(std::uint16_t number, std::uint32_t value);  // shortest form, 0 is no bytes
  std::vector<std::string_view> strings(std::uint16_t number) const;  // every value of it
  const CoapOption* first(std::uint16_t number) const;
  // The first value of a uint option (RFC 7252 3.2); nullopt when absent or longer than 4 bytes.
  std::optional<std::uint32_t> uintOption(std::uint16_t number) const;
};

// Parses one message. kBadRequest with the reason for: fewer than 4 bytes, version other than
// 1, token length 9..15, fewer bytes than the token length, an option delta or length nibble
// of 15 (reserved; 0xFF is only the payload marker), an extended delta/length or an option
// value running past the end, an option number beyond 65535, a payload marker followed by no
// payload (RFC 7252 3: a format error), an Empty message (0.00) with anything after its header
// (RFC 7252 4.1), and a code of a reserved class: 1, 3, 6 or 7 (RFC 7252 3: "All other class
// values are reserved").
Result<CoapMessage> parseCoap(std::span<const std::uint8_t> bytes);

// The wire form. kBadRequest for a token longer than 8 bytes, an option value longer than
// kMaxOptionLength, or an Empty message with a token, options or payload.
Result<std::vector<std::uint8_t>> serializeCoap(const CoapMessage& message);

// "CON 0.02 mid=4660 token=deadbeef" style text for logs.
std::string describe(const CoapMessage& message);
// "2.05" style text of a code.
std::string codeText(std::uint8_t code);

}  // namespace lwgate::modem
