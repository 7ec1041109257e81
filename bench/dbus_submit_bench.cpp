// lwgate-bench-dbus-submit: how many downlink requests per second lwgated accepts over D-Bus,
// one Read call at a time ("single") and in SubmitBatch calls of B requests ("batch"). Uses the
// proxy generated from org.lwgate.Gateway1.xml, as lwgatectl and other clients do.
//
// Every accepted request is committed to the database before the reply (the API's promise), so
// this measures D-Bus marshalling, the daemon's checks and SQLite commits. Point it at a device
// that will not take the requests away while it runs (a queue-mode device that is asleep),
// with [queue] max_per_device large enough for all of them.
//
// Prints figures; never judges them. Exit status: 0 when every call succeeded, 1 when a call
// failed (the D-Bus error is printed), 2 on bad arguments or no bus.
#include <sdbus-c++/sdbus-c++.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "lwgate/dbus/gateway1_proxy.h"

namespace lwgate::bench {
namespace {

using Clock = std::chrono::steady_clock;
using VariantMap = std::map<std::string, sdbus::Variant>;
using Element = sdbus::Struct<std::string, std::string, std::string, sdbus::Variant, VariantMap>;

class Calls final : public org::lwgate::Gateway1_proxy {
 public:
  explicit Calls(sdbus::IProxy& proxy) : Gateway1_proxy(proxy) {}

 private:
  // Signals are not subscribed (the proxy's registration is never finished).
  void onRequestCompleted(const uint64_t&, const std::string&, const std::string&,
                          const std::string&, const std::string&, const std::string&,
                          const std::vector<uint8_t>&, const uint16_t&) override {}
  void onRequestProgress(const uint64_t&, const std::string&, const std::string&) override {}
  void onDeviceRegistered(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceUpdated(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceDeregistered(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceExpired(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceAwake(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceAsleep(const std::string&, const sdbus::ObjectPath&) override {}
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void report(const char* mode, std::size_t requests, std::size_t calls, double seconds,
            const std::vector<double>& callMs) {
  std::printf(
      "%s requests=%zu calls=%zu seconds=%.3f requests_per_s=%.0f call_p50_ms=%.3f "
      "call_p99_ms=%.3f call_max_ms=%.3f\n",
      mode, requests, calls, seconds, static_cast<double>(requests) / seconds,
      percentile(callMs, 50), percentile(callMs, 99), percentile(callMs, 100));
}

int run(int argc, char** argv) {
  CLI::App app{"lwgate-bench-dbus-submit: D-Bus submit throughput of lwgated, single vs batch"};
  std::string bus = "system";
  std::string endpoint;
  std::string path = "/3/0/9";
  std::size_t single = 2000, batched = 100000, batch = 1000, warmup = 200;
  app.add_option("--bus", bus, "system, session or a D-Bus address")->capture_default_str();
  app.add_option("--endpoint", endpoint, "The device to queue Reads for")->required();
  app.add_option("--path", path, "The path to read")->capture_default_str();
  app.add_option("--single", single, "Requests submitted one Read call each (0 skips)")
      ->capture_default_str();
  app.add_option("--batched", batched, "Requests submitted with SubmitBatch (0 skips)")
      ->capture_default_str();
  app.add_option("--batch", batch, "Requests per SubmitBatch call (at most 10000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--warmup", warmup, "Unmeasured single Reads first")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::unique_ptr<sdbus::IConnection> connection;
  try {
    connection = bus == "system"    ? sdbus::createSystemBusConnection()
                 : bus == "session" ? sdbus::createSessionBusConnection()
                                    : sdbus::createSessionBusConnectionWithAddress(bus);
  } catch (const sdbus::Error& e) {
    std::fprintf(stderr, "lwgate-bench-dbus-submit: %s\n", e.getMessage().c_str());
    return 2;
  }
  auto proxy = sdbus::createProxy(*connection, "org.lwgate.Gateway1", "/org/lwgate/Gateway1");
  Calls calls(*proxy);
  const VariantMap noOptions;

  try {
    for (std::size_t i = 0; i < warmup; ++i) calls.Read(endpoint, path, noOptions);

    if (single > 0) {
      std::vector<double> callMs;
      callMs.reserve(single);
      auto start = Clock::now();
      for (std::size_t i = 0; i < single; ++i) {
        auto t = Clock::now();
        calls.Read(endpoint, path, noOptions);
        callMs.push_back(msSince(t));
      }
      double seconds = msSince(start) / 1000.0;
      report("single", single, single, seconds, callMs);
    }

    if (batched > 0) {
      std::vector<Element> elements(
          batch, Element{endpoint, "read", path, sdbus::Variant(std::string()), noOptions});
      std::vector<double> callMs;
      std::size_t done = 0, n = 0;
      auto start = Clock::now();
      while (done < batched) {
        std::size_t size = std::min(batch, batched - done);
        elements.resize(size);
        auto t = Clock::now();
        auto ids = calls.SubmitBatch(elements);
        callMs.push_back(msSince(t));
        if (ids.size() != size) {
          std::fprintf(stderr, "lwgate-bench-dbus-submit: %zu ids for %zu requests\n", ids.size(),
                       size);
          return 1;
        }
        done += size;
        ++n;
      }
      double seconds = msSince(start) / 1000.0;
      report("batch", batched, n, seconds, callMs);
    }
  } catch (const sdbus::Error& e) {
    std::fprintf(stderr, "lwgate-bench-dbus-submit: %s: %s\n", e.getName().c_str(),
                 e.getMessage().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace lwgate::bench

int main(int argc, char** argv) {
  return lwgate::bench::run(argc, argv);
}
