#pragma once
// Minimal CoAP message encoding and decoding (RFC 7252 section 3) for the benchmark's hot path:
// just enough to build a confirmable request and to classify what comes back. Not a general
// CoAP library; the daemon and the simulator use libcoap.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace lwgate::bench {

enum class MessageType : std::uint8_t { kCon = 0, kNon = 1, kAck = 2, kRst = 3 };

constexpr std::uint8_t kCodePost = 0x02;
constexpr std::uint8_t kCodeEmpty = 0x00;
constexpr std::uint16_t kOptionUriPath = 11;
constexpr std::uint16_t kOptionContentFormat = 12;
constexpr std::uint16_t kOptionUriQuery = 15;
constexpr std::uint16_t kFormatLinkFormat = 40;
constexpr std::size_t kMaxTokenLength = 8;

inline constexpr std::uint8_t codeOf(int cls, int detail) {
  return static_cast<std::uint8_t>(cls << 5 | detail);
}

// Appends a message to a byte buffer. Options must be added in ascending option number (the
// delta encoding depends on it); the builder asserts that in debug builds.
class MessageBuilder {
 public:
  MessageBuilder(std::vector<std::uint8_t>& out, MessageType type, std::uint8_t code,
                 std::uint16_t mid, const std::uint8_t* token, std::size_t tokenLength);
  MessageBuilder& option(std::uint16_t number, std::string_view value);
  MessageBuilder& uintOption(std::uint16_t number, std::uint32_t value);
  MessageBuilder& payload(std::string_view data);

 private:
  std::vector<std::uint8_t>& out_;
  std::uint16_t lastOption_ = 0;
};

// The parts of a received message the benchmark cares about; views point into the datagram.
struct ParsedMessage {
  MessageType type = MessageType::kCon;
  std::uint8_t code = 0;
  std::uint16_t mid = 0;
  std::array<std::uint8_t, kMaxTokenLength> token{};
  std::size_t tokenLength = 0;
  std::string_view payload;
};

// Validates the header, token and option framing; nullopt for anything malformed (a bad
// datagram is counted and dropped, never trusted).
std::optional<ParsedMessage> parseMessage(const std::uint8_t* data, std::size_t size);

}  // namespace lwgate::bench
