#pragma once
// A cap on messages per sender in any hour ([sms] incoming_per_hour): the SMS binding lets a
// device make the gateway work (a database transaction per request) and spend money (an SMS
// per answer), so one number gets at most this many messages handled per sliding hour; the
// rest are logged and ignored. Pure code: time from the injected Clock; memory bounded in
// senders (the least recently active is forgotten first) and, per sender, by the cap.
#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "gateway/core/clock.h"

namespace lwgate::modem {

class HourlyLimit {
 public:
  HourlyLimit(const core::Clock& clock, unsigned perHour, std::size_t maxSenders = 1024);
  void setLimit(unsigned perHour) { perHour_ = perHour; }
  unsigned limit() const { return perHour_; }

  // Whether one more message from `sender` is within the cap; an accepted one is counted,
  // a refused one is not (a sender that keeps sending gets its cap again each hour).
  bool take(std::string_view sender);
  // Accepted messages from the sender in the last hour.
  unsigned count(std::string_view sender) const;
  std::size_t senders() const { return senders_.size(); }

 private:
  void prune(std::deque<core::SteadyTime>& times) const;

  const core::Clock& clock_;
  unsigned perHour_;
  std::size_t maxSenders_;
  std::map<std::string, std::deque<core::SteadyTime>, std::less<>> senders_;
};

}  // namespace lwgate::modem
