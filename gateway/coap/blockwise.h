#pragma once
// Block-wise transfers (RFC 7959) with bounds, kept apart from libcoap so they are tested with
// numbers (tests/unit/coap/blockwise_test.cpp).
//
// Why not libcoap's own reassembly: libcoap 4.3.1 with COAP_BLOCK_SINGLE_BODY sizes its
// reassembly buffer from the peer's Size1/Size2 option, or from the offset of the highest block
// seen (block.c coap_block_build_body), before the application sees a byte: 20 first blocks
// with Size1 = 0xFFFFFFFF took lwgated from 27 MB to 4.2 GB of virtual memory. So coap::Server
// runs libcoap with COAP_BLOCK_USE_LIBCOAP only: libcoap still answers 2.31 Continue, asks for
// the next Block2 of a device's answer and sends large requests in blocks, but hands each block
// to us, and these classes keep at most what the limits allow.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/message.h"

namespace lwgate::coap {

// CoAP codes block-wise transfers use beyond core::Code (RFC 7959 2.9, RFC 7252 12.1.2).
inline constexpr std::uint8_t kCodeContinue = 0x5f;                 // 2.31
inline constexpr std::uint8_t kCodeRequestEntityIncomplete = 0x88;  // 4.08
inline constexpr std::uint8_t kCodeBadOption = 0x82;                // 4.02

// A Block1/Block2 option value (RFC 7959 2.2): NUM, M and SZX.
struct BlockValue {
  std::uint32_t num = 0;  // up to 2^20 - 1
  bool more = false;
  unsigned szx = 0;  // 0..6: blocks of 16 to 1024 bytes
  std::size_t size() const { return std::size_t{16} << szx; }
  std::uint64_t offset() const { return std::uint64_t{num} << (szx + 4); }
  std::uint32_t encode() const { return num << 4 | (more ? 8u : 0u) | szx; }
};
// nullopt for SZX 7 (BERT, RFC 8323: reliable transports only) and values of more than 3 bytes.
std::optional<BlockValue> decodeBlock(std::uint32_t value);

// The identity of a request body split into blocks (RFC 7959 2.3: every block repeats the
// request's method, Uri-Path and Uri-Query; libcoap keys it by path).
std::string uploadKey(const core::Request& request);

struct UploadLimits {
  std::size_t maxBody = 16384;       // bytes of one body ([registration] max_payload)
  std::size_t maxPerPeer = 2;        // transfers of one address:port; a new one ends its oldest
  std::size_t maxPerAddress = 16;    // of one IP address (many source ports)
  std::size_t maxTotal = 64;         // of everyone: at most maxTotal * maxBody bytes held
  core::Millis idleTimeout{93'000};  // MAX_TRANSMIT_WAIT (RFC 7252 4.8.2) between two blocks
};

// What to answer one Block1 block.
struct UploadStep {
  enum class Kind {
    kContinue,  // 2.31: held, send the next block
    kComplete,  // the whole body is in `body`: handle the request
    kRefused,   // answer `code` with `reason`; the transfer is over
  };
  Kind kind = Kind::kRefused;
  std::string body;
  std::uint8_t code = 0;
  std::string reason;
  // With 4.13: the largest body accepted (RFC 7959 2.9.3, a Size1 option in the answer).
  std::optional<std::size_t> size1;
  // kRefused because a cap on transfers in progress was reached (logged, throttled).
  bool capReached = false;
};

// Reassembles request bodies that peers upload with Block1 (large Register/Update object
// lists). Blocks must come in order (a repeated or earlier block restarts from its offset, as
// when a client changes to a smaller block size); every body is bounded by maxBody whatever the
// peer's Size1 says, and the number of bodies in progress by the caps above.
class UploadReassembler {
 public:
  UploadReassembler(const core::Clock& clock, UploadLimits limits)
      : clock_(clock), limits_(limits) {}

  // One block of the request identified by (peer, requestKey). size1: the Size1 option.
  UploadStep accept(const core::Peer& peer, std::string_view requestKey, const BlockValue& block,
                    std::optional<std::uint64_t> size1, std::string_view payload);
  // Drops transfers idle for longer than idleTimeout; returns how many.
  std::size_t expire();

  std::size_t transfers() const { return transfers_.size(); }
  std::size_t bufferedBytes() const;
  const UploadLimits& limits() const { return limits_; }

 private:
  struct Transfer {
    std::string peer;     // core::peerKey
    std::string address;  // the IP address alone
    std::string body;
    core::SteadyTime lastBlock;
  };
  UploadStep refuse(std::uint8_t code, std::string reason) const;

  const core::Clock& clock_;
  UploadLimits limits_;
  std::map<std::string, Transfer> transfers_;  // peerKey + '\n' + requestKey
};

struct AnswerLimits {
  std::size_t maxBody = 65536;        // bytes of one answer or notification from a device
  std::size_t maxPerPeer = 4;         // a request's answer and notifications at once
  std::size_t maxTotal = 64;          // of all devices: at most maxTotal * maxBody bytes held
  core::Millis idleTimeout{186'000};  // a backstop: libcoap reports a lost block before
};

// What came with the first block of an answer (later blocks carry only their part).
struct AnswerHead {
  std::uint8_t code = 0;
  std::optional<std::uint16_t> contentFormat;
  std::optional<std::uint32_t> observe;
  bool piggybacked = false;
};

struct AnswerStep {
  enum class Kind {
    kPartial,   // held; libcoap has asked for the next block already
    kComplete,  // head + body is the whole answer
    kFailed,    // the answer cannot be taken (too large, a block missing, caps): `reason`
    kIgnored,   // a block of no transfer in progress (random access, after a failure)
  };
  Kind kind = Kind::kIgnored;
  AnswerHead head;
  std::string body;
  std::string reason;
};

// Reassembles answers and notifications that devices send with Block2, keyed by peer and the
// token of our request (libcoap puts the request's own token back on every block). A transfer
// that fails is remembered without its bytes until its last block, so later blocks are dropped
// quietly instead of starting something new.
class AnswerReassembler {
 public:
  AnswerReassembler(const core::Clock& clock, AnswerLimits limits)
      : clock_(clock), limits_(limits) {}

  AnswerStep accept(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                    const BlockValue& block, std::string_view payload, const AnswerHead& head);

  // The transport identifies the follow-up requests of a transfer by a tag of its own (libcoap:
  // the base of its internal token); remember it to map a lost follow-up back to the transfer.
  void noteFollowUp(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                    std::uint64_t tag);
  // A follow-up request of `peer` got no answer: the transfer it belongs to (tag match, else
  // the peer's only transfer without a tag yet, whose first follow-up is the one lost) ends.
  // nullopt when no transfer matches or it had failed before (already reported).
  struct Abandoned {
    std::vector<std::uint8_t> token;
    AnswerHead head;
  };
  std::optional<Abandoned> abandon(const core::Peer& peer, std::uint64_t tag);

  struct Expired {
    core::Peer peer;
    std::vector<std::uint8_t> token;
    bool failedBefore = false;  // already reported as failed (too large, ...)
  };
  // Ends transfers idle for longer than idleTimeout.
  std::vector<Expired> expire();

  std::size_t transfers() const { return transfers_.size(); }
  std::size_t bufferedBytes() const;

 private:
  struct Transfer {
    core::Peer peer;
    std::vector<std::uint8_t> token;
    AnswerHead head;
    std::string body;
    bool failed = false;  // reported; later blocks are dropped
    std::optional<std::uint64_t> tag;
    core::SteadyTime lastBlock;
  };
  static std::string keyOf(const core::Peer& peer, const std::vector<std::uint8_t>& token);
  AnswerStep fail(Transfer& t, std::string reason);

  const core::Clock& clock_;
  AnswerLimits limits_;
  std::map<std::string, Transfer> transfers_;
};

// Drops repeats of one log line: at most one per interval, with the number dropped in between
// (a flood of refused blocks must not become a flood of log lines).
class LogThrottle {
 public:
  LogThrottle(const core::Clock& clock, core::Millis interval)
      : clock_(clock), interval_(interval) {}
  // Whether to log now; `suppressed` is set to the count of calls not logged since the last one.
  bool allow(std::size_t* suppressed);

 private:
  const core::Clock& clock_;
  core::Millis interval_;
  std::optional<core::SteadyTime> last_;
  std::size_t suppressed_ = 0;
};

}  // namespace lwgate::coap
