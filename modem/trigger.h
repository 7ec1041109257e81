#pragma once
// The Registration Update Trigger as a CoAP message for an SMS: an Execute of /1/<instance>/8
// (LwM2M TS Core 1.1 E.2, Server object resource 8 "Registration Update Trigger"; resource 11
// in spec/cr-sms-registration-update-trigger.txt, renumbered before 1.0): a confirmable POST
// without payload (RFC 7252 3). Over SMS CoAP does not retransmit (TS 9.3.3); the device answers
// over SMS, then sends its Update over UDP. Pure code.
#include <cstdint>
#include <span>
#include <vector>

namespace lwgate::modem {

std::vector<std::uint8_t> registrationUpdateTrigger(std::uint16_t instance, std::uint16_t messageId,
                                                    std::span<const std::uint8_t> token);

}  // namespace lwgate::modem
