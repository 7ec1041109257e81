#pragma once
// Time for the state machines, injected so tests never sleep (see ManualClock in tests).
// Two clocks, because a router without an RTC jumps its wall clock when NTP syncs:
//  - steady time drives every in-memory deadline (lifetimes, awake windows, retries);
//  - wall time is what gets persisted (registration time, last seen), so deadlines can be
//    carried across a restart.
#include <chrono>

namespace lwgate::core {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime steadyNow() const = 0;
  virtual WallTime wallNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime steadyNow() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
};

// Milliseconds since the Unix epoch: how wall times are stored.
inline std::int64_t toUnixMillis(WallTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}
inline WallTime fromUnixMillis(std::int64_t ms) {
  return WallTime(Millis(ms));
}

}  // namespace lwgate::core
