#include "gateway/coap/blockwise.h"

#include <algorithm>

namespace lwgate::coap {

std::optional<BlockValue> decodeBlock(std::uint32_t value) {
  if (value > 0xffffff) return std::nullopt;  // RFC 7959 2.2: 0 to 3 bytes
  BlockValue b;
  b.szx = value & 7u;
  if (b.szx == 7) return std::nullopt;
  b.more = (value & 8u) != 0;
  b.num = value >> 4;
  return b;
}

std::string uploadKey(const core::Request& request) {
  std::string key = std::to_string(static_cast<unsigned>(request.method));
  for (auto segment : request.uriPath) {
    key += '/';
    key += segment;
  }
  char separator = '?';
  for (auto query : request.uriQuery) {
    key += separator;
    key += query;
    separator = '&';
  }
  return key;
}

// ---- UploadReassembler ----

UploadStep UploadReassembler::refuse(std::uint8_t code, std::string reason) const {
  UploadStep s;
  s.kind = UploadStep::Kind::kRefused;
  s.code = code;
  s.reason = std::move(reason);
  if (code == static_cast<std::uint8_t>(core::Code::kRequestEntityTooLarge)) {
    s.size1 = limits_.maxBody;
  }
  return s;
}

UploadStep UploadReassembler::accept(const core::Peer& peer, std::string_view requestKey,
                                     const BlockValue& block, std::optional<std::uint64_t> size1,
                                     std::string_view payload) {
  expire();
  const std::string peerKey = core::peerKey(peer);
  std::string key = peerKey;
  key += '\n';
  key += requestKey;
  auto it = transfers_.find(key);
  const auto tooLarge = static_cast<std::uint8_t>(core::Code::kRequestEntityTooLarge);
  const std::string limitText = std::to_string(limits_.maxBody);

  // RFC 7959 2.9.3: a body the server will not take is refused as early as the client says
  // how large it is.
  if (size1 && *size1 > limits_.maxBody) {
    if (it != transfers_.end()) transfers_.erase(it);
    return refuse(tooLarge, "the body of " + std::to_string(*size1) +
                                " bytes is over the limit of " + limitText);
  }
  const std::uint64_t offset = block.offset();
  if (offset + payload.size() > limits_.maxBody) {
    if (it != transfers_.end()) transfers_.erase(it);
    return refuse(tooLarge, "a block ending at byte " + std::to_string(offset + payload.size()) +
                                " is over the limit of " + limitText);
  }
  // Every block but the last is exactly the block size (RFC 7959 2.2), else the offsets of the
  // blocks after it would not line up.
  if (block.more ? payload.size() != block.size() : payload.size() > block.size()) {
    if (it != transfers_.end()) transfers_.erase(it);
    return refuse(static_cast<std::uint8_t>(core::Code::kBadRequest),
                  "block " + std::to_string(block.num) + " carries " +
                      std::to_string(payload.size()) + " bytes; its size is " +
                      std::to_string(block.size()));
  }

  if (block.num == 0) {
    if (!block.more) {  // the whole body in one block: nothing to keep
      if (it != transfers_.end()) transfers_.erase(it);
      UploadStep s;
      s.kind = UploadStep::Kind::kComplete;
      s.body.assign(payload);
      return s;
    }
    if (it == transfers_.end()) {
      // A new transfer: a peer that starts more than it may have ends its own oldest (it gave
      // up on it); a crowd of peers or ports gets 5.03 until some finish or time out.
      std::size_t ofPeer = 0, ofAddress = 0;
      auto oldest = transfers_.end();
      for (auto t = transfers_.begin(); t != transfers_.end(); ++t) {
        if (t->second.address == peer.address) ++ofAddress;
        if (t->second.peer != peerKey) continue;
        ++ofPeer;
        if (oldest == transfers_.end() || t->second.lastBlock < oldest->second.lastBlock) {
          oldest = t;
        }
      }
      if (ofPeer >= limits_.maxPerPeer && oldest != transfers_.end()) {
        transfers_.erase(oldest);
        --ofAddress;
      } else if (ofAddress >= limits_.maxPerAddress || transfers_.size() >= limits_.maxTotal) {
        UploadStep s =
            refuse(static_cast<std::uint8_t>(core::Code::kServiceUnavailable),
                   "too many block-wise uploads in progress (" +
                       std::to_string(ofAddress >= limits_.maxPerAddress ? limits_.maxPerAddress
                                                                         : limits_.maxTotal) +
                       (ofAddress >= limits_.maxPerAddress ? " from this address" : " in all") +
                       "); try again later");
        s.capReached = true;
        return s;
      }
      it = transfers_.emplace(std::move(key), Transfer{peerKey, peer.address, {}, {}}).first;
    }
    it->second.body.clear();  // block 0 again: the client started over
  } else if (it == transfers_.end()) {
    // RFC 7959 2.9.2: a block whose predecessors we do not have (never seen, timed out,
    // refused).
    return refuse(kCodeRequestEntityIncomplete,
                  "block " + std::to_string(block.num) + " of a body whose start is unknown");
  } else if (offset > it->second.body.size()) {
    const std::size_t have = it->second.body.size();
    transfers_.erase(it);
    return refuse(kCodeRequestEntityIncomplete, "block " + std::to_string(block.num) +
                                                    " starts at byte " + std::to_string(offset) +
                                                    " but only " + std::to_string(have) +
                                                    " bytes came before");
  }
  Transfer& t = it->second;
  t.body.resize(offset);  // a repeated block (or a smaller block size) continues from there
  t.body.append(payload);
  t.lastBlock = clock_.steadyNow();
  if (block.more) {
    UploadStep s;
    s.kind = UploadStep::Kind::kContinue;
    return s;
  }
  UploadStep s;
  s.kind = UploadStep::Kind::kComplete;
  s.body = std::move(t.body);
  transfers_.erase(it);
  return s;
}

std::size_t UploadReassembler::expire() {
  const auto now = clock_.steadyNow();
  return std::erase_if(
      transfers_, [&](const auto& kv) { return now - kv.second.lastBlock > limits_.idleTimeout; });
}

std::size_t UploadReassembler::bufferedBytes() const {
  std::size_t n = 0;
  for (const auto& [key, t] : transfers_) n += t.body.size();
  return n;
}

// ---- AnswerReassembler ----

std::string AnswerReassembler::keyOf(const core::Peer& peer,
                                     const std::vector<std::uint8_t>& token) {
  std::string key = core::peerKey(peer) + "\n";
  key.append(token.begin(), token.end());
  return key;
}

AnswerStep AnswerReassembler::fail(Transfer& t, std::string reason) {
  t.failed = true;
  t.body.clear();
  t.body.shrink_to_fit();
  AnswerStep s;
  s.kind = AnswerStep::Kind::kFailed;
  s.head = t.head;
  s.reason = std::move(reason);
  return s;
}

AnswerStep AnswerReassembler::accept(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                                     const BlockValue& block, std::string_view payload,
                                     const AnswerHead& head) {
  const std::string key = keyOf(peer, token);
  auto it = transfers_.find(key);
  const std::uint64_t offset = block.offset();
  if (block.num == 0) {
    if (it != transfers_.end()) transfers_.erase(it);  // a new answer (the next notification)
    if (!block.more) {
      AnswerStep s;
      s.kind = AnswerStep::Kind::kComplete;
      s.head = head;
      s.body.assign(payload);
      if (payload.size() > limits_.maxBody) {
        s.kind = AnswerStep::Kind::kFailed;
        s.body.clear();
        s.reason = "the answer is over the limit of " + std::to_string(limits_.maxBody) + " bytes";
      }
      return s;
    }
    std::size_t ofPeer = 0;
    for (const auto& [k, t] : transfers_) ofPeer += t.peer == peer ? 1 : 0;
    Transfer fresh{peer, token, head, {}, false, std::nullopt, clock_.steadyNow()};
    if (ofPeer >= limits_.maxPerPeer || transfers_.size() >= limits_.maxTotal) {
      auto& t = transfers_.emplace(key, std::move(fresh)).first->second;
      // Remembered without bytes (failed) so the blocks libcoap fetches next are dropped; it
      // does not count towards the caps' memory, only its entry.
      return fail(t, "too many block-wise answers in progress (" +
                         std::to_string(ofPeer >= limits_.maxPerPeer ? limits_.maxPerPeer
                                                                     : limits_.maxTotal) +
                         (ofPeer >= limits_.maxPerPeer ? " from this device" : " in all") + ")");
    }
    it = transfers_.emplace(key, std::move(fresh)).first;
  } else if (it == transfers_.end()) {
    return {};  // kIgnored
  }
  Transfer& t = it->second;
  t.lastBlock = clock_.steadyNow();
  if (t.failed) {
    if (!block.more) transfers_.erase(it);
    return {};
  }
  if (offset > t.body.size()) {
    AnswerStep s =
        fail(t, "block " + std::to_string(block.num) + " of the answer came before the " +
                    "ones up to byte " + std::to_string(offset));
    if (!block.more) transfers_.erase(key);
    return s;
  }
  if (offset + payload.size() > limits_.maxBody || (block.more && payload.size() != block.size())) {
    AnswerStep s = fail(
        t, offset + payload.size() > limits_.maxBody
               ? "the answer is over the limit of " + std::to_string(limits_.maxBody) + " bytes"
               : "block " + std::to_string(block.num) + " of the answer carries " +
                     std::to_string(payload.size()) + " bytes; its size is " +
                     std::to_string(block.size()));
    if (!block.more) transfers_.erase(key);
    return s;
  }
  t.body.resize(offset);
  t.body.append(payload);
  AnswerStep s;
  if (block.more) {
    s.kind = AnswerStep::Kind::kPartial;
    return s;
  }
  s.kind = AnswerStep::Kind::kComplete;
  s.head = t.head;
  s.body = std::move(t.body);
  transfers_.erase(it);
  return s;
}

void AnswerReassembler::noteFollowUp(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                                     std::uint64_t tag) {
  auto it = transfers_.find(keyOf(peer, token));
  if (it != transfers_.end()) it->second.tag = tag;
}

std::optional<AnswerReassembler::Abandoned> AnswerReassembler::abandon(const core::Peer& peer,
                                                                       std::uint64_t tag) {
  auto match = transfers_.end();
  std::size_t untagged = 0;
  auto lastUntagged = transfers_.end();
  for (auto it = transfers_.begin(); it != transfers_.end(); ++it) {
    if (it->second.peer != peer) continue;
    if (it->second.tag == tag) {
      match = it;
      break;
    }
    if (!it->second.tag) {
      ++untagged;
      lastUntagged = it;
    }
  }
  if (match == transfers_.end() && untagged == 1) match = lastUntagged;
  if (match == transfers_.end()) return std::nullopt;
  std::optional<Abandoned> out;
  if (!match->second.failed) out = Abandoned{match->second.token, match->second.head};
  transfers_.erase(match);
  return out;
}

std::vector<AnswerReassembler::Expired> AnswerReassembler::expire() {
  std::vector<Expired> out;
  const auto now = clock_.steadyNow();
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (now - it->second.lastBlock > limits_.idleTimeout) {
      out.push_back({it->second.peer, it->second.token, it->second.failed});
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::size_t AnswerReassembler::bufferedBytes() const {
  std::size_t n = 0;
  for (const auto& [key, t] : transfers_) n += t.body.size();
  return n;
}

// ---- LogThrottle ----

bool LogThrottle::allow(std::size_t* suppressed) {
  const auto now = clock_.steadyNow();
  if (last_ && now - *last_ < interval_) {
    ++suppressed_;
    return false;
  }
  last_ = now;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

}  // namespace lwgate::coap
