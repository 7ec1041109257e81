#pragma once
// What the gateway knows about objects without asking the device: resource data types and
// whether a resource has multiple instances. Formats that carry no type (TLV, text/plain) need
// this to decode a value; for objects and resources it does not know, the decoders keep the raw
// bytes (Opaque) instead of guessing.
#include <cstdint>
#include <optional>

#include "gateway/lwm2m/value.h"

namespace lwgate::lwm2m {

struct ResourceInfo {
  DataType type;            // kOpaque for executable resources, which have no value
  bool multiple = false;    // a Multiple-Instance resource
  bool executable = false;  // operations "E": no value
};

class ObjectModel {
 public:
  virtual ~ObjectModel() = default;
  virtual std::optional<ResourceInfo> resource(std::uint16_t objectId,
                                               std::uint16_t resourceId) const = 0;
};

// The OMA core objects every LwM2M 1.0/1.1/1.2 device uses, compiled in: Security (0, for
// completeness), Server (1), Access Control (2), Device (3), Connectivity Monitoring (4),
// Firmware Update (5), Location (6), Connectivity Statistics (7), from the OMA LwM2M Registry
// definitions of LwM2M 1.1.
const ObjectModel& coreObjects();

}  // namespace lwgate::lwm2m
