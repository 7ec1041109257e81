#pragma once
// The bridge's state on SQLite (the upstream_* tables of db/migrations.cpp, schemas 5 and 6):
// upstream registrations (bridge::UpstreamRegistrationStore), the exchanges waiting for the
// device's answer (bridge::ExchangeStore), upstream observations and the devices' Sends to
// forward (bridge::UpstreamObservationStore, bridge::UpstreamSendStore). One statement per call.
#include <memory>
#include <string_view>
#include <vector>

#include "bridge/registration.h"
#include "bridge/relay.h"
#include "db/sqlite.h"

namespace lwgate::db {

class SqliteUpstreamStore final : public bridge::UpstreamRegistrationStore,
                                  public bridge::ExchangeStore,
                                  public bridge::UpstreamObservationStore,
                                  public bridge::UpstreamSendStore {
 public:
  static Result<std::unique_ptr<SqliteUpstreamStore>> create(Connection& connection);

  // bridge::UpstreamRegistrationStore. Saving needs the device's row (it registered here):
  // kNotFound otherwise.
  Result<void> saveRegistration(const bridge::StoredRegistration& r) override;
  Result<void> removeRegistration(std::string_view server, std::string_view device) override;
  Result<std::vector<bridge::StoredRegistration>> loadRegistrations() override;

  // bridge::ExchangeStore. The exchange goes with its request (deleted with it).
  Result<void> insertExchange(const bridge::Exchange& e) override;
  Result<void> deleteExchange(std::int64_t requestId) override;
  Result<std::vector<bridge::Exchange>> loadExchanges() override;

  // bridge::UpstreamObservationStore.
  Result<std::int64_t> insertObservation(const bridge::UpstreamObservation& o) override;
  Result<void> establishObservation(std::int64_t id, std::int64_t observationId,
                                    std::int64_t forwardedId) override;
  Result<void> setForwarded(std::int64_t id, std::int64_t forwardedId) override;
  Result<void> deleteObservation(std::int64_t id) override;
  Result<std::vector<bridge::UpstreamObservation>> loadObservations() override;
  Result<std::optional<std::pair<std::int64_t, std::int64_t>>> observationOf(
      std::int64_t requestId) override;
  Result<std::vector<bridge::StoredNotification>> notificationsAfter(std::int64_t observationId,
                                                                     std::int64_t afterId,
                                                                     std::size_t limit) override;

  // bridge::UpstreamSendStore.
  Result<void> startSends(std::string_view server, std::string_view device,
                          std::int64_t forwardedId) override;
  Result<void> setSendsForwarded(std::string_view server, std::string_view device,
                                 std::int64_t forwardedId) override;
  Result<std::vector<bridge::SendCursor>> loadSendCursors() override;
  Result<std::vector<bridge::StoredNotification>> sendsAfter(std::string_view device,
                                                             std::int64_t afterId,
                                                             std::size_t limit) override;

 private:
  SqliteUpstreamStore() = default;
  Connection* connection_ = nullptr;
  Statement saveRegistration_;
  Statement removeRegistration_;
  Statement loadRegistrations_;
  Statement insertExchange_;
  Statement deleteExchange_;
  Statement loadExchanges_;
  Statement insertObservation_;
  Statement establishObservation_;
  Statement setForwarded_;
  Statement deleteObservation_;
  Statement loadObservations_;
  Statement observationOf_;
  Statement notificationsAfter_;
  Statement startSends_;
  Statement setSendsForwarded_;
  Statement loadSendCursors_;
  Statement sendsAfter_;
};

}  // namespace lwgate::db
