#pragma once
// Wires core::ObservationTable to the rest of the daemon: answers to Observe requests and
// notifications from coap::Server (through Downlink), the registry's Register/Update (which
// re-establish observations), the downlink queue (re-observes, Cancel-Observe) and SQLite.
// Downlink owns it; the D-Bus layer lists observations and notifications through it and hooks
// the Notification signal onto setNotificationHook().
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "db/observation_store.h"
#include "gateway/coap/server.h"
#include "gateway/core/observation.h"
#include "gateway/core/queue.h"
#include "gateway/core/registry.h"

namespace lwgate::daemon {

class Observations {
 public:
  using NotificationHook = std::function<void(const core::Notification&)>;

  Observations(const core::Clock& clock, db::Connection& connection,
               core::ObservationConfig config);
  Result<void> open();  // prepares the store and restores the observations
  // After a failed commit: forgets what the batch did and reloads from the database.
  Result<void> reload();
  void setConfig(const core::ObservationConfig& config) { table_->setConfig(config_ = config); }
  // The queue to submit to and to tell about messages from devices (Downlink rebuilds its
  // queue after a failed commit and sets it again), and the registry to check peers against.
  void setQueue(core::DownlinkQueue* queue) { queue_ = queue; }
  void setRegistry(core::Registry* registry) { registry_ = registry; }

  // Called with every notification stored (the first value an Observe brought included), once
  // the batch that stored it is committed (see flush()).
  void setNotificationHook(NotificationHook hook) { hook_ = std::move(hook); }

  // ---- For D-Bus and lwgatectl ----
  // Active observations of a device (every device's when endpoint is empty), oldest first.
  std::vector<core::Observation> listObservations(std::string_view endpoint) const;
  // Stored notifications of a device with id > afterId, oldest first, decoded.
  Result<std::vector<core::Notification>> listNotifications(std::string_view endpoint,
                                                            std::size_t limit,
                                                            std::int64_t afterId);
  // Queues a Cancel-Observe (GET, Observe: 1, the observation's token); the observation ends
  // when the device answers it. kNotFound for an unknown observation.
  Result<core::DownlinkQueue::Submitted> cancel(std::int64_t observationId);
  // The passive cancel (RFC 7641 3.6): ends the observation now; the device's next
  // notification on it is answered RST. Works for a sleeping device too.
  Result<void> forget(std::int64_t observationId);
  // A Cancel-Observe a caller submitted by path (D-Bus CancelObserve): gets the token of the
  // device's observation of that path (the newest, if it is observed twice), without which the
  // device could not tell what to cancel. kNotFound when the path is not observed.
  Result<void> bindCancel(core::DownlinkRequest& request) const;

  // ---- From Downlink ----
  // The device answered the request in flight (before the queue hears it).
  void answered(const core::DownlinkRequest& request, const coap::Server::Answer& answer);
  // An answer outside any request in flight: a notification if it is on an observation's token
  // and comes from that device's registered address. Returns false (answer RST) otherwise.
  bool unsolicited(const coap::Server::Answer& answer);
  // A Send (core/send.h) checked and decoded: stored, bounded like notifications. Its hook runs
  // after the batch is committed (flush()). kStorage when the database refused it.
  Result<std::int64_t> storeSend(core::Notification send);
  // A request reached its final state.
  void finished(const core::DownlinkRequest& request);
  // Register (newRegistration) or Update: queues the re-observes that are due.
  void deviceTalked(const core::Registration& reg, bool newRegistration);
  // Runs the notification hook for what the committed batch stored.
  void flush();

 private:
  void report(const core::ObservationTable::Event& e, std::string_view context);
  Result<core::DownlinkQueue::Submitted> submitOnce(core::DownlinkRequest request);

  const core::Clock& clock_;
  db::Connection& connection_;
  core::ObservationConfig config_;
  core::DownlinkQueue* queue_ = nullptr;
  core::Registry* registry_ = nullptr;
  std::unique_ptr<db::SqliteObservationStore> store_;
  std::unique_ptr<core::ObservationTable> table_;
  NotificationHook hook_;
  std::vector<core::Notification> pending_;  // stored in the batch, not committed yet
};

}  // namespace lwgate::daemon
