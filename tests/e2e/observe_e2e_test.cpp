// Observations end to end: the gateway's libraries (tests/e2e/inprocess.h, since there is no
// public way to submit an Observe before D-Bus) and the real lwgated binary, against real
// lwgate-sim processes over UDP on 127.0.0.1 and a real SQLite file.
#include <gtest/gtest.h>

#include <map>

#include "gateway/lwm2m/content_format.h"
#include "tests/e2e/harness.h"
#include "tests/e2e/inprocess.h"

namespace lwgate::e2e {
namespace {

using inproc::Gateway;
using inproc::GatewayOptions;
using inproc::Sim;
using Kind = core::ObservationTable::Event::Kind;

constexpr const char* kSensor = "/3303/0/5700";

std::vector<std::string> simArgs(const Gateway& gw, const std::string& endpoint,
                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--server",      gw.url(), "--ep",  endpoint,
                                "--sensor",      "--lt",   "300",   "--ack-timeout",
                                "1",             "--max-retransmit", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"register", "stdin"});
  return args;
}

core::DownlinkRequest observe(const std::string& endpoint, const std::string& path,
                              std::uint16_t accept, const std::string& attributes = "") {
  core::DownlinkRequest r;
  r.endpoint = endpoint;
  r.operation = core::Operation::kObserve;
  r.path = path;
  r.acceptFormat = accept;
  r.payload.assign(attributes.begin(), attributes.end());
  return r;
}

std::vector<double> values(const std::vector<core::Notification>& ns) {
  std::vector<double> out;
  for (const auto& n : ns) {
    if (n.records.size() != 1) {
      out.push_back(-1);
      continue;
    }
    const auto& v = n.records[0].value;
    if (const double* d = v.get<double>()) {
      out.push_back(*d);
    } else if (const std::int64_t* i = v.get<std::int64_t>()) {
      out.push_back(static_cast<double>(*i));
    } else if (const std::string* s = v.get<std::string>()) {
      out.push_back(std::stod(*s));
    } else {
      out.push_back(-2);
    }
  }
  return out;
}

class ObserveE2E : public ::testing::Test {
 protected:
  GatewayOptions options() {
    GatewayOptions o;
    o.database = dir.file("lwgate.db");
    return o;
  }
  void start(GatewayOptions o) {
    gw = std::make_unique<Gateway>(std::move(o));
    gw->observations().setNotificationHook(
        [this](const core::Notification& n) { hooked.push_back(n); });
  }
  // Starts a sim that registers and then takes actions from stdin; waits for the registration.
  std::unique_ptr<Sim> startSim(const std::string& endpoint,
                                std::vector<std::string> extra = {}) {
    auto sim = std::make_unique<Sim>(dir.file(endpoint + ".out"), simArgs(*gw, endpoint, extra));
    EXPECT_TRUE(gw->pumpUntil([&] { return sim->has("register 2.01"); }))
        << readFile(dir.file(endpoint + ".out.err"));
    return sim;
  }
  // Submits an Observe and waits for its final state; returns the observation id.
  std::int64_t establish(const std::string& endpoint, const std::string& path,
                         std::uint16_t accept, const std::string& attributes = "") {
    auto s = gw->submit(observe(endpoint, path, accept, attributes));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    if (!s.ok()) return 0;
    EXPECT_TRUE(gw->pumpUntil([&] { return !gw->queue().find(s->id); }));
    auto done = gw->request(s->id);
    EXPECT_TRUE(done && done->state == core::RequestState::kDone && done->responseCode == 0x45);
    auto list = gw->observations().listObservations(endpoint);
    for (const auto& o : list) {
      if (o.path == path && o.requestId == s->id) return o.id;
    }
    ADD_FAILURE() << "no observation of " << path << " after request " << s->id;
    return 0;
  }
  std::vector<core::Notification> notifications(const std::string& endpoint) {
    auto listed = gw->observations().listNotifications(endpoint, 100000, 0);
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? *listed : std::vector<core::Notification>{};
  }
  std::int64_t rows(const std::string& sql) { return queryInt(dir.file("lwgate.db"), sql); }

  TempDir dir;
  std::unique_ptr<Gateway> gw;
  std::vector<core::Notification> hooked;
};

TEST_F(ObserveE2E, ObservationIsEstablishedAndNotificationsAreStoredInOrder) {
  start(options());
  auto sim = startSim("obs-1");
  const std::int64_t id = establish("obs-1", kSensor, lwm2m::format::kSenmlJson);
  ASSERT_NE(id, 0);
  EXPECT_TRUE(sim->has("request GET /3303/0/5700 accept=110 observe=0 -> 2.05 observe="));
  EXPECT_EQ(rows("SELECT count(*) FROM observations WHERE path = '/3303/0/5700'"), 1);

  for (int i = 0; i < 4; ++i) sim->send(std::string("notify=") + kSensor);
  ASSERT_TRUE(gw->pumpUntil([&] { return notifications("obs-1").size() == 5; }));
  auto stored = notifications("obs-1");
  // The answer to the Observe is the first value; each change follows, in order, decoded.
  EXPECT_EQ(values(stored), (std::vector<double>{21.5, 22, 22.5, 23, 23.5}));
  for (std::size_t k = 1; k < stored.size(); ++k) {
    EXPECT_GT(stored[k].id, stored[k - 1].id);
    EXPECT_GT(*stored[k].observeSeq, *stored[k - 1].observeSeq);
    EXPECT_EQ(stored[k].observationId, id);
    EXPECT_EQ(stored[k].contentFormat, lwm2m::format::kSenmlJson);
    EXPECT_FALSE(stored[k].decodeError);
  }
  // The hook saw each one once, after its batch was committed.
  ASSERT_EQ(hooked.size(), 5u);
  EXPECT_EQ(hooked.back().id, stored.back().id);
  EXPECT_EQ(values(hooked), values(stored));
  // CON notifications were acknowledged: the sim still has its observer.
  EXPECT_FALSE(sim->has("notify-rejected"));
  EXPECT_EQ(sim->count("notify /3303/0/5700"), 4u);
}

}  // namespace
}  // namespace lwgate::e2e
