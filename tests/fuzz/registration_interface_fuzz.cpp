// Fuzz target: the registration interface as a whole (core::RegistrationInterface -> Registry ->
// an in-memory store), fed a script of requests a LAN peer could send, one per line:
//   <M><path>[?q1&q2...][ <payload>]   a CoAP request: M is P(OST), U (PUT), D(ELETE), G(ET) or
//                                      F(ETCH); path "rd" or "rd/l1", query options split at '&'
//   +N                                 N seconds pass, then expired registrations are removed
//   !                                  the store fails the next request's write
//   L<location> <seconds>              the lifetime read from /1/x/1 is adopted
// Locations are "l1", "l2", ... in order, so scripts can name them. Properties after every step:
// what the registry holds is exactly what the store holds (a change is committed before it is
// visible, and a failed write changes nothing), max_devices holds, a 2.01 names a location that
// exists, and every error carries a diagnostic.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/core/registration_interface.h"
#include "gateway/lwm2m/link_format.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/support/manual_clock.h"
#include "tests/unit/core/fake_store.h"

namespace {

using namespace lwgate;
using fuzz::check;

// Everything persisted about a registration, for comparing memory and store.
std::string describe(const core::Registration& r) {
  return r.location + "|" + r.endpoint + "|" + std::to_string(r.lifetime) + "|" +
         std::to_string(r.lifetimeSyncPending) + "|" + r.version + "|" + r.binding.text + "|" +
         r.binding.transports + "|" + std::to_string(r.binding.queueMode) + "|" + r.smsNumber +
         "|" + lwm2m::formatObjectList(r.objects) + "|" + core::peerKey(r.peer) + "|" +
         std::to_string(core::toUnixMillis(r.registeredAt)) + "|" +
         std::to_string(core::toUnixMillis(r.updatedAt));
}

std::map<std::string, std::string> inMemory(const core::Registry& registry) {
  std::map<std::string, std::string> out;
  registry.forEach([&](const core::Registration& r) { out[r.location] = describe(r); });
  return out;
}

std::map<std::string, std::string> inStore(const testing::FakeStore& store) {
  std::map<std::string, std::string> out;
  for (const auto& [loc, r] : store.rows) out[loc] = describe(r);
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (!s.empty() && out.size() < 32) {
    auto k = s.find(sep);
    out.push_back(s.substr(0, k));
    if (k == std::string_view::npos) return out;
    s.remove_prefix(k + 1);
  }
  return out;
}

core::Method methodOf(char c) {
  switch (c) {
    case 'U':
      return core::Method::kPut;
    case 'D':
      return core::Method::kDelete;
    case 'G':
      return core::Method::kGet;
    case 'F':
      return core::Method::kFetch;
    default:
      return core::Method::kPost;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  testing::ManualClock clock;
  testing::FakeStore store;
  int counter = 0;
  core::Registry registry(clock, store, {.maxDevices = 4},
                          [&] { return "l" + std::to_string(++counter); });
  core::RegistrationInterface rd(registry, {.maxPayload = 512, .maxObjects = 16});

  const auto script = fuzz::lines(fuzz::asText(data, size), 64);
  std::uint16_t port = 40000;
  bool failNext = false;
  unsigned budget = 0xffffffffu;  // seconds the script may still move the clock
  for (std::string_view line : script) {
    // "!" arms a failure for the request or adoption right after it; expiry never fails here
    // (with a failing store its rows stay behind until the next start, by design).
    const bool fail = std::exchange(failNext, false);
    if (line.empty()) continue;
    if (line.front() == '+') {
      unsigned seconds = 0;
      std::from_chars(line.data() + 1, line.data() + line.size(), seconds);
      // At most 2^30 s a step and 2^32 s in all: the test clock's nanoseconds stay in range.
      const auto step = std::chrono::seconds(std::min({seconds, 1u << 30, budget}));
      budget -= static_cast<unsigned>(step.count());
      clock.advance(step);
      auto expired = registry.expire();
      check(!expired.storeError, "expiry with a working store");
      if (auto next = registry.nextExpiry()) check(*next > clock.steadyNow(), "all due expired");
    } else if (line == "!") {
      failNext = true;
      continue;
    } else if (line.front() == 'L') {
      store.fail = fail;
      auto space = line.find(' ');
      std::uint32_t lifetime = 0;
      if (space != std::string_view::npos) {
        std::from_chars(line.data() + space + 1, line.data() + line.size(), lifetime);
      }
      const auto before = inMemory(registry);
      auto adopted = registry.adoptLifetime(line.substr(1, space - 1), std::max(lifetime, 1u));
      if (!adopted) check(inMemory(registry) == before, "failed adoption changes nothing");
    } else {
      core::Request request;
      request.method = methodOf(line.front());
      line.remove_prefix(1);
      auto space = line.find(' ');
      std::string_view target = line.substr(0, space);
      if (space != std::string_view::npos) {
        request.payload = line.substr(space + 1);
        request.contentFormat = core::kFormatLinkFormat;
      }
      auto question = target.find('?');
      request.uriPath = split(target.substr(0, question), '/');
      if (question != std::string_view::npos) {
        request.uriQuery = split(target.substr(question + 1), '&');
      }
      // The peer moves now and then (NAT rebinding): an Update refreshes it.
      request.peer = {"udp", "127.0.0.1", port};
      port = static_cast<std::uint16_t>(40000 + (port - 40000 + 1) % 3);

      store.fail = fail;
      const auto before = inMemory(registry);
      // Not for /rd: the CoAP server answers it elsewhere; the step is a no-op here.
      core::Response response;
      response.code = core::Code::kNotFound;
      response.payload = "not /rd";
      if (core::RegistrationInterface::handles(request)) response = rd.handle(request);
      const auto code = static_cast<std::uint8_t>(response.code);
      if (code >= 0x80) {
        check(!response.payload.empty(), "an error carries a diagnostic");
        check(inMemory(registry) == before, "an error changes nothing");
      }
      if (response.code == core::Code::kCreated) {
        check(response.locationPath.size() == 2 && response.locationPath[0] == "rd",
              "2.01 has Location-Path rd/<id>");
        check(registry.findByLocation(response.locationPath[1]) != nullptr,
              "2.01 names a registration");
      }
      if (store.fail) {
        check(inMemory(registry) == before, "a failed write changes nothing");
      }
    }
    store.fail = false;
    check(inMemory(registry) == inStore(store), "memory == store");
    check(registry.size() <= registry.limits().maxDevices, "max_devices holds");
  }
  return 0;
}
