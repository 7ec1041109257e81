#include "modem/reassembly.h"

#include <utility>

namespace lwgate::modem {
namespace {

std::string partText(const Concat& c) {
  return "part " + std::to_string(c.sequence) + "/" + std::to_string(c.total) + " of reference " +
         std::to_string(c.reference);
}

}  // namespace

Reassembler::Reassembler(const core::Clock& clock, ReassemblyLimits limits)
    : clock_(clock), limits_(limits) {}

Dropped Reassembler::remove(Map::iterator it, std::string reason) {
  Dropped d{it->first.msisdn, std::move(reason), std::move(it->second.handles)};
  bytes_ -= it->second.bytes;
  order_.erase(it->second.age);
  messages_.erase(it);
  return d;
}

Reassembler::Outcome Reassembler::add(IncomingPart part) {
  Outcome out;
  auto dropPart = [&](std::string reason) {
    out.dropped.push_back({part.msisdn, std::move(reason), {part.handle}});
    return std::move(out);
  };

  UserDataHeader udh;
  if (!part.header.empty()) {
    auto parsed = parseHeader(part.header);
    if (!parsed) return dropPart(parsed.error().message);
    udh = *parsed;
  }
  if (!udh.concat || udh.concat->total == 1) {
    if (part.data.empty()) return dropPart("SMS without user data");
    out.complete = Reassembled{part.msisdn, std::move(part.data), udh.ports, 1, {part.handle}};
    return out;
  }
  const Concat c = *udh.concat;
  if (c.total > limits_.maxPartsPerMessage) {
    return dropPart(partText(c) + ": more than " + std::to_string(limits_.maxPartsPerMessage) +
                    " parts");
  }

  Key key{part.msisdn, c.width, c.reference, c.total};
  auto it = messages_.find(key);
  if (it == messages_.end()) {
    // One sender starting yet another message has most likely lost the older ones: its oldest
    // makes room. Everyone's messages together are capped too, and there the newcomer loses,
    // so one flooding sender cannot push out the others.
    std::size_t fromNumber = 0;
    for (auto m = messages_.lower_bound(Key{part.msisdn, ConcatWidth::k8bit, 0, 0});
         m != messages_.end() && m->first.msisdn == part.msisdn; ++m) {
      ++fromNumber;
    }
    if (fromNumber >= limits_.maxMessagesPerNumber) {
      for (const Key& k : order_) {
        if (k.msisdn != part.msisdn) continue;
        out.dropped.push_back(remove(messages_.find(k),
                                     "incomplete message pushed out by a newer one from the "
                                     "same number (" +
                                         std::to_string(limits_.maxMessagesPerNumber) +
                                         " in progress per number)"));
        break;
      }
    }
    if (messages_.size() >= limits_.maxMessages) {
      return dropPart(partText(c) + ": " + std::to_string(limits_.maxMessages) +
                      " messages already in progress");
    }
    if (bytes_ + part.data.size() > limits_.maxBytes) {
      return dropPart(partText(c) + ": reassembly buffer full (" + std::to_string(bytes_) +
                      " bytes held)");
    }
    Pending p;
    p.parts.resize(c.total);
    p.ports = udh.ports;
    p.deadline = clock_.steadyNow() + limits_.timeout;
    p.age = order_.insert(order_.end(), key);
    it = messages_.emplace(key, std::move(p)).first;
  } else {
    Pending& p = it->second;
    if (p.ports != udh.ports) {
      return dropPart(partText(c) + ": port addressing differs from the message's other parts");
    }
    if (p.parts[c.sequence - 1]) {
      // Kept with the message so the caller deletes the copy once the message is dealt with.
      p.handles.push_back(part.handle);
      return out;
    }
    if (bytes_ + part.data.size() > limits_.maxBytes) {
      p.handles.push_back(part.handle);
      out.dropped.push_back(remove(it, partText(c) + ": reassembly buffer full (" +
                                           std::to_string(bytes_) + " bytes held)"));
      return out;
    }
  }

  Pending& p = it->second;
  p.bytes += part.data.size();
  bytes_ += part.data.size();
  p.parts[c.sequence - 1] = std::move(part.data);
  p.handles.push_back(part.handle);
  if (++p.received < c.total) return out;

  Reassembled done{key.msisdn, {}, p.ports, c.total, std::move(p.handles)};
  done.message.reserve(p.bytes);
  for (const auto& data : p.parts)
    done.message.insert(done.message.end(), data->begin(), data->end());
  bytes_ -= p.bytes;
  order_.erase(p.age);
  messages_.erase(it);
  if (done.message.empty()) {
    out.dropped.push_back(
        {done.msisdn, "concatenated SMS without user data", std::move(done.handles)});
    return out;
  }
  out.complete = std::move(done);
  return out;
}

std::vector<Dropped> Reassembler::expire() {
  std::vector<Dropped> out;
  const core::SteadyTime now = clock_.steadyNow();
  // Bounded by maxMessages: each round removes one.
  while (!order_.empty()) {
    auto it = messages_.find(order_.front());
    if (it->second.deadline > now) break;
    const std::size_t missing = it->second.parts.size() - it->second.received;
    out.push_back(remove(
        it, std::to_string(missing) + " of " + std::to_string(it->second.parts.size()) +
                " parts missing after " +
                std::to_string(std::chrono::duration_cast<core::Seconds>(limits_.timeout).count()) +
                "s"));
  }
  return out;
}

std::optional<core::SteadyTime> Reassembler::nextDeadline() const {
  if (order_.empty()) return std::nullopt;
  return messages_.at(order_.front()).deadline;
}

}  // namespace lwgate::modem
