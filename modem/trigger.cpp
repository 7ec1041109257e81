#include "modem/trigger.h"

#include <cassert>
#include <string>

#include "modem/coap_message.h"

namespace lwgate::modem {

std::vector<std::uint8_t> registrationUpdateTrigger(std::uint16_t instance, std::uint16_t messageId,
                                                    std::span<const std::uint8_t> token) {
  assert(token.size() <= kMaxTokenLength);
  constexpr std::uint8_t kPost = 0x02;
  CoapMessage m;
  m.type = CoapType::kCon;
  m.code = kPost;
  m.messageId = messageId;
  m.token.assign(token.begin(), token.end());
  m.add(coap_option::kUriPath, "1");
  m.add(coap_option::kUriPath, std::to_string(instance));
  m.add(coap_option::kUriPath, "8");
  auto bytes = serializeCoap(m);
  assert(bytes.ok());  // a token of at most 8 bytes and short options always serialize
  return std::move(*bytes);
}

}  // namespace lwgate::modem
