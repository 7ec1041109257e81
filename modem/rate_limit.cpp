#include "modem/rate_limit.h"

#include <algorithm>

namespace lwgate::modem {
namespace {
constexpr core::Seconds kHour{3600};
}  // namespace

HourlyLimit::HourlyLimit(const core::Clock& clock, unsigned perHour, std::size_t maxSenders)
    : clock_(clock), perHour_(perHour), maxSenders_(std::max<std::size_t>(maxSenders, 1)) {}

void HourlyLimit::prune(std::deque<core::SteadyTime>& times) const {
  const core::SteadyTime hourAgo = clock_.steadyNow() - kHour;
  while (!times.empty() && times.front() <= hourAgo) times.pop_front();
}

bool HourlyLimit::take(std::string_view sender) {
  auto it = senders_.find(sender);
  if (it == senders_.end()) {
    if (perHour_ == 0) return false;
    if (senders_.size() >= maxSenders_) {
      // Forget the senders with nothing in the last hour; if none, the least recently active.
      for (auto s = senders_.begin(); s != senders_.end();) {
        prune(s->second);
        s = s->second.empty() ? senders_.erase(s) : std::next(s);
      }
      if (senders_.size() >= maxSenders_) {
        auto oldest = std::min_element(
            senders_.begin(), senders_.end(),
            [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
        senders_.erase(oldest);
      }
    }
    it = senders_.emplace(std::string(sender), std::deque<core::SteadyTime>{}).first;
  }
  auto& times = it->second;
  prune(times);
  if (times.size() >= perHour_) {
    if (times.empty()) senders_.erase(it);
    return false;
  }
  times.push_back(clock_.steadyNow());
  return true;
}

unsigned HourlyLimit::count(std::string_view sender) const {
  auto it = senders_.find(sender);
  if (it == senders_.end()) return 0;
  const core::SteadyTime hourAgo = clock_.steadyNow() - kHour;
  return static_cast<unsigned>(std::count_if(it->second.begin(), it->second.end(),
                                             [&](core::SteadyTime t) { return t > hourAgo; }));
}

}  // namespace lwgate::modem
