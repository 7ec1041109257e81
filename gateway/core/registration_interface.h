#pragma once
// Maps CoAP requests on /rd to the Registry (LwM2M 1.1 TS Transport 6.x / TS Core 6.2):
//   POST   /rd?ep=..&lt=..&lwm2m=..&b=..&sms=..&Q   Register    -> 2.01, Location-Path rd/<id>
//   POST   /rd/<id>?lt=..&b=..&sms=..&Q             Update      -> 2.04
//   DELETE /rd/<id>                                 De-register -> 2.02
// PUT /rd/<id> is taken as Update too: pre-1.0 drafts (spec/ts-lwm2m-early-draft.txt 9.2.1)
// used PUT, and accepting it costs nothing. Bad input gets a 4.xx with a diagnostic payload and
// changes nothing.
#include <cstddef>

#include "gateway/core/credentials.h"
#include "gateway/core/message.h"
#include "gateway/core/registry.h"
#include "gateway/lwm2m/link_format.h"

namespace lwgate::core {

struct RegistrationLimits {
  std::size_t maxPayload = 16384;  // bytes of link-format in one Register/Update
  std::size_t maxObjects = 1024;   // object and instance links per device
};

class RegistrationInterface {
 public:
  RegistrationInterface(Registry& registry, RegistrationLimits limits)
      : registry_(registry), limits_(limits) {}

  // True when the request is for the registration interface (first Uri-Path segment "rd").
  static bool handles(const Request& request);
  Response handle(const Request& request);

  void setLimits(const RegistrationLimits& limits) { limits_ = limits; }
  // The DTLS-PSK rules of credentials.h: who may act as which endpoint. Without a lookup
  // (unit tests of other rules) every peer may act as any endpoint.
  void setCredentials(CredentialLookup* lookup) { credentials_ = lookup; }

 private:
  Response registerClient(const Request& request);
  Response update(std::string_view location, const Request& request);
  Response deregister(std::string_view location, const Request& request);
  Result<void> checkAccess(const Request& request, std::string_view endpoint);
  // The object list of a Register/Update payload. An empty Update payload is nullopt (the list
  // stays as it was); an empty Register payload is an empty list.
  Result<std::optional<lwm2m::ObjectList>> objectsFrom(const Request& request, bool isUpdate);

  Registry& registry_;
  RegistrationLimits limits_;
  CredentialLookup* credentials_ = nullptr;
};

}  // namespace lwgate::core
