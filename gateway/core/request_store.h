#pragma once
// The port through which the downlink queue persists requests (db/ implements it with SQLite;
// unit tests use a fake). Every call is atomic: committed when it returns ok, unchanged if not.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "gateway/core/downlink.h"
#include "gateway/util/result.h"

namespace lwgate::core {

class RequestStore {
 public:
  virtual ~RequestStore() = default;

  // Inserts a new queued request at the tail of its device's queue (the device row is created
  // if the endpoint never registered). Returns the id.
  virtual Result<std::int64_t> insertRequest(const DownlinkRequest& request) = 0;
  // The request a caller submitted earlier with this idempotency key, in any state.
  virtual Result<std::optional<DownlinkRequest>> findByIdempotencyKey(std::string_view endpoint,
                                                                      std::string_view key) = 0;
  // Writes state, attempts, transmission and answer fields of an existing request.
  virtual Result<void> saveRequest(const DownlinkRequest& request) = 0;
  // Every request not in a final state, each device's in queue order.
  virtual Result<std::vector<DownlinkRequest>> loadUnfinished() = 0;
};

}  // namespace lwgate::core
