#include "gateway/core/wake_policy.h"

#include <gtest/gtest.h>

#include "tests/support/manual_clock.h"

namespace lwgate::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

class WakePolicyTest : public ::testing::Test {
 protected:
  // A sleeping queue-mode device with an SMS number that updated just now with a one-day
  // lifetime, and a request due within the hour: a trigger is worth it.
  WakeCandidate candidate(std::string endpoint = "dev-1") const {
    WakeCandidate c;
    c.endpoint = std::move(endpoint);
    c.registered = true;
    c.queueMode = true;
    c.asleep = true;
    c.smsNumber = "+4915112345678";
    c.lastUpdate = clock.wallNow();
    c.lifetime = hours(24);
    c.deadline = clock.wallNow() + hours(1);
    return c;
  }
  void expectNo(const WakeCandidate& c, const std::string& reason) const {
    auto d = policy.decide(c);
    EXPECT_FALSE(d.send) << d.reason;
    EXPECT_NE(d.reason.find(reason), std::string::npos)
        << "wanted \"" << reason << "\" in \"" << d.reason << "\"";
  }
  void expectYes(const WakeCandidate& c) const {
    auto d = policy.decide(c);
    EXPECT_TRUE(d.send) << d.reason;
  }

  testing::ManualClock clock;
  WakePolicy policy{clock, WakeConfig{}};
};

TEST_F(WakePolicyTest, SleepingQueueModeDeviceWithANumberAndAnEarlyDeadline) {
  auto d = policy.decide(candidate());
  EXPECT_TRUE(d.send);
  EXPECT_NE(d.reason.find("the regular Update due in 86400s is too late for the request's "
                          "deadline in 3600s"),
            std::string::npos)
      << d.reason;
  EXPECT_NE(d.reason.find("device 0/2 this hour, 0/6 today, overall 0/500 today"),
            std::string::npos)
      << d.reason;
}

TEST_F(WakePolicyTest, OnlySleepingRegisteredQueueModeDevicesWithANumber) {
  auto c = candidate();
  c.registered = false;
  expectNo(c, "not registered");
  c = candidate();
  c.queueMode = false;
  expectNo(c, "not in queue mode");
  c = candidate();
  c.asleep = false;
  expectNo(c, "awake");
  c = candidate();
  c.smsNumber.clear();
  expectNo(c, "no SMS number");
}

TEST_F(WakePolicyTest, NoSmsWhenTheRegularUpdateComesSoonEnough) {
  auto c = candidate();
  c.lastUpdate = clock.wallNow() - minutes(50);
  c.lifetime = hours(1);  // next Update in 10 minutes, deadline in an hour
  expectNo(c, "the regular Update due in 600s comes before the request's deadline in 3600s");
  // Just inside the slack (60 s): too tight, wake it.
  c.deadline = c.lastUpdate + c.lifetime + seconds(59);
  expectYes(c);
  c.deadline = c.lastUpdate + c.lifetime + seconds(60);
  expectNo(c, "comes before the request's deadline");
  // No deadline at all: the request can wait for the Update.
  c = candidate();
  c.deadline.reset();
  expectNo(c, "no deadline and waits for the regular Update due in 86400s");
}

TEST_F(WakePolicyTest, UrgentWakesEvenWhenTheUpdateComesSoon) {
  auto c = candidate();
  c.lifetime = minutes(5);
  c.deadline.reset();
  c.urgent = true;
  auto d = policy.decide(c);
  EXPECT_TRUE(d.send);
  EXPECT_NE(d.reason.find("urgent"), std::string::npos);
  // Urgent does not lift the back-off or the budgets.
  policy.sent(c.endpoint);
  expectNo(c, "still outstanding");
}

TEST_F(WakePolicyTest, OneTriggerOutstandingThenBackOff) {
  auto c = candidate();
  policy.sent(c.endpoint);
  EXPECT_TRUE(policy.outstanding(c.endpoint));
  clock.advance(seconds(30));
  expectNo(c, "a trigger sent 30s ago is still outstanding");
  // The device talked: the trigger did its job, but the back-off still counts from it.
  policy.deviceHeard(c.endpoint);
  EXPECT_FALSE(policy.outstanding(c.endpoint));
  expectNo(c, "back-off: the last trigger was 30s ago, another in 570s ([sms] backoff = 600)");
  clock.advance(seconds(569));
  expectNo(c, "back-off");
  clock.advance(seconds(1));
  expectYes(c);
  // Another device is not held back by this one.
  policy.sent(c.endpoint);
  expectYes(candidate("dev-2"));
}

TEST_F(WakePolicyTest, AnUnansweredTriggerStopsBeingOutstandingAfterTheBackOff) {
  auto c = candidate();
  policy.sent(c.endpoint);
  clock.advance(seconds(599));
  EXPECT_TRUE(policy.outstanding(c.endpoint));
  clock.advance(seconds(1));
  EXPECT_FALSE(policy.outstanding(c.endpoint));
  expectYes(c);
}

TEST_F(WakePolicyTest, BackOffIsConfigurable) {
  WakeConfig config;
  config.backoff = seconds(60);
  policy.setConfig(config);
  auto c = candidate();
  policy.sent(c.endpoint);
  clock.advance(seconds(60));
  expectYes(c);
}

TEST_F(WakePolicyTest, PerDeviceHourlyAndDailyBudgets) {
  auto c = candidate();
  // Two in the first hour (back-off 600 s apart), then the hourly budget holds.
  policy.sent(c.endpoint);
  clock.advance(minutes(10));
  expectYes(c);
  policy.sent(c.endpoint);
  clock.advance(minutes(10));
  expectNo(c, "budget: 2 SMS to the device in the last hour (per_device_per_hour = 2)");
  // The first one leaves the hour window (sliding).
  clock.advance(minutes(40));
  expectYes(c);
  // Six a day: send at the hourly pace until the day is full.
  for (int k = 0; k < 4; ++k) {
    ASSERT_TRUE(policy.decide(c).send) << k;
    policy.sent(c.endpoint);
    clock.advance(minutes(31));
  }
  expectNo(c, "budget: 6 SMS to the device in the last day (per_device_per_day = 6)");
  clock.advance(hours(24));
  expectYes(c);
}

TEST_F(WakePolicyTest, GlobalDailyBudget) {
  WakeConfig config;
  config.globalPerDay = 3;
  policy.setConfig(config);
  for (int k = 0; k < 3; ++k) {
    const auto c = candidate("dev-" + std::to_string(k));
    ASSERT_TRUE(policy.decide(c).send);
    policy.sent(c.endpoint);
  }
  expectNo(candidate("dev-9"), "budget: 3 SMS sent in the last day (global_per_day = 3)");
  clock.advance(hours(24));
  expectYes(candidate("dev-9"));
}

TEST_F(WakePolicyTest, MultiPartSmsCountPerPart) {
  WakeConfig config;
  config.globalPerDay = 4;
  policy.setConfig(config);
  policy.sent("", 3);  // a three-part SMS to no known device
  expectYes(candidate());
  policy.sent("other", 1);
  expectNo(candidate(), "budget: 4 SMS sent in the last day");
}

TEST_F(WakePolicyTest, AFailedSendCostsNothingButStillBacksOff) {
  auto c = candidate();
  policy.sent(c.endpoint);
  policy.sendFailed(c.endpoint);
  EXPECT_FALSE(policy.outstanding(c.endpoint));
  expectNo(c, "back-off");
  clock.advance(seconds(600));
  auto d = policy.decide(c);
  EXPECT_TRUE(d.send);
  EXPECT_NE(d.reason.find("device 0/2 this hour"), std::string::npos) << d.reason;
}

TEST_F(WakePolicyTest, BudgetsAndBackOffSurviveARestart) {
  // What the SMS log holds: two sent to dev-1 in the last hour (the newest 5 minutes ago),
  // one failed to dev-2 a minute ago, 497 others earlier today, and one older than a day.
  std::vector<SentSms> history;
  const WallTime now = clock.wallNow();
  history.push_back({"dev-1", now - minutes(50), 1, false});
  history.push_back({"dev-1", now - minutes(5), 1, false});
  history.push_back({"dev-2", now - minutes(1), 1, true});
  for (int k = 0; k < 497; ++k) history.push_back({"", now - hours(2), 1, false});
  history.push_back({"dev-3", now - hours(25), 1, false});
  policy.restore(history);

  expectNo(candidate("dev-1"), "back-off: the last trigger was 300s ago");
  clock.advance(minutes(6));
  expectNo(candidate("dev-1"), "budget: 2 SMS to the device in the last hour");
  expectNo(candidate("dev-2"), "back-off");  // failed ones hold the back-off too
  // 499 sent in the day, not counting the failed one or the one older than a day.
  expectYes(candidate("dev-3"));
  policy.sent("dev-3");
  expectNo(candidate("dev-4"), "budget: 500 SMS sent in the last day");
}

// CoAP over SMS (the SMS binding) spends the overall daily budget only: it neither holds a
// trigger's back-off nor uses a device's trigger budget, but triggers find the day's budget
// spent by it, and it survives a restart as such.
TEST_F(WakePolicyTest, OtherSmsCountOnlyInTheOverallBudget) {
  WakeConfig config;
  config.globalPerDay = 5;
  policy.setConfig(config);
  EXPECT_TRUE(policy.allowsOther(3).send);
  policy.sentOther(3);
  expectYes(candidate("dev-1"));  // no back-off, no device budget used
  EXPECT_FALSE(policy.outstanding("dev-1"));
  auto d = policy.allowsOther(3);
  EXPECT_FALSE(d.send);
  EXPECT_NE(d.reason.find("budget: 3 SMS sent in the last day (global_per_day = 5), this needs 3"),
            std::string::npos)
      << d.reason;
  EXPECT_TRUE(policy.allowsOther(2).send);
  policy.sentOther(2);
  expectNo(candidate("dev-1"), "budget: 5 SMS sent in the last day");
  // A failed send costs nothing.
  policy.otherFailed(2);
  EXPECT_TRUE(policy.allowsOther(2).send);
  // A day later it is spent.
  clock.advance(hours(24));
  EXPECT_TRUE(policy.allowsOther(5).send);

  WakePolicy restarted(clock, config);
  const WallTime now = clock.wallNow();
  restarted.restore({{"dev-1", now - minutes(1), 2, false, /*trigger=*/false},
                     {"dev-1", now - minutes(1), 2, true, /*trigger=*/false}});
  EXPECT_FALSE(restarted.allowsOther(4).send);
  EXPECT_TRUE(restarted.allowsOther(3).send);
  EXPECT_TRUE(restarted.decide(candidate("dev-1")).send) << restarted.decide(candidate()).reason;
}

TEST_F(WakePolicyTest, EveryDecisionSaysWhatItCameTo) {
  auto c = candidate();
  EXPECT_EQ(policy.decide(c).verdict, WakeVerdict::kSend);
  c.asleep = false;
  EXPECT_EQ(policy.decide(c).verdict, WakeVerdict::kNotNeeded);
  c = candidate();
  c.deadline.reset();
  EXPECT_EQ(policy.decide(c).verdict, WakeVerdict::kNotNeeded);
  c = candidate();
  c.smsNumber.clear();
  EXPECT_EQ(policy.decide(c).verdict, WakeVerdict::kNoSmsNumber);
  c = candidate();
  policy.sent(c.endpoint);
  EXPECT_EQ(policy.decide(c).verdict, WakeVerdict::kOutstanding);
  policy.deviceHeard(c.endpoint);
  EXPECT_EQ(policy.decide(c).verdict, WakeVerdict::kBackOff);
  clock.advance(minutes(10));
  policy.sent(c.endpoint);
  clock.advance(minutes(10));
  auto d = policy.decide(c);
  EXPECT_EQ(d.verdict, WakeVerdict::kBudget);
  EXPECT_EQ(d.budget, "per_device_per_hour");
  EXPECT_EQ(verdictName(d.verdict), "budget");
  EXPECT_EQ(verdictName(WakeVerdict::kSend), "sent");
}

TEST_F(WakePolicyTest, AnOperatorsWakeSkipsTheNeedButNotTheLimits) {
  // An awake device without a deadline: the automatic policy would not send, the operator may.
  auto d = policy.decideNow("dev-1", false);
  EXPECT_TRUE(d.send) << d.reason;
  EXPECT_NE(d.reason.find("asked for by the operator; SMS in budget: device 0/2"),
            std::string::npos)
      << d.reason;
  policy.sent("dev-1");
  d = policy.decideNow("dev-1", false);
  EXPECT_FALSE(d.send);
  EXPECT_EQ(d.verdict, WakeVerdict::kOutstanding);
  // force lifts the back-off...
  d = policy.decideNow("dev-1", true);
  EXPECT_TRUE(d.send);
  EXPECT_NE(d.reason.find("with force, overriding a trigger sent 0s ago is still outstanding"),
            std::string::npos)
      << d.reason;
  policy.sent("dev-1");
  // ... and the budgets, while every forced SMS still counts.
  clock.advance(minutes(11));
  d = policy.decideNow("dev-1", false);
  EXPECT_EQ(d.verdict, WakeVerdict::kBudget) << d.reason;
  EXPECT_EQ(d.budget, "per_device_per_hour");
  EXPECT_TRUE(policy.decideNow("dev-1", true).send);
  policy.sent("dev-1");
  clock.advance(minutes(11));
  EXPECT_NE(policy.decideNow("dev-1", false).reason.find("3 SMS to the device in the last hour"),
            std::string::npos);
}

TEST_F(WakePolicyTest, GlobalBudgetNamesItself) {
  WakeConfig config;
  config.globalPerDay = 1;
  policy.setConfig(config);
  policy.sent("dev-9");
  auto d = policy.decideNow("dev-1", false);
  EXPECT_EQ(d.verdict, WakeVerdict::kBudget);
  EXPECT_EQ(d.budget, "global_per_day");
}

TEST_F(WakePolicyTest, TheNextBackOffEndIsWhenARefusedDeviceMayGetItsNextTrigger) {
  EXPECT_EQ(policy.nextBackOffEnd(), std::nullopt);
  const SteadyTime start = clock.steadyNow();
  auto c = candidate();
  policy.sent(c.endpoint);  // never answered
  clock.advance(seconds(100));
  policy.sent("dev-2");
  EXPECT_EQ(policy.nextBackOffEnd(), start + seconds(600));
  clock.advance(seconds(499));
  expectNo(c, "outstanding");
  // The scan timer fires at the back-off's end and finds the device due again: its next
  // trigger goes out without any other event.
  clock.advance(seconds(1));
  EXPECT_EQ(clock.steadyNow(), start + seconds(600));
  expectYes(c);
  EXPECT_EQ(policy.nextBackOffEnd(), start + seconds(700));  // dev-2's
  clock.advance(seconds(100));
  EXPECT_EQ(policy.nextBackOffEnd(), std::nullopt);
}

TEST_F(WakePolicyTest, ATimeFromAClockThatWentBackCountsAsNow) {
  policy.restore({{"dev-1", clock.wallNow() + hours(5), 1, false}});
  expectNo(candidate("dev-1"), "back-off: the last trigger was 0s ago");
}

}  // namespace
}  // namespace lwgate::core
