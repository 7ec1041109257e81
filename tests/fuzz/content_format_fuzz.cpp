// Fuzz target: every content-format decoder (lwm2m/content_format.h): text/plain, opaque, TLV,
// SenML JSON, SenML CBOR, LwM2M JSON, LwM2M CBOR - what a device sends in a response, a Notify
// or a Send. Input: byte 0 chooses the format, byte 1 the request path, the rest is the payload.
// Properties: no crash; limits hold (records); every record is a resource or resource instance;
// toJson renders it; and the round trip: when the decoded records can be encoded again in the
// same format, decoding that gives the same records (floats compared bit for bit, NaN == NaN).
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <variant>

#include "gateway/lwm2m/content_format.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace lwgate;
namespace fmt = lwm2m::format;

constexpr std::array<std::uint16_t, 9> kFormats{fmt::kTextPlain, fmt::kOpaque,    fmt::kTlv,
                                                fmt::kSenmlJson, fmt::kSenmlCbor, fmt::kLwm2mJson,
                                                fmt::kLwm2mCbor, fmt::kLegacyTlv, fmt::kLegacyJson};

// Known and unknown objects, every depth: the model types values on some of them only.
constexpr std::array<std::string_view, 16> kPaths{
    "/",       "/3",     "/3/0",   "/3/0/0", "/3/0/6", "/3/0/6/1", "/3/0/13",   "/1/0/1",
    "/4/0/10", "/5/0/0", "/1/0/7", "/3/0/9", "/1234",  "/1234/0",  "/1234/0/5", "/1234/0/5/7"};

bool sameValue(const lwm2m::Value& a, const lwm2m::Value& b) {
  const auto* x = a.get<double>();
  const auto* y = b.get<double>();
  if (x && y)
    return std::bit_cast<std::uint64_t>(*x) == std::bit_cast<std::uint64_t>(*y) ||
           (*x != *x && *y != *y);
  return a == b;
}

bool sameRecords(const std::vector<lwm2m::Record>& a, const std::vector<lwm2m::Record>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (a[k].path != b[k].path || !sameValue(a[k].value, b[k].value)) return false;
    const auto& s = a[k].timestamp;
    const auto& t = b[k].timestamp;
    if (s.has_value() != t.has_value()) return false;
    if (s && std::bit_cast<std::uint64_t>(*s) != std::bit_cast<std::uint64_t>(*t) &&
        !(*s != *s && *t != *t))
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using fuzz::check;
  fuzz::Reader in({data, size});
  const std::uint16_t format = kFormats[in.byte() % kFormats.size()];
  auto path = lwm2m::Path::parse(kPaths[in.byte() % kPaths.size()]);
  check(path.ok(), "table path parses");
  const auto payload = in.rest();

  const lwm2m::DecodeLimits limits{.maxRecords = 64, .maxDepth = 8};
  const auto& model = lwm2m::coreObjects();
  auto records = lwm2m::decode(format, payload, *path, model, limits);
  if (!records) {
    check(!records.error().message.empty(), "error has a message");
    return 0;
  }
  check(records->size() <= limits.maxRecords, "records within the limit");
  for (const auto& r : *records) {
    check(r.path.isResource() || r.path.isResourceInstance(), "record is a (resource) instance");
  }
  (void)lwm2m::toJson(*records);

  auto encoded = lwm2m::encode(format, *records, *path);
  if (!encoded) return 0;
  auto again = lwm2m::decode(format, *encoded, *path, model, limits);
  check(again.ok(), "encode output decodes");
  check(sameRecords(*records, *again), "decode(encode(decode(x))) == decode(x)");
  return 0;
}
