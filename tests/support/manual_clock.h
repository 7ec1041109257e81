#pragma once
// A clock the test moves by hand: state machines are tested with literal time steps, no sleeps.
#include "gateway/core/clock.h"

namespace lwgate::testing {

class ManualClock final : public core::Clock {
 public:
  core::SteadyTime steadyNow() const override { return steady_; }
  core::WallTime wallNow() const override { return wall_; }

  // Both clocks move together, as they do when nothing adjusts the wall clock.
  void advance(std::chrono::milliseconds d) {
    steady_ += d;
    wall_ += d;
  }
  // Only the wall clock moves: an NTP step, or the time that passed while the gateway was down.
  void stepWall(std::chrono::milliseconds d) { wall_ += d; }

 private:
  core::SteadyTime steady_{std::chrono::hours(1)};
  core::WallTime wall_{core::fromUnixMillis(1'790'000'000'000)};  // 2026-09
};

}  // namespace lwgate::testing
