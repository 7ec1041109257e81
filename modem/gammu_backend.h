#pragma once
// The libgammu backend: any connection gammu knows (an AT modem on /dev/ttyUSBx, the dummy
// driver for demos and tests), configured by a gammurc file. The one place where libgammu's
// handles and GSM_Error codes become ours; libgammu's headers stay in the .cpp.
#include <memory>
#include <string>

#include "gateway/core/clock.h"
#include "modem/backend.h"

namespace lwgate::modem {

struct GammuOptions {
  std::string configPath;  // gammurc: [gammu] device, connection (at, none), model (dummy), ...
  // How long to wait for the modem's answer to one AT+CMGS (the network's, really).
  core::Seconds sendTimeout{60};
};

std::unique_ptr<Backend> makeGammuBackend(const GammuOptions& options);

// TP-VP in the relative format (3GPP TS 23.040 9.2.3.12.1) for at least `validity`: 5-minute
// steps to 12 hours, 30-minute steps to a day, days to 30 days, weeks to 63 weeks (the most).
std::uint8_t relativeValidity(core::Seconds validity);

}  // namespace lwgate::modem
