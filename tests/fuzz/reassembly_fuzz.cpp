// Fuzz target: joining received SMS parts (modem/reassembly.h), driven by a script of events
// from the input: a part from one of four numbers with a header and data of the input's
// choosing (often a well-formed concatenation element, so the fuzzer reaches the joining code),
// or time passing. Properties: the caps hold after every event (messages in progress, bytes
// held) and every part's handle comes back exactly once - with the message it completed or
// with the reason it was dropped - by the time every deadline has passed, so the modem's store
// never leaks a stored SMS and never has one deleted twice.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "modem/reassembly.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/support/manual_clock.h"

namespace {

using namespace lwgate;
using fuzz::check;

struct Ledger {
  std::map<std::uint64_t, int> returned;  // handle -> times it came back
  void back(const std::vector<std::uint64_t>& handles) {
    for (auto h : handles) ++returned[h];
  }
  void take(const modem::Reassembler::Outcome& o) {
    if (o.complete) {
      check(!o.complete->message.empty(), "complete message has data");
      back(o.complete->handles);
    }
    for (const auto& d : o.dropped) back(d.handles);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  testing::ManualClock clock;
  const modem::ReassemblyLimits limits{.maxPartsPerMessage = 6,
                                       .maxMessagesPerNumber = 2,
                                       .maxMessages = 5,
                                       .maxBytes = 600,
                                       .timeout = std::chrono::seconds(60)};
  modem::Reassembler r(clock, limits);
  Ledger ledger;
  std::uint64_t nextHandle = 1;

  fuzz::Reader in({data, size});
  for (int events = 0; events < 256 && !in.empty(); ++events) {
    const std::uint8_t op = in.byte();
    if (op >= 0xf0) {  // time passes: 1..16 x 5 s
      clock.advance(std::chrono::seconds(5 * (op - 0xef)));
      for (const auto& d : r.expire()) ledger.back(d.handles);
      if (auto next = r.nextDeadline()) check(*next > clock.steadyNow(), "expired all due");
      continue;
    }
    modem::IncomingPart part;
    part.msisdn = "+4912345678" + std::to_string(op & 3);
    part.handle = nextHandle++;
    if (op & 4) {
      // A concatenation element as a phone sends it: 8-bit reference, total, sequence.
      const std::uint8_t ref = in.byte() & 1;
      const std::uint8_t total = in.byte() & 7;
      const std::uint8_t seq = in.byte() & 7;
      part.header = {5, 0x00, 3, ref, total, seq};
    } else {
      auto h = in.bytes(in.byte() & 15);
      part.header.assign(h.begin(), h.end());
    }
    auto d = in.bytes(in.byte());
    part.data.assign(d.begin(), d.end());
    ledger.take(r.add(std::move(part)));
    check(r.inProgress() <= limits.maxMessages, "messages in progress capped");
    check(r.bufferedBytes() <= limits.maxBytes, "bytes held capped");
  }

  clock.advance(limits.timeout + std::chrono::seconds(1));
  for (const auto& d : r.expire()) ledger.back(d.handles);
  check(r.inProgress() == 0 && r.bufferedBytes() == 0, "nothing held after every deadline");
  check(ledger.returned.size() == nextHandle - 1, "every handle came back");
  for (const auto& [h, n] : ledger.returned) check(n == 1, "every handle came back once");
  return 0;
}
