#pragma once
// Reassembly of incoming concatenated SMS into CoAP messages. libgammu's GSM_LinkSMS does not
// join parts whose header also carries port addressing, and a modem delivers parts in any
// order, twice, or never: so the gateway joins them itself, keyed by (MSISDN, reference width,
// reference, total), with a deadline for the missing ones and caps on everything a sender can
// make it hold. Pure code: time from the injected Clock.
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/clock.h"
#include "modem/sms_codec.h"

namespace lwgate::modem {

struct ReassemblyLimits {
  std::size_t maxPartsPerMessage = 16;   // a message announcing more is refused at once
  std::size_t maxMessagesPerNumber = 4;  // in progress from one MSISDN; the oldest makes room
  std::size_t maxMessages = 64;          // in progress overall; a new one is refused beyond
  std::size_t maxBytes = 64 * 1024;      // data octets held overall; a message past it is dropped
  // From a message's first part until it must be complete. SMS centres hold and retry parts
  // for minutes when the radio link is poor.
  core::Millis timeout{600'000};
};

// One received SMS. `handle` is the caller's id for where the SMS is stored (the modem's
// location): it comes back with the message it completed or with the reason it was dropped,
// so the caller deletes it from the modem only once it is dealt with.
struct IncomingPart {
  std::string msisdn;
  std::vector<std::uint8_t> header;  // UDH with its length octet; empty when TP-UDHI = 0
  std::vector<std::uint8_t> data;
  std::uint64_t handle = 0;
};

struct Reassembled {
  std::string msisdn;
  std::vector<std::uint8_t> message;
  std::optional<Ports> ports;
  std::size_t parts = 1;
  std::vector<std::uint64_t> handles;  // in arrival order, duplicates included
};

struct Dropped {
  std::string msisdn;
  std::string reason;  // one line for the log
  std::vector<std::uint64_t> handles;
};

class Reassembler {
 public:
  Reassembler(const core::Clock& clock, ReassemblyLimits limits = {});

  struct Outcome {
    std::optional<Reassembled> complete;  // this part completed a message (or was one)
    std::vector<Dropped> dropped;         // this part, or messages it pushed out
  };
  Outcome add(IncomingPart part);

  // Drops messages whose deadline passed. Call when nextDeadline() is due.
  std::vector<Dropped> expire();
  std::optional<core::SteadyTime> nextDeadline() const;

  std::size_t inProgress() const { return messages_.size(); }
  std::size_t bufferedBytes() const { return bytes_; }

 private:
  struct Key {
    std::string msisdn;
    ConcatWidth width;
    std::uint16_t reference;
    std::uint8_t total;
    auto operator<=>(const Key&) const = default;
  };
  struct Pending {
    std::optional<Ports> ports;
    std::vector<std::optional<std::vector<std::uint8_t>>> parts;  // index sequence - 1
    std::vector<std::uint64_t> handles;  // of parts received, duplicates included
    std::size_t received = 0;
    std::size_t bytes = 0;
    core::SteadyTime deadline;
    std::list<Key>::iterator age;  // its place in order_
  };
  using Map = std::map<Key, Pending>;

  Dropped remove(Map::iterator it, std::string reason);

  const core::Clock& clock_;
  ReassemblyLimits limits_;
  Map messages_;
  std::list<Key> order_;  // oldest first; deadlines are first part + timeout, so in order too
  std::size_t bytes_ = 0;
};

}  // namespace lwgate::modem
