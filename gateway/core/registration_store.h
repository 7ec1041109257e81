#pragma once
// The port through which the Registry persists registrations. db/ implements it with SQLite;
// unit tests use an in-memory fake. Every call is one transaction: when it returns ok the change
// is committed, when it returns an error nothing changed.
#include <string_view>
#include <vector>

#include "gateway/core/registration.h"
#include "gateway/util/result.h"

namespace lwgate::core {

class RegistrationStore {
 public:
  virtual ~RegistrationStore() = default;

  // Register: creates the device row for reg.endpoint if it is new (a device row is kept across
  // re-registrations and expiry, so its downlink queue survives), deletes any registration the
  // device had, and inserts reg.
  virtual Result<void> insertRegistration(const Registration& reg) = 0;

  // Update: rewrites every persisted field of the registration at reg.location.
  // kNotFound when there is no such location.
  virtual Result<void> updateRegistration(const Registration& reg) = 0;

  // De-register or expiry: deletes the registration (the device row stays).
  // kNotFound when there is no such location.
  virtual Result<void> deleteRegistration(std::string_view location) = 0;

  // Start-up: every stored registration (expiresAt left default; the Registry computes it).
  virtual Result<std::vector<Registration>> loadRegistrations() = 0;
};

}  // namespace lwgate::core
