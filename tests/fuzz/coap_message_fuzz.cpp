// Fuzz target: CoAP messages as the SMS binding receives them (modem/coap_message.h): the
// reassembled 8-bit user data of an SMS, parsed without libcoap. Input: the message bytes.
// Properties: an accepted message serializes, and the wire form parses back to the same
// message; since RFC 7252's option encoding has one form per delta and length, the wire form
// is the input itself. describe() and the option helpers are safe on anything accepted.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "modem/coap_message.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lwgate;
  using fuzz::check;
  const std::span<const std::uint8_t> bytes(data, size);
  auto message = modem::parseCoap(bytes);
  if (!message) {
    check(!message.error().message.empty(), "error has a message");
    return 0;
  }
  check(message->token.size() <= modem::kMaxTokenLength, "token length");
  check(std::is_sorted(message->options.begin(), message->options.end(),
                       [](const auto& a, const auto& b) { return a.number < b.number; }),
        "options sorted by number");
  (void)modem::describe(*message);
  (void)message->strings(modem::coap_option::kUriPath);
  (void)message->uintOption(modem::coap_option::kContentFormat);

  auto wire = modem::serializeCoap(*message);
  check(wire.ok(), "an accepted message serializes");
  auto again = modem::parseCoap(*wire);
  check(again.ok() && *again == *message, "parseCoap(serializeCoap(m)) == m");
  check(std::equal(wire->begin(), wire->end(), bytes.begin(), bytes.end()),
        "serializeCoap(parseCoap(x)) == x");
  return 0;
}
