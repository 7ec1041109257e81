#include "gateway/daemon/sms.h"

#include <sys/random.h>

#include "gateway/util/log.h"
#include "modem/gammu_backend.h"
#include "modem/sms_codec.h"
#include "modem/trigger.h"

namespace lwgate::daemon {
namespace {

// Message ID and token of a trigger. Random: an SMS may arrive long after it was sent, and
// the device must not take it for a duplicate of an earlier one (RFC 7252 4.4, 5.3.1).
void randomBytes(std::uint8_t* out, std::size_t n) {
  std::size_t got = 0;
  // getrandom(2) with flags 0 only blocks before the kernel's pool is initialised at boot.
  for (int tries = 0; got < n && tries < 100; ++tries) {
    ssize_t r = getrandom(out + got, n - got, 0);
    if (r > 0) got += static_cast<std::size_t>(r);
  }
}

std::string deliveryStatus(int tpSt) {
  // TS 23.040 9.2.3.15: 0..31 the SM was delivered (or is being, 32..63 still tried), 64+ the
  // SMSC gave up.
  if (tpSt >= 0 && tpSt < 32) return "delivered";
  if (tpSt >= 32 && tpSt < 64) return "pending";
  return "failed";
}

}  // namespace

Sms::Sms(const core::Clock& clock, db::Connection& connection, SmsConfig config,
         SmsDevices& devices)
    : clock_(clock),
      connection_(connection),
      config_(std::move(config)),
      devices_(devices),
      policy_(clock, config_.wake) {}

Sms::~Sms() = default;

Result<void> Sms::open() {
  auto log = db::SqliteSmsLog::create(connection_);
  if (!log) return log.error();
  log_ = std::move(*log);
  auto history = log_->outgoingSince(clock_.wallNow() - std::chrono::hours(24));
  if (!history) return history.error();
  policy_.restore(*history);

  if (config_.backend != "gammu") {
    log::notice("LWG5005 no modem ([modem] backend = \"none\"): no SMS wake-up, no SMS binding");
    return {};
  }
  modem::WorkerConfig wc;
  wc.pollInterval = config_.pollInterval;
  wc.send.validity = config_.validity;
  auto worker = modem::Worker::start(
      modem::makeGammuBackend({config_.gammuConfig, core::Seconds(60)}), wc, clock_);
  if (!worker) return worker.error();
  worker_ = std::move(*worker);
  log::notice("LWG5006 modem thread started (gammu, {}); {} SMS sent in the last day",
              config_.gammuConfig, history->size());
  return {};
}

void Sms::setConfig(const SmsConfig& config) {
  config_.wake = config.wake;
  policy_.setConfig(config.wake);
}

std::optional<std::uint16_t> Sms::serverInstance(const core::Registration* reg,
                                                 const core::DeviceSettings* settings) {
  // The same rule as the lifetime read (downlink.cpp): the device's object links when they
  // list exactly one Server object instance, else the operator's per-device setting.
  if (reg) {
    if (const auto listed = reg->serverInstances(); listed.size() == 1) return listed.front();
  }
  if (settings && settings->serverInstance) return settings->serverInstance;
  return std::nullopt;
}

namespace {

// Refusals an operator should hear about without turning on debug logs: they do not go away by
// themselves (a budget only as the day goes by).
bool worthTelling(core::WakeVerdict v) {
  return v == core::WakeVerdict::kBudget || v == core::WakeVerdict::kNoSmsNumber ||
         v == core::WakeVerdict::kNoServerInstance;
}

std::string numberOf(const core::Registration* reg, const core::DeviceSettings* settings) {
  if (reg && !reg->smsNumber.empty()) return reg->smsNumber;
  if (settings && !settings->smsNumber.empty()) return settings->smsNumber;
  // Registered by SMS from this number (the SMS binding).
  if (reg && reg->peer.transport == "sms") return reg->peer.address;
  return {};
}

constexpr const char* kNoInstance =
    "its object links do not name exactly one Server object instance and no server_instance is "
    "set for it";

}  // namespace

void Sms::note(const std::string& endpoint, const core::WakeDecision& decision,
               std::optional<std::int64_t> requestId) {
  const std::string request = requestId ? std::to_string(*requestId) : "-";
  auto [it, fresh] = lastVerdict_.try_emplace(endpoint, decision.verdict);
  const bool changed = fresh || it->second != decision.verdict;
  it->second = decision.verdict;
  if (!changed || !worthTelling(decision.verdict)) {
    log::debug("LWG5012 no trigger SMS for {} (request {}): {}", endpoint, request,
               decision.reason);
    return;
  }
  if (decision.verdict == core::WakeVerdict::kNoServerInstance) {
    log::notice("LWG5013 cannot wake {} by SMS: {}", endpoint, decision.reason);
  } else {
    log::notice("LWG5200 no trigger SMS for {} (request {}): {}", endpoint, request,
                decision.reason);
  }
  devices_.wakeDecision(
      {endpoint, false, std::string(core::verdictName(decision.verdict)), decision.reason, 0});
}

void Sms::wakeIfNeeded(std::string_view endpoint) {
  if (!worker_) return;
  const core::Registration* reg = devices_.smsRegistration(endpoint);
  const core::DeviceSettings* settings = devices_.smsSettings(endpoint);
  auto waiting = devices_.smsWaiting(endpoint);
  if (!waiting) return;
  const std::string ep(endpoint);

  core::WakeCandidate c;
  c.endpoint = ep;
  c.registered = reg != nullptr;
  c.queueMode = reg && reg->queueMode();
  c.asleep = !devices_.smsReachable(endpoint);
  c.smsNumber = numberOf(reg, settings);
  if (reg) {
    c.lastUpdate = reg->updatedAt;
    c.lifetime = core::Seconds(reg->lifetime);
  }
  c.deadline = waiting->deadline;
  c.urgent = waiting->urgent;
  auto decision = policy_.decide(c);
  if (!decision.send) {
    note(ep, decision, waiting->requestId);
    return;
  }
  auto instance = serverInstance(reg, settings);
  if (!instance) {
    note(ep, {false, kNoInstance, core::WakeVerdict::kNoServerInstance, {}}, waiting->requestId);
    return;
  }
  lastVerdict_[ep] = core::WakeVerdict::kSend;
  (void)sendTrigger(ep, c.smsNumber, *instance, waiting->requestId, decision.reason);
}

Result<ManualWake> Sms::wakeNow(std::string_view endpoint, bool force) {
  const core::Registration* reg = devices_.smsRegistration(endpoint);
  const core::DeviceSettings* settings = devices_.smsSettings(endpoint);
  const std::string ep(endpoint);
  auto refuse = [&](core::WakeVerdict verdict, std::string why) -> Result<ManualWake> {
    ManualWake w;
    w.decision = {false, std::move(why), verdict, {}};
    log::notice("LWG5201 wake of {} asked over D-Bus{}, refused: {}", ep, force ? " (force)" : "",
                w.decision.reason);
    devices_.wakeDecision(
        {ep, false, std::string(core::verdictName(verdict)), w.decision.reason, 0});
    return w;
  };
  if (!worker_) {
    return refuse(core::WakeVerdict::kNoModem,
                  "no modem is configured ([modem] backend = \"none\")");
  }
  const std::string number = numberOf(reg, settings);
  if (number.empty()) {
    return refuse(core::WakeVerdict::kNoSmsNumber,
                  "no SMS number is known for it (it registered without sms=; set one with "
                  "lwgatectl settings " +
                      ep + " sms_number=+NUMBER)");
  }
  auto instance = serverInstance(reg, settings);
  if (!instance) {
    return refuse(core::WakeVerdict::kNoServerInstance,
                  std::string(kNoInstance) + " (lwgatectl settings " + ep + " server_instance=N)");
  }
  if (!health_.connected) {
    return refuse(core::WakeVerdict::kNoModem,
                  "the modem is not connected" +
                      (health_.error.empty() ? std::string() : ": " + health_.error));
  }
  auto decision = policy_.decideNow(endpoint, force);
  if (!decision.send) {
    auto refused = refuse(decision.verdict, decision.reason);
    refused->decision.budget = decision.budget;
    return refused;
  }
  std::optional<std::int64_t> requestId;
  if (auto waiting = devices_.smsWaiting(endpoint)) requestId = waiting->requestId;
  log::info("LWG5201 wake of {} asked over D-Bus{}", ep, force ? " (force)" : "");
  auto id = sendTrigger(ep, number, *instance, requestId, decision.reason);
  if (!id) return id.error();
  lastVerdict_[ep] = core::WakeVerdict::kSend;
  ManualWake w;
  w.smsId = *id;
  w.decision = decision;
  return w;
}

Result<std::int64_t> Sms::sendTrigger(const std::string& endpoint, const std::string& number,
                                      std::uint16_t instance, std::optional<std::int64_t> requestId,
                                      const std::string& reason) {
  std::uint8_t ids[6] = {};
  randomBytes(ids, sizeof ids);
  const std::uint16_t mid = static_cast<std::uint16_t>(ids[0] << 8 | ids[1]);
  auto message = modem::registrationUpdateTrigger(instance, mid, std::span(ids + 2, 4));
  auto parts = modem::segment(message);
  if (!parts) {  // cannot happen for 14..18 bytes; a bug if it does
    log::error("LWG5014 cannot frame the trigger SMS for {}: {}", endpoint, parts.error().message);
    return parts.error();
  }
  const auto count = static_cast<unsigned>(parts->size());
  // Logged (committed) before it is handed to the modem: budgets count what may have gone out.
  auto id = log_->insertOutgoing(endpoint, number, "trigger", requestId, count, clock_.wallNow());
  if (!id) {
    log::error("LWG5014 cannot log the trigger SMS for {}, not sending it: {}", endpoint,
               id.error().message);
    return id.error();
  }
  policy_.sent(endpoint, count);
  sending_[*id] = {endpoint, count};
  log::info("LWG5010 trigger SMS for {} to {} (POST /1/{}/8, request {}): {}", endpoint, number,
            instance, requestId ? std::to_string(*requestId) : "-", reason);
  worker_->send({*id, number, std::move(*parts)});
  devices_.wakeDecision({endpoint, true, "sent", reason, *id});
  return *id;
}

// A CoAP message of the SMS binding needs at most this many SMS; the cost of more (each is
// paid for, and each must arrive) is not worth it, and reassembly on the devices is limited too.
constexpr std::size_t kMaxCoapParts = 8;

Result<std::int64_t> Sms::sendCoap(std::string_view endpoint, std::string_view msisdn,
                                   std::span<const std::uint8_t> message,
                                   std::optional<std::int64_t> requestId) {
  if (!worker_) return makeError(ErrorCode::kLimitReached, "no modem ([modem] backend = \"none\")");
  modem::SegmentOptions options;
  options.reference = ++concatReference_;
  options.maxParts = kMaxCoapParts;
  auto parts = modem::segment(message, options);
  if (!parts) return parts.error();
  const auto count = static_cast<unsigned>(parts->size());
  // Never past the budget (DESIGN.md "Wake": budgets cap cost), whatever the SMS is for.
  if (auto budget = policy_.allowsOther(count); !budget.send) {
    return makeError(ErrorCode::kLimitReached, budget.reason);
  }
  // Logged (committed) before it is handed to the modem, like a trigger.
  auto id = log_->insertOutgoing(endpoint, msisdn, "coap", requestId, count, clock_.wallNow());
  if (!id) return id.error();
  policy_.sentOther(count);
  sending_[*id] = {std::string(endpoint), count, /*coap=*/true};
  worker_->send({*id, std::string(msisdn), std::move(*parts)});
  return *id;
}

void Sms::markIncoming(std::int64_t logId, std::string_view status, std::string_view detail) {
  if (auto u = log_->updateStatus(logId, status, std::nullopt, detail, clock_.wallNow()); !u) {
    log::error("LWG5014 cannot record the status of SMS {}: {}", logId, u.error().message);
  }
}

void Sms::processEvents() {
  if (!worker_) return;
  // Bounded by what the worker queued since the last call.
  for (auto& event : worker_->takeEvents()) {
    const core::WallTime now = clock_.wallNow();
    if (auto* done = std::get_if<modem::SendDone>(&event)) {
      Pending p{"", 1};
      if (auto it = sending_.find(done->id); it != sending_.end()) {
        p = it->second;
        sending_.erase(it);
      }
      std::optional<std::int64_t> reference;
      if (done->reference) reference = *done->reference;
      if (auto u = log_->updateStatus(done->id, done->ok ? "sent" : "failed", reference,
                                      done->error, now);
          !u) {
        log::error("LWG5014 cannot record the result of SMS {}: {}", done->id, u.error().message);
      }
      if (p.coap) {
        // The SMS binding: the transport knows what it carried.
        if (done->ok) {
          log::debug("LWG5311 CoAP SMS {} to {} sent (message reference {})", done->id,
                     done->msisdn, done->reference.value_or(-1));
        } else {
          policy_.otherFailed(p.parts);
          log::warning("LWG5312 CoAP SMS {} to {} failed: {}", done->id, done->msisdn, done->error);
        }
        if (uplink_) uplink_->sent(done->id, done->ok, done->error);
      } else if (done->ok) {
        log::info("LWG5011 trigger SMS for {} sent to {} (message reference {})", p.endpoint,
                  done->msisdn, done->reference.value_or(-1));
      } else {
        policy_.sendFailed(p.endpoint, p.parts);
        log::warning("LWG5015 trigger SMS for {} to {} failed: {}", p.endpoint, done->msisdn,
                     done->error);
        devices_.wakeDecision(
            {p.endpoint, false, "failed", "the modem could not send it: " + done->error, done->id});
      }
    } else if (auto* report = std::get_if<modem::DeliveryReport>(&event)) {
      const std::string status = deliveryStatus(report->status);
      auto matched = log_->updateByReference(report->msisdn, report->reference, status,
                                             "TP-ST " + std::to_string(report->status), now);
      log::info("LWG5016 delivery report from the SMS centre: SMS {} to {} {}{}", report->reference,
                report->msisdn, status, matched && *matched ? "" : " (no such SMS in the log)");
    } else if (auto* received = std::get_if<modem::ReceivedMessage>(&event)) {
      const auto& m = received->message;
      const std::string endpoint = devices_.smsEndpointFor(m.msisdn);
      // SMS from numbers that are no device's (nor allowed to register by SMS) are logged and
      // never answered; the binding also caps how many it handles per number.
      const SmsUplink::Admission admission =
          uplink_
              ? uplink_->admit(m.msisdn, endpoint)
              : SmsUplink::Admission{!endpoint.empty(), endpoint.empty() ? "ignored" : "received",
                                     endpoint.empty() ? "not a known device's number" : ""};
      auto stored = log_->insertIncoming(endpoint, m.msisdn, "coap", static_cast<unsigned>(m.parts),
                                         m.message, admission.status, admission.detail, now);
      if (!stored) {
        // Left on the modem: the next start lists it again.
        log::error("LWG5014 cannot store an SMS from {}, leaving it on the modem: {}", m.msisdn,
                   stored.error().message);
        continue;
      }
      worker_->remove(m.handles);
      if (!admission.accepted) {
        log::notice("LWG5020 SMS {} from {} ({} bytes) ignored: {}", *stored, m.msisdn,
                    m.message.size(), admission.detail);
      } else {
        log::info("LWG5021 SMS {} from {} ({}, {} bytes) stored", *stored, m.msisdn,
                  endpoint.empty() ? "allowed by [sms] allow" : endpoint, m.message.size());
        if (uplink_) uplink_->received(*stored, m.msisdn, endpoint, m.message);
      }
    } else if (auto* dropped = std::get_if<modem::DroppedParts>(&event)) {
      log::info("LWG5022 SMS from {} dropped: {}", dropped->dropped.msisdn,
                dropped->dropped.reason);
    } else if (auto* health = std::get_if<modem::Health>(&event)) {
      health_ = *health;
      devices_.modemHealth(health_);
    }
  }
}

}  // namespace lwgate::daemon
