#pragma once
// Whether to wake a sleeping device with an SMS Registration Update Trigger (an Execute of
// /1/x/8 in a binary SMS; spec/cr-sms-registration-update-trigger.txt, Queue Mode with SMS
// trigger): only a queue-mode device that is asleep, has a request due and an SMS number, and
// whose next regular Update would come too late for that request; one trigger outstanding per
// device, a back-off before another, and SMS budgets per device (hour, day) and overall (day),
// because every SMS costs money. Sans-I/O: the clock is injected, the history the budgets count
// is handed in at start-up (from the SMS log) and told as triggers go out, and every decision
// carries its reason for the log.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.h"

namespace lwgate::core {

struct WakeConfig {
  Seconds backoff{600};  // [sms] backoff: another trigger to a device only this long after one
  unsigned perDevicePerHour = 2;  // [sms] per_device_per_hour
  unsigned perDevicePerDay = 6;   // [sms] per_device_per_day
  unsigned globalPerDay = 500;    // [sms] global_per_day
  // The regular Update must come this much before the request's deadline to count as soon
  // enough: the request still has to be sent and answered after it.
  Seconds updateSlack{60};
};

// What the policy needs to know about a device with a request due.
struct WakeCandidate {
  std::string endpoint;
  bool registered = false;
  bool queueMode = false;
  bool asleep = false;    // the queue cannot send to it now
  std::string smsNumber;  // empty: none known
  // The regular Update comes at the latest one lifetime after the last Register/Update.
  WallTime lastUpdate{};
  Seconds lifetime{0};
  std::optional<WallTime> deadline;  // of the due request; none: it can wait for the Update
  bool urgent = false;               // the caller asked for a wake-up now
};

// What a decision came to, for callers that act on it (D-Bus error names, the WakeDecision
// signal) and for telling a changed decision from a repeated one.
enum class WakeVerdict : std::uint8_t {
  kSend,              // send a trigger now
  kNotNeeded,         // not registered, not in queue mode, awake, or the regular Update is early
                      // enough for the deadline
  kNoSmsNumber,       // no SMS number known for the device
  kNoServerInstance,  // this gateway's /1/x on the device is not known (decided by the caller)
  kOutstanding,       // a trigger is on its way and the back-off has not run out
  kBackOff,           // the last trigger was less than [sms] backoff ago
  kBudget,            // a budget is used up; budget names which
  kNoModem,           // no modem to send with (decided by the caller)
};
// "sent", "not-needed", "no-sms-number", "no-server-instance", "outstanding", "back-off",
// "budget", "no-modem".
std::string_view verdictName(WakeVerdict verdict);

struct WakeDecision {
  bool send = false;
  std::string reason;  // one line for the log, whichever way it went
  WakeVerdict verdict = WakeVerdict::kNotNeeded;
  // kBudget: the exhausted budget's [sms] key ("per_device_per_hour", "per_device_per_day",
  // "global_per_day").
  std::string budget;
};

// An SMS sent earlier (from the SMS log at start-up): budgets and the back-off count it.
struct SentSms {
  std::string endpoint;  // empty for SMS to no known device: they count only overall
  WallTime at{};
  unsigned parts = 1;
  bool failed = false;  // never left the modem: counts for the back-off, not the budgets
  // A Registration Update Trigger; other SMS (CoAP over SMS, "coap" in the SMS log) count only
  // in the overall daily budget.
  bool trigger = true;
};

class WakePolicy {
 public:
  WakePolicy(const Clock& clock, WakeConfig config);
  void setConfig(const WakeConfig& config) { config_ = config; }
  const WakeConfig& config() const { return config_; }

  // Start-up: what the SMS log says was sent in the last day. Wall times are turned into steady
  // ones (a time in the future, from a clock that went back, counts as now).
  void restore(const std::vector<SentSms>& history);

  WakeDecision decide(const WakeCandidate& device) const;
  // An operator's wake-up (D-Bus Wake): only the back-off and the budgets apply, and force
  // lifts those too (the SMS is still told with sent() and counted).
  WakeDecision decideNow(std::string_view endpoint, bool force) const;

  // When the earliest back-off now running ends: a device refused for its back-off may get its
  // next trigger then, without anything else happening (the daemon's wake scan timer).
  std::optional<SteadyTime> nextBackOffEnd() const;

  // A trigger (or other SMS of `parts` parts) was handed to the modem: it is outstanding and
  // counts for the back-off and the budgets from now.
  void sent(std::string_view endpoint, unsigned parts = 1);
  // The modem could not send it: no longer outstanding and not counted in the budgets (it cost
  // nothing); the back-off still holds, so a broken modem is not hammered.
  void sendFailed(std::string_view endpoint, unsigned parts = 1);
  // Any message from the device: its trigger, if any, has done its job.
  void deviceHeard(std::string_view endpoint);

  bool outstanding(std::string_view endpoint) const;

  // Any other SMS (the SMS binding: CoAP requests and answers by SMS) spends the overall daily
  // budget only: the per-device budgets and the back-off are about triggers. Whether `parts`
  // more SMS fit in it, with the reason either way.
  WakeDecision allowsOther(unsigned parts) const;
  void sentOther(unsigned parts);
  void otherFailed(unsigned parts);  // never left the modem: not counted

 private:
  struct Sent {
    SteadyTime at;
    unsigned parts;
  };
  struct Device {
    std::deque<Sent> sent;  // the last day, oldest first
    std::optional<SteadyTime> lastAttempt;
    bool outstanding = false;
  };
  // Drops entries older than a day (mutable: counting is logically const).
  void prune() const;
  static unsigned countSince(const std::deque<Sent>& sent, SteadyTime since);
  static void unsend(std::deque<Sent>& sent, unsigned parts);
  // The back-off and the budgets for one device; nullopt when they allow a send, with
  // `allowed` set to the counts for the log line.
  std::optional<WakeDecision> limits(std::string_view endpoint, std::string* allowed) const;

  const Clock& clock_;
  WakeConfig config_;
  mutable std::map<std::string, Device, std::less<>> devices_;
  mutable std::deque<Sent> global_;
};

}  // namespace lwgate::core
