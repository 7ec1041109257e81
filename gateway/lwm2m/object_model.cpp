#include "gateway/lwm2m/object_model.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace lwgate::lwm2m {
namespace {

// One row per resource of the OMA core objects, LwM2M 1.1 definitions from the OMA LwM2M
// Registry (TS Core Appendix E), sorted by (object, resource). The Server object also carries
// the LwM2M 1.2 resource 23 (Mute Send). Executable resources have no value; they are typed
// kOpaque so that a decoder that meets one keeps the raw bytes.
struct Row {
  std::uint16_t object;
  std::uint16_t resource;
  DataType type;
  bool multiple;
  bool executable;
};

constexpr DataType kStr = DataType::kString;
constexpr DataType kInt = DataType::kInteger;
constexpr DataType kUns = DataType::kUnsignedInteger;
constexpr DataType kFlt = DataType::kFloat;
constexpr DataType kBool = DataType::kBoolean;
constexpr DataType kOpq = DataType::kOpaque;
constexpr DataType kTime = DataType::kTime;
constexpr DataType kLink = DataType::kObjlnk;
constexpr bool kSingle = false;
constexpr bool kMulti = true;
constexpr bool kValue = false;
constexpr bool kExec = true;

constexpr Row kRows[] = {
    // 0 LwM2M Security (urn:oma:lwm2m:oma:0:1.1)
    {0, 0, kStr, kSingle, kValue},    // LwM2M Server URI
    {0, 1, kBool, kSingle, kValue},   // Bootstrap-Server
    {0, 2, kInt, kSingle, kValue},    // Security Mode
    {0, 3, kOpq, kSingle, kValue},    // Public Key or Identity
    {0, 4, kOpq, kSingle, kValue},    // Server Public Key
    {0, 5, kOpq, kSingle, kValue},    // Secret Key
    {0, 6, kInt, kSingle, kValue},    // SMS Security Mode
    {0, 7, kOpq, kSingle, kValue},    // SMS Binding Key Parameters
    {0, 8, kOpq, kSingle, kValue},    // SMS Binding Secret Key(s)
    {0, 9, kStr, kSingle, kValue},    // LwM2M Server SMS Number
    {0, 10, kInt, kSingle, kValue},   // Short Server ID
    {0, 11, kInt, kSingle, kValue},   // Client Hold Off Time
    {0, 12, kInt, kSingle, kValue},   // Bootstrap-Server Account Timeout
    {0, 13, kUns, kSingle, kValue},   // Matching Type
    {0, 14, kStr, kSingle, kValue},   // SNI
    {0, 15, kUns, kSingle, kValue},   // Certificate Usage
    {0, 16, kUns, kMulti, kValue},    // DTLS/TLS Ciphersuite
    {0, 17, kLink, kSingle, kValue},  // OSCORE Security Mode

    // 1 LwM2M Server (urn:oma:lwm2m:oma:1:1.1, plus 23 from 1.2)
    {1, 0, kInt, kSingle, kValue},    // Short Server ID
    {1, 1, kInt, kSingle, kValue},    // Lifetime
    {1, 2, kInt, kSingle, kValue},    // Default Minimum Period
    {1, 3, kInt, kSingle, kValue},    // Default Maximum Period
    {1, 4, kOpq, kSingle, kExec},     // Disable
    {1, 5, kInt, kSingle, kValue},    // Disable Timeout
    {1, 6, kBool, kSingle, kValue},   // Notification Storing When Disabled or Offline
    {1, 7, kStr, kSingle, kValue},    // Binding
    {1, 8, kOpq, kSingle, kExec},     // Registration Update Trigger
    {1, 9, kOpq, kSingle, kExec},     // Bootstrap-Request Trigger
    {1, 10, kLink, kSingle, kValue},  // APN Link
    {1, 11, kUns, kSingle, kValue},   // TLS-DTLS Alert Code
    {1, 12, kTime, kSingle, kValue},  // Last Bootstrapped
    {1, 13, kUns, kSingle, kValue},   // Registration Priority Order
    {1, 14, kUns, kSingle, kValue},   // Initial Registration Delay Timer
    {1, 15, kBool, kSingle, kValue},  // Registration Failure Block
    {1, 16, kBool, kSingle, kValue},  // Bootstrap on Registration Failure
    {1, 17, kUns, kSingle, kValue},   // Communication Retry Count
    {1, 18, kUns, kSingle, kValue},   // Communication Retry Timer
    {1, 19, kUns, kSingle, kValue},   // Communication Sequence Delay Timer
    {1, 20, kUns, kSingle, kValue},   // Communication Sequence Retry Count
    {1, 21, kBool, kSingle, kValue},  // Trigger
    {1, 22, kStr, kSingle, kValue},   // Preferred Transport
    {1, 23, kBool, kSingle, kValue},  // Mute Send

    // 2 LwM2M Access Control (urn:oma:lwm2m:oma:2:1.1)
    {2, 0, kInt, kSingle, kValue},  // Object ID
    {2, 1, kInt, kSingle, kValue},  // Object Instance ID
    {2, 2, kInt, kMulti, kValue},   // ACL
    {2, 3, kInt, kSingle, kValue},  // Access Control Owner

    // 3 Device (urn:oma:lwm2m:oma:3:1.1)
    {3, 0, kStr, kSingle, kValue},    // Manufacturer
    {3, 1, kStr, kSingle, kValue},    // Model Number
    {3, 2, kStr, kSingle, kValue},    // Serial Number
    {3, 3, kStr, kSingle, kValue},    // Firmware Version
    {3, 4, kOpq, kSingle, kExec},     // Reboot
    {3, 5, kOpq, kSingle, kExec},     // Factory Reset
    {3, 6, kInt, kMulti, kValue},     // Available Power Sources
    {3, 7, kInt, kMulti, kValue},     // Power Source Voltage
    {3, 8, kInt, kMulti, kValue},     // Power Source Current
    {3, 9, kInt, kSingle, kValue},    // Battery Level
    {3, 10, kInt, kSingle, kValue},   // Memory Free
    {3, 11, kInt, kMulti, kValue},    // Error Code
    {3, 12, kOpq, kSingle, kExec},    // Reset Error Code
    {3, 13, kTime, kSingle, kValue},  // Current Time
    {3, 14, kStr, kSingle, kValue},   // UTC Offset
    {3, 15, kStr, kSingle, kValue},   // Timezone
    {3, 16, kStr, kSingle, kValue},   // Supported Binding and Modes
    {3, 17, kStr, kSingle, kValue},   // Device Type
    {3, 18, kStr, kSingle, kValue},   // Hardware Version
    {3, 19, kStr, kSingle, kValue},   // Software Version
    {3, 20, kInt, kSingle, kValue},   // Battery Status
    {3, 21, kInt, kSingle, kValue},   // Memory Total
    {3, 22, kLink, kMulti, kValue},   // ExtDevInfo

    // 4 Connectivity Monitoring (urn:oma:lwm2m:oma:4:1.1 and its 1.2 additions 11-13)
    {4, 0, kInt, kSingle, kValue},   // Network Bearer
    {4, 1, kInt, kMulti, kValue},    // Available Network Bearer
    {4, 2, kInt, kSingle, kValue},   // Radio Signal Strength
    {4, 3, kInt, kSingle, kValue},   // Link Quality
    {4, 4, kStr, kMulti, kValue},    // IP Addresses
    {4, 5, kStr, kMulti, kValue},    // Router IP Addresses
    {4, 6, kInt, kSingle, kValue},   // Link Utilization
    {4, 7, kStr, kMulti, kValue},    // APN
    {4, 8, kInt, kSingle, kValue},   // Cell ID
    {4, 9, kInt, kSingle, kValue},   // SMNC
    {4, 10, kInt, kSingle, kValue},  // SMCC
    {4, 11, kInt, kSingle, kValue},  // SignalSNR
    {4, 12, kInt, kSingle, kValue},  // LAC
    {4, 13, kInt, kSingle, kValue},  // Coverage Enhancement Level

    // 5 Firmware Update (urn:oma:lwm2m:oma:5:1.1; resource 4 was withdrawn in 1.0)
    {5, 0, kOpq, kSingle, kValue},    // Package
    {5, 1, kStr, kSingle, kValue},    // Package URI
    {5, 2, kOpq, kSingle, kExec},     // Update
    {5, 3, kInt, kSingle, kValue},    // State
    {5, 5, kInt, kSingle, kValue},    // Update Result
    {5, 6, kStr, kSingle, kValue},    // PkgName
    {5, 7, kStr, kSingle, kValue},    // PkgVersion
    {5, 8, kInt, kMulti, kValue},     // Firmware Update Protocol Support
    {5, 9, kInt, kSingle, kValue},    // Firmware Update Delivery Method
    {5, 10, kOpq, kSingle, kExec},    // Cancel
    {5, 11, kInt, kSingle, kValue},   // Severity
    {5, 12, kTime, kSingle, kValue},  // Last State Change Time
    {5, 13, kUns, kSingle, kValue},   // Maximum Defer Period

    // 6 Location (urn:oma:lwm2m:oma:6, 1.0 and 1.1 alike; 1.0 drafts had string coordinates)
    {6, 0, kFlt, kSingle, kValue},   // Latitude
    {6, 1, kFlt, kSingle, kValue},   // Longitude
    {6, 2, kFlt, kSingle, kValue},   // Altitude
    {6, 3, kFlt, kSingle, kValue},   // Radius
    {6, 4, kOpq, kSingle, kValue},   // Velocity
    {6, 5, kTime, kSingle, kValue},  // Timestamp
    {6, 6, kFlt, kSingle, kValue},   // Speed

    // 7 Connectivity Statistics (urn:oma:lwm2m:oma:7)
    {7, 0, kInt, kSingle, kValue},  // SMS Tx Counter
    {7, 1, kInt, kSingle, kValue},  // SMS Rx Counter
    {7, 2, kInt, kSingle, kValue},  // Tx Data
    {7, 3, kInt, kSingle, kValue},  // Rx Data
    {7, 4, kInt, kSingle, kValue},  // Max Message Size
    {7, 5, kInt, kSingle, kValue},  // Average Message Size
    {7, 6, kOpq, kSingle, kExec},   // Start
    {7, 7, kOpq, kSingle, kExec},   // Stop
    {7, 8, kInt, kSingle, kValue},  // Collection Period
};

constexpr bool rowsSorted() {
  for (std::size_t k = 1; k < std::size(kRows); ++k) {
    const Row& a = kRows[k - 1];
    const Row& b = kRows[k];
    if (a.object > b.object || (a.object == b.object && a.resource >= b.resource)) return false;
  }
  return true;
}
static_assert(rowsSorted(), "kRows must be sorted by (object, resource) without duplicates");

class CoreObjects final : public ObjectModel {
 public:
  std::optional<ResourceInfo> resource(std::uint16_t objectId,
                                       std::uint16_t resourceId) const override {
    const auto it = std::lower_bound(std::begin(kRows), std::end(kRows), objectId,
                                     [resourceId](const Row& row, std::uint16_t object) {
                                       return row.object < object ||
                                              (row.object == object && row.resource < resourceId);
                                     });
    if (it == std::end(kRows) || it->object != objectId || it->resource != resourceId) {
      return std::nullopt;
    }
    return ResourceInfo{it->type, it->multiple, it->executable};
  }
};

}  // namespace

const ObjectModel& coreObjects() {
  static const CoreObjects model;
  return model;
}

}  // namespace lwgate::lwm2m
