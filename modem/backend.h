#pragma once
// What the modem worker needs from a modem: connect, send one SMS part, list and delete stored
// SMS, tell its health. GammuBackend is the real one (libgammu: AT modems, the dummy driver);
// tests use a fake. A backend is used from one thread only (the worker's).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/util/result.h"
#include "modem/sms_codec.h"

namespace lwgate::modem {

// The modem as operators see it (D-Bus ModemState, lwgatectl modem). Strings, not enums: they
// go out as they are.
struct Health {
  bool connected = false;
  std::string sim = "unknown";       // "ready", "pin-required", "puk-required", "locked", "absent"
  std::string network = "unknown";   // "home", "roaming", "searching", "denied", "none"
  std::optional<int> signalPercent;  // 0..100
  std::optional<int> signalDbm;
  std::string manufacturer;
  std::string model;
  std::string imei;
  std::string error;  // why it is not connected, or the last failed check
  bool operator==(const Health&) const = default;
};

struct SendOptions {
  bool statusReport = true;  // TP-SRR: ask the SMS centre for a delivery report
  // TP-VP, relative: how long the SMS centre keeps trying a device that is off.
  core::Seconds validity{86'400};
};

// One SMS as the modem stores it.
struct StoredSms {
  // kUndecodable: stored where a received SMS would be, but the backend cannot decode it
  // (garbage from the network or a broken modem); `detail` says why.
  enum class Kind : std::uint8_t { kDeliver, kStatusReport, kOther, kUndecodable };
  std::uint64_t handle = 0;  // where it is stored, for remove()
  Kind kind = Kind::kOther;
  std::string msisdn;  // sender (deliver) or recipient (status report)
  bool eightBit = false;
  std::vector<std::uint8_t> header;  // UDH with its length octet; empty when none
  std::vector<std::uint8_t> data;    // 8-bit user data after the header
  int reference = -1;                // status report: TP-MR of the SMS it reports on
  int status = -1;                   // status report: TP-ST (0..31 delivered, 64+ failed)
  std::string detail;                // kUndecodable: the backend's error
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Opens the device and initialises the modem; identity fields of Health filled in.
  virtual Result<Health> connect() = 0;
  virtual void disconnect() = 0;
  // False before connect() and after a failure that means the device is gone (unplugged,
  // not answering): the worker then disconnects and connects again with back-off.
  virtual bool connected() const = 0;
  // Sends one part and waits (bounded) for the modem's answer: the TP-MR it gave the SMS.
  virtual Result<int> sendPart(const std::string& msisdn, const SmsPart& part,
                               const SendOptions& options) = 0;
  // Every SMS stored on the modem (received ones and status reports).
  virtual Result<std::vector<StoredSms>> list() = 0;
  virtual Result<void> remove(std::uint64_t handle) = 0;
  // SIM, network and signal now; identity fields are left as they are.
  virtual Result<void> check(Health& health) = 0;
};

}  // namespace lwgate::modem
