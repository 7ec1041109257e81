#pragma once
// The SMS side of the daemon (issue 5): the modem thread, the wake policy, the SMS log. When a
// sleeping queue-mode device has a request waiting, the daemon asks wakeIfNeeded(); if the
// policy agrees, a Registration Update Trigger (CoAP POST /1/x/8) is logged in sms_log, then
// handed to the modem thread; what the modem reports back (sent with its message reference,
// failed, delivery reports, received SMS, health) comes in through processEvents() when the
// worker's eventfd is readable. Runs on the main thread; without a modem ([modem] backend =
// "none") it does nothing but keep the budgets.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "db/sms_log_store.h"
#include "gateway/core/device_settings.h"
#include "gateway/core/downlink.h"
#include "gateway/core/queue.h"
#include "gateway/core/registration.h"
#include "gateway/core/wake_policy.h"
#include "gateway/daemon/sms_transport.h"
#include "modem/worker.h"

namespace lwgate::daemon {

struct SmsConfig {
  std::string backend = "none";  // "none" or "gammu"
  std::string gammuConfig;
  core::Millis pollInterval{10'000};
  core::WakeConfig wake;
  core::Seconds validity{86'400};
};

// A wake decision worth telling (the D-Bus WakeDecision signal): every trigger sent, every send
// the modem failed, an operator's refused Wake, and an automatic refusal when it differs from
// the device's previous decision (budget, no SMS number, no server instance), so a device that
// stays over budget is told once, not at every scan.
struct WakeReport {
  std::string endpoint;
  bool sent = false;
  std::string kind;        // "sent", "failed" (the modem could not send it), or a core::verdictName
  std::string reason;      // for people
  std::int64_t smsId = 0;  // the sms_log row, 0 when nothing was logged
};

// An operator's wake-up (Sms::wakeNow): the SMS log id when a trigger went to the modem, else
// the refusal.
struct ManualWake {
  std::int64_t smsId = 0;
  core::WakeDecision decision;
};

// What the SMS side asks the daemon about devices.
class SmsDevices {
 public:
  virtual ~SmsDevices() = default;
  virtual const core::Registration* smsRegistration(std::string_view endpoint) = 0;
  virtual const core::DeviceSettings* smsSettings(std::string_view endpoint) = 0;
  virtual bool smsReachable(std::string_view endpoint) = 0;
  // What waits in the device's queue (not in flight), if anything.
  virtual std::optional<core::DownlinkQueue::Waiting> smsWaiting(std::string_view endpoint) = 0;
  // The endpoint whose SMS number this is; "" for none.
  virtual std::string smsEndpointFor(std::string_view msisdn) = 0;
  // The modem's state changed (for D-Bus ModemState; the lead wires it).
  virtual void modemHealth(const modem::Health& health) { (void)health; }
  // A decision to tell (WakeReport).
  virtual void wakeDecision(const WakeReport& report) { (void)report; }
};

class Sms final : public SmsSender {
 public:
  Sms(const core::Clock& clock, db::Connection& connection, SmsConfig config, SmsDevices& devices);
  ~Sms();

  // Opens the SMS log, restores the budgets from it, starts the modem thread if configured.
  Result<void> open();
  // The modem thread's eventfd to watch; -1 without a modem.
  int eventFd() const { return worker_ ? worker_->eventFd() : -1; }
  void processEvents();

  // A request waits for this device: sends a trigger if the wake policy says so.
  void wakeIfNeeded(std::string_view endpoint);
  // The operator's Wake: a trigger now, within the back-off and budgets unless force (then it
  // is still logged and counted). kNotFound when the device is not known at all, kStorage when
  // the SMS log cannot be written; refusals are in the answer.
  Result<ManualWake> wakeNow(std::string_view endpoint, bool force);
  // Any message from the device: its trigger did its job.
  void deviceHeard(std::string_view endpoint) {
    policy_.deviceHeard(endpoint);
    lastVerdict_.erase(std::string(endpoint));
  }
  // When a device refused for its back-off may be woken next (the wake scan's timer).
  std::optional<core::SteadyTime> nextBackOffEnd() const { return policy_.nextBackOffEnd(); }
  // The SMS log for ListSms.
  Result<std::vector<db::SmsLogEntry>> list(const db::SmsLogFilter& filter) {
    return log_->list(filter);
  }

  // Budgets and back-off take effect at once; the modem settings at the next start.
  void setConfig(const SmsConfig& config);

  // The SMS binding (sms_transport.h): told about received messages and sent CoAP SMS.
  void setUplink(SmsUplink* uplink) { uplink_ = uplink; }
  // SmsSender
  Result<std::int64_t> sendCoap(std::string_view endpoint, std::string_view msisdn,
                                std::span<const std::uint8_t> message,
                                std::optional<std::int64_t> requestId) override;
  void markIncoming(std::int64_t logId, std::string_view status, std::string_view detail) override;
  const modem::Health& health() const { return health_; }

 private:
  std::optional<std::uint16_t> serverInstance(const core::Registration* reg,
                                              const core::DeviceSettings* settings);
  // Logs the trigger in sms_log, counts it, hands it to the modem; the log id.
  Result<std::int64_t> sendTrigger(const std::string& endpoint, const std::string& number,
                                   std::uint16_t instance, std::optional<std::int64_t> requestId,
                                   const std::string& reason);
  // An automatic decision: logged, and told when it is one worth telling and differs from the
  // device's previous one.
  void note(const std::string& endpoint, const core::WakeDecision& decision,
            std::optional<std::int64_t> requestId);

  const core::Clock& clock_;
  db::Connection& connection_;
  SmsConfig config_;
  SmsDevices& devices_;
  core::WakePolicy policy_;
  std::unique_ptr<db::SqliteSmsLog> log_;
  std::unique_ptr<modem::Worker> worker_;
  modem::Health health_;
  struct Pending {
    std::string endpoint;
    unsigned parts;
    bool coap = false;  // CoAP over SMS (the binding), else a trigger
  };
  std::map<std::int64_t, Pending> sending_;  // sms_log id -> what the worker is sending
  SmsUplink* uplink_ = nullptr;
  std::uint16_t concatReference_ = 0;  // of CoAP messages that need several SMS
  // The last automatic decision per device with work waiting, until it is heard from.
  std::map<std::string, core::WakeVerdict, std::less<>> lastVerdict_;
};

}  // namespace lwgate::daemon
