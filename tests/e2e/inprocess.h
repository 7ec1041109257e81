#pragma once
// For end-to-end tests of what has no public interface yet (submitting downlink requests, such
// as an Observe, before D-Bus exists): the gateway's own libraries wired the way lwgated wires
// them (database, registry, registration interface, coap::Server on 127.0.0.1, Downlink with
// its queue and observations), driven by a plain poll loop in the test's thread, talking to
// real lwgate-sim processes over UDP. Its own namespace, apart from harness.h's helpers.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/database.h"
#include "db/registration_store.h"
#include "gateway/coap/server.h"
#include "gateway/core/registration_interface.h"
#include "gateway/core/registry.h"
#include "gateway/daemon/downlink.h"

namespace lwgate::e2e::inproc {

using namespace std::chrono_literals;

struct GatewayOptions {
  std::string database;
  std::uint16_t port = 0;  // 0: a free one (port() says which)
  core::QueueConfig queue;
  core::ObservationConfig observations;
  double ackTimeout = 1.0;
  unsigned maxRetransmit = 2;
};

class Gateway final : public core::RegistryListener {
 public:
  // Opens the database (migrating it), restores registrations, queue and observations, and
  // binds 127.0.0.1:port. Throws std::runtime_error when any of it fails.
  explicit Gateway(GatewayOptions options);
  ~Gateway() override;

  std::uint16_t port() const { return port_; }
  std::string url() const { return "coap://127.0.0.1:" + std::to_string(port_); }

  // Handles what arrives for up to `duration` (one batch per wake-up, like lwgated: one
  // transaction, responses and downlink transmissions after the commit).
  void pump(std::chrono::milliseconds duration);
  // Pumps until cond() holds or timeout passes; returns cond().
  bool pumpUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s);

  core::DownlinkQueue& queue() { return downlink_->queue(); }
  daemon::Observations& observations() { return downlink_->observations(); }
  core::Registry& registry() { return *registry_; }
  // Submits in its own transaction and sends what the queue decided, like a D-Bus call would.
  Result<core::DownlinkQueue::Submitted> submit(core::DownlinkRequest request);
  // A request in any state (from the database once it is final).
  std::optional<core::DownlinkRequest> request(std::int64_t id);
  db::Connection& connection() { return db_->connection(); }

  // RegistryListener
  void registered(const core::Registration& r, const core::Registration* replaced) override;
  void updated(const core::Registration& r, const core::Peer& previousPeer) override;
  void deregistered(const core::Registration& r) override;
  void expired(const core::Registration& r) override;

 private:
  void processBatch();

  GatewayOptions options_;
  core::SystemClock clock_;
  std::optional<db::Database> db_;
  std::unique_ptr<db::SqliteRegistrationStore> store_;
  std::unique_ptr<coap::Server> coap_;
  std::unique_ptr<core::Registry> registry_;
  std::unique_ptr<core::RegistrationInterface> rd_;
  std::unique_ptr<daemon::Downlink> downlink_;
  std::uint16_t port_ = 0;
};

// A running lwgate-sim whose standard input is a pipe (its "stdin" action reads further actions
// from it) and whose standard output goes to a file the test reads lines from.
class Sim {
 public:
  Sim(const std::string& outPath, const std::vector<std::string>& args);
  ~Sim();
  Sim(const Sim&) = delete;
  Sim& operator=(const Sim&) = delete;

  void send(const std::string& action);  // one line to its stdin
  void closeInput();                     // end of file: the sim finishes its actions and exits
  int wait(std::chrono::milliseconds timeout = 10s);  // exit status; kills it after timeout
  void kill9();
  std::vector<std::string> lines() const;              // its stdout so far
  std::size_t count(const std::string& needle) const;  // lines containing needle
  bool has(const std::string& needle) const { return count(needle) > 0; }

 private:
  std::string outPath_;
  pid_t pid_ = -1;
  int input_ = -1;
};

}  // namespace lwgate::e2e::inproc
