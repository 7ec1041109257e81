#pragma once
// What an operator sets per device (D-Bus SetDeviceSettings, lwgatectl), kept in the devices
// table across registrations and restarts. Unset fields follow the configuration or the
// registration.
#include <cstdint>
#include <optional>
#include <string>

#include "gateway/core/clock.h"

namespace lwgate::core {

struct DeviceSettings {
  // How long this queue-mode device counts as awake after its last message ([queue]
  // awake_window otherwise).
  std::optional<Millis> awakeWindow;
  // The MSISDN for the SMS wake-up when the device registers without sms=; "" when unset.
  std::string smsNumber;
  // This gateway's Server object instance on the device (/1/<x>), when its object links do not
  // say which one it is.
  std::optional<std::uint16_t> serverInstance;

  bool operator==(const DeviceSettings&) const = default;
};

}  // namespace lwgate::core
