#include "gateway/core/wake_policy.h"

#include <algorithm>

namespace lwgate::core {
namespace {

constexpr Seconds kHour{3600};
constexpr Seconds kDay{86400};

template <class D>
long long secondsOf(D d) {
  return std::chrono::duration_cast<Seconds>(d).count();
}

std::string in(Seconds s) {
  return s.count() >= 0 ? "in " + std::to_string(s.count()) + "s"
                        : std::to_string(-s.count()) + "s ago";
}

}  // namespace

WakePolicy::WakePolicy(const Clock& clock, WakeConfig config) : clock_(clock), config_(config) {}

void WakePolicy::restore(const std::vector<SentSms>& history) {
  const SteadyTime steadyNow = clock_.steadyNow();
  const WallTime wallNow = clock_.wallNow();
  std::vector<std::pair<SteadyTime, const SentSms*>> sorted;
  for (const auto& h : history) {
    const auto age = std::clamp(std::chrono::duration_cast<Millis>(wallNow - h.at), Millis(0),
                                std::chrono::duration_cast<Millis>(kDay));
    sorted.emplace_back(steadyNow - age, &h);
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [at, h] : sorted) {
    if (!h->trigger) {
      if (!h->failed) global_.push_back({at, h->parts});
      continue;
    }
    Device* d = h->endpoint.empty() ? nullptr : &devices_[h->endpoint];
    if (d) d->lastAttempt = std::max(d->lastAttempt.value_or(at), at);
    if (h->failed) continue;
    global_.push_back({at, h->parts});
    if (d) d->sent.push_back({at, h->parts});
  }
  prune();
}

void WakePolicy::prune() const {
  const SteadyTime dayAgo = clock_.steadyNow() - kDay;
  auto drop = [&](std::deque<Sent>& q) {
    while (!q.empty() && q.front().at <= dayAgo) q.pop_front();
  };
  drop(global_);
  for (auto it = devices_.begin(); it != devices_.end();) {
    drop(it->second.sent);
    const bool idle = it->second.sent.empty() && !it->second.outstanding &&
                      (!it->second.lastAttempt || *it->second.lastAttempt <= dayAgo);
    it = idle ? devices_.erase(it) : std::next(it);
  }
}

unsigned WakePolicy::countSince(const std::deque<Sent>& sent, SteadyTime since) {
  unsigned n = 0;
  for (auto it = sent.rbegin(); it != sent.rend() && it->at > since; ++it) n += it->parts;
  return n;
}

void WakePolicy::unsend(std::deque<Sent>& sent, unsigned parts) {
  // The newest entry of that size: the failure follows its own hand-off, and whichever entry
  // of the same size goes, the counts come out the same.
  for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
    if (it->parts == parts) {
      sent.erase(std::next(it).base());
      return;
    }
  }
}

std::string_view verdictName(WakeVerdict verdict) {
  switch (verdict) {
    case WakeVerdict::kSend:
      return "sent";
    case WakeVerdict::kNotNeeded:
      return "not-needed";
    case WakeVerdict::kNoSmsNumber:
      return "no-sms-number";
    case WakeVerdict::kNoServerInstance:
      return "no-server-instance";
    case WakeVerdict::kOutstanding:
      return "outstanding";
    case WakeVerdict::kBackOff:
      return "back-off";
    case WakeVerdict::kBudget:
      return "budget";
    case WakeVerdict::kNoModem:
      return "no-modem";
  }
  return "?";
}

WakeDecision WakePolicy::decide(const WakeCandidate& c) const {
  auto no = [](std::string why, WakeVerdict verdict = WakeVerdict::kNotNeeded) {
    return WakeDecision{false, std::move(why), verdict, {}};
  };
  if (!c.registered) return no("not registered: there is no registration to update");
  if (!c.queueMode) return no("not in queue mode: requests go out without a trigger");
  if (!c.asleep) return no("awake: the queue sends now");
  if (c.smsNumber.empty()) {
    return no("no SMS number known for the device", WakeVerdict::kNoSmsNumber);
  }

  const WallTime wallNow = clock_.wallNow();
  const WallTime nextUpdate = c.lastUpdate + c.lifetime;
  const Seconds updateIn(secondsOf(nextUpdate - wallNow));
  std::string why;
  if (c.urgent) {
    why = "urgent request";
  } else if (!c.deadline) {
    return no("the request has no deadline and waits for the regular Update due " + in(updateIn));
  } else {
    const Seconds deadlineIn(secondsOf(*c.deadline - wallNow));
    if (nextUpdate + config_.updateSlack <= *c.deadline) {
      return no("the regular Update due " + in(updateIn) + " comes before the request's deadline " +
                in(deadlineIn));
    }
    why = "the regular Update due " + in(updateIn) + " is too late for the request's deadline " +
          in(deadlineIn);
  }
  std::string allowed;
  if (auto refused = limits(c.endpoint, &allowed)) return *refused;
  return {true, why + "; " + allowed, WakeVerdict::kSend, {}};
}

WakeDecision WakePolicy::decideNow(std::string_view endpoint, bool force) const {
  std::string allowed;
  auto refused = limits(endpoint, &allowed);
  if (!refused) return {true, "asked for by the operator; " + allowed, WakeVerdict::kSend, {}};
  if (force) {
    return {true,
            "asked for by the operator with force, overriding " + refused->reason,
            WakeVerdict::kSend,
            {}};
  }
  return *refused;
}

std::optional<WakeDecision> WakePolicy::limits(std::string_view endpoint,
                                               std::string* allowed) const {
  auto no = [](std::string why, WakeVerdict verdict, std::string budget = {}) {
    return WakeDecision{false, std::move(why), verdict, std::move(budget)};
  };
  prune();
  const SteadyTime now = clock_.steadyNow();
  unsigned hour = 0;
  unsigned day = 0;
  if (auto it = devices_.find(endpoint); it != devices_.end()) {
    const Device& d = it->second;
    if (d.lastAttempt && now - *d.lastAttempt < config_.backoff) {
      const auto ago = secondsOf(now - *d.lastAttempt);
      if (d.outstanding) {
        return no("a trigger sent " + std::to_string(ago) + "s ago is still outstanding",
                  WakeVerdict::kOutstanding);
      }
      return no("back-off: the last trigger was " + std::to_string(ago) + "s ago, another in " +
                    std::to_string(secondsOf(*d.lastAttempt + config_.backoff - now)) +
                    "s ([sms] backoff = " + std::to_string(config_.backoff.count()) + ")",
                WakeVerdict::kBackOff);
    }
    hour = countSince(d.sent, now - kHour);
    day = countSince(d.sent, now - kDay);
  }
  if (hour >= config_.perDevicePerHour) {
    return no("budget: " + std::to_string(hour) + " SMS to the device in the last hour " +
                  "(per_device_per_hour = " + std::to_string(config_.perDevicePerHour) + ")",
              WakeVerdict::kBudget, "per_device_per_hour");
  }
  if (day >= config_.perDevicePerDay) {
    return no("budget: " + std::to_string(day) + " SMS to the device in the last day " +
                  "(per_device_per_day = " + std::to_string(config_.perDevicePerDay) + ")",
              WakeVerdict::kBudget, "per_device_per_day");
  }
  const unsigned global = countSince(global_, now - kDay);
  if (global >= config_.globalPerDay) {
    return no("budget: " + std::to_string(global) + " SMS sent in the last day (global_per_day = " +
                  std::to_string(config_.globalPerDay) + ")",
              WakeVerdict::kBudget, "global_per_day");
  }
  *allowed = "SMS in budget: device " + std::to_string(hour) + "/" +
             std::to_string(config_.perDevicePerHour) + " this hour, " + std::to_string(day) + "/" +
             std::to_string(config_.perDevicePerDay) + " today, overall " + std::to_string(global) +
             "/" + std::to_string(config_.globalPerDay) + " today";
  return std::nullopt;
}

std::optional<SteadyTime> WakePolicy::nextBackOffEnd() const {
  const SteadyTime now = clock_.steadyNow();
  std::optional<SteadyTime> next;
  for (const auto& [endpoint, d] : devices_) {
    if (!d.lastAttempt) continue;
    const SteadyTime end = *d.lastAttempt + config_.backoff;
    if (end > now && (!next || end < *next)) next = end;
  }
  return next;
}

void WakePolicy::sent(std::string_view endpoint, unsigned parts) {
  const SteadyTime now = clock_.steadyNow();
  global_.push_back({now, parts});
  if (endpoint.empty()) return;
  auto it = devices_.find(endpoint);
  if (it == devices_.end()) it = devices_.emplace(std::string(endpoint), Device{}).first;
  it->second.sent.push_back({now, parts});
  it->second.lastAttempt = now;
  it->second.outstanding = true;
}

void WakePolicy::sendFailed(std::string_view endpoint, unsigned parts) {
  unsend(global_, parts);
  if (auto it = devices_.find(endpoint); it != devices_.end()) {
    unsend(it->second.sent, parts);
    it->second.outstanding = false;
  }
}

void WakePolicy::deviceHeard(std::string_view endpoint) {
  if (auto it = devices_.find(endpoint); it != devices_.end()) it->second.outstanding = false;
}

WakeDecision WakePolicy::allowsOther(unsigned parts) const {
  prune();
  const unsigned global = countSince(global_, clock_.steadyNow() - kDay);
  const std::string used = std::to_string(global) + " SMS sent in the last day (global_per_day = " +
                           std::to_string(config_.globalPerDay) + ")";
  if (global + parts > config_.globalPerDay) {
    return {false, "budget: " + used + ", this needs " + std::to_string(parts),
            WakeVerdict::kBudget, "global_per_day"};
  }
  return {true, used, WakeVerdict::kSend, {}};
}

void WakePolicy::sentOther(unsigned parts) {
  global_.push_back({clock_.steadyNow(), parts});
}

void WakePolicy::otherFailed(unsigned parts) {
  unsend(global_, parts);
}

bool WakePolicy::outstanding(std::string_view endpoint) const {
  auto it = devices_.find(endpoint);
  if (it == devices_.end() || !it->second.outstanding) return false;
  return clock_.steadyNow() - *it->second.lastAttempt < config_.backoff;
}

}  // namespace lwgate::core
