#pragma once
// The registration state machine (LwM2M TS Core 6.2 "Client Registration Interface"):
// Register, Update, De-register and lifetime expiry, for every device of the gateway.
// Sans-I/O: time comes from the injected Clock, persistence goes through RegistrationStore, and
// every change is committed to the store before it becomes visible in memory, so what a device
// was told (2.01/2.04/2.02) is what survives a crash.
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/registration.h"
#include "gateway/core/registration_store.h"
#include "gateway/lwm2m/link_format.h"
#include "gateway/lwm2m/registration_params.h"
#include "gateway/util/result.h"

namespace lwgate::core {

// Told about every change after it is committed (logging now; D-Bus signals, the downlink queue
// and the bridge later). Called synchronously from the Registry method that made the change.
class RegistryListener {
 public:
  virtual ~RegistryListener() = default;
  virtual void registered(const Registration& reg, const Registration* replaced) = 0;
  // previousPeer: where the device was before this Update (its address may have changed).
  virtual void updated(const Registration& reg, const Peer& previousPeer) = 0;
  virtual void deregistered(const Registration& reg) = 0;
  virtual void expired(const Registration& reg) = 0;
};

struct RegistryLimits {
  std::size_t maxDevices =
      10000;  // registered at once; a new endpoint beyond it gets kLimitReached
};

class Registry {
 public:
  // Makes a fresh, unguessable location id (a LAN peer must not be able to de-register someone
  // else's device by guessing). Must return non-empty strings of [a-z0-9].
  using LocationGenerator = std::function<std::string()>;

  Registry(const Clock& clock, RegistrationStore& store, RegistryLimits limits,
           LocationGenerator newLocation);

  struct Restored {
    std::size_t active = 0;
    std::vector<Registration> expired;  // ran out while the gateway was down; deleted from store
  };
  // Start-up: loads the store. Each lifetime continues from the stored time of the last
  // Register/Update; those already over are deleted. Call once, before anything else.
  Result<Restored> restore();

  struct Registered {
    const Registration* registration;      // owned by the registry, valid until the next change
    std::optional<Registration> replaced;  // the endpoint's previous registration, if any
  };
  // Register. A known endpoint's registration is replaced by a new one with a new location
  // (TS 6.2.1: "the LwM2M Server removes the existing registration information").
  Result<Registered> registerClient(const lwm2m::RegisterParams& params, lwm2m::ObjectList objects,
                                    const Peer& peer);

  // Update of the registration at `location` (kNotFound if unknown or expired, so the client
  // registers again). Absent parameters keep their value; `objects` replaces the object list
  // when the Update carried a payload. The peer address is refreshed (TS 6.2.2: a client whose
  // address changed sends an Update).
  Result<const Registration*> update(std::string_view location, const lwm2m::UpdateParams& params,
                                     std::optional<lwm2m::ObjectList> objects, const Peer& peer);

  // The lifetime read from the device's Server object (/1/x/1) after it registered without
  // lt= (spec/cr-registration-lifetime.txt): adopted and persisted; the registration then
  // expires that long after its last Register/Update. kNotFound if the location is gone.
  Result<const Registration*> adoptLifetime(std::string_view location, std::uint32_t lifetime);

  // De-register (kNotFound if unknown). Returns the removed registration.
  Result<Registration> deregister(std::string_view location);

  struct Expired {
    std::vector<Registration> removed;
    std::optional<Error> storeError;  // the rows stay behind and are dropped at the next start
  };
  // Removes every registration whose lifetime has run out by now.
  Expired expire();
  // When expire() next has work; nullopt when nothing is registered.
  std::optional<SteadyTime> nextExpiry() const;

  // Records traffic from a registered device (any message), for "last seen". Memory only; the
  // next Update persists it.
  void touch(std::string_view location, WallTime at);

  const Registration* findByLocation(std::string_view location) const;
  const Registration* findByEndpoint(std::string_view endpoint) const;
  // The registration a message from `peer` belongs to, when the message itself names none (an
  // LwM2M Send): the one made or last updated from that transport, address and port (TS Core
  // 6.2.1: the server uses the source address for later interactions). Several can share a peer
  // (one client socket registering several endpoints, or an endpoint re-registered under a new
  // name): the most recently updated one, then the newest location.
  const Registration* findByPeer(const Peer& peer) const;
  std::size_t size() const { return byLocation_.size(); }
  template <class F>
  void forEach(F&& f) const {
    for (const auto& [loc, reg] : byLocation_) f(reg);
  }

  void setListener(RegistryListener* listener) { listener_ = listener; }
  void setLimits(const RegistryLimits& limits) { limits_ = limits; }
  const RegistryLimits& limits() const { return limits_; }

 private:
  std::string freshLocation();
  // Persists a changed registration at the same location, swaps it in and tells the listener.
  Result<const Registration*> replace(Registration next, const Peer& previousPeer);
  SteadyTime deadlineFor(const Registration& reg) const;
  void insertInMemory(Registration reg);
  Registration eraseInMemory(std::string_view location);

  const Clock& clock_;
  RegistrationStore& store_;
  RegistryLimits limits_;
  LocationGenerator newLocation_;
  RegistryListener* listener_ = nullptr;

  // Heterogeneous lookup so string_view keys need no allocation.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Registration, Hash, std::equal_to<>> byLocation_;
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> locationByEndpoint_;
  std::unordered_multimap<std::string, std::string, Hash, std::equal_to<>> locationsByPeer_;
  std::set<std::pair<SteadyTime, std::string>> expiries_;
};

}  // namespace lwgate::core
